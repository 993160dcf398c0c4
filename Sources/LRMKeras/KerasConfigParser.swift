import LRMHDF5
import Foundation
import LRMFormat

/// Turns a Keras model config (the JSON in `config.json`, the `model_config` attribute, or
/// `model.to_json()`) into a ``KerasArchitecture``.
///
/// Accepts `Sequential` models, and `Functional` models whose layers form a simple chain (each layer
/// takes the previous one's single output) or a graph of branches joined by merges (``KerasGraph``); nested
/// `Sequential`/`Functional` chains are expanded.
/// Everything else is refused with a typed error naming the layer.
enum KerasConfigParser {
    static let modelClassNames: Set<String> = ["Sequential", "Functional", "Model"]

    /// Parses config JSON text; `source` names the file in errors.
    static func parse(_ data: Data, source: String) throws(KerasImportError) -> KerasArchitecture {
        let json: JSONValue
        do {
            json = try JSONValue.parse(data)
        } catch {
            throw KerasImportError(.invalidConfig, file: source, "not a Keras model config: \(jsonProblem(in: data, error))")
        }
        return try parse(json, source: source)
    }

    /// Why `data` is not JSON, in a few words: Foundation's decoding error says only "The given data was not valid
    /// JSON" (wrapped in a DecodingError's description); where the text goes wrong is what the user can act on.
    static func jsonProblem(in data: Data, _ error: any Error) -> String {
        if let error = error as? JSONTextError { return "\(error)" }
        let text = String(decoding: data, as: UTF8.self)
        guard let first = text.first(where: { !$0.isWhitespace }) else { return "the file holds no JSON, only white space" }
        guard first == "{" || first == "[" else {
            let start = String(text.drop { $0.isWhitespace }.prefix(12).prefix { !$0.isNewline })
            return "it is not JSON (it begins with '\(escaped(start))', a config begins with '{')"
        }
        // The strict parser says where the text goes wrong (the JSON5 one, which reads Python's NaN, does not).
        var detail = "the JSON is malformed"
        do {
            _ = try JSONSerialization.jsonObject(with: data)
        } catch {
            if let said = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String {
                detail = "the JSON is malformed: " + said.prefix(1).lowercased() + said.dropFirst().trimmingCharacters(in: CharacterSet(charactersIn: "."))
                if let range = said.range(of: "around character "), let offset = Int(said[range.upperBound...].prefix { $0.isNumber }) {
                    // The offset counts bytes of the text: say the line and column.
                    let before = data.prefix(offset)
                    let line = before.filter { $0 == 0x0A }.count + 1
                    let column = before.count - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? before.startIndex) + 1
                    detail = "the JSON is malformed at line \(line), column \(column)"
                }
            }
        }
        return detail
    }

    static func parse(_ json: JSONValue, source: String) throws(KerasImportError) -> KerasArchitecture {
        guard let className = json["class_name"]?.string else {
            let holds: String = switch json {
            case .object(let members): members.isEmpty ? "an empty object" : "an object of " + members.prefix(8).map { "'\(escaped($0.0))'" }.joined(separator: ", ")
                + (members.count > 8 ? ", …" : "")
            case .array(let items): "a list of \(items.count) values"
            default: "a single value"
            }
            throw KerasImportError(.invalidConfig, file: source, "not a Keras model config: it has no 'class_name' at the top (it is \(holds)); "
                                   + "give the JSON of model.to_json(), a .keras file or a full-model .h5")
        }
        guard modelClassNames.contains(className) else {
            throw KerasImportError(.unsupportedTopology, file: source,
                                   "the model class is '\(className)', expected Sequential or Functional (subclassed models have no readable architecture)")
        }
        let model = try parseModel(json, className: className, parentPath: [], source: source)
        var inputShape: [Int?]?
        if case .layer(.inputLayer(let shape)) = model.children.first?.content {
            inputShape = shape
        } else if let build = json["config"]?["build_input_shape"]?.array, !build.isEmpty {
            inputShape = build.dropFirst().map(\.integer)
        } else if let first = (json["config"]?.array ?? json["config"]?["layers"]?.array)?.first?["config"]?["batch_input_shape"]?.array {
            // Keras 2.0-era Sequential: the first layer carries the input shape (and the config may be a bare list).
            inputShape = first.dropFirst().map(\.integer)
        }
        return KerasArchitecture(name: model.name, className: className,
                                 dtypePolicy: try dtypePolicy(json["config"]?["dtype"], location: "model", source: source),
                                 inputShape: inputShape, nodes: model.children, graph: model.graph)
    }

    /// Parses a (possibly nested) model entry into its name and ordered children.
    private static func parseModel(_ json: JSONValue, className: String, parentPath: [String],
                                   source: String) throws(KerasImportError) -> (name: String, children: [KerasArchitecture.Node],
                                                                               graph: KerasGraph?) {
        let config = json["config"] ?? .null
        // Keras 2.2-era Sequential configs are a bare list of layers.
        let layerList = config.array ?? config["layers"]?.array
        let name = config["name"]?.string ?? json["name"]?.string ?? className.lowercased()
        guard let layerList else {
            throw KerasImportError(.invalidConfig, file: source, location: KerasImportError.layerLocation(name, className),
                                   "the model config has no 'layers' list")
        }
        var children: [KerasArchitecture.Node] = []
        for entry in layerList {
            children.append(try parseNode(entry, parentPath: parentPath, source: source))
        }
        var graph: KerasGraph?
        if className != "Sequential" {
            graph = try connections(json, layers: layerList, nodes: children, modelName: name, nested: !parentPath.isEmpty,
                                    source: source)
            if graph != nil {
                // A nested model of identity layers only (the tutorials' data_augmentation Sequential) on a model with
                // branches: one identity layer, so that each of the graph's nodes is a layer.
                children = children.map { node in
                    guard case .model = node.content, node.isIdentityAtInference else { return node }
                    var collapsed = node
                    collapsed.content = .layer(.identityAtInference)
                    return collapsed
                }
            }
        } else if let merge = children.first(where: { if case .layer(.merge) = $0.content { true } else { false } }) {
            throw KerasImportError(.unsupportedTopology, file: source, location: merge.location,
                                   "a merge layer in a Sequential model has only one input")
        }
        return (name, children, graph)
    }

    private static func parseNode(_ entry: JSONValue, parentPath: [String],
                                  source: String) throws(KerasImportError) -> KerasArchitecture.Node {
        guard let className = entry["class_name"]?.string, let config = entry["config"] else {
            throw KerasImportError(.invalidConfig, file: source, "a layer entry lacks 'class_name' or 'config': \(entry.brief)")
        }
        let name = config["name"]?.string ?? entry["name"]?.string ?? ""
        let location = KerasImportError.layerLocation(name, className)
        if let registered = entry["registered_name"]?.string, registered != className {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "custom layer class (registered as '\(registered)'); custom code is never executed")
        }
        if let module = entry["module"]?.string, !(module.hasPrefix("keras") || module.hasPrefix("tf_keras")) {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "layer class from module '\(module)', expected a built-in Keras layer; custom code is never executed")
        }
        let policy = try dtypePolicy(config["dtype"], location: location, source: source)
        if modelClassNames.contains(className) {
            let nested = try parseModel(entry, className: className, parentPath: parentPath + [name], source: source)
            return .init(name: name, className: className, content: .model(children: nested.children),
                         dtypePolicy: policy, parentPath: parentPath)
        }
        let layerConfig = try KerasLayerConfig.parse(className: className, config: config, name: name, source: source)
        return .init(name: name, className: className, content: .layer(layerConfig), dtypePolicy: policy, parentPath: parentPath)
    }

    /// Reads a dtype policy: a string (tf-keras), or an object whose `config.name` names it (Keras 3, tf-keras
    /// mixed precision). Quantized policies are refused.
    static func dtypePolicy(_ value: JSONValue?, location: String, source: String) throws(KerasImportError) -> KerasDTypePolicy? {
        guard let value, !value.isNull else { return nil }
        if let name = value.string { return KerasDTypePolicy(name: name) }
        if let className = value["class_name"]?.string, className.contains("Quantized") {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "quantized dtype policy '\(className)' is not supported")
        }
        if let name = value["config"]?["name"]?.string { return KerasDTypePolicy(name: name) }
        throw KerasImportError(.invalidConfig, file: source, location: location,
                               "config field 'dtype': expected a policy name or object, found \(value.brief)")
    }

    /// How a functional model's layers connect: nil when they are a simple chain (one input, the first layer; one output,
    /// the last; each other layer called once on the previous layer's output), else the graph of its branches and
    /// merges (``KerasGraph``): one input and one output; each layer called once, on outputs of earlier layers of the
    /// same model; a merge on two or more, any other layer on one; every layer's output used. Nested models may be
    /// chains only, and only chains may hold nested models.
    private static func connections(_ json: JSONValue, layers: [JSONValue], nodes: [KerasArchitecture.Node], modelName: String,
                                    nested: Bool, source: String) throws(KerasImportError) -> KerasGraph? {
        let modelLocation = "model '\(modelName)'"
        let supported = "only chains of layers and branches joined by merges (Add, Concatenate, …) are imported"
        func refuse(_ location: String, _ message: String) -> KerasImportError {
            KerasImportError(.unsupportedTopology, file: source, location: location, message + "; " + supported)
        }
        let inputs = endpointNames(json["config"]?["input_layers"])
        let outputs = endpointNames(json["config"]?["output_layers"])
        guard inputs.count == 1, outputs.count == 1 else {
            throw refuse(modelLocation, "the model has \(inputs.count) input(s) and \(outputs.count) output(s), expected 1 and 1")
        }
        var sources: [[Int]] = []
        var chain = nodes.first?.name == inputs[0] && nodes.last?.name == outputs[0]
        for (index, entry) in layers.enumerated() {
            let node = nodes[index]
            let inbound = entry["inbound_nodes"]?.array ?? []
            if index == 0 || inbound.isEmpty {
                guard inbound.isEmpty else { throw refuse(node.location, "the first layer takes inputs") }
                guard index == 0 || node.name == inputs[0] else {
                    throw refuse(node.location, "the layer takes no input and is not the model's input '\(inputs[0])'")
                }
                sources.append([])
                continue
            }
            guard inbound.count == 1 else {
                throw refuse(node.location, "the layer is called \(inbound.count) times, expected once")
            }
            let calls = inboundTensors(inbound[0])
            var indices: [Int] = []
            for call in calls {
                // (A nested model's call index may be 1: it was first built on its own input.)
                guard call.tensor == 0 else {
                    throw refuse(node.location, "the layer takes output \(call.tensor) of '\(call.name)' (a layer with several outputs)")
                }
                guard let at = nodes[..<index].lastIndex(where: { $0.name == call.name }) else {
                    throw refuse(node.location, "the layer takes its input from '\(call.name)', which is not an earlier layer of the model")
                }
                indices.append(at)
            }
            let isMerge = if case .layer(.merge) = node.content { true } else { false }
            if isMerge {
                guard indices.count >= 2 else {
                    throw refuse(node.location, "the merge takes \(indices.count) input(s), expected 2 or more")
                }
            } else if indices.count != 1 {
                let found = calls.isEmpty ? "no input" : calls.map { "'\($0.name)'" }.joined(separator: ", ")
                throw refuse(node.location, "the layer takes its input from \(found), expected one layer")
            }
            if isMerge || indices != [index - 1] { chain = false }
            sources.append(indices)
        }
        if chain { return nil }
        // Branches and merges: one level only, of layers.
        if nested { throw refuse(modelLocation, "a nested model has branches or merges") }
        if let inner = nodes.first(where: { if case .model = $0.content { !$0.isIdentityAtInference } else { false } }) {
            throw refuse(inner.location, "a nested model inside a model with branches or merges (one of only layers that are the identity at inference, such as RandomFlip, is taken)")
        }
        guard let output = nodes.lastIndex(where: { $0.name == outputs[0] }) else {
            throw refuse(modelLocation, "the output '\(outputs[0])' is not a layer of the model")
        }
        var used = Set(sources.joined())
        used.insert(output)
        if let unused = nodes.indices.first(where: { !used.contains($0) }) {
            throw refuse(nodes[unused].location, "the layer's output is used by no layer and is not the model's output")
        }
        return KerasGraph(inputs: sources, output: output)
    }

    /// Names in `input_layers`/`output_layers`: `["x", 0, 0]` (Keras 3, one endpoint) or `[["x", 0, 0], …]`.
    private static func endpointNames(_ value: JSONValue?) -> [String] {
        guard let items = value?.array else { return [] }
        if let name = items.first?.string { return [name] }
        return items.compactMap { $0.array?.first?.string }
    }

    /// The tensors feeding one inbound node, each as (layer name, call index, output index), in either format:
    /// Keras 3 `{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [name, n, t]}}], "kwargs": {…}}`
    /// (a merge's list of tensors inside `args`) or tf-keras `[[name, n, t, kwargs], …]`.
    private static func inboundTensors(_ node: JSONValue) -> [(name: String, node: Int, tensor: Int)] {
        func tensor(_ history: [JSONValue]) -> (name: String, node: Int, tensor: Int)? {
            guard let name = history.first?.string else { return nil }
            return (name, history.count > 1 ? history[1].integer ?? -1 : 0, history.count > 2 ? history[2].integer ?? -1 : 0)
        }
        if node["args"] != nil || node["kwargs"] != nil {
            var found: [(name: String, node: Int, tensor: Int)] = []
            func collect(_ value: JSONValue) {
                if let history = value["config"]?["keras_history"]?.array {
                    if let t = tensor(history) { found.append(t) }
                } else if let items = value.array {
                    items.forEach(collect)
                } else if case .object(let members) = value {
                    members.sorted { $0.0 < $1.0 }.map(\.1).forEach(collect)
                }
            }
            collect(node["args"] ?? .null)
            collect(node["kwargs"] ?? .null)
            return found
        }
        return (node.array ?? []).compactMap { $0.array.flatMap(tensor) }
    }

}
