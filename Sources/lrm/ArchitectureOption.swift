import Foundation
import LRMFormat
import LRMKeras

/// Checks on `--config` (`--reference-config`), the architecture given for a Keras weights-only file: it was
/// silently ignored for a file that carries its own architecture, even when it did not exist.
enum ArchitectureOption {
    /// Refuses (exit 66) an architecture file that does not exist or is not a file.
    static func checkExists(_ architecture: String?, option: String) throws {
        guard let architecture else { return }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: architecture, isDirectory: &isDirectory) else {
            throw CommandFailure(status: .missingInput, message: "\(architecture): no such file (given with \(option))")
        }
        if isDirectory.boolValue {
            throw CommandFailure(status: .missingInput, message: "\(architecture): is a directory, expected the architecture file given with \(option)")
        }
    }

    /// The source formats of Keras files that carry their own architecture (full `.h5`, `.keras`).
    static let fullModelFormats: Set<String> = ["keras-h5", "keras-zip"]

    /// Refuses (exit 64) an architecture given for a Keras file that carries its own: lrm would not use it.
    static func refuseForFullModel(_ model: Model, path: String, architecture: String?, option: String) throws {
        guard let architecture, case .string(let format)? = model.metadata[MetadataKey.sourceFormat],
              fullModelFormats.contains(format) else { return }
        throw CommandFailure(status: .usage, message: "\(path): is a full Keras model (\(format)) with its own architecture; "
                             + "\(option) \(architecture) would be ignored: leave it out (it is for weights-only files)")
    }

    /// The source format of a legacy weights-only `.h5` (tf-keras `save_weights`), the only file `--match` pairs.
    static let pairedByMatchFormat = "keras-weights-h5"

    /// Refuses (exit 64) `--match` given for a Keras file whose layers it does not pair: a Keras 3 `.weights.h5` is read
    /// by path (a full model is refused for its `--config` first).
    static func refuseUnusedMatch(_ match: KerasWeightMatching?, model: Model, path: String) throws {
        guard let match, case .string(let format)? = model.metadata[MetadataKey.sourceFormat], format != pairedByMatchFormat else { return }
        let kind = format == "keras-v3-weights" ? "a Keras 3 .weights.h5 file (\(format)), whose weights are read by path"
            : "a Keras file (\(format)) that carries its own architecture"
        throw CommandFailure(status: .usage, message: "\(path): is \(kind); --match \(match.rawValue) pairs only a legacy weights-only .h5 "
                             + "file's layers (tf-keras save_weights) and would be ignored: leave it out")
    }

    /// Refuses (exit 64) an architecture given for a `.lrm` file, which records its own.
    static func refuseForContainer(path: String, architecture: String?, option: String) throws {
        guard let architecture else { return }
        throw CommandFailure(status: .usage, message: "\(path): is a .lrm file, which records its own architecture; "
                             + "\(option) \(architecture) would be ignored: leave it out (it is for Keras weights-only files)")
    }
}
