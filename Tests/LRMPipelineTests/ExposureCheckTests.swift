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

@Suite("Whether the original fits its training records more tightly than unseen ones")
struct MemorizationCheckTests {
    @Test("a model as calibrated on shifted copies of its training records as on the records does not fit them measurably")
    func calibratedOnBoth() {
        var rng = SeededGenerator(seed: 3)
        let records = (0..<5000).map { _ in 0.01 * Double(rng.nextSymmetricFloat()) }
        let shifted = records.map { $0 + 0.02 * Double(rng.nextSymmetricFloat()) }
        let check = MemorizationCheck(records: records, shifted: shifted, shiftedLosses: shifted.map { $0 + 0.08 })
        #expect(!check.fitsTrainingRecords && abs(check.z) < ExposureCheck.threshold)
        // A validation loss no higher than the training loss then does not make the records look seen.
        var exposure = ExposureCheck(validation: [0.01, 0.02, 0.03], training: [0.01, 0.02, 0.03], validationAccuracy: 1, trainingAccuracy: 1)
        #expect(exposure.looksSeen)
        exposure.memorization = check
        #expect(!exposure.looksSeen)
    }

    @Test("a model clearly more overconfident on shifted copies fits its training records")
    func memorized() {
        var rng = SeededGenerator(seed: 4)
        let records = (0..<5000).map { _ in 0.01 * Double(rng.nextSymmetricFloat()) }
        let shifted = records.map { $0 + 0.15 + 0.5 * Double(rng.nextSymmetricFloat()) }
        let check = MemorizationCheck(records: records, shifted: shifted, shiftedLosses: shifted.map { $0 + 0.05 })
        #expect(check.fitsTrainingRecords && check.z > 10)
        #expect(abs(check.shiftedGap - check.trainingGap - 0.15) < 0.02)
        var exposure = ExposureCheck(validation: [0.01, 0.02, 0.03], training: [0.01, 0.02, 0.03], validationAccuracy: 1, trainingAccuracy: 1)
        exposure.memorization = check
        #expect(exposure.looksSeen)
    }

    @Test("a measurable but immaterial difference (a small share of the loss on the shifted records) does not count")
    func measurableButSmall() {
        var rng = SeededGenerator(seed: 5)
        let records = (0..<20000).map { _ in 0.01 * Double(rng.nextSymmetricFloat()) }
        let shifted = records.map { $0 + 0.015 + 0.05 * Double(rng.nextSymmetricFloat()) }
        let check = MemorizationCheck(records: records, shifted: shifted, shiftedLosses: shifted.map { _ in 0.08 })
        #expect(check.z > ExposureCheck.threshold)
        #expect(!check.fitsTrainingRecords)
    }
}
