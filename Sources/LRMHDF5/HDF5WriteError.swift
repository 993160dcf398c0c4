/// An error from writing an HDF5 file.
///
/// Carries what was being done, the file (as the caller named the target, not the temporary file the
/// data goes to first), the object path inside it and, when the HDF5 library itself failed, the innermost
/// message of its error stack; for a failed system call (creating, syncing or renaming the file), the
/// `errno` text. The description reads `<file>: <object>: <what>[; HDF5: <innermost message>]`.
package struct HDF5WriteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The target file, as given by the caller.
    package var file: String
    /// The path of the object inside the file (`/model_weights/dense`), or `""` for the file itself.
    package var objectPath: String
    /// What failed.
    package var message: String
    /// The innermost message on HDF5's error stack, when the library reported the failure.
    package var libraryMessage: String?

    package init(file: String, objectPath: String = "", _ message: String, libraryMessage: String? = nil) {
        self.file = file
        self.objectPath = objectPath
        self.message = message
        self.libraryMessage = libraryMessage
    }

    package var description: String {
        var text = objectPath.isEmpty ? "\(file): \(message)" : "\(file): \(objectPath): \(message)"
        if let libraryMessage { text += "; HDF5: \(libraryMessage)" }
        return text
    }
}

extension HDF5Location {
    /// A write error at this location.
    package func writeError(_ message: String, libraryMessage: String? = nil) -> HDF5WriteError {
        HDF5WriteError(file: file, objectPath: objectPath, message, libraryMessage: libraryMessage)
    }
}
