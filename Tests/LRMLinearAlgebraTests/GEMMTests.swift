import Testing
@testable import LRMLinearAlgebra

@Suite("GEMM")
struct GEMMTests {
    /// (m, k, n) for op(A) m×k and op(B) k×n, including vectors (1×N, N×1) and odd sizes.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 37, 19), (23, 8, 1), (17, 1, 29), (1, 784, 512), (300, 1, 1),
        (64, 64, 64), (129, 67, 95), (5, 300, 2),
    ]
    static let transposes: [(Bool, Bool)] = [(false, false), (true, false), (false, true), (true, true)]

    /// Each element must be within the standard bound for a float dot product of length k,
    /// |ĉ − c| ≤ γₖ·Σ|aᵢₚ||bₚⱼ| with γₖ ≈ k·u, u = 2⁻²⁴ (doubled for blocked summation).
    static func expectClose(_ c: Matrix, _ reference: (values: [Double], magnitudes: [Double]), k: Int) {
        let unitRoundoff = 0x1p-24
        for (index, value) in c.values.enumerated() {
            let bound = 2 * Double(max(k, 1)) * unitRoundoff * reference.magnitudes[index] + 1e-30
            #expect(abs(Double(value) - reference.values[index]) <= bound, "element \(index)")
        }
    }

    @Test("Matrix.product matches a naive loop", arguments: shapes, transposes)
    func productMatchesNaiveLoop(shape: (Int, Int, Int), transpose: (Bool, Bool)) throws {
        let (m, k, n) = shape
        let a = Matrix.gaussian(rows: transpose.0 ? k : m, columns: transpose.0 ? m : k, seed: 1)
        let b = Matrix.gaussian(rows: transpose.1 ? n : k, columns: transpose.1 ? k : n, seed: 2)
        let c = try Matrix.product(a, b, transposeA: transpose.0, transposeB: transpose.1)
        #expect(c.shape == MatrixShape(rows: m, columns: n))
        Self.expectClose(c, Reference.product(a, b, transposeA: transpose.0, transposeB: transpose.1), k: k)
    }

    @Test("addProduct computes alpha·A·B + beta·C")
    func alphaBeta() throws {
        let a = Matrix.gaussian(rows: 13, columns: 7, seed: 3), b = Matrix.gaussian(rows: 7, columns: 11, seed: 4)
        let c0 = Matrix.gaussian(rows: 13, columns: 11, seed: 5)
        var c = c0
        try c.addProduct(a, b, alpha: 2, beta: 0.5)
        let reference = Reference.product(a, b)
        for index in c.values.indices {
            let expected = 2 * reference.values[index] + 0.5 * Double(c0.values[index])
            #expect(abs(Double(c.values[index]) - expected) <= 1e-5 * (2 * reference.magnitudes[index] + 1))
        }
    }

    @Test("a product with k = 0 scales C by beta")
    func emptyInnerDimension() throws {
        var c = try Matrix(rows: 2, columns: 2, values: [1, 2, 3, 4])
        try c.addProduct(Matrix(rows: 2, columns: 0), Matrix(rows: 0, columns: 2), beta: 3)
        #expect(c == (try Matrix(rows: 2, columns: 2, values: [3, 6, 9, 12])))
    }

    @Test("the buffer API multiplies a weight matrix inside a longer buffer without copying it")
    func bufferAPI() throws {
        // A batch of 5 inputs (5×6) times weights 6×4 stored at offset 3 of a larger buffer (as in an mmap'd file).
        let x = Matrix.gaussian(rows: 5, columns: 6, seed: 6), w = Matrix.gaussian(rows: 6, columns: 4, seed: 7)
        let file = [Float](repeating: .nan, count: 3) + w.values + [Float](repeating: .nan, count: 9)
        var y = [Float](repeating: 0, count: 20)
        try file.withUnsafeBufferPointer { fileBuffer in
            try x.withUnsafeBufferPointer { xBuffer in
                try y.withUnsafeMutableBufferPointer { yBuffer in
                    try GEMM.multiply(xBuffer, shape: x.shape, UnsafeBufferPointer(rebasing: fileBuffer[3...]),
                                      shape: w.shape, into: yBuffer, shape: MatrixShape(rows: 5, columns: 4))
                }
            }
        }
        Self.expectClose(try Matrix(rows: 5, columns: 4, values: y), Reference.product(x, w), k: 6)
    }

    @Test("double-precision products match the naive loop")
    func doublePrecision() throws {
        let a = Matrix.gaussian(rows: 9, columns: 14, seed: 8), b = Matrix.gaussian(rows: 10, columns: 14, seed: 9)
        let ad = a.values.map(Double.init), bd = b.values.map(Double.init)
        var c = [Double](repeating: 0, count: 90)
        try ad.withUnsafeBufferPointer { ap in
            try bd.withUnsafeBufferPointer { bp in
                try c.withUnsafeMutableBufferPointer { cp in
                    try GEMM.multiply(ap, shape: a.shape, bp, shape: b.shape, transposeB: true,
                                      into: cp, shape: MatrixShape(rows: 9, columns: 10))
                }
            }
        }
        let reference = Reference.product(a, b, transposeB: true)
        for index in c.indices { #expect(abs(c[index] - reference.values[index]) <= 1e-13 * reference.magnitudes[index]) }
    }

    @Test("gramLower sets the lower triangle to alpha·AᵀA + beta·C, as the full product gives it, and leaves the upper one; a wrong C shape is rejected")
    func gramLower() throws {
        let a = Matrix.gaussian(rows: 37, columns: 11, seed: 10)
        let ad = a.values.map(Double.init)
        let start = (0..<121).map { Double($0) / 7 }
        var c = start
        try ad.withUnsafeBufferPointer { ap in
            try c.withUnsafeMutableBufferPointer { cp in
                try GEMM.gramLower(ap, shape: a.shape, into: cp, shape: MatrixShape(rows: 11, columns: 11), alpha: 2, beta: 0.5)
            }
        }
        let reference = Reference.product(a, a, transposeA: true)
        for i in 0..<11 {
            for j in 0..<11 {
                let index = i * 11 + j
                if j <= i {
                    let expected = 2 * reference.values[index] + 0.5 * start[index]
                    #expect(abs(c[index] - expected) <= 1e-13 * (2 * reference.magnitudes[index] + abs(start[index])), "(\(i), \(j))")
                } else {
                    #expect(c[index] == start[index], "(\(i), \(j)) of the upper triangle changed")
                }
            }
        }
        let error = #expect(throws: LinearAlgebraError.self) {
            try ad.withUnsafeBufferPointer { ap in
                try c.withUnsafeMutableBufferPointer { cp in
                    try GEMM.gramLower(ap, shape: a.shape, into: cp, shape: MatrixShape(rows: 11, columns: 10))
                }
            }
        }
        #expect(error?.kind == .shapeMismatch)
    }

    @Test("mismatched inner dimensions are rejected with both sizes in the message")
    func innerDimensionMismatch() {
        let error = #expect(throws: LinearAlgebraError.self) {
            try Matrix.product(Matrix(rows: 2, columns: 3), Matrix(rows: 4, columns: 2))
        }
        #expect(error?.kind == .shapeMismatch)
        #expect(error?.description.contains("op(A) has 3 columns, op(B) has 4 rows") == true)
    }

    @Test("buffers shorter than their shape and outputs overlapping inputs are rejected")
    func bufferChecks() {
        var storage = [Float](repeating: 1, count: 12)
        let shape = MatrixShape(rows: 2, columns: 2)
        storage.withUnsafeMutableBufferPointer { buffer in
            let input = UnsafeBufferPointer(buffer)
            let short = #expect(throws: LinearAlgebraError.self) {
                try GEMM.multiply(UnsafeBufferPointer(rebasing: input[0..<3]), shape: shape, input, shape: shape,
                                  into: UnsafeMutableBufferPointer(rebasing: buffer[8...]), shape: shape)
            }
            #expect(short?.kind == .shapeMismatch)
            let overlap = #expect(throws: LinearAlgebraError.self) {
                try GEMM.multiply(UnsafeBufferPointer(rebasing: input[0..<4]), shape: shape,
                                  UnsafeBufferPointer(rebasing: input[4..<8]), shape: shape,
                                  into: UnsafeMutableBufferPointer(rebasing: buffer[2..<6]), shape: shape)
            }
            #expect(overlap?.kind == .overlappingBuffers)
        }
    }
}
