import Testing
import LRMFormat
@testable import LRMVerify

@Suite("comparison of two models' outputs")
struct MetricsComparisonTests {
    /// Row 0: argmax 0 vs 0 (agree); row 1: argmax 1 vs 2 (disagree) → agreement 1/2.
    /// |differences| = 0.1, 0.1, 0, 0, 0.1, 0.1 → max 0.1, mean 0.4/6.
    /// Float32 inputs carry ~6e-8 relative error, so 1e-6 is the tolerance.
    @Test("agreement, max and mean absolute difference on a worked example")
    func worked() throws {
        let reference: [Float] = [0.7, 0.2, 0.1, 0.1, 0.5, 0.4]
        let candidate: [Float] = [0.6, 0.3, 0.1, 0.1, 0.4, 0.5]
        let comparison = try MetricsComparison(reference: reference, candidate: candidate, classCount: 3)
        #expect(comparison.sampleCount == 2)
        #expect(comparison.agreementCount == 1)
        #expect(comparison.agreement == 0.5)
        #expect(abs(comparison.maxAbsoluteDifference - 0.1) < 1e-6)
        #expect(abs(comparison.meanAbsoluteDifference - 0.4 / 6) < 1e-6)
        #expect(comparison.json.serialized().hasPrefix(#"{"samples":2,"agreement":0.5,"agreement_count":1,"max_abs_diff":"#))
    }

    @Test("identical outputs agree fully with zero difference; batches accumulate")
    func identical() throws {
        var generator = SeededGenerator(seed: 5)
        let outputs = (0..<(50 * 7)).map { _ in generator.nextSymmetricFloat() }
        var comparison = try MetricsComparison(classCount: 7)
        try comparison.add(reference: Array(outputs[..<(20 * 7)]), candidate: Array(outputs[..<(20 * 7)]))
        try comparison.add(reference: Array(outputs[(20 * 7)...]), candidate: Array(outputs[(20 * 7)...]))
        #expect(comparison.sampleCount == 50)
        #expect(comparison.agreement == 1)
        #expect(comparison.maxAbsoluteDifference == 0)
        #expect(comparison.meanAbsoluteDifference == 0)
    }

    @Test("mismatched sizes are rejected; NaN values are counted, not averaged")
    func errorsAndNaN() throws {
        var comparison = try MetricsComparison(classCount: 2)
        #expect(throws: MetricsError.self) { try comparison.add(reference: [1, 2], candidate: [1, 2, 3, 4]) }
        #expect(throws: MetricsError.self) { try comparison.add(reference: [1, 2, 3], candidate: [1, 2, 3]) }
        #expect(throws: MetricsError.self) { try MetricsComparison(classCount: 0) }
        try comparison.add(reference: [.nan, 1], candidate: [0, 0.5])
        #expect(comparison.nonFiniteCount == 1)
        #expect(comparison.meanAbsoluteDifference == 0.5)
        #expect(comparison.agreementCount == 0)
    }
}
