import ArgumentParser
import Foundation
import LRMDatasets
import LRMFormat
import LRMPipeline

/// Which data set (bundled, or the user's own files), where, and in which sample order: shared by every
/// command that reads data.
struct DataSetOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Data set (or your own data with --inputs).", valueName: "dataset"))
    var dataset: DatasetName?

    @Option(help: ArgumentHelp("Folder with the data sets (default: $LRM_DATA, else ../shared/datasets, else ./data).", valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("Sample order of --dataset's images fed to the model: hwc, chw or features (default: from the model; flat models on colour images get Keras's HWC). Refused with --inputs, which are fed as stored.", valueName: "layout"))
    var dataLayout: SampleLayout?

    @OptionGroup var own: OwnDataOptions

    /// Whether data is given: a bundled data set or your own.
    var hasData: Bool { dataset != nil || own.inputs != nil }

    func validate() throws {
        if dataset != nil && own.inputs != nil { throw ValidationError("give --dataset or --inputs (your own data), not both") }
        if data != nil && own.inputs != nil {
            throw ValidationError("--data is the folder of the bundled data sets (--dataset); your own data (--inputs) are read from their files, not from it")
        }
        if dataLayout != nil && own.inputs != nil {
            // Own samples are fed as stored, in the model's input shape: the layout would not be read.
            throw ValidationError("--data-layout orders the samples of the bundled data sets (--dataset); your own data (--inputs) are fed as stored, in the model's input shape, so it would not be read")
        }
    }
}

/// Where data for calibration, validation and testing comes from.
struct DataOptions: ParsableArguments {
    @OptionGroup var dataSet: DataSetOptions

    @Option(help: ArgumentHelp("Training samples used for calibration statistics (default 5000; with --inputs, every training record not used for validation).", valueName: "N"))
    var calibrationSamples: Int?

    @Option(help: ArgumentHelp("Training samples (disjoint from calibration) used to check candidates in a rank search (default 5000; with --inputs, a fifth of the training records).", valueName: "N"))
    var validationSamples: Int?

    @Option(name: .customLong("validation"),
            help: ArgumentHelp("Which training samples validate a rank search: last (the final N records, which Keras's validation_split holds out from training) or random (a seeded sample). (default: \(DataOptions.defaultValidation.rawValue))", valueName: "where"))
    var givenValidation: ValidationPlacement?

    @Option(name: .customLong("data-seed"), help: ArgumentHelp("Seed that picks the calibration and validation samples. (default: \(DataOptions.defaultSeed))", valueName: "seed"))
    var givenDataSeed: UInt64?

    static let defaultValidation = ValidationPlacement.last
    static let defaultSeed: UInt64 = 1

    // Nil above means not given, so that an option given at its default is refused where any other value is.
    var validation: ValidationPlacement { givenValidation ?? Self.defaultValidation }
    var dataSeed: UInt64 { givenDataSeed ?? Self.defaultSeed }

    func validate() throws {
        if (calibrationSamples ?? 1) < 1 || (validationSamples ?? 1) < 1 { throw ValidationError("--calibration-samples and --validation-samples must be at least 1") }
    }

    var dataset: DatasetName? { dataSet.dataset }

    /// Whether data is given: a bundled data set or your own.
    var hasData: Bool { dataSet.hasData }

    /// The library's description of the data these options select.
    var selection: DataSelection {
        var selection = DataSelection(dataset: dataSet.dataset, folder: dataSet.data, calibrationSamples: calibrationSamples ?? 5000,
                                      validationSamples: validationSamples ?? 5000, placement: validation, seed: dataSeed,
                                      layout: dataSet.dataLayout)
        selection.ownData = dataSet.own.source
        selection.fitsSizesToOwnData = calibrationSamples == nil && validationSamples == nil
        selection.calibrationSamplesGiven = calibrationSamples != nil
        selection.validationSamplesGiven = validationSamples != nil
        return selection
    }
}
