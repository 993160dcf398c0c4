import Testing
@testable import LRMLinearAlgebra

@Suite("Matrix")
struct MatrixTests {
    @Test("a matrix stores its elements row-major")
    func rowMajorStorage() throws {
        let m = try Matrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5, 6])
        #expect(m[0, 2] == 3)
        #expect(m[1, 0] == 4)
        #expect(m.shape == MatrixShape(rows: 2, columns: 3))
    }

    @Test("init(rows:columns:values:) rejects a value count that does not match the shape")
    func rejectsWrongCount() {
        let error = #expect(throws: LinearAlgebraError.self) {
            try Matrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5])
        }
        #expect(error?.kind == .shapeMismatch)
        #expect(error?.description.contains("expected 6 values, found 5") == true)
    }

    @Test("transposed swaps rows and columns", arguments: [(1, 1), (1, 40), (40, 1), (33, 70), (64, 64)])
    func transpose(rows: Int, columns: Int) {
        let m = Matrix.gaussian(rows: rows, columns: columns, seed: 11)
        let t = m.transposed()
        #expect(t.shape == m.shape.transposed)
        for i in 0..<rows { for j in 0..<columns { #expect(t[j, i] == m[i, j]) } }
        #expect(t.transposed() == m)
    }

    @Test("the Frobenius norm of a 3-4 matrix is 5")
    func frobeniusNorm() throws {
        #expect(try Matrix(rows: 1, columns: 2, values: [3, -4]).frobeniusNorm == 5)
        #expect(Matrix(rows: 0, columns: 3).frobeniusNorm == 0)
    }

    @Test("leading rows and columns truncate factors; scaling multiplies columns")
    func truncationAndScaling() throws {
        let m = try Matrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5, 6])
        #expect(m.leadingColumns(2) == (try Matrix(rows: 2, columns: 2, values: [1, 2, 4, 5])))
        #expect(m.leadingRows(1) == (try Matrix(rows: 1, columns: 3, values: [1, 2, 3])))
        #expect(try m.scalingColumns(by: [1, 0, -1]) == (try Matrix(rows: 2, columns: 3, values: [1, 0, -3, 4, 0, -6])))
        #expect(throws: LinearAlgebraError.self) { try m.scalingColumns(by: [1, 2]) }
    }

    @Test("the seeded Gaussian generator is deterministic and roughly standard normal")
    func gaussianGenerator() {
        let a = Matrix.gaussian(rows: 100, columns: 100, seed: 42)
        #expect(a == Matrix.gaussian(rows: 100, columns: 100, seed: 42))
        #expect(a != Matrix.gaussian(rows: 100, columns: 100, seed: 43))
        let mean = a.values.reduce(0.0) { $0 + Double($1) } / 10_000
        let variance = a.values.reduce(0.0) { $0 + Double($1) * Double($1) } / 10_000 - mean * mean
        // 10 000 samples: standard error of the mean 0.01, of the variance about 0.014.
        #expect(abs(mean) < 0.05)
        #expect(abs(variance - 1) < 0.07)
    }
}
