public import Foundation
import LRMHDF5
public import LRMFormat
import ZIPFoundation

/// Keras 3's native format: what `model.save("x.keras")` writes.
///
/// A ZIP archive (entries stored, as Keras writes them) of:
/// - `metadata.json`: `keras_version` and `date_saved`;
/// - `config.json`: the `Sequential` model in Keras 3's serialization (`module`, `class_name`, `config`,
///   `registered_name` for the model and each layer; the `InputLayer` with `batch_shape`), the same layers
///   and settings as the legacy `.h5` export (see ``KerasExporter``);
/// - `model.weights.h5`: per layer a group `layers/<name>/vars` holding its variables as datasets `0`, `1`, …
///   in the layer's variable order (kernel, bias; gamma, beta, moving mean, moving variance), where `<name>`
///   is the layer class in snake case, numbered from the second of a class (`dense`, `dense_1`, …) — the
///   paths Keras 3 walks when it loads — and an empty `vars` group for the model itself. The `vars` groups
///   carry the layer's name as attribute `name`, as Keras writes it.
extension KerasExporter {
    /// The `keras_version` of a `.keras` archive's `metadata.json`: the Keras 3 API the config follows.
    public static let archiveKerasVersion = "3.0.0"

    /// Writes `model` to `path` as a Keras 3 `.keras` archive, atomically (a temporary file in the same
    /// directory, synced and renamed over `path`; on failure `path` is untouched and nothing remains).
    /// The whole model is checked first, as for ``write(_:to:)``.
    ///
    /// `keras.models.load_model` recognises the archive by the extension: name the file `.keras`.
    /// - Throws: ``KerasExportError`` of kind `invalidModel` or `unsupportedActivation` (nothing written),
    ///   or `writeFailed`.
    @discardableResult
    public static func writeArchive(_ model: Model, to path: String, date: Date = Date()) throws(KerasExportError) -> KerasExportSummary {
        let plan = try KerasExportPlan(model, file: path)
        let weights: [UInt8]
        do {
            weights = try HDF5FileWriter.image(displayName: "\(path): model.weights.h5") { root throws(HDF5WriteError) in
                try fillArchiveWeights(root, with: plan)
            }
        } catch {
            throw KerasExportError(error)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
        let metadata = KerasConfigJSON.object([("keras_version", .string(archiveKerasVersion)),
                                               ("date_saved", .string(formatter.string(from: date)))])
        let members: [(String, [UInt8])] = [("metadata.json", Array(metadata.serialized().utf8)),
                                            ("config.json", Array(plan.archiveConfig.serialized().utf8)),
                                            ("model.weights.h5", weights)]
        let bytes: [UInt8]
        do {
            let archive = try Archive(accessMode: .create)
            for (name, content) in members {
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(content.count), modificationDate: date,
                                     compressionMethod: .none) { position, size in
                    Data(content[Int(position)..<(Int(position) + size)])
                }
            }
            guard let data = archive.data else { throw KerasExportError(.writeFailed, file: path, "the archive could not be assembled") }
            bytes = [UInt8](data)
        } catch let error as KerasExportError {
            throw error
        } catch {
            throw KerasExportError(.writeFailed, file: path, "the archive could not be assembled: \(error)")
        }
        do {
            try AtomicFileWriter.write(bytes, to: path)
        } catch let error as ContainerError {
            throw KerasExportError(.writeFailed, file: path, error.message)
        } catch {
            throw KerasExportError(.writeFailed, file: path, "\(error)")
        }
        return plan.summary
    }

    /// `model.weights.h5` of an archive: `vars` for the model, `layers/<snake_case class>[_n]/vars/<i>`.
    static func fillArchiveWeights(_ root: HDF5GroupWriter, with plan: KerasExportPlan) throws(HDF5WriteError) {
        try root.createGroup("vars").writeStringAttribute("name", plan.modelName)
        let layersGroup = try root.createGroup("layers")
        var used: [String: Int] = [:]
        for layer in plan.layers {
            let base = snakeCase(layer.className)
            let count = used[base, default: 0]
            used[base] = count + 1
            let group = try layersGroup.createGroup(count == 0 ? base : "\(base)_\(count)")
            let variables = try group.createGroup("vars")
            try variables.writeStringAttribute("name", layer.name)
            for (index, weight) in layer.weights.enumerated() {
                try variables.writeFloat32Dataset(String(index), shape: weight.shape, values: weight.values)
            }
        }
    }

