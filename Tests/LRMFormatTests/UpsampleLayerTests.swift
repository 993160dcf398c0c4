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
        try FileParts.hostile(make(), minor: 5, edit)
    }
}

/// Format 1.5: the `conv2d_transpose` kind (24).
enum TransposedModels {
    /// input [2, 3, 2] (hwc) → `up` conv2d_transpose [3, 3, 2, 2] stride 2, crop (1, 0), output [4, 7] (relu)
    /// → `wide` conv2d_transpose [1, 2, 1, 2] dilation (1, 3), no bias, output [4, 11] → flatten → `out` dense [44 → 2].
    static func make() -> Model {
        func values(_ count: Int, _ step: Float) -> [Float] { (0..<count).map { Float($0 % 9) * step - 0.3 } }
        return Model(name: "transposed", input: InputSpec(shape: [2, 3, 2], layout: .hwc), classNames: ["a", "b"], layers: [
            Layer(name: "up", operation: .conv2DTranspose(kernel: Tensor(shape: [3, 3, 2, 2], floats: values(36, 0.07)),
                                                          bias: Tensor(shape: [2], floats: [0.1, -0.2]), activation: .relu,
                                                          geometry: TransposedGeometry(strideH: 2, strideW: 2, cropTop: 1, cropLeft: 0,
                                                                                       outputH: 4, outputW: 7))),
            Layer(name: "wide", operation: .conv2DTranspose(kernel: Tensor(shape: [1, 2, 1, 2], floats: [0.5, -0.25, 0.75, 1]), bias: nil,
                                                            activation: .linear,
                                                            geometry: TransposedGeometry(dilationW: 3, outputH: 4, outputW: 11))),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [44, 2], floats: values(88, 0.05)), bias: nil, activation: .softmax)),
        ], metadata: [MetadataKey.writer: .string("lrm 0.1.0")])
    }

    /// The file of ``make()`` with its header edited (checksums kept), written as 1.5.
    static func hostile(_ edit: (inout ContainerHeader) -> Void) throws -> [UInt8] {
        try FileParts.hostile(make(), minor: 5, edit)
    }

    static func geometry(_ header: ContainerHeader, _ layer: Int) -> (kernel: Int, bias: Int?, TransposedGeometry)? {
        guard case let .conv2DTranspose(kernel, bias, _, g) = header.model.layers[layer].operation else { return nil }
        return (kernel, bias, g)
    }

    static func setGeometry(_ header: inout ContainerHeader, _ layer: Int, _ edit: (inout TransposedGeometry) -> Void) {
        guard case .conv2DTranspose(let kernel, let bias, let activation, var g) = header.model.layers[layer].operation else { return }
        edit(&g)
        header.model.layers[layer].operation = .conv2DTranspose(kernel: kernel, bias: bias, activation: activation, geometry: g)
    }
}

@Suite("Transposed convolutions (format 1.5)")
struct TransposedLayerTests {
    @Test("a model with conv2d_transpose is written as 1.5 (kind 24: kernel, bias, activation, eight u32) and reads back the same")
    func roundTrip() throws {
        let model = TransposedModels.make()
        let bytes = try ContainerWriter.encode(model)
        let file = try ContainerFile.decodeForTests(bytes)
        #expect(file.minorVersion == 5)
        #expect(try file.loadModel() == model)
        #expect(try file.header.layerOutputShapes() == [[4, 7, 2], [4, 11, 1], [44], [2]])
        // The record of 'wide': length 1 + 8 + 4 + 4 + 1 + 32 = 50, kind 24, the name, kernel 2, no bias, linear, then
        // strides 1 1, dilation 1 3, crop 0 0, output 4 11.
        var record: [UInt8] = [50, 0, 0, 0, 24, 4, 0, 0, 0] + Array("wide".utf8) + [2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0]
        for value: UInt32 in [1, 1, 1, 3, 0, 0, 4, 11] { record += withUnsafeBytes(of: value.littleEndian, Array.init) }
        #expect((0...(bytes.count - record.count)).contains { Array(bytes[$0..<($0 + record.count)]) == record })
        guard case .array(let layers)? = file.contentJSON(includeValues: false)["model"]?["layers"], layers.count == 4 else {
            Issue.record("no layers in the file's JSON")
            return
        }
        #expect(layers[0]["kind"] == .string("conv2d_transpose"))
        #expect(layers[0]["crop"] == .array([.int(1), .int(0)]))
        #expect(layers[0]["output"] == .array([.int(4), .int(7)]))
        #expect(layers[1]["dilation"] == .array([.int(1), .int(3)]))
    }

    nonisolated(unsafe) static let hostileCases: [(String, String, (inout ContainerHeader) -> Void)] = [
        ("stride 0", "strides and dilations are 1 to 65535", { TransposedModels.setGeometry(&$0, 0) { $0.strideH = 0 } }),
        ("crop 65,536", "crops 0 to 65535", { TransposedModels.setGeometry(&$0, 1) { $0.cropLeft = 65_536 } }),
        ("output 0 rows", "makes a 0×7 output", { TransposedModels.setGeometry(&$0, 0) { $0.outputH = 0 } }),
        ("output 2³¹ columns", "makes a 4×2147483648 output", { TransposedModels.setGeometry(&$0, 1) { $0.outputW = 1 << 31 } }),
        ("samples past 2³¹−1 elements", "more than 2147483647 elements",
         { TransposedModels.setGeometry(&$0, 0) { $0.outputH = 65_536; $0.outputW = 65_536 } }),
        ("kernel for other channels", "for 2 input channels but receives 1",
         { $0.model.input.shape = [2, 3, 1] }),
        ("bias of the input's channels", "has bias of shape",
         { if let (_, bias, _) = TransposedModels.geometry($0, 0) {
             TransposedModels.setGeometry(&$0, 1) { _ in }
             guard case let .conv2DTranspose(kernel, _, activation, g) = $0.model.layers[1].operation else { return }
             $0.model.layers[1].operation = .conv2DTranspose(kernel: kernel, bias: bias, activation: activation, geometry: g) } }),
    ]

    @Test("hostile conv2d_transpose records are one-line bad_model errors naming the layer", arguments: 0..<hostileCases.count)
    func hostileFiles(_ index: Int) throws {
        let (what, message, edit) = Self.hostileCases[index]
        let bytes = try TransposedModels.hostile(edit)
        try expectOneLineBadModel(bytes, containing: message, what)
    }
}

/// The invalid format 1.5 vectors of the transposed convolution model (``TransposedModels/make()``).
enum TransposedDefect: String, CaseIterable, VectorDefect {
    case transposedKernelChannels, transposedZeroStride, transposedEmptyOutput

    var expectedKind: ContainerError.Kind { .badModel }

    var summary: String {
        switch self {
        case .transposedKernelChannels: "a conv2d_transpose kernel [3, 3, 2, 2] ([kh, kw, cout, cin]) on an input of 1 channel"
        case .transposedZeroStride: "a conv2d_transpose with stride_h 0"
        case .transposedEmptyOutput: "a conv2d_transpose with output_h 0"
        }
    }

    func apply() throws -> [UInt8] {
        try TransposedModels.hostile { header in
            switch self {
            case .transposedKernelChannels:
                header.model.input.shape = [2, 3, 1]
            case .transposedZeroStride: TransposedModels.setGeometry(&header, 0) { $0.strideH = 0 }
            case .transposedEmptyOutput: TransposedModels.setGeometry(&header, 0) { $0.outputH = 0 }
            }
        }
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
        try expectOneLineBadModel(bytes, containing: message, what)
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
