@testable import LRMFormat

/// A small model with both format 1.2 layer kinds: the `quantized` valid vector and the base of ``QuantDefect``.
///
/// `q8` is an `i8` quantized dense layer, 6 → 4, in groups of 3 rows with f32 scales; `q4` an `i4`
/// quantized factorized layer 4 → 3 at rank 2 (us in groups of 2 rows, vt one group per column) with
/// f16 scales; `plain` an ordinary f32 dense layer after them.
enum QuantModel {
    static func make() -> Model {
        var rng = SeededGenerator(seed: 31)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(Int(rng.nextSymmetricFloat() * 64)) / 64 } }
        func quantized(_ shape: [Int], _ dtype: DType, group: Int, scales: DType) -> Tensor {
            Tensor(quantized: QuantizedValues.rounding(values(shape[0] * shape[1]), shape: shape, dtype: dtype,
                                                       groupSize: group, scaleDType: scales))
        }
        let record = Factorization(inFeatures: 4, outFeatures: 3, rank: 2, retainedEnergy: 0.75, relativeError: 0.5,
                                   policy: "rank", policyParameter: 2, method: "gesdd-f32", singularValues: [2, 1, 0.5])
        let layers: [Layer<Tensor>] = [
            Layer(name: "q8", operation: .dense(kernel: quantized([6, 4], .int8, group: 3, scales: .float32),
                                                bias: Tensor(shape: [4], floats: values(4)), activation: .relu)),
            Layer(name: "q4", operation: .factorizedDense(us: quantized([4, 2], .int4, group: 2, scales: .float16),
                                                          vt: quantized([2, 3], .int4, group: 2, scales: .float16),
                                                          bias: nil, activation: .tanh, factorization: record)),
            Layer(name: "plain", operation: .dense(kernel: Tensor(shape: [3, 2], floats: values(6)),
                                                   bias: Tensor(shape: [2], floats: values(2)), activation: .softmax)),
        ]
        return Model(name: "quantized", input: InputSpec(shape: [6]), classNames: ["a", "b"], layers: layers,
                     metadata: [MetadataKey.writer: .string("lrm 0.1.0")])
    }
}

/// Defects of quantized weights, each applied to ``QuantModel`` and rejected with exactly `expectedKind`.
enum QuantDefect: String, CaseIterable, VectorDefect {
    case quantGroupNotDividing, quantGroupZero, quantScalesWrongShape, quantScalesMissing, quantCodesFloat
    case quantScalesInteger, quantIntegerBias, quantInt4OddCount, quantZeroScale, quantNanScale, quantInfiniteScale

    var expectedKind: ContainerError.Kind {
        switch self {
        case .quantInt4OddCount, .quantZeroScale, .quantNanScale, .quantInfiniteScale: .badTensor
        default: .badModel
        }
    }

    /// Scale values are data: they are checked with the checksums, not when the file is opened.
    var foundOnlyByVerify: Bool { [.quantZeroScale, .quantNanScale, .quantInfiniteScale].contains(self) }

    var summary: String {
        switch self {
        case .quantGroupNotDividing: "a quantized kernel of 6 rows with group size 4"
        case .quantGroupZero: "a quantized kernel with group size 0"
        case .quantScalesWrongShape: "kernel scales of shape [4, 2] for 6 rows in groups of 3 and 4 columns (expected [2, 4])"
        case .quantScalesMissing: "a quantized kernel whose scales reference is 0xFFFFFFFF"
        case .quantCodesFloat: "a quantized kernel whose codes tensor is f32"
        case .quantScalesInteger: "kernel scales stored as i8"
        case .quantIntegerBias: "an i8 tensor used as a (not quantized) bias"
        case .quantInt4OddCount: "an i4 tensor of shape [3, 3]: 9 values, an odd count"
        case .quantZeroScale: "a kernel scale of 0 (checksums fixed up)"
        case .quantNanScale: "an f16 scale that is NaN (checksums fixed up)"
        case .quantInfiniteScale: "a kernel scale of +∞ (checksums fixed up)"
        }
    }

