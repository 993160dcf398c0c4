import Testing
import LRMFormat
@testable import LRMVerify

@Suite("binary and regression metrics, and the task a model implies")
struct TaskMetricsTests {
    /// Scores and labels worked by hand:
    ///
    ///     scores 0.9 0.8 0.7 0.6 0.55 0.4 0.3 0.2    (threshold 0.5)
    ///     labels   1   1   0   1    0   1   0   0
    ///
    /// Decisions 1 1 1 1 1 0 0 0: TP 3, FP 2, TN 2, FN 1 → accuracy 5/8, precision 3/5, recall 3/4, F1 6/9.
    /// AUC over the 4×4 positive–negative pairs: positive 0.9 beats 4 negatives, 0.8 beats 4, 0.6 beats 3
    /// (not 0.7), 0.4 beats 2 → 13/16.
    @Test("a hand-worked binary example: confusion counts, F1 and ROC AUC")
    func binaryHandWorked() throws {
        let m = try BinaryMetrics(outputs: [0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2], labels: [1, 1, 0, 1, 0, 1, 0, 0], threshold: 0.5)
        #expect((m.truePositives, m.falsePositives, m.trueNegatives, m.falseNegatives) == (3, 2, 2, 1))
        #expect(abs(m.accuracy - 5.0 / 8) < 1e-12)
        #expect(abs(m.precision - 3.0 / 5) < 1e-12)
        #expect(abs(m.recall - 3.0 / 4) < 1e-12)
        #expect(abs(m.f1 - 6.0 / 9) < 1e-12)
        #expect(abs((m.rocAUC ?? -1) - 13.0 / 16) < 1e-12)
    }

    @Test("ROC AUC counts ties as one half, is 1 for perfect ranking and nil with one class")
    func areaUnderROC() throws {
        // Every score equal: each pair is a tie, AUC 1/2.
        #expect(try BinaryMetrics(outputs: [0.3, 0.3, 0.3, 0.3], labels: [0, 1, 0, 1], threshold: 0.5).rocAUC == 0.5)
        #expect(try BinaryMetrics(outputs: [0.1, 0.2, 0.8, 0.9], labels: [0, 0, 1, 1], threshold: 0.5).rocAUC == 1)
        #expect(try BinaryMetrics(outputs: [0.1, 0.9], labels: [1, 1], threshold: 0.5).rocAUC == nil)
        // A logit model: threshold 0 decides.
        let logits = try BinaryMetrics(outputs: [-2, -0.1, 0.1, 3], labels: [0, 0, 1, 1], threshold: 0)
        #expect(logits.accuracy == 1)
        #expect(throws: MetricsError.self) { try BinaryMetrics(outputs: [0.1], labels: [0, 1], threshold: 0.5) }
    }

    /// targets 1 2 3 4, outputs 1 2 4 2: errors 0 0 1 −2 → MAE 3/4, RMSE √(5/4); SS_tot = 5 → R² = 1 − 5/5 = 0.
    @Test("a hand-worked regression example: MAE, RMSE, R²")
    func regressionHandWorked() throws {
        let m = try RegressionMetrics(outputs: [1, 2, 4, 2], targets: [1, 2, 3, 4], width: 1)
        #expect(abs(m.meanAbsoluteError - 0.75) < 1e-12)
        #expect(abs(m.rootMeanSquaredError - (5.0 / 4).squareRoot()) < 1e-12)
        #expect(abs((m.r2 ?? 9) - 0) < 1e-12)
        let perfect = try RegressionMetrics(outputs: [1, 2, 3, 4], targets: [1, 2, 3, 4], width: 2)
        #expect(perfect.sampleCount == 2 && perfect.r2 == 1 && perfect.rootMeanSquaredError == 0)
        #expect(try RegressionMetrics(outputs: [1, 1], targets: [2, 2], width: 1).r2 == nil)
    }

    @Test("the task follows the output layer and the labels; ambiguity and misfits are errors")
    func resolveTask() throws {
        #expect(try TaskKind.resolve(given: nil, outputCount: 10, outputActivation: .softmax, labels: [0, 3, 9]) == .multiclass)
        #expect(try TaskKind.resolve(given: nil, outputCount: 1, outputActivation: .sigmoid, labels: [0, 1, 1]) == .binary)
        #expect(try TaskKind.resolve(given: nil, outputCount: 1, outputActivation: .linear, labels: [0.5, 2.25]) == .regression)
        #expect(try TaskKind.resolve(given: .binary, outputCount: 1, outputActivation: .linear, labels: [0, 1]) == .binary)
        #expect(try TaskKind.resolve(given: .regression, outputCount: 3, outputActivation: .linear, labels: [0, 1]) == .regression)
        #expect { try TaskKind.resolve(given: nil, outputCount: 1, outputActivation: .linear, labels: [0, 1, 1]) } throws: {
            ($0 as? VerificationError)?.kind == .ambiguousTask
        }
        #expect { try TaskKind.resolve(given: nil, outputCount: 1, outputActivation: .sigmoid, labels: [0, 2]) } throws: {
            ($0 as? VerificationError)?.kind == .taskMismatch
        }
        #expect { try TaskKind.resolve(given: .binary, outputCount: 2, outputActivation: .softmax, labels: [0, 1]) } throws: {
            ($0 as? VerificationError)?.kind == .taskMismatch
        }
        #expect { try TaskKind.resolve(given: nil, outputCount: 3, outputActivation: .softmax, labels: [0, 3]) } throws: {
            ($0 as? VerificationError)?.kind == .taskMismatch
        }
    }
}
