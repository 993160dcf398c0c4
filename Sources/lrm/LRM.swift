import ArgumentParser
import Foundation
import LRMFormat
import LRMPipeline
import LRMRuntime
import LRMVerify

@main
struct LRM: ParsableCommand {
    static let version = ConversionPipeline.version

    static let configuration = CommandConfiguration(
        commandName: "lrm",
        abstract: "Low-rank compressed neural networks: convert, inspect and verify .lrm files.",
        discussion: ExitStatus.helpText,
        version: version,
        subcommands: [Convert.self, Verify.self, Sweep.self, Report.self, Import.self, Export.self, Predict.self, Inspect.self, Extract.self, Diff.self, Example.self,
                      ReadKeras.self])

    /// ArgumentParser's entry point, except that a bad command line is reported like every other error:
    /// one line `lrm: error: …` (naming the option) and exit 64, instead of the message and the usage.
    static func main() {
        BLASThreads.restartWithOneThreadUnderAddressSpaceLimit()
        BLASThreads.reportAllocationFailures()
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == KerasSubprocess.subcommand {
            // The Keras reader child (started by this program, never by hand): its own options only, not the
            // whole command tree's, which costs start-up time on every conversion of a Keras file.
            do {
                let command = try ReadKeras.parse(Array(arguments.dropFirst()))
                Self.holdTemporaryFilesForTests()
                try command.run()
            } catch {
                ReadKeras.exit(withError: error)
            }
            return
        }
        Diagnostics.json = Diagnostics.choosesJSON(arguments)
        let subcommand = arguments.first { !$0.hasPrefix("-") }.flatMap(Self.subcommand(named:))
        do {
            if let problem = Self.commandLineProblem(arguments) { throw ValidationError(problem) }
            var command = try parseAsRoot()
            if !(command is ReadKeras) { Cleanup.shared.installHandlers() }
            Self.holdTemporaryFilesForTests()
            Self.countChecksumsForTests()
            Self.countWorkForTests()
            if command is Convert || command is Sweep { BLASThreads.pinForReproducibleResults() }
            if Self.runsModels(command) {
                try reportingErrors { try BLASThreads.takeWorkBufferUnderAddressSpaceLimit() }
            }
            try command.run()
        } catch let exit as ExitCode {
            Self.exit(withError: exit)
        } catch let failure as CommandFailure where failure.status == .usage {
            // A bad command line that only running the command found (``reportingErrors(onFailure:_:)``).
            Self.exitForBadCommandLine(failure.message, subcommand: subcommand)
        } catch {
            guard exitCode(for: error) == .validationFailure else { Self.exit(withError: error) }
            // ArgumentParser runs a command's own checks before it reports unknown options; the option
            // the user mistyped is the more useful message.
            let parserMessage = Self.message(for: error)
            let message = subcommand.flatMap { command in
                Self.unknownOption(in: arguments, for: command).map { typed in
                    "Unknown option '\(typed)'" + Suggestion.clause(for: typed, among: Self.options(of: command).flatMap(\.names).filter { $0.hasPrefix("--") })
                }
            } ?? Self.negativeValue(in: arguments, parserMessage: parserMessage)
              ?? Self.withSuggestion(parserMessage.split(whereSeparator: \.isNewline).joined(separator: "; "),
                                     subcommand.map { Self.valueSuggestion(for: parserMessage, command: $0) } ?? "")
            Self.exitForBadCommandLine(message, subcommand: subcommand)
        }
    }

    /// Every bad command line ends here, whether argument-parser, a command's `validate()` or its `run()` found it:
    /// one line `lrm: error: MESSAGE (see lrm COMMAND --help)` and exit 64.
    static func exitForBadCommandLine(_ message: String, subcommand: ParsableCommand.Type?) -> Never {
        let help = subcommand.map { "lrm \($0._commandName) --help" } ?? "lrm --help"
        printError("\(message) (see \(help))", status: .usage)
        Self.exit(withError: ExitCode(ExitStatus.usage.rawValue))
    }

