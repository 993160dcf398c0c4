import Foundation
import Testing
@testable import LRMKeras
import LRMHDF5

/// Weights-only legacy files are paired with their architecture as Keras pairs them: by order
/// (tf-keras and Keras 3 `load_weights`) when the names differ, by name when they agree.
@Suite("Keras weight matching")
struct KerasWeightMatchingTests {
    /// mlp.h5's config with every layer renamed as a rebuilt model would be (`dense_7`, …), written to a file.
    func renamedConfig(dropping dropped: String? = nil) throws -> String {
        let root = try HDF5File(path: TestData.fixture("mlp.h5"), limits: .standard, displayName: "mlp.h5").rootGroup()
        var text = try #require(try root.kerasString("model_config"))
        let renames = ["rescale": "rescaling_3", "hidden": "dense_7", "drop": "dropout_2", "nobias": "dense_8", "bn": "batch_normalization_4",
                       "tanh": "activation_1", "bn_nocenter": "batch_normalization_5", "out": "dense_9"]
        for (old, new) in renames { text = text.replacingOccurrences(of: "\"name\": \"\(old)\"", with: "\"name\": \"\(new)\"") }
        #expect(!text.contains("\"name\": \"hidden\""), "the fixture's config should name its layers as renamed above")
        if let dropped {
            // Remove one Dense layer (the last entry of `layers`) from the config: one layer with weights fewer.
            var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            var config = try #require(object["config"] as? [String: Any])
            var layers = try #require(config["layers"] as? [[String: Any]])
            layers.removeAll { (($0["config"] as? [String: Any])?["name"] as? String) == dropped }
            config["layers"] = layers
            object["config"] = config
            text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        let file = try TestData.temporaryDirectory().appendingPathComponent("renamed.json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    @Test("renamed layers: auto and order pair them by position and give the same model; name refuses, listing both sides")
    func byOrder() throws {
        let weights = TestData.fixture("mlp_weights.h5")
        let expected = try KerasImporter.load(path: weights, architecture: TestData.fixture("mlp.keras"))
        let config = try renamedConfig()
        for match in [KerasWeightMatching.auto, .order] {
            let model = try KerasImporter.load(path: weights, architecture: config, match: match)
            #expect(model.layers.count == expected.layers.count)
            for (a, b) in zip(model.layers, expected.layers) { #expect(a.weights == b.weights, "\(a.name) vs \(b.name)") }
            #expect(model.layers.map(\.name).contains("dense_7"))
        }
        let error = #expect(throws: KerasImportError.self) { try KerasImporter.load(path: weights, architecture: config, match: .name) }
        #expect(error?.kind == .unexpectedWeights)
        // Dropout is listed in the file without weights: it is never the layer complained about.
        #expect(error?.message.contains("'hidden'") == true && error?.message.contains("dropout") == false, "\(error?.message ?? "")")
        #expect(error?.message.contains("in the file hidden, nobias, bn, bn_nocenter, out") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("in the architecture dense_7, dense_8, batch_normalization_4, batch_normalization_5, dense_9") == true)
    }

    @Test("order with another count of layers with weights: an error giving both counts and lists")
    func countMismatch() throws {
        let config = try renamedConfig(dropping: "dense_9")
        let error = #expect(throws: KerasImportError.self) { try KerasImporter.load(path: TestData.fixture("mlp_weights.h5"), architecture: config) }
        #expect(error?.message.contains("the file has 5 layers with weights, the architecture 4") == true, "\(error?.message ?? "")")
    }
}
