public import LRMFormat

/// Accuracy, top-5 accuracy, per-class precision/recall/F1 and their averages, from a model's
/// outputs and the true labels.
///
/// **Conventions** (chosen to match scikit-learn and NumPy, checked by
/// `tools/check_metrics_sklearn.py`):
/// - Outputs are row-major, `classCount` scores per sample; the predicted class is the
///   argmax, ties going to the **lowest index** and a NaN winning at its first position
///   (as `numpy.argmax`).
/// - Per class c: precision = TP / (TP + FP), recall = TP / (TP + FN),
///   F1 = 2·TP / (2·TP + FP + FN). A ratio whose denominator is 0 is **0** — scikit-learn's
///   default `zero_division="warn"`, which returns 0 (and warns). So a class never predicted
///   has precision 0, a class never present has recall 0, and a class with neither has F1 0.
/// - **Macro-F1** is the unweighted mean of F1 over the classes that occur in the true *or*
///   the predicted labels: exactly `sklearn.metrics.f1_score(y_true, y_pred, average="macro")`
///   with its default `labels=None`. A class with no support and no predictions is left out
///   of the mean (scikit-learn would count it as 0 only if `labels=range(classCount)` were
///   passed). Macro precision and recall average over the same classes.
/// - **Weighted-F1** is the support-weighted mean of the per-class F1
///   (`average="weighted"`); classes without support weigh nothing.
///
/// **Which F1 is "the" F1.** The ARSVD paper reports a single "F1". Both averages exist; lrm
/// reports **macro-F1 first** (it is the one that does not hide a collapsed minority class),
/// then weighted-F1. On balanced test sets such as MNIST, CIFAR-10 and CIFAR-100 the two differ
/// only slightly.
public struct ClassificationMetrics: Sendable, Equatable {
    /// The metrics of one class.
    public struct PerClass: Sendable, Equatable {
        /// TP / (TP + FP), 0 when the class is never predicted.
        public var precision: Double
        /// TP / (TP + FN), 0 when the class has no support.
        public var recall: Double
        /// 2·TP / (2·TP + FP + FN), 0 when the class is neither present nor predicted.
        public var f1: Double
        /// Samples whose true label is this class.
        public var support: Int
        /// Samples predicted as this class.
        public var predicted: Int
    }

    /// Samples evaluated.
    public let sampleCount: Int
    /// Number of classes.
    public let classCount: Int
    /// Fraction (0…1) of samples whose argmax equals the label.
    public let accuracy: Double
    /// Fraction (0…1) of samples whose label is among the 5 highest scores (ties broken by
    /// lowest index, as for the argmax); `nil` when there are 10 classes or fewer.
    public let top5Accuracy: Double?
    /// One entry per class, in label order.
    public let perClass: [PerClass]
    /// Unweighted mean F1 over the classes present in the labels or the predictions (0…1).
    public let macroF1: Double
    /// Support-weighted mean F1 (0…1).
    public let weightedF1: Double
    /// Unweighted mean precision over the same classes as `macroF1`.
    public let macroPrecision: Double
    /// Unweighted mean recall over the same classes as `macroF1`.
    public let macroRecall: Double
    /// Support-weighted mean precision.
    public let weightedPrecision: Double
    /// Support-weighted mean recall (equal to `accuracy`).
    public let weightedRecall: Double
    /// Rows: true label; columns: predicted label.
    public let confusion: ConfusionMatrix

    /// The metrics of `outputs` (row-major, `classCount` scores per sample) against `labels`.
    /// - Throws: `MetricsError` `.shapeMismatch`, `.labelOutOfRange`, `.invalidClassCount`, `.empty`.
    public init(outputs: [Float], labels: [Int], classCount: Int) throws {
        var accumulator = try MetricsAccumulator(classCount: classCount)
        try accumulator.add(outputs: outputs, labels: labels)
        self = try accumulator.metrics()
    }

    /// The metrics of a confusion matrix. `top5Correct` is the number of top-5 hits, used only
    /// when `confusion.classCount > 10`.
    /// - Throws: `MetricsError.empty` when the matrix counts no sample.
    public init(confusion: ConfusionMatrix, top5Correct: Int?) throws {
        let total = confusion.total
        guard total > 0 else { throw MetricsError(.empty, "no samples to compute metrics from") }
        let classes = confusion.classCount
        sampleCount = total
        classCount = classes
        self.confusion = confusion
        accuracy = Double(confusion.correct) / Double(total)
        top5Accuracy = classes > 10 ? top5Correct.map { Double($0) / Double(total) } : nil
        func ratio(_ numerator: Int, _ denominator: Int) -> Double {
            denominator == 0 ? 0 : Double(numerator) / Double(denominator)
        }
        let rows = (0..<classes).map { c in
            let truePositives = confusion[c, c]
            let support = confusion.support(of: c)
            let predicted = confusion.predictedCount(of: c)
            return PerClass(precision: ratio(truePositives, predicted), recall: ratio(truePositives, support),
                            f1: ratio(2 * truePositives, support + predicted), support: support, predicted: predicted)
        }
        perClass = rows
        let present = rows.filter { $0.support > 0 || $0.predicted > 0 }
        let mean = { (value: (PerClass) -> Double) -> Double in
            present.isEmpty ? 0 : present.reduce(0) { $0 + value($1) } / Double(present.count)
        }
        let weighted = { (value: (PerClass) -> Double) -> Double in
            rows.reduce(0) { $0 + value($1) * Double($1.support) } / Double(total)
        }
        macroF1 = mean(\.f1)
        macroPrecision = mean(\.precision)
        macroRecall = mean(\.recall)
        weightedF1 = weighted(\.f1)
        weightedPrecision = weighted(\.precision)
        weightedRecall = weighted(\.recall)
    }