    func apply() throws -> [UInt8] {
        let (tensors, planned) = try QuantModel.make().plan()
        var header = planned
        var data: [[UInt8]] = tensors.map { tensor in tensor.withLittleEndianBytes { Array($0) } }
        func index(_ name: String) -> Int { header.tensors.firstIndex { $0.name == name }! }
        func floats(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } } }
        func setQuantization(_ layer: Int, _ role: String, _ edit: (inout WeightQuantization) -> Void) {
            edit(&header.model.layers[layer].quantization[role]!)
        }
        switch self {
        case .quantGroupNotDividing: setQuantization(0, "kernel") { $0.groupSize = 4 }
        case .quantGroupZero: setQuantization(0, "kernel") { $0.groupSize = 0 }
        case .quantScalesWrongShape: header.tensors[index("q8/kernel_scales")].shape = [4, 2]
        case .quantScalesMissing: setQuantization(0, "kernel") { $0.scales = Int(Container.noTensor) }
        case .quantCodesFloat:
            let k = index("q8/kernel")
            header.tensors[k].dtype = .float32
            data[k] = floats(tensors[k].floats())
        case .quantScalesInteger:
            let s = index("q8/kernel_scales")
            header.tensors[s].dtype = .int8
            data[s] = [UInt8](repeating: 1, count: 8)
        case .quantIntegerBias:
            let b = index("q8/bias")
            header.tensors[b].dtype = .int8
            data[b] = [1, 2, 3, 4]
        case .quantInt4OddCount:
            let u = index("q4/us")
            header.tensors[u].shape = [3, 3]
            data[u] = [UInt8](repeating: 0x11, count: 5)
        case .quantZeroScale:
            var values = tensors[index("q8/kernel_scales")].floats()
            values[5] = 0
            data[index("q8/kernel_scales")] = floats(values)
        case .quantNanScale:
            let s = index("q4/vt_scales")
            data[s][2] = 0x00; data[s][3] = 0x7E  // the second f16 scale: 0x7E00, a quiet NaN
        case .quantInfiniteScale:
            var values = tensors[index("q8/kernel_scales")].floats()
            values[0] = .infinity
            data[index("q8/kernel_scales")] = floats(values)
        }
        return Self.assemble(header, data)
    }

    /// The file of `header` with `data` as its tensors: offsets, byte counts and checksums follow the data.
    static func assemble(_ planned: ContainerHeader, _ data: [[UInt8]]) -> [UInt8] {
        var header = planned
        var offset = 0
        for index in header.tensors.indices {
            header.tensors[index].byteOffset = offset
            header.tensors[index].byteCount = data[index].count
            header.tensors[index].crc32 = CRC32.checksum(data[index])
            offset = alignUp(offset + data[index].count, to: header.alignment)!
        }
        let headerBytes = header.encode()
        var bytes = ContainerWriter.preamble(header: header, headerBytes: headerBytes) + headerBytes
        let dataStart = alignUp(bytes.count, to: header.alignment)!
        for (index, tensorData) in data.enumerated() {
            bytes += [UInt8](repeating: 0, count: dataStart + header.tensors[index].byteOffset - bytes.count)
            bytes += tensorData
        }
        return bytes
    }
}

/// A small model with both format 1.3 layer kinds (zero points) beside a 1.2 one: the
/// `quantized_zero_points` valid vector and the base of ``ZeroPointDefect``.
///
/// `z8` is an `i8` dense layer with zero points, 6 → 4, in groups of 3 rows with f32 scales (zero
/// points `i8` [2, 4]); `z4` an `i4` factorized layer 4 → 3 at rank 2 with f16 scales: `us` in groups of
/// 2 rows (zero points `i4` [2, 2], packed), `vt` one group per column (zero points [1, 3]: an odd
/// count, so `i8`); `s8` a symmetric `i8` dense layer (kind 15) after them.
enum ZeroPointModel {
    static func make() -> Model {
        var rng = SeededGenerator(seed: 37)
        // Values mostly of one sign, so that the zero points are not all at the middle code.
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(Int(rng.nextSymmetricFloat() * 48 + 16)) / 64 } }
        func quantized(_ shape: [Int], _ dtype: DType, group: Int, scales: DType, zeroPoints: Bool = true) -> Tensor {
            Tensor(quantized: QuantizedValues.rounding(values(shape[0] * shape[1]), shape: shape, dtype: dtype,
                                                       groupSize: group, scaleDType: scales, zeroPoints: zeroPoints))
        }
        let record = Factorization(inFeatures: 4, outFeatures: 3, rank: 2, retainedEnergy: 0.75, relativeError: 0.5,
                                   policy: "rank", policyParameter: 2, method: "gesdd-f32", singularValues: [2, 1, 0.5])
        let layers: [Layer<Tensor>] = [
            Layer(name: "z8", operation: .dense(kernel: quantized([6, 4], .int8, group: 3, scales: .float32),
                                                bias: Tensor(shape: [4], floats: values(4)), activation: .relu)),
            Layer(name: "z4", operation: .factorizedDense(us: quantized([4, 2], .int4, group: 2, scales: .float16),
                                                          vt: quantized([2, 3], .int4, group: 2, scales: .float16),
                                                          bias: nil, activation: .tanh, factorization: record)),
            Layer(name: "s8", operation: .dense(kernel: quantized([3, 2], .int8, group: 3, scales: .float32, zeroPoints: false),
                                                bias: Tensor(shape: [2], floats: values(2)), activation: .softmax)),
        ]
        return Model(name: "zero points", input: InputSpec(shape: [6]), classNames: ["a", "b"], layers: layers,
                     metadata: [MetadataKey.writer: .string("lrm 0.1.0")])
    }
}