    /// Whether `command` runs models (matrix products, SVDs): those take OpenBLAS's work buffer at start under an
    /// address-space limit. The others (inspect, import, export, extract, diff, example) never need it.
    static func runsModels(_ command: ParsableCommand) -> Bool {
        if let report = command as? Report { return report.reference != nil }
        return command is Convert || command is Sweep || command is Verify || command is Predict
    }

    /// `LRM_TEST_HOLD_TEMPORARY_FILES=SECONDS` (for tests only) pauses every write just after its temporary
    /// file is created, so that a test can stop lrm in the middle of writing an output.
    static func holdTemporaryFilesForTests() {
        guard let text = ProcessInfo.processInfo.environment["LRM_TEST_HOLD_TEMPORARY_FILES"],
              let seconds = Double(text), seconds > 0, seconds <= 600 else { return }
        InFlightFiles.shared.observeCreation { _ in
            // The whole pause, whatever interrupts it: a signal handled on this thread ends `usleep` early (EINTR),
            // and the write then raced the handler's cleanup to the end (KerasChildTests.signalsDuringWrites found
            // the finished output now and then on a loaded machine).
            let end = DispatchTime.now() + seconds
            while DispatchTime.now() < end { usleep(10_000) }
        }
    }

    /// `LRM_TEST_COUNT_CHECKSUMS=1` (for tests only) prints at exit, on stderr, how many tensor checksums the
    /// command computed (`lrm: test: N tensor checksums computed`), so that a test can see each is checked once.
    static func countChecksumsForTests() {
        guard ProcessInfo.processInfo.environment["LRM_TEST_COUNT_CHECKSUMS"] == "1" else { return }
        atexit {
            let count = ContainerFile.computedChecksumCount
            FileHandle.standardError.write(Data("lrm: test: \(count) tensor checksums computed\n".utf8))
        }
    }

    /// `LRM_TEST_COUNT_EVALUATIONS=1` and `LRM_TEST_COUNT_PREPARED_MODELS=1` (for tests only) print at exit, on stderr,
    /// how many times the command ran models over a data set to score them (`lrm: test: N data set evaluations`) and how
    /// many models it prepared to run (`lrm: test: N models prepared to run`), so that a test can see work done once.
    static func countWorkForTests() {
        let environment = ProcessInfo.processInfo.environment
        if environment["LRM_TEST_COUNT_EVALUATIONS"] == "1" {
            atexit { FileHandle.standardError.write(Data("lrm: test: \(Verifier.evaluationCount) data set evaluations\n".utf8)) }
        }
        if environment["LRM_TEST_COUNT_PREPARED_MODELS"] == "1" {
            atexit { FileHandle.standardError.write(Data("lrm: test: \(InferenceModel.preparedCount) models prepared to run\n".utf8)) }
        }
    }

    /// The subcommands (the hidden `read-keras` included), by name.
    static func subcommand(named name: String) -> ParsableCommand.Type? {
        configuration.subcommands.first { $0._commandName == name }
    }

