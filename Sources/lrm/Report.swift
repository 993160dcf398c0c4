import ArgumentParser
import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMPipeline
import LRMRuntime
import LRMVerify

extension LRM {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a self-contained HTML report of a .lrm file: spectra, energy curves, sizes, and verify metrics.",
            discussion: "The page has inline SVG only: no scripts, no external files. With --reference and --dataset it includes "
                + "the verify metrics (with your own data, --inputs: the task's metrics, binary or regression too); with --sweep (the JSON of `lrm sweep --json`) it plots accuracy against compression ratio. "
                + ExitStatus.helpText)

        @Argument(help: "A .lrm file (a Keras file is refused: store it as one with lrm import).")
        var model: String

        @Option(name: .shortAndLong, help: "Output .html file (any name but a model's or data file's: .lrm, .h5, .hdf5, .keras, .npy, .npz, .csv).")
        var output: String

        @Option(help: ArgumentHelp("The original model, for the verify section.", valueName: "file"))
        var reference: String?

        @Option(help: ArgumentHelp("Architecture (Keras config JSON or .keras) for a weights-only reference.", valueName: "file"))
        var referenceConfig: String?

        @OptionGroup var weights: WeightMatchOptions

        @OptionGroup var dataSet: DataSetOptions

        @Option(help: ArgumentHelp("JSON written by `lrm sweep --json` of this model's original, to plot accuracy against compression (a sweep of another model is refused).", valueName: "file"))
        var sweep: String?

        func validate() throws {
            try weights.check(architectureOptions: [("--reference-config", referenceConfig)])
            if reference != nil && !dataSet.hasData {
                throw ValidationError("--reference is compared on a data set: give --dataset (or your own with --inputs) too, or leave --reference out")
            }
        }

        /// Refuses (exit 64) a sweep of another model than the one `model` holds (or was converted from): its curve would
        /// be drawn under this model's name. Judged by what both record: the layers the sweep factorized must be layers of
        /// the model, and the sweep's original parameter count (a point's parameters × its compression ratio) must be the
        /// model's before compression. A sweep JSON without these (hand-made) is not judged.
        static func refuseSweepOfAnotherModel(_ object: JSONValue, sweep: String, model: String, header: ContainerHeader) throws {
            guard let first = object["points"]?.array?.first, let ranks = first["ranks"]?.array,
                  let parameters = first["parameters"]?.number, let ratio = first["compression_ratio"]?.number else { return }
            let sweptLayers = ranks.compactMap { $0["layer"]?.string }
            // A count only from numbers a sweep writes (1e308 × 1e308 trapped converting ∞ to Int).
            guard parameters >= 0, ratio > 0, (parameters * ratio).isFinite, parameters * ratio < 1e15 else {
                throw CommandFailure(status: .invalidInput, message: "\(sweep): not the JSON of `lrm sweep --json`: its first point's parameters "
                                     + "\(parameters) and compression_ratio \(ratio) are not a sweep's")
            }
            let sweptParameters = Int((parameters * ratio).rounded())
            let summary = ModelSummary(header: header)
            let layers = header.model.layers.map(\.name)
            let missing = sweptLayers.filter { !layers.contains($0) }
            guard !missing.isEmpty || abs(sweptParameters - summary.parametersBefore) > max(1, summary.parametersBefore / 100_000) else { return }
            let what = missing.isEmpty ? "\(Format.count(sweptParameters)) parameters, the model \(Format.count(summary.parametersBefore))"
                : "layers \(missing.prefix(4).map { "'\(escaped($0))'" }.joined(separator: ", ")) that the model does not have"
            throw CommandFailure(status: .usage, message: "\(sweep): is the sweep of \(escaped(object["model"]?.string ?? "another model")) "
                                 + "(\(what)), not of the model in \(model); give the sweep of the model it was converted from "
                                 + "(lrm sweep ORIGINAL --json), or leave --sweep out")
        }

        /// The sweep's `"preprocessing"` (scale and offset number arrays, a layout name) as an input description; refused
        /// (exit 65) when it is not what a sweep writes.
        static func sweepPreprocessing(_ value: JSONValue, sweep: String) throws -> InputSpec {
            func numbers(_ key: String) -> [Double]? {
                guard let array = value[key]?.array else { return nil }
                let numbers = array.compactMap(\.number)
                return numbers.count == array.count && numbers.allSatisfy(\.isFinite) ? numbers : nil
            }
            guard let scale = numbers("scale"), let offset = numbers("offset"), let name = value["layout"]?.string,
                  let layout = InputLayout(name: name) else {
                throw CommandFailure(status: .invalidInput, message: "\(sweep): not the JSON of `lrm sweep --json`: its \"preprocessing\" is not "
                                     + "a scale and an offset (arrays of numbers) and a layout name")
            }
            return InputSpec(shape: [], layout: layout, scale: scale, offset: offset)
        }

        /// Whether two inputs are fed alike: the same layout, and scale and offset the same per channel (an empty list or
        /// one value for every channel; within float32's rounding, in which a .lrm may record them).
        static func samePreprocessing(_ a: InputSpec, _ b: InputSpec) -> Bool {
            func same(_ x: [Double], _ y: [Double], identity: Double) -> Bool {
                func normal(_ v: [Double]) -> [Double] {
                    let v = v.isEmpty ? [identity] : v
                    return v.allSatisfy { $0 == v[0] } ? [v[0]] : v
                }
                let x = normal(x), y = normal(y)
                return x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-6 * max(abs($0), abs($1)) }
            }
            return a.layout.name == b.layout.name && same(a.scale, b.scale, identity: 1) && same(a.offset, b.offset, identity: 0)
        }

        static func preprocessingText(_ input: InputSpec) -> String {
            "inputs × \(PreprocessingNotes.numbers(input.scale, identity: 1)) + \(PreprocessingNotes.numbers(input.offset, identity: 0)) "
                + "(layout \(input.layout.name))"
        }

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([model, reference, referenceConfig, sweep])
                try OutputFiles.refuseOverwritingInputs(output, inputs: [("model", model), ("--reference file", reference),
                                                                  ("--reference-config file", referenceConfig), ("--sweep file", sweep)]
                                                        + dataSet.own.files)
                try OutputFiles.refuseInputExtension(output, option: "-o", content: "an HTML report", allowed: ".html")
                try OutputFiles.checkWritable(output, option: "-o")
                try ModelSource.refuseKeras(model, command: "report", reads: "describes a .lrm file (its factorizations, spectra and sizes)")
                let file = try ContainerFile(path: model)
                // Mapped, not loaded: what loading checked (every checksum and quantization scale) is checked one
                // tensor's pages at a time, and the models run in place from their files.
                var candidate = MappedModel(file)
                try candidate.verifyTensors()
                var verification: VerificationReport?
                var taskVerification: TaskReport?
                if dataSet.hasData {
                    // Each model runs with its own recorded preprocessing; a reference that records none takes the model's.
                    var referenceModel = try reference.map { path in
                        try ModelSource.map(path, architecture: referenceConfig, architectureOption: "--reference-config", preprocessing: nil,
                                            nonFinite: .accept, match: weights.match, openShape: candidate.input.shape)
                    }
                    let recorded = candidate.input
                    var candidateSide = VerifyPreprocessing.Side(role: "model", path: model, input: recorded)
                    var referenceSide: VerifyPreprocessing.Side?
                    if let reference, let referenceModel {
                        referenceSide = VerifyPreprocessing.Side(role: "reference", path: reference, input: referenceModel.input)
                    }
                    var choice = VerifyPreprocessing()
                    choice.resolve(candidate: &candidateSide, reference: &referenceSide, scale: nil, offset: nil)
                    for note in choice.notes { printDiagnostic("note", note) }
                    var selection = DataSelection(dataset: dataSet.dataset, folder: dataSet.data, layout: dataSet.dataLayout)
                    selection.ownData = dataSet.own.source
                    selection = try selection.resolved(for: candidate, path: model)
                    candidate.input = candidateSide.input
                    if let input = referenceSide?.input { referenceModel?.input = input }
                    referenceModel?.input.layout = recorded.layout
                    // Samples that do not fit a model are said before any data is read, naming its file (as convert and verify do).
                    try selection.checkFits(candidate, path: model)
                    if let reference, let referenceModel { try selection.checkFits(referenceModel, path: reference) }
                    let test = try selection.open(.test)
                    do {
                        // Every checksum is checked once before anything is trusted: the candidate's above
                        // (verifyTensors), the reference's as it is prepared to run; the comparison then reads
                        // checked tensors.
                        let runner = try ModelSource.runner(candidate, path: model, checksumsVerified: true)
                        let referenceRunner = try referenceModel.map { try ModelSource.runner($0, path: reference ?? model) }
                        let layers = try LayerFidelity.compareChecked(candidate: candidate, reference: referenceModel)
                        if selection.task == .multiclass {
                            verification = try Verifier.verify(candidate: runner, reference: referenceRunner, layers: layers, dataset: test,
                                                               thresholds: VerificationThresholds(), layout: dataSet.dataLayout)
                            verification?.preprocessingNotes = choice.notes
                            verification?.checks += LayerFidelity.operationChecks(candidate: candidate, reference: referenceModel)
                        } else {
                            taskVerification = try TaskVerifier.verify(candidate: runner, reference: referenceRunner, layers: layers, dataset: test,
                                                                       task: selection.task, threshold: dataSet.own.threshold,
                                                                       thresholds: TaskThresholds())
                            taskVerification?.checks += LayerFidelity.operationChecks(candidate: candidate, reference: referenceModel)
                        }
                    } catch {
                        throw CommandFailure.evaluating(model, failedWith: error)
                    }
                }
                var sweepPoints: [(method: String, ratio: Double, accuracy: Double)] = []
                var sweepBaseline: Double?
                var sweepRegression = false
                var sweepSource: String?
                var sweepDataset: String?
                // What the sweep fed its original (`"preprocessing"`, recorded since sweeps record it); nil for an older sweep.
                var sweepPreprocessing: InputSpec?
                if let sweep {
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: sweep, isDirectory: &isDirectory), !isDirectory.boolValue,
                          FileManager.default.isReadableFile(atPath: sweep) else {
                        throw CommandFailure(status: .missingInput, message: "\(sweep): \(isDirectory.boolValue ? "is a directory, expected" : "cannot read") the JSON of `lrm sweep --json`")
                    }
                    guard let data = FileManager.default.contents(atPath: sweep),
                          let object = try? JSONValue.parse(data), let points = object["points"]?.array else {
                        throw CommandFailure(status: FileManager.default.fileExists(atPath: sweep) ? .invalidInput : .missingInput,
                                             message: "\(sweep): not the JSON of `lrm sweep --json`")
                    }
                    try Self.refuseSweepOfAnotherModel(object, sweep: sweep, model: model, header: file.header)
                    sweepDataset = object["dataset"]?.string
                    if let recorded = object["preprocessing"] {
                        sweepPreprocessing = try Self.sweepPreprocessing(recorded, sweep: sweep)
                    }
                    sweepSource = "Sweep of \(object["model"]?.string ?? "an unnamed model") on \(object["dataset"]?.string ?? "an unnamed data set")"
                        + " (\(sweep))"
                    // A regression sweep (`"task": "regression"`) is plotted as RMSE, the others as accuracy.
                    sweepRegression = object["task"]?.string == TaskKind.regression.rawValue
                    let key = sweepRegression ? "rmse" : "accuracy"
                    sweepBaseline = object["original"]?[key]?.number
                    // Only values a sweep writes reach the chart (its axes and labels convert them to Int: 1e308 trapped): a
                    // positive compression ratio up to 10¹², an accuracy from 0 to 1 or a finite RMSE.
                    func plottable(_ ratio: Double?, _ score: Double) -> Bool {
                        (ratio.map { $0.isFinite && $0 > 0 && $0 <= 1e12 } ?? true) && score.isFinite && score >= 0
                            && (sweepRegression ? score <= 1e12 : score <= 1)
                    }
                    if let baseline = sweepBaseline, !plottable(nil, baseline) {
                        throw CommandFailure(status: .invalidInput, message: "\(sweep): not the JSON of `lrm sweep --json`: the original's \(key) \(baseline) is not a sweep's")
                    }
                    for (index, p) in points.enumerated() {
                        guard let method = p["method"]?.string, let ratio = p["compression_ratio"]?.number,
                              let accuracy = p[key]?.number else { continue }
                        guard plottable(ratio, accuracy) else {
                            throw CommandFailure(status: .invalidInput, message: "\(sweep): not the JSON of `lrm sweep --json`: point \(index + 1) has "
                                                 + "compression_ratio \(ratio) and \(key) \(accuracy), not a sweep's")
                        }
                        sweepPoints.append((method.components(separatedBy: " (").first ?? method, ratio, accuracy))
                    }
                    // Points none of which can be drawn would leave the page without the chart --sweep asked for, unsaid.
                    if !points.isEmpty && sweepPoints.isEmpty {
                        throw CommandFailure(status: .invalidInput, message: "\(sweep): not the JSON of `lrm sweep --json`: none of its \(points.count) "
                                             + "point\(points.count == 1 ? "" : "s") has a method, a compression_ratio and \(sweepRegression ? "an rmse" : "an accuracy")"
                                             + " (\(sweepRegression ? "a regression sweep, its \"task\"" : "the sweep of a classifier, its \"task\" not regression"))")
                    }
                }
                var page = HTMLReport(file: file, name: file.header.model.name, verification: verification, sweep: sweepPoints,
                                      sweepBaseline: sweepBaseline, reference: reference)
                page.taskVerification = taskVerification
                page.sweepRegression = sweepRegression
                page.sweepSource = sweepSource
                // The file's own point on the sweep's chart, where verify evaluated it on the sweep's records (the same
                // description: data set, split and count) fed as the sweep fed them (scale, offset, layout), in the sweep's
                // score (accuracy, or a regression's RMSE); else a note saying why it is not drawn.
                let evaluated: (dataset: String, score: Double)? = if let verification {
                    (verification.dataset, verification.candidate.accuracy)
                } else if let taskVerification {
                    switch taskVerification.candidate {
                    case .binary(let m): (taskVerification.dataset, m.accuracy)
                    case .regression(let m): (taskVerification.dataset, m.rootMeanSquaredError)
                    }
                } else {
                    nil
                }
                if let evaluated, !sweepPoints.isEmpty {
                    let sameScore = sweepRegression == (taskVerification?.task == .regression)
                    let fed = candidate.input
                    let samePreprocessing = sweepPreprocessing.map { Self.samePreprocessing($0, fed) } ?? true
                    if evaluated.dataset == sweepDataset && sameScore && samePreprocessing {
                        page.sweepFilePoint = (ModelSummary(header: file.header).compressionRatio, evaluated.score)
                        if sweepPreprocessing == nil {
                            page.sweepFileNote = "The sweep does not record the preprocessing it ran with (a sweep JSON from before lrm "
                                + "recorded it): the file is drawn as evaluated with \(Self.preprocessingText(fed)); sweep again to have it checked."
                        }
                    } else if evaluated.dataset == sweepDataset && sameScore, let sweepPreprocessing {
                        page.sweepFileNote = "This file is not drawn: verify fed it \(Self.preprocessingText(fed)), the sweep its original "
                            + "\(Self.preprocessingText(sweepPreprocessing)): they ran with other --input-scale, --input-offset or --input-layout."
                    } else if evaluated.dataset == sweepDataset {
                        // The same records, scored otherwise (the sweep's task is not the one verify evaluated).
                        page.sweepFileNote = "This file is not drawn: the sweep scores its original by \(sweepRegression ? "RMSE" : "accuracy"), "
                            + "verify evaluated it by \(sweepRegression ? "accuracy" : "RMSE") (a \(sweepRegression ? "classifier" : "regression")'s task)."
                    } else {
                        page.sweepFileNote = "This file is not drawn: verify evaluated it on \(evaluated.dataset), the sweep its original on "
                            + "\(sweepDataset ?? "records it does not name")."
                    }
                }
                let html = page.render()
                do {
                    try AtomicFileWriter.write(Array(html.utf8), to: output)
                } catch {
                    throw CommandFailure(status: .cannotWrite, message: "\(output): cannot write: \(OutputFiles.reason(error))")
                }
                print("wrote \(output)")
            }
        }
    }
}