/// Defects of zero points (format 1.3), each applied to ``ZeroPointModel`` and rejected with exactly `expectedKind`.
enum ZeroPointDefect: String, CaseIterable, VectorDefect {
    case zeroPointsWrongShape, zeroPointsMissing, zeroPointsFloat, zeroPointsOutOfRange, zeroPointsScalesMissing
    case zeroPointsZeroScale, zeroPointsInt4OddCount

    var expectedKind: ContainerError.Kind {
        switch self {
        case .zeroPointsOutOfRange, .zeroPointsZeroScale, .zeroPointsInt4OddCount: .badTensor
        default: .badModel
        }
    }

    /// Zero-point and scale values are data: checked with the checksums, not when the file is opened.
    var foundOnlyByVerify: Bool { [.zeroPointsOutOfRange, .zeroPointsZeroScale].contains(self) }

    var summary: String {
        switch self {
        case .zeroPointsWrongShape: "kernel zero points of shape [4, 2] for scales of shape [2, 4]"
        case .zeroPointsMissing: "a quantized_dense_zp kernel whose zero-points reference is 0xFFFFFFFF"
        case .zeroPointsFloat: "kernel zero points stored as f32"
        case .zeroPointsOutOfRange: "an i8 zero point of 8 for i4 codes (range -8…7; checksums fixed up)"
        case .zeroPointsScalesMissing: "a quantized_dense_zp kernel whose scales reference is 0xFFFFFFFF"
        case .zeroPointsZeroScale: "a scale of 0 in a layer with zero points (checksums fixed up)"
        case .zeroPointsInt4OddCount: "vt zero points [1, 3] stored as i4: 3 values, an odd count"
        }
    }

    func apply() throws -> [UInt8] {
        let (tensors, planned) = try ZeroPointModel.make().plan()
        var header = planned
        var data: [[UInt8]] = tensors.map { tensor in tensor.withLittleEndianBytes { Array($0) } }
        func index(_ name: String) -> Int { header.tensors.firstIndex { $0.name == name }! }
        func floats(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } } }
        func setQuantization(_ layer: Int, _ role: String, _ edit: (inout WeightQuantization) -> Void) {
            edit(&header.model.layers[layer].quantization[role]!)
        }
        switch self {
        case .zeroPointsWrongShape: header.tensors[index("z8/kernel_zero_points")].shape = [4, 2]
        case .zeroPointsMissing: setQuantization(0, "kernel") { $0.zeroPoints = Int(Container.noTensor) }
        case .zeroPointsFloat:
            let z = index("z8/kernel_zero_points")
            header.tensors[z].dtype = .float32
            data[z] = floats(tensors[z].floats())
        case .zeroPointsOutOfRange:
            let z = index("z4/vt_zero_points")
            precondition(header.tensors[z].dtype == .int8)
            data[z][1] = 8
        case .zeroPointsScalesMissing: setQuantization(0, "kernel") { $0.scales = Int(Container.noTensor) }
        case .zeroPointsZeroScale:
            var values = tensors[index("z8/kernel_scales")].floats()
            values[6] = 0
            data[index("z8/kernel_scales")] = floats(values)
        case .zeroPointsInt4OddCount:
            let z = index("z4/vt_zero_points")
            header.tensors[z].dtype = .int4
            data[z] = [0x21, 0x03]
        }
        return QuantDefect.assemble(header, data)
    }
}