    static var commandNames: String {
        configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }.joined(separator: ", ")
    }

    /// An unknown command (`lrm nosuch`, `lrm help nosuch`), which ArgumentParser reports as an unexpected
    /// argument or answers with the general help and exit 0.
    static func commandLineProblem(_ arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
        if first == "help" {
            guard arguments.count > 1, !arguments[1].hasPrefix("-") else { return nil }
            return subcommand(named: arguments[1]) == nil ? unknownCommand(arguments[1]) : nil
        }
        return subcommand(named: first) == nil ? unknownCommand(first) : nil
    }

    /// ArgumentParser takes a negative number after an option for another option, and reports "Missing
    /// value for '--round-rank <N>'" although the user gave one (`--round-rank -1`): say what was given
    /// and why it is refused instead. Nil when `parserMessage` is not that case.
    static func negativeValue(in arguments: [String], parserMessage: String) -> String? {
        guard let start = parserMessage.range(of: "Missing value for '")?.upperBound else { return nil }
        let option = String(parserMessage[start...].prefix { $0 != " " && $0 != "'" })
        guard option.hasPrefix("-"), let index = arguments.firstIndex(of: option), index + 1 < arguments.count else { return nil }
        let value = arguments[index + 1]
        guard value.hasPrefix("-"), Double(value) != nil else { return nil }
        return "\(option) takes no negative value, found '\(value)'"
    }

    /// "unknown command 'conver' (did you mean 'convert'?); the commands are …".
    static func unknownCommand(_ typed: String) -> String {
        let names = configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }
        let guess = Suggestion.closest(to: typed, among: names).map { " (did you mean '\($0)'?)" } ?? ""
        return "unknown command '\(typed)'\(guess); the commands are \(commandNames)"
    }

    /// `message` with `suggestion` ("; did you mean …?") after it, without the sentence's final period.
    static func withSuggestion(_ message: String, _ suggestion: String) -> String {
        guard !suggestion.isEmpty else { return message }
        return (message.hasSuffix(".") ? String(message.dropLast()) : message) + suggestion
    }

    /// "; did you mean 'mnist'?" for argument-parser's "The value 'mnsit' is invalid for '--dataset <dataset>'",
    /// from the option's list of values in the command's structured description; "" when nothing is close.
    static func valueSuggestion(for message: String, command: ParsableCommand.Type) -> String {
        guard let valueStart = message.range(of: "The value '")?.upperBound,
              let valueEnd = message.range(of: "' is invalid for '", range: valueStart..<message.endIndex) else { return "" }
        let typed = String(message[valueStart..<valueEnd.lowerBound])
        let option = String(message[valueEnd.upperBound...].prefix { $0 != " " && $0 != "'" })
        guard let values = options(of: command).first(where: { $0.names.contains(option) })?.values, !values.isEmpty else { return "" }
        return Suggestion.clause(for: typed, among: values)
    }

    /// The first option in `arguments` that `command` does not define, if any. The defined names come
    /// from argument-parser's structured description of the command (`--experimental-dump-help`'s
    /// JSON), never from its help text. Values that look like numbers (`--input-offset -0.5`) are not options.
    static func unknownOption(in arguments: [String], for command: ParsableCommand.Type) -> String? {
        let defined = optionNames(of: command)
        guard !defined.isEmpty else { return nil }  // no description: leave the report to argument-parser
        let known = defined.union(["-h", "--help", "--version"])
        for argument in arguments.prefix(while: { $0 != "--" }) where argument.hasPrefix("-") && argument.count > 1 {
            let name = String(argument.prefix { $0 != "=" })
            if Double(name) != nil || name.dropFirst().first?.isNumber == true || name.dropFirst().first == "." { continue }
            if !known.contains(name) { return name }
        }
        return nil
    }

    /// The option names (`-o`, `--output`, …) `command` defines.
    static func optionNames(of command: ParsableCommand.Type) -> Set<String> {
        Set(options(of: command).flatMap(\.names))
    }

    /// Each option of `command`: its names (`-o`, `--output`) and, for an enumeration, the values it takes.
    static func options(of command: ParsableCommand.Type) -> [(names: [String], values: [String])] {
        struct Dump: Decodable {
            struct Command: Decodable { var arguments: [Argument]? }
            struct Argument: Decodable { var names: [Name]?; var allValues: [String]? }
            struct Name: Decodable { var kind: String; var name: String }
            var command: Command
        }
        guard let dump = try? JSONDecoder().decode(Dump.self, from: Data(command._dumpHelp().utf8)) else { return [] }
        return (dump.command.arguments ?? []).map { argument in
            ((argument.names ?? []).map { $0.kind == "long" ? "--" + $0.name : "-" + $0.name }, argument.allValues ?? [])
        }
    }
}
