import Foundation

/// The two Gram matrices the halves of the blocks are summed into (written by one half each).
private struct GramTargets: @unchecked Sendable {
    let first: UnsafeMutableBufferPointer<Double>
    let second: UnsafeMutableBufferPointer<Double>
}

/// G = AᵀA (A tall or square) or A·Aᵀ (A wide) in `Double`, formed and not yet reduced: the part of
/// ``GramDecomposition`` that runs on two threads, so that a caller can form it while nothing else runs.
public struct GramMatrix: Sendable {
    /// A, m×n.
    public let matrix: Matrix
    /// G, r×r column-major, its lower triangle set (what `dsytrd` reads).
    let lower: [Double]
    /// Whether G = A·Aᵀ.
    let wide: Bool

    /// Forms G (`dsyrk` over `Double` copies of blocks of A; from two blocks up, two fixed halves of the
    /// blocks at once, then added: the same bits on any machine and thread count).
    /// - Throws: `.nonFiniteInput` for NaN/∞ in A.
    public init(_ a: Matrix) throws {
        let context = "forming the Gram matrix of a \(a.shape) matrix"
        guard a.isFinite else { throw LinearAlgebraError(.nonFiniteInput, context: context) }
        let (m, n) = (a.rows, a.columns)
        let wide = m < n
        let r = min(m, n)
        let blockSize = GramDecomposition.block
        var gram = [Double](repeating: 0, count: r * r)
        if r > 0 {
            // G accumulates over blocks of `block` rows of A (tall: AᵀA = Σ AᵢᵀAᵢ) or columns (wide:
            // A·Aᵀ = Σ Aⱼ·Aⱼᵀ), each widened to Double on its own (no Double copy of the whole of A).
            // From two blocks up, the first half of the blocks and the second are summed separately, at
            // once, and then added: a fixed split, so the same bits on any machine and thread count.
            let k = wide ? n : m
            let blocks = (k + blockSize - 1) / blockSize
            if blocks >= 2 {
                var second = [Double](repeating: 0, count: r * r)
                let failures = HalfFailures()
                gram.withUnsafeMutableBufferPointer { first in
                    second.withUnsafeMutableBufferPointer { other in
                        let targets = GramTargets(first: first, second: other)
                        HalfFailures.perform(2) { part in
                            do {
                                try GramDecomposition.accumulate(a, wide: wide, blocks: part == 0 ? 0..<(blocks / 2) : (blocks / 2)..<blocks,
                                                                 into: part == 0 ? targets.first : targets.second, context: context)
                            } catch {
                                failures.record(error, part: part)
                            }
                        }
                    }
                }
                try failures.rethrow()
                for i in 0..<r { for j in 0...i { gram[i * r + j] += second[i * r + j] } }  // the lower triangles
            } else {
                try gram.withUnsafeMutableBufferPointer { target in
                    try GramDecomposition.accumulate(a, wide: wide, blocks: 0..<blocks, into: target, context: context)
                }
            }
            // dsyrk wrote the row-major lower triangle, which is the column-major upper one; mirror
            // it into the column-major lower triangle that dsytrd reads.
            // In tiles of 64×64, so that the column read is not a cache miss per element.
            let tile = 64
            for rowStart in stride(from: 0, to: r, by: tile) {
                for columnStart in stride(from: rowStart, to: r, by: tile) {
                    for i in rowStart..<min(rowStart + tile, r) {
                        for j in max(columnStart, i + 1)..<max(min(columnStart + tile, r), i + 1) { gram[i * r + j] = gram[j * r + i] }
                    }
                }
            }
        }
        self.matrix = a
        self.lower = gram
        self.wide = wide
    }
}

