/// Every way a `.lrm` file can be rejected. Each value names what was wrong; the message says
/// where (file, byte offset, tensor or layer) and what was expected.
public struct ContainerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The defect, in the vocabulary of `spec/FORMAT.md` ("Errors"). The raw value is the
    /// stable name used by the test vectors and `lrm inspect --json`.
    public enum Kind: String, Sendable, CaseIterable {
        case io = "io"
        case truncated = "truncated"
        case badMagic = "bad_magic"
        case unsupportedVersion = "unsupported_version"
        case badPreamble = "bad_preamble"
        case preambleChecksum = "preamble_checksum"
        case headerChecksum = "header_checksum"
        case limitExceeded = "limit_exceeded"
        case malformedHeader = "malformed_header"
        case invalidString = "invalid_string"
        case badMetadata = "bad_metadata"
        case badTensor = "bad_tensor"
        case badLayout = "bad_layout"
        case nonZeroPadding = "nonzero_padding"
        case fileSize = "file_size"
        case badModel = "bad_model"
        case tensorChecksum = "tensor_checksum"
        case unsupportedFeature = "unsupported_feature"
    }

    /// For `.io` errors from a system call: which operation failed. Whether it was the input or the
    /// output that failed is decided from this, never from the message.
    public enum Operation: String, Sendable, CaseIterable {
        case open, stat, map
        case createTemporary = "create_temporary"
        case write, sync, rename

        /// Whether the operation was writing an output file (the others read an input).
        public var isWriting: Bool {
            switch self {
            case .open, .stat, .map: false
            case .createTemporary, .write, .sync, .rename: true
            }
        }
    }

    public var kind: Kind
    /// What is wrong, e.g. "tensor 'fc1/us' has offset 1234, expected 1280".
    public var message: String
    /// The file, when known.
    public var path: String?
    /// The absolute byte offset in the file where the defect was found, when known.
    public var byteOffset: Int?
    /// The system call that failed (`.io` errors from one).
    public var operation: Operation?
    /// The `errno` it failed with.
    public var errorNumber: Int32?

    public init(_ kind: Kind, _ message: String, path: String? = nil, byteOffset: Int? = nil,
                operation: Operation? = nil, errorNumber: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
        self.byteOffset = byteOffset
        self.operation = operation
        self.errorNumber = errorNumber
    }

    /// Returns the error with the file path filled in (context is added on the way up).
    public func at(path: String) -> ContainerError {
        var copy = self
        if copy.path == nil { copy.path = path }
        return copy
    }

    /// `<file>: byte <offset>: <message>` on one line.
    public var description: String {
        var parts: [String] = []
        if let path { parts.append(path) }
        if let byteOffset { parts.append("byte \(byteOffset)") }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
