/// Why the conversion pipeline could not run: a kind (which decides the exit code of a command
/// line tool), the message in words, and the error underneath when there is one.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The request does not make sense (no data set given, a training split too small for the
        /// requested calibration and validation samples): the caller's options are wrong.
        case badRequest = "bad_request"
        /// A data set the request names is not where the data folder says.
        case dataMissing = "data_missing"
        /// A data set is there but cannot be read (corrupt, truncated, wrong checksum layout).
        case dataInvalid = "data_invalid"
        /// A data file differs from the digest its folder's `SHA256SUMS` lists.
        case dataChecksum = "data_checksum"
    }

    public var kind: Kind
    public var message: String
    /// The error that caused this one (a `DatasetError`, …), if any.
    public var cause: (any Error)?

    public init(_ kind: Kind, _ message: String, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
