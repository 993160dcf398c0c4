import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// The functional fixtures with branches and merges of `Fixtures/dag` (written by `tools/make_dag_fixtures.py` with
/// Keras 3.15), each with Keras's own outputs in `NAME.pred.npz`.
enum GraphFixture {
    static let models = ["k3_residual", "k3_merges", "k3_residual1d"]

    static func path(_ name: String) -> String { TestData.fixture("dag/\(name)") }

    /// Every (file, architecture source) Keras wrote for `stem`: the two full-model files, and the two weights-only
    /// files with the `.keras` archive's architecture.
    static func layouts(_ stem: String) -> [(file: String, architecture: String?)] {
        [(path("\(stem).keras"), nil), (path("\(stem).h5"), nil),
         (path("\(stem).weights.h5"), path("\(stem).keras")), (path("\(stem)_weights.h5"), path("\(stem).keras"))]
    }
}

@Suite("Keras models with branches and merges: import and predictions against Keras's own outputs")
struct KerasGraphTests {
    @Test("every fixture with merges, in all four layouts, reproduces Keras's y directly and through .lrm", arguments: GraphFixture.models)
    func predictions(_ stem: String) throws {
        try expectLayoutsMatchKeras(GraphFixture.layouts(stem), pred: GraphFixture.path("\(stem).pred.npz"), tolerance: 1e-5)
    }

