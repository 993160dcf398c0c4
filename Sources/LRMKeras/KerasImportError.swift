public import LRMHDF5
/// An error importing a Keras model.
///
/// The description reads `<file>: <where>: <what>, expected X, found Y[; hint]`, e.g.
/// `conv.keras: layer 'conv' (Conv2D): layer class is not supported, expected one of Dense, …`.
public struct KerasImportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, independent of the file.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The file does not exist.
        case fileNotFound
        /// The path is a directory or another non-regular file.
        case notAFile
        /// The file is empty.
        case emptyFile
        /// The file is neither HDF5 nor a ZIP archive.
        case unrecognizedFormat
        /// The file is HDF5 but none of the Keras layouts (no `model_config`, `layer_names` or `layers`).
        case unrecognizedLayout
        /// A weights-only file was given without an architecture source.
        case missingArchitecture
        /// The architecture JSON is malformed or lacks required keys.
        case invalidConfig
        /// A layer class this importer does not support (convolutions, Lambda, custom classes, …).
        case unsupportedLayer
        /// A model that is not a simple chain of layers (branches, merges, shared layers, several inputs).
        case unsupportedTopology
        /// A layer's weights are missing from the file.
        case missingWeights
        /// The file holds weights the architecture does not account for.
        case unexpectedWeights
        /// A weight's shape disagrees with the layer config.
        case shapeMismatch
        /// The input shape given for the model (`--input-shape`) disagrees with the dimensions its config gives.
        case givenShapeMismatch
        /// A `.keras` archive is not readable or lacks a member.
        case invalidArchive
        /// The HDF5 layer failed; ``KerasImportError/hdf5Error`` has the details.
        case hdf5
        /// A `.keras` archive's weights do not fit in the temporary folder (the disk, not the file).
        case noSpace
    }

    /// What went wrong.
    public var kind: Kind
    /// The file being imported (or the architecture source, when that is what failed).
    public var file: String
    /// Where: `layer 'dense' (Dense)`, an HDF5 object path, a JSON path; `""` for the file as a whole.
    public var location: String
    /// What went wrong, with expected and found values and a hint where there is one.
    public var message: String
    /// The underlying HDF5 error, for kind `hdf5`.
    public var hdf5Error: HDF5Error?

    public init(_ kind: Kind, file: String, location: String = "", _ message: String, hdf5Error: HDF5Error? = nil) {
        self.kind = kind
        self.file = file
        self.location = location
        self.message = message
        self.hdf5Error = hdf5Error
    }

    /// Wraps an HDF5 error, keeping its object path as the location. File-level HDF5 failures map to the
    /// matching import kinds (`fileNotFound`, `notAFile`, `emptyFile`, `unrecognizedFormat`).
    init(_ error: HDF5Error) {
        let kind: Kind = switch error.kind {
        case .fileNotFound: .fileNotFound
        case .notAFile: .notAFile
        case .emptyFile: .emptyFile
        case .notHDF5: .unrecognizedFormat
        default: .hdf5
        }
        if error.kind == .corrupt {
            // `x.h5: corrupt HDF5 file: /model_weights: …`: the file is corrupt, the object is where it showed.
            self.init(kind, file: error.file, error.corruptionText, hdf5Error: error)
            return
        }
        var message = error.message
        if let libraryMessage = error.libraryMessage { message += "; HDF5: \(libraryMessage)" }
        self.init(kind, file: error.file, location: error.objectPath, message, hdf5Error: error)
    }

    public var description: String {
        location.isEmpty ? "\(file): \(message)" : "\(file): \(location): \(message)"
    }

    /// The location text used for a layer: `layer 'name' (Class)`.
    static func layerLocation(_ name: String, _ className: String) -> String {
        "layer '\(name)' (\(className))"
    }
}
