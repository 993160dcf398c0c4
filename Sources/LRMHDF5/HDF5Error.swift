/// An error from reading an HDF5 file.
///
/// Carries what was being done, the file, the object path inside it and, when the HDF5 library itself
/// failed, the innermost message of its error stack (collected with `H5Ewalk2`; HDF5's own printing to
/// stderr is switched off; the C function that reported it is left out). The description reads
/// `<file>: <object>: <what>[; HDF5: <innermost message>]`, and for a corrupt file (kind `corrupt`)
/// `<file>: corrupt HDF5 file: [<object>: ][<what>: ]<what is damaged>`.
public struct HDF5Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, independent of the file.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The file does not exist.
        case fileNotFound
        /// The path names a directory or another non-regular file.
        case notAFile
        /// The file is empty.
        case emptyFile
        /// The file does not carry the HDF5 signature.
        case notHDF5
        /// The HDF5 library could not open the file (truncated, unreadable).
        case openFailed
        /// The file's structure is damaged: libhdf5 found a bad version, signature, size or address in it
        /// (``HDF5Corruption``), or its superblock records an impossible end of file or base address.
        case corrupt
        /// A group, dataset or attribute does not exist.
        case notFound
        /// The object exists but is of another kind (a dataset where a group was expected, …).
        case wrongObjectType
        /// An external link, external storage or virtual dataset: this reader never follows data out of the file.
        case refusedIndirection
        /// The element type is not one this reader converts.
        case unsupportedType
        /// The dataset or attribute claims more elements or bytes than the reader's caps allow.
        case tooLarge
        /// The stored data is shorter than its shape requires.
        case truncatedData
        /// A string is not valid UTF-8 / ASCII.
        case invalidString
        /// An object name is empty, absolute, or contains `.`/`..` components.
        case invalidName
        /// libhdf5 could not allocate memory while reading, after the reader's own checks found the sizes the file
        /// claims plausible: the machine is out of memory (the message names the size being read).
        case outOfMemory
        /// Any other failure of an HDF5 call while reading.
        case readFailed
    }

    /// What went wrong.
    public var kind: Kind
    /// The file, as given by the caller.
    public var file: String
    /// The path of the object inside the file (`/model_weights/dense/dense/kernel:0`), or `""` for the file itself.
    public var objectPath: String
    /// What failed, with expected and found values where there are any.
    public var message: String
    /// The innermost message on HDF5's error stack, when the library reported the failure; for kind `corrupt`,
    /// what is damaged, in plain terms (``HDF5Corruption``).
    public var libraryMessage: String?

    public init(_ kind: Kind, file: String, objectPath: String = "", _ message: String, libraryMessage: String? = nil) {
        self.kind = kind
        self.file = file
        self.objectPath = objectPath
        self.message = message
        self.libraryMessage = libraryMessage
    }

    public var description: String {
        if kind == .corrupt { return "\(file): \(corruptionText)" }
        var text = objectPath.isEmpty ? "\(file): \(message)" : "\(file): \(objectPath): \(message)"
        if let libraryMessage { text += "; HDF5: \(libraryMessage)" }
        return text
    }

    /// For kind `corrupt`, the description without the file: `corrupt HDF5 file: [<object>: ][<what>: ]<damage>`.
    public var corruptionText: String {
        (["corrupt HDF5 file"] + [objectPath, message, libraryMessage ?? ""].filter { !$0.isEmpty }).joined(separator: ": ")
    }
}

/// Caps applied before anything read from an HDF5 file is allocated.
public struct HDF5Limits: Sendable, Equatable {
    /// The most elements a dataset or attribute may have (2³¹ by default: 8 GiB as `Float`).
    public var maxElementCount: Int
    /// The most bytes a dataset's stored data may take (16 GiB by default).
    public var maxByteCount: Int
    /// The most dimensions a dataset may have.
    public var maxRank: Int
    /// The most bytes one string attribute element may have.
    public var maxStringByteCount: Int

    public init(maxElementCount: Int = 1 << 31, maxByteCount: Int = 1 << 34, maxRank: Int = 32,
                maxStringByteCount: Int = 1 << 26) {
        self.maxElementCount = maxElementCount
        self.maxByteCount = maxByteCount
        self.maxRank = maxRank
        self.maxStringByteCount = maxStringByteCount
    }

    /// The default caps.
    public static let standard = HDF5Limits()
}
