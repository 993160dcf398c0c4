public import LRMDatasets
public import LRMFormat
public import LRMVerify
import LRMRuntime

/// Data the user gives as files instead of a bundled data set (`--inputs`, `--labels`, …).
///
/// Splitting follows the bundled sets' rules: the test split is `testInputs`/`testLabels` when given,
/// else the last `testFraction` of the records (the held-out end, as Keras's `validation_split` takes
/// it); calibration and validation then come from the rest exactly as from a bundled training split
/// (`DataSelection.trainingSubsets`). Samples are fed as stored (no layout change) and raw: each model
/// applies its own preprocessing.
public struct OwnDataSource: Sendable, Equatable {
    public var inputs: String
    public var labels: String?
    public var labelColumn: String?
    public var testInputs: String?
    public var testLabels: String?
    /// The fraction (0–1) of the records held out as the test split when no test files are given.
    public var testFraction: Double
    /// The task, else inferred from the model and the labels (`TaskKind.resolve`).
    public var task: TaskKind?
    /// Binary tasks: an output at or above this is a positive decision; nil: ``defaultThreshold``. One given (even
    /// at the default) is refused for a task that is not binary.
    public var threshold: Double?
    /// The threshold when none is given.
    public static let defaultThreshold = 0.5

    public init(inputs: String, labels: String? = nil, labelColumn: String? = nil, testInputs: String? = nil, testLabels: String? = nil,
                testFraction: Double = 0.2, task: TaskKind? = nil, threshold: Double? = nil) {
        self.inputs = inputs
        self.labels = labels
        self.labelColumn = labelColumn
        self.testInputs = testInputs
        self.testLabels = testLabels
        self.testFraction = testFraction
        self.task = task
        self.threshold = threshold
    }

    /// Reads the files and makes the training and test splits for `model`, with the task resolved. The model's
    /// outputs are counted from its layers' shapes (`Model.outputShape()`), as a mapped model's are from its header:
    /// no weight is converted for this (the model is prepared to run where it is run).
    ///
    /// - Throws: `PipelineError`: `.dataMissing`, `.dataInvalid` (unreadable files, labels that do not fit
    ///   the task, samples of another size than the model takes), `.badRequest` (an ambiguous task, too few
    ///   records to hold out a test split). `path`: the model's file as the user named it, for the errors to
    ///   name (else they name the model's recorded name).
    public func splits(for model: Model, path: String? = nil) throws -> OwnDataSplits {
        try splits(named: ModelNaming(name: model.name, path: path), input: model.input, classNames: model.classNames,
                   outputActivation: model.outputActivation) {
            let shapes = try model.layerOutputShapes()
            try InferenceModel.checkSampleSizes(model: model.name, input: model.input.shape,
                                                layers: zip(model.layers, shapes).map { ($0.name, $1) })
            return (shapes.last ?? model.input.shape).reduce(1, *)
        }
    }

    /// The same for a mapped model, from its header alone (its description, the layers' output shapes):
    /// no tensor is read, so a large model is never in memory for this. The model is taken as valid
    /// (a header that opened is); its runtime limits are checked where it is run (`InferenceModel(mapped:)`).
    /// `path`: the model's file as the user named it, for the errors to name (else they name the model's
    /// recorded name; a Keras file's mapped model lies in a scratch file, so the mapping's path would not do).
    public func splits(for model: MappedModel, path: String? = nil) throws -> OwnDataSplits {
        let header = model.header
        return try splits(named: ModelNaming(name: model.name, path: path), input: model.input, classNames: model.classNames,
                          outputActivation: header.model.outputActivation) {
            let shapes = try header.layerOutputShapes()
            try InferenceModel.checkSampleSizes(model: model.name, input: model.input.shape,
                                                layers: zip(header.model.layers, shapes).map { ($0.name, $1) })
            return (shapes.last ?? model.input.shape).reduce(1, *)
        }
    }

    /// How the errors name the model: by the file the user gave when known, else by its recorded name.
    struct ModelNaming {
        var name: String
        var path: String?
        /// `the model my.lrm`, or `the model 'mnist_mlp'`.
        var phrase: String { "the model " + (path ?? "'\(escaped(name))'") }
        /// What an error of the model itself starts with: `my.lrm`, or `mnist_mlp`.
        var subject: String { path ?? escaped(name) }
    }

