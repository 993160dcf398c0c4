import Foundation
public import LRMFormat
import LRMLinearAlgebra

/// How the converter stores weights as integer codes (format 1.2).
public struct QuantizationOptions: Sendable, Equatable {
    /// `.int8` or `.int4`.
    public var dtype: DType
    /// Rows (inputs) per scale; nil: one scale per column (output).
    public var groupSize: Int?
    /// `.float16` or `.float32`.
    public var scaleDType: DType
    /// Whether to use calibration data, when there is some, for error-feedback rounding.
    public var useCalibration: Bool
    /// (Format 1.3) Asymmetric codes: a zero point per group beside its scale, the codes spread over
    /// the group's range instead of symmetrically around zero.
    public var zeroPoints: Bool

    public init(dtype: DType, groupSize: Int? = nil, scaleDType: DType = .float16, useCalibration: Bool = true,
                zeroPoints: Bool = false) {
        self.dtype = dtype
        self.groupSize = groupSize
        self.scaleDType = scaleDType
        self.useCalibration = useCalibration
        self.zeroPoints = zeroPoints
    }

    /// The group size used for a weight of `rows` rows: the option, or all rows.
    public func groupSize(rows: Int) -> Int { min(groupSize ?? rows, rows) }

    /// Bytes of a `rows × columns` weight stored this way: codes plus scales (plus zero points)
    /// (before alignment).
    public func byteCount(rows: Int, columns: Int) -> Int {
        let codes = dtype == .int4 ? (rows * columns + 1) / 2 : rows * columns
        let groups = rows / max(groupSize(rows: rows), 1)
        var bytes = codes + groups * columns * scaleDType.byteCount
        if zeroPoints {
            // i4 zero points when the codes are i4 and their count is even, else i8 (QuantizedValues.zeroPointTensor).
            let count = groups * columns
            bytes += dtype == .int4 && count % 2 == 0 ? count / 2 : count
        }
        return bytes
    }
}

/// Rounds weights to integer codes.
///
/// Without calibration data each group's scale is the one (of 21 clipping levels of its absolute
/// maximum) whose rounding has the smallest squared error. With the Gram matrix H = XᵀX of the
/// weight's inputs on calibration data, the rows (inputs) are rounded one after the other and each
/// row's rounding error is spread over the rows not yet rounded so as to minimise the error of the
/// layer's output ‖X·W − X·Ŵ‖ (the error feedback of GPTQ, Frantar et al. 2022): with U the upper
/// Cholesky factor of (H + δI)⁻¹, after rounding row i, row r > i moves by −U[i, r]/U[i, i] times
/// row i's error. A group's scales are chosen when its first row is reached, from the rows as
/// updated so far.
public enum FactorQuantizer {
    /// Relative damping δ = dampening · mean diag(H) added to H (keeps H invertible when inputs are
    /// dead or collinear, as MNIST's border pixels are).
    public static let dampening = 0.01

    /// `values` (`rows × columns`, row-major) quantized per `options`; `gram` (rows × rows) enables
    /// error feedback.
    public static func quantize(_ values: [Float], rows: Int, columns: Int, options: QuantizationOptions,
                                gram: [Double]? = nil) throws -> QuantizedValues {
        let group = options.groupSize(rows: rows)
        guard rows % group == 0 else {
            throw ConversionError(kind: .decomposition, layer: "",
                                  message: "group size \(group) does not divide the weight's \(rows) rows")
        }
        guard let gram, options.useCalibration, gram.count == rows * rows else {
            return QuantizedValues.rounding(values, shape: [rows, columns], dtype: options.dtype, groupSize: group,
                                            scaleDType: options.scaleDType, clipSearch: true, zeroPoints: options.zeroPoints)
        }
        let u = try InverseCholeskyCache.shared.factor(gram, n: rows)
        var w = values
        let maxCode = QuantizedValues.maxCode(options.dtype)
        var codes = [Int8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 1, count: (rows / group) * columns)
        var zeros = [Int8](repeating: 0, count: options.zeroPoints ? (rows / group) * columns : 0)
        var error = [Float](repeating: 0, count: columns)
        var column = [Float](repeating: 0, count: group)
        for i in 0..<rows {
            if i % group == 0 {
                let block = i / group
                for j in 0..<columns {
                    for r in 0..<group { column[r] = w[(i + r) * columns + j] }
                    if options.zeroPoints {
                        let (s, z) = QuantizedValues.bestAsymmetric(column, dtype: options.dtype, scaleDType: options.scaleDType,
                                                                    clipSearch: true)
                        scales[block * columns + j] = s
                        zeros[block * columns + j] = z
                    } else {
                        scales[block * columns + j] = QuantizedValues.bestScale(column, dtype: options.dtype,
                                                                                scaleDType: options.scaleDType, clipSearch: true)
                    }
                }
            }
            let scaleRow = (i / group) * columns
            let diagonal = Float(u[i * rows + i])
            for j in 0..<columns {
                let s = scales[scaleRow + j]
                if options.zeroPoints {
                    let z = zeros[scaleRow + j]
                    let code = QuantizedValues.code(w[i * columns + j], scale: s, zero: z, dtype: options.dtype)
                    codes[i * columns + j] = code
                    error[j] = (w[i * columns + j] - Float(Int32(code) - Int32(z)) * s) / diagonal
                    continue
                }
                let code = QuantizedValues.code(w[i * columns + j], scale: s, maxCode: maxCode)
                codes[i * columns + j] = code
                error[j] = (w[i * columns + j] - Float(code) * s) / diagonal
            }
            for r in (i + 1)..<max(i + 1, rows) {
                let c = Float(u[i * rows + r])
                if c == 0 { continue }
                w.withUnsafeMutableBufferPointer { wp in
                    let row = wp.baseAddress! + r * columns
                    for j in 0..<columns { row[j] -= c * error[j] }
                }
            }
        }
        return QuantizedValues(dtype: options.dtype, rows: rows, columns: columns, codes: codes,
                               scales: Tensor(shape: [rows / group, columns], floats: scales, dtype: options.scaleDType),
                               groupSize: group,
                               zeroPoints: options.zeroPoints
                                   ? QuantizedValues.zeroPointTensor(zeros, groups: rows / group, columns: columns, codes: options.dtype)
                                   : nil)
    }

