import ArgumentParser
import Foundation
import LRMDatasets
import LRMFormat
import LRMPipeline

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
        if ValidationPlacement(rawValue: validation) == nil { throw ValidationError("--validation must be last or random, found '\(validation)'") }
        if calibrationSamples < 1 || validationSamples < 1 { throw ValidationError("--calibration-samples and --validation-samples must be at least 1") }
    }

    var name: DatasetName? { dataset.flatMap(DatasetName.init(rawValue:)) }

    /// The library's description of the data these options select.
    var selection: DataSelection {
        DataSelection(dataset: name, folder: data, calibrationSamples: calibrationSamples, validationSamples: validationSamples,
                      placement: ValidationPlacement(rawValue: validation) ?? .last, seed: dataSeed,
                      layout: dataLayout.flatMap(SampleLayout.init(rawValue:)))
    }
}
