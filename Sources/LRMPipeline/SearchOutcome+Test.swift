import LRMDatasets
import LRMFormat
import LRMVerify

extension SearchOutcome {
    /// Fills in the test-split figures: `converted` and the `original` model on the test split of `data`
    /// (never seen by the search), scored as the data's task, once: the same run gives ``testEvaluation``
    /// (what `lrm convert` reports). `progress` is told after each batch.
    mutating func measureTest(_ converted: Model, original: Model, data: DataSelection, layout: SampleLayout, range: Range<Int>? = nil,
                              progress: ProgressHandler? = nil) throws {
        let run = try TestRun(converted, original: original, data: data, layout: layout, range: range, progress: progress)
        if let range { testFirstSample = range.lowerBound }
        task = run.task
        testEvaluation = run.evaluation
        if let verified = run.classes {
            let candidate = verified.candidate
            guard let reference = verified.reference else { preconditionFailure("verify was given a reference") }
            testSamples = candidate.sampleCount
            (testReference, testAccuracy) = (reference.accuracy, candidate.accuracy)
            testImagesChange = candidate.confusion.correct - reference.confusion.correct
            (testReferenceF1, testF1) = (reference.macroF1, candidate.macroF1)
        } else if let report = run.scores {
            testSamples = report.sampleCount
            testScores = report.candidate
            testReferenceScores = report.reference
            if case .binary(let c) = report.candidate, case .binary(let r)? = report.reference {
                (testReference, testAccuracy) = (r.accuracy, c.accuracy)
                testImagesChange = c.correct - r.correct
                (testReferenceF1, testF1) = (r.f1, c.f1)
            }
        }
    }
}
