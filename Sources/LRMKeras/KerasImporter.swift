public import LRMHDF5
import Foundation

/// Imports Keras models from the files Keras writes, into a ``KerasModel``.
///
/// Reads, and never executes: configs are parsed as JSON; `Lambda`, custom classes and unsupported layer
/// classes are refused with an error naming the layer. HDF5 files are opened read-only.
///
/// | file | layout | architecture from |
/// |---|---|---|
/// | `x.h5` from `model.save` | ``KerasFileLayout/legacyFullModel`` | the file (`model_config`) |
/// | `x.h5` from tf-keras `save_weights` | ``KerasFileLayout/legacyWeightsOnly`` | `architecture:` |
/// | `x.weights.h5` | ``KerasFileLayout/kerasWeights`` | `architecture:` |
/// | `x.keras` | ``KerasFileLayout/kerasArchive`` | the archive (`config.json`) |
/// The two containers Keras writes: HDF5 (legacy `.h5`, Keras 3 `.weights.h5`) and ZIP (`.keras`).
public enum KerasContainer: String, Sendable, Equatable, CaseIterable {
    case hdf5
    case zip
}

public enum KerasImporter {
    /// Imports the model in `path`.
    ///
    /// - Parameters:
    ///   - path: a `.h5`, `.weights.h5` or `.keras` file; the layout is recognised from the content, not the name.
    ///   - architecture: for weights-only files, where to read the architecture: a `.keras` file, a full
    ///     legacy `.h5`, or a JSON file with the model config (`config.json`, `model.to_json()`). Ignored
    ///     for files that carry their own architecture.
    ///   - limits: caps on dataset sizes, checked before anything is allocated.
    ///   - match: how a legacy weights-only file's layers find the architecture's (``KerasWeightMatching``).
    /// - Throws: ``KerasImportError`` naming the file, the layer or object, and the problem.
    ///   - container: what ``sniff(path:)`` found, when the caller has sniffed the file already (lrm's
    ///     parent process does, and passes it to its reader child): the file is not sniffed again.
    public static func load(path: String, architecture: String? = nil, limits: HDF5Limits = .standard,
                            match: KerasWeightMatching = .auto, container: KerasContainer? = nil) throws(KerasImportError) -> KerasModel {
        let kind: KerasContainer
        if let container { kind = container } else { kind = try sniff(path: path) }
        switch kind {
        case .zip:
            let archive = try KerasArchive(path: path)
            let architecture = try archive.architecture()
            let weightsPath = try archive.extractWeights()
            defer { try? FileManager.default.removeItem(atPath: weightsPath) }
            let root = try openRoot(weightsPath, limits: limits, displayName: "\(path): model.weights.h5")
            let weights = try KerasV3WeightsReader.read(root, architecture: architecture, source: "\(path): model.weights.h5")
            return try assemble(architecture, weights: weights, layout: .kerasArchive, source: path)
        case .hdf5:
            let root = try openRoot(path, limits: limits, displayName: path)
            return try loadHDF5(root, path: path, architectureSource: architecture, limits: limits, match: match)
        }
    }

    /// What kind of Keras file `path` is, by content (an HDF5 signature at offset 0 or after a user
    /// block, or a ZIP archive), whatever its name.
    /// - Throws: ``KerasImportError`` `fileNotFound`, `notAFile`, `emptyFile`, or `unrecognizedFormat`
    ///   naming what the bytes look like.
    public static func sniff(path: String) throws(KerasImportError) -> KerasContainer {
        switch try signature(path) {
        case .zip: return .zip
        case .hdf5: return .hdf5
        case .empty:
            throw KerasImportError(.emptyFile, file: path, "the file is empty, expected an HDF5 file or a .keras archive")
        case .other(let found):
            throw KerasImportError(.unrecognizedFormat, file: path, "not a Keras file, expected an HDF5 file or a .keras (ZIP) archive, found \(found)")
        }
    }

