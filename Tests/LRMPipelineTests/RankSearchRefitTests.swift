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

/// A rank search's candidates with integer factors (`--factor-dtype i8|i4`) refitted and rounded in one pass, as the size
/// searches' and a data-aware policy conversion's are, on the MNIST sample: the same ranks, dtypes and bytes as the
/// plain rounding, closer to the original's outputs, and the refit recorded in the file (`--no-refit`: the plain rounding).
@Suite("Rank-search candidates with integer factors refitted before rounding, on the MNIST sample", .enabled(if: sharedDatasets != nil))
struct RankSearchRefitTests {
    func mnist() throws -> Model {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var model = try KerasImporter.loadModel(path: root.appendingPathComponent("samples/mnist_mlp.h5").path)
        model.input.scale = [1.0 / 255]
        return model
    }

    /// `calibration` records (the refit fits U·Σ's 784 × k values on them; the default is 5,000) and 1,000 validation records.
    func selection(calibration: Int) -> DataSelection {
        DataSelection(dataset: .mnist, folder: sharedDatasets, calibrationSamples: calibration, validationSamples: 1000)
    }

    /// ‖f(x) − f₀(x)‖ / ‖f₀(x)‖ over the samples' outputs (f₀ the original).
    func outputError(_ candidate: Model, _ original: Model, on samples: EvaluationSet) throws -> Double {
        let out = try InferenceModel(candidate).run(samples.pixels, sampleCount: samples.sampleCount)
        let reference = try InferenceModel(original).run(samples.pixels, sampleCount: samples.sampleCount)
        var difference = 0.0, total = 0.0
        for (a, b) in zip(out, reference) { difference += Double(a - b) * Double(a - b); total += Double(b) * Double(b) }
        return (difference / total).squareRoot()
    }

