import ArgumentParser
import LRMFormat

extension LRM {
    struct Example: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a small seeded random model (784 → 64 factorized at rank 16 → 10) for trying out lrm.",
            discussion: "The factorized layer is an exact truncated SVD of a synthetic kernel with a known spectrum, "
                + "so its metadata is true. " + ExitStatus.helpText)

        @Option(name: .shortAndLong, help: "Output .lrm file.")
        var output: String

        @Option(help: "Random seed.")
        var seed: UInt64 = 1

        @Flag(help: "Write the output under a name that does not end in .lrm.")
        var forceExtension = false

        func validate() throws {
            try OutputFiles.checkExtension(output, content: .container, force: forceExtension)
        }

        func run() throws {
            try reportingErrors {
                var model = ExampleModel.make(seed: seed)
                model.metadata[MetadataKey.writer] = .string("lrm \(LRM.version)")
                try OutputFiles.writeContainer(model, to: output)
                print("wrote \(output)")
            }
        }
    }
}
