import ArgumentParser
import Foundation
import LRMDatasets
import LRMFormat
import LRMPipeline
import LRMRuntime
import LRMVerify

extension LRM {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a compressed model against its original: layer fidelity and accuracy/F1 on a data set.",
            discussion: """
                Weights: for each dense or convolution layer, its kind as the file stores it (as lrm inspect \
                names it: quantized_factorized_dense for factors stored as integer codes; a layer imported from a Keras 1-D \
                layer adds its class, conv2d [Conv1D], JSON keras_class), the relative Frobenius error e = ‖Ŵ − W‖/‖W‖ of the \
                compressed kernel against the reference's (a factorized convolution's two halves measured as the \
                kh×kw×cin→cout kernel they make together), the retained energy 1 − e², the factorized form and rank, \
                the bytes stored, and whether they agree with the file's record (the recorded error must be the measured \
                one; for a plain truncation the recorded energy 1 − e², or for factors stored as i8/i4 codes, whose \
                rounding lowers 1 − e², at least 1 − e² and what the recorded singular values keep of the reference's \
                kernel): a layer that disagrees fails the run. Where the reference's layer is itself factorized (a .lrm \
                converted again, verified against the file it was converted from), the record is relative to the original \
                model, not to that layer, and is shown "not checked": give the original as --reference to check it; the \
                result then rests on the thresholds. A layer factorized from a kernel the .lrm it was converted from kept \
                whole but changed (method +from-stored(i8), +from-stored(fine-tuned), …) has its record relative to that \
                kernel: checked against a reference whose kernel has the SHA-256 the file records for it (that file), \
                or for an f16/bf16 kernel whose kernel rounded to that dtype has it, for i8/i4 codes whose kernel \
                rounded to codes in the layout the file records, as a conversion without data rounds them, has it (the \
                original: then checked against that rounding), "not checked" against any other. Task: \
                accuracy, macro-F1 (unweighted mean over classes, what the ARSVD paper's "F1" most likely is) and \
                weighted-F1 (by support), per-class precision and recall, top-5 accuracy for more than 10 classes, the \
                confusion matrix (--json), prediction agreement and the largest and mean |Δ| of the outputs. \
                Preprocessing (x · scale + offset): each model runs with its own recorded one; --input-scale and \
                --input-offset apply only to a model that records none (a Keras file), which otherwise takes the other \
                model's; every such choice, and any difference between the two, is shown in the report. Data: --data, else $LRM_DATA, else ../shared/datasets, else ./data. \
                Result: PASS when every threshold given is met, NO CHECKS when none was given (also with --reference), FAIL \
                when one is missed, a layer disagrees with its record, or a layer's activation or convolution strides, padding (a Conv1D's \
                causal padding included) or dilation are not the reference layer's (its weights alone would compare alike), or a \
                layer without weights (an activation, pooling, padding, merge, …) computes otherwise than the reference's of that name. \
                Exit codes: 0 every threshold met (or none given); 1 a threshold missed (or a layer disagrees with its record, or computes another operation than the reference's); \
                64 bad command line (including thresholds that need --reference without one); 65 invalid input \
                (corrupt file, a tensor checksum that does not match included; model and data set that do not fit); 66 a file or data set is missing; 71 out of memory, or the Keras reader could not be started; 73 the report \
                could not be written.
                """)

        @Argument(help: "The compressed model (.lrm, or a Keras file).")
        var model: String

        @Option(help: ArgumentHelp("The original model to compare with (Keras file or .lrm).", valueName: "file"))
        var reference: String?

        @OptionGroup var dataSet: DataSetOptions

        @Option(help: "Split.")
        var split: DatasetSplit = .test

        @Option(help: ArgumentHelp("Use only the first N samples.", valueName: "N"))
        var limit: Int?

        @Option(help: ArgumentHelp("Use only this half of the split: first (samples 0 to n/2 − 1) or second (n/2 to n − 1); a model converted with --estimate test-half was selected on the first half of the test split, so check it on the second.", valueName: "half"))
        var testHalf: SplitHalf?

        @Option(help: "Samples per batch (memory stays bounded whatever the data set size).")
        var batchSize: Int = 1000

        @Option(help: ArgumentHelp("Architecture (Keras config JSON or .keras) for a weights-only reference.", valueName: "file"))
        var referenceConfig: String?

        @Option(help: ArgumentHelp("Architecture (Keras config JSON or .keras) when the model itself is a weights-only Keras file.", valueName: "file"))
        var config: String?

        @OptionGroup var weights: WeightMatchOptions

        @OptionGroup var progressOptions: ProgressOptions

        @OptionGroup var preprocessing: PreprocessingOptions

        @Option(help: ArgumentHelp("Fail if accuracy drops by more than X percentage points.", valueName: "X"))
        var maxAccuracyDrop: Double?

        @Option(help: ArgumentHelp("Fail if macro-F1 drops by more than X percentage points.", valueName: "X"))
        var maxF1Drop: Double?

        @Option(help: ArgumentHelp("Fail if fewer than this fraction (0–1) of top-1 predictions agree.", valueName: "fraction"))
        var minAgreement: Double?

        @Option(help: ArgumentHelp("Fail if a factorized layer keeps less than this fraction (0–1) of its weight matrix's energy, measured against --reference: 1 − ‖Ŵ − W‖²/‖W‖² (Frobenius). Data-aware conversions (whitened, activation-scaled, the accuracy search) keep much less of it by design; the energy they record is in their own metric.", valueName: "fraction"))
        var minEnergy: Double?

        @Option(help: ArgumentHelp("Regression: fail if the RMSE grows by more than X percent of the reference's (refused for a classifier, --dataset included).", valueName: "X"))
        var maxMetricDrop: Double?

        @Flag(help: "Print the report as JSON.")
        var json = false

        @Option(help: ArgumentHelp("Also write the checks as JUnit XML to this file (any name but a model's or data file's: .lrm, .h5, .hdf5, .keras, .npy, .npz, .csv).", valueName: "file"))
        var junit: String?

        @Flag(help: "Print per-class precision, recall and F1.")
        var perClass = false

        var thresholds: VerificationThresholds {
            VerificationThresholds(maxAccuracyDrop: maxAccuracyDrop, maxF1Drop: maxF1Drop, minAgreement: minAgreement, minEnergy: minEnergy)
        }

        func validate() throws {
            try weights.check(architectureOptions: [("--config", config), ("--reference-config", referenceConfig)])
            guard dataSet.hasData else { throw ValidationError("give the data: --dataset NAME, or your own with --inputs (and --labels)") }
            if let maxMetricDrop, !(maxMetricDrop >= 0 && maxMetricDrop.isFinite) { throw ValidationError("--max-metric-drop must be a finite number ≥ 0") }
            if maxMetricDrop != nil, let name = dataSet.dataset {
                // The bundled data sets are multi-class: the option would be read by nothing (as on own data, refused).
                throw ValidationError("--max-metric-drop is for regression (percent of RMSE, on your own data); --dataset \(name.rawValue) is a classification data set: give --max-accuracy-drop")
            }
            if maxMetricDrop != nil && reference == nil { throw ValidationError("--max-metric-drop compares with the original: give it with --reference") }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
            for (flag, value) in [("--max-accuracy-drop", maxAccuracyDrop), ("--max-f1-drop", maxF1Drop)] {
                if let value, !(value >= 0 && value <= 100) { throw ValidationError("\(flag) must be 0 to 100 percentage points") }
            }
            for (flag, value) in [("--min-agreement", minAgreement), ("--min-energy", minEnergy)] {
                if let value, !(value >= 0 && value <= 1) { throw ValidationError("\(flag) must be a fraction from 0 to 1") }
            }
            if thresholds.needsReference && reference == nil {
                throw ValidationError("--max-accuracy-drop, --max-f1-drop, --min-agreement and --min-energy compare with the original: give it with --reference")
            }
        }

        /// Every file the command reads, with the option that names it: the JUnit report is none of them.
        var inputFiles: [(role: String, path: String?)] {
            [("model", model), ("--reference file", reference), ("--reference-config file", referenceConfig), ("--config file", config)]
                + dataSet.own.files
        }

        func run() throws {
            let started = Date()
            try reportingErrors(onFailure: { failure in
                // CI reads the JUnit file: an error that stops the run is written there as an error case (never over an input).
                guard let junit, failure.status != .cannotWrite, OutputFiles.readExtension(of: junit, allowed: ".xml") == nil,
                      !inputFiles.contains(where: { $0.path.map { OutputFiles.sameFile($0, junit) } ?? false }) else { return }
                let xml = VerificationReport.junitError(message: "lrm: error: \(failure.message)", seconds: Date().timeIntervalSince(started))
                try? AtomicFileWriter.write(Array(xml.utf8), to: junit)
            }) {
                try InputFiles.requireRegular([model, reference, referenceConfig, config])
                if let junit {
                    try OutputFiles.refuseOverwritingInputs(junit, inputs: inputFiles)
                    try OutputFiles.refuseInputExtension(junit, option: "--junit", content: "a JUnit XML report", allowed: ".xml")
                    try OutputFiles.checkWritable(junit, option: "--junit")
                }
                // --input-shape and --input-layout describe the candidate; scale and offset go to a model that records none.
                var shapeOptions = preprocessing
                shapeOptions.inputScale = nil
                shapeOptions.inputOffset = nil
                // Mapped, not loaded: the models run in place from their files (a Keras file's from the child's
                // scratch file), and the per-layer comparison reads one layer at a time.
                // --match pairs a weights-only file with its architecture: it goes to the side given one.
                var candidate = try ModelSource.map(model, architecture: config, preprocessing: shapeOptions, nonFinite: .accept,
                                                    match: config != nil ? weights.match : nil)
                var referenceModel = try reference.map { path in
                    try ModelSource.map(path, architecture: referenceConfig, architectureOption: "--reference-config", preprocessing: nil,
                                        nonFinite: .accept, match: referenceConfig != nil ? weights.match : nil, openShape: candidate.input.shape)
                }
                var candidateSide = VerifyPreprocessing.Side(role: "compressed model", path: model, input: candidate.input)
                var referenceSide: VerifyPreprocessing.Side?
                if let reference, let referenceModel {
                    referenceSide = VerifyPreprocessing.Side(role: "reference", path: reference, input: referenceModel.input)
                }
                var choice = VerifyPreprocessing()
                choice.resolve(candidate: &candidateSide, reference: &referenceSide,
                               scale: try preprocessing.inputScale.map { try PreprocessingOptions.parseNumbers($0, flag: "--input-scale") },
                               offset: try preprocessing.inputOffset.map { try PreprocessingOptions.parseNumbers($0, flag: "--input-offset") })
                candidate.input = candidateSide.input
                try ModelSource.checkPreprocessing(candidate, path: model)
                if let referenceSide, var chosen = referenceModel {
                    chosen.input = referenceSide.input
                    try ModelSource.checkPreprocessing(chosen, path: referenceSide.path)
                    referenceModel = chosen
                }
                referenceModel?.input.layout = candidate.input.layout
                for note in choice.notes { printDiagnostic("note", note) }
                if let source = dataSet.own.source {
                    return try verifyOwnData(source, candidate: candidate, reference: referenceModel, preprocessingNotes: choice.notes,
                                             preprocessingSource: choice.candidateSource)
                }
                let selection = DataSelection(dataset: dataSet.dataset, folder: dataSet.data)
                // Samples that do not fit a model are said before any data is read, naming its file (the check convert makes).
                try selection.checkFits(candidate, path: model)
                if let reference, let referenceModel { try selection.checkFits(referenceModel, path: reference) }
                var data = try selection.open(split)
                if let testHalf { data = try data.testHalf(second: testHalf == .second) }
                if let limit, limit < data.sampleCount { data = try data.subset(.first(limit)) }
                try verifyClasses(data, candidate: candidate, reference: referenceModel, preprocessingNotes: choice.notes,
                                  preprocessingSource: choice.candidateSource)
            }
        }

        /// The multi-class verification on `data`: report, JUnit, exit status. `preprocessingNotes` (how each
        /// model's preprocessing was chosen, see ``VerifyPreprocessing``) go into the report.
        /// `preprocessingSource` says where the candidate's scale and offset came from (`VerifyPreprocessing.candidateSource`).
        /// `candidateRunner`: the candidate already prepared to run (`InferenceModel(mapped: candidate)`), else made here.
        func verifyClasses(_ data: Dataset, candidate: MappedModel, reference referenceModel: MappedModel?, candidateRunner: InferenceModel? = nil,
                           preprocessingNotes: [String] = [], preprocessingSource: String = "the model file") throws {
            do {
                var report: VerificationReport
                do {
                    let printer = progressOptions.printer
                    defer { printer?.finish() }
                    // Every checksum is checked once, as each model is prepared to run (the candidate's perhaps by the
                    // caller); the per-layer comparison then reads checked tensors.
                    let runner = try candidateRunner ?? ModelSource.runner(candidate, path: model)
                    let referenceRunner = try referenceModel.map { try ModelSource.runner($0, path: reference ?? model) }
                    let layers = try LayerFidelity.compareChecked(candidate: candidate, reference: referenceModel)
                    report = try Verifier.verify(candidate: runner, reference: referenceRunner, layers: layers,
                                                 dataset: data, thresholds: thresholds,
                                                 layout: dataSet.dataLayout, batchSize: batchSize) { done, total in
                        printer?.handle(ProgressEvent(phase: "evaluation", done: done, total: total, message: "\(data.identifier) \(split.rawValue)"))
                    }
                } catch let error as DatasetError {
                    throw CommandFailure(status: .invalidInput, message: error.description)
                } catch {
                    throw CommandFailure.evaluating(model, failedWith: error)
                }
                report.preprocessingNotes = preprocessingNotes
                // The layers without weights, compared by what they compute (from the headers).
                report.checks += LayerFidelity.operationChecks(candidate: candidate, reference: referenceModel)
                if let junit {
                    do { try AtomicFileWriter.write(Array(report.junit().utf8), to: junit) } catch {
                        throw CommandFailure(status: .cannotWrite, message: "\(junit): cannot write the JUnit report: \(OutputFiles.reason(error))")
                    }
                }
                // Sizes: bytes on disk of the file, and per layer the bytes and bits per parameter of its tensors.
                var notes = PreprocessingNotes(input: candidate.input, source: preprocessingSource, rawPixels: dataSet.dataset != nil)
                notes.checkChance(accuracy: report.reference?.accuracy ?? report.candidate.accuracy, classCount: data.classCount,
                                  model: report.reference != nil ? "the reference" : "the model")
                let storage = (try? ContainerFile(path: model)).map { file in (file.fileByteCount, ModelSummary(header: file.header)) }
                if json {
                    var output = notes.annotate(report.json())
                    if let (bytes, summary) = storage, case .object(var members) = output {
                        var sizes: [(String, JSONValue)] = [("file_bytes", .int(Int64(bytes))), ("stored_bytes", .int(Int64(summary.storedBytes)))]
                        if let bits = summary.bitsPerParameter { sizes.append(("bits_per_parameter", .number(bits))) }
                        sizes.append(("layers", .array(summary.layers.filter { $0.storedBytes > 0 }.map { row in
                            var entry: [(String, JSONValue)] = [("name", .string(row.name)), ("kind", .string(row.kind))]
                            if let kerasClass = row.kerasClass { entry.append(("keras_class", .string(kerasClass))) }
                            entry.append(("stored_bytes", .int(Int64(row.storedBytes))))
                            if let bits = row.bitsPerParameter { entry.append(("bits_per_parameter", .number(bits))) }
                            return .object(entry)
                        })))
                        members.append(("size", .object(sizes)))
                        output = .object(members)
                    }
                    print(output.serialized(indent: 2))
                } else {
                    print(notes.annotate(VerifyText.render(report, model: model, reference: reference, perClass: perClass)))
                    if let (bytes, summary) = storage {
                        var table = TextTable(["layer", "kind", "bytes", "bits/param"], rightAligned: [2, 3])
                        for row in summary.layers where row.storedBytes > 0 {
                            table.add([escaped(row.name), kindText(row.kind, kerasClass: row.kerasClass), Format.count(row.storedBytes),
                                       row.bitsPerParameter.map { String(format: "%.2f", $0) } ?? ""])
                        }
                        print("\nSize: \(Format.count(bytes)) bytes on disk; tensors \(Format.count(summary.storedBytes)) bytes"
                              + (summary.bitsPerParameter.map { String(format: ", %.2f bits per stored parameter", $0) } ?? ""))
                        print(table.render())
                        // The legend once: here only when the Weights table above (with a reference) did not give it.
                        if summary.layers.contains(where: { $0.storedBytes > 0 && $0.kerasClass != nil }),
                           !report.layers.contains(where: { $0.kerasClass != nil }) { print("  " + sourceKerasClassNote) }
                    }
                }
                if !report.passed { throw ExitCode(ExitStatus.checkFailed.rawValue) }
            }
        }
    }
}

