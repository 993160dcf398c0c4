import Foundation
public import LRMCompress
public import LRMDatasets
public import LRMFormat
public import LRMVerify

/// Which training records validate a rank search.
public enum ValidationPlacement: String, Sendable, CaseIterable {
    /// The final N records of the training split (what Keras's `validation_split` holds out from training).
    case last
    /// A seeded random sample.
    case random
}

/// Where calibration, validation and test data come from, and how much of it.
public struct DataSelection: Sendable {
    /// The data set; nil when the request needs no data.
    public var dataset: DatasetName?
    /// The data folder given explicitly (else `$LRM_DATA`, `../shared/datasets`, `./data`: ``DataFolder/resolve(flag:environment:)``).
    public var folder: String?
    /// Training samples used for calibration statistics.
    public var calibrationSamples: Int
    /// Training samples (disjoint from calibration) that check candidates in a rank search.
    public var validationSamples: Int
    public var placement: ValidationPlacement
    /// Seed that picks the calibration and validation samples.
    public var seed: UInt64
    /// Sample order fed to the model; nil: from the model.
    public var layout: SampleLayout?
    /// The user's own data instead of `dataset` (made into splits for a model by `resolved(for:)`).
    public var ownData: OwnDataSource?
    /// `ownData` split for the model being converted or evaluated.
    public private(set) var ownSplits: OwnDataSplits?
    /// With own data, ignore `calibrationSamples` and `validationSamples` (defaults the user did not
    /// choose): validate on a fifth of the training records (at least one) and calibrate on the rest.
    public var fitsSizesToOwnData = false
    /// Whether ``calibrationSamples`` and ``validationSamples`` were chosen (`--calibration-samples`, `--validation-samples`) or
    /// are defaults: a training split too small for them says which. With own data a size not chosen is fitted to the
    /// records as when neither is (``fitsSizesToOwnData``): validation a fifth of them, calibration the records not validating.
    public var calibrationSamplesGiven = true
    public var validationSamplesGiven = true
    /// The model's file as the user named it: errors about own data that do not fit the model name it so
    /// (`the model my.lrm`), else by the model's recorded name.
    public var modelPath: String?

    public init(dataset: DatasetName? = nil, folder: String? = nil, calibrationSamples: Int = 5000, validationSamples: Int = 5000,
                placement: ValidationPlacement = .last, seed: UInt64 = 1, layout: SampleLayout? = nil) {
        self.dataset = dataset
        self.folder = folder
        self.calibrationSamples = calibrationSamples
        self.validationSamples = validationSamples
        self.placement = placement
        self.seed = seed
        self.layout = layout
    }

    /// Whether any data is selected (a bundled data set or own data).
    public var hasData: Bool { dataset != nil || ownData != nil }

    /// The task the data is scored as: from own data's splits, else multi-class (the bundled sets).
    public var task: TaskKind { ownSplits?.task ?? .multiclass }

    /// The selection with own data read and split for `model` (unchanged for a bundled data set).
    public func resolved(for model: Model) throws -> DataSelection {
        try resolved { try $0.splits(for: model, path: modelPath) }
    }

    /// The same for a mapped model, from its header alone (`OwnDataSource.splits(for:path:)`); errors name the
    /// model by `path` when given (the file the user named), else by `modelPath`, else by its recorded name.
    public func resolved(for model: MappedModel, path: String? = nil) throws -> DataSelection {
        try resolved { try $0.splits(for: model, path: path ?? modelPath) }
    }

    /// Throws unless a bundled data set's samples fit `model` (its input takes as many values as a sample holds, and
    /// it has an output per class: ``Verifier/checkFits(model:inputShape:outputShape:data:sampleShape:classCount:)``,
    /// the check verify makes too, from the header's shapes): said before any data is read, naming the model by `path`
    /// (the file the user named) when given, else by its recorded name. Own data are checked when they are split
    /// (``resolved(for:path:)``).
    public func checkFits(_ model: MappedModel, path: String? = nil) throws {
        try checkFits(name: model.name, input: model.input, outputShape: { try model.header.outputShape() }, path: path)
    }

