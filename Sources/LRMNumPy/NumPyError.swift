/// An error reading or writing a NumPy `.npy` / `.npz` file.
///
/// The description reads `<file>: <where>: <what>, expected X, found Y`, for example
/// `pred.npz: y.npy: header: shape (3, 4) needs 48 bytes of data, found 40`.
public struct NumPyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, independent of the file.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The file does not exist or could not be read.
        case unreadable
        /// The file does not start with the `\x93NUMPY` magic string.
        case badMagic
        /// The format version is not 1.0, 2.0 or 3.0.
        case unsupportedVersion
        /// The header is not a valid Python dict literal of the form NumPy writes.
        case malformedHeader
        /// The header is longer than ``NPY/maxHeaderByteCount``.
        case headerTooLarge
        /// The `descr` names a type this reader does not support.
        case unsupportedDType
        /// The array is stored big-endian.
        case bigEndian
        /// The array is stored in Fortran (column-major) order.
        case fortranOrder
        /// The data section is shorter or longer than the header's shape needs.
        case dataSizeMismatch
        /// An element is not a valid value of its type (a boolean other than 0 or 1).
        case invalidData
        /// The shape's element count or byte count overflows or exceeds ``NPY/maxElementCount``.
        case tooLarge
        /// An `.npz` archive is not a readable ZIP file, or an entry could not be extracted.
        case badArchive
        /// The caller asked for values in a type the array cannot be converted to.
        case wrongType
        /// The file could not be written.
        case writeFailed
    }

    /// What went wrong.
    public var kind: Kind
    /// The file (or `archive.npz/entry.npy`) the error is about.
    public var file: String
    /// Where in the file: `header`, `data`, an `.npz` entry name; empty when the whole file is meant.
    public var location: String
    /// A sentence naming the problem and, where useful, the expected and found values.
    public var message: String

    public init(_ kind: Kind, file: String, location: String = "", _ message: String) {
        self.kind = kind
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        location.isEmpty ? "\(file): \(message)" : "\(file): \(location): \(message)"
    }
}
