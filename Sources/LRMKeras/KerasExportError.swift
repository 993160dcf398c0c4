import LRMHDF5
/// An error exporting a model to a Keras file.
///
/// The description reads `<file>: <where>: <what>[; HDF5: <innermost message>]`, e.g.
/// `out.h5: layer 'hidden' (dense): activation 'gelu_tanh' has no built-in Keras equivalent; …`.
public struct KerasExportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, independent of the file.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The model is inconsistent: a tensor's shape does not fit the features reaching its layer, the
        /// input shape is empty, a reshape changes the element count.
        case invalidModel
        /// An activation with no built-in Keras equivalent (`gelu_tanh`: Keras's `"gelu"` is the exact erf form).
        case unsupportedActivation
        /// The output could not be written: no temporary file in the target directory, an HDF5 call
        /// failed, or the finished file could not be synced or renamed into place.
        case writeFailed
    }

    /// What went wrong.
    public var kind: Kind
    /// The output file, as given by the caller.
    public var file: String
    /// Where: `layer 'hidden' (factorized_dense)`, an HDF5 object path, or `""` for the file as a whole.
    public var location: String
    /// What went wrong, with expected and found values where there are any.
    public var message: String
    /// The innermost message of HDF5's error stack, when the HDF5 library reported the failure.
    public var libraryMessage: String?

    public init(_ kind: Kind, file: String, location: String = "", _ message: String, libraryMessage: String? = nil) {
        self.kind = kind
        self.file = file
        self.location = location
        self.message = message
        self.libraryMessage = libraryMessage
    }

    init(_ error: HDF5WriteError) {
        self.init(.writeFailed, file: error.file, location: error.objectPath, error.message, libraryMessage: error.libraryMessage)
    }

    public var description: String {
        var text = location.isEmpty ? "\(file): \(message)" : "\(file): \(location): \(message)"
        if let libraryMessage { text += "; HDF5: \(libraryMessage)" }
        return text
    }
}
