import ArgumentParser

@main
struct LRM: ParsableCommand {
    static let version = "0.1.0"

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
        do {
            var command = try parseAsRoot()
            if command is Convert || command is Sweep { BLASThreads.pinForReproducibleResults() }
            try command.run()
        } catch let exit as ExitCode {
            Self.exit(withError: exit)
        } catch {
            guard exitCode(for: error) == .validationFailure else { Self.exit(withError: error) }
            let message = message(for: error).split(whereSeparator: \.isNewline).joined(separator: "; ")
            let command = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }.map { " \($0)" } ?? ""
            printError("\(message) (see lrm\(command) --help)")
            Self.exit(withError: ExitCode(ExitStatus.usage.rawValue))
        }
    }
}
