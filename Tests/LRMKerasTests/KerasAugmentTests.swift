import Foundation
import LRMFormat
import LRMHDF5
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// The fixtures of `Fixtures/augment` (written by `tools/make_augment_fixtures.py` with Keras 3.15 on JAX), each with
/// Keras's own outputs `model(x, training=False)` in `NAME.pred.npz`.
enum AugmentFixture {
    static let models = ["k3_augment_cnn", "k3_augment_mlp", "k3_augment_branches", "k3_augment_seeded", "k3_augment_residual"]

    static func path(_ name: String) -> String { TestData.fixture("augment/\(name)") }

    /// The two full-model files, and the two weights-only files with the `.keras` archive's architecture.
    static func layouts(_ stem: String) -> [(file: String, architecture: String?)] {
        [(path("\(stem).keras"), nil), (path("\(stem).h5"), nil),
         (path("\(stem).weights.h5"), path("\(stem).keras")), (path("\(stem)_weights.h5"), path("\(stem).keras"))]
    }
}

@Suite("Keras layers that are the identity at inference (augmentation, noise, ActivityRegularization): dropped at import")
struct KerasAugmentTests {
    @Test("each fixture (the tutorial's Rescaling + augmentation Sequential CNN, an MLP with noise layers, a model with branches, the CNN with seed states stored), in all four layouts, reproduces Keras's y within 1e-5 directly and through .lrm",
          arguments: AugmentFixture.models)
    func predictions(_ stem: String) throws {
        try expectLayoutsMatchKeras(AugmentFixture.layouts(stem), pred: AugmentFixture.path("\(stem).pred.npz"), tolerance: 1e-5)
    }

