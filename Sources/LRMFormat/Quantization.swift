/// A quantized weight (format 1.2): integer codes `[rows, columns]` and one scale per group of
/// `groupSize` consecutive rows in each column. The value it stands for is
/// `W[i, j] = codes[i, j] · scales[i / groupSize, j]` (symmetric: no zero point), or with zero points
/// (format 1.3) `W[i, j] = (codes[i, j] − zeroPoints[i / groupSize, j]) · scales[i / groupSize, j]`, the
/// difference an exact integer, the product one float32 rounding.
///
/// Rows are the weight's input axis (a kernel is in × out, `us` in × k, `vt` k × out), so a group
/// is a run of inputs feeding one output: with `groupSize == rows` each output column has one scale.
public struct QuantizedValues: Sendable, Equatable {
    /// `.int8` or `.int4`.
    public var dtype: DType
    public var rows: Int
    public var columns: Int
    /// `rows × columns` codes, row-major; −128…127 for `i8`, −8…7 for `i4`.
    public var codes: [Int8]
    /// `[rows / groupSize, columns]`, stored as `f32` or `f16`.
    public var scales: Tensor
    /// Rows per group: 1 ≤ groupSize ≤ rows, dividing rows.
    public var groupSize: Int
    /// (1.3) One zero point per group, the shape of `scales`, stored as `i8` or `i4` (storage
    /// `.int8` / `.int4`), each within the codes' range; nil: symmetric.
    public var zeroPoints: Tensor?

    public init(dtype: DType, rows: Int, columns: Int, codes: [Int8], scales: Tensor, groupSize: Int,
                zeroPoints: Tensor? = nil) {
        self.dtype = dtype
        self.rows = rows
        self.columns = columns
        self.codes = codes
        self.scales = scales
        self.groupSize = groupSize
        self.zeroPoints = zeroPoints
    }

    /// The zero points as integers (`[rows / groupSize, columns]` row-major), nil when symmetric.
    public var zeroPointValues: [Int8]? {
        switch zeroPoints?.storage {
        case .int8(let values)?, .int4(let values)?: values
        default: nil
        }
    }

    /// The zero-point tensor a writer stores for `values` (`[groups, columns]`) of a weight with
    /// codes of `dtype`: `i4` when the codes are `i4` and the count is even (an `i4` tensor has an
    /// even number of elements), else `i8`.
    public static func zeroPointTensor(_ values: [Int8], groups: Int, columns: Int, codes dtype: DType) -> Tensor {
        dtype == .int4 && values.count % 2 == 0
            ? Tensor(shape: [groups, columns], storage: .int4(values))
            : Tensor(shape: [groups, columns], storage: .int8(values))
    }

    /// The range of codes of `dtype`: −128…127 (`i8`) or −8…7 (`i4`).
    public static func codeRange(_ dtype: DType) -> ClosedRange<Int> { dtype == .int4 ? -8...7 : -128...127 }

    /// The largest code magnitude a symmetric quantizer uses: 127 (`i8`) or 7 (`i4`).
    public static func maxCode(_ dtype: DType) -> Int { dtype == .int4 ? 7 : 127 }

    /// Groups along the rows.
    public var groupCount: Int { rows / max(groupSize, 1) }

    /// The values the codes stand for, row-major `rows × columns`.
    public func dequantized() -> [Float] {
        let scale = scales.floats()
        var out = [Float](repeating: 0, count: codes.count)
        guard groupSize > 0, scale.count * groupSize == codes.count else { return out }
        out.withUnsafeMutableBufferPointer { dequantizeRows(0, rows, scales: scale, into: $0.baseAddress!) }
        return out
    }

