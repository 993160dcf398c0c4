import Foundation
import Testing
@testable import LRMFormat

/// Tensors several layers use (the spec allows it): decoded once, and mapped files read one layer
/// at a time.
@Suite("Shared tensors and mapped models")
struct SharedTensorTests {
    /// A file whose `layers` dense layers all use one 32×32 kernel (tensor 0) and one bias (tensor 1).
    static func sharedFile(layers: Int, in directory: TemporaryDirectory) throws -> (path: String, kernel: [Float]) {
        let kernel = (0..<(32 * 32)).map { Float($0 % 17) - 8 }
        let bias = (0..<32).map { Float($0) / 10 }
        let tensors = [TensorInfo(name: "shared/kernel", dtype: .float32, shape: [32, 32], byteOffset: 0, byteCount: 4096),
                       TensorInfo(name: "shared/bias", dtype: .float32, shape: [32], byteOffset: 4096, byteCount: 128)]
        let described = (0..<layers).map { Layer<Int>(name: "d\($0)", operation: .dense(kernel: 0, bias: 1, activation: .linear)) }
        let header = ContainerHeader(alignment: 64, metadata: [:], userMetadata: [:], tensors: tensors,
                                     model: ModelDescription(name: "shared", input: InputSpec(shape: [32]), layers: described))
        let path = directory.file("shared.lrm")
        try ContainerWriter.write(header: header, to: path) { index, emit in
            try (index == 0 ? kernel : bias).withUnsafeBytes { try emit($0) }
        }
        return (path, kernel)
    }

    @Test("a tensor 500 layers use is decoded once: every layer's kernel is the same storage")
    func decodedOnce() throws {
        let directory = try TemporaryDirectory()
        let (path, kernel) = try Self.sharedFile(layers: 500, in: directory)
        let model = try ContainerFile(path: path).loadModel()
        var addresses = Set<Int>()
        for layer in model.layers {
            guard case let .dense(tensor, _, _) = layer.operation, case .float32(let values) = tensor.storage else {
                Issue.record("layer \(layer.name) is not a float32 dense layer"); continue
            }
            #expect(values == kernel)
            _ = values.withUnsafeBufferPointer { addresses.insert(Int(bitPattern: $0.baseAddress)) }
        }
        #expect(addresses.count == 1)
        // Stored parameters count each tensor once; each layer's row still shows what it uses.
        let summary = ModelSummary(header: try ContainerFile(path: path).header)
        #expect(summary.parametersAfter == 32 * 32 + 32)
        #expect(summary.layers.allSatisfy { $0.parametersAfter == 32 * 32 + 32 })
    }

    @Test("a mapped model gives each layer checked and decoded, and the same model once loaded")
    func mappedLayers() throws {
        let directory = try TemporaryDirectory()
        let (path, kernel) = try Self.sharedFile(layers: 3, in: directory)
        let file = try ContainerFile(path: path)
        var mapped = MappedModel(file)
        #expect(mapped.layerCount == 3)
        let layer = try mapped.layer(1)
        guard case let .dense(tensor, _, _) = layer.operation else { Issue.record("not dense"); return }
        #expect(tensor.floats() == kernel)
        mapped.release(1)
        // Released pages are read again from the file.
        #expect(try mapped.layer(1).operation.tensors.map(\.tensor) == layer.operation.tensors.map(\.tensor))
        mapped.input.scale = [2]
        let loaded = try mapped.loadModel()
        #expect(loaded.input.scale == [2])
        #expect(loaded.layers.count == 3)
        try mapped.header.validate()
    }

    @Test("a mapped layer whose bytes do not match their checksum is refused")
    func mappedChecksum() throws {
        let directory = try TemporaryDirectory()
        let (path, _) = try Self.sharedFile(layers: 2, in: directory)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let file = try ContainerFile(path: path)
        bytes[file.dataOffset + 100] ^= 0x40
        let corrupt = try directory.write(bytes, to: "corrupt.lrm")
        let mapped = MappedModel(try ContainerFile(path: corrupt))
        #expect(throws: ContainerError.self) { try mapped.layer(0) }
    }
}
