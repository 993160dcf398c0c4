import ArgumentParser
import Foundation
import LRMFormat

/// What a command writes, for the check of the output's extension against its content.
enum OutputContent {
    /// A `.lrm` container (convert, import, example).
    case container
    /// A Keras legacy HDF5 file or a Keras 3 `.keras` archive (export): `keras.models.load_model` picks its
    /// loader by the extension.
    case kerasHDF5
    /// A NumPy array (predict).
    case predictions

    /// The extensions accepted, lower case, with the dot; the first is the one suggested.
    var extensions: [String] {
        switch self {
        case .container: [".lrm"]
        case .kerasHDF5: [".h5", ".hdf5", ".keras"]
        case .predictions: [".npy"]
        }
    }

    var description: String {
        switch self {
        case .container: "a .lrm container"
        case .kerasHDF5: "a Keras model file (keras.models.load_model picks its loader by the extension: .h5 or .hdf5 for the legacy HDF5 format, .keras for a Keras 3 archive)"
        case .predictions: "a NumPy .npy array"
        }
    }
}

/// The checks on a command's output path made before anything is read or written: the extension
/// matches what is written, and the output is not one of the command's inputs.
enum OutputFiles {
    /// Writes `model` to `output` as a `.lrm` file (``ContainerWriter``: a temporary file renamed into place, synced
    /// unless not `durable`); an I/O error on the way is the output's, exit 73.
    static func writeContainer(_ model: Model, to output: String, durable: Bool = true) throws {
        do {
            try ContainerWriter.write(model, to: output, durable: durable)
        } catch let error as ContainerError where error.kind == .io {
            throw CommandFailure(status: .cannotWrite, message: error.description)
        }
    }

    /// Refuses (exit 64) an output whose extension does not match `content`, unless `force`.
    static func checkExtension(_ output: String, option: String = "-o", content: OutputContent, force: Bool) throws {
        guard !force else { return }
        let name = output.lowercased()
        guard !content.extensions.contains(where: { name.hasSuffix($0) }) else { return }
        let expected = content.extensions.joined(separator: " or ")
        throw ValidationError("\(option) '\(escaped(output))': the output is \(content.description); name it with \(expected) "
                              + "(or give --force-extension to keep this name)")
    }

    /// The extensions of the model and data files lrm reads, with what each names.
    static let readExtensions: [(suffix: String, kind: String)] = [
        (".lrm", "model"), (".h5", "model"), (".hdf5", "model"), (".keras", "model"), (".npy", "data"), (".npz", "data"), (".csv", "data"),
    ]

    /// The extension of a model or data file lrm reads that `output` ends with (and what it names), other than
    /// `allowed` (the extension of what is written), or nil.
    static func readExtension(of output: String, allowed: String) -> (suffix: String, kind: String)? {
        let name = output.lowercased()
        return readExtensions.first { name.hasSuffix($0.suffix) && $0.suffix != allowed }
    }

    /// Refuses (exit 64) a report (`content`, normally named with `allowed`) whose name ends like a model or data
    /// file lrm reads: `report -o model.lrm` would write HTML into a file every other command takes for a model.
    /// Any other name is accepted. Called after ``refuseOverwritingInputs(_:inputs:inPlaceHint:)``, whose message
    /// says more when the output is one of the inputs.
    static func refuseInputExtension(_ output: String, option: String, content: String, allowed: String) throws {
        guard let (suffix, kind) = readExtension(of: output, allowed: allowed) else { return }
        throw CommandFailure(status: .usage, message: "\(output): the \(option) output is \(content), but \(suffix) is the extension of a \(kind) "
                             + "file lrm reads; choose another name (ending in \(allowed), say)")
    }

    /// Refuses (exit 64) an output that is one of `inputs` (role and path): the same file after following
    /// symbolic links (hard links included: device and inode compared), or, for an output that does not
    /// exist yet, the same resolved path. Writing it would destroy the input. Inputs without a path (options not
    /// given) are skipped. `inPlaceHint` ends the message.
    static func refuseOverwritingInputs(_ output: String, inputs: [(role: String, path: String?)], inPlaceHint: String? = nil) throws {
        for case let (role, path?) in inputs where sameFile(output, path) {
            let hint = inPlaceHint.map { "; \($0)" } ?? "; choose another output name"
            throw CommandFailure(status: .usage, message: "\(output): the output is the \(role) \(path) (the same file); "
                                 + "writing it would replace the \(role)\(hint)")
        }
    }

    /// Refuses (exit 73), before any work is done, an output that could not be written at the end: its folder is
    /// missing, not a folder or not writable, or the output is a directory, a device or a link to nothing. A long
    /// search, sweep or verification would otherwise run to its end and then fail. The write itself still makes a
    /// temporary file in that folder and renames it (``AtomicFileWriter``), so a folder that goes away meanwhile is
    /// still caught there.
    static func checkWritable(_ output: String, option: String) throws {
        func refuse(_ reason: String) -> CommandFailure {
            CommandFailure(status: .cannotWrite, message: "\(output): cannot write the \(option) output: \(reason)")
        }
        let target: String
        do { target = try OutputTarget.resolve(output) } catch { throw refuse(error.message) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory), isDirectory.boolValue {
            throw refuse("it is a directory, expected a file name")
        }
        let folder = OutputTarget.split(target).directory
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw refuse("the folder \(folder) does not exist")
        }
        guard isDirectory.boolValue else { throw refuse("\(folder) is not a folder") }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw refuse("the folder \(folder) is not writable (\(String(cString: strerror(errno))))")
        }
    }

    /// Whether `a` and `b` name one file: equal device and inode when both exist (links followed), else
    /// equal resolved paths.
    static func sameFile(_ a: String, _ b: String) -> Bool {
        if let first = identity(a), let second = identity(b) { return first == second }
        guard let first = resolvedPath(a), let second = resolvedPath(b) else { return false }
        return first == second
    }

    /// Device and inode of the file `path` names, symbolic links followed.
    private static func identity(_ path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }

    /// The absolute path `path` resolves to: all of it when it exists, else its folder resolved and its name.
    static func resolvedPath(_ path: String) -> String? {
        if let full = realpath(path, nil) {
            defer { free(full) }
            return String(cString: full)
        }
        let (directory, name) = OutputTarget.split(path)
        guard let folder = realpath(directory, nil) else { return nil }
        defer { free(folder) }
        return String(cString: folder) + "/" + name
    }

    /// A write failure's reason, for a one-line message.
    static func reason(_ error: Error) -> String {
        (error as? ContainerError)?.message ?? String(describing: error)
    }
}

/// The check on input paths made before any is opened: a FIFO, socket or device would block the open
/// or never end, so only regular files (and the directories the readers report themselves) go on.
enum InputFiles {
    /// Refuses (exit 66) any of `paths` that exists and is neither a regular file nor a directory.
    static func requireRegular(_ paths: [String?]) throws {
        for case let path? in paths {
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let kind: String
            switch info.st_mode & S_IFMT {
            case S_IFREG, S_IFDIR: continue
            case S_IFIFO: kind = "a FIFO (named pipe)"
            case S_IFSOCK: kind = "a socket"
            case S_IFCHR: kind = "a character device"
            case S_IFBLK: kind = "a block device"
            default: kind = "not a regular file"
            }
            throw CommandFailure(status: .missingInput, message: "\(path): is \(kind), expected a regular file")
        }
    }
}