/// The singular values and thin SVD of an m×n matrix A from the symmetric eigendecomposition of
/// its Gram matrix in double precision: G = AᵀA (n×n) when A is tall or square, A·Aᵀ (m×m) when
/// it is wide, so G is r×r with r = min(m, n).
///
/// G = V·Σ²·Vᵀ (tall) or U·Σ²·Uᵀ (wide): the eigenvalues are the squared singular values and the
/// eigenvectors one side's singular vectors; the other side follows by one product, U·Σ = A·V
/// (or Σ·Vᵀ = Uᵀ·A). Per layer this does a symmetric rank-k update, a divide-and-conquer
/// eigendecomposition of an r×r matrix (tridiagonal reduction, then divide and conquer) and one product, about half the floating-point work of
/// `?gesdd` on a tall 3072×1024 matrix (which reduces by QR, bidiagonalizes and back-transforms);
/// measured in `lrm-bench svd`. The singular-values-only pass shares the Gram matrix with the
/// vectors pass, so a rank can be chosen before any vector is computed.
///
/// Accuracy: squaring doubles the condition number, which is why G is formed and decomposed in
/// `Double`. A singular value σⱼ comes out with an absolute error of about 1e-16·σ₁²/σⱼ (relative
/// 1e-8 at σⱼ = 1e-4·σ₁, far below `Float` data's own rounding), and the leading singular vectors
/// are as accurate as `sgesdd`'s. Directions with σⱼ below about 1e-8·σ₁ are not resolved (their
/// σ is rounding noise); the product U·Σ = A·V is still A's component along V to `Float` rounding,
/// so truncated factors reconstruct A as well as `sgesdd`'s do (Eckart–Young holds to the same
/// tolerance). Columns of U (tall) or rows of Vᵀ (wide) whose σⱼ is zero are zero.
///
/// Results are deterministic for a given BLAS thread count.
public struct GramDecomposition: Sendable {
    /// A, m×n.
    public let matrix: Matrix
    /// G's tridiagonal form Qᵀ·G·Q = T (`dsytrd`): the reflectors of Q (column-major r×r, below the
    /// diagonal), their scalars, and T's diagonal and off-diagonal. Reduced once, in `init`, for
    /// both the values and the vectors.
    let reflectors: [Double], tau: [Double], diagonal: [Double], offDiagonal: [Double]
    /// Whether G = A·Aᵀ (A wide: the eigenvectors are U) rather than AᵀA (the eigenvectors are V).
    let wide: Bool
    /// The tridiagonal form's eigendecomposition, when ``startingEigenvectors()`` started it early.
    private var early: EarlyEigenvectors?

    /// Rows (tall) or columns (wide) of A widened to `Double` at a time while G is formed.
    static let block = 512

    /// r = min(m, n).
    public var order: Int { wide ? matrix.rows : matrix.columns }

    /// Forms G in `Double` (`dsyrk` over `Double` copies of blocks of A) and reduces it to tridiagonal form.
    /// - Throws: `.nonFiniteInput` for NaN/∞ in A.
    public init(_ a: Matrix) throws {
        try self.init(try GramMatrix(a))
    }

    /// Reduces a Gram matrix already formed to tridiagonal form (`dsytrd`, one thread).
    public init(_ formed: GramMatrix) throws {
        let a = formed.matrix
        let context = "reducing the Gram matrix of a \(a.shape) matrix"
        let r = min(a.rows, a.columns)
        var gram = formed.lower
        var d = [Double](repeating: 0, count: r), e = [Double](repeating: 0, count: max(r - 1, 0))
        var tau = [Double](repeating: 0, count: max(r - 1, 0))
        if r > 0 {
            try gram.withUnsafeMutableBufferPointer { gp in
                try d.withUnsafeMutableBufferPointer { dp in
                    try e.withUnsafeMutableBufferPointer { ep in
                        try tau.withUnsafeMutableBufferPointer { tp in
                            try NativeCalls.sytrd(n: r, a: gp.baseAddress, d: dp.baseAddress, e: ep.baseAddress,
                                                  tau: tp.baseAddress, context: context)
                        }
                    }
                }
            }
        }
        self.matrix = a
        self.reflectors = gram
        self.tau = tau
        self.diagonal = d
        self.offDiagonal = e
        self.wide = formed.wide
    }

    /// This decomposition with the tridiagonal form's eigenvectors (`dstedc`, the bulk of ``svd(leading:)``)
    /// already being computed on a thread of its own, while the caller goes on (``singularValues()``, the
    /// choice of a rank): for a layer that will be factorized, the two no longer run one after the other.
    /// The same call on the same input: the same bits. Only from r ≥ 256 and when BLAS runs each call on
    /// its caller's thread (as ``HalfFailures/perform(_:_:)``); else this decomposition unchanged. When
    /// the vectors are not wanted after all, the work is lost (its thread ends on its own).
    public func startingEigenvectors() -> GramDecomposition {
        guard early == nil, order >= 256, NativeCalls.threadCount() == 1 else { return self }
        var copy = self
        copy.early = EarlyEigenvectors(diagonal: diagonal, offDiagonal: offDiagonal,
                                       context: "computing the SVD of a \(matrix.shape) matrix from its Gram matrix")
        return copy
    }

