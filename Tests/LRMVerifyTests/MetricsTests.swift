import Testing
import LRMFormat
@testable import LRMVerify

/// One-hot scores: 1 at each predicted class, 0 elsewhere.
func oneHot(_ predicted: [Int], classCount: Int) -> [Float] {
    var outputs = [Float](repeating: 0, count: predicted.count * classCount)
    for (row, label) in predicted.enumerated() { outputs[row * classCount + label] = 1 }
    return outputs
}

/// Ratios of small integers computed in Double differ from the exact fraction by at most a
/// few ulps; 1e-12 is far above that and far below any meaningful difference.
let exactTolerance = 1e-12

@Suite("classification metrics")
struct MetricsTests {
    /// 3 classes, 10 samples:
    ///
    ///     labels    0 0 0 0 1 1 1 2 2 2
    ///     predicted 0 0 1 2 1 1 0 2 2 1
    ///
    /// Confusion (rows true, columns predicted): [2 1 1], [1 2 0], [0 1 2]; 6 correct.
    /// - class 0: TP 2, predicted 3, support 4 → P 2/3, R 1/2, F1 = 2·2/(4+3) = 4/7
    /// - class 1: TP 2, predicted 4, support 3 → P 1/2, R 2/3, F1 = 4/7
    /// - class 2: TP 2, predicted 3, support 3 → P 2/3, R 2/3, F1 = 4/6 = 2/3
    /// - macro-F1 = (4/7 + 4/7 + 2/3)/3 = 38/63; weighted-F1 = (4·4/7 + 3·4/7 + 3·2/3)/10 = 0.6
    /// - macro P = macro R = (2/3 + 1/2 + 2/3)/3 = 11/18
    @Test("a hand-worked 3-class, 10-sample example")
    func handWorked() throws {
        let labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
        let predicted = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1]
        let metrics = try ClassificationMetrics(outputs: oneHot(predicted, classCount: 3), labels: labels, classCount: 3)
        #expect(metrics.confusion.rows == [[2, 1, 1], [1, 2, 0], [0, 1, 2]])
        #expect(metrics.sampleCount == 10)
        #expect(abs(metrics.accuracy - 0.6) < exactTolerance)
        #expect(metrics.top5Accuracy == nil)
        let expected: [(p: Double, r: Double, f1: Double, support: Int, predicted: Int)] = [
            (2.0 / 3, 0.5, 4.0 / 7, 4, 3), (0.5, 2.0 / 3, 4.0 / 7, 3, 4), (2.0 / 3, 2.0 / 3, 2.0 / 3, 3, 3),
        ]
        for (c, want) in expected.enumerated() {
            let got = metrics.perClass[c]
            #expect(abs(got.precision - want.p) < exactTolerance, "precision \(c)")
            #expect(abs(got.recall - want.r) < exactTolerance, "recall \(c)")
            #expect(abs(got.f1 - want.f1) < exactTolerance, "f1 \(c)")
            #expect(got.support == want.support && got.predicted == want.predicted)
        }
        #expect(abs(metrics.macroF1 - 38.0 / 63) < exactTolerance)
        #expect(abs(metrics.weightedF1 - 0.6) < exactTolerance)
        #expect(abs(metrics.macroPrecision - 11.0 / 18) < exactTolerance)
        #expect(abs(metrics.macroRecall - 11.0 / 18) < exactTolerance)
        #expect(abs(metrics.weightedRecall - metrics.accuracy) < exactTolerance)
        #expect(metrics.macroClassCount == 3)
    }

    /// 4 classes, 5 samples: class 1 predicted but never present, class 2 present but never
    /// predicted, class 3 neither.
    ///
    ///     labels    0 0 2 2 0
    ///     predicted 0 1 0 0 0
    ///
    /// - class 0: TP 2, predicted 4, support 3 → P 1/2, R 2/3, F1 4/7
    /// - class 1: TP 0, predicted 1, support 0 → P 0, R 0 (0/0 → 0), F1 0/(0+1) = 0
    /// - class 2: TP 0, predicted 0, support 2 → P 0 (0/0 → 0), R 0, F1 0
    /// - class 3: all 0, and left out of the macro mean (as sklearn's default labels=None)
    /// - macro-F1 = (4/7 + 0 + 0)/3 = 4/21; weighted-F1 = 3·(4/7)/5 = 12/35; accuracy 2/5
    @Test("a class never predicted and a class never present follow sklearn's zero_division default")
    func absentClasses() throws {
        let metrics = try ClassificationMetrics(outputs: oneHot([0, 1, 0, 0, 0], classCount: 4),
                                                labels: [0, 0, 2, 2, 0], classCount: 4)
        #expect(metrics.perClass.map(\.precision) == [0.5, 0, 0, 0])
        #expect(abs(metrics.perClass[0].recall - 2.0 / 3) < exactTolerance)
        #expect(metrics.perClass[1...].map(\.recall) == [0, 0, 0])
        #expect(metrics.perClass[1...].map(\.f1) == [0, 0, 0])
        #expect(metrics.perClass.map(\.support) == [3, 0, 2, 0])
        #expect(metrics.perClass.map(\.predicted) == [4, 1, 0, 0])
        #expect(metrics.macroClassCount == 3)
        #expect(abs(metrics.macroF1 - 4.0 / 21) < exactTolerance)
        #expect(abs(metrics.weightedF1 - 12.0 / 35) < exactTolerance)
        #expect(abs(metrics.accuracy - 0.4) < exactTolerance)
    }

    /// 20 classes with scores[j] = j, so the ranking is 19, 18, 17, …; plus two rows of equal
    /// scores where the ranking is 0, 1, 2, … (ties to the lower index).
    /// - label 19: rank 0, hit (and the only top-1 hit); label 15: 4 ahead, hit;
    ///   label 14: 5 ahead, miss; label 0: miss
    /// - equal scores: label 4 has 0…3 ahead, hit; label 5 has 0…4 ahead, miss
    /// - top-5 = 3/6, accuracy = 1/6
    @Test("top-5 accuracy on a 20-class case, ties ranked by lowest index")
    func top5() throws {
        let ramp = (0..<20).map(Float.init)
        let flat = [Float](repeating: 0.05, count: 20)
        let outputs = ramp + ramp + ramp + ramp + flat + flat
        let metrics = try ClassificationMetrics(outputs: outputs, labels: [19, 15, 14, 0, 4, 5], classCount: 20)
        #expect(metrics.top5Accuracy.map { abs($0 - 0.5) < exactTolerance } == true)
        #expect(abs(metrics.accuracy - 1.0 / 6) < exactTolerance)
        #expect(try ClassificationMetrics.predictions(outputs: outputs, classCount: 20) == [19, 19, 19, 19, 0, 0])
    }

    @Test("top-5 is nil for 10 classes and present for 11")
    func top5Threshold() throws {
        let ten = try ClassificationMetrics(outputs: oneHot([1, 2], classCount: 10), labels: [1, 3], classCount: 10)
        #expect(ten.top5Accuracy == nil)
        let eleven = try ClassificationMetrics(outputs: oneHot([1, 2], classCount: 11), labels: [1, 3], classCount: 11)
        #expect(eleven.top5Accuracy == 1)
    }

    @Test("argmax breaks ties to the lowest index and lets the first NaN win, as numpy.argmax")
    func argmax() throws {
        #expect(try ClassificationMetrics.predictions(outputs: [1, 3, 3, 2], classCount: 4) == [1])
        #expect(try ClassificationMetrics.predictions(outputs: [1, .nan, 5, .nan], classCount: 4) == [1])
        #expect(try ClassificationMetrics.predictions(outputs: [-.infinity, -.infinity], classCount: 2) == [0])
        #expect(try ClassificationMetrics.predictions(outputs: [0, 0, 0, 7, 0, 0], classCount: 3) == [0, 0])
    }

    @Test("batches accumulate to the same metrics as one call")
    func accumulation() throws {
        var generator = SeededGenerator(seed: 11)
        let classes = 12
        let labels = (0..<100).map { _ in Int(generator.next() % UInt64(classes)) }
        let outputs = (0..<(100 * classes)).map { _ in generator.nextSymmetricFloat() }
        let whole = try ClassificationMetrics(outputs: outputs, labels: labels, classCount: classes)
        var accumulator = try MetricsAccumulator(classCount: classes)
        for start in stride(from: 0, to: 100, by: 32) {
            let end = min(100, start + 32)
            try accumulator.add(outputs: Array(outputs[(start * classes)..<(end * classes)]), labels: Array(labels[start..<end]))
        }
        #expect(try accumulator.metrics() == whole)
        #expect(accumulator.sampleCount == 100)
    }

    @Test("inputs of the wrong size or with out-of-range labels are rejected with their kind")
    func errors() throws {
        func kind(_ body: () throws -> Void) -> MetricsError.Kind? {
            do { try body(); return nil } catch let error as MetricsError { return error.kind } catch { return nil }
        }
        #expect(kind { _ = try ClassificationMetrics(outputs: [1, 0, 0], labels: [0, 1], classCount: 3) } == .shapeMismatch)
        #expect(kind { _ = try ClassificationMetrics(outputs: [1, 0, 0], labels: [3], classCount: 3) } == .labelOutOfRange)
        #expect(kind { _ = try ClassificationMetrics(outputs: [1, 0, 0], labels: [-1], classCount: 3) } == .labelOutOfRange)
        #expect(kind { _ = try ClassificationMetrics(outputs: [], labels: [], classCount: 3) } == .empty)
        #expect(kind { _ = try ClassificationMetrics(outputs: [], labels: [], classCount: 0) } == .invalidClassCount)
        #expect(kind { _ = try ClassificationMetrics.predictions(outputs: [1, 2, 3], classCount: 2) } == .shapeMismatch)
        #expect(kind { _ = try ConfusionMatrix(predicted: [0], labels: [0, 1], classCount: 2) } == .shapeMismatch)
        #expect(kind { _ = try ConfusionMatrix(predicted: [2], labels: [0], classCount: 2) } == .labelOutOfRange)
        var matrix = try ConfusionMatrix(classCount: 2)
        #expect(kind { try matrix.merge(ConfusionMatrix(classCount: 3)) } == .shapeMismatch)
    }

    @Test("confusion matrix: rows are true labels, columns predictions; merge adds counts")
    func confusion() throws {
        var matrix = try ConfusionMatrix(predicted: [1, 1, 0], labels: [0, 1, 1], classCount: 2)
        #expect(matrix[0, 1] == 1 && matrix[1, 1] == 1 && matrix[1, 0] == 1 && matrix[0, 0] == 0)
        #expect(matrix.support(of: 1) == 2 && matrix.predictedCount(of: 1) == 2)
        try matrix.merge(ConfusionMatrix(predicted: [0], labels: [0], classCount: 2))
        #expect(matrix.rows == [[1, 1], [1, 1]])
        #expect(matrix.total == 4 && matrix.correct == 2)
        #expect(matrix.json.serialized() == #"{"orientation":"rows: true label, columns: predicted label","counts":[[1,1],[1,1]]}"#)
    }

    @Test("JSON lists accuracy, then macro-F1 before weighted-F1, per class and the confusion matrix")
    func json() throws {
        let metrics = try ClassificationMetrics(outputs: oneHot([0, 1, 1], classCount: 2), labels: [0, 1, 0], classCount: 2)
        let text = metrics.json(classNames: ["cat", "dog"]).serialized()
        #expect(text.hasPrefix(#"{"samples":3,"classes":2,"accuracy":0.6666666666666666,"top5_accuracy":null,"f1_macro":"#))
        #expect(text.contains(#"{"class":1,"name":"dog","precision":0.5,"recall":1,"f1":0.6666666666666666,"support":1,"predicted":2}"#))
        #expect(text.contains(#""confusion_matrix":{"orientation":"#))
        let macro = text.range(of: "f1_macro")?.lowerBound
        let weighted = text.range(of: "f1_weighted")?.lowerBound
        #expect(macro != nil && weighted != nil && macro! < weighted!)
    }
}
