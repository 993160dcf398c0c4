/// The one error type of LRMLinearAlgebra: what went wrong (`kind`), which BLAS/LAPACK
/// routine reported it (`routine`, empty when the check happened in Swift) and what lrm was
/// doing (`context`, extended on the way up with ``adding(context:)``).
///
/// LAPACK's `info < 0` (an invalid argument) is a bug in lrm and is reported as such;
/// `info > 0` is a property of the input (no convergence, not positive definite).
public struct LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Equatable, Sendable {
        /// Operand shapes or buffer sizes do not fit together.
        case shapeMismatch
        /// A dimension or leading dimension exceeds the 32-bit integers of BLAS/LAPACK.
        case dimensionTooLarge
        /// The output buffer overlaps an input buffer.
        case overlappingBuffers
        /// The input contains NaN or an infinity.
        case nonFiniteInput
        /// A requested rank, count or option is outside its valid range.
        case invalidParameter
        /// LAPACK rejected the argument at 1-based `position` (`info < 0`): a bug in lrm.
        case invalidArgument(position: Int)
        /// LAPACKE could not allocate its workspace.
        case workspaceAllocationFailed
        /// The iteration did not converge (`info > 0` from `?gesdd`): `info` superdiagonals
        /// of an intermediate bidiagonal form did not converge to zero.
        case didNotConverge(info: Int)
        /// The leading minor of order `order` is not positive definite (`info > 0` from `?potrf`).
        case notPositiveDefinite(order: Int)
        /// The BLAS in use does not support the operation (e.g. setting a thread count).
        case unsupported
        /// Under an address-space limit (`ulimit -v`) of `limit` bytes with `inUse` mapped, there is no room for
        /// the `needed` bytes of OpenBLAS's work buffer (``BLASWorkBuffer``): nothing was called.
        case addressSpaceExhausted(limit: Int, inUse: Int, needed: Int)
    }

    /// What went wrong.
    public let kind: Kind
    /// The BLAS/LAPACK routine that reported the failure, e.g. `sgesdd`; empty for checks done in Swift.
    public let routine: String
    /// What lrm was doing, outermost first, e.g. "randomized SVD of a 4096×4096 matrix: QR of the sketch".
    public let context: String
    /// Expected and found values, or other specifics.
    public let detail: String

    public init(_ kind: Kind, routine: String = "", context: String, detail: String = "") {
        self.kind = kind
        self.routine = routine
        self.context = context
        self.detail = detail
    }

    /// The same error with `outer` prepended to its context.
    public func adding(context outer: String) -> LinearAlgebraError {
        LinearAlgebraError(kind, routine: routine, context: context.isEmpty ? outer : "\(outer): \(context)",
                           detail: detail)
    }

    public var description: String {
        var text = context
        if !routine.isEmpty { text += ": \(routine)" }
        text += ": \(what)"
        if !detail.isEmpty { text += ", \(detail)" }
        if let hint { text += "; \(hint)" }
        return text
    }

    private var what: String {
        switch kind {
        case .shapeMismatch: "shapes do not match"
        case .dimensionTooLarge: "dimension too large for 32-bit BLAS/LAPACK"
        case .overlappingBuffers: "output buffer overlaps an input buffer"
        case .nonFiniteInput: "input contains NaN or infinity"
        case .invalidParameter: "invalid parameter"
        case .invalidArgument(let position): "argument \(position) had an illegal value"
        case .workspaceAllocationFailed: "could not allocate workspace"
        case .didNotConverge(let info): "did not converge (info \(info))"
        case .notPositiveDefinite(let order): "leading minor of order \(order) is not positive definite"
        case .unsupported: "not supported by the BLAS in use"
        case .addressSpaceExhausted(let limit, let inUse, let needed):
            "not enough address space: the limit (ulimit -v) is \(limit >> 10) KiB, \(inUse >> 20) MiB are in use "
                + "and OpenBLAS needs \(needed >> 20) MiB more for its work buffer"
        }
    }

    private var hint: String? {
        switch kind {
        case .invalidArgument: "this is a bug in lrm, please report it"
        case .notPositiveDefinite: "increase the ridge (λ) or factor in double precision"
        case .didNotConverge: "try precision .double"
        default: nil
        }
    }
}
