/// Every way loading, reading or checking a data set can fail. Each value names the defect
/// (`kind`), the file, what was being read and, where it applies, what was expected and found.
///
/// `description` reads `<file>: byte <offset>: <what>, expected <X>, found <Y>; <hint>`.
public struct DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The defect. The raw value is a stable name for JSON output and tests.
    public enum Kind: String, Sendable, CaseIterable {
        /// The data set, or one of its files, is not in the data folder.
        case notFound = "not_found"
        /// The operating system failed to open, read or list a file.
        case io = "io"
        /// The file does not start with the magic number of its format.
        case badMagic = "bad_magic"
        /// A header field has an impossible value (data type, dimension count, image size).
        case badHeader = "bad_header"
        /// The file ends before the data its header (or record size) promises.
        case truncated = "truncated"
        /// The file has bytes after the last record.
        case trailingData = "trailing_data"
        /// The images and labels files disagree on the number of samples.
        case countMismatch = "count_mismatch"
        /// A label byte is outside 0..<classCount.
        case labelOutOfRange = "label_out_of_range"
        /// The gzip stream is corrupt (zlib refused it).
        case corruptCompression = "corrupt_compression"
        /// A class-names file does not hold exactly one name per class.
        case badClassNames = "bad_class_names"
        /// A `SHA256SUMS` line is malformed or names no file.
        case badChecksumList = "bad_checksum_list"
        /// A file's SHA-256 differs from the one listed in `SHA256SUMS`.
        case checksumMismatch = "checksum_mismatch"
        /// A size declared by a file exceeds what the reader accepts.
        case limitExceeded = "limit_exceeded"
        /// The caller asked for something impossible (batch size 0, subset larger than the data set).
        case invalidArgument = "invalid_argument"
    }

    /// The kind of defect.
    public var kind: Kind
    /// What is wrong or what was being done, e.g. "image count in header".
    public var message: String
    /// The file, when known.
    public var path: String?
    /// The absolute byte offset in the (decompressed) file where the defect was found, when known.
    public var byteOffset: Int?
    /// The value that was expected, when there is one (e.g. "0x00000803").
    public var expected: String?
    /// The value that was found instead.
    public var found: String?
    /// What the user can do about it.
    public var hint: String?

    public init(_ kind: Kind, _ message: String, path: String? = nil, byteOffset: Int? = nil,
                expected: String? = nil, found: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
        self.byteOffset = byteOffset
        self.expected = expected
        self.found = found
        self.hint = hint
    }

    /// Returns the error with the file path filled in if it had none (context is added on the way up).
    public func at(path: String) -> DatasetError {
        var copy = self
        if copy.path == nil { copy.path = path }
        return copy
    }

    /// `<file>: byte <offset>: <what>, expected <X>, found <Y>; <hint>` on one line.
    public var description: String {
        var parts: [String] = []
        if let path { parts.append(path) }
        if let byteOffset { parts.append("byte \(byteOffset)") }
        var text = message
        if let expected { text += ", expected \(expected)" }
        if let found { text += ", found \(found)" }
        if let hint { text += "; \(hint)" }
        parts.append(text)
        return parts.joined(separator: ": ")
    }
}

/// Checked arithmetic for sizes read from files: overflow becomes a `.limitExceeded` error
/// instead of a trap.
enum CheckedSize {
    static func multiply(_ a: Int, _ b: Int, _ what: String, path: String?) throws -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else {
            throw DatasetError(.limitExceeded, "\(what) overflows (\(a) × \(b))", path: path)
        }
        return product
    }

    static func add(_ a: Int, _ b: Int, _ what: String, path: String?) throws -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else {
            throw DatasetError(.limitExceeded, "\(what) overflows (\(a) + \(b))", path: path)
        }
        return sum
    }
}
