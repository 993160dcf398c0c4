import Foundation
import LRMFormat
import Testing
@testable import LRMRuntime

/// Running a model in place from its mapped file (`lrm predict`): the same outputs, bit for bit, as the
/// model loaded into memory, with float32 weights used where they lie and quantized ones loaded.
@Suite("Weights used in place in a mapped file")
struct MappedInferenceTests {
    /// A float32 dense layer, a float32 factorized layer, a float16 dense layer (loaded, not mapped) and a
    /// quantized model's layers, written to a file.
    static func file(in directory: String) throws -> String {
        var rng = SeededGenerator(seed: 31)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextSymmetricFloat() } }
        let f = Factorization(inFeatures: 40, outFeatures: 24, rank: 6, retainedEnergy: 0.5, relativeError: 0.5,
                              policy: "rank", policyParameter: 6, method: "test", singularValues: [Double](repeating: 1, count: 6))
        let model = Model(name: "m", input: InputSpec(shape: [30], scale: [0.5]), layers: [
            Layer(name: "d1", operation: .dense(kernel: Tensor(shape: [30, 40], floats: values(1200)), bias: Tensor(shape: [40], floats: values(40)),
                                                activation: .relu)),
            Layer(name: "f2", operation: .factorizedDense(us: Tensor(shape: [40, 6], floats: values(240)), vt: Tensor(shape: [6, 24], floats: values(144)),
                                                          bias: Tensor(shape: [24], floats: values(24)), activation: .tanh, factorization: f)),
            Layer(name: "d3", operation: .dense(kernel: Tensor(shape: [24, 10], floats: values(240), dtype: .float16), bias: nil, activation: .softmax)),
        ])
        let path = directory + "/m.lrm"
        try ContainerWriter.write(model, to: path)
        return path
    }

    @Test("outputs bit-identical to the loaded model's, with pages released after each use or kept", arguments: [0, Int.max])
    func sameOutputs(releaseThreshold: Int) throws {
        let directory = NSTemporaryDirectory() + "lrm-mapped-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try Self.file(in: directory)
        let file = try ContainerFile(path: path)
        let mapped = try InferenceModel(mapped: MappedModel(file), releaseThreshold: releaseThreshold)
        #expect(mapped.usesMappedWeights)
        #expect(mapped.releasesMappedPages == (releaseThreshold == 0))
        let loaded = try InferenceModel(try ContainerFile(path: path).loadModel())
        #expect(!loaded.usesMappedWeights)
        var rng = SeededGenerator(seed: 8)
        let inputs = (0..<(9 * 30)).map { _ in rng.nextSymmetricFloat() * 3 }
        for _ in 0..<2 {   // the second run reads released pages back
            #expect(try mapped.run(inputs, sampleCount: 9) == loaded.run(inputs, sampleCount: 9))
        }
        // The two float32 layers are read in place; the float16 one is loaded.
        let inPlace = mapped.steps.filter {
            switch $0 {
            case .dense(.mapped, _, _, _, _), .factorized(.mapped, .mapped, _, _, _, _, _): true
            default: false
            }
        }
        #expect(inPlace.count == 2)
    }

    @Test("a tensor whose bytes do not match their checksum is refused when the model is prepared")
    func checksums() throws {
        let directory = NSTemporaryDirectory() + "lrm-mapped-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try Self.file(in: directory)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let file = try ContainerFile(path: path)
        bytes[file.dataOffset + file.header.tensors[0].byteOffset + 5] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            try InferenceModel(mapped: MappedModel(try ContainerFile(path: path)))
        } throws: { error in
            (error as? ContainerError)?.kind == .tensorChecksum
        }
    }
}
