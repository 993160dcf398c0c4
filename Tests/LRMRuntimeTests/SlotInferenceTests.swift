import Foundation
import LRMFormat
import Testing
@testable import LRMRuntime

/// Format 1.4's slot layers run: residual additions, concatenations and every other merge mode, against the naive
/// double-precision reference (``Reference/run(_:_:)``), in memory and mapped, in one batch and in many.
@Suite("Slot layers run")
struct SlotInferenceTests {
    static func tensor(_ shape: [Int], _ rng: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    /// input [5] → a → store 0 → b → store 1 → load 0 → c → merge(mode, [1]) → store 2 → d → concatenate [2, 0] → out.
    static func model(_ mode: MergeMode, activation: Activation = .relu, seed: UInt64 = 1) -> Model {
        var rng = SeededGenerator(seed: seed)
        func dense(_ name: String, _ rows: Int, _ columns: Int, _ act: Activation = .tanh) -> Layer<Tensor> {
            Layer(name: name, operation: .dense(kernel: tensor([rows, columns], &rng), bias: tensor([columns], &rng), activation: act))
        }
        return Model(name: "branches", input: InputSpec(shape: [5], scale: [0.5]), layers: [
            dense("a", 5, 4),
            Layer(name: "keep_a", operation: .store(slot: 0)),
            dense("b", 4, 4),
            Layer(name: "keep_b", operation: .store(slot: 1)),
            Layer(name: "back_to_a", operation: .load(slot: 0)),
            dense("c", 4, 4),
            Layer(name: "merged", operation: .merge(mode, slots: [1], activation: activation)),
            Layer(name: "keep_m", operation: .store(slot: 2)),
            dense("d", 4, 3, .linear),
            Layer(name: "joined", operation: .merge(.concatenate, slots: [2, 0], activation: .linear)),
            dense("out", 11, 2, .softmax),
        ])
    }

    @Test("every merge mode gives the reference's outputs, in memory and mapped, in one batch or many", arguments: MergeMode.allCases)
    func modes(_ mode: MergeMode) throws {
        var model = Self.model(mode)
        if mode == .concatenate {
            // 'merged' is then 8 wide: 'd' takes 8 features, 'out' 8 + 3 + 4.
            var rng = SeededGenerator(seed: 3)
            model.layers[8].operation = .dense(kernel: Self.tensor([8, 3], &rng), bias: nil, activation: .linear)
            model.layers[10].operation = .dense(kernel: Self.tensor([15, 2], &rng), bias: nil, activation: .softmax)
        }
        var rng = SeededGenerator(seed: 7)
        let samples = 9
        let inputs = (0..<(samples * 5)).map { _ in Float.random(in: -2...2, using: &rng) }
        let expected = (0..<samples).flatMap { Reference.run(model, inputs[($0 * 5)..<($0 * 5 + 5)].map(Double.init)) }
        let runtime = try InferenceModel(model)
        #expect(runtime.outputShape == [2])
        let directory = NSTemporaryDirectory() + "lrm-slots-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/m.lrm"
        try ContainerWriter.write(model, to: path)
        let mapped = try InferenceModel(mapped: MappedModel(try ContainerFile(path: path)))
        for (runner, batch) in [(runtime, 1024), (runtime, 2), (mapped, 4)] {
            let outputs = try inputs.withUnsafeBufferPointer { try runner.run($0, sampleCount: samples, batchSize: batch) }
            #expect(outputs.count == expected.count)
            let difference = zip(outputs, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(difference < 1e-5, "\(mode.name), batches of \(batch): \(difference)")
        }
    }

    @Test("a slot is dropped after its last use, and observers see each layer's own input")
    func releasesAndObservation() throws {
        let runtime = try InferenceModel(Self.model(.add))
        // keep_a (slot 0) is last read by 'joined' (9), keep_b (slot 1) by 'merged' (6), keep_m (slot 2) by 'joined'.
        #expect(runtime.slotReleases[6] == [1])
        #expect(runtime.slotReleases[9] == [0, 2])
        #expect(runtime.slotReleases.enumerated().filter { !$0.element.isEmpty }.count == 2)
        var widths: [Int: Int] = [:]
        _ = try [Float](repeating: 0.5, count: 10).withUnsafeBufferPointer {
            try runtime.run($0, sampleCount: 2) { layer, _, _, features in widths[layer] = features }
        }
        // 'c' (5) takes slot 0's samples (4 wide) after the load; 'out' (10) takes the 4 + 3 + 4 joined values.
        #expect(widths[5] == 4)
        #expect(widths[10] == 11)
    }

    @Test("a slot store that nothing reads is dropped at once; a model that holds too much per sample is refused")
    func unusedStoreAndLimits() throws {
        let big = InferenceModel.maxSampleElements / 3 + 1
        let model = Model(name: "wide", input: InputSpec(shape: [big]), layers: [
            Layer(name: "s0", operation: .store(slot: 0)),
            Layer(name: "s1", operation: .store(slot: 1)),
            Layer(name: "m", operation: .merge(.add, slots: [0, 1], activation: .linear)),
        ])
        let error = try #require(throws: RuntimeError.self) { try InferenceModel(model) }
        #expect(error.description.contains("layer 's1' holds"))
        let unused = Model(name: "u", input: InputSpec(shape: [3]), layers: [Layer(name: "s", operation: .store(slot: 4))])
        let runtime = try InferenceModel(unused)
        #expect(runtime.slotReleases == [[4]])
        #expect(try runtime.run([1, 2, 3], sampleCount: 1) == [1, 2, 3])
    }
}