    /// The index of the largest value; ties go to the lowest index and the first NaN wins
    /// (as `numpy.argmax`). `row` must not be empty.
    public static func argmax(_ row: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in row.indices {
            if row[i].isNaN { return i }
            if row[i] > row[best] { best = i }
        }
        return best
    }

    /// The argmax of each row of `outputs` (row-major, `classCount` per row).
    /// - Throws: `MetricsError` `.invalidClassCount`, `.shapeMismatch`.
    public static func predictions(outputs: [Float], classCount: Int) throws -> [Int] {
        guard classCount >= 1 else {
            throw MetricsError(.invalidClassCount, "class count must be at least 1, found \(classCount)")
        }
        guard outputs.count % classCount == 0 else {
            throw MetricsError(.shapeMismatch, "\(outputs.count) outputs are not whole rows of \(classCount) classes")
        }
        return outputs.withUnsafeBufferPointer { all in
            (0..<(all.count / classCount)).map { row in
                argmax(UnsafeBufferPointer(rebasing: all[(row * classCount)..<((row + 1) * classCount)]))
            }
        }
    }

    /// Whether `label` is among the `k` best scores of `row`, ranking by score descending with
    /// ties going to the lower index (so `k == 1` agrees with `argmax`). NaN ranks above all.
    public static func isInTopK(_ row: UnsafeBufferPointer<Float>, label: Int, k: Int) -> Bool {
        let score = row[label]
        var ahead = 0
        for i in row.indices where i != label {
            let other = row[i]
            let beats: Bool
            if other.isNaN { beats = !score.isNaN || i < label }
            else if score.isNaN { beats = false }
            else { beats = other > score || (other == score && i < label) }
            if beats {
                ahead += 1
                if ahead >= k { return false }
            }
        }
        return true
    }
}

extension ClassificationMetrics {
    /// The metrics as JSON, keys in this order: `samples`, `classes`, `accuracy`,
    /// `top5_accuracy` (null for ≤ 10 classes), `f1_macro`, `f1_weighted` (macro first: see the
    /// type's documentation), `precision_macro`, `recall_macro`, `precision_weighted`,
    /// `recall_weighted`, `f1_macro_classes` (how many classes the macro means average),
    /// `per_class` (one object per class: `class`, `name` when `classNames` has one,
    /// `precision`, `recall`, `f1`, `support`, `predicted`), `confusion_matrix`. Fractions are
    /// 0…1.
    public func json(classNames: [String]? = nil) -> JSONValue {
        let perClassJSON: [JSONValue] = perClass.enumerated().map { index, metrics in
            var members: [(String, JSONValue)] = [("class", .int(Int64(index)))]
            if let classNames, index < classNames.count { members.append(("name", .string(classNames[index]))) }
            members += [("precision", .number(metrics.precision)), ("recall", .number(metrics.recall)),
                        ("f1", .number(metrics.f1)), ("support", .int(Int64(metrics.support))),
                        ("predicted", .int(Int64(metrics.predicted)))]
            return .object(members)
        }
        return .object([
            ("samples", .int(Int64(sampleCount))),
            ("classes", .int(Int64(classCount))),
            ("accuracy", .number(accuracy)),
            ("top5_accuracy", top5Accuracy.map { .number($0) } ?? .null),
            ("f1_macro", .number(macroF1)),
            ("f1_weighted", .number(weightedF1)),
            ("precision_macro", .number(macroPrecision)),
            ("recall_macro", .number(macroRecall)),
            ("precision_weighted", .number(weightedPrecision)),
            ("recall_weighted", .number(weightedRecall)),
            ("f1_macro_classes", .int(Int64(macroClassCount))),
            ("per_class", .array(perClassJSON)),
            ("confusion_matrix", confusion.json),
        ])
    }

    /// How many classes the macro averages run over (those present in the labels or the
    /// predictions).
    public var macroClassCount: Int {
        perClass.filter { $0.support > 0 || $0.predicted > 0 }.count
    }
}
