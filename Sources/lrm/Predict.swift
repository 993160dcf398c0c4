import ArgumentParser
import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime

extension LRM {
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a model on inputs from a .npy file and write the outputs as .npy.",
            discussion: "Inputs are float32 or float64 arrays in C order, of shape [N, …sample shape] (or one sample), or any [N, …] "
                + "whose samples hold the model's number of input values in row-major order ([N, 784] or [N, 28, 28] for a 28×28×1 model). "
                + "They are taken as raw data: the model's preprocessing (scale, offset) is applied unless --no-preprocess. "
                + ExitStatus.helpText)

        @Argument(help: "A .lrm file or a Keras model.")
        var model: String

        @Option(help: "Input .npy file.")
        var input: String

        @Option(name: .shortAndLong, help: "Output .npy file (float32).")
        var output: String

        @Option(help: ArgumentHelp("A Keras config JSON or .keras file with the architecture, for weights-only files.", valueName: "file"))
        var config: String?

        @OptionGroup var weights: WeightMatchOptions

        @Flag(help: "Feed the inputs to the first layer as they are, without the model's preprocessing (refused with --input-scale and --input-offset, which set it).")
        var noPreprocess = false

        @Flag(help: "Write the output under a name that does not end in .npy.")
        var forceExtension = false

        @Flag(help: "Run inputs that hold NaN or infinite values (by default they are refused, naming the first).")
        var allowNonFiniteInputs = false

        func validate() throws {
            try weights.check(architectureOptions: [("--config", config)])
            try OutputFiles.checkExtension(output, content: .predictions, force: forceExtension)
            if noPreprocess, let flag = [("--input-scale", preprocessing.inputScale), ("--input-offset", preprocessing.inputOffset)].first(where: { $0.1 != nil })?.0 {
                // --no-preprocess feeds the inputs as they are: a scale or offset would not be applied at all.
                throw ValidationError("\(flag) sets the preprocessing that --no-preprocess leaves out (the inputs are fed to the first layer as they are): give one or the other")
            }
        }

        @OptionGroup var preprocessing: PreprocessingOptions

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([model, input, config])
                try OutputFiles.refuseOverwritingInputs(output, inputs: [("model", model), ("--input file", input), ("--config file", config)])
                try OutputFiles.checkWritable(output, option: "-o")
                // Mapped, not loaded: the weights are used in place in the file (a Keras file's in the
                // child's scratch file), so resident memory stays below the file's size.
                let mapped = try ModelSource.map(model, architecture: config, preprocessing: preprocessing, nonFinite: .accept, match: weights.match)
                let runner = try ModelSource.runner(mapped, path: model)
                let array: NumPyArray
                do { array = try NPY.read(path: input) } catch {
                    let unreadable = (error as? NumPyError)?.kind == .unreadable
                    // A .csv or .npz, which the own-data options of verify, convert and sweep read, is not what predict reads.
                    let suffix = URL(fileURLWithPath: input).pathExtension.lowercased()
                    if !unreadable, ["csv", "npz", "txt", "tsv"].contains(suffix) {
                        throw CommandFailure(status: .invalidInput, message: "\(input): predict reads one .npy array of inputs, not a .\(suffix) "
                                             + "file; save the inputs with numpy.save (a .npz's array: numpy.save('x.npy', np.load(file)['x']))")
                    }
                    throw CommandFailure(status: unreadable ? .missingInput : .invalidInput, message: String(describing: error))
                }
                let sampleShape = runner.inputShape
                let samples: Int
                if array.shape == sampleShape {
                    samples = 1
                } else if array.shape.count == sampleShape.count + 1, Array(array.shape.dropFirst()) == sampleShape {
                    samples = array.shape[0]
                } else if array.shape.count >= 2, array.shape.dropFirst().reduce(1, *) == runner.inputElementCount {
                    // [N, 784] or [N, 28, 28] for a 28×28×1 model: a sample's values in row-major order, as --inputs takes them.
                    samples = array.shape[0]
                } else {
                    throw CommandFailure(status: .invalidInput, message: "\(input): input of shape \(array.shape) does not fit the model's "
                                         + "sample shape \(sampleShape); expected [N, \(sampleShape.map(String.init).joined(separator: ", "))] "
                                         + "or any [N, …] whose samples hold \(runner.inputElementCount) values")
                }
                let values = array.floatValues()
                let inputScan = NonFiniteScan(values, width: runner.inputElementCount)
                if !inputScan.allFinite && !allowNonFiniteInputs {
                    throw CommandFailure(status: .invalidInput, message: "\(input): \(inputScan.describe(position: "feature")); "
                                         + "run them anyway with --allow-non-finite-inputs")
                }
                let outputs: [Float]
                do {
                    outputs = try runner.run(values, sampleCount: samples, preprocess: !noPreprocess)
                } catch {
                    throw CommandFailure.evaluating(model, failedWith: error)
                }
                let result = try NumPyArray(shape: [samples] + runner.outputShape, float32: outputs)
                do { try NPY.write(result, to: output) } catch {
                    throw CommandFailure(status: .cannotWrite, message: String(describing: error))
                }
                print("wrote \(output): \(samples) × \(runner.outputShape.map(String.init).joined(separator: "×"))")
                let outputScan = NonFiniteScan(outputs, width: runner.outputElementCount)
                if !outputScan.allFinite {
                    let cause = inputScan.allFinite ? "from finite inputs: the model overflows" : "(the inputs held \(inputScan.count) non-finite values)"
                    printDiagnostic("warning", "\(output): outputs: \(outputScan.describe(position: "output")) \(cause)")
                }
            }
        }
    }
}