    /// The eigenvalues (ascending) and eigenvectors (column-major r×r) of the tridiagonal form (`dstedc`).
    static func tridiagonalEigen(diagonal: [Double], offDiagonal: [Double], context: String) throws -> (values: [Double], vectors: [Double]) {
        let r = diagonal.count
        var d = diagonal, e = offDiagonal
        // Not zeroed first: dstedc with compz 'I' sets Z itself (to the identity, then the eigenvectors).
        var vectors = [Double](unsafeUninitializedCapacity: r * r) { _, count in count = r * r }
        try d.withUnsafeMutableBufferPointer { dp in
            try e.withUnsafeMutableBufferPointer { ep in
                try vectors.withUnsafeMutableBufferPointer { zp in
                    try NativeCalls.stedc(n: r, d: dp.baseAddress, e: ep.baseAddress, z: zp.baseAddress, context: context)
                }
            }
        }
        return (d, vectors)
    }

    /// G over the blocks `blocks` of A (see `init`), written into `gram` (r×r, row-major lower triangle).
    static func accumulate(_ a: Matrix, wide: Bool, blocks: Range<Int>, into gram: UnsafeMutableBufferPointer<Double>,
                                   context: String) throws {
        let (m, n) = (a.rows, a.columns)
        let r = min(m, n), k = wide ? n : m
        // Each block's part is written before dsyrk reads it.
        var buffer = [Double](unsafeUninitializedCapacity: min(block, k) * r) { _, count in count = min(block, k) * r }
        for (position, index) in blocks.enumerated() {
            let start = index * block
            let count = min(block, k - start)
            a.withUnsafeBufferPointer { source in
                if wide {  // columns start..<start+count of A, as a row-major r×count block
                    for i in 0..<r { for j in 0..<count { buffer[i * count + j] = Double(source[i * n + start + j]) } }
                } else {  // rows start..<start+count of A, count×r
                    for element in 0..<(count * r) { buffer[element] = Double(source[start * n + element]) }
                }
            }
            try buffer.withUnsafeBufferPointer { bp in
                // Row-major: AᵢᵀAᵢ is transpose with k = count (lda = r); Aⱼ·Aⱼᵀ no transpose (lda = count).
                try NativeCalls.syrk(transpose: !wide, n: r, k: count, alpha: 1, a: bp.baseAddress, lda: wide ? count : r,
                                     beta: position == 0 ? 0 : 1, c: gram.baseAddress, ldc: r, context: context)
            }
        }
    }

    /// The r singular values of A, descending (√ of G's eigenvalues, negatives from rounding as 0).
    /// - Throws: `.didNotConverge` if the tridiagonal QR iteration (`dsterf`) fails.
    public func singularValues() throws -> [Double] {
        let r = order
        if r == 0 { return [] }
        var d = diagonal, e = offDiagonal
        try d.withUnsafeMutableBufferPointer { dp in
            try e.withUnsafeMutableBufferPointer { ep in
                try NativeCalls.sterf(n: r, d: dp.baseAddress, e: ep.baseAddress,
                                      context: "computing the singular values of a \(matrix.shape) matrix from its Gram matrix")
            }
        }
        return d.reversed().map { max($0, 0).squareRoot() }
    }

    /// The thin SVD of A (see the type's notes on accuracy); `precision` is `.double`.
    /// - Throws: `.didNotConverge` if divide and conquer (`dstedc`) fails.
    public func svd() throws -> SVD { try svd(leading: order) }