    @Test("the residual CNN becomes one list with slots: BatchNormalization folded on both branches, a store only where a later layer needs it")
    func residualLayout() throws {
        let model = try KerasImporter.loadModel(path: GraphFixture.path("k3_residual.keras"))
        #expect(model.layers.map(\.name) == [
            "stem", "stem_relu", "stem_relu/store",
            "id_conv1", "id_relu1", "id_conv2", "id_add", "id_out", "id_out/store",
            "proj_conv1", "proj_relu1", "proj_conv2", "proj_conv2/store", "proj_short/load", "proj_short", "proj_add", "proj_out",
            "proj_out/store", "branch_pool", "branch_pool/store", "branch_conv/load", "branch_conv", "join",
            "gap", "out",
        ])
        // Every BatchNormalization follows a linear convolution whose output goes to it alone: all folded.
        #expect(!model.layers.contains { $0.name.hasSuffix("bn") || $0.name.contains("_bn") })
        let kinds = Dictionary(uniqueKeysWithValues: model.layers.map { ($0.name, $0.operation) })
        #expect(kinds["id_add"] == .merge(.add, slots: [0], activation: .linear))
        #expect(kinds["proj_add"] == .merge(.add, slots: [1], activation: .linear))
        // Concatenate keeps Keras's order: branch_conv's channels (the current sample: that branch runs last), then
        // branch_pool's (slot 0).
        #expect(kinds["join"] == .merge(.concatenate, slots: [0], activation: .linear))
        #expect(kinds["branch_pool/store"] == .store(slot: 0))
        #expect(try model.outputShape() == [5])
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("r.lrm").path
        try ContainerWriter.write(model, to: file)
        #expect(try ContainerFile(path: file).minorVersion == 4)
    }

    /// Before: "layer 'c1' (Conv1D): 1-D layers in a model with branches are not imported yet (only chains of them)".
    @Test("1-D layers on branches: slots hold Keras's [steps, channels] samples, the [1, steps, channels] view reshaped back before a store or merge")
    func sequenceLayout() throws {
        let model = try KerasImporter.loadModel(path: GraphFixture.path("k3_residual1d.keras"))
        let names = model.layers.map(\.name)
        // c1's BatchNormalization still folds into it (the view is left only where a slot needs Keras's shape).
        #expect(!names.contains("c1_bn"))
        #expect(names.contains("c1_relu/store/as_1d"), "\(names)")
        #expect(names.contains("add/as_1d"), "\(names)")
        for case let (index, layer) in model.layers.enumerated() where layer.operation.usesSlots {
            let shape = try model.layerOutputShapes()[index]
            #expect(shape.count == 2, "\(layer.name): \(shape)")
        }
    }

    /// Before: the branch feeding a Concatenate's first input ran first (Keras's order), so it was stored and loaded back
    /// before the merge: k3_residual 6 stores and 3 loads, k3_residual1d 4 and 2.
    @Test("at a fork, the branch that ends as an order-dependent merge's first input runs last, and the merge takes it as its current sample: no store and load of it",
          arguments: [("k3_residual", 5, 2), ("k3_residual1d", 3, 1), ("k3_merges", 4, 2)])
    func slotsAtForks(_ stem: String, stores: Int, loads: Int) throws {
        let model = try KerasImporter.loadModel(path: GraphFixture.path("\(stem).keras"))
        let kinds = model.layers.map(\.operation.kindName)
        #expect(kinds.filter { $0 == "store" }.count == stores && kinds.filter { $0 == "load" }.count == loads, "\(model.layers.map(\.name))")
        // The Concatenate follows the branch of its first input, with no load before it.
        if let join = model.layers.firstIndex(where: { $0.name == "join" }) {
            #expect(model.layers[join - 1].operation.kindName != "load", "\(model.layers.map(\.name))")
        }
    }

    @Test("Subtract and Concatenate keep their order; the input itself is kept when a later layer needs it")
    func mergesLayout() throws {
        let model = try KerasImporter.loadModel(path: GraphFixture.path("k3_merges.keras"))
        #expect(model.layers.first?.operation == .store(slot: 0))
        let merges = model.layers.compactMap { layer -> String? in
            guard case let .merge(mode, slots, _) = layer.operation else { return nil }
            return "\(layer.name) \(mode.name) \(slots)"
        }
        #expect(merges.count == 6)
        #expect(merges.contains { $0.hasPrefix("diff subtract") })
        #expect(merges.last?.hasPrefix("with_input concatenate [0]") == true)
    }

    /// Before: "the model has branches (layer 'id_add' is a merge, format 1.4) and export to Keras supports only plain chains of layers".
    @Test("a model with branches exports as a Keras Functional model (.h5 and .keras) that lrm re-imports with the same outputs",
          arguments: GraphFixture.models)
    func exportRoundTrip(_ stem: String) throws {
        let model = try KerasImporter.loadModel(path: GraphFixture.path("\(stem).keras"))
        let arrays = try NPZ.read(path: GraphFixture.path("\(stem).pred.npz"))
        let x = try #require(arrays["x"])
        let want = try InferenceModel(model).run(x.floatValues(), sampleCount: x.shape[0])
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["exported.h5", "exported.keras"] {
            let path = directory.appendingPathComponent(name).path
            _ = name.hasSuffix(".keras") ? try KerasExporter.writeArchive(model, to: path) : try KerasExporter.write(model, to: path)
            let keras = try KerasImporter.load(path: path)
            #expect(keras.graph != nil, "\(stem) \(name): not read back as a graph")
            let reimported = try keras.containerModel(sourcePath: path)
            let got = try InferenceModel(reimported).run(x.floatValues(), sampleCount: x.shape[0])
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(got.count == want.count && worst <= 1e-5, "\(stem) \(name): max |Δ| = \(worst)")
            // Keras matches a Functional model's weights to its layers in its own order (by depth from the output, then
            // a walk from the output): the file lists them in that order. For the residual CNN (no 1-D reshapes, no merge
            // whose inputs were reordered in a way that changes the walk) that is the order Keras wrote the original in,
            // less the BatchNormalizations folded away.
            guard stem == "k3_residual" else { continue }
            let original = try KerasImporter.load(path: GraphFixture.path("\(stem).keras"))
            let expected = original.layers.filter { layer in
                if case .inputLayer = layer.config { return false }
                if case .batchNormalization = layer.config { return false }
                return true
            }.map(\.name)
            #expect(keras.layers.dropFirst().map(\.name) == expected, "\(stem) \(name)")
        }
    }

    static func functional(_ layers: [String], output: String) -> String {
        #"{"class_name": "Functional", "config": {"name": "g", "input_layers": [["x", 0, 0]], "output_layers": [["\#(output)", 0, 0]], "layers": [\#(layers.joined(separator: ", "))]}}"#
    }

    static let input = #"{"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [null, 4]}, "inbound_nodes": []}"#

    static func dense(_ name: String, _ inputs: [String], units: Int = 4) -> String {
        #"{"class_name": "Dense", "name": "\#(name)", "config": {"name": "\#(name)", "units": \#(units)}, "inbound_nodes": [[\#(inputs.map { #"["\#($0)", 0, 0, {}]"# }.joined(separator: ", "))]]}"#
    }

    static func merge(_ className: String, _ name: String, _ inputs: [String], axis: Int? = nil) -> String {
        let extra = axis.map { #", "axis": \#($0)"# } ?? ""
        return #"{"class_name": "\#(className)", "name": "\#(name)", "config": {"name": "\#(name)"\#(extra)}, "inbound_nodes": [[\#(inputs.map { #"["\#($0)", 0, 0, {}]"# }.joined(separator: ", "))]]}"#
    }

    @Test("graphs lrm cannot run are refused naming the layer, as unsupported topology",
          arguments: [
              (functional([input, dense("a", ["x"]), dense("d", ["x"])], output: "d"), "layer 'a' (Dense)", "used by no layer"),
              (functional([input, dense("a", ["x"]), dense("d", ["a", "x"])], output: "d"), "layer 'd' (Dense)", "expected one layer"),
              (functional([input, dense("a", ["x"]), merge("Add", "m", ["a"])], output: "m"), "layer 'm' (Add)", "expected 2 or more"),
              (functional([input, dense("a", ["z"])], output: "a"), "layer 'a' (Dense)", "not an earlier layer"),
              (functional([input, dense("d", ["x"]), dense("a", ["x"]), merge("Add", "m", ["a", "d"]), dense("e", ["m"])], output: "m"),
               "layer 'e' (Dense)", "used by no layer"),
          ])
    func refusedGraphs(_ json: String, _ location: String, _ phrase: String) {
        let error = #expect(throws: KerasImportError.self) { try KerasConfigParser.parse(Data(json.utf8), source: "config.json") }
        #expect(error?.kind == .unsupportedTopology)
        #expect(error?.location == location)
        #expect(error?.message.contains(phrase) == true, "\(error?.message ?? "")")
    }

    @Test("a concatenation on another axis than the last, or of shapes that do not agree, is refused naming the layer")
    func refusedMerges() throws {
        let cases: [(String, String, [Int?])] = [
            (Self.functional([Self.input, Self.dense("a", ["x"]), Self.merge("Concatenate", "c", ["a", "x"], axis: 0)], output: "c"),
             "layer 'c' (Concatenate)", [4]),
            (Self.functional([Self.input, Self.dense("a", ["x"], units: 3), Self.merge("Add", "s", ["a", "x"])], output: "s"),
             "'s'", [4]),
        ]
        for (json, location, inputShape) in cases {
            let architecture = try KerasConfigParser.parse(Data(json.utf8), source: "config.json")
            var layers: [KerasLayer] = []
            for node in architecture.leaves {
                guard case .layer(let config) = node.content else { continue }
                var layer = KerasLayer(name: node.name, className: node.className, config: config)
                if case .dense(let units, _, _) = config {
                    layer.weights = [KerasWeight(name: "kernel", shape: [4, units], values: Array(repeating: 0.5, count: 4 * units),
                                                 sourceDType: .float32, sourcePath: "k")]
                }
                layers.append(layer)
            }
            let keras = KerasModel(name: "g", kerasVersion: "3.15.1", backend: "jax", layout: .kerasArchive, dtypePolicy: .float32,
                                   inputShape: inputShape, layers: layers, graph: architecture.graph)
            let error = #expect(throws: KerasImportError.self) { try keras.containerModel(sourcePath: "g.keras") }
            #expect(error?.description.contains(location) == true, "\(error?.description ?? "")")
            #expect(error?.description.contains("\n") == false)
        }
    }
}
