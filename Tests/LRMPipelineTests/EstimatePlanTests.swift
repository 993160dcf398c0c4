import Foundation
import LRMDatasets
import LRMFormat
import LRMKeras
import Testing
@testable import LRMPipeline

/// ../shared/datasets next to the package, if it holds MNIST.
private let sharedDatasets: String? = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = root.deletingLastPathComponent().appendingPathComponent("shared/datasets").path
    return FileManager.default.fileExists(atPath: path + "/mnist") ? path : nil
}()

private func sample(_ name: String) throws -> Model {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var model = try KerasImporter.loadModel(path: root.appendingPathComponent("samples/\(name).h5").path)
    model.input.scale = [1.0 / 255]
    return model
}

/// The seen-in-training check on the real samples (issue 13): the MNIST CNN sample held its last 6,000 training
/// records out, but after 3 epochs with dropout it has no measurable generalization gap, so its loss on them is no
/// higher than on the records it trained on; it must still count as held out, while the MNIST MLP sample, which
/// memorized its training records, must count as seen on records it was trained on.
@Suite("The estimate a search uses on the MNIST samples", .enabled(if: sharedDatasets != nil))
struct EstimatePlanTests {
    func plan(_ model: Model, placement: ValidationPlacement, calibration: Int = 5000, validation: Int = 6000) throws -> EstimatePlan {
        let data = try DataSelection(dataset: .mnist, folder: sharedDatasets, calibrationSamples: calibration, validationSamples: validation,
                                     placement: placement).resolved(for: model)
        let (calibration, validation) = try data.trainingSubsets()
        return try EstimatePlan.make(.auto, model: model, data: data, calibration: calibration, validation: validation)
    }

    @Test("the MNIST CNN's held-out records are used as they are: it does not fit its training records more tightly than unseen ones")
    func cnnHeldOut() throws {
        // Fewer records than a search's defaults keep the debug build's convolutions to seconds.
        let plan = try plan(try sample("mnist_cnn"), placement: .last, calibration: 1000, validation: 1000)
        let exposure = try #require(plan.exposure)
        // No measurable gap between its validation and training records: the loss test alone says "seen".
        #expect(exposure.z < ExposureCheck.threshold, "\(exposure)")
        let memorization = try #require(exposure.memorization)
        #expect(!memorization.fitsTrainingRecords, "\(memorization)")
        #expect(!exposure.looksSeen)
        #expect(plan.estimate == .heldOut)
    }

    @Test("the MNIST MLP: its held-out records look held out, records it trained on look seen and are shifted")
    func mlp() throws {
        let model = try sample("mnist_mlp")
        let held = try plan(model, placement: .last)
        #expect(held.estimate == .heldOut && held.exposure?.looksSeen == false && held.exposure?.memorization == nil)
        // Seeded random records of the training split: 90% of them were trained on.
        let seen = try plan(model, placement: .random)
        let exposure = try #require(seen.exposure)
        #expect(exposure.z < ExposureCheck.threshold, "\(exposure)")
        #expect(exposure.memorization?.fitsTrainingRecords == true, "\(exposure)")
        #expect(seen.estimate == .shifted)
    }
}
