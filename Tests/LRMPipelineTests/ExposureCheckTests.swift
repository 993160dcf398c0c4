import Foundation
import LRMFormat
import Testing
@testable import LRMPipeline

@Suite("Whether the validation records look seen in training")
struct ExposureCheckTests {
    /// Losses drawn from a seeded exponential distribution with the given mean.
    func losses(_ count: Int, mean: Double, seed: UInt64) -> [Double] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in -mean * Foundation.log(max(1e-12, Double(rng.nextSymmetricFloat() + 1) / 2)) }
    }

    @Test("validation records the model does as well on as on its training records look seen")
    func seen() {
        let check = ExposureCheck(validation: losses(5000, mean: 0.01, seed: 1), training: losses(5000, mean: 0.01, seed: 2),
                                  validationAccuracy: 0.997, trainingAccuracy: 0.998)
        #expect(abs(check.z) < ExposureCheck.threshold)
        #expect(check.looksSeen)
    }

    @Test("validation records with a clearly higher loss (a generalization gap) look held out")
    func heldOut() {
        let check = ExposureCheck(validation: losses(5000, mean: 0.08, seed: 1), training: losses(5000, mean: 0.01, seed: 2),
                                  validationAccuracy: 0.98, trainingAccuracy: 0.999)
        #expect(check.z > 10)
        #expect(!check.looksSeen)
        #expect(abs(check.validationLoss - 0.08) < 0.01 && abs(check.trainingLoss - 0.01) < 0.002)
    }

    @Test("a lower validation loss than training loss, or no spread at all, counts as seen")
    func degenerate() {
        #expect(ExposureCheck(validation: losses(100, mean: 0.01, seed: 1), training: losses(100, mean: 0.5, seed: 2),
                              validationAccuracy: 1, trainingAccuracy: 0.9).looksSeen)
        #expect(ExposureCheck(validation: [0, 0, 0], training: [0, 0], validationAccuracy: 1, trainingAccuracy: 1).looksSeen)
    }
}
