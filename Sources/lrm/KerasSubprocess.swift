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
/// (hidden) on it.
///
/// The protocol: the parent makes a scratch folder (``Scratch``) and passes the child two paths in it.
/// The child imports the file and writes the model there as a `.lrm` file, tensor by tensor
/// (``ContainerWriter``), never as one buffer; `import` has the child write the user's output itself.
/// The parent maps the file (``ContainerFile``): tensors are read from the mapping one layer at a time,
/// never copied across a pipe. A child that fails writes an error record (JSON: exit status, kind,
/// location, message) to the other path and exits with that status; the parent rebuilds the error from
/// the record, never from the text of a message. A child that crashes (SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE), writes
/// no record, or runs past the watchdog becomes a one-line error with exit status 65; one killed by another signal
/// (SIGKILL from the OOM killer, say) or that cannot be started, exit 71. SIGINT/SIGTERM in the parent
/// are forwarded to the child, which is killed and reaped, and the scratch folder removed (exit 130/143).
///
/// `LRM_KERAS_TIMEOUT` sets the watchdog in seconds (default 120 + 1 per MB of input);
/// `LRM_KERAS_IN_PROCESS=1` reads in-process instead (for debugging).
enum KerasSubprocess {
    static let subcommand = "read-keras"
    /// The environment variable that gives the child its parent's process id.
    static let parentVariable = "LRM_READER_PARENT"

    /// Whether Keras files are read in this process (`LRM_KERAS_IN_PROCESS=1`).
    static var inProcess: Bool { ProcessInfo.processInfo.environment["LRM_KERAS_IN_PROCESS"] == "1" }

    /// Reads `path` (in a child process unless `LRM_KERAS_IN_PROCESS=1`) as a mapped `.lrm` file.
    /// `architectureOption` is the option that gives the architecture in the command the user ran, named
    /// when a weights-only file comes without one.
    /// `container` is what the parent sniffed; the child does not sniff again. With `hint`, non-finite
    /// weights are refused (``ModelSource/refuse(_:path:hint:)``) before the model is handed over.
    /// `inputShape` is the shape a model whose config leaves its input shape open is mapped for (`--input-shape`).
    static func open(_ path: String, container: KerasContainer, architecture: String?, architectureOption: String = "--config",
                     match: KerasWeightMatching? = nil, refusingNonFinite hint: String? = nil, inputShape: [Int]? = nil) throws -> ContainerFile {
        if inProcess {
            let model = try importModel(path, container: container, architecture: architecture,
                                        architectureOption: architectureOption, match: match, inputShape: inputShape)
            if let hint { try ModelSource.refuse(model.nonFiniteWeights, path: path, hint: hint) }
            return try ContainerWriter.encode(model).withUnsafeBytes { try ContainerFile(bytes: $0, path: path) }
        }
        let folder = try Scratch.makeFolder()
        defer { Scratch.remove(folder) }
        let output = folder + "/model.lrm"
        try run(path, container: container, architecture: architecture, architectureOption: architectureOption, output: output,
                folder: folder, extra: (match.map { ["--match=\($0.rawValue)"] } ?? []) + (hint.map { ["--refuse-non-finite=\($0)"] } ?? [])
                    + (inputShape.map { ["--input-shape=" + $0.map(String.init).joined(separator: ",")] } ?? []))
        do {
            // Mapped: the folder may go; the mapping keeps the data until the file is closed.
            return try ContainerFile(path: output, displayPath: path)
        } catch let error as ContainerError {
            throw CommandFailure(status: .invalidInput, message: "\(path): the Keras reader's output is not valid: \(error.message)")
        }
    }

    /// The model in `path`, in memory (``open(_:architecture:architectureOption:)`` then `loadModel`).
    static func load(_ path: String, container: KerasContainer, architecture: String?, architectureOption: String = "--config",
                     match: KerasWeightMatching? = nil) throws -> Model {
        try open(path, container: container, architecture: architecture, architectureOption: architectureOption, match: match).loadModel()
    }

    /// Has the child import `path` and write the result to `output` itself (what `lrm import` does):
    /// `extra` are the child's options for that (preprocessing, `--allow-non-finite`).
    static func importFile(_ path: String, container: KerasContainer, architecture: String?, output: String, extra: [String]) throws {
        let folder = try Scratch.makeFolder()
        defer { Scratch.remove(folder) }
        try run(path, container: container, architecture: architecture, architectureOption: "--config", output: output,
                folder: folder, extra: ["--import"] + extra)
    }

