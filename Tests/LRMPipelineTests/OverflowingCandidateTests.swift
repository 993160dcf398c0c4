import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMKeras
import LRMVerify
import Testing
@testable import LRMPipeline

/// A search's candidates whose outputs overflow to NaN or infinity, and originals that do.
@Suite("candidates and originals whose outputs overflow")
struct OverflowingCandidateTests {
    /// 4 inputs → `outputs` outputs, every weight `weight` with alternating signs (1e30 on inputs of 1e10: ∞ − ∞, NaN).
    static func model(outputs: Int, weight: Float, activation: Activation) -> Model {
        let kernel = (0..<(4 * outputs)).map { $0 % 2 == 0 ? weight : -weight }
        return Model(name: "m", input: InputSpec(shape: [4]), layers: [
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [4, outputs], floats: kernel), bias: nil, activation: activation)),
        ])
    }

    static let inputs = [Float](repeating: 1e10, count: 6 * 4)

    @Test("a candidate whose outputs are NaN misses every budget (accuracy and binary: it was scored as if NaN were a decision, and kept a 100% budget), and an original whose outputs are NaN is refused before any candidate")
    func candidatesFail() throws {
        let classes = try Dataset(arrays: Self.inputs, sampleShape: [4], labels: [0, 1, 2, 0, 1, 2], classNames: ["a", "b", "c"], split: .test,
                                  description: "six samples")
        let binary = try Dataset(arrays: Self.inputs, sampleShape: [4], labels: [0, 1, 0, 1, 0, 1], classNames: ["0", "1"], split: .test,
                                 description: "six samples")
        let targets = try Dataset(arrays: Self.inputs, sampleShape: [4], labels: [Int](repeating: -1, count: 6), classNames: [],
                                  targets: [Float](repeating: 1, count: 6), targetWidth: 1, split: .test, description: "six samples")
        let fine = (classes: Self.model(outputs: 3, weight: 1e-12, activation: .softmax), binary: Self.model(outputs: 1, weight: 1e-12, activation: .linear),
                    regression: Self.model(outputs: 1, weight: 1e-12, activation: .linear))
        let overflowing = (classes: Self.model(outputs: 3, weight: 1e30, activation: .softmax), binary: Self.model(outputs: 1, weight: 1e30, activation: .linear),
                           regression: Self.model(outputs: 1, weight: 1e30, activation: .linear))
        let evaluators: [(any CandidateEvaluator, Model)] = [
            (try PairedAccuracyEvaluator(reference: fine.classes, samples: EvaluationSet(classes, layout: .features)), overflowing.classes),
            (try BinaryAccuracyEvaluator(reference: fine.binary, dataset: binary, threshold: 0.5), overflowing.binary),
            (try RegressionErrorEvaluator(reference: fine.regression, dataset: targets), overflowing.regression),
        ]
        for (evaluator, candidate) in evaluators {
            let score = try evaluator.score(candidate)
            #expect(score.overflowed, "\(type(of: evaluator)): \(score)")
            #expect(!Confirmation.meets(score, baseline: evaluator.baselineAccuracy, maxDrop: 1, confidence: 0), "\(type(of: evaluator)): \(score)")
        }
        // A finite candidate (the original itself) is scored as before.
        #expect(!(try PairedAccuracyEvaluator(reference: fine.classes, samples: EvaluationSet(classes, layout: .features)).score(fine.classes).overflowed))
        // The original's own NaN outputs are refused, naming the model.
        let refusals: [() throws -> Void] = [
            { _ = try PairedAccuracyEvaluator(reference: overflowing.classes, samples: EvaluationSet(classes, layout: .features)) },
            { _ = try BinaryAccuracyEvaluator(reference: overflowing.binary, dataset: binary, threshold: 0.5) },
            { _ = try RegressionErrorEvaluator(reference: overflowing.regression, dataset: targets) },
        ]
        for refusal in refusals {
            let error = #expect(throws: VerificationError.self) { try refusal() }
            #expect(error?.kind == .nonFiniteOutputs && error?.message.hasPrefix("the model 'm' gives NaN or infinite outputs") == true, "\(String(describing: error))")
        }
    }

    /// Scores every candidate as one whose outputs overflowed.
    struct Overflowing: CandidateEvaluator {
        var baselineAccuracy: Double { 1 }
        var sampleCount: Int { 100 }
        func score(_ candidate: Model) throws -> ValidationScore {
            try ValidationScore.failingOverflow { throw VerificationError(.nonFiniteOutputs, "the model 'm' gives NaN or infinite outputs") }
        }
    }

    @Test("a rank search whose every candidate overflows keeps the original and counts them, for convert's warning")
    func searchCountsThem() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let model = try KerasImporter.loadModel(path: root.appendingPathComponent("samples/housing_mlp.h5").path)
        var options = ConversionOptions()
        options.metric = .plain
        var request = ConversionRequest(options: options, target: .metricDrop(5), data: DataSelection(), writer: nil)
        request.data.ownData = OwnDataSource(inputs: root.appendingPathComponent("samples/housing_x.npy").path,
                                             labels: root.appendingPathComponent("samples/housing_y.npy").path)
        request.data.fitsSizesToOwnData = true
        request.refit = nil
        request.data = try request.data.resolved(for: model)
        let result = try ConversionPipeline.search(model, request: request, evaluator: Overflowing())
        let search = try #require(result.search)
        #expect(search.candidates > 0 && search.overflowingCandidates == search.candidates, "\(search.overflowingCandidates) of \(search.candidates)")
        #expect(search.hiddenFraction == 1, "the original is kept: \(search.hiddenFraction)")
    }

    @Test("an overflowing candidate's confirmation and fine-tuning events say it overflowed (a size search's confirmation said 'confirmation score -inf'); a finite score reads as before")
    func overflowingScoreText() {
        let candidate = SizeCandidate(ranks: ["h": 1], storage: StorageChoice(hidden: .int8, output: .float16), threshold: 0.5, bytes: 1234, score: nil)
        let overflowing = ConversionPipeline.confirmationMessage(candidate, score: .overflowing, baseline: 0.9, passes: false)
        #expect(overflowing.hasPrefix("1234 bytes (") && overflowing.hasSuffix("): outputs NaN or infinite values (it overflows), over budget"), "\(overflowing)")
        #expect(!overflowing.contains("inf "), "\(overflowing)")
        let finite = ConversionPipeline.confirmationMessage(candidate, score: ValidationScore(accuracy: 0.875, standardError: 0.01), baseline: 0.9, passes: true)
        #expect(finite.hasSuffix("): confirmation score 0.8750 (original 0.9000)"), "\(finite)")
        // The fine-tuning's events (the refinement's scores and its confirmation's) read through the same text.
        #expect(ValidationScore.overflowing.progressText("validation score", baseline: 0.9, withError: true) == "outputs NaN or infinite values (it overflows)")
        #expect(ValidationScore(accuracy: 0.875, standardError: 0.0125).progressText("validation score", baseline: 0.9, withError: true)
                == "validation score 0.8750 ± 0.0125 (original 0.9000)")
    }

    /// Progress events, collected from the thread doing the work.
    final class Events: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [ProgressEvent] = []
        var handler: ProgressHandler { { [self] event in lock.withLock { events.append(event) } } }
        func phase(_ name: String) -> [ProgressEvent] { lock.withLock { events.filter { $0.phase == name } } }
    }

    @Test("the size searches tell each candidate they score as a search event, an overflowing one as such (they told none: only the confirmation's)")
    func sizeSearchEvents() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func request(_ target: ConversionTarget, inputs: OwnDataSource, model: Model, progress: @escaping ProgressHandler) throws -> ConversionRequest {
            var options = ConversionOptions()
            options.metric = .plain
            var request = ConversionRequest(options: options, target: target, data: DataSelection(), writer: nil)
            request.data.ownData = inputs
            request.data.fitsSizesToOwnData = true
            request.refit = nil
            request.data = try request.data.resolved(for: model)
            request.progress = progress
            return request
        }
        // A regressor to a size of 40,000 bytes (its f32 file is 77,636): scored normally, then with every candidate overflowing.
        let housing = try KerasImporter.loadModel(path: root.appendingPathComponent("samples/housing_mlp.h5").path)
        let housingData = OwnDataSource(inputs: root.appendingPathComponent("samples/housing_x.npy").path,
                                        labels: root.appendingPathComponent("samples/housing_y.npy").path)
        for overflowing in [false, true] {
            let events = Events()
            let result = try ConversionPipeline.sizeSearch(housing, request: try request(.size(40_000), inputs: housingData, model: housing,
                                                                                         progress: events.handler),
                                                           evaluator: overflowing ? Overflowing() : nil)
            let search = try #require(result.search)
            let scored = events.phase("search")
            #expect(search.candidates > 0 && scored.count == search.candidates, "\(scored.count) events, \(search.candidates) candidates")
            #expect(scored.map(\.done) == Array(1...max(1, scored.count)) && scored.allSatisfy { $0.total == nil })
            for (event, candidate) in zip(scored, search.sizeCandidates) {
                let size = "candidate of \(candidate.bytes) bytes (\(candidate.storage.description))"
                #expect(event.message.hasPrefix(overflowing
                    ? size + " outputs NaN or infinite values (it overflows): never preferred to a candidate that does not (original "
                    : size + ": validation score "), "\(event.message)")
            }
        }
        // A classifier with --minimize bytes, every candidate overflowing: each misses the budget, and the search finds none.
        let churn = try KerasImporter.loadModel(path: root.appendingPathComponent("samples/churn_mlp.h5").path)
        let churnData = OwnDataSource(inputs: root.appendingPathComponent("samples/churn.csv").path, labelColumn: "churned")
        let events = Events()
        #expect(throws: SizeSearchError.self) {
            try ConversionPipeline.sizeSearch(churn, request: try request(.minimizeBytes(5), inputs: churnData, model: churn, progress: events.handler),
                                              evaluator: Overflowing())
        }
        let scored = events.phase("search")
        #expect(!scored.isEmpty && scored.map(\.done) == Array(1...max(1, scored.count)), "\(scored)")
        #expect(scored.allSatisfy { $0.message.hasSuffix("outputs NaN or infinite values (it overflows): misses the budget (original 1.0000)") }, "\(scored)")
    }
}