    @Test("the identity layers leave no layer behind; a BatchNormalization folds into the Dense after it across a GaussianNoise")
    func layers() throws {
        let cnn = try KerasImporter.loadModel(path: AugmentFixture.path("k3_augment_cnn.keras"))
        #expect(cnn.layers.map(\.operation.kindName) == ["conv2d", "pool2d", "flatten", "dense"], "\(cnn.layers.map(\.name))")
        let mlp = try KerasImporter.loadModel(path: AugmentFixture.path("k3_augment_mlp.h5"))
        #expect(mlp.layers.map(\.name) == ["d1", "d2", "out"])
        let branches = try KerasImporter.loadModel(path: AugmentFixture.path("k3_augment_branches.keras"))
        let names = branches.layers.map(\.name)
        for dropped in ["flip", "noise", "gdrop", "contrast"] { #expect(!names.contains(dropped), "\(names)") }
    }

    /// Before: "model 'data_augmentation' (Sequential): a nested model inside a model with branches or merges; …".
    @Test("in a model with branches, a nested Sequential of augmentation layers only (the tutorials' data_augmentation(inputs)) is dropped as one layer, in all four layouts; one holding another layer is still refused")
    func nestedOnBranches() throws {
        for (file, architecture) in AugmentFixture.layouts("k3_augment_residual") {
            let model = try KerasImporter.loadModel(path: file, architecture: architecture)
            #expect(!model.layers.map(\.name).contains("data_augmentation"), "\(model.layers.map(\.name))")
            #expect(model.metadata[MetadataKey.sourceDroppedLayers] == .strings(["Sequential:data_augmentation"]))
        }
        let inner = #"{"class_name": "Sequential", "name": "aug", "config": {"name": "aug", "layers": [{"class_name": "RandomFlip", "config": {"name": "f"}}, {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}], "kwargs": {}}]}"#
        let add = #"{"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}, {"class_name": "__keras_tensor__", "config": {"keras_history": ["aug", 0, 0]}}]], "kwargs": {}}]}"#
        let input = #"{"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 2]}, "inbound_nodes": []}"#
        let json = #"{"class_name": "Functional", "config": {"name": "m", "layers": [\#(input), \#(inner), \#(add)], "input_layers": [["x", 0, 0]], "output_layers": [["add", 0, 0]]}}"#
        do {
            _ = try KerasImporter.probeConfig(Array(json.utf8))
            Issue.record("a nested model with a Dense on a branch was accepted")
        } catch {
            #expect(error.kind == .unsupportedTopology && error.description.contains("a nested model inside a model with branches"), "\(error)")
        }
        let identityOnly = json.replacingOccurrences(of: #"{"class_name": "Dense", "config": {"name": "d", "units": 2}}"#,
                                                     with: #"{"class_name": "GaussianNoise", "config": {"name": "n", "stddev": 0.1}}"#)
        let model = try KerasImporter.probeConfig(Array(identityOnly.utf8))
        #expect(model.layers.contains { $0.operation.kindName == "merge" })
    }

    @Test("a random generator's state stored for a random layer (Keras 3 vars/0, a legacy seed_generator_state or tf-keras StateVar in weight_names) is skipped in every layout")
    func seedState() throws {
        // The seeded files do hold the states the test is about.
        let legacy = try HDF5File(path: AugmentFixture.path("k3_augment_seeded_weights.h5"))
        let names = try legacy.rootGroup().openGroup("augmentation").kerasStringList("weight_names") ?? []
        #expect(names.contains("augmentation/flip/seed_generator_state") && names.contains("augmentation/flip/StateVar:0"))
        let v3 = try HDF5File(path: AugmentFixture.path("k3_augment_seeded.weights.h5"))
        #expect(try v3.rootGroup().contains("layers/sequential/layers/random_flip/vars/0"))
        for (file, architecture) in AugmentFixture.layouts("k3_augment_seeded") {
            let model = try KerasImporter.loadModel(path: file, architecture: architecture)
            #expect(model.layers.map(\.operation.kindName) == ["conv2d", "pool2d", "flatten", "dense"], "\(file)")
        }
    }

    @Test("each fixture exports (the identity layers are not written back) and lrm reads the export back with the same outputs",
          arguments: ["k3_augment_cnn", "k3_augment_mlp", "k3_augment_branches"])
    func export(_ stem: String) throws {
        let model = try KerasImporter.loadModel(path: AugmentFixture.path("\(stem).keras"))
        let plan = try KerasExportPlan(model, file: "x.keras")
        let classes = plan.layers.map(\.className)
        for dropped in KerasLayerConfig.identityAtInferenceClassNames { #expect(!classes.contains(dropped), "\(classes)") }
        let arrays = try NPZ.read(path: AugmentFixture.path("\(stem).pred.npz"))
        let x = try #require(arrays["x"])
        try KerasConv1DExportTests.expectRoundTrip(model, x: x.floatValues(), samples: x.shape[0], stem)
    }
}

@Suite("Keras identity-at-inference classes and the image preprocessing layers refused (JSON only)")
struct KerasAugmentConfigTests {
    func probe(_ layers: [String], input: String = "[null, 4, 4, 3]") throws(KerasImportError) -> Model {
        try KerasImporter.probeConfig(Array(KerasConv1DConfigTests.json(layers, input: input).utf8))
    }

    static let conv = #"{"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": 3}}"#

    @Test("every identity class, whatever its config (factors, seeds, value ranges, even fields of the wrong type), is dropped",
          arguments: KerasLayerConfig.identityAtInferenceClassNames)
    func dropped(_ className: String) throws {
        let layer = #"{"class_name": "\#(className)", "config": {"name": "aug", "factor": [0.2, "x"], "seed": 7, "value_range": [0, 255]}}"#
        let model = try probe([layer, Self.conv])
        #expect(model.layers.map(\.name) == ["c"])
        let alone = try probe([layer, Self.conv, layer.replacingOccurrences(of: "\"aug\"", with: "\"aug2\"")])
        #expect(alone.layers.map(\.name) == ["c"])
    }

    @Test("a nested Sequential of augmentation layers only (the tutorial's data_augmentation) vanishes")
    func nested() throws {
        let inner = #"{"class_name": "Sequential", "config": {"name": "augmentation", "layers": [{"class_name": "RandomFlip", "config": {"name": "f", "mode": "horizontal"}}, {"class_name": "RandomRotation", "config": {"name": "r", "factor": 0.1}}]}}"#
        let model = try probe([inner, Self.conv])
        #expect(model.layers.map(\.name) == ["c"])
    }

    @Test("preprocessing layers that are not the identity at inference (RandomCrop, Resizing, CenterCrop, AutoContrast, …) are refused, one line naming the file, the layer and why",
          arguments: ["RandomCrop", "Resizing", "CenterCrop", "RandomHeight", "RandomWidth", "AutoContrast", "Equalization", "CLAHE"])
    func refused(_ className: String) throws {
        let layer = #"{"class_name": "\#(className)", "config": {"name": "pre", "height": 4, "width": 4}}"#
        do {
            _ = try probe([layer, Self.conv])
            Issue.record("\(className) was accepted")
        } catch {
            #expect(error.kind == .unsupportedLayer)
            let text = error.description
            #expect(text.hasPrefix("probe.json: layer 'pre' (\(className)): \(className)"), "\(text)")
            #expect(!text.contains("\n"))
        }
    }
}
