/// The floating-point precision LAPACK works in. Inputs and outputs stay `Float`; `.double`
/// converts to `Double` for the factorization (dgesdd, dpotrf) and rounds the factors back.
public enum Precision: String, CaseIterable, Sendable {
    /// LAPACK's single-precision routines (`sgesdd`, `spotrf`, …).
    case single
    /// LAPACK's double-precision routines (`dgesdd`, `dpotrf`, …).
    case double
}
