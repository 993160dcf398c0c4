import Testing
@testable import LRMFormat

/// Format 1.4: the slot kinds `store`, `load` and `merge`, which let a model with branches (residual
/// connections, concatenations) run as one ordered list of layers.
enum SlotModels {
    static func dense(_ name: String, _ inputs: Int, _ outputs: Int, seed: Float) -> Layer<Tensor> {
        let kernel = Tensor(shape: [inputs, outputs], floats: (0..<(inputs * outputs)).map { Float($0 % 7) * 0.1 - seed })
        return Layer(name: name, operation: .dense(kernel: kernel, bias: nil, activation: .relu))
    }

    /// input [4] → fc1 → store 0 → fc2 → add slot 0 (relu) → store 1 → fc3 [4 → 2] → concatenate slot 1 → [6].
    static func residual() -> Model {
        Model(name: "residual", input: InputSpec(shape: [4]), layers: [
            dense("fc1", 4, 4, seed: 0.2),
            Layer(name: "keep", operation: .store(slot: 0)),
            dense("fc2", 4, 4, seed: 0.3),
            Layer(name: "add", operation: .merge(.add, slots: [0], activation: .relu)),
            Layer(name: "keep2", operation: .store(slot: 1)),
            dense("fc3", 4, 2, seed: 0.1),
            Layer(name: "join", operation: .merge(.concatenate, slots: [1], activation: .linear)),
        ])
    }
}

@Suite("Slot layers (format 1.4)")
struct SlotLayerTests {
    @Test("a model with store, load and merge is written as 1.4 and reads back the same")
    func roundTrip() throws {
        let model = SlotModels.residual()
        let bytes = try ContainerWriter.encode(model)
        let file = try ContainerFile.decodeForTests(bytes)
        #expect(file.minorVersion == 4)
        #expect(try file.loadModel() == model)
        #expect(try file.header.outputShape() == [6])
        #expect(try file.header.layerOutputShapes() == [[4], [4], [4], [4], [4], [2], [6]])
        #expect(try model.layerOutputShapes() == [[4], [4], [4], [4], [4], [2], [6]])
        #expect(try model.outputShape() == [6])
        guard case .array(let layers)? = file.contentJSON(includeValues: false)["model"]?["layers"], layers.count == 7 else {
            Issue.record("no layers in the file's JSON")
            return
        }
        #expect(layers[1]["kind"] == .string("store"))
        #expect(layers[1]["slot"] == .int(0))
        #expect(layers[6]["mode"] == .string("concatenate"))
        #expect(layers[6]["slots"] == .array([.int(1)]))
    }

    @Test("models without slot kinds keep the version they had")
    func olderVersions() throws {
        #expect(try ContainerFile.decodeForTests(try ContainerWriter.encode(TinyModel.make())).minorVersion == 0)
        var model = SlotModels.residual()
        model.layers.removeAll { $0.operation.usesSlots }
        model.layers[2] = SlotModels.dense("fc3", 4, 2, seed: 0.1)
        #expect(try ContainerFile.decodeForTests(try ContainerWriter.encode(model)).minorVersion == 0)
    }

    @Test("every merge mode, and a load, give the shapes of spec section 4")
    func shapes() throws {
        for mode in MergeMode.allCases where mode != .concatenate {
            var model = SlotModels.residual()
            model.layers[3].operation = .merge(mode, slots: [0], activation: .linear)
            #expect(try model.outputShape() == [6], "\(mode.name)")
        }
        var joined = SlotModels.residual()
        joined.layers[3].operation = .merge(.concatenate, slots: [0, 0], activation: .linear)
        joined.layers[5] = SlotModels.dense("fc3", 12, 2, seed: 0.1)
        #expect(try joined.layerOutputShapes()[3] == [12])
        #expect(try joined.outputShape() == [14])
        var loaded = SlotModels.residual()
        loaded.layers.append(Layer(name: "back", operation: .load(slot: 0)))
        #expect(try loaded.outputShape() == [4])
        #expect(try ContainerFile.decodeForTests(try ContainerWriter.encode(loaded)).header.outputShape() == [4])
    }

    /// The residual model's file with its header edited (re-encoded without validation).
    static func hostile(_ edit: (inout ContainerHeader) -> Void) throws -> [UInt8] {
        try FileParts.hostile(SlotModels.residual(), minor: 4, edit)
    }