    /// U, upper triangular with (H + δI)⁻¹ = UᵀU, row-major n × n: with J the reversal of the
    /// indices and J(H + δI)J = L·Lᵀ, U = J·L⁻¹·J.
    static func inverseUpperCholesky(_ gram: [Double], n: Int) throws -> [Double] {
        var meanDiagonal = 0.0
        for i in 0..<n { meanDiagonal += gram[i * n + i] }
        meanDiagonal /= Double(max(n, 1))
        var damping = dampening * (meanDiagonal > 0 ? meanDiagonal : 1)
        for _ in 0..<6 {
            var reversed = [Float](repeating: 0, count: n * n)
            for i in 0..<n {
                for j in 0..<n { reversed[i * n + j] = Float(gram[(n - 1 - i) * n + (n - 1 - j)] + (i == j ? damping : 0)) }
            }
            do {
                let cholesky = try Cholesky.factor(try Matrix(rows: n, columns: n, values: reversed), precision: .double)
                let inverse = try cholesky.solve(Matrix.identity(n))   // L⁻¹, lower
                var u = [Double](repeating: 0, count: n * n)
                for i in 0..<n {
                    for j in i..<n { u[i * n + j] = Double(inverse[n - 1 - i, n - 1 - j]) }
                }
                return u
            } catch let error as LinearAlgebraError {
                guard case .notPositiveDefinite = error.kind else { throw error }
                damping *= 10
            }
        }
        throw ConversionError(kind: .decomposition, layer: "", message: "the calibration Gram matrix is not positive definite even with damping \(damping)")
    }

    /// The Gram matrix of a layer's middle activations (x·us) given that of its inputs:
    /// usᵀ · H · us (k × k), for rounding `vt` against the rounded `us`.
    public static func middleGram(_ gram: [Double], us: [Float], rows n: Int, rank k: Int) -> [Double] {
        // H·us: n × k (us widened once, exactly; the same sums in the same order as indexing it element by element)
        var hu = [Double](repeating: 0, count: n * k)
        let wide = us.map(Double.init)
        hu.withUnsafeMutableBufferPointer { result in
            gram.withUnsafeBufferPointer { h in
                wide.withUnsafeBufferPointer { u in
                    for i in 0..<n {
                        let out = result.baseAddress! + i * k
                        for l in 0..<n {
                            let x = h[i * n + l]
                            if x == 0 { continue }
                            let row = u.baseAddress! + l * k
                            for c in 0..<k { out[c] += x * row[c] }
                        }
                    }
                }
            }
        }
        var result = [Double](repeating: 0, count: k * k)
        for i in 0..<n {
            for a in 0..<k {
                let x = Double(us[i * k + a])
                if x == 0 { continue }
                for b in 0..<k { result[a * k + b] += x * hu[i * k + b] }
            }
        }
        return result
    }

