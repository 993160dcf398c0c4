import Foundation
import LRMFormat
import Testing
@testable import LRMRuntime

@Suite("Quantized weights in the forward pass")
struct QuantizedInferenceTests {
    /// A 600 → 200 i8 dense layer (more than one dequantization block: 120,000 weights) and a 200 → 10
    /// i4 factorized layer at rank 8, with the same model holding the dequantized float32 weights.
    static func models() -> (quantized: Model, dequantized: Model) {
        var rng = SeededGenerator(seed: 77)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextSymmetricFloat() } }
        let kernel = QuantizedValues.rounding(values(600 * 200), shape: [600, 200], dtype: .int8, groupSize: 50)
        let us = QuantizedValues.rounding(values(200 * 8), shape: [200, 8], dtype: .int4, groupSize: 40, scaleDType: .float16)
        let vt = QuantizedValues.rounding(values(8 * 10), shape: [8, 10], dtype: .int4, scaleDType: .float16)
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

    @Test("blockwise dequantization gives the dequantized float32 model's outputs within 1e-5 of their scale")
    func matchesDequantized() throws {
        #expect(InferenceModel.dequantizationBlockElements < 600 * 200, "the test must cover several blocks")
        let (quantized, dequantized) = Self.models()
        var rng = SeededGenerator(seed: 5)
        let inputs = (0..<(37 * 600)).map { _ in rng.nextSymmetricFloat() * 2 }
        let got = try InferenceModel(quantized).run(inputs, sampleCount: 37)
        let want = try InferenceModel(dequantized).run(inputs, sampleCount: 37)
        let magnitude = want.reduce(Float(0)) { max($0, abs($1)) }
        #expect(magnitude > 1)
        let worst = zip(got, want).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(worst <= 1e-5 * magnitude, "largest difference \(worst) for outputs up to \(magnitude)")
    }

    @Test("a quantized file runs as the model it was written from")
    func fromFile() throws {
        let (quantized, _) = Self.models()
        let directory = NSTemporaryDirectory() + "lrm-quant-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/q.lrm"
        try ContainerWriter.write(quantized, to: path)
        let loaded = try ContainerFile(path: path).loadModel()
        let inputs = (0..<(3 * 600)).map { Float($0 % 17) / 17 - 0.5 }
        #expect(try InferenceModel(loaded).run(inputs, sampleCount: 3) == InferenceModel(quantized).run(inputs, sampleCount: 3))
    }
}