    /// Rows `start..<end` dequantized into `buffer` (row-major, `(end − start) × columns`), for
    /// computing with a weight one block at a time.
    public func dequantizeRows(_ start: Int, _ end: Int, scales scale: [Float], into buffer: UnsafeMutablePointer<Float>) {
        if let zero = zeroPointValues, zero.count == scale.count {
            for i in start..<end {
                let scaleRow = (i / groupSize) * columns
                let row = i * columns
                let out = buffer + (i - start) * columns
                codes.withUnsafeBufferPointer { c in
                    scale.withUnsafeBufferPointer { s in
                        zero.withUnsafeBufferPointer { z in
                            for j in 0..<columns {
                                out[j] = Float(Int32(c[row + j]) - Int32(z[scaleRow + j])) * s[scaleRow + j]
                            }
                        }
                    }
                }
            }
            return
        }
        for i in start..<end {
            let scaleRow = (i / groupSize) * columns
            let row = i * columns
            let out = buffer + (i - start) * columns
            codes.withUnsafeBufferPointer { c in
                scale.withUnsafeBufferPointer { s in
                    for j in 0..<columns { out[j] = Float(c[row + j]) * s[scaleRow + j] }
                }
            }
        }
    }

    /// A scale as it will be stored in `dtype` (`f16` or `f32`): finite and non-zero, so every
    /// group can be written (an all-zero group gets scale 1 and zero codes).
    public static func storableScale(_ scale: Float, dtype: DType) -> Float {
        var s = scale.isFinite && scale > 0 ? scale : 1
        if dtype == .float16 {
            s = min(max(s, 0x1p-24), 65504)
            return HalfPrecision.float(fromHalf: HalfPrecision.half(from: s))
        }
        return max(s, .leastNormalMagnitude)
    }

    /// The code nearest to `value / scale`, clamped to ±maxCode.
    @inlinable
    public static func code(_ value: Float, scale: Float, maxCode: Int) -> Int8 {
        let q = (value / scale).rounded(.toNearestOrEven)
        return Int8(max(-Float(maxCode), min(Float(maxCode), q.isNaN ? 0 : q)))
    }

    /// The scale for a group of values: the absolute maximum over `maxCode`, or with `clipSearch`
    /// the clipped maximum (a fraction 0.5…1 of it) whose rounding has the smallest squared error.
    public static func bestScale(_ values: [Float], dtype: DType, scaleDType: DType, clipSearch: Bool) -> Float {
        let maxCode = maxCode(dtype)
        let absMax = values.reduce(Float(0)) { max($0, abs($1)) }
        guard absMax > 0 else { return storableScale(1, dtype: scaleDType) }
        var best = storableScale(absMax / Float(maxCode), dtype: scaleDType)
        guard clipSearch else { return best }
        var bestError = Float.infinity
        for step in 0...20 {
            let s = storableScale(absMax * (1 - Float(step) * 0.025) / Float(maxCode), dtype: scaleDType)
            var error: Float = 0
            for v in values {
                let d = v - Float(code(v, scale: s, maxCode: maxCode)) * s
                error += d * d
            }
            if error < bestError { bestError = error; best = s }
        }
        return best
    }

    /// The code nearest to `value / scale + zero`, clamped to the range of `dtype` (with zero points).
    @inlinable
    public static func code(_ value: Float, scale: Float, zero: Int8, dtype: DType) -> Int8 {
        let range = codeRange(dtype)
        let q = (value / scale).rounded(.toNearestOrEven) + Float(zero)
        return Int8(max(Float(range.lowerBound), min(Float(range.upperBound), q.isNaN ? Float(zero) : q)))
    }