    /// Runs the child on `path`, writing to `output`, and turns every way it can fail into a `CommandFailure`.
    private static func run(_ path: String, container: KerasContainer, architecture: String?, architectureOption: String,
                            output: String, folder: String, extra: [String]) throws {
        let environment = ProcessInfo.processInfo.environment
        let errorFile = folder + "/error.json"
        let messagesFile = folder + "/messages.txt"
        // Options first, each value joined to its option, and the input after `--`: a file name or value
        // starting with '-' is never taken for an option.
        let arguments = [subcommand, "--output=\(output)", "--error-file=\(errorFile)", "--architecture-option=\(architectureOption)",
                         "--container=\(container.rawValue)"]
            + (architecture.map { ["--config=\($0)"] } ?? []) + extra + ["--", path]
        var childEnvironment = environment
        childEnvironment["SWIFT_BACKTRACE"] = "enable=no"  // a crash report is not shown; don't spend time on it
        // The child does no linear algebra: no OpenBLAS worker threads (they would spin beside the reader).
        childEnvironment["OPENBLAS_NUM_THREADS"] = "1"
        // Its temporary files (a .keras archive's extracted weights) go to the scratch folder.
        childEnvironment["TMPDIR"] = folder
        // The child ends itself when this process is gone (see ReadKeras.run).
        childEnvironment[parentVariable] = String(getpid())
        // posix_spawn and waitpid, not Foundation's Process: Process needs a dispatch thread to start and
        // watch the child, and where no thread can be made (a low `ulimit -v`) it waits for one for ever.
        // The child's messages go to a file; its warnings are shown once it has succeeded.
        let pid: pid_t
        let reader = readerPath(environment: environment)
        do {
            pid = try spawn(reader, arguments: arguments, environment: childEnvironment, standardError: messagesFile)
        } catch let error as SpawnError {
            // The system's failure (no memory, no process, the program gone), not the file's: EX_OSERR.
            throw CommandFailure(status: .systemError,
                                 message: "\(path): cannot start the Keras reader (\(reader)): \(String(cString: strerror(error.code)))")
        }
        Cleanup.shared.register(child: pid)
        defer { Cleanup.shared.unregister(child: pid) }
        let seconds = timeout(for: path, environment: environment)
        let deadline = DispatchTime.now() + seconds
        var timedOut = false
        var waitStatus: Int32 = 0
        var pause: useconds_t = 1_000
        while true {
            let result = waitpid(pid, &waitStatus, WNOHANG)
            if result == pid { break }
            if result == -1 && errno != EINTR {
                let code = errno
                // Reaped by the signal handler, which is ending this process.
                Cleanup.shared.waitIfTerminating()
                throw CommandFailure(status: .systemError, message: "\(path): lost the Keras reader: \(String(cString: strerror(code)))")
            }
            if DispatchTime.now() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                while waitpid(pid, &waitStatus, 0) == -1 && errno == EINTR {}
                break
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        Cleanup.shared.waitIfTerminating()

        if timedOut {
            throw CommandFailure(status: .invalidInput, message: "\(path): reading the file did not finish in \(Int(seconds)) s "
                                 + "and was stopped; the file is probably malformed (LRM_KERAS_TIMEOUT sets the limit)")
        }
        // The <sys/wait.h> macros by hand: the low 7 bits are the signal that ended the child (0: it exited).
        let signalNumber = waitStatus & 0x7f
        let status = signalNumber == 0 ? (waitStatus >> 8) & 0xff : signalNumber
        if signalNumber != 0 {
            // A fault (SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE) is libhdf5 failing on the file's bytes. Any other signal
            // came from outside: SIGKILL from the kernel's OOM killer or a user, SIGTERM from a supervisor, SIGXCPU
            // from a CPU limit. Not the file's fault: EX_OSERR.
            guard faultSignals.contains(signalNumber) else {
                throw CommandFailure(status: .systemError, message: "\(path): the Keras reader was killed (signal \(status)\(signalName(status)))"
                                     + (signalNumber == SIGKILL ? ", perhaps by the kernel's out-of-memory killer" : "")
                                     + "; the file was not read")
            }
            throw CommandFailure(status: .invalidInput, message: "\(path): the HDF5 reader crashed on this file (signal \(status)\(signalName(status))); "
                                 + "the file is malformed")
        }
        if status != 0 {
            if let record = ErrorRecord.read(errorFile) {
                throw CommandFailure(status: ExitStatus(rawValue: record.status) ?? .invalidInput, message: record.message)
            }
            // A failed allocation ends the child before it can write a record; its one line says what failed.
            if status == ExitStatus.systemError.rawValue, let line = lastError(in: messagesFile) {
                throw CommandFailure(status: .systemError, message: "\(path): reading the file: \(line)")
            }
            throw CommandFailure(status: .invalidInput, message: "\(path): the Keras reader failed with exit status \(status)")
        }
        relayWarnings(from: messagesFile)
    }

    struct SpawnError: Error { var code: Int32 }

    /// Starts `executable` with `arguments` (after its own name) and `environment`, standard input and
    /// output on /dev/null and standard error to the file `standardError` (created or truncated); returns
    /// its process id. The corresponding C function is `posix_spawn`; its failure (ENOMEM, EAGAIN) is thrown.
    static func spawn(_ executable: String, arguments: [String], environment: [String: String], standardError: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { throw SpawnError(code: ENOMEM) }
        defer { posix_spawn_file_actions_destroy(&actions) }
        var code = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if code == 0 { code = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        if code == 0 { code = posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o600) }
        guard code == 0 else { throw SpawnError(code: code) }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        code = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard code == 0 else { throw SpawnError(code: code) }
        return pid
    }

    /// The text of the last `lrm: error: ` line the child wrote to its standard error (`path`), if any, in its last
    /// 64 KiB (the error is the child's last word; warnings may come before it).
    private static func lastError(in path: String) -> String? {
        let prefix = "lrm: error: "
        return messageLines(in: path, fromEnd: true).last { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// The lines of the child's standard error (`path`), read once: its first 64 KiB, or `fromEnd` its last 64 KiB (less
    /// the first line when that is the end of one). None when the file cannot be read.
    private static func messageLines(in path: String, fromEnd: Bool = false) -> [Substring] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        var start: UInt64 = 0
        if fromEnd {
            guard let size = try? handle.seekToEnd() else { return [] }
            start = size > 1 << 16 ? size - (1 << 16) : 0
            guard (try? handle.seek(toOffset: start)) != nil else { return [] }
        }
        var lines = String(decoding: handle.readData(ofLength: 1 << 16), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if start > 0 && !lines.isEmpty { lines.removeFirst() }
        return lines
    }

    /// Shows what a child that succeeded wrote to its standard error (its warnings; the first 64 KiB) on
    /// this process's standard error. Its errors never get here: a child that fails writes an error record.
    private static func relayWarnings(from path: String) {
        for line in messageLines(in: path) where !line.isEmpty {
            // `lrm: LABEL: message` again through this process's diagnostics (JSON with --progress json).
            let parts = line.split(separator: ":", maxSplits: 2)
            if parts.count == 3, parts[0] == "lrm", ["warning", "note"].contains(parts[1].trimmingCharacters(in: .whitespaces)) {
                printDiagnostic(parts[1].trimmingCharacters(in: .whitespaces), String(parts[2].dropFirst()))
            } else {
                FileHandle.standardError.write(Data((Diagnostics.json ? Diagnostics.line("warning", String(line)) : line + "\n").utf8))
            }
        }
    }

    /// This program's file: `/proc/self/exe` where there is one (Linux), else `Bundle.main`'s path. Not
    /// `Bundle.main` first: it lists the executable's folder (a build folder holds hundreds of files).
    static var executablePath: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
           path.hasPrefix("/"), !path.hasSuffix(" (deleted)") {
            return path
        }
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// The program run as the reader: this one (``executablePath``), or for tests `LRM_TEST_KERAS_READER` (a path
    /// that cannot be started tests the failure to start it).
    static func readerPath(environment: [String: String]) -> String {
        environment["LRM_TEST_KERAS_READER"].flatMap { $0.isEmpty ? nil : $0 } ?? executablePath
    }

    /// `LRM_KERAS_TIMEOUT` seconds, else 120 s plus one per MB of the file.
    static func timeout(for path: String, environment: [String: String]) -> Double {
        if let text = environment["LRM_KERAS_TIMEOUT"], let value = Double(text), value > 0 { return value }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
        return 120 + Double(size) / 1_000_000
    }

    /// The signals a process gets from its own faults: what libhdf5 failing on a malformed file ends the reader with.
    static let faultSignals: Set<Int32> = [SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE]

    static func signalName(_ number: Int32) -> String {
        switch number {
        case SIGSEGV: ", SIGSEGV"
        case SIGBUS: ", SIGBUS"
        case SIGABRT: ", SIGABRT"
        case SIGILL: ", SIGILL"
        case SIGFPE: ", SIGFPE"
        case SIGKILL: ", SIGKILL"
        case SIGTERM: ", SIGTERM"
        case SIGINT: ", SIGINT"
        case SIGHUP: ", SIGHUP"
        case SIGXCPU: ", SIGXCPU"
        case SIGXFSZ: ", SIGXFSZ"
        default: ""
        }
    }
}

/// A failed command's error as data: what the Keras child hands its parent instead of text to search.
struct ErrorRecord: Equatable {
    /// The exit status the error maps to (``ExitStatus``).
    var status: Int32
    /// The error's kind (`KerasImportError.Kind`, `ContainerError.Kind`, … by name; `failure` for a `CommandFailure`).
    var kind: String
    /// Where in the file: a layer, an HDF5 object path, a JSON path (empty for the file as a whole).
    var location: String
    /// The one-line message `lrm: error:` prints.
    var message: String

    /// The record as JSON (`status`, `kind`, `location`, `message`).
    var data: Data {
        (try? JSONSerialization.data(withJSONObject: ["status": Int(status), "kind": kind, "location": location,
                                                       "message": message], options: [.sortedKeys])) ?? Data()
    }

    /// The record in `path`, or nil when there is none or it is not one.
    static func read(_ path: String) -> ErrorRecord? {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20,
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let status = object["status"] as? Int, status >= 1, status <= 255,
              let message = object["message"] as? String else { return nil }
        return ErrorRecord(status: Int32(status), kind: object["kind"] as? String ?? "", location: object["location"] as? String ?? "",
                           message: message)
    }
}

extension LRM {
    /// The child side of ``KerasSubprocess``: imports a Keras file and writes it to `--output` as a
    /// `.lrm` file; on failure writes an ``ErrorRecord`` to `--error-file`. Hidden from `--help`; not
    /// meant to be run by hand.
    struct ReadKeras: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: KerasSubprocess.subcommand,
            abstract: "Import a Keras file into a .lrm file, reporting errors as a record (used internally).",
            shouldDisplay: false)

        @Argument var input: String

        @Option var output: String

        @Option var errorFile: String

        @Option var config: String?

        @Option(parsing: .unconditional) var architectureOption = "--config"

        @Option var match: KerasWeightMatching?

        /// What the parent sniffed the input as (it is not sniffed again); without it, the child sniffs.
        @Option var container: KerasContainer?

        /// Do what `lrm import` does before writing: preprocessing, the non-finite check, the writer key.
        @Flag(name: .customLong("import")) var importing = false

        /// Refuse non-finite weights with this hint (the check the parent would make on the mapped file,
        /// made here on the model in memory).
        @Option var refuseNonFinite: String?

        @OptionGroup var preprocessing: PreprocessingOptions

        @Flag var allowNonFinite = false

        @OptionGroup var userMetadata: UserMetadataOptions

        func run() throws {
            // Forwarded signals must end this process (a parent's blocked mask is inherited), removing the
            // temporary file of an output it is writing (import writes the user's output here).
            var unblocked = sigset_t()
            sigemptyset(&unblocked)
            sigaddset(&unblocked, SIGINT)
            sigaddset(&unblocked, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
            Cleanup.shared.installHandlers()
            // Ended once the parent is gone (``ParentWatch``), for as long as this reads. The parent names itself: if it
            // died before this line, getppid() is already another process.
            let parent = ProcessInfo.processInfo.environment[KerasSubprocess.parentVariable].flatMap { pid_t($0) } ?? getppid()
            let watch = ParentWatch(parent: parent)
            defer { watch?.stop() }
            do {
                var model = try KerasSubprocess.importModel(input, container: container, architecture: config,
                                                            architectureOption: architectureOption, match: match,
                                                            inputShape: try preprocessing.givenShape)
                if importing {
                    try ModelSource.prepare(&model, path: input, preprocessing: preprocessing,
                                            nonFinite: allowNonFinite ? .accept : Import.nonFinitePolicy)
                    model.metadata[MetadataKey.writer] = .string("lrm \(LRM.version)")
                    try userMetadata.apply(to: &model)
                }
                if let refuseNonFinite { try ModelSource.refuse(model.nonFiniteWeights, path: input, hint: refuseNonFinite) }
                // The scratch file is read once and removed: no need to wait for the disk. The user's
                // output (import) is synced like every other output.
                try OutputFiles.writeContainer(model, to: output, durable: importing)
            } catch {
                let record = ErrorRecord(error)
                // If even the record cannot be written, the parent reports the bare exit status.
                _ = FileManager.default.createFile(atPath: errorFile, contents: record.data)
                throw ExitCode(record.status)
            }
        }
    }
}

extension KerasSubprocess {
    /// `KerasImporter.loadModel`, with the command's option named when the architecture is missing.
    /// A full-model file given an architecture anyway is refused (it would be ignored).
    static func importModel(_ path: String, container: KerasContainer?, architecture: String?, architectureOption: String,
                            match: KerasWeightMatching? = nil, inputShape: [Int]? = nil) throws -> Model {
        let model: Model
        do {
            model = try KerasImporter.loadModel(path: path, architecture: architecture, match: match ?? .auto, container: container,
                                                inputShape: inputShape)
        } catch let error as KerasImportError where error.kind == .missingArchitecture && architecture == nil {
            // A missing option, not a bad file: a usage error (64), as the table of exit codes in docs/CLI.md has it.
            throw CommandFailure(status: .usage, message: error.description + " (give it with \(architectureOption) FILE)")
        }
        try ArchitectureOption.refuseForFullModel(model, path: path, architecture: architecture, option: architectureOption)
        try ArchitectureOption.refuseUnusedMatch(match, model: model, path: path)
        return model
    }
}