/// The human-readable verify report.
enum VerifyText {
    static func percent(_ value: Double) -> String { Format.fixed(value * 100, 2) + "%" }

    static func render(_ r: VerificationReport, model: String, reference: String?, perClass: Bool) -> String {
        var out: [String] = []
        out.append("lrm verify: \(model)" + (reference.map { " against \($0)" } ?? "") + " on \(r.dataset)")
        out += weights(r.layers, operations: r.checks.operationMismatches)
        out.append("")
        out.append("Task metrics (\(Format.count(r.sampleCount)) samples)")
        var metrics = TextTable(r.reference == nil ? ["metric", "model"] : ["metric", "reference", "compressed", "change"],
                                rightAligned: [1, 2, 3])
        func row(_ name: String, _ pick: (ClassificationMetrics) -> Double?, images: Bool = false) {
            guard let value = pick(r.candidate) else { return }
            guard let reference = r.reference, let base = pick(reference) else { metrics.add([name, percent(value)]); return }
            var change = Format.signedPoints(value - base)
            if images { change += " (\(r.candidate.confusion.correct - reference.confusion.correct) images)" }
            metrics.add([name, percent(base), percent(value), change])
        }
        row("accuracy", { $0.accuracy }, images: true)
        row("macro-F1", { $0.macroF1 })
        row("weighted-F1", { $0.weightedF1 })
        row("top-5 accuracy", { $0.top5Accuracy })
        out.append(metrics.render())
        if let c = r.comparison {
            let agreement = c.sampleCount > 0 ? Double(c.agreementCount) / Double(c.sampleCount) : 0
            out.append("  agreement: \(percent(agreement)) of top-1 predictions identical (\(Format.count(c.agreementCount)) of \(Format.count(c.sampleCount)))")
            let mean = c.sampleCount > 0 ? c.absoluteDifferenceSum / Double(c.sampleCount * c.classCount) : 0
            out.append("  outputs: max |Δ| \(String(format: "%.3g", c.maxAbsoluteDifference)), mean |Δ| \(String(format: "%.3g", mean))")
        }
        if perClass {
            out.append("")
            out.append("Per class (compressed model)")
            var table = TextTable(["class", "precision", "recall", "F1", "support"], rightAligned: [1, 2, 3, 4])
            for (index, m) in r.candidate.perClass.enumerated() {
                table.add([index < r.classNames.count ? escaped(r.classNames[index]) : String(index), percent(m.precision), percent(m.recall),
                           percent(m.f1), String(m.support)])
            }
            out.append(table.render())
        }
        if !r.preprocessingNotes.isEmpty {
            out.append("")
            out.append("Preprocessing (x · scale + offset)")
            for note in r.preprocessingNotes { out.append("  \(note)") }
        }
        out += ending(r.checks, result: r.result.text(), seconds: r.seconds)
        return out.joined(separator: "\n")
    }

