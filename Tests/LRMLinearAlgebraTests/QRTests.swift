import Testing
@testable import LRMLinearAlgebra

@Suite("QR")
struct QRTests {
    @Test("Q·R reproduces A with orthonormal Q and upper-triangular R",
          arguments: [(1, 1), (1, 9), (9, 1), (80, 30), (30, 80), (64, 64)])
    func factorization(rows: Int, columns: Int) throws {
        let a = Matrix.gaussian(rows: rows, columns: columns, seed: 91)
        let qr = try QR.compute(a)
        let r = min(rows, columns)
        #expect(qr.q.shape == MatrixShape(rows: rows, columns: r))
        #expect(qr.r.shape == MatrixShape(rows: r, columns: columns))
        // Householder QR is backward stable like gesdd: same 1e-5 allowance.
        #expect(Reference.relativeError(try Matrix.product(qr.q, qr.r), a) <= 1e-5)
        #expect(Reference.orthonormalityError(columnsOf: qr.q) <= 1e-5)
        for i in 0..<r { for j in 0..<min(i, columns) { #expect(qr.r[i, j] == 0) } }
    }

    @Test("orthonormalizing rows in place spans the same space")
    func orthonormalizeRows() throws {
        let original = Matrix.gaussian(rows: 6, columns: 40, seed: 92)
        var rows = original
        try rows.orthonormalizeRows(context: "test")
        #expect(Reference.orthonormalityError(columnsOf: rows.transposed()) <= 1e-5)
        // Projecting the original rows onto the new basis loses nothing: ‖P·X − X‖ ≈ 0.
        let coefficients = try Matrix.product(original, rows, transposeB: true)
        #expect(Reference.relativeError(try Matrix.product(coefficients, rows), original) <= 1e-5)
    }
}
