import ArgumentParser
import LRMFormat
import LRMPipeline
import LRMVerify

/// The user's own data, wherever a data set is accepted: `--inputs X.npy --labels Y.npy`, an `.npz` with
/// `x` and `y`, or a CSV with a header and a label column.
struct OwnDataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Your own samples instead of --dataset: X.npy (first axis: samples, in the model's input shape), an .npz with arrays x and y, or a CSV with a header row (with --label-column). Raw values: the model's preprocessing is applied.", valueName: "file"))
    var inputs: String?

    @Option(help: ArgumentHelp("Labels for --inputs: Y.npy (class indices, 0/1, or regression targets) or a one-column CSV.", valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("The CSV column holding the labels (the other columns are the features): of --inputs when it is a CSV and --labels is not given, else of a CSV --labels (the same for the test files). Refused where no CSV holds the labels.", valueName: "name"))
    var labelColumn: String?

    @Option(help: ArgumentHelp("A separate test split (same forms as --inputs; not the --inputs file itself); without it the last --test-fraction of the records is held out.", valueName: "file"))
    var testInputs: String?

    @Option(help: ArgumentHelp("Labels for --test-inputs (not the --labels file).", valueName: "file"))
    var testLabels: String?

    @Option(name: .customLong("test-fraction"),
            help: ArgumentHelp("Fraction of --inputs' records (the last ones) held out as the test split when --test-inputs is not given. (default: \(OwnDataOptions.defaultTestFraction))", valueName: "F"))
    var givenTestFraction: Double?

    static let defaultTestFraction = 0.2

    /// `--test-fraction`, or its default: nil above means not given, so that giving the default is refused where any value is.
    var testFraction: Double { givenTestFraction ?? Self.defaultTestFraction }

    @Option(help: ArgumentHelp("What the model predicts (default: from the model's output layer and the labels).", valueName: "task"))
    var task: TaskKind?

    @Option(name: .customLong("threshold"),
            help: ArgumentHelp("Binary task: an output at or above this is a positive decision (refused for another task). (default: \(OwnDataSource.defaultThreshold))", valueName: "T"))
    var givenThreshold: Double?

    /// `--threshold`, or its default.
    var threshold: Double { givenThreshold ?? OwnDataSource.defaultThreshold }

    func validate() throws {
        if inputs == nil {
            for (flag, value) in [("--labels", labels), ("--label-column", labelColumn), ("--test-inputs", testInputs), ("--test-labels", testLabels),
                                  ("--task", task?.rawValue), ("--test-fraction", givenTestFraction.map { "\($0)" }),
                                  ("--threshold", givenThreshold.map { "\($0)" })]
            where value != nil {
                throw ValidationError("\(flag) goes with --inputs (your own data); give --inputs")
            }
        }
        if testLabels != nil && testInputs == nil { throw ValidationError("--test-labels goes with --test-inputs") }
        if !(testFraction > 0 && testFraction < 1) { throw ValidationError("--test-fraction must be between 0 and 1 (exclusive), found \(testFraction)") }
        if !threshold.isFinite { throw ValidationError("--threshold must be a finite number") }
        if let inputs, let testInputs, OutputFiles.sameFile(inputs, testInputs) {
            // Scoring the records a conversion calibrated, validated and selected on says nothing about unseen ones.
            throw ValidationError("--test-inputs \(escaped(testInputs)) is the --inputs file (the same file): the test split would be the training records, "
                                  + "the ones a conversion on them is fitted and selected on; give a separate test file, or leave --test-inputs out to hold out the last --test-fraction")
        }
        if testInputs != nil && givenTestFraction != nil {
            throw ValidationError("--test-fraction holds out the last records of --inputs when no --test-inputs is given; with --test-inputs it would not be read")
        }
        if let labels, let testLabels, OutputFiles.sameFile(labels, testLabels) {
            throw ValidationError("--test-labels \(escaped(testLabels)) is the --labels file (the same file): the test records would be scored against "
                                  + "the training records' labels; give the labels of --test-inputs")
        }
        if let labelColumn, let source, source.labelColumnFiles.isEmpty {
            let files = [("--inputs", inputs), ("--labels", labels), ("--test-inputs", testInputs), ("--test-labels", testLabels)]
                .compactMap { flag, path in path.map { "\(flag) \(escaped($0))" } }
            throw ValidationError("--label-column '\(escaped(labelColumn))' names a column of a CSV holding the labels, and none does here "
                                  + "(\(files.joined(separator: ", "))): leave it out")
        }
    }

    /// The data files given, with the option that names each: no output may be one of them.
    var files: [(role: String, path: String?)] {
        [("--inputs file", inputs), ("--labels file", labels), ("--test-inputs file", testInputs), ("--test-labels file", testLabels)]
    }

    /// The library's description, nil without --inputs.
    var source: OwnDataSource? {
        inputs.map {
            OwnDataSource(inputs: $0, labels: labels, labelColumn: labelColumn, testInputs: testInputs, testLabels: testLabels,
                          testFraction: testFraction, task: task, threshold: givenThreshold)
        }
    }
}
