@testable import LRMLinearAlgebra

/// Slow, obviously correct reference computations (in `Double`) for the tests.
enum Reference {
    /// op(A)·op(B) by the naive triple loop, row-major, and Σₚ |op(A)ᵢₚ|·|op(B)ₚⱼ| for each
    /// element (the scale of the standard rounding-error bound of a dot product).
    static func product(_ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false)
        -> (values: [Double], magnitudes: [Double]) {
        let m = transposeA ? a.columns : a.rows, k = transposeA ? a.rows : a.columns
        let n = transposeB ? b.rows : b.columns
        var values = [Double](repeating: 0, count: m * n), magnitudes = values
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k {
                    let x = Double(transposeA ? a[p, i] : a[i, p]), y = Double(transposeB ? b[j, p] : b[p, j])
                    values[i * n + j] += x * y
                    magnitudes[i * n + j] += abs(x * y)
                }
            }
        }
        return (values, magnitudes)
    }

    /// ‖x − y‖_F / ‖y‖_F.
    static func relativeError(_ x: Matrix, _ y: Matrix) -> Double {
        precondition(x.shape == y.shape)
        let squared = zip(x.values, y.values).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        return squared.squareRoot() / max(y.frobeniusNorm, .leastNormalMagnitude)
    }

    /// max |MᵀM − I| over all entries: how far the columns of `m` are from orthonormal.
    static func orthonormalityError(columnsOf m: Matrix) -> Double {
        var worst = 0.0
        for p in 0..<m.columns {
            for q in 0..<m.columns {
                var dot = 0.0
                for i in 0..<m.rows { dot += Double(m[i, p]) * Double(m[i, q]) }
                worst = max(worst, abs(dot - (p == q ? 1 : 0)))
            }
        }
        return worst
    }

    /// A rows×columns matrix U·diag(σ)·Vᵀ with random orthonormal U and V (from the QR of
    /// Gaussian matrices), so its singular values are exactly `singularValues` (up to rounding).
    static func matrix(rows: Int, columns: Int, singularValues: [Float], seed: UInt64) throws -> Matrix {
        let r = singularValues.count
        let u = try QR.compute(Matrix.gaussian(rows: rows, columns: r, seed: seed)).q
        let v = try QR.compute(Matrix.gaussian(rows: columns, columns: r, seed: seed &+ 1)).q
        return try Matrix.product(u.scalingColumns(by: singularValues), v, transposeB: true)
    }
}