    /// Splitting for a model described by its name (or file), input, class names and output activation;
    /// `outputCount` gives its number of outputs (asked once the data have been read and matched), having refused a
    /// model whose samples exceed the runtime's limit (``InferenceModel/checkSampleSizes(model:input:layers:)``), as
    /// preparing it to run would: its outputs size the class names made here.
    func splits(named model: ModelNaming, input: InputSpec, classNames: [String], outputActivation: Activation?,
                outputCount: () throws -> Int) throws -> OwnDataSplits {
        let all = try OwnDataReader.read(inputs: inputs, labels: labels, labelColumn: labelColumn)
        let train: OwnArrays, test: OwnArrays
        // Every label, for the task to be resolved from: the file's array when both splits are parts of it.
        let allLabels: FlattenSequence<[OwnLabels]>
        if let testInputs {
            test = try OwnDataReader.read(inputs: testInputs, labels: testLabels, labelColumn: labelColumn, labelsOption: "--test-labels")
            guard test.sampleShape.reduce(1, *) == all.sampleShape.reduce(1, *), test.labelWidth == all.labelWidth else {
                throw PipelineError(.dataInvalid, "\(testInputs): samples of shape \(test.sampleShape) with \(test.labelWidth) label(s) each; "
                                    + "\(inputs) has \(all.sampleShape) with \(all.labelWidth)")
            }
            train = all
            allLabels = [train.labels, test.labels].joined()
        } else {
            let held = Int((Double(all.sampleCount) * testFraction).rounded())
            guard held >= 1, held < all.sampleCount else {
                throw PipelineError(.badRequest, "\(inputs): \(all.sampleCount) records cannot be split into training and a test fraction of "
                                    + "\(testFraction); give --test-inputs or another --test-fraction")
            }
            let cut = all.sampleCount - held
            train = all.slice(0..<cut, note: "records 0..<\(cut)")
            test = all.slice(cut..<all.sampleCount, note: "the last \(held) records held out for testing")
            allLabels = [all.labels].joined()
        }
        let features = train.sampleShape.reduce(1, *)
        guard features == input.elementCount else {
            throw PipelineError(.dataInvalid, "\(inputs): samples have \(features) values (shape \(train.sampleShape)); \(model.phrase) "
                                + "takes \(input.elementCount) (shape \(input.shape))")
        }
        let outputs: Int
        do { outputs = try outputCount() } catch {
            throw PipelineError(.dataInvalid, "\(model.subject): \(error)", cause: error)
        }
        // A given binary task that the model cannot be is the option's fault, not the labels' (said before them).
        if self.task == .binary, outputs != 1 {
            throw PipelineError(.badRequest, "--task binary needs a model with one output (a sigmoid); \(model.phrase) has \(outputs)")
        }
        let task: TaskKind
        do {
            task = try TaskKind.resolve(given: self.task, outputCount: outputs, outputActivation: outputActivation,
                                        labels: allLabels, model: model.phrase)
        } catch let error as VerificationError {
            throw PipelineError(error.kind == .ambiguousTask ? .badRequest : .dataInvalid, "\(labels ?? inputs): \(error.message)", cause: error)
        }
        if task != .binary, threshold != nil {
            throw PipelineError(.badRequest, "--threshold applies to a binary classifier (one sigmoid output, labels 0 and 1); "
                                + "on these labels the task of \(model.phrase) is \(task == .multiclass ? "multi-class" : task.rawValue)")
        }
        if task == .regression, train.labelWidth != outputs {
            throw PipelineError(.dataInvalid, "\(labels ?? inputs): \(train.labelWidth) target(s) per sample; \(model.phrase) has \(outputs) outputs")
        }
        if task != .regression, train.labelWidth != 1 {
            throw PipelineError(.dataInvalid, "\(labels ?? inputs): \(train.labelWidth) labels per sample; a \(task.rawValue) task takes one class per sample")
        }
        func dataset(_ arrays: OwnArrays, _ split: DatasetSplit) throws -> Dataset {
            let description = "own data \(split.rawValue): \(arrays.sampleCount) samples from \(arrays.source)"
            do {
                if task == .regression {
                    return try Dataset(arrays: arrays.features, sampleShape: input.shape, targets: arrays.labels.floats,
                                       targetWidth: arrays.labelWidth, split: split, description: description)
                }
                let classes = task == .binary ? 2 : outputs
                let names = classNames.count == classes ? classNames : (0..<classes).map(String.init)
                return try Dataset(arrays: arrays.features, sampleShape: input.shape, labels: arrays.labels.map { Int($0) },
                                   classNames: names, split: split, description: description)
            } catch let error as DatasetError {
                throw PipelineError(.dataInvalid, "\(labels ?? inputs): \(error.description)", cause: error)
            }
        }
        return OwnDataSplits(train: try dataset(train, .train), test: try dataset(test, .test), task: task,
                              threshold: threshold ?? Self.defaultThreshold)
    }
}

/// Own data split for one model.
public struct OwnDataSplits: Sendable {
    public var train: Dataset
    public var test: Dataset
    public var task: TaskKind
    public var threshold: Double
}