    /// The `count` leading singular triplets of A (0 ≤ count ≤ r): U m×count, the `count` largest
    /// singular values, Vᵀ count×n; the leading triplets of ``svd()``, to the same accuracy.
    ///
    /// Divide and conquer (`dstedc`) gives every eigenvector of the tridiagonal form (measured faster
    /// here than `dstemr` for 749 of 1024); only the wanted ones are back-transformed by Q (`dormtr`,
    /// 2·r²·count), from r ≥ 256 in two fixed halves of columns at once, and multiplied by A
    /// (2·m·n·count). The split depends on the shape alone: the same bits for any thread count.
    /// - Throws: `.invalidParameter` unless 0 ≤ count ≤ r; `.didNotConverge` if `dstedc` fails.
    public func svd(leading count: Int) throws -> SVD {
        let (m, n) = (matrix.rows, matrix.columns)
        let r = order
        guard count >= 0, count <= r else {
            throw LinearAlgebraError(.invalidParameter, context: "the leading singular triplets of a \(matrix.shape) matrix",
                                     detail: "expected a count in 0...\(r), found \(count)")
        }
        if count == 0 {
            return SVD(u: Matrix(rows: m, columns: 0), s: [], vt: Matrix(rows: 0, columns: n), precision: .double)
        }
        let context = "computing the SVD of a \(matrix.shape) matrix from its Gram matrix"
        let eigen = try early?.result()
            ?? GramDecomposition.tridiagonalEigen(diagonal: diagonal, offDiagonal: offDiagonal, context: context)
        let d = eigen.values
        var vectors = eigen.vectors
        // The eigenvalues are ascending: the wanted eigenvectors are the last `count` columns.
        let first = r - count
        try backTransform(&vectors, columns: first..<r, context: context)
        // Column-major eigenvectors are the rows of the row-major buffer; descending order reverses them.
        var rows = [Float](repeating: 0, count: count * r)
        for j in 0..<count {
            let source = (r - 1 - j) * r
            for i in 0..<r { rows[j * r + i] = Float(vectors[source + i]) }
        }
        let s = d[first...].reversed().map { max($0, 0).squareRoot() }
        let inverse = s.map { $0 > 0 ? Float(1 / $0) : 0 }
        let basis = try Matrix(rows: count, columns: r, values: rows)
        if wide {  // basis = U_countᵀ (count×m); Vᵀ = Σ⁻¹·Uᵀ·A.
            var vt = try Matrix.productInHalves(basis, matrix).values  // count×n
            for j in 0..<count { for i in 0..<n { vt[j * n + i] *= inverse[j] } }
            return SVD(u: basis.transposed(), s: s, vt: try Matrix(rows: count, columns: n, values: vt), precision: .double)
        }
        // basis = V_countᵀ (count×n); U = A·V·Σ⁻¹.
        var u = try Matrix.productInHalves(matrix, basis, transposeB: true)  // m×count
        try u.scaleColumns(by: inverse)
        return SVD(u: u, s: s, vt: basis, precision: .double)
    }

    /// Z = Q·Z for the columns `columns` of the column-major r×r Z (tridiagonal eigenvectors into
    /// eigenvectors of G): from r ≥ 256 in two fixed halves of those columns at once, one `dormtr` call each.
    private func backTransform(_ vectors: inout [Double], columns: Range<Int>, context: String) throws {
        let r = order
        let half = r >= 256 ? columns.count / 2 : 0
        let parts = half > 0 ? [columns.lowerBound..<(columns.lowerBound + half), (columns.lowerBound + half)..<columns.upperBound]
                             : [columns]
        let failures = HalfFailures()
        try reflectors.withUnsafeBufferPointer { ap in
            try tau.withUnsafeBufferPointer { tp in
                vectors.withUnsafeMutableBufferPointer { zp in
                    let buffers = HalfBuffers(a: ap, b: tp, c: zp)
                    HalfFailures.perform(parts.count) { part in
                        do {
                            try NativeCalls.ormtr(n: r, columns: parts[part].count, a: buffers.a.baseAddress, tau: buffers.b.baseAddress,
                                                  c: buffers.c.baseAddress.map { $0 + parts[part].lowerBound * r }, context: context)
                        } catch {
                            failures.record(error, part: part)
                        }
                    }
                }
                try failures.rethrow()
            }
        }
    }
}

/// The tridiagonal form's eigendecomposition (``GramDecomposition/tridiagonalEigen(diagonal:offDiagonal:context:)``)
/// computed on a thread of its own from the moment it is made; ``result()`` waits for it. When the last
/// decomposition holding it goes, it waits too: the work never outlives the layer that started it (a
/// process that exits while dstedc still runs would free OpenBLAS's buffers under it).
private final class EarlyEigenvectors: @unchecked Sendable {
    private let work = Work()

    init(diagonal: [Double], offDiagonal: [Double], context: String) {
        let work = self.work
        let thread = Thread {
            work.outcome = Result { try GramDecomposition.tridiagonalEigen(diagonal: diagonal, offDiagonal: offDiagonal, context: context) }
            work.finished.signal()
        }
        thread.stackSize = 1 << 23
        thread.start()
    }

    deinit { work.wait() }

    func result() throws -> (values: [Double], vectors: [Double]) {
        work.wait()
        return try work.outcome!.get()
    }

    /// What the thread writes (before signalling `finished`) and the waiters read (after waiting).
    private final class Work: @unchecked Sendable {
        let finished = DispatchSemaphore(value: 0)
        var outcome: Result<(values: [Double], vectors: [Double]), any Error>?

        func wait() {
            finished.wait()
            finished.signal()  // a later waiter does not wait forever
        }
    }
}