    private static func loadHDF5(_ root: HDF5Group, path: String, architectureSource: String?,
                                 limits: HDF5Limits, match: KerasWeightMatching) throws(KerasImportError) -> KerasModel {
        let layout: KerasFileLayout
        let configText: String?
        var version: String?, backend: String?
        do {
            configText = try root.kerasString("model_config")
            version = try root.kerasString("keras_version")
            backend = try root.kerasString("backend")
            if configText != nil {
                layout = .legacyFullModel
            } else if try root.hasAttribute("layer_names") || root.hasAttribute("layer_names0") {
                layout = .legacyWeightsOnly
            } else if try root.contains("layers") {
                layout = .kerasWeights
            } else {
                throw KerasImportError(.unrecognizedLayout, file: path,
                                       "HDF5 file without 'model_config', 'layer_names' or a 'layers' group, expected a file written by Keras")
            }
        } catch let error as KerasImportError {
            throw error
        } catch let error as HDF5Error {
            throw KerasImportError(error)
        } catch {
            throw KerasImportError(.hdf5, file: path, "\(error)")
        }
        var architecture: KerasArchitecture
        if let configText {
            architecture = try KerasConfigParser.parse(Data(configText.utf8), source: "\(path): model_config")
        } else if let architectureSource {
            architecture = try loadArchitecture(architectureSource, limits: limits)
        } else {
            throw KerasImportError(.missingArchitecture, file: path,
                                   "the file holds weights only (\(layout.rawValue) layout) and no architecture was given; pass the model's .keras file, its full .h5, or its config JSON as the architecture")
        }
        architecture.kerasVersion = version ?? architecture.kerasVersion
        architecture.backend = backend ?? architecture.backend
        let weights: [[String]: [KerasWeight]]
        if layout == .kerasWeights {
            weights = try KerasV3WeightsReader.read(root, architecture: architecture, source: path)
        } else {
            let weightsRoot: HDF5Group
            do {
                weightsRoot = layout == .legacyFullModel ? try root.openGroup("model_weights") : root
            } catch {
                throw KerasImportError(error)
            }
            weights = try KerasLegacyWeightsReader.read(weightsRoot, architecture: architecture, source: path, match: match)
        }
        return try assemble(architecture, weights: weights, layout: layout, source: path)
    }

    /// Reads an architecture from a `.keras` archive, a full legacy `.h5`, or a JSON config file.
    static func loadArchitecture(_ path: String, limits: HDF5Limits) throws(KerasImportError) -> KerasArchitecture {
        switch try signature(path) {
        case .zip:
            return try KerasArchive(path: path).architecture()
        case .hdf5:
            let root = try openRoot(path, limits: limits, displayName: path)
            let text: String?
            var architecture: KerasArchitecture
            do {
                text = try root.kerasString("model_config")
                guard let text else {
                    throw KerasImportError(.missingArchitecture, file: path,
                                           "the architecture source is an HDF5 file without 'model_config', expected a full model .h5")
                }
                architecture = try KerasConfigParser.parse(Data(text.utf8), source: "\(path): model_config")
                architecture.kerasVersion = try root.kerasString("keras_version")
                architecture.backend = try root.kerasString("backend")
            } catch let error as KerasImportError {
                throw error
            } catch let error as HDF5Error {
                throw KerasImportError(error)
            } catch {
                throw KerasImportError(.hdf5, file: path, "\(error)")
            }
            return architecture
        case .empty:
            throw KerasImportError(.emptyFile, file: path, "the architecture file is empty")
        case .other:
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw KerasImportError(.fileNotFound, file: path, "could not read the architecture file (\(error.localizedDescription))")
            }
            guard UInt64(data.count) <= KerasArchive.maxJSONByteCount else {
                throw KerasImportError(.invalidConfig, file: path, "the architecture file is \(data.count) bytes, expected at most \(KerasArchive.maxJSONByteCount)")
            }
            return try KerasConfigParser.parse(data, source: path)
        }
    }

    /// Attaches weights to the architecture's layers and checks every weight's shape against its layer.
    static func assemble(_ architecture: KerasArchitecture, weights: [[String]: [KerasWeight]],
                                 layout: KerasFileLayout, source: String) throws(KerasImportError) -> KerasModel {
        var layers: [KerasLayer] = []
        for leaf in architecture.leaves {
            guard case .layer(let config) = leaf.content else { continue }
            let layer = KerasLayer(name: leaf.name, className: leaf.className, config: config, parentPath: leaf.parentPath,
                                   dtypePolicy: leaf.dtypePolicy, weights: weights[leaf.key] ?? [])
            try KerasWeightValidator.validate(layer, source: source)
            layers.append(layer)
        }
        // tf-keras models have no policy of their own; an InputLayer's dtype is the input's, not a policy.
        let weighted = layers.first { !$0.weights.isEmpty }?.dtypePolicy
        let firstComputing = layers.first { if case .inputLayer = $0.config { false } else { $0.dtypePolicy != nil } }?.dtypePolicy
        let policy = architecture.dtypePolicy ?? weighted ?? firstComputing ?? .float32
        return KerasModel(name: architecture.name, kerasVersion: architecture.kerasVersion, backend: architecture.backend,
                          layout: layout, dtypePolicy: policy, inputShape: architecture.inputShape, layers: layers,
                          graph: architecture.graph)
    }

    private static func signature(_ path: String) throws(KerasImportError) -> FileSignature {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw KerasImportError(.fileNotFound, file: path, "no such file")
        }
        guard !isDirectory.boolValue else {
            throw KerasImportError(.notAFile, file: path, "is a directory, expected a .h5, .weights.h5 or .keras file")
        }
        do {
            return try FileSignature.sniff(path: path)
        } catch {
            throw KerasImportError(error)
        }
    }

    private static func openRoot(_ path: String, limits: HDF5Limits, displayName: String) throws(KerasImportError) -> HDF5Group {
        do {
            return try HDF5File(path: path, limits: limits, displayName: displayName).rootGroup()
        } catch {
            throw KerasImportError(error)
        }
    }
}
