import Testing
@testable import LRMFormat

/// Format 1.5: the `upsample2d` kind (23), nearest and bilinear (spec section 3.5).
enum UpsampleModels {
    /// input [2, 3, 2] (hwc) → `near` (nearest 2×1) → `smooth` (bilinear 1×3) → flatten → `out` dense [4·9·2 → 2].
    static func make() -> Model {
        let kernel = Tensor(shape: [72, 2], floats: (0..<144).map { Float($0 % 11) * 0.05 - 0.25 })
        return Model(name: "upsample", input: InputSpec(shape: [2, 3, 2], layout: .hwc), classNames: ["a", "b"], layers: [
            Layer(name: "near", operation: .upsample2D(Upsampling(factorH: 2, factorW: 1, interpolation: .nearest))),
            Layer(name: "smooth", operation: .upsample2D(Upsampling(factorH: 1, factorW: 3, interpolation: .bilinear))),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: kernel, bias: Tensor(shape: [2], floats: [0.5, -0.5]), activation: .softmax)),
        ], metadata: [MetadataKey.writer: .string("lrm 0.1.0")])
    }

    /// The file of ``make()`` with its header edited (checksums kept), written as 1.5.
    static func hostile(_ edit: (inout ContainerHeader) -> Void) throws -> [UInt8] {
        let model = make()
        let base = try ContainerWriter.encode(model)
        var parts = try FileParts(base)
        var header = try model.plan().header
        let decoded = try ContainerFile.decodeForTests(base).header
        for index in header.tensors.indices { header.tensors[index].crc32 = decoded.tensors[index].crc32 }
        edit(&header)
        parts.header = header.encode()
        parts.minor = 5
        return parts.assemble()
    }
}

@Suite("Upsampling layers (format 1.5)")
struct UpsampleLayerTests {
    @Test("a model with upsample2d is written as 1.5 (kind 23: two u32 factors, the interpolation byte) and reads back the same")
    func roundTrip() throws {
        let model = UpsampleModels.make()
        let bytes = try ContainerWriter.encode(model)
        let file = try ContainerFile.decodeForTests(bytes)
        #expect(file.minorVersion == 5)
        #expect(try file.loadModel() == model)
        #expect(try file.header.layerOutputShapes() == [[4, 3, 2], [4, 9, 2], [72], [2]])
        // The record of 'smooth': its length (1 + 4 + 6 + 4 + 4 + 1 = 20), kind 23, the name, factors 1 and 3, bilinear.
        let record: [UInt8] = [20, 0, 0, 0, 23, 6, 0, 0, 0] + Array("smooth".utf8) + [1, 0, 0, 0, 3, 0, 0, 0, 1]
        #expect((0...(bytes.count - record.count)).contains { Array(bytes[$0..<($0 + record.count)]) == record })
        guard case .array(let layers)? = file.contentJSON(includeValues: false)["model"]?["layers"], layers.count == 4 else {
            Issue.record("no layers in the file's JSON")
            return
        }
        #expect(layers[1]["kind"] == .string("upsample2d"))
        #expect(layers[1]["factors"] == .array([.int(1), .int(3)]))
        #expect(layers[1]["interpolation"] == .string("bilinear"))
        #expect(LayerOperation<Int>.upsample2D(Upsampling(factorH: 1, factorW: 1)).minimumMinorVersion == 5)
    }

    @Test("the bilinear source rows and weights: half-pixel centres, clamped at the edges")
    func bilinearSources() {
        // Factor 2 over 3 rows: s = (o + ½)/2 − ½ = −0.25, 0.25, 0.75, 1.25, 1.75, 2.25.
        let sources = (0..<6).map { Upsampling.source($0, length: 3, factor: 2, interpolation: .bilinear) }
        #expect(sources.map(\.low) == [0, 0, 0, 1, 1, 2])
        #expect(sources.map(\.high) == [0, 1, 1, 2, 2, 2])
        #expect(sources.map(\.t) == [0.75, 0.25, 0.75, 0.25, 0.75, 0.25])
        let nearest = (0..<6).map { Upsampling.source($0, length: 3, factor: 2, interpolation: .nearest) }
        #expect(nearest.map(\.low) == [0, 0, 1, 1, 2, 2] && nearest.allSatisfy { $0.t == 0 && $0.low == $0.high })
    }

