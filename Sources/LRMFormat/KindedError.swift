/// An error that is one of a fixed set of kinds with a one-line message: what lrm's modules throw
/// where the file and location need no fields of their own (``RuntimeError`` in LRMRuntime,
/// ``MetricsError`` and ``VerificationError`` in LRMVerify, ``FineTuneError`` in LRMCompress).
///
/// `K` (also `Kind`) is the module's enum of failures; its raw value is a stable name for JSON output and
/// for the command-line tool's exit codes, which are chosen by kind and never by the message.
/// The message says what is wrong with the numbers ("3,000 outputs for 100 samples of 10 classes").
public struct KindedError<K>: Error, Sendable, Equatable, CustomStringConvertible
where K: RawRepresentable & Sendable & Hashable, K.RawValue == String {
    /// The module's enum of failures (`RuntimeError.Kind` is `RuntimeErrorKind`).
    public typealias Kind = K

    /// What failed.
    public var kind: Kind
    /// The one-line explanation.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
