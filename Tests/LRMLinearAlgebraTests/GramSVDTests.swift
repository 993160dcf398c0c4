import Foundation
import Testing
@testable import LRMLinearAlgebra

@Suite("SVD from the Gram matrix's eigendecomposition in double precision")
struct GramSVDTests {
    // 1100 rows or columns: G is accumulated over three blocks of 512.
    static let shapes = [(1, 1), (1, 50), (40, 1), (120, 80), (60, 150), (100, 100), (300, 200), (1100, 40), (40, 1100)]

    // σⱼ from the Gram matrix carries an absolute error of about 1e-16·σ₁²/σⱼ plus Float's rounding of A
    // itself (gesdd in single precision is the reference here: 1e-5·σ₁, as in SingularValuesTests).
    @Test("values and a thin SVD that agree with gesdd's, tall, wide and square", arguments: shapes)
    func agreesWithGesdd(rows: Int, columns: Int) throws {
        let a = Matrix.gaussian(rows: rows, columns: columns, seed: UInt64(rows * 104_729 + columns))
        let gram = try GramDecomposition(a)
        let values = try gram.singularValues()
        let reference = try SVD.compute(a, precision: .double).s
        #expect(values.count == min(rows, columns))
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 >= $1 }, "descending")
        for (v, s) in zip(values, reference) { #expect(abs(v - s) <= 1e-6 * reference[0], "\(rows)×\(columns)") }

        let svd = try gram.svd()
        // The two passes share the tridiagonal form; their solvers (dsterf, dstedc) agree to rounding.
        for (v, s) in zip(values, svd.s) { #expect(abs(v - s) <= 1e-12 * values[0]) }
        #expect(svd.u.rows == rows && svd.u.columns == min(rows, columns))
        #expect(svd.vt.rows == min(rows, columns) && svd.vt.columns == columns)
        #expect(Reference.relativeError(try svd.reconstructed(), a) < 1e-5)
        #expect(Reference.orthonormalityError(columnsOf: svd.u) < 1e-4)
        #expect(Reference.orthonormalityError(columnsOf: svd.vt.transposed()) < 1e-4)
    }

    @Test("truncated factors reach the Eckart–Young error, as gesdd's do")
    func eckartYoung() throws {
        let sigma: [Float] = (0..<60).map { Float(10 * pow(0.9, Double($0))) }
        for (rows, columns) in [(200, 60), (60, 200)] {
            let a = try Reference.matrix(rows: rows, columns: columns, singularValues: sigma, seed: 5)
            let svd = try GramDecomposition(a).svd()
            for rank in [1, 10, 30, 59] {
                let tail = sigma.dropFirst(rank).reduce(0.0) { $0 + Double($1) * Double($1) }
                let total = sigma.reduce(0.0) { $0 + Double($1) * Double($1) }
                let predicted = (tail / total).squareRoot()
                let measured = Reference.relativeError(try svd.truncated(to: rank).reconstructed(), a)
                #expect(abs(measured - predicted) <= 2e-3 * predicted + 1e-5, "\(rows)×\(columns) rank \(rank)")
            }
        }
    }

    @Test("a rank-deficient matrix: zero singular values give zero columns of U, and U·Σ is still A·V")
    func rankDeficient() throws {
        var a = Matrix(rows: 50, columns: 8)
        let b = Matrix.gaussian(rows: 50, columns: 3, seed: 9)
        for i in 0..<50 { for j in 0..<3 { a[i, j] = b[i, j]; a[i, j + 3] = 2 * b[i, j] } }  // rank 3, two zero columns
        let svd = try GramDecomposition(a).svd()
        #expect(svd.s[3...].allSatisfy { $0 <= 1e-6 * svd.s[0] })
        #expect(Reference.relativeError(try svd.truncated(to: 3).reconstructed(), a) < 1e-5)
        let zero = try GramDecomposition(Matrix(rows: 4, columns: 3))
        #expect(try zero.singularValues() == [0, 0, 0])
        let zeroSVD = try zero.svd()
        #expect(zeroSVD.u.values.allSatisfy { $0 == 0 } && zeroSVD.s == [0, 0, 0])
    }

    @Test("NaN input is rejected; an empty matrix has no values")
    func nonFiniteAndEmpty() throws {
        var a = Matrix.gaussian(rows: 4, columns: 4, seed: 61)
        a[2, 1] = .nan
        let error = #expect(throws: LinearAlgebraError.self) { try GramDecomposition(a) }
        #expect(error?.kind == .nonFiniteInput)
        let empty = try GramDecomposition(Matrix(rows: 0, columns: 5))
        #expect(try empty.singularValues().isEmpty)
        #expect(try empty.svd().rank == 0)
    }

    @Test("the leading triplets alone match the whole decomposition's, tall and wide, from 256 columns in halves",
          .serialized, arguments: [(300, 200, 37), (200, 300, 1), (300, 260, 259), (260, 300, 130), (40, 1100, 3)])
    func leading(rows: Int, columns: Int, count: Int) throws {
        let a = Matrix.gaussian(rows: rows, columns: columns, seed: UInt64(rows + 7 * columns))
        let gram = try GramDecomposition(a)
        let whole = try gram.svd().truncated(to: count)
        let part = try gram.svd(leading: count)
        #expect(part.rank == count && part.u.rows == rows && part.vt.columns == columns)
        for (v, s) in zip(part.s, whole.s) { #expect(abs(v - s) <= 1e-12 * whole.s[0]) }
        // The same subspace: the rank-count reconstructions agree (vectors may differ in sign).
        #expect(Reference.relativeError(try part.reconstructed(), try whole.reconstructed()) < 1e-5)
        // Orthonormal columns of U and rows of Vᵀ (UᵀU and Vᵀ·V by BLAS: the triple loop is slow here).
        for gramian in [try Matrix.product(part.u, part.u, transposeA: true), try Matrix.product(part.vt, part.vt, transposeB: true)] {
            var worst = 0.0
            for p in 0..<count { for q in 0..<count { worst = max(worst, abs(Double(gramian[p, q]) - (p == q ? 1 : 0))) } }
            #expect(worst < 1e-4)
        }
        // The same bits again, checked where there are no halves: this test process does not pin BLAS to one
        // thread as the CLI does, so two halves at once may each get OpenBLAS's threads or not, run to run.
        // (Bytes for any thread count, with the CLI's pinning: ReproducibilityTests.)
        if min(rows, columns) < 256 { #expect(try gram.svd(leading: count) == part, "the same bits") }
        #expect(try gram.svd(leading: 0).rank == 0)
        #expect(throws: LinearAlgebraError.self) { try gram.svd(leading: min(rows, columns) + 1) }
    }

    @Test("the same input gives the same bits")
    func deterministic() throws {
        let a = Matrix.gaussian(rows: 90, columns: 70, seed: 17)
        #expect(try GramDecomposition(a).svd() == GramDecomposition(a).svd())
    }
}

@Suite("Products split in two halves of rows")
struct ProductInHalvesTests {
    @Test("the halves give the product (to float rounding), the same bits every run, and one call below the threshold",
          arguments: [(1025, 37, 19, false), (1024, 20, 33, true), (9, 5, 4, false)])
    func halves(rows: Int, inner: Int, columns: Int, transposeB: Bool) throws {
        let a = Matrix.gaussian(rows: rows, columns: inner, seed: 3)
        let b = transposeB ? Matrix.gaussian(rows: columns, columns: inner, seed: 4) : Matrix.gaussian(rows: inner, columns: columns, seed: 4)
        let whole = try Matrix.product(a, b, transposeB: transposeB)
        let split = try Matrix.productInHalves(a, b, transposeB: transposeB)
        #expect(split.rows == rows && split.columns == columns)
        #expect(Reference.relativeError(split, whole) < 1e-6)
        #expect(try Matrix.productInHalves(a, b, transposeB: transposeB) == split)
        #expect(try Matrix.productInHalves(a, b, transposeB: transposeB, minimumRows: rows + 1) == whole)
    }

    @Test("a shape mismatch in a half is thrown, not lost")
    func mismatch() {
        let a = Matrix.gaussian(rows: 2048, columns: 8, seed: 1), b = Matrix.gaussian(rows: 9, columns: 4, seed: 2)
        let error = #expect(throws: LinearAlgebraError.self) { try Matrix.productInHalves(a, b) }
        #expect(error?.kind == .shapeMismatch)
    }
}
