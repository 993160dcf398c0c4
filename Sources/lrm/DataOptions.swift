import ArgumentParser
import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMVerify

/// Where data for calibration, validation and testing comes from.
struct DataOptions: ParsableArguments {
    @Option(help: "Data set for calibration and rank search: mnist, fashion-mnist, cifar-10, cifar-100, cifar-100-coarse.")
    var dataset: String?

    @Option(help: ArgumentHelp("Folder with the data sets (default: $LRM_DATA, else ../shared/datasets, else ./data).", valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("Training samples used for calibration statistics.", valueName: "N"))
    var calibrationSamples: Int = 5000

    @Option(help: ArgumentHelp("Training samples (disjoint from calibration) used to check candidates in a rank search.", valueName: "N"))
    var validationSamples: Int = 5000

    @Option(help: ArgumentHelp("Which training samples validate a rank search: last (the final N records, which Keras's validation_split holds out from training) or random (a seeded sample).", valueName: "where"))
    var validation: String = "last"

    @Option(help: ArgumentHelp("Seed that picks the calibration and validation samples.", valueName: "seed"))
    var dataSeed: UInt64 = 1

    @Option(help: ArgumentHelp("Sample order fed to the model: hwc, chw or features (default: from the model).", valueName: "layout"))
    var dataLayout: String?

    func validate() throws {
        if let dataset, DatasetName(rawValue: dataset) == nil {
            throw ValidationError("unknown data set '\(dataset)'; expected one of \(DatasetName.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let dataLayout, SampleLayout(rawValue: dataLayout) == nil {
            throw ValidationError("--data-layout must be hwc, chw or features, found '\(dataLayout)'")
        }
        if !["last", "random"].contains(validation) { throw ValidationError("--validation must be last or random, found '\(validation)'") }
        if calibrationSamples < 1 || validationSamples < 1 { throw ValidationError("--calibration-samples and --validation-samples must be at least 1") }
    }

    var name: DatasetName? { dataset.flatMap(DatasetName.init(rawValue:)) }

    func open(_ split: DatasetSplit) throws -> Dataset {
        guard let name else { throw CommandFailure(status: .usage, message: "this needs a data set: give it with --dataset") }
        let folder = DataFolder.resolve(flag: data)
        do {
            return try Dataset.open(name, split: split, in: folder)
        } catch let error as DatasetError {
            let missing = !FileManager.default.fileExists(atPath: folder.directory(for: name).path)
            throw CommandFailure(status: missing ? .missingInput : .invalidInput, message: error.description)
        }
    }

    /// Disjoint calibration and validation subsets of the training split.
    func trainingSubsets() throws -> (calibration: Dataset, validation: Dataset) {
        let train = try open(.train)
        guard train.sampleCount >= calibrationSamples + validationSamples else {
            throw CommandFailure(status: .usage, message: "the training split has \(train.sampleCount) samples, fewer than "
                                 + "--calibration-samples + --validation-samples")
        }
        if validation == "last" {
            let split = train.sampleCount - validationSamples
            let held = try train.subset(.indices(Array(split..<train.sampleCount)))
            let rest = try train.subset(.first(split))
            return (try rest.subset(.seededSample(count: calibrationSamples, seed: dataSeed)), held)
        }
        let (calibration, rest) = try train.partition(sampleCount: calibrationSamples, seed: dataSeed)
        let (validationSet, _) = try rest.partition(sampleCount: validationSamples, seed: dataSeed &+ 1)
        return (calibration, validationSet)
    }

    func layout(for model: Model) -> SampleLayout {
        Verifier.sampleLayout(for: model.input, override: dataLayout.flatMap(SampleLayout.init(rawValue:)))
    }

    /// Streams `dataset` through the original model and collects its dense layers' input statistics.
    func calibrate(_ model: Model, on dataset: Dataset) throws -> CalibrationStatistics {
        let accumulator = try CalibrationAccumulator(model: model)
        try dataset.forEachBatch(size: 500, layout: layout(for: model)) { batch in
            try accumulator.add(batch.pixels, sampleCount: batch.count)
        }
        return accumulator.finish(source: CalibrationSource(dataset: dataset.name.rawValue, split: "train",
                                                            count: dataset.sampleCount, seed: dataSeed))
    }
}
