import ArgumentParser
import Foundation
import LRMFormat
import LRMKeras

/// Reads Keras files in a child process, so that a malformed file cannot take `lrm` down.
///
/// libhdf5 1.10 (Debian 12's) is not hardened against crafted files: the hostile-HDF5 sweep
/// (`docs/RELIABILITY.md`) found files that make it write past a buffer (`H5HG_read`, variable-length
/// strings in a corrupt global heap) and files that make it loop forever (the same heap's decoder).
/// Neither can be caught in-process. So every command that reads a Keras file runs `lrm read-keras`
/// (hidden) on it: the child imports the file and writes the model to its stdout as `.lrm` bytes; the
/// parent reads them back through the validating container reader. A child that dies from a signal, or
/// runs past the watchdog, becomes a one-line error with exit status 65; a child's own error is passed
/// on unchanged, with its exit status.
///
/// `LRM_KERAS_TIMEOUT` sets the watchdog in seconds (default 120 + 1 per MB of input);
/// `LRM_KERAS_IN_PROCESS=1` reads in-process instead (for debugging).
enum KerasSubprocess {
    static let subcommand = "read-keras"

    /// Reads `path` (in a child process unless `LRM_KERAS_IN_PROCESS=1`). `architectureOption` is the
    /// option that gives the architecture in the command the user ran, named when a weights-only file
    /// comes without one.
    static func load(_ path: String, architecture: String?, architectureOption: String = "--config",
                     match: KerasWeightMatching = .auto) throws -> Model {
        let environment = ProcessInfo.processInfo.environment
        if environment["LRM_KERAS_IN_PROCESS"] == "1" {
            return try importModel(path, architecture: architecture, architectureOption: architectureOption, match: match)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0])
        // Options first, each value joined to its option, then `--`: a file name that starts with `-` is never
        // taken for an option by the child's argument parser.
        process.arguments = [subcommand, "--architecture-option=\(architectureOption)", "--match=\(match.rawValue)"] + (architecture.map { ["--config=\($0)"] } ?? [])
            + ["--", path]
        // The child's temporary files (a .keras archive's extracted weights) go to a folder of our own,
        // removed whatever happens to the child.
        let temporary = NSTemporaryDirectory() + "lrm-read-keras-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        var childEnvironment = environment
        childEnvironment["SWIFT_BACKTRACE"] = "enable=no"  // a crash report is not shown; don't spend time on it
        // The child does no linear algebra: no OpenBLAS worker threads (they would spin beside the reader).
        childEnvironment["OPENBLAS_NUM_THREADS"] = "1"
        childEnvironment["TMPDIR"] = temporary
        process.environment = childEnvironment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw CommandFailure(status: .invalidInput, message: "\(path): cannot start the Keras reader: \(error.localizedDescription)")
        }
        let group = DispatchGroup()
        nonisolated(unsafe) var bytes = Data(), messages = Data()
        group.enter()
        DispatchQueue.global().async { bytes = output.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { messages = errors.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let seconds = timeout(for: path, environment: environment)
        let timedOut = group.wait(timeout: .now() + seconds) == .timedOut
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            group.wait()
        }
        process.waitUntilExit()

        if timedOut {
            throw CommandFailure(status: .invalidInput, message: "\(path): reading the file did not finish in \(Int(seconds)) s "
                                 + "and was stopped; the file is probably malformed (LRM_KERAS_TIMEOUT sets the limit)")
        }
        let status = process.terminationStatus
        if process.terminationReason == .uncaughtSignal {
            throw CommandFailure(status: .invalidInput, message: "\(path): the HDF5 reader crashed on this file (signal \(status)\(signalName(status))); "
                                 + "the file is malformed")
        }
        if status != 0 {
            let text = String(decoding: messages, as: UTF8.self)
            let prefix = "lrm: error: "
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
               let exit = ExitStatus(rawValue: status) {
                throw CommandFailure(status: exit, message: String(line.dropFirst(prefix.count)))
            }
            throw CommandFailure(status: .invalidInput, message: "\(path): the Keras reader failed with exit status \(status)")
        }
        do {
            let file = try bytes.withUnsafeBytes { try ContainerFile(bytes: $0, path: path) }
            return try file.loadModel()
        } catch let error as ContainerError {
            throw CommandFailure(status: .invalidInput, message: "\(path): the Keras reader's output is not valid: \(error.message)")
        }
    }

    /// `LRM_KERAS_TIMEOUT` seconds, else 120 s plus one per MB of the file.
    static func timeout(for path: String, environment: [String: String]) -> Double {
        if let text = environment["LRM_KERAS_TIMEOUT"], let value = Double(text), value > 0 { return value }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
        return 120 + Double(size) / 1_000_000
    }

    static func signalName(_ number: Int32) -> String {
        switch number {
        case SIGSEGV: ", SIGSEGV"
        case SIGBUS: ", SIGBUS"
        case SIGABRT: ", SIGABRT"
        case SIGILL: ", SIGILL"
        case SIGFPE: ", SIGFPE"
        case SIGKILL: ", SIGKILL: out of memory?"
        default: ""
        }
    }
}

extension LRM {
    /// The child side of ``KerasSubprocess``: imports a Keras file and writes the model to stdout as
    /// `.lrm` bytes. Hidden from `--help`; not meant to be run by hand.
    struct ReadKeras: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: KerasSubprocess.subcommand,
            abstract: "Import a Keras file and write it to stdout as .lrm bytes (used internally).",
            shouldDisplay: false)

        @Argument var input: String

        @Option var config: String?

        @Option(parsing: .unconditional) var architectureOption = "--config"

        @Option var match: KerasWeightMatching = .auto

        func run() throws {
            try reportingErrors {
                let model = try KerasSubprocess.importModel(input, architecture: config, architectureOption: architectureOption, match: match)
                let bytes = try ContainerWriter.encode(model)
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }
}

extension KerasSubprocess {
    /// `KerasImporter.loadModel`, with the command's option named when the architecture is missing.
    static func importModel(_ path: String, architecture: String?, architectureOption: String,
                            match: KerasWeightMatching = .auto) throws -> Model {
        do {
            return try KerasImporter.loadModel(path: path, architecture: architecture, match: match)
        } catch var error as KerasImportError where error.kind == .missingArchitecture && architecture == nil {
            error.message += " (give it with \(architectureOption) FILE)"
            throw error
        }
    }
}
