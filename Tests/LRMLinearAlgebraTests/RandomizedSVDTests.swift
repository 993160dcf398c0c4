import Foundation
import Testing
@testable import LRMLinearAlgebra

@Suite("Randomized SVD")
struct RandomizedSVDTests {
    /// 400×300 with σᵢ = exp(−i/15): a decaying spectrum like trained weight matrices.
    static func decayingMatrix() throws -> (matrix: Matrix, spectrum: [Float]) {
        let spectrum = (0..<300).map { Float(exp(-Double($0) / 15)) }
        return (try Reference.matrix(rows: 400, columns: 300, singularValues: spectrum, seed: 71), spectrum)
    }

    @Test("the rank-k error is within 3% of the optimal Frobenius error", arguments: [10, 20, 40])
    func nearOptimal(rank: Int) throws {
        let (a, spectrum) = try Self.decayingMatrix()
        let svd = try SVD.randomized(a, rank: rank, seed: 1)
        #expect(svd.u.shape == MatrixShape(rows: 400, columns: rank))
        #expect(svd.vt.shape == MatrixShape(rows: rank, columns: 300))
        let optimal = spectrum.dropFirst(rank).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let error = Reference.relativeError(try svd.reconstructed(), a) * a.frobeniusNorm
        #expect(error <= 1.03 * optimal, "error \(error), optimal \(optimal)")
        #expect(Reference.orthonormalityError(columnsOf: svd.u) <= 1e-5)
        #expect(Reference.orthonormalityError(columnsOf: svd.vt.transposed()) <= 1e-5)
        // The leading singular values are accurate; the smallest kept ones may be a few % low.
        #expect(abs(svd.s[0] - Double(spectrum[0])) <= 1e-3 * Double(spectrum[0]))
    }

    @Test("the same seed gives the same factors; another seed gives nearly the same error")
    func deterministicForSeed() throws {
        let (a, _) = try Self.decayingMatrix()
        let first = try SVD.randomized(a, rank: 16, seed: 7)
        #expect(first == (try SVD.randomized(a, rank: 16, seed: 7)))
        let other = try SVD.randomized(a, rank: 16, seed: 8)
        #expect(other != first)
        let e1 = Reference.relativeError(try first.reconstructed(), a)
        let e2 = Reference.relativeError(try other.reconstructed(), a)
        #expect(abs(e1 - e2) <= 0.02 * e1)
    }

    @Test("a rank close to min(m, n) falls back to the exact SVD")
    func exactFallback() throws {
        let a = Matrix.gaussian(rows: 50, columns: 30, seed: 81)
        let randomized = try SVD.randomized(a, rank: 25)
        #expect(randomized == (try SVD.compute(a).truncated(to: 25)))
    }

    @Test("ranks outside 1…min(m, n) are rejected", arguments: [0, -1, 31])
    func invalidRank(rank: Int) {
        let error = #expect(throws: LinearAlgebraError.self) {
            try SVD.randomized(Matrix.gaussian(rows: 50, columns: 30, seed: 1), rank: rank)
        }
        #expect(error?.kind == .invalidParameter)
    }
}
