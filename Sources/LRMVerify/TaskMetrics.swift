public import LRMFormat

/// Scores of a binary classifier with one output (a probability, or a logit with threshold 0): the
/// decision is `output ≥ threshold`.
public struct BinaryMetrics: Sendable, Equatable {
    public let sampleCount: Int
    public let threshold: Double
    public let truePositives: Int
    public let falsePositives: Int
    public let trueNegatives: Int
    public let falseNegatives: Int
    /// Area under the ROC curve of the raw outputs (threshold-free; ties count one half); nil when the
    /// labels hold only one class.
    public let rocAUC: Double?

    /// - Throws: `MetricsError` `.shapeMismatch` when the counts differ, `.empty` for no samples.
    public init(outputs: [Float], labels: [Int], threshold: Double) throws {
        guard outputs.count == labels.count else {
            throw MetricsError(.shapeMismatch, "\(outputs.count) outputs for \(labels.count) labels (one output per sample)")
        }
        guard !labels.isEmpty else { throw MetricsError(.empty, "no samples") }
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (output, label) in zip(outputs, labels) {
            let positive = Double(output) >= threshold
            switch (positive, label == 1) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        sampleCount = labels.count
        self.threshold = threshold
        (truePositives, falsePositives, trueNegatives, falseNegatives) = (tp, fp, tn, fn)
        rocAUC = BinaryMetrics.areaUnderROC(outputs: outputs, labels: labels)
    }

    public var accuracy: Double { Double(truePositives + trueNegatives) / Double(max(1, sampleCount)) }
    /// TP / (TP + FP); 0 when nothing is predicted positive.
    public var precision: Double { truePositives + falsePositives > 0 ? Double(truePositives) / Double(truePositives + falsePositives) : 0 }
    /// TP / (TP + FN); 0 when there are no positives.
    public var recall: Double { truePositives + falseNegatives > 0 ? Double(truePositives) / Double(truePositives + falseNegatives) : 0 }
    /// F1 of the positive class, 2·TP / (2·TP + FP + FN); 0 when all three are 0.
    public var f1: Double {
        let denominator = 2 * truePositives + falsePositives + falseNegatives
        return denominator > 0 ? Double(2 * truePositives) / Double(denominator) : 0
    }
    /// Samples the model gets right.
    public var correct: Int { truePositives + trueNegatives }

    /// The Mann–Whitney statistic: the probability that a random positive scores above a random negative.
    static func areaUnderROC(outputs: [Float], labels: [Int]) -> Double? {
        let positives = labels.filter { $0 == 1 }.count
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = outputs.indices.sorted { outputs[$0] < outputs[$1] }
        var rankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, outputs[order[end + 1]] == outputs[order[start]] { end += 1 }
            let averageRank = Double(start + end) / 2 + 1
            for position in start...end where labels[order[position]] == 1 { rankSum += averageRank }
            start = end + 1
        }
        let p = Double(positives), n = Double(negatives)
        return (rankSum - p * (p + 1) / 2) / (p * n)
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("samples", .int(Int64(sampleCount))), ("threshold", .number(threshold)), ("accuracy", .number(accuracy)),
            ("precision", .number(precision)), ("recall", .number(recall)), ("f1", .number(f1)),
        ]
        members.append(("roc_auc", rocAUC.map { .number($0) } ?? .null))
        members += [("true_positives", .int(Int64(truePositives))), ("false_positives", .int(Int64(falsePositives))),
                    ("true_negatives", .int(Int64(trueNegatives))), ("false_negatives", .int(Int64(falseNegatives)))]
        return .object(members)
    }
}

/// Errors of a regression model over every output value: MAE, RMSE and R² (1 − SS_res / SS_tot, SS_tot
/// around each output column's mean target).
public struct RegressionMetrics: Sendable, Equatable {
    public let sampleCount: Int
    public let meanAbsoluteError: Double
    public let rootMeanSquaredError: Double
    /// nil when the targets do not vary (SS_tot = 0).
    public let r2: Double?

    /// - Throws: `MetricsError` `.shapeMismatch` when the counts differ, `.empty` for no samples.
    public init(outputs: [Float], targets: [Float], width: Int) throws {
        guard width >= 1, outputs.count == targets.count, outputs.count % width == 0 else {
            throw MetricsError(.shapeMismatch, "\(outputs.count) outputs for \(targets.count) targets of width \(width)")
        }
        guard !targets.isEmpty else { throw MetricsError(.empty, "no samples") }
        let rows = targets.count / width
        var means = [Double](repeating: 0, count: width)
        for (index, t) in targets.enumerated() { means[index % width] += Double(t) / Double(rows) }
        var absolute = 0.0, squared = 0.0, total = 0.0
        for index in targets.indices {
            let error = Double(outputs[index]) - Double(targets[index])
            absolute += abs(error)
            squared += error * error
            let spread = Double(targets[index]) - means[index % width]
            total += spread * spread
        }
        sampleCount = rows
        meanAbsoluteError = absolute / Double(targets.count)
        rootMeanSquaredError = (squared / Double(targets.count)).squareRoot()
        r2 = total > 0 ? 1 - squared / total : nil
    }

    public var json: JSONValue {
        .object([("samples", .int(Int64(sampleCount))), ("mae", .number(meanAbsoluteError)), ("rmse", .number(rootMeanSquaredError)),
                 ("r2", r2.map { .number($0) } ?? .null)])
    }
}
