import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMKeras
import LRMVerify
import Testing
@testable import LRMPipeline

@Suite("Confirming a search's choice on validation records it was not selected on")
struct ConfirmationTests {
    @Test("candidates are tested from the largest in the search's order until the first failure; the last that passed is kept")
    func fixedSequence() {
        for count in 1...12 {
            for firstFailure in 0...count {  // candidates 0..<firstFailure pass
                var tested: [Int] = []
                let (index, tests) = Confirmation.lastPassing(count: count) { i in
                    tested.append(i)
                    return i < firstFailure
                }
                #expect(index == firstFailure - 1, "count \(count), first failure \(firstFailure)")
                #expect(tested == Array(0..<min(count, firstFailure + 1)) && tests == tested.count)
            }
        }
        #expect(Confirmation.lastPassing(count: 0) { _ in true } == (-1, 0))
        // A later candidate that would pass is never reached past a failure.
        let passes = [true, true, false, true, true]
        var tested: [Int] = []
        let (index, tests) = Confirmation.lastPassing(count: passes.count) { tested.append($0); return passes[$0] }
        #expect(index == 1 && tests == 3 && tested == [0, 1, 2])
    }

    @Test("a size search's ladder: rungs between accepted candidates more than 1.2× apart in bytes, only those that meet the budget and fall between")
    func ladder() {
        func candidate(_ bytes: Int, _ accuracy: Double = 0.9) -> SizeCandidate {
            SizeCandidate(ranks: ["d": bytes], storage: StorageChoice.searched[0], threshold: 0.9, bytes: bytes,
                          score: ValidationScore(accuracy: accuracy, standardError: 0))
        }
        // Bytes fall linearly with the position from 1,000 at 0 to 300 at 1; the rung at 0.5 misses the budget.
        var scored: [Double] = []
        let rungs = SizeSearch.ladder([(candidate(1000), 0), (candidate(300), 1), (candidate(250), 2)],
                                      meets: { ($0.score?.accuracy ?? 0) >= 0.85 }) { position in
            scored.append(position)
            return candidate(Int(1000 - 700 * position), position == 0.5 ? 0.8 : 0.9)
        }
        #expect(scored == [0.25, 0.5, 0.75])  // 300 → 250 is within 1.2×: nothing between them
        #expect(rungs.map(\.bytes) == [1000, 825, 475, 300, 250])
        #expect(SizeSearch.ladder([], meets: { _ in true }) { _ in candidate(1) }.isEmpty)
    }

    @Test("the budget rule: drop plus confidence standard errors at most the budget")
    func meets() {
        let score = ValidationScore(accuracy: 0.95, standardError: 0.002)
        #expect(Confirmation.meets(score, baseline: 0.96, maxDrop: 0.012, confidence: 1))
        #expect(!Confirmation.meets(score, baseline: 0.96, maxDrop: 0.011, confidence: 1))
        #expect(Confirmation.meets(score, baseline: 0.96, maxDrop: 0.010, confidence: 0))
    }

    @Test("the split is disjoint, covers every record, has the asked share and depends only on the seed")
    func split() throws {
        let (select, confirm) = try ValidationSplit.confirmationPositions(count: 1001, fraction: 0.5, seed: 7)
        #expect(confirm.count == 501 && select.count == 500)
        #expect(Set(select).isDisjoint(with: confirm) && Set(select + confirm) == Set(0..<1001))
        #expect(select == select.sorted() && confirm == confirm.sorted())
        let again = try ValidationSplit.confirmationPositions(count: 1001, fraction: 0.5, seed: 7)
        #expect(again.selection == select && again.confirmation == confirm)
        let other = try ValidationSplit.confirmationPositions(count: 1001, fraction: 0.5, seed: 8)
        #expect(other.confirmation != confirm)
        // Not simply the first or last half: drawn across the records.
        #expect(confirm.first! < 100 && confirm.last! > 900)
        #expect(throws: PipelineError.self) { try ValidationSplit.confirmationPositions(count: 1, fraction: 0.5, seed: 1) }
        #expect(throws: PipelineError.self) { try ValidationSplit.confirmationPositions(count: 10, fraction: 0.01, seed: 1) }
    }
}

