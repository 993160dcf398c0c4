import Foundation
import Testing
import LRMFormat
@testable import LRMVerify

/// Writes random cases (scores, labels, and lrm's metrics of them) to the JSON file named by
/// `LRM_METRICS_DUMP`, for `tools/check_metrics_sklearn.py` to recompute with scikit-learn:
///
///     LRM_METRICS_DUMP=/tmp/metrics.json swift test --filter MetricsSklearnDump
///     python3 tools/check_metrics_sklearn.py /tmp/metrics.json
///
/// Without the variable the test is skipped.
@Suite("metrics dump for the scikit-learn cross-check",
       .enabled(if: ProcessInfo.processInfo.environment["LRM_METRICS_DUMP"] != nil, "LRM_METRICS_DUMP is not set"))
struct MetricsSklearnDumpTests {
    /// One random case.
    struct Case {
        var name: String
        var classCount: Int
        var sampleCount: Int
        /// Scores take only the values 0, 0.5, 1, so argmax and top-5 ties are common.
        var ties = false
        /// Classes never used as labels.
        var absentLabels: Set<Int> = []
        /// Classes whose score is always lowest, so they are never predicted.
        var neverPredicted: Set<Int> = []
        /// Added to the true class's score (a "trained" model).
        var labelBoost: Float = 0
    }

    static let cases = [
        Case(name: "3 classes, random", classCount: 3, sampleCount: 50),
        Case(name: "10 classes, random", classCount: 10, sampleCount: 200),
        Case(name: "10 classes, 7 and 8 absent, 3 never predicted", classCount: 10, sampleCount: 150,
             absentLabels: [7, 8], neverPredicted: [3, 8]),
        Case(name: "20 classes, random", classCount: 20, sampleCount: 300),
        Case(name: "20 classes, boosted", classCount: 20, sampleCount: 300, labelBoost: 0.8),
        Case(name: "100 classes, boosted", classCount: 100, sampleCount: 1000, labelBoost: 1.2),
        Case(name: "12 classes, many ties", classCount: 12, sampleCount: 200, ties: true),
        Case(name: "100 classes, 40 absent", classCount: 100, sampleCount: 120, absentLabels: Set(60..<100)),
    ]

    static func make(_ testCase: Case, generator: inout SeededGenerator) -> (outputs: [Float], labels: [Int]) {
        let allowed = (0..<testCase.classCount).filter { !testCase.absentLabels.contains($0) }
        var outputs: [Float] = []
        var labels: [Int] = []
        for _ in 0..<testCase.sampleCount {
            let label = allowed[Int(generator.next() % UInt64(allowed.count))]
            labels.append(label)
            for c in 0..<testCase.classCount {
                var score = testCase.ties ? Float(generator.next() % 3) / 2 : (generator.nextSymmetricFloat() + 1) / 2
                if c == label { score += testCase.labelBoost }
                if testCase.neverPredicted.contains(c) { score = -1 }
                outputs.append(score)
            }
        }
        return (outputs, labels)
    }

    @Test("write random cases and lrm's metrics to $LRM_METRICS_DUMP")
    func dump() throws {
        let path = try #require(ProcessInfo.processInfo.environment["LRM_METRICS_DUMP"])
        var generator = SeededGenerator(seed: 2024)
        var cases: [JSONValue] = []
        for testCase in Self.cases {
            let (outputs, labels) = Self.make(testCase, generator: &generator)
            let metrics = try ClassificationMetrics(outputs: outputs, labels: labels, classCount: testCase.classCount)
            let rows = (0..<testCase.sampleCount).map { row in
                JSONValue.array(outputs[(row * testCase.classCount)..<((row + 1) * testCase.classCount)].map { .number(Double($0)) })
            }
            cases.append(.object([
                ("name", .string(testCase.name)),
                ("classes", .int(Int64(testCase.classCount))),
                ("ties", .bool(testCase.ties)),
                ("labels", JSONValue(labels)),
                ("outputs", .array(rows)),
                ("lrm_predictions", JSONValue(try ClassificationMetrics.predictions(outputs: outputs, classCount: testCase.classCount))),
                ("lrm", metrics.json()),
            ]))
        }
        let text = JSONValue.object([("generator", .string("LRMVerifyTests.MetricsSklearnDumpTests")),
                                     ("cases", .array(cases))]).serialized()
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(FileManager.default.fileExists(atPath: path))
    }
}
