import ArgumentParser
import Foundation
import LRMFormat
import LRMKeras
import LRMLinearAlgebra
import LRMPipeline
import LRMRuntime
import LRMVerify

/// The exit codes of every `lrm` command, documented in `--help` and README.md.
enum ExitStatus: Int32 {
    case success = 0
    /// A check failed on inputs that were read without error: a threshold of verify or convert was missed, a layer's
    /// weights disagree with the file's record or its activation or convolution geometry with the reference's (verify), or diff found a difference. Never a corrupt input (a checksum mismatch is `invalidInput`), so CI can tell a
    /// model that fails its check from a file that could not be trusted.
    case checkFailed = 1
    /// Bad command line (ArgumentParser's own code for validation errors).
    case usage = 64
    /// An input file is invalid, corrupt (a tensor's checksum or a data file's listed SHA-256 does not match) or
    /// unsupported.
    case invalidInput = 65
    /// An input file is missing or unreadable.
    case missingInput = 66
    /// The system could not give what the command needed: memory (an allocation failed; under `ulimit -v`,
    /// no room for OpenBLAS's work buffer) or a process (the Keras reader could not be started). EX_OSERR.
    case systemError = 71
    /// Output could not be written.
    case cannotWrite = 73

    static let helpText = """
        Exit codes: 0 success; 1 a check failed on inputs that read without error (verify: a threshold missed, or a \
        layer's weights disagree with the file's record or its activation or convolution geometry with the reference's; convert: a threshold missed; diff: the files differ); 64 bad command line; 65 an input file is invalid, corrupt (a tensor's \
        checksum, or a data file's SHA256SUMS entry, does not match) or unsupported; 66 an input file or data set is missing or unreadable; 71 out of memory (the message names the limit, e.g. ulimit -v) or a \
        process could not be started; 73 the output could not be written.
        """
}

/// An error already explained in one line, with its exit status.
struct CommandFailure: Error, CustomStringConvertible {
    var status: ExitStatus
    var message: String
    var description: String { message }
}

/// Runs `body`; any error is printed as one line `lrm: error: …` on stderr and turned into the
/// matching exit code. Nothing else ever ends a command. `onFailure` sees the failure first (verify
/// writes it into its JUnit file, so CI sees the error). A bad command line found only while running (exit 64:
/// an output that is an input, a `--threshold` for a task that is not binary) is thrown on as a
/// `CommandFailure` for ``LRM/main()`` to report as it reports the ones `validate()` finds, pointing to the
/// command's `--help`.
func reportingErrors(onFailure: (CommandFailure) -> Void = { _ in }, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        let failure = CommandFailure(explaining: error)
        onFailure(failure)
        if failure.status == .usage { throw failure }
        printError(failure.message, status: failure.status)
        throw ExitCode(failure.status.rawValue)
    }
}

extension CommandFailure {
    /// The one-line message and exit status of any error a command can meet.
    init(explaining error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let error as ContainerError:
            let status: ExitStatus
            switch error.kind {
            case .io:
                // Writing an output (AtomicFileWriter) fails with 73; every other I/O error (cannot open, stat
                // or map; a directory or a device) is the input's.
                status = error.operation?.isWriting == true ? .cannotWrite : .missingInput
            default: status = .invalidInput
            }
            self.init(status: status, message: error.description)
        case let error as KerasImportError:
            let missing = error.kind == .fileNotFound || error.kind == .notAFile
            let status: ExitStatus = error.kind == .noSpace ? .cannotWrite : error.hdf5Error?.kind == .outOfMemory ? .systemError
                : missing ? .missingInput : error.kind == .givenShapeMismatch ? .usage : .invalidInput
            self.init(status: status, message: error.description)
        case let error as LinearAlgebraError:
            switch error.kind {
            case .addressSpaceExhausted(let limit, let inUse, let needed):
                self.init(status: .systemError, message: Self.addressSpaceMessage(limit: limit, inUse: inUse, needed: needed))
            case .workspaceAllocationFailed:
                self.init(status: .systemError, message: "out of memory: \(error.description)")
            default:
                self.init(status: .invalidInput, message: error.description)
            }
        case let error as PipelineError:
            let status: ExitStatus
            switch error.kind {
            case .badRequest: status = .usage
            case .dataMissing: status = .missingInput
            case .dataInvalid: status = .invalidInput
            case .dataChecksum: status = .invalidInput
            }
            self.init(status: status, message: error.description)
        default:
            self.init(status: .invalidInput, message: String(describing: error))
        }
    }
}

extension CommandFailure {
    /// `error`, met while evaluating the model in the file `path`, as the command reports it: a `VerificationError` or
    /// `RuntimeError` (the model cannot run, or the data does not fit it) becomes one line naming that file, exit 65;
    /// any other error is returned as it is (for ``reportingErrors(onFailure:_:)`` to explain).
    static func evaluating(_ path: String, failedWith error: any Error) -> any Error {
        switch error {
        case let error as VerificationError: CommandFailure(status: .invalidInput, message: "\(path): \(error.description)")
        case let error as RuntimeError: CommandFailure(status: .invalidInput, message: "\(path): \(error.description)")
        default: error
        }
    }

    /// "not enough memory under the address-space limit (ulimit -v 200000 KiB): 151 MiB are in use once lrm has
    /// started and OpenBLAS needs 128 MiB for its work buffer; allow at least ulimit -v 290000 KiB, more for …".
    static func addressSpaceMessage(limit: Int, inUse: Int, needed: Int) -> String {
        // The smallest limit that fits what is in use and the buffer, rounded up to 10,000 KiB.
        let least = ((inUse + needed) / 1024 + 9_999) / 10_000 * 10_000
        return "not enough memory under the address-space limit (ulimit -v \(limit >> 10) KiB): \(inUse >> 20) MiB are in use "
            + "once lrm has started and OpenBLAS needs \(needed >> 20) MiB for its work buffer; allow at least ulimit -v \(least) KiB, "
            + "more for the model and its data"
    }
}

extension ErrorRecord {
    /// The exit status and message of `error` (``CommandFailure/init(explaining:)``), with its kind and
    /// location: decided by the error's type and kind, never by its text.
    init(_ error: any Error) {
        if let exit = error as? ExitCode {
            self.init(status: exit.rawValue == 0 ? ExitStatus.invalidInput.rawValue : exit.rawValue, kind: "exit", location: "",
                      message: "exit status \(exit.rawValue)")
            return
        }
        let failure = CommandFailure(explaining: error)
        var kind = "other", location = ""
        switch error {
        case is CommandFailure: kind = "failure"
        case let error as ContainerError: kind = error.kind.rawValue
        case let error as KerasImportError: (kind, location) = (error.kind.rawValue, error.location)
        case let error as PipelineError: kind = error.kind.rawValue
        default: break
        }
        self.init(status: failure.status.rawValue, kind: kind, location: location, message: failure.message)
    }
}

/// One line `lrm: warning: …` on stderr (``printDiagnostic(_:_:status:)``): something the user most likely did not mean, the
/// command goes on.
func printWarning(_ message: String) {
    printDiagnostic("warning", message)
}

/// One line `lrm: error: …` on stderr (``Diagnostics``: a JSON object with `--progress json`).
func printError(_ message: String, status: ExitStatus) {
    printDiagnostic("error", message, status: status)
}

/// Whether stderr is a terminal (progress is shown only then).
var standardErrorIsTerminal: Bool { isatty(2) == 1 }
