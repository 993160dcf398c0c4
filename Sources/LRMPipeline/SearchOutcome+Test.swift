import LRMDatasets
import LRMFormat
import LRMVerify

extension SearchOutcome {
    /// Fills in the test-split figures: `converted` and the `original` model on the test split of `data`
    /// (never seen by the search), scored as the data's task.
    mutating func measureTest(_ converted: Model, original: Model, data: DataSelection, layout: SampleLayout, range: Range<Int>? = nil) throws {
        var test = try data.open(.test)
        if let range {
            test = try test.subset(.indices(Array(range)))
            testFirstSample = range.lowerBound
        }
        task = data.task
        switch data.task {
        case .multiclass:
            let verified = try Verifier.verify(candidate: converted, reference: original, dataset: test, thresholds: VerificationThresholds(),
                                               layout: layout)
            let candidate = verified.candidate
            guard let reference = verified.reference else { preconditionFailure("verify was given a reference") }
            testSamples = candidate.sampleCount
            (testReference, testAccuracy) = (reference.accuracy, candidate.accuracy)
            testImagesChange = candidate.confusion.correct - reference.confusion.correct
            (testReferenceF1, testF1) = (reference.macroF1, candidate.macroF1)
        case .binary, .regression:
            let report = try TaskVerifier.verify(candidate: converted, reference: original, dataset: test, task: data.task,
                                                 threshold: data.ownSplits?.threshold ?? 0.5, thresholds: TaskThresholds())
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
