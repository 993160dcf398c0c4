import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMKeras
import LRMNumPy
import Testing
@testable import LRMPipeline

/// What fine-tuning's training samples look like as images, for the bundled data sets and for own data, and
/// what stops fine-tuning before any work is done.
@Suite("Fine-tuning's samples and checks")
struct FineTuneDataTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func sample(_ name: String) throws -> Model {
        var model = try KerasImporter.loadModel(path: Self.root.appendingPathComponent("samples/\(name).h5").path)
        model.input.scale = [1.0 / 255]
        return model
    }

    /// samples/NAME.pred.npz's images as own data (.npy in `directory`), labelled with Keras's classes.
    func ownData(_ name: String, in directory: URL) throws -> DataSelection {
        let pred = try NPZ.read(path: Self.root.appendingPathComponent("samples/\(name).pred.npz").path)
        let x = try #require(pred["x"]), y = try #require(pred["y"])
        let outputs = y.floatValues(), classes = y.shape[1]
        let labels = (0..<y.shape[0]).map { row in Float((0..<classes).max { outputs[row * classes + $0] < outputs[row * classes + $1] } ?? 0) }
        try NPY.write(x, to: directory.appendingPathComponent("\(name)-x.npy").path)
        try NPY.write(try NumPyArray(shape: [labels.count], float32: labels), to: directory.appendingPathComponent("\(name)-y.npy").path)
        var selection = DataSelection()
        selection.ownData = OwnDataSource(inputs: directory.appendingPathComponent("\(name)-x.npy").path,
                                          labels: directory.appendingPathComponent("\(name)-y.npy").path)
        selection.fitsSizesToOwnData = true
        return selection
    }

    @Test("own colour images (n, 32, 32, 3) are 32×32 images of 3 channels, stored channels-last, as the model takes them; grey ones 28×28")
    func ownImageGeometry() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-ftdata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cifar = try sample("cifar10_mlp")
        let colour = try ownData("cifar10_mlp", in: directory).resolved(for: cifar).fineTuningSamples(for: cifar)
        #expect(colour.training.image == ImageGeometry(height: 32, width: 32, channels: 3, channelsLast: true))
        #expect(colour.training.featureCount == 3072)
        let mnist = try sample("mnist_mlp")
        let grey = try ownData("mnist_mlp", in: directory).resolved(for: mnist).fineTuningSamples(for: mnist)
        #expect(grey.training.image == ImageGeometry(height: 28, width: 28, channels: 1, channelsLast: true))
        // A shift as wide as the images is refused before any work; one pixel less is allowed.
        let data = try ownData("mnist_mlp", in: directory).resolved(for: mnist)
        #expect(throws: PipelineError.self) {
            try FineTuneStage.check(teacher: mnist, options: FineTuneOptions(epochs: 1, augmentation: ImageAugmentation(maxShift: 28)), data: data)
        }
        try FineTuneStage.check(teacher: mnist, options: FineTuneOptions(epochs: 1, augmentation: ImageAugmentation(maxShift: 27)), data: data)
    }

    @Test("a regressor's own data is refused for fine-tuning with a message that says why, before the conversion")
    func regressionRefused() throws {
        let model = try KerasImporter.loadModel(path: Self.root.appendingPathComponent("samples/housing_mlp.h5").path)
        var request = ConversionRequest(options: ConversionOptions(policy: .energy(0.9)), target: .policy, data: DataSelection())
        request.data.ownData = OwnDataSource(inputs: Self.root.appendingPathComponent("samples/housing_x.npy").path,
                                             labels: Self.root.appendingPathComponent("samples/housing_y.npy").path)
        request.data.fitsSizesToOwnData = true
        request.finetune = FineTuneOptions(epochs: 1)
        #expect { try ConversionPipeline.run(model, request: request) } throws: { error in
            "\(error)".contains("distils a classifier") && "\(error)".contains("regression")
        }
    }
}