    nonisolated(unsafe) static let hostileCases: [(String, String, (inout ContainerHeader) -> Void)] = [
        ("load of a slot never stored", "loads slot 7, which no earlier layer stored",
         { $0.model.layers.append(Layer(name: "x", operation: .load(slot: 7))) }),
        ("merge of a slot never stored", "merges slot 3, which no earlier layer stored",
         { $0.model.layers[3].operation = .merge(.add, slots: [3], activation: .linear) }),
        ("merge before the store", "merges slot 1, which no earlier layer stored",
         { $0.model.layers[3].operation = .merge(.add, slots: [1], activation: .linear) }),
        ("add of different shapes", "(add) merges slot 1 of shape [4] with [2], expected the same shape",
         { $0.model.layers[6].operation = .merge(.add, slots: [1], activation: .linear) }),
        ("concatenation of different ranks", "concatenates slot 0 of shape [4] with [1, 2]",
         { $0.model.layers.insert(Layer(name: "r", operation: .reshape([1, 2])), at: 6)
           $0.model.layers[7].operation = .merge(.concatenate, slots: [0], activation: .linear) }),
        ("subtract of two slots", "subtracts 2 slots, expected exactly 1",
         { $0.model.layers[3].operation = .merge(.subtract, slots: [0, 0], activation: .linear) }),
        // Section 4's order: every slot stored, then subtract's count, then the shapes (before: the count first, and
        // each slot's shape beside its "stored", so these named the count and slot 1's shape).
        ("subtract of two slots, one never stored", "merges slot 5, which no earlier layer stored",
         { $0.model.layers[3].operation = .merge(.subtract, slots: [0, 5], activation: .linear) }),
        ("add of a wrong shape and a slot never stored", "merges slot 5, which no earlier layer stored",
         { $0.model.layers[6].operation = .merge(.add, slots: [1, 5], activation: .linear) }),
        ("huge slot number", "uses slot 4294967295, expected 0 to 65535",
         { $0.model.layers[1].operation = .store(slot: 0xFFFF_FFFF) }),
        ("merge of no slots", "merges 0 slots, expected 1 to 1024",
         { $0.model.layers[3].operation = .merge(.add, slots: [], activation: .linear) }),
        ("merge of too many slots", "merges 1025 slots, expected 1 to 1024",
         { $0.model.layers[3].operation = .merge(.add, slots: Array(repeating: 0, count: 1025), activation: .linear) }),
    ]

    @Test("hostile slot records are one-line bad_model errors naming the layer", arguments: 0..<hostileCases.count)
    func hostileFiles(_ index: Int) throws {
        let (what, message, edit) = Self.hostileCases[index]
        let bytes = try Self.hostile(edit)
        try expectOneLineBadModel(bytes, containing: message, what)
    }

    @Test("an unknown merge mode code is bad_model, found as it is read")
    func unknownMode() throws {
        let error = try #require(throws: ContainerError.self) { try ContainerFile.decodeForTests(try SlotDefect.mergeUnknownMode.apply()) }
        #expect(error.kind == .badModel)
        #expect(error.description.contains("merge mode code 9"))
    }
}

/// The invalid format 1.4 vectors: the residual model's file (``SlotModels/residual()``) with one slot defect.
enum SlotDefect: String, CaseIterable, VectorDefect {
    case slotNeverStored, mergeShapeMismatch, slotOutOfRange, mergeUnknownMode, mergeNoSlots

    var expectedKind: ContainerError.Kind { .badModel }

    var summary: String {
        switch self {
        case .slotNeverStored: "a load of slot 7, which no layer stores"
        case .mergeShapeMismatch: "an add of slot 1 (shape [4]) to a sample of shape [2]"
        case .slotOutOfRange: "a store to slot 65536 (slots are 0 to 65535)"
        case .mergeUnknownMode: "a merge with mode code 9"
        case .mergeNoSlots: "a merge of 0 slots"
        }
    }

    func apply() throws -> [UInt8] {
        switch self {
        case .slotNeverStored:
            return try SlotLayerTests.hostile { $0.model.layers.append(Layer(name: "x", operation: .load(slot: 7))) }
        case .mergeShapeMismatch:
            return try SlotLayerTests.hostile { $0.model.layers[6].operation = .merge(.add, slots: [1], activation: .linear) }
        case .slotOutOfRange:
            return try SlotLayerTests.hostile { $0.model.layers[1].operation = .store(slot: 65_536) }
        case .mergeNoSlots:
            return try SlotLayerTests.hostile { $0.model.layers[3].operation = .merge(.add, slots: [], activation: .linear) }
        case .mergeUnknownMode:
            // The merge record of layer 'add': kind 21, the name (u32 length 3, "add"), then the mode byte.
            var parts = try FileParts(try SlotLayerTests.hostile { _ in })
            let record: [UInt8] = [21, 3, 0, 0, 0] + Array("add".utf8)
            let header = parts.header
            guard let at = (0..<(header.count - record.count)).first(where: { Array(header[$0..<($0 + record.count)]) == record }) else {
                throw ContainerError(.badModel, "the residual model has no merge record 'add'")
            }
            parts.header[at + 8] = 9
            parts.minor = 4
            return parts.assemble()
        }
    }
}