    nonisolated(unsafe) static let hostileCases: [(String, String, (inout ContainerHeader) -> Void)] = [
        ("factor 0", "upsamples by 0×3, expected factors of 1 to 65535",
         { $0.model.layers[1].operation = .upsample2D(Upsampling(factorH: 0, factorW: 3)) }),
        ("factor 65,536", "upsamples by 2×65536, expected factors of 1 to 65535",
         { $0.model.layers[0].operation = .upsample2D(Upsampling(factorH: 2, factorW: 65_536)) }),
        ("a u32 factor", "upsamples by 4294967295×1",
         { $0.model.layers[0].operation = .upsample2D(Upsampling(factorH: 0xFFFF_FFFF, factorW: 1)) }),
        ("samples past 2³¹−1 elements", "produces samples of shape [131070, 196605, 2], more than 2147483647 elements",
         { $0.model.layers[0].operation = .upsample2D(Upsampling(factorH: 65_535, factorW: 65_535)) }),
        ("on a flat input", "(upsample2d) needs an [h, w, c] input, found [72]",
         { $0.model.layers.insert(Layer(name: "late", operation: .upsample2D(Upsampling(factorH: 2, factorW: 2))), at: 3) }),
    ]

    @Test("hostile upsample2d records are one-line bad_model errors naming the layer", arguments: 0..<hostileCases.count)
    func hostileFiles(_ index: Int) throws {
        let (what, message, edit) = Self.hostileCases[index]
        let bytes = try UpsampleModels.hostile(edit)
        let error = try #require(throws: ContainerError.self, "\(what)") { try ContainerFile.decodeForTests(bytes) }
        #expect(error.kind == .badModel, "\(what)")
        #expect(error.description.contains(message), "\(what): \(error.description)")
        #expect(!error.description.contains("\n"))
    }

    @Test("a writer refuses a model with a bad upsample2d before writing anything")
    func writerRefuses() {
        var model = UpsampleModels.make()
        model.layers[0].operation = .upsample2D(Upsampling(factorH: 0, factorW: 1))
        #expect(throws: ContainerError.self) { try ContainerWriter.encode(model) }
    }
}

/// The invalid format 1.5 vectors: the upsampling model's file (``UpsampleModels/make()``) with one defect.
enum UpsampleDefect: String, CaseIterable, VectorDefect {
    case upsampleZeroFactor, upsampleUnknownInterpolation, upsampleTooLarge, upsampleOnFlatInput

    var expectedKind: ContainerError.Kind { .badModel }

    var summary: String {
        switch self {
        case .upsampleZeroFactor: "an upsample2d with factor_h 0"
        case .upsampleUnknownInterpolation: "an upsample2d with interpolation code 2"
        case .upsampleTooLarge: "an upsample2d of 65535 × 65535 on a 2×3×2 input: more than 2³¹−1 elements"
        case .upsampleOnFlatInput: "an upsample2d after a flatten (a 1-dimensional input)"
        }
    }

    func apply() throws -> [UInt8] {
        switch self {
        case .upsampleZeroFactor:
            return try UpsampleModels.hostile { $0.model.layers[0].operation = .upsample2D(Upsampling(factorH: 0, factorW: 1)) }
        case .upsampleTooLarge:
            return try UpsampleModels.hostile { $0.model.layers[0].operation = .upsample2D(Upsampling(factorH: 65_535, factorW: 65_535)) }
        case .upsampleOnFlatInput:
            return try UpsampleModels.hostile {
                $0.model.layers.insert(Layer(name: "late", operation: .upsample2D(Upsampling(factorH: 2, factorW: 2))), at: 3)
            }
        case .upsampleUnknownInterpolation:
            // The record of 'smooth' ends in its interpolation byte (1, bilinear).
            var parts = try FileParts(try UpsampleModels.hostile { _ in })
            let record: [UInt8] = [23, 6, 0, 0, 0] + Array("smooth".utf8) + [1, 0, 0, 0, 3, 0, 0, 0]
            let header = parts.header
            guard let at = (0..<(header.count - record.count)).first(where: { Array(header[$0..<($0 + record.count)]) == record }) else {
                throw ContainerError(.badModel, "the upsampling model has no record 'smooth'")
            }
            parts.header[at + record.count] = 2
            return parts.assemble()
        }
    }
}
