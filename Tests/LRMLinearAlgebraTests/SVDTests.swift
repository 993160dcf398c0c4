import Testing
@testable import LRMLinearAlgebra

@Suite("SVD")
struct SVDTests {
    // Tolerances: gesdd is backward stable, ‖A − UΣVᵀ‖ ≈ c·u·‖A‖ with u = 6e-8 (float) and
    // c a modest polynomial in the size; for matrices up to 300 wide we allow 1e-5 (measured
    // ~1.3e-6 at 300×200). The double path only rounds its factors to float: 2e-6.
    static let shapes = [(1, 1), (1, 50), (40, 1), (120, 80), (60, 150), (100, 100), (300, 200)]

    static func expectValidFactorization(_ svd: SVD, of a: Matrix, tolerance: Double) throws {
        let r = min(a.rows, a.columns)
        #expect(svd.u.shape == MatrixShape(rows: a.rows, columns: r))
        #expect(svd.vt.shape == MatrixShape(rows: r, columns: a.columns))
        #expect(svd.s.count == r)
        #expect(Reference.relativeError(try svd.reconstructed(), a) <= tolerance)
        #expect(Reference.orthonormalityError(columnsOf: svd.u) <= tolerance)
        #expect(Reference.orthonormalityError(columnsOf: svd.vt.transposed()) <= tolerance)
        #expect(zip(svd.s, svd.s.dropFirst()).allSatisfy { $0 >= $1 }, "descending")
        #expect(svd.s.allSatisfy { $0 >= 0 })
    }

    @Test("sgesdd reconstructs A with orthonormal U and V and descending s", arguments: shapes)
    func singlePrecision(rows: Int, columns: Int) throws {
        let a = Matrix.gaussian(rows: rows, columns: columns, seed: UInt64(rows * 1000 + columns))
        let svd = try SVD.compute(a, precision: .single)
        #expect(svd.precision == .single)
        try Self.expectValidFactorization(svd, of: a, tolerance: 1e-5)
    }

    @Test("dgesdd reconstructs A to float rounding and agrees with sgesdd", arguments: shapes)
    func doublePrecision(rows: Int, columns: Int) throws {
        let a = Matrix.gaussian(rows: rows, columns: columns, seed: UInt64(rows * 1000 + columns))
        let svd = try SVD.compute(a, precision: .double)
        #expect(svd.precision == .double)
        try Self.expectValidFactorization(svd, of: a, tolerance: 2e-6)
        let single = try SVD.compute(a, precision: .single)
        for (s, d) in zip(single.s, svd.s) { #expect(abs(s - d) <= 1e-5 * svd.s[0]) }
    }

    @Test("the singular values of a rectangular diagonal matrix are its sorted absolute diagonal")
    func diagonalSpectrum() throws {
        var a = Matrix(rows: 4, columns: 6)
        for (i, value) in [Float(1), -5, 0.5, 3].enumerated() { a[i, i] = value }
        for precision in Precision.allCases {
            let svd = try SVD.compute(a, precision: precision)
            for (found, expected) in zip(svd.s, [5.0, 3, 1, 0.5]) { #expect(abs(found - expected) <= 1e-6 * 5) }
            try Self.expectValidFactorization(svd, of: a, tolerance: 1e-6)
        }
    }

    @Test("a rank-1 outer product u·vᵀ has one singular value ‖u‖·‖v‖ and the rest zero")
    func rankOne() throws {
        let u = Matrix.gaussian(rows: 70, columns: 1, seed: 21), v = Matrix.gaussian(rows: 1, columns: 50, seed: 22)
        let a = try Matrix.product(u, v)
        let svd = try SVD.compute(a)
        let expected = u.frobeniusNorm * v.frobeniusNorm
        #expect(abs(svd.s[0] - expected) <= 1e-5 * expected)
        #expect(svd.s.dropFirst().allSatisfy { $0 <= 1e-5 * expected })
        // The first right singular vector is ±v/‖v‖.
        let alignment = (0..<50).reduce(0.0) { $0 + Double(svd.vt[0, $1]) * Double(v[0, $1]) } / v.frobeniusNorm
        #expect(abs(abs(alignment) - 1) <= 1e-5)
    }

    @Test("a matrix built from a known spectrum gives that spectrum back")
    func knownSpectrum() throws {
        let spectrum: [Float] = [100, 50, 10, 1, 0.1]
        let a = try Reference.matrix(rows: 90, columns: 40, singularValues: spectrum, seed: 31)
        let svd = try SVD.compute(a, precision: .double)
        for (found, expected) in zip(svd.s, spectrum) { #expect(abs(found - Double(expected)) <= 1e-5 * 100) }
        #expect(svd.s.dropFirst(spectrum.count).allSatisfy { $0 <= 1e-5 * 100 })
    }

    @Test("the SVD is deterministic run to run")
    func deterministic() throws {
        let a = Matrix.gaussian(rows: 150, columns: 90, seed: 41)
        #expect(try SVD.compute(a) == SVD.compute(a))
    }

    @Test("truncation keeps the leading triplets; an empty matrix has an empty SVD")
    func truncationAndEmpty() throws {
        let svd = try SVD.compute(Matrix.gaussian(rows: 30, columns: 20, seed: 51))
        let top = try svd.truncated(to: 5)
        #expect(top.u.shape == MatrixShape(rows: 30, columns: 5) && top.vt.shape == MatrixShape(rows: 5, columns: 20))
        #expect(top.s == Array(svd.s.prefix(5)))
        #expect(throws: LinearAlgebraError.self) { try svd.truncated(to: 21) }
        let empty = try SVD.compute(Matrix(rows: 0, columns: 5))
        #expect(empty.rank == 0 && empty.vt.shape == MatrixShape(rows: 0, columns: 5))
    }

    @Test("NaN input is rejected before LAPACK sees it")
    func nonFinite() {
        var a = Matrix.gaussian(rows: 4, columns: 4, seed: 61)
        a[2, 3] = .nan
        let error = #expect(throws: LinearAlgebraError.self) { try SVD.compute(a) }
        #expect(error?.kind == .nonFiniteInput)
        #expect(error?.description == "computing the thin SVD of a 4×4 matrix: input contains NaN or infinity")
    }
}