    /// Keras's `to_snake_case` for a class name: `BatchNormalization` → `batch_normalization`,
    /// `Conv2D` → `conv2d`, `DepthwiseConv2D` → `depthwise_conv2d`, `MaxPooling2D` → `max_pooling2d`.
    static func snakeCase(_ name: String) -> String {
        // An underscore before an upper-case letter that starts a lower-case run (not at the start), and
        // between a lower-case letter and an upper-case one; then lower case.
        let characters = Array(name)
        var result = ""
        for (index, character) in characters.enumerated() {
            if index > 0, character.isUppercase {
                let startsWord = index + 1 < characters.count && characters[index + 1].isLowercase
                let afterLower = characters[index - 1].isLowercase
                if startsWord || afterLower { result.append("_") }
            }
            result.append(character)
        }
        return result.lowercased()
    }
}

extension KerasExportPlan {
    /// The `Sequential` config in Keras 3's serialization.
    var archiveConfig: KerasConfigJSON {
        let input = KerasConfigJSON.object([
            ("module", .string("keras.layers")), ("class_name", .string("InputLayer")),
            ("config", .object([
                ("batch_shape", batchInputShape),
                ("dtype", .string("float32")), ("sparse", .bool(false)), ("name", .string(inputName)),
            ])),
            ("registered_name", .null),
        ])
        let shapes = Dictionary(layers.map { ($0.name, $0.outputShape) }, uniquingKeysWith: { a, _ in a })
        func tensor(_ name: String) -> KerasConfigJSON {
            let shape = name == inputName ? batchInputShape : .array([.null] + (shapes[name] ?? []).map { .int(Int64($0)) })
            return .object([("class_name", .string("__keras_tensor__")),
                            ("config", .object([("shape", shape), ("dtype", .string("float32")),
                                                ("keras_history", .array([.string(name), .int(0), .int(0)]))]))])
        }
        let entries = layers.map { layer in
            KerasConfigJSON.object([
                ("module", .string("keras.layers")), ("class_name", .string(layer.className)),
                ("config", .object([("name", .string(layer.name)), ("trainable", .bool(true)),
                                    ("dtype", .string("float32"))] + layer.settings)),
                ("registered_name", .null),
            ] + (isFunctional ? [
                ("name", .string(layer.name)),
                // A merge is called on a list of tensors, any other layer on one.
                ("inbound_nodes", .array([.object([
                    ("args", .array(layer.inputs.count > 1 || ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]
                                    .contains(layer.className) ? [.array(layer.inputs.map(tensor))] : layer.inputs.map(tensor))),
                    ("kwargs", .object([])),
                ])])),
            ] : []))
        }
        if isFunctional, case .object(let inputMembers) = input {
            let functionalInput = KerasConfigJSON.object(inputMembers + [("name", .string(inputName)), ("inbound_nodes", .array([]))])
            return .object([
                ("module", .string("keras.src.models.functional")), ("class_name", .string("Functional")),
                ("config", .object([("name", .string(modelName)), ("trainable", .bool(true)),
                                    ("layers", .array([functionalInput] + entries)),
                                    ("input_layers", .array([.string(inputName), .int(0), .int(0)])),
                                    ("output_layers", .array([.string(outputName), .int(0), .int(0)]))])),
                ("registered_name", .string("Functional")),
            ])
        }
        return .object([
            ("module", .string("keras")), ("class_name", .string("Sequential")),
            ("config", .object([("name", .string(modelName)), ("trainable", .bool(true)), ("dtype", .string("float32")),
                                ("layers", .array([input] + entries))])),
            ("registered_name", .null),
        ])
    }
}
