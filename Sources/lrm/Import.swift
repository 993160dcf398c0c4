import ArgumentParser
import Foundation
import LRMFormat

extension LRM {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a Keras model as a .lrm file, losslessly (every layer as it is; BatchNormalization folded exactly).",
            discussion: "BatchNormalization is folded into the neighbouring Dense layer exactly; Dropout, the random "
                + "augmentation layers (RandomFlip, …), GaussianNoise and the like are dropped (identity at inference); a leading Rescaling becomes the input preprocessing. " + ExitStatus.helpText)

        @Argument(help: "A Keras model: legacy .h5, .weights.h5 or .keras.")
        var input: String

        @Option(name: .shortAndLong, help: "Output .lrm file.")
        var output: String

        @Option(help: ArgumentHelp("A Keras config JSON or .keras file with the architecture, for weights-only files.", valueName: "file"))
        var config: String?

        @OptionGroup var weights: WeightMatchOptions

        @OptionGroup var preprocessing: PreprocessingOptions

        @OptionGroup var userMetadata: UserMetadataOptions

        @Flag(help: "Store NaN or infinite weights as they are (by default they are refused, naming the layer).")
        var allowNonFinite = false

        @Flag(help: "Write the output under a name that does not end in .lrm.")
        var forceExtension = false

        func validate() throws {
            try weights.check(architectureOptions: [("--config", config)])
            try OutputFiles.checkExtension(output, content: .container, force: forceExtension)
        }

        /// Non-finite weights are refused unless `--allow-non-finite`.
        static let nonFinitePolicy = ModelSource.NonFinitePolicy.refuse(
            hint: "lrm convert cannot factorize them; import them anyway with --allow-non-finite")

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([input, config])
                try OutputFiles.refuseOverwritingInputs(output, inputs: [("input", input), ("--config file", config)])
                try OutputFiles.checkWritable(output, option: "-o")
                if case .keras(let container) = try ModelSource.kind(of: input), !KerasSubprocess.inProcess {
                    // The Keras child applies the options and writes the output itself: the model never
                    // crosses to this process.
                    try ArchitectureOption.checkExists(config, option: "--config")
                    try KerasSubprocess.importFile(input, container: container, architecture: config, output: output,
                                                   extra: (weights.match.map { ["--match=\($0.rawValue)"] } ?? []) + preprocessing.arguments
                                                       + userMetadata.arguments + (allowNonFinite ? ["--allow-non-finite"] : []))
                } else {
                    var model = try ModelSource.load(input, architecture: config, preprocessing: preprocessing,
                                                     nonFinite: allowNonFinite ? .accept : Self.nonFinitePolicy, match: weights.match)
                    model.metadata[MetadataKey.writer] = .string("lrm \(LRM.version)")
                    try userMetadata.apply(to: &model)
                    try OutputFiles.writeContainer(model, to: output)
                }
                let header = try ContainerFile(path: output).header
                let summary = ModelSummary(header: header)
                print("wrote \(output): \(header.model.layers.count) layers, \(Format.count(summary.parametersAfter)) parameters")
                if let dropped = MetadataKey.droppedLayersText(in: header.metadata) { print("note: " + dropped) }
            }
        }
    }
}
