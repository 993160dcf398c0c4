/// A quantized weight (format 1.2): integer codes `[rows, columns]` and one scale per group of
/// `groupSize` consecutive rows in each column. The value it stands for is
/// `W[i, j] = codes[i, j] · scales[i / groupSize, j]` (symmetric: no zero point).
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

    public init(dtype: DType, rows: Int, columns: Int, codes: [Int8], scales: Tensor, groupSize: Int) {
        self.dtype = dtype
        self.rows = rows
        self.columns = columns
        self.codes = codes
        self.scales = scales
        self.groupSize = groupSize
    }

    /// The largest code magnitude a symmetric quantizer uses: 127 (`i8`) or 7 (`i4`).
    public static func maxCode(_ dtype: DType) -> Int { dtype == .int4 ? 7 : 127 }

    /// Groups along the rows.
    public var groupCount: Int { rows / max(groupSize, 1) }

    /// The values the codes stand for, row-major `rows × columns`.
    public func dequantized() -> [Float] {
        let scale = scales.floats()
        var out = [Float](repeating: 0, count: codes.count)
        guard groupSize > 0, scale.count * groupSize == codes.count else { return out }
        for i in 0..<rows {
            let scaleRow = (i / groupSize) * columns
            let row = i * columns
            for j in 0..<columns { out[row + j] = Float(codes[row + j]) * scale[scaleRow + j] }
        }
        return out
    }

    /// Rows `start..<end` dequantized into `buffer` (row-major, `(end − start) × columns`), for
    /// computing with a weight one block at a time.
    public func dequantizeRows(_ start: Int, _ end: Int, scales scale: [Float], into buffer: UnsafeMutablePointer<Float>) {
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

    /// Round-to-nearest quantization of `values` (a tensor of `shape`, seen as `[rows, columns]` with
    /// the last axis as columns) with one scale per `groupSize` rows (default: all rows) and column.
    public static func rounding(_ values: [Float], shape: [Int], dtype: DType, groupSize: Int? = nil,
                                scaleDType: DType = .float32, clipSearch: Bool = false) -> QuantizedValues {
        let columns = max(shape.last ?? 1, 1)
        let rows = values.count / columns
        let g = min(max(groupSize ?? rows, 1), max(rows, 1))
        let groupCount = rows / g
        var codes = [Int8](repeating: 0, count: values.count)
        var scales = [Float](repeating: 1, count: groupCount * columns)
        let maxCode = maxCode(dtype)
        var group = [Float](repeating: 0, count: g)
        for blk in 0..<groupCount {
            for j in 0..<columns {
                for r in 0..<g { group[r] = values[(blk * g + r) * columns + j] }
                let s = bestScale(group, dtype: dtype, scaleDType: scaleDType, clipSearch: clipSearch)
                scales[blk * columns + j] = s
                for r in 0..<g { codes[(blk * g + r) * columns + j] = code(group[r], scale: s, maxCode: maxCode) }
            }
        }
        return QuantizedValues(dtype: dtype, rows: rows, columns: columns, codes: codes,
                               scales: Tensor(shape: [groupCount, columns], floats: scales, dtype: scaleDType), groupSize: g)
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
