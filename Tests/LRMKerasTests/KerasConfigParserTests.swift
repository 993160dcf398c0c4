import Foundation
import LRMFormat
import Testing
@testable import LRMKeras

@Suite("Keras config parsing (JSON only, no files)")
struct KerasConfigParserTests {
    func parse(_ json: String) throws(KerasImportError) -> KerasArchitecture {
        try KerasConfigParser.parse(Data(json.utf8), source: "config.json")
    }

    static let dense = #"{"class_name": "Dense", "config": {"name": "d", "units": 3, "activation": "relu"}}"#

    /// A functional model; `layers` entries are `(class, name, inbound layer names per call)`.
    static func functional(_ layers: [(String, String, [[String]])], inputs: String = #"[["x", 0, 0]]"#,
                           outputs: String = #"[["d", 0, 0]]"#) -> String {
        let entries = layers.map { className, name, calls in
            let config = className == "InputLayer" ? #"{"name": "\#(name)", "batch_input_shape": [null, 4]}"#
                                                   : #"{"name": "\#(name)", "units": 2}"#
            let inbound = calls.map { sources in "[" + sources.map { #"["\#($0)", 0, 0, {}]"# }.joined(separator: ", ") + "]" }
            return #"{"class_name": "\#(className)", "name": "\#(name)", "config": \#(config), "inbound_nodes": [\#(inbound.joined(separator: ", "))]}"#
        }
        return #"{"class_name": "Functional", "config": {"name": "f", "layers": [\#(entries.joined(separator: ", "))], "input_layers": \#(inputs), "output_layers": \#(outputs)}}"#
    }

    @Test("a Sequential config, and the Keras 2.2 form whose config is a bare list")
    func sequential() throws {
        let modern = try parse(#"{"class_name": "Sequential", "config": {"name": "s", "layers": [\#(Self.dense)]}}"#)
        #expect(modern.name == "s")
        #expect(modern.leaves.map(\.name) == ["d"])
        let legacy = try parse(#"{"class_name": "Sequential", "config": [\#(Self.dense)]}"#)
        #expect(legacy.leaves.map(\.name) == ["d"])
    }

    @Test("a functional chain in tf-keras inbound format is accepted")
    func chain() throws {
        let json = Self.functional([("InputLayer", "x", []), ("Dense", "a", [["x"]]), ("Dense", "d", [["a"]])])
        #expect(try parse(json).leaves.map(\.name) == ["x", "a", "d"])
    }

    @Test("an unused branch, a layer on two inputs, reuse and several inputs are refused as unsupported topology",
          arguments: [
              (functional([("InputLayer", "x", []), ("Dense", "a", [["x"]]), ("Dense", "d", [["x"]])]), "layer 'a' (Dense)"),
              (functional([("InputLayer", "x", []), ("Dense", "a", [["x"]]), ("Dense", "d", [["a", "x"]])]), "layer 'd' (Dense)"),
              (functional([("InputLayer", "x", []), ("Dense", "a", [["x"]]), ("Dense", "d", [["a"], ["a"]])]), "layer 'd' (Dense)"),
              (functional([("InputLayer", "x", []), ("Dense", "d", [["x"]])], inputs: #"[["x", 0, 0], ["y", 0, 0]]"#), "model 'f'"),
          ])
    func topology(_ json: String, _ location: String) {
        let error = #expect(throws: KerasImportError.self) { try parse(json) }
        #expect(error?.kind == .unsupportedTopology)
        #expect(error?.location == location)
        #expect(error?.message.contains("only chains of layers and branches joined by merges") == true)
    }

    @Test("Lambda, custom and non-Keras classes, and unknown activations are refused naming the layer",
          arguments: [
              (#"{"class_name": "Lambda", "config": {"name": "lam", "function": "x"}}"#, "layer 'lam' (Lambda)", "never executed"),
              (#"{"class_name": "Dense", "registered_name": "my>Dense", "config": {"name": "d", "units": 2}}"#, "layer 'd' (Dense)", "custom"),
              (#"{"class_name": "Dense", "module": "evil.layers", "config": {"name": "d", "units": 2}}"#, "layer 'd' (Dense)", "evil.layers"),
              (#"{"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "wobble"}}"#, "layer 'd' (Dense)", "wobble"),
              (#"{"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": {"class_name": "F"}}}"#, "layer 'd' (Dense)", "custom"),
              (#"{"class_name": "Conv3DTranspose", "config": {"name": "c"}}"#, "layer 'c' (Conv3DTranspose)", "Conv3DTranspose"),
          ])
    func refusedLayers(_ layer: String, _ location: String, _ phrase: String) {
        let error = #expect(throws: KerasImportError.self) {
            try parse(#"{"class_name": "Sequential", "config": {"name": "s", "layers": [\#(layer)]}}"#)
        }
        #expect(error?.kind == .unsupportedLayer)
        #expect(error?.location == location)
        #expect(error?.message.contains(phrase) == true)
    }

    @Test("malformed configs fail as invalidConfig, naming the field",
          arguments: [("not json", "JSON"), (#"{"config": {}}"#, "class_name"),
                      (#"{"class_name": "Sequential", "config": {"name": "s"}}"#, "layers"),
                      (#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"name": "d"}}]}}"#, "units"),
                      (#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"name": "d", "units": 2.5}}]}}"#, "units")])
    func invalid(_ json: String, _ field: String) {
        let error = #expect(throws: KerasImportError.self) { try parse(json) }
        #expect(error?.kind == .invalidConfig)
        #expect(error?.message.contains(field) == true)
    }

    @Test("a subclassed model has no readable architecture")
    func subclassed() {
        let error = #expect(throws: KerasImportError.self) { try parse(#"{"class_name": "MyModel", "config": {}}"#) }
        #expect(error?.kind == .unsupportedTopology)
    }

    @Test("dtype policies in tf-keras string form and Keras 3 object form")
    func policies() throws {
        #expect(try KerasConfigParser.dtypePolicy(.string("float16"), location: "", source: "") == KerasDTypePolicy(name: "float16"))
        let object = try JSONValue.parse(Data(#"{"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}"#.utf8))
        let policy = try KerasConfigParser.dtypePolicy(object, location: "", source: "")
        #expect(policy?.variableDType == .float32)
        #expect(policy?.computeDType == .bfloat16)
        let quantized = try JSONValue.parse(Data(#"{"class_name": "QuantizedDTypePolicy", "config": {"name": "int8"}}"#.utf8))
        #expect(throws: KerasImportError.self) { try KerasConfigParser.dtypePolicy(quantized, location: "", source: "") }
    }
}
