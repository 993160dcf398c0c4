import ArgumentParser
import Foundation
import LRMFormat
import LRMKeras

extension LRM {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a .lrm model in another framework's format (Keras: legacy .h5 or Keras 3 .keras).",
            discussion: "--to keras writes what Keras's model.save(\"x.h5\") writes, or with -o x.keras what "
                + "model.save(\"x.keras\") writes in Keras 3 (a ZIP of config.json, metadata.json and model.weights.h5), loadable with "
                + "keras.models.load_model(path) without custom code. Each factorized layer becomes two Dense layers: "
                + "'<name>_factor_u' (in → k, kernel U·Σ, linear, no bias), then '<name>' (k → out, kernel Vᵀ, with the "
                + "bias and activation). Dense, activation, flatten and reshape layers become Dense, Activation, Flatten and "
                + "Reshape; a scale_shift layer becomes a BatchNormalization that computes x · scale + shift (moving mean 0, "
                + "moving variance 1 − ε). Weights are written as float32. The input preprocessing (x · scale + offset, from a "
                + "Keras Rescaling or --input-scale) is the first layer: a Rescaling named 'input_rescaling' (single values), "
                + "or a BatchNormalization 'input_normalization' (one value per channel of an HWC image or per feature), so "
                + "the Keras model takes the raw inputs `lrm predict` takes; preprocessing no Keras layer can hold (per "
                + "element of an image, per channel of a CHW input) is left out with a warning: that file expects inputs "
                + "already scaled (what `lrm predict --no-preprocess` takes). Keras 1-D layers (Conv1D, …, recorded in the "
                + "metadata source.keras_classes) are written as those 1-D layers (a factorized Conv1D as two Conv1D, the second "
                + "of kernel size 1 or the first, in the spatial form); where a layer's geometry has no 1-D form it is written as its 2-D "
                + "layer over a height of 1 between Reshape layers, with a note saying so. A Keras model is read as lrm import reads it (one whose config leaves its input shape open, "
                + "Input((None, 3)), for the shape --input-shape gives); the dimensions a source left open (metadata source.open_input_dims) "
                + "are written open again (None), unless a Reshape or Flatten fixes the sample's size. Layers dropped at import as the identity at inference (RandomFlip, GaussianNoise, …; metadata source.dropped_layers) are not written back, with a note saying so. Activations follow Keras 3 (tf-keras's hard_sigmoid differs); gelu_tanh has no Keras equivalent "
                + "and is refused. " + ExitStatus.helpText)

        /// The formats `--to` accepts.
        enum TargetFormat: String, ExpressibleByArgument, CaseIterable {
            /// Keras legacy full-model HDF5.
            case keras
        }

        @Argument(help: "A .lrm file (or a Keras model lrm reads).")
        var model: String

        @Option(help: ArgumentHelp("The output format.", valueName: "format"))
        var to: TargetFormat

        @Option(name: .shortAndLong, help: "Output file: .h5 or .hdf5 (legacy HDF5), or .keras (Keras 3 archive); Keras's load_model picks the format by the extension.")
        var output: String

        @Option(help: ArgumentHelp("A Keras config JSON or .keras file with the architecture, for weights-only files.", valueName: "file"))
        var config: String?

        @OptionGroup var weights: WeightMatchOptions

        @OptionGroup var shape: InputShapeOption

        @Flag(help: "Write the output under a name that does not end in .h5, .hdf5 or .keras (as legacy HDF5).")
        var forceExtension = false

        func validate() throws {
            try weights.check(architectureOptions: [("--config", config)])
            try OutputFiles.checkExtension(output, option: "--output", content: .kerasHDF5, force: forceExtension)
            try shape.refuseUnlessKeras(model)
        }

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([model, config])
                try OutputFiles.refuseOverwritingInputs(output, inputs: [("input", model), ("--config file", config)])
                try OutputFiles.checkWritable(output, option: "--output")
                let loaded = try load()
                let summary: KerasExportSummary
                do {
                    summary = output.lowercased().hasSuffix(".keras") ? try KerasExporter.writeArchive(loaded, to: output)
                                                                       : try KerasExporter.write(loaded, to: output)
                } catch let error as KerasExportError {
                    throw CommandFailure(status: error.kind == .writeFailed ? .cannotWrite : .invalidInput,
                                         message: error.description)
                }
                let split = Dictionary(grouping: summary.layers, by: \.sourceLayer).values.filter { $0.count > 1 }.count
                let splitNote = split > 0 ? " (\(split) factorized layer\(split == 1 ? "" : "s") split in two)" : ""
                var preprocessingNote = ""
                if case let .layer(name, className) = summary.preprocessing {
                    preprocessingNote = "; input preprocessing (scale \(Self.describe(loaded.input.scale)), offset "
                        + "\(Self.describe(loaded.input.offset))) as its first layer, \(className) '\(name)'"
                }
                // (1.4) A model with branches is written as a Functional model.
                let modelClass = loaded.layers.contains { $0.operation.usesSlots } ? "Functional" : "Sequential"
                let inputText = summary.inputShape.indices.map { summary.openInputDims.contains($0) ? "None" : String(summary.inputShape[$0]) }
                    .joined(separator: "×")
                print("wrote \(output): Keras \(modelClass) '\(escaped(summary.modelName))', input \(inputText), "
                      + "\(summary.layers.count) layers\(splitNote), \(Format.count(summary.parameterCount)) parameters\(preprocessingNote)")
                if let note = Self.sequenceNote(loaded, summary: summary) { print(note) }
                if let dropped = MetadataKey.droppedLayersText(in: loaded.metadata) {
                    // They compute nothing at inference; the export does not invent their configs back.
                    print("note: " + dropped + "; they are not written back (they compute nothing at inference)")
                }
                if let layer = summary.openInputDimsFixedBy {
                    let positions = summary.openInputDimsKeptFixed.map { "\($0 + 1)" }.joined(separator: ", ")
                    print("note: the input dimension\(summary.openInputDimsKeptFixed.count == 1 ? "" : "s") \(positions) the source left open "
                          + "(metadata source.open_input_dims) \(summary.openInputDimsKeptFixed.count == 1 ? "is" : "are") written fixed, "
                          + "as the model was mapped: its layer '\(escaped(layer))' fixes the sample's size")
                }
                if case let .notIncluded(reason) = summary.preprocessing {
                    printWarning("the model's input preprocessing (x · scale + offset: scale \(Self.describe(loaded.input.scale)), "
                                 + "offset \(Self.describe(loaded.input.offset))) is not part of the Keras model (\(reason)); feed it scaled inputs")
                }
            }
        }

        /// What became of a model's Keras 1-D layers (metadata `source.keras_classes`) where the export could not write
        /// them as their 1-D classes (``KerasExportSummary/layers``: each Keras layer names the lrm layer it comes from):
        /// those written as 2-D layers over a height of 1 (their geometry has no 1-D form), and those written as other 1-D
        /// classes (a SeparableConv1D whose halves no longer make one); said, never silently. Nil when every one was
        /// written as its class (a factorized Conv1D as two Conv1D, as a Dense is two Dense), or there are none.
        static func sequenceNote(_ model: Model, summary: KerasExportSummary) -> String? {
            let classes = MetadataKey.sourceKerasClasses(in: model.metadata)
            let written = Dictionary(grouping: summary.layers, by: \.sourceLayer).mapValues { $0.map(\.className) }
            var planar: [Layer<Tensor>] = [], other: [Layer<Tensor>] = []
            for layer in model.layers {
                guard let kerasClass = classes[layer.name] else { continue }
                let kinds = written[layer.name] ?? []
                if kinds.contains(where: { $0.hasSuffix("2D") || $0 == "Reshape" }) {
                    planar.append(layer)
                } else if kinds.contains(where: { $0 != kerasClass }) {
                    other.append(layer)
                }
            }
            func listed(_ layers: [Layer<Tensor>]) -> String {
                var kinds: [String] = []
                for layer in layers where !kinds.contains(classes[layer.name]!) { kinds.append(classes[layer.name]!) }
                return kinds.map(escaped).joined(separator: ", ") + ": " + layers.prefix(6).map { "'\(escaped($0.name))'" }.joined(separator: ", ")
                    + (layers.count > 6 ? ", …" : "")
            }
            var notes: [String] = []
            if !planar.isEmpty {
                notes.append("note: the Keras 1-D layers (\(listed(planar))) are written as 2-D layers over a height of 1, between Reshape layers "
                             + "([steps, channels] ↔ [1, steps, channels]), their geometry having no 1-D form: same input shape and outputs, "
                             + "not the original classes")
            }
            if !other.isEmpty {
                let used = Set(other.flatMap { written[$0.name] ?? [] }).sorted()
                notes.append("note: the Keras 1-D layers (\(listed(other))) are written as other 1-D layers (\(used.joined(separator: ", "))): "
                             + "same outputs")
            }
            return notes.isEmpty ? nil : notes.joined(separator: "\n")
        }

        /// Up to four values, for the preprocessing note.
        private static func describe(_ values: [Double]) -> String {
            values.isEmpty ? "none" : values.prefix(4).map { String($0) }.joined(separator: ", ") + (values.count > 4 ? ", …" : "")
        }

        /// The model in `model`: a `.lrm` container, or any Keras file lrm imports (read in a child process).
        private func load() throws -> Model {
            try shape.load(model, architecture: config, match: weights.match)
        }
    }
}