    /// Vᵀ refitted after `us` was rounded: the V minimising ‖X·us·vt − X·ûs·V‖ on calibration data,
    /// V = (ûsᵀHûs + δI)⁻¹ ûsᵀH·us·vt. Falls back to `vt` if the system cannot be solved.
    public static func refitVT(gram: [Double], us: [Float], roundedUS: [Float], vt: [Float], rows n: Int, rank k: Int,
                               columns out: Int) -> [Float] {
        // ûsᵀ H (k × n): row a of it accumulates ûs[i, a] · (row i of H) over i in order, so that every element
        // is the same sum, term by term and in the same order, as one loop per element would give; the rows are
        // contiguous (H's rows stream once, each against the k rows of the result), which a loop over H's
        // elements with the k results strided by n was not: on CIFAR's 3,072 inputs that loop took most of a
        // size search's time. A zero factor adds only zeros (H is finite), so it is skipped.
        var uh = [Double](repeating: 0, count: k * n)
        uh.withUnsafeMutableBufferPointer { result in
            gram.withUnsafeBufferPointer { h in
                roundedUS.withUnsafeBufferPointer { u in
                    for i in 0..<n {
                        let row = h.baseAddress! + i * n
                        for a in 0..<k {
                            let x = Double(u[i * k + a])
                            if x == 0 { continue }
                            let out = result.baseAddress! + a * n
                            for l in 0..<n { out[l] += x * row[l] }
                        }
                    }
                }
            }
        }
        // A = ûsᵀHûs (k × k), B = ûsᵀH·us (k × k), target = B·vt (k × out)
        var a = [Double](repeating: 0, count: k * k), b = [Double](repeating: 0, count: k * k)
        let roundedWide = roundedUS.map(Double.init), wide = us.map(Double.init)
        a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeMutableBufferPointer { bp in
                roundedWide.withUnsafeBufferPointer { ru in
                    wide.withUnsafeBufferPointer { u in
                        for r in 0..<k {
                            let aRow = ap.baseAddress! + r * k, bRow = bp.baseAddress! + r * k
                            for l in 0..<n {
                                let x = uh[r * n + l]
                                if x == 0 { continue }
                                let rr = ru.baseAddress! + l * k, ur = u.baseAddress! + l * k
                                for c in 0..<k {
                                    aRow[c] += x * rr[c]
                                    bRow[c] += x * ur[c]
                                }
                            }
                        }
                    }
                }
            }
        }
        var target = [Double](repeating: 0, count: k * out)
        for r in 0..<k { for c in 0..<k { let x = b[r * k + c]; for j in 0..<out { target[r * out + j] += x * Double(vt[c * out + j]) } } }
        var mean = 0.0
        for i in 0..<k { mean += a[i * k + i] }
        let damping = 1e-6 * mean / Double(max(k, 1))
        for i in 0..<k { a[i * k + i] += damping }
        guard let solution = solveSymmetric(a, target, n: k, columns: out) else { return vt }
        return solution.map(Float.init)
    }

    /// A⁻¹·B for symmetric positive definite A (n × n) by a Cholesky factorization in Double; nil if A is not.
    static func solveSymmetric(_ a: [Double], _ b: [Double], n: Int, columns: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for p in 0..<j { sum -= l[i * n + p] * l[j * n + p] }
                if i == j {
                    guard sum > 0, sum.isFinite else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var x = b
        for c in 0..<columns {
            for i in 0..<n {   // L y = b
                var sum = x[i * columns + c]
                for p in 0..<i { sum -= l[i * n + p] * x[p * columns + c] }
                x[i * columns + c] = sum / l[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {   // Lᵀ x = y
                var sum = x[i * columns + c]
                for p in (i + 1)..<max(i + 1, n) { sum -= l[p * n + i] * x[p * columns + c] }
                x[i * columns + c] = sum / l[i * n + i]
            }
        }
        return x
    }
}

/// The last few factors U of (H + δI)⁻¹ for large Gram matrices, by a hash of H's bytes: a size
/// search rounds the same layer against the same calibration data for every candidate, and for a
/// 3072-input layer the inversion costs far more than the rounding.
final class InverseCholeskyCache: @unchecked Sendable {
    static let shared = InverseCholeskyCache()
    /// Smaller matrices are not worth keeping.
    static let minimumSize = 256
    static let capacity = 3
    private let lock = NSLock()
    private var entries: [(n: Int, hash: Int, u: [Double])] = []

    func factor(_ gram: [Double], n: Int) throws -> [Double] {
        guard n >= Self.minimumSize else { return try FactorQuantizer.inverseUpperCholesky(gram, n: n) }
        var hasher = Hasher()
        hasher.combine(n)
        gram.withUnsafeBytes { hasher.combine(bytes: $0) }
        let hash = hasher.finalize()
        lock.lock()
        if let hit = entries.first(where: { $0.n == n && $0.hash == hash }) {
            lock.unlock()
            return hit.u
        }
        lock.unlock()
        let u = try FactorQuantizer.inverseUpperCholesky(gram, n: n)
        lock.lock()
        entries.append((n, hash, u))
        if entries.count > Self.capacity { entries.removeFirst() }
        lock.unlock()
        return u
    }
}