    /// The scale and zero point for a group of values (format 1.3): the 2^b codes spread over the
    /// group's range [min(min, 0), max(max, 0)] (zero stays exactly representable), or with
    /// `clipSearch` that range shrunk toward zero by the fraction 0.5…1 whose rounding has the
    /// smallest squared error.
    public static func bestAsymmetric(_ values: [Float], dtype: DType, scaleDType: DType,
                                      clipSearch: Bool) -> (scale: Float, zero: Int8) {
        let range = codeRange(dtype)
        let levels = Float(range.upperBound - range.lowerBound)
        let lo = min(values.min() ?? 0, 0), hi = max(values.max() ?? 0, 0)
        guard hi > lo else { return (storableScale(1, dtype: scaleDType), 0) }
        func candidate(_ clip: Float) -> (Float, Int8) {
            let s = storableScale((hi - lo) * clip / levels, dtype: scaleDType)
            let unsigned = max(0, min(levels, (-lo * clip / s).rounded(.toNearestOrEven)))
            return (s, Int8(Int(unsigned) + range.lowerBound))
        }
        var best = candidate(1)
        guard clipSearch else { return best }
        var bestError = Float.infinity
        for step in 0...20 {
            let (s, z) = candidate(1 - Float(step) * 0.025)
            var error: Float = 0
            for v in values {
                let d = v - Float(Int32(code(v, scale: s, zero: z, dtype: dtype)) - Int32(z)) * s
                error += d * d
            }
            if error < bestError { bestError = error; best = (s, z) }
        }
        return best
    }

    /// Round-to-nearest quantization of `values` (a tensor of `shape`, seen as `[rows, columns]` with
    /// the last axis as columns) with one scale per `groupSize` rows (default: all rows) and column.
    public static func rounding(_ values: [Float], shape: [Int], dtype: DType, groupSize: Int? = nil,
                                scaleDType: DType = .float32, clipSearch: Bool = false,
                                zeroPoints: Bool = false) -> QuantizedValues {
        let columns = max(shape.last ?? 1, 1)
        let rows = values.count / columns
        let g = min(max(groupSize ?? rows, 1), max(rows, 1))
        let groupCount = rows / g
        var codes = [Int8](repeating: 0, count: values.count)
        var scales = [Float](repeating: 1, count: groupCount * columns)
        var zeros = [Int8](repeating: 0, count: zeroPoints ? groupCount * columns : 0)
        let maxCode = maxCode(dtype)
        var group = [Float](repeating: 0, count: g)
        for blk in 0..<groupCount {
            for j in 0..<columns {
                for r in 0..<g { group[r] = values[(blk * g + r) * columns + j] }
                if zeroPoints {
                    let (s, z) = bestAsymmetric(group, dtype: dtype, scaleDType: scaleDType, clipSearch: clipSearch)
                    scales[blk * columns + j] = s
                    zeros[blk * columns + j] = z
                    for r in 0..<g { codes[(blk * g + r) * columns + j] = code(group[r], scale: s, zero: z, dtype: dtype) }
                    continue
                }
                let s = bestScale(group, dtype: dtype, scaleDType: scaleDType, clipSearch: clipSearch)
                scales[blk * columns + j] = s
                for r in 0..<g { codes[(blk * g + r) * columns + j] = code(group[r], scale: s, maxCode: maxCode) }
            }
        }
        return QuantizedValues(dtype: dtype, rows: rows, columns: columns, codes: codes,
                               scales: Tensor(shape: [groupCount, columns], floats: scales, dtype: scaleDType), groupSize: g,
                               zeroPoints: zeroPoints ? zeroPointTensor(zeros, groups: groupCount, columns: columns, codes: dtype) : nil)
    }

    /// `i4` codes packed two per byte, the even element in the low nibble (an odd count leaves the
    /// last high nibble zero; such a tensor cannot be written).
    public static func packInt4(_ codes: [Int8]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: (codes.count + 1) / 2)
        for (index, code) in codes.enumerated() {
            let nibble = UInt8(bitPattern: code) & 0x0F
            bytes[index / 2] |= index % 2 == 0 ? nibble : nibble << 4
        }
        return bytes
    }

    /// The codes of packed `i4` bytes, sign-extended.
    public static func unpackInt4(_ bytes: UnsafeRawBufferPointer) -> [Int8] {
        var codes = [Int8](repeating: 0, count: bytes.count * 2)
        for (index, byte) in bytes.enumerated() {
            codes[2 * index] = Int8(bitPattern: byte << 4) >> 4
            codes[2 * index + 1] = Int8(bitPattern: byte) >> 4
        }
        return codes
    }
}