    /// The report's last lines, the same for every task: the checks (when there are any: a blank line, a title, a line each)
    /// and, after a blank line, the result with the time taken.
    static func ending(_ checks: [VerificationCheck], result: String, seconds: Double) -> [String] {
        var out: [String] = []
        if !checks.isEmpty {
            out.append("")
            out.append("Checks")
            for check in checks { out.append("  \(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)") }
        }
        out.append("")
        out.append("result: \(result) (\(Format.fixed(seconds, 2)) s)")
        return out
    }

    /// Under the table when a recorded energy is marked: what the mark means and where the factors' own figure is.
    static let truncationsEnergyNote = "(truncation's): the energy the file records is that of the truncation the stored factors started "
        + "from; they were refitted, fine-tuned or rounded to integer codes since, so their own 1 − e² is the measured energy column"

    /// What a layer's factorization record says, the Weights table's "file says" cell (verify's text and the report's):
    /// the recorded error (`≈` when it is an estimate) and energy, with its metric when not plain, the energy marked
    /// "(truncation's)" when it is the truncation's the stored factors started from; empty without a record.
    static func recordText(_ l: LayerFidelity) -> String {
        guard let error = l.recordedRelativeError else { return "" }
        return "e \(l.recordedErrorIsEstimate ? "≈" : "")\(Format.fixed(error, 4)), energy \(Format.fixed(l.recordedRetainedEnergy ?? 0, 4))"
            + (l.recordedMetric.map { $0 == "plain" ? "" : " (\($0))" } ?? "") + (l.recordedEnergyIsTruncations ? " (truncation's)" : "")
    }