    /// The same for a model in memory (from its layers' shapes: no weight is read).
    public func checkFits(_ model: Model, path: String? = nil) throws {
        try checkFits(name: model.name, input: model.input, outputShape: { try model.outputShape() }, path: path)
    }

    private func checkFits(name: String, input: InputSpec, outputShape: () throws -> [Int], path: String?) throws {
        guard ownData == nil, let dataset else { return }
        let subject = path ?? "the model '\(escaped(name))'"
        do {
            try Verifier.checkFits(model: "the model", inputShape: input.shape, outputShape: outputShape, data: dataset.rawValue,
                                   sampleShape: dataset.storedShape, classCount: dataset.classCount)
        } catch let error as VerificationError {
            throw PipelineError(.dataInvalid, "\(subject): \(error.message)", cause: error)
        }
    }

    /// The selection with its own data split by `split` (unchanged without own data, or once split).
    private func resolved(_ split: (OwnDataSource) throws -> OwnDataSplits) throws -> DataSelection {
        guard let ownData, ownSplits == nil else { return self }
        var copy = self
        copy.ownSplits = try split(ownData)
        return copy
    }

    /// One split of the data set.
    public func open(_ split: DatasetSplit) throws -> Dataset {
        if let ownSplits { return split == .train ? ownSplits.train : ownSplits.test }
        if ownData != nil { throw PipelineError(.badRequest, "own data is split for a model: call resolved(for:) first") }
        guard let dataset else { throw PipelineError(.badRequest, "this needs data: give a data set with --dataset, or your own with --inputs and --labels") }
        let folder = DataFolder.resolve(flag: self.folder)
        do {
            let opened = try Dataset.open(dataset, split: split, in: folder)
            // A data file that differs from its folder's SHA256SUMS is refused, never used silently.
            try folder.verifyListedChecksums(of: opened)
            return opened
        } catch let error as DatasetError where error.kind == .checksumMismatch {
            throw PipelineError(.dataChecksum, error.description, cause: error)
        } catch let error as DatasetError {
            let missing = !FileManager.default.fileExists(atPath: folder.directory(for: dataset).path)
            if !missing {
                // A damaged file its folder's SHA256SUMS lists: the mismatch says what happened.
                do { try folder.verifyListedChecksums(in: folder.directory(for: dataset)) } catch let mismatch as DatasetError where mismatch.kind == .checksumMismatch {
                    throw PipelineError(.dataChecksum, mismatch.description, cause: mismatch)
                } catch {}
            }
            throw PipelineError(missing ? .dataMissing : .dataInvalid, error.description, cause: error)
        }
    }

    /// How many training samples calibrate and how many validate: the options', or with own data, for a size not chosen
    /// (`fitsSizesToOwnData`, else `calibrationSamplesGiven` / `validationSamplesGiven` false), a fifth of the
    /// `trainingSamples` (at least 1) for validation and the rest (at least 1) for calibration.
    func subsetSizes(trainingSamples: Int) -> (calibration: Int, validation: Int) {
        guard ownSplits != nil else { return (calibrationSamples, validationSamples) }
        let validation = fitsSizesToOwnData || !validationSamplesGiven ? max(1, Int((Double(trainingSamples) * 0.2).rounded())) : validationSamples
        // Compared, not subtracted, when given: a given size may be as large as Int.max.
        let calibration = fitsSizesToOwnData || !calibrationSamplesGiven
            ? (validation < trainingSamples ? trainingSamples - validation : 1) : calibrationSamples
        return (max(1, calibration), validation)
    }