    @Test("i8 and i4 (group 16, zero points) candidates: the tensors, codes' options and bytes of the plain rounding, the policy conversion's refit-and-round pass on the float candidate, and a smaller output error on calibration and held-out records")
    func refittedCandidates() throws {
        let model = try mnist()
        let data = try selection(calibration: 5000).resolved(for: model)
        let (calibrationSet, validationSet) = try data.trainingSubsets()
        let layout = data.layout(for: model)
        let calibration = try EvaluationSet(calibrationSet, layout: layout), validation = try EvaluationSet(validationSet, layout: layout)
        let refitter = try data.refitter(for: model, calibration: calibrationSet, options: RefitOptions())
        var options = ConversionOptions()
        options.metric = .whitened(ridge: 1e-6)
        options.calibration = try data.calibrate(model, on: calibrationSet)
        let spectra = try ConversionPipeline.searchSpectra(model, options: options)
        for quantization in [QuantizationOptions(dtype: .int8), QuantizationOptions(dtype: .int4, groupSize: 16, zeroPoints: true)] {
            var integer = options
            integer.quantization = quantization
            let plain = RankSearch(model: model, spectra: spectra, options: integer, policyName: "target-accuracy-drop", policyParameter: 1) { _ in
                ValidationScore(accuracy: 0, standardError: 0)
            }
            var refitting = plain
            refitting.refitter = refitter
            let ranks = plain.ranks(threshold: 0.95)
            let rounded = try plain.buildWithDecisions(ranks)
            let refitted = try refitting.buildWithDecisions(ranks)
            let label = "\(quantization.dtype.name)"
            // What is stored is the plain rounding's: the same tensors, dtypes, groups and zero points, the same data bytes.
            #expect(try refitted.model.plan(alignment: Container.defaultAlignment).1.dataByteCount
                == rounded.model.plan(alignment: Container.defaultAlignment).1.dataByteCount, "\(label)")
            var factorized = 0
            for (a, b) in zip(refitted.model.layers, rounded.model.layers) {
                let ta = a.operation.tensors.map(\.tensor), tb = b.operation.tensors.map(\.tensor)
                #expect(ta.map(\.shape) == tb.map(\.shape), "\(label) \(a.name)")
                #expect(ta.map { $0.quantization?.dtype ?? $0.dtype } == tb.map { $0.quantization?.dtype ?? $0.dtype }, "\(label) \(a.name)")
                #expect(ta.map { $0.quantization?.groupSize } == tb.map { $0.quantization?.groupSize }, "\(label) \(a.name)")
                #expect(ta.map { $0.quantization?.zeroPoints != nil } == tb.map { $0.quantization?.zeroPoints != nil }, "\(label) \(a.name)")
                if case let .factorizedDense(us, vt, _, _, f) = a.operation {
                    factorized += 1
                    #expect(f.method.hasSuffix("+refit"), "\(label) \(a.name)")
                    #expect(us.quantization?.dtype == quantization.dtype && vt.quantization?.dtype == quantization.dtype, "\(label) \(a.name)")
                }
            }
            #expect(factorized == 2, "\(label)")
            // The pass a data-aware policy conversion (and a size search) runs: float factors refitted, each layer rounded in it.
            var float = options
            float.quantization = nil
            var shared = try RankSearch(model: model, spectra: spectra, options: float, policyName: "target-accuracy-drop", policyParameter: 1) { _ in
                ValidationScore(accuracy: 0, standardError: 0)
            }.buildWithDecisions(ranks)
            try refitter.applyRounding(to: &shared, options: integer)
            #expect(refitted.model.layers == shared.model.layers, "\(label)")
            #expect(refitted.decisions.map(\.relativeError) == shared.decisions.map(\.relativeError), "\(label)")
            // Closer to the original: on the calibration records the refit fits, and on held-out ones.
            let onCalibration = (try outputError(refitted.model, model, on: calibration), try outputError(rounded.model, model, on: calibration))
            #expect(onCalibration.0 < 0.9 * onCalibration.1, "\(label): refitted \(onCalibration.0), plain \(onCalibration.1)")
            let heldOut = (try outputError(refitted.model, model, on: validation), try outputError(rounded.model, model, on: validation))
            #expect(heldOut.0 < heldOut.1, "\(label): refitted \(heldOut.0), plain \(heldOut.1)")
        }
    }

    @Test("a rank search with i8 factors records the refit (conversion.refit, refit.count, +refit methods); without it (--no-refit) none, other values, the same ranks for a ratio")
    func recordedInTheFile() throws {
        let model = try mnist()
        var options = ConversionOptions()
        options.metric = .whitened(ridge: 1e-6)
        options.quantization = QuantizationOptions(dtype: .int8)
        var request = ConversionRequest(options: options, target: .ratio(0.2), data: selection(calibration: 2000), writer: nil)
        let refitted = try ConversionPipeline.search(model, request: request)
        request.refit = nil
        let plain = try ConversionPipeline.search(model, request: request)
        #expect(refitted.model.metadata[MetadataKey.conversionRefit] == .bool(true))
        #expect(refitted.model.metadata[MetadataKey.refitCount] == .int(2000))
        #expect(refitted.provenance.refit != nil && plain.provenance.refit == nil)
        #expect(plain.model.metadata[MetadataKey.conversionRefit] == nil && plain.model.metadata[MetadataKey.refitCount] == nil)
        #expect(refitted.model.metadata[MetadataKey.conversionFactorDType] == .string("i8"))
        func factorizations(_ m: Model) -> [(String, Factorization, DType?)] {
            m.layers.compactMap { layer in
                guard case let .factorizedDense(us, _, _, _, f) = layer.operation else { return nil }
                return (layer.name, f, us.quantization?.dtype)
            }
        }
        let (a, b) = (factorizations(refitted.model), factorizations(plain.model))
        #expect(a.count == 2 && a.map(\.0) == b.map(\.0) && a.map(\.1.rank) == b.map(\.1.rank))
        #expect(a.allSatisfy { $0.1.method.hasSuffix("+refit") && $0.2 == .int8 })
        #expect(b.allSatisfy { !$0.1.method.hasSuffix("+refit") && $0.2 == .int8 })
        #expect(refitted.model.layers != plain.model.layers)
    }
}