    /// The notes under the Weights table (verify's text and the report's), in order: what "*", "(truncation's)", "≈" and
    /// "[Class]" mean where a row has them, then each layer's record note (why it was not checked, or against what it was),
    /// then each layer whose operation is not the reference's: the weighted ones, then `operations`, the layers without
    /// weights (``VerificationCheck/operationLayer``), which have no row.
    static func weightsNotes(_ layers: [LayerFidelity], operations: [OperationMismatch] = []) -> [String] {
        var notes: [String] = []
        if layers.contains(where: \.referenceLayerFactorized) { notes.append(LayerFidelity.againstFactorizedReferenceNote) }
        if layers.contains(where: \.recordedEnergyIsTruncations) { notes.append(truncationsEnergyNote) }
        if layers.contains(where: \.recordedErrorIsEstimate) {
            notes.append("≈ the file's error is its re-truncation's estimate (the factors were integer codes before): not compared; "
                         + "the energy bound and the singular values are checked")
        }
        if layers.contains(where: { $0.kerasClass != nil }) { notes.append(sourceKerasClassNote) }
        for l in layers { if let note = l.recordNote { notes.append("\(escaped(l.name)): record \(note)") } }
        for l in layers {
            if let mismatch = l.operationMismatch { notes.append("\(escaped(l.name)): NOT the reference's operation: \(mismatch)") }
        }
        for o in operations { notes.append("\(escaped(o.name)) (no weights): NOT the reference's operation: \(o.mismatch)") }
        return notes
    }

    /// The per-layer comparison with the reference (empty without one): a blank line, a title and the table.
    static func weights(_ layers: [LayerFidelity], operations: [OperationMismatch] = []) -> [String] {
        guard !layers.isEmpty else { return [] }
        var table = TextTable(["layer", "kind", "kernel", "form (matrix)", "rank", "rel. error", "energy", "bytes", "file says", "agrees"],
                              rightAligned: [4, 5, 6, 7])
        for l in layers {
            table.add([escaped(l.name), kindText(l.kind, kerasClass: l.kerasClass), l.shapeText, l.formText, l.rank.map(String.init) ?? "",
                       l.measuredErrorText, l.measuredEnergyText, Format.count(l.storedBytes), recordText(l),
                       l.recordCheckText])
        }
        return ["", "Weights (e = ‖Ŵ − W‖/‖W‖, energy = 1 − e²)", table.render()] + weightsNotes(layers, operations: operations).map { "  " + $0 }
    }
}

/// `verify --test-half`.
enum SplitHalf: String, CaseIterable, ExpressibleByArgument {
    case first, second
}
