import Foundation
import Testing
@testable import LRMFormat

@Suite("Writer and reader round trip")
struct RoundTripTests {
    @Test("a seeded random model reads back equal, with identical bytes in memory and on disk", arguments: 0..<60)
    func randomModel(seed: UInt64) throws {
        let directory = try TemporaryDirectory()
        let model = RandomModels.make(seed: seed)
        let path = directory.file("m.lrm")
        try ContainerWriter.write(model, to: path)
        let file = try ContainerFile(path: path)
        try file.verifyAllChecksums()
        let loaded = try file.loadModel()
        #expect(loaded == model)
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(onDisk == (try ContainerWriter.encode(model)))
        #expect(file.dataOffset % 64 == 0)
        for tensor in file.header.tensors { #expect((file.dataOffset + tensor.byteOffset) % 64 == 0) }
        // Writing again gives the same bytes (no timestamps, canonical order).
        try ContainerWriter.write(model, to: path)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == onDisk)
        #expect(try directory.contents() == ["m.lrm"], "no temporary files left")
    }

    @Test("every alignment from 8 to 65536 round-trips", arguments: [8, 16, 64, 4096, 65536])
    func alignments(alignment: Int) throws {
        let directory = try TemporaryDirectory()
        let model = RandomModels.make(seed: 7)
        let path = directory.file("a.lrm")
        try ContainerWriter.write(model, to: path, alignment: alignment)
        let file = try ContainerFile(path: path)
        #expect(file.header.alignment == alignment)
        #expect(try file.loadModel() == model)
    }

    @Test("float32 tensors are read in place from the mapping")
    func zeroCopy() throws {
        let directory = try TemporaryDirectory()
        let model = ExampleModel.make()
        let path = directory.file("e.lrm")
        try ContainerWriter.write(model, to: path)
        let file = try ContainerFile(path: path)
        let index = try #require(file.tensorIndex(named: "output/kernel"))
        let values = file.withFloat32Values(index) { Array($0) }
        guard case let .dense(kernel, _, _) = model.layers[1].operation else { Issue.record("layout"); return }
        #expect(values == kernel.floats())
    }

    @Test("the example model's factorization metadata is self-consistent")
    func exampleModel() throws {
        let model = ExampleModel.make()
        guard case let .factorizedDense(us, vt, _, _, f) = model.layers[0].operation else { Issue.record("kind"); return }
        #expect(us.shape == [784, 16] && vt.shape == [16, 64])
        #expect(abs(f.relativeError - (1 - f.retainedEnergy).squareRoot()) < 1e-12)
        // U·Σ columns are orthogonal with norms σ₁ … σₖ (the factors really are a truncated SVD).
        let u = us.floats()
        for j in 0..<16 {
            var norm = 0.0
            for i in 0..<784 { norm += Double(u[i * 16 + j]) * Double(u[i * 16 + j]) }
            #expect(abs(norm.squareRoot() - f.singularValues[j]) < 1e-4 * f.singularValues[j])
        }
    }

    @Test("a failed write leaves neither the target nor a temporary file")
    func failedWrite() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("t.lrm")
        let model = ExampleModel.make()
        let (_, header) = try model.plan()
        #expect(throws: ContainerError.self) {
            try ContainerWriter.write(header: header, to: path) { index, emit in
                if index == 1 { throw ContainerError(.io, "simulated failure") }
                let zeros = [UInt8](repeating: 0, count: header.tensors[index].byteCount)
                try zeros.withUnsafeBytes { try emit($0) }
            }
        }
        #expect(try directory.contents().isEmpty)
        // An existing file at the target survives a failed overwrite.
        try ContainerWriter.write(model, to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: ContainerError.self) {
            try ContainerWriter.write(header: header, to: path) { _, emit in
                try [UInt8](repeating: 1, count: 3).withUnsafeBytes { try emit($0) }
            }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try directory.contents() == ["t.lrm"])
    }

    @Test("the writer refuses a model that breaks the format's rules")
    func writerValidates() throws {
        let directory = try TemporaryDirectory()
        var model = ExampleModel.make()
        model.layers.append(Layer(name: "output", operation: .activation(.relu)))
        #expect {
            try ContainerWriter.write(model, to: directory.file("x.lrm"))
        } throws: { ($0 as? ContainerError)?.kind == .badModel }
        #expect(try directory.contents().isEmpty)
    }
}
