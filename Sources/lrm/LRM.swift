import ArgumentParser

@main
struct LRM: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "lrm",
        abstract: "Low-rank compressed neural networks: convert, inspect and verify .lrm files.",
        discussion: ExitStatus.helpText,
        version: version,
        subcommands: [Convert.self, Verify.self, Sweep.self, Report.self, Import.self, Export.self, Predict.self, Inspect.self, Example.self])
}
