import Testing
@testable import LRMLinearAlgebra

@Suite("Cholesky")
struct CholeskyTests {
    /// XᵀX + λI for 200 Gaussian samples of 50 features: well conditioned, positive definite.
    static func gram() throws -> (x: Matrix, gram: Matrix) {
        let x = Matrix.gaussian(rows: 200, columns: 50, seed: 101)
        return (x, try Cholesky.regularizedGram(of: x, ridge: 0.1))
    }

    @Test("regularizedGram equals XᵀX + λI from a naive loop, symmetric", arguments: Precision.allCases)
    func gramMatrix(precision: Precision) throws {
        let x = Matrix.gaussian(rows: 200, columns: 50, seed: 101)
        let gram = try Cholesky.regularizedGram(of: x, ridge: 0.1, precision: precision)
        let reference = Reference.product(x, x, transposeA: true)
        for i in 0..<50 {
            for j in 0..<50 {
                let expected = reference.values[i * 50 + j] + (i == j ? 0.1 : 0)
                // Dot products of length 200 in float: ≤ 2·200·2⁻²⁴·Σ|xᵢxⱼ|.
                #expect(abs(Double(gram[i, j]) - expected) <= 2.5e-5 * reference.magnitudes[i * 50 + j] + 1e-6)
                #expect(gram[i, j] == gram[j, i])
            }
        }
    }

    @Test("L·Lᵀ reproduces A; L is lower triangular with a positive diagonal", arguments: Precision.allCases)
    func factorization(precision: Precision) throws {
        let (_, a) = try Self.gram()
        let l = try Cholesky.factor(a, precision: precision).lower
        // potrf is backward stable: ‖A − LLᵀ‖ ≲ n·u·‖A‖ = 50·6e-8 ≈ 3e-6.
        #expect(Reference.relativeError(try Matrix.product(l, l, transposeB: true), a) <= 3e-6)
        for i in 0..<50 {
            #expect(l[i, i] > 0)
            for j in (i + 1)..<50 { #expect(l[i, j] == 0) }
        }
    }

    @Test("solve and solveRight invert L and Lᵀ")
    func triangularSolves() throws {
        let (_, a) = try Self.gram()
        let cholesky = try Cholesky.factor(a)
        let b = Matrix.gaussian(rows: 50, columns: 7, seed: 102)
        let x = try cholesky.solve(b)
        #expect(Reference.relativeError(try Matrix.product(cholesky.lower, x), b) <= 1e-5)
        let xt = try cholesky.solve(b, transposed: true)
        #expect(Reference.relativeError(try Matrix.product(cholesky.lower, xt, transposeA: true), b) <= 1e-5)
        let w = Matrix.gaussian(rows: 9, columns: 50, seed: 103)
        let y = try cholesky.solveRight(w)
        #expect(Reference.relativeError(try Matrix.product(y, cholesky.lower), w) <= 1e-5)
    }

    @Test("an indefinite matrix reports the order of the failing leading minor")
    func notPositiveDefinite() throws {
        let a = try Matrix(rows: 3, columns: 3, values: [4, 2, 0, 2, 1, 0, 0, 0, 1])  // second minor is 0
        let error = #expect(throws: LinearAlgebraError.self) { try Cholesky.factor(a) }
        #expect(error?.kind == .notPositiveDefinite(order: 2))
        #expect(error?.routine == "spotrf")
        #expect(error?.description.contains("increase the ridge") == true)
    }

    @Test("a non-square matrix and a negative ridge are rejected")
    func invalidInput() {
        #expect(throws: LinearAlgebraError.self) { try Cholesky.factor(Matrix(rows: 2, columns: 3)) }
        #expect(throws: LinearAlgebraError.self) {
            try Cholesky.regularizedGram(of: Matrix(rows: 2, columns: 3), ridge: -1)
        }
    }
}
