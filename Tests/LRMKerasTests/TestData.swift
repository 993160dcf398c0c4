import Foundation
import LRMNumPy
@testable import LRMKeras

/// Where the tests find their data.
enum TestData {
    /// The package root, found from this file's path (`<root>/Tests/LRMKerasTests/TestData.swift`).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The committed fixtures, `Tests/LRMKerasTests/Fixtures`.
    static let fixtures: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture(_ name: String) -> String {
        fixtures.appendingPathComponent(name).path
    }

    /// The shared Keras corpus: `$LRM_KERAS_CORPUS`, else `<package root>/../shared/keras-corpus`;
    /// `nil` when absent, so real-data tests skip.
    static let corpus: URL? = {
        let candidates = [ProcessInfo.processInfo.environment["LRM_KERAS_CORPUS"].map { URL(fileURLWithPath: $0) },
                          packageRoot.deletingLastPathComponent().appendingPathComponent("shared/keras-corpus")]
        return candidates.compactMap { $0 }.first { url in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.appendingPathComponent("keras3").path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }
    }()

    /// A fresh temporary directory for one test.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-keras-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// One weight as described by a `NAME.ref.json` beside a reference `NAME.ref.npz`.
struct ReferenceWeight: Decodable {
    var key: String
    var layer: String
    var layer_class: String
    var `var`: String
    var shape: [Int]
    var dtype: String
}

/// `NAME.ref.json`: the variables Keras wrote, in `model.layers` then `layer.weights` order.
struct ReferenceDescription: Decodable {
    var model: String
    var dtype_policy: String
    var input_shape: [Int]?
    var weights: [ReferenceWeight]

    static func load(_ path: String) throws -> ReferenceDescription {
        try JSONDecoder().decode(ReferenceDescription.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// Compares an imported model with `NAME.ref.json` + `NAME.ref.npz`; returns a list of differences
/// (empty when everything matches).
///
/// Values are compared bit for bit after conversion to Float32: the importer converts float16 and
/// bfloat16 exactly and float64 by round-to-nearest, as NumPy's `astype(float32)` does, so any difference
/// at all is a bug, not rounding.
func differences(_ model: KerasModel, referenceStem: String) throws -> [String] {
    let description = try ReferenceDescription.load(referenceStem + ".ref.json")
    let arrays = try NPZ.read(path: referenceStem + ".ref.npz")
    var problems: [String] = []
    var imported: [(layer: KerasLayer, weight: KerasWeight)] = []
    for layer in model.layers { for weight in layer.weights { imported.append((layer, weight)) } }
    if imported.count != description.weights.count {
        problems.append("imported \(imported.count) weights, reference has \(description.weights.count)")
    }
    for (reference, (layer, weight)) in zip(description.weights, imported) {
        guard let array = arrays[reference.key] else { problems.append("no \(reference.key) in the npz"); continue }
        let owner = layer.parentPath.first ?? layer.name
        if owner != reference.layer { problems.append("\(reference.key): layer \(owner), expected \(reference.layer)") }
        if KerasLegacyWeightsReader.variableName(reference.var) != weight.name {
            problems.append("\(reference.key): variable \(weight.name), expected \(reference.var)")
        }
        if weight.shape != array.shape { problems.append("\(reference.key): shape \(weight.shape), expected \(array.shape)") }
        if weight.sourceDType.rawValue != reference.dtype {
            problems.append("\(reference.key): source dtype \(weight.sourceDType), expected \(reference.dtype)")
        }
        if weight.values.map(\.bitPattern) != array.floatValues().map(\.bitPattern) {
            problems.append("\(reference.key): values differ")
        }
    }
    if model.dtypePolicy.name != description.dtype_policy {
        problems.append("dtype policy \(model.dtypePolicy), expected \(description.dtype_policy)")
    }
    if let shape = description.input_shape, model.inputShape.map({ $0.map { $0 ?? -1 } }) != shape {
        problems.append("input shape \(String(describing: model.inputShape)), expected \(shape)")
    }
    return problems
}
