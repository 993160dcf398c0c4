import ArgumentParser
import Foundation
import LRMFormat
import LRMPipeline

@main
struct LRM: ParsableCommand {
    static let version = ConversionPipeline.version

    static let configuration = CommandConfiguration(
        commandName: "lrm",
        abstract: "Low-rank compressed neural networks: convert, inspect and verify .lrm files.",
        discussion: ExitStatus.helpText,
        version: version,
        subcommands: [Convert.self, Verify.self, Sweep.self, Report.self, Import.self, Export.self, Predict.self, Inspect.self, Example.self,
                      ReadKeras.self])

    /// ArgumentParser's entry point, except that a bad command line is reported like every other error:
    /// one line `lrm: error: …` (naming the option) and exit 64, instead of the message and the usage.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let subcommand = arguments.first { !$0.hasPrefix("-") }.flatMap(Self.subcommand(named:))
        do {
            if let problem = Self.commandLineProblem(arguments) { throw ValidationError(problem) }
            var command = try parseAsRoot()
            if !(command is ReadKeras) { Cleanup.shared.installHandlers() }
            Self.holdTemporaryFilesForTests()
            if command is Convert || command is Sweep { BLASThreads.pinForReproducibleResults() }
            try command.run()
        } catch let exit as ExitCode {
            Self.exit(withError: exit)
        } catch {
            guard exitCode(for: error) == .validationFailure else { Self.exit(withError: error) }
            // ArgumentParser runs a command's own checks before it reports unknown options; the option
            // the user mistyped is the more useful message.
            let message = subcommand.flatMap { Self.unknownOption(in: arguments, for: $0) }.map { "Unknown option '\($0)'" }
                ?? message(for: error).split(whereSeparator: \.isNewline).joined(separator: "; ")
            let help = subcommand.map { "lrm \($0._commandName) --help" } ?? "lrm --help"
            printError("\(message) (see \(help))")
            Self.exit(withError: ExitCode(ExitStatus.usage.rawValue))
        }
    }

    /// `LRM_TEST_HOLD_TEMPORARY_FILES=SECONDS` (for tests only) pauses every write just after its temporary
    /// file is created, so that a test can stop lrm in the middle of writing an output.
    static func holdTemporaryFilesForTests() {
        guard let text = ProcessInfo.processInfo.environment["LRM_TEST_HOLD_TEMPORARY_FILES"],
              let seconds = Double(text), seconds > 0, seconds <= 600 else { return }
        InFlightFiles.shared.observeCreation { _ in usleep(UInt32(seconds * 1_000_000)) }
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
            return subcommand(named: arguments[1]) == nil ? "unknown command '\(arguments[1])'; the commands are \(commandNames)" : nil
        }
        return subcommand(named: first) == nil ? "unknown command '\(first)'; the commands are \(commandNames)" : nil
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
        struct Dump: Decodable {
            struct Command: Decodable { var arguments: [Argument]? }
            struct Argument: Decodable { var names: [Name]? }
            struct Name: Decodable { var kind: String; var name: String }
            var command: Command
        }
        guard let dump = try? JSONDecoder().decode(Dump.self, from: Data(command._dumpHelp().utf8)) else { return [] }
        var names: Set<String> = []
        for argument in dump.command.arguments ?? [] {
            for name in argument.names ?? [] {
                names.insert(name.kind == "long" ? "--" + name.name : "-" + name.name)
            }
        }
        return names
    }
}
