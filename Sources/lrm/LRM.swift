import ArgumentParser

@main
struct LRM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lrm",
        abstract: "Low-rank compressed neural networks: convert, inspect and verify .lrm files.")
}
