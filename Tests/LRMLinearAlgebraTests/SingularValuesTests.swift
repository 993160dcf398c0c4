import Testing
@testable import LRMLinearAlgebra

@Suite("Singular values without vectors (gesdd jobz 'N')")
struct SingularValuesTests {
    // Both computations are backward stable: each σ is within about u·c·σ₁ of the true one
    // (u = 6e-8 in float, c modest for ≤ 300 wide), so the two agree to 1e-5·σ₁ in single
    // precision and 1e-12·σ₁ in double.
    static let shapes = [(1, 1), (1, 50), (40, 1), (120, 80), (60, 150), (100, 100), (300, 200)]

    @Test("the values agree with the thin SVD's, tall, wide and square, in single and double precision", arguments: shapes)
    func agreesWithThinSVD(rows: Int, columns: Int) throws {
        let a = Matrix.gaussian(rows: rows, columns: columns, seed: UInt64(rows * 7919 + columns))
        for (precision, tolerance) in [(Precision.single, 1e-5), (.double, 1e-12)] {
            let values = try SVD.singularValues(of: a, precision: precision)
            let full = try SVD.compute(a, precision: precision).s
            #expect(values.count == min(rows, columns))
            #expect(zip(values, values.dropFirst()).allSatisfy { $0 >= $1 }, "descending")
            for (v, s) in zip(values, full) { #expect(abs(v - s) <= tolerance * full[0], "\(precision) \(rows)×\(columns)") }
        }
    }

    @Test("a rectangular diagonal matrix gives its sorted absolute diagonal")
    func diagonal() throws {
        var a = Matrix(rows: 5, columns: 3)
        for (i, d) in [Float(-2), 5, 0.5].enumerated() { a[i, i] = d }
        let values = try SVD.singularValues(of: a, precision: .double)
        #expect(values == [5, 2, 0.5])
    }

    @Test("NaN input is rejected before LAPACK sees it; an empty matrix has no values")
    func nonFiniteAndEmpty() throws {
        var a = Matrix.gaussian(rows: 4, columns: 4, seed: 61)
        a[1, 2] = .infinity
        let error = #expect(throws: LinearAlgebraError.self) { try SVD.singularValues(of: a) }
        #expect(error?.kind == .nonFiniteInput)
        #expect(try SVD.singularValues(of: Matrix(rows: 0, columns: 5)).isEmpty)
    }
}