/// ../shared/datasets next to the package, if it holds MNIST.
private let sharedDatasets: String? = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.deletingLastPathComponent().appendingPathComponent("shared/datasets").path
    return FileManager.default.fileExists(atPath: path + "/mnist") ? path : nil
}()

@Suite("A confirmed search on the MNIST sample", .enabled(if: sharedDatasets != nil))
struct ConfirmedSearchTests {
    func mnist() throws -> Model {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var model = try KerasImporter.loadModel(path: root.appendingPathComponent("samples/mnist_mlp.h5").path)
        model.input.scale = [1.0 / 255]
        return model
    }

    func request(fraction: Double) throws -> ConversionRequest {
        var options = ConversionOptions()
        options.metric = .plain
        var request = ConversionRequest(options: options, target: .accuracyDrop(1.0),
                                        data: DataSelection(dataset: .mnist, folder: sharedDatasets, calibrationSamples: 500, validationSamples: 1200),
                                        writer: nil)
        request.refit = nil
        request.confirmFraction = fraction
        return request
    }

    @Test("the result keeps the budget on the confirmation records, re-scored independently; fraction 0 confirms nothing")
    func confirmed() throws {
        let model = try mnist()
        let result = try ConversionPipeline.search(model, request: try request(fraction: 0.5))
        let outcome = try #require(result.search)
        let confirmation = try #require(outcome.confirmation)
        #expect(confirmation.selectionSamples == 600 && confirmation.confirmationSamples == 600)
        #expect(outcome.validationSamples == 600)
        #expect(confirmation.pathLength >= 1 && confirmation.tests >= 1 && confirmation.stepsBack >= 0)
        #expect(confirmation.stepsBack < confirmation.pathLength || confirmation.keptOriginal)
        // Re-score the written model on the confirmation records, drawn again from the data's seed.
        let data = try request(fraction: 0.5).data.resolved(for: model)
        let (_, validation) = try data.trainingSubsets()
        let all = try EvaluationSet(validation, layout: data.layout(for: model))
        let (_, confirm) = try ValidationSplit.confirmationPositions(count: all.sampleCount, fraction: 0.5, seed: data.seed)
        let judge = try PairedAccuracyEvaluator(reference: model, samples: all.subset(confirm, description: "confirmation"))
        let score = try judge.score(result.model)
        #expect(abs(score.accuracy - outcome.validationAccuracy) < 1e-12)
        #expect(abs(judge.baselineAccuracy - outcome.validationBaseline) < 1e-12)
        #expect(Confirmation.meets(score, baseline: judge.baselineAccuracy, maxDrop: 0.01, confidence: 1))
        // The file says how it was judged.
        let metadata = result.model.metadata
        #expect(metadata[MetadataKey.searchEstimate] == .string("held-out"))
        #expect(metadata[MetadataKey.searchSelectionSamples] == .int(600) && metadata[MetadataKey.searchConfirmationSamples] == .int(600))
        #expect(metadata[MetadataKey.searchConfidence] == .float(1))
        #expect(metadata[MetadataKey.searchValidationScore] == .float(score.accuracy))
        #expect(metadata[MetadataKey.searchValidationScoreOriginal] == .float(judge.baselineAccuracy))
        #expect(metadata[MetadataKey.searchValidationStandardError] == .float(outcome.standardError))
        // The search's own choice is at least as small as the result (stepping back only grows the model).
        #expect(confirmation.selectedHiddenFraction <= outcome.hiddenFraction + 1e-12)

        let plain = try ConversionPipeline.search(model, request: try request(fraction: 0))
        let unconfirmed = try #require(plain.search)
        #expect(unconfirmed.confirmation == nil && unconfirmed.validationSamples == 1200)
        #expect(plain.model.metadata[MetadataKey.searchSelectionSamples] == .int(1200) && plain.model.metadata[MetadataKey.searchConfirmationSamples] == .int(0))
    }
}
