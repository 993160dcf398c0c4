import Foundation
import LRMCompress
import LRMFormat
import LRMKeras
import LRMRuntime
import LRMVerify
import Testing
@testable import LRMPipeline

/// ../shared/datasets next to the package, if it holds MNIST.
private let sharedDatasets: String? = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.deletingLastPathComponent().appendingPathComponent("shared/datasets").path
    return FileManager.default.fileExists(atPath: path + "/mnist") ? path : nil
}()

/// A size search's candidates refitted and rounded in one pass, as data-aware policy conversions are (issue 15), on the
/// MNIST sample: the same ranks and storage as without the refit, the same bytes, and closer to the original's outputs.
@Suite("Size-search candidates refitted before rounding, on the MNIST sample", .enabled(if: sharedDatasets != nil))
struct SizeSearchRefitTests {
    struct Setup {
        var search: SizeSearch
        var refitter: Refitter
        var model: Model
        var calibration: EvaluationSet
        var validation: EvaluationSet
    }

    func setUp() throws -> Setup {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var model = try KerasImporter.loadModel(path: root.appendingPathComponent("samples/mnist_mlp.h5").path)
        model.input.scale = [1.0 / 255]
        // The default calibration records (the refit fits U·Σ's 784 × k values on them); fewer validation records.
        let data = try DataSelection(dataset: .mnist, folder: sharedDatasets, calibrationSamples: 5000, validationSamples: 1000).resolved(for: model)
        let (calibrationSet, validationSet) = try data.trainingSubsets()
        var options = ConversionOptions()
        options.metric = .whitened(ridge: 1e-6)
        options.calibration = try data.calibrate(model, on: calibrationSet)
        options.quantization = QuantizationOptions(dtype: .int8)
        let spectra = try ConversionPipeline.searchSpectra(model, options: options)
        let provenance = ConversionProvenance(policy: "target-size", parameter: 40960, factorDType: .float32, seed: nil,
                                              metric: options.metric, calibration: options.calibration?.source)
        let search = SizeSearch(model: model, spectra: spectra, options: options, provenance: provenance) { _ in
            ValidationScore(accuracy: 0, standardError: 0)
        }
        let layout = data.layout(for: model)
        return Setup(search: search, refitter: try data.refitter(for: model, calibration: calibrationSet, options: RefitOptions()), model: model,
                     calibration: try EvaluationSet(calibrationSet, layout: layout), validation: try EvaluationSet(validationSet, layout: layout))
    }

    /// ‖f(x) − f₀(x)‖ / ‖f₀(x)‖ over the samples' outputs (f₀ the original), and the share of samples whose top class is the label.
    func outputError(_ candidate: Model, _ original: Model, on samples: EvaluationSet) throws -> (error: Double, accuracy: Double) {
        let out = try InferenceModel(candidate).run(samples.pixels, sampleCount: samples.sampleCount)
        let reference = try InferenceModel(original).run(samples.pixels, sampleCount: samples.sampleCount)
        var difference = 0.0, total = 0.0
        for (a, b) in zip(out, reference) { difference += Double(a - b) * Double(a - b); total += Double(b) * Double(b) }
        let classes = out.count / samples.sampleCount
        var correct = 0
        for (s, label) in samples.labels.enumerated() {
            let row = out[(s * classes)..<((s + 1) * classes)]
            if row.indices.max(by: { row[$0] < row[$1] })! - s * classes == label { correct += 1 }
        }
        return ((difference / total).squareRoot(), Double(correct) / Double(samples.sampleCount))
    }

    @Test("i4 and mixed i4/i8/f16 candidates: same ranks, dtypes and bytes as the plain rounding, every integer layer stored as codes, the refit recorded, and a smaller output error on calibration and on held-out records",
)
    func refittedCandidates() throws {
        let setup = try setUp()
        var refitting = setup.search
        refitting.refitter = setup.refitter
        for storage in [StorageChoice(hidden: .int4, output: .int4),
                        StorageChoice(layers: ["dense_1": .int4, "dense_2": .float16, "output": .int8], order: ["dense_1", "dense_2", "output"],
                                      hidden: .int4, output: .int8)] {
            try check(storage, setup: setup, refitting: refitting)
        }
    }

    func check(_ storage: StorageChoice, setup: Setup, refitting: SizeSearch) throws {
        let ranks = setup.search.ranks(threshold: 0.95, storage: storage)
        let plain = try setup.search.build(ranks, storage: storage, calibrated: true).model
        let refitted = try refitting.build(ranks, storage: storage, calibrated: true).model
        // The refit changes values, not what is stored: the same tensors, dtypes and data bytes; the file's size is the one
        // the search sized it with (its header records the refit).
        let bytes = try SizeSearch.fileSize(refitted)
        #expect(try refitted.plan(alignment: Container.defaultAlignment).1.dataByteCount
            == plain.plan(alignment: Container.defaultAlignment).1.dataByteCount)
        #expect(bytes == (try ContainerWriter.encode(refitted).count))
        #expect(bytes == (try refitting.size(ranks, storage: storage)))
        let names = refitted.layers.map(\.name)
        #expect(names == plain.layers.map(\.name))
        var factorized = 0
        for (a, b) in zip(refitted.layers, plain.layers) {
            let ta = a.operation.tensors, tb = b.operation.tensors
            #expect(ta.map(\.tensor.shape) == tb.map(\.tensor.shape), "\(storage) \(a.name)")
            #expect(ta.map { $0.tensor.quantization?.dtype ?? $0.tensor.dtype } == tb.map { $0.tensor.quantization?.dtype ?? $0.tensor.dtype }, "\(storage) \(a.name)")
            if case let .factorizedDense(us, _, _, _, f) = a.operation {
                factorized += 1
                let dtype = storage.dtype(of: a.name, isOutput: false)
                #expect(f.method.hasSuffix("+refit"), "\(storage) \(a.name)")
                #expect((us.quantization?.dtype ?? us.dtype) == dtype, "\(storage) \(a.name)")
            }
        }
        #expect(factorized == 2)
        #expect(refitted.metadata["conversion.refit"] != nil && plain.metadata["conversion.refit"] == nil)
        // Closer to the original: on the calibration records the refit fits, and on held-out ones.
        let onCalibration = (try outputError(refitted, setup.model, on: setup.calibration), try outputError(plain, setup.model, on: setup.calibration))
        #expect(onCalibration.0.error < 0.9 * onCalibration.1.error, "\(storage): refitted \(onCalibration.0), plain \(onCalibration.1)")
        let heldOut = (try outputError(refitted, setup.model, on: setup.validation), try outputError(plain, setup.model, on: setup.validation))
        #expect(heldOut.0.error < heldOut.1.error, "\(storage): refitted \(heldOut.0), plain \(heldOut.1)")
        // Without `calibrated` (sizing only) nothing is refitted: the values are those of the plain sizing build.
        let sized = try refitting.build(ranks, storage: storage, calibrated: false).model
        let plainSized = try setup.search.build(ranks, storage: storage, calibrated: false).model
        #expect(sized.layers.map { $0.operation.tensors.map(\.tensor) } == plainSized.layers.map { $0.operation.tensors.map(\.tensor) })
    }
}