    /// Why a training split of `trainingSamples` cannot hold `calibration` + `validation` samples: own data name the
    /// inputs file, and sizes the user did not give (``fitsSizesToOwnData``, ``calibrationSamplesGiven``,
    /// ``validationSamplesGiven``) are said as what they default to.
    func subsetShortfall(trainingSamples: Int, calibration: Int, validation: Int) -> String {
        let own = ownData != nil && ownSplits != nil
        func size(_ option: String, _ value: Int, given: Bool, ownDefault: String) -> String {
            // With own data a size not given is fitted to the records (when neither is, the line below says so).
            "\(option) \(value) (\(given ? "given" : own ? "\(ownDefault), the default with --inputs" : "the default"))"
        }
        let sizes = size("--calibration-samples", calibration, given: calibrationSamplesGiven,
                         ownDefault: "the training records not validating, at least 1") + " + "
            + size("--validation-samples", validation, given: validationSamplesGiven, ownDefault: "a fifth of the training records, at least 1")
        let advice = "give smaller sizes with --calibration-samples and --validation-samples"
        guard let ownData, own else { return "the training split has \(trainingSamples) samples, fewer than \(sizes): \(advice)" }
        let records = "\(trainingSamples) record\(trainingSamples == 1 ? "" : "s")"
        guard fitsSizesToOwnData else {
            return "\(ownData.inputs): the training split has \(records), fewer than \(sizes): \(advice), or more records"
        }
        return "\(ownData.inputs): the training split has \(records), fewer than the 2 that calibration and validation need: without "
            + "--calibration-samples and --validation-samples a fifth of the training records (at least 1) validate and the rest (at least 1) "
            + "calibrate, here \(calibration) + \(validation); give more records\(ownData.testInputs == nil ? " or a smaller --test-fraction" : "")"
    }

    /// Disjoint calibration and validation subsets of the training split.
    public func trainingSubsets() throws -> (calibration: Dataset, validation: Dataset) {
        let train = try open(.train)
        let (calibrationSamples, validationSamples) = subsetSizes(trainingSamples: train.sampleCount)
        // Compared without adding them: either may be as large as Int.max (--calibration-samples 9223372036854775807).
        guard calibrationSamples <= train.sampleCount, validationSamples <= train.sampleCount - calibrationSamples else {
            throw PipelineError(.badRequest, subsetShortfall(trainingSamples: train.sampleCount, calibration: calibrationSamples,
                                                             validation: validationSamples))
        }
        switch placement {
        case .last:
            let split = train.sampleCount - validationSamples
            let held = try train.subset(.indices(Array(split..<train.sampleCount)))
            let rest = try train.subset(.first(split))
            return (try rest.subset(.seededSample(count: calibrationSamples, seed: seed)), held)
        case .random:
            let (calibration, rest) = try train.partition(sampleCount: calibrationSamples, seed: seed)
            let (validationSet, _) = try rest.partition(sampleCount: validationSamples, seed: seed &+ 1)
            return (calibration, validationSet)
        }
    }

    /// The sample order `model` is fed.
    public func layout(for model: Model) -> SampleLayout {
        Verifier.sampleLayout(for: model.input, override: layout)
    }

    /// Streams `dataset` through the original model and collects its dense layers' input statistics.
    public func calibrate(_ model: Model, on dataset: Dataset, progress: ProgressHandler? = nil) throws -> CalibrationStatistics {
        let accumulator = try CalibrationAccumulator(model: model)
        try dataset.forEachBatch(size: 500, layout: layout(for: model)) { batch in
            try accumulator.add(batch.pixels, sampleCount: batch.count)
            progress?(ProgressEvent(phase: "calibration", done: batch.range.upperBound, total: dataset.sampleCount,
                                    message: "input statistics of \(dataset.sampleCount) training samples"))
        }
        return accumulator.finish(source: CalibrationSource(dataset: dataset.identifier, split: "train",
                                                            count: dataset.sampleCount, seed: seed))
    }

    /// Calibration statistics of `model` on the calibration subset of the training split.
    public func calibration(for model: Model, progress: ProgressHandler? = nil) throws -> CalibrationStatistics {
        try calibrate(model, on: try trainingSubsets().calibration, progress: progress)
    }
}
