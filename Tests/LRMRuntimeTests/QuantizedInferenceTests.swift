import Foundation
import LRMFormat
import Testing
@testable import LRMRuntime

@Suite("Quantized weights in the forward pass")
struct QuantizedInferenceTests {
    /// A 600 → 200 i8 dense layer (more than one dequantization block: 120,000 weights) and a 200 → 10
    /// i4 factorized layer at rank 8, with the same model holding the dequantized float32 weights.
    /// With `zeroPoints`, every weight has zero points (format 1.3; the values shifted so they matter).
    static func models(zeroPoints: Bool = false) -> (quantized: Model, dequantized: Model) {
        var rng = SeededGenerator(seed: 77)
        let shift: Float = zeroPoints ? 0.5 : 0
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextSymmetricFloat() + shift } }
        let kernel = QuantizedValues.rounding(values(600 * 200), shape: [600, 200], dtype: .int8, groupSize: 50, zeroPoints: zeroPoints)
        let us = QuantizedValues.rounding(values(200 * 8), shape: [200, 8], dtype: .int4, groupSize: 40, scaleDType: .float16,
                                          zeroPoints: zeroPoints)
        let vt = QuantizedValues.rounding(values(8 * 10), shape: [8, 10], dtype: .int4, scaleDType: .float16, zeroPoints: zeroPoints)
        let bias = Tensor(shape: [200], floats: values(200))
        let f = Factorization(inFeatures: 200, outFeatures: 10, rank: 8, retainedEnergy: 0.5, relativeError: 0.5,
                              policy: "rank", policyParameter: 8, method: "test", singularValues: [Double](repeating: 1, count: 8))
        func model(_ k: Tensor, _ u: Tensor, _ v: Tensor) -> Model {
            Model(name: "q", input: InputSpec(shape: [600]), layers: [
                Layer(name: "dense", operation: .dense(kernel: k, bias: bias, activation: .linear)),
                Layer(name: "factorized", operation: .factorizedDense(us: u, vt: v, bias: nil, activation: .linear, factorization: f)),
            ])
        }
        func plain(_ q: QuantizedValues) -> Tensor { Tensor(shape: [q.rows, q.columns], floats: q.dequantized()) }
        return (model(Tensor(quantized: kernel), Tensor(quantized: us), Tensor(quantized: vt)),
                model(plain(kernel), plain(us), plain(vt)))
    }

    @Test("blockwise dequantization gives the dequantized float32 model's outputs within 1e-5 of their scale",
          arguments: [false, true])
    func matchesDequantized(zeroPoints: Bool) throws {
        #expect(InferenceModel.dequantizationBlockElements < 600 * 200, "the test must cover several blocks")
        let (quantized, dequantized) = Self.models(zeroPoints: zeroPoints)
        if zeroPoints {
            guard case let .dense(kernel, _, _) = quantized.layers[0].operation else { return }
            #expect(kernel.quantization?.zeroPointValues?.contains { $0 != 0 } == true)
        }
        var rng = SeededGenerator(seed: 5)
        let inputs = (0..<(37 * 600)).map { _ in rng.nextSymmetricFloat() * 2 }
        let got = try InferenceModel(quantized).run(inputs, sampleCount: 37)
        let want = try InferenceModel(dequantized).run(inputs, sampleCount: 37)
        let magnitude = want.reduce(Float(0)) { max($0, abs($1)) }
        #expect(magnitude > 1)
        let worst = zip(got, want).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(worst <= 1e-5 * magnitude, "largest difference \(worst) for outputs up to \(magnitude)")
    }

    @Test("a quantized file runs as the model it was written from", arguments: [false, true])
    func fromFile(zeroPoints: Bool) throws {
        let (quantized, _) = Self.models(zeroPoints: zeroPoints)
        let directory = NSTemporaryDirectory() + "lrm-quant-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/q.lrm"
        try ContainerWriter.write(quantized, to: path)
        let file = try ContainerFile(path: path)
        #expect(file.minorVersion == (zeroPoints ? 3 : 2))
        let loaded = try file.loadModel()
        let inputs = (0..<(3 * 600)).map { Float($0 % 17) / 17 - 0.5 }
        let want = try InferenceModel(quantized).run(inputs, sampleCount: 3)
        #expect(try InferenceModel(loaded).run(inputs, sampleCount: 3) == want)
        // In place from the mapping (as `lrm predict` runs it): the same outputs.
        #expect(try InferenceModel(mapped: MappedModel(file)).run(inputs, sampleCount: 3) == want)
    }
}
