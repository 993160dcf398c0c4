import Foundation
import Testing
@testable import LRMKeras

/// A committed fixture model in one layout.
struct FixtureCase: CustomTestStringConvertible, Sendable {
    var model: String
    var file: String
    var architecture: String?
    var layout: KerasFileLayout

    var testDescription: String { file + (architecture.map { " + \($0)" } ?? "") }

    static let models = ["mlp", "shapes", "norm", "nested", "fp16", "bf16"]

    /// Every model in every layout present in `Fixtures/`.
    static func all() -> [FixtureCase] {
        var cases: [FixtureCase] = []
        for model in models {
            let candidates: [(String, String?, KerasFileLayout)] = [
                ("\(model).h5", nil, .legacyFullModel), ("\(model).keras", nil, .kerasArchive),
                ("\(model).weights.h5", "\(model).keras", .kerasWeights), ("\(model)_weights.h5", "\(model).keras", .legacyWeightsOnly),
                ("\(model)_weights.h5", "\(model).h5", .legacyWeightsOnly),
            ]
            for (file, architecture, layout) in candidates
            where FileManager.default.fileExists(atPath: TestData.fixture(file))
                && architecture.map({ FileManager.default.fileExists(atPath: TestData.fixture($0)) }) ?? true {
                cases.append(FixtureCase(model: model, file: file, architecture: architecture, layout: layout))
            }
        }
        cases.append(FixtureCase(model: "tfk_style", file: "tfk_style_weights.h5", architecture: "tfk_style.json", layout: .legacyWeightsOnly))
        return cases
    }
}

@Suite("Keras import of the committed fixtures")
struct KerasFixtureTests {
    @Test("every fixture model imports in every layout and matches NAME.ref.npz bit for bit", arguments: FixtureCase.all())
    func importsAndMatchesReference(_ fixture: FixtureCase) throws {
        let model = try KerasImporter.load(path: TestData.fixture(fixture.file),
                                           architecture: fixture.architecture.map(TestData.fixture))
        #expect(model.layout == fixture.layout)
        let problems = try differences(model, referenceStem: TestData.fixture(fixture.model))
        #expect(problems.isEmpty, "\(fixture.file): \(problems.joined(separator: "; "))")
    }

    @Test("the fixtures cover every layout, and all six models")
    func coverage() {
        let layouts = Set(FixtureCase.all().map(\.layout))
        #expect(layouts == Set(KerasFileLayout.allCases))
        #expect(FixtureCase.all().count >= 24)
    }

    @Test("the mlp's layer configs are read into typed values")
    func mlpConfigs() throws {
        let model = try KerasImporter.load(path: TestData.fixture("mlp.h5"))
        #expect(model.name == "mlp")
        #expect(model.kerasVersion == "3.15.1")
        #expect(model.backend == "jax")
        #expect(model.inputShape == [6])
        #expect(model.dtypePolicy == .float32)
        #expect(model.layers.map(\.config) == [
            .inputLayer(shape: [6]),
            .rescaling(scale: 0.5, offset: 0.25),
            .dense(units: 5, activation: .relu, useBias: true),
            .dropout(rate: 0.1),
            .dense(units: 4, activation: .linear, useBias: false),
            .batchNormalization(axis: [-1], epsilon: 0.001, center: true, scale: true),
            .activation(.tanh),
            .batchNormalization(axis: [-1], epsilon: 0.001, center: false, scale: true),
            .dense(units: 3, activation: .softmax, useBias: true),
        ])
        #expect(model.layer(named: "bn")?.weights.map(\.name) == ["gamma", "beta", "moving_mean", "moving_variance"])
        #expect(model.layer(named: "bn_nocenter")?.weights.map(\.name) == ["gamma", "moving_mean", "moving_variance"])
        #expect(model.layer(named: "hidden")?.weight(named: "kernel")?.shape == [6, 5])
    }

    @Test("ReLU, LeakyReLU, Reshape, Softmax and Normalization configs are typed")
    func otherConfigs() throws {
        let shapes = try KerasImporter.load(path: TestData.fixture("shapes.keras"))
        #expect(shapes.inputShape == [2, 3])
        #expect(shapes.layer(named: "relu6ish")?.config == .relu(maxValue: 6, negativeSlope: 0.1, threshold: 0))
        #expect(shapes.layer(named: "leaky")?.config == .relu(maxValue: nil, negativeSlope: 0.2, threshold: 0))
        #expect(shapes.layer(named: "reshape")?.config == .reshape(targetShape: [2, 2]))
        #expect(shapes.layer(named: "softmax")?.config == .softmax(axis: -1))
        let norm = try KerasImporter.load(path: TestData.fixture("norm.keras"))
        #expect(norm.layer(named: "norm_fixed")?.config == .normalization(axis: [-1], mean: [0.5, -1, 0, 2], variance: [1, 4, 0.25, 9], invert: false))
        #expect(norm.layer(named: "norm_adapted")?.weights.map(\.name) == ["mean", "variance", "count"])
    }

    @Test("a nested Sequential is flattened in place, with its parent recorded")
    func nestedModel() throws {
        let model = try KerasImporter.load(path: TestData.fixture("nested.weights.h5"), architecture: TestData.fixture("nested.keras"))
        #expect(model.layers.map(\.name) == ["x", "pre", "inner_a", "inner_b", "head"])
        #expect(model.layers.map(\.parentPath) == [[], [], ["inner"], ["inner"], []])
    }

    @Test("float16 and bfloat16 weights are converted exactly, and their source dtype is kept")
    func lowPrecision() throws {
        let fp16 = try KerasImporter.load(path: TestData.fixture("fp16.h5"))
        #expect(fp16.dtypePolicy.name == "float16")
        #expect(fp16.allWeights.allSatisfy { $0.sourceDType == .float16 })
        let bf16 = try KerasImporter.load(path: TestData.fixture("bf16.keras"))
        #expect(bf16.dtypePolicy.computeDType == .bfloat16)
        #expect(bf16.allWeights.allSatisfy { $0.sourceDType == .bfloat16 })
        // bfloat16 keeps 8 significant bits: the low 16 bits of every converted Float32 are zero.
        #expect(bf16.allWeights.flatMap(\.values).allSatisfy { $0.bitPattern & 0xFFFF == 0 })
    }

    @Test("a weights-only file can take its architecture from a .keras, a full .h5 or a JSON config")
    func architectureSources() throws {
        let reference = try KerasImporter.load(path: TestData.fixture("mlp.keras"))
        for architecture in ["mlp.keras", "mlp.h5"] {
            let model = try KerasImporter.load(path: TestData.fixture("mlp_weights.h5"), architecture: TestData.fixture(architecture))
            #expect(model.allWeights.map(\.values) == reference.allWeights.map(\.values))
            #expect(model.allWeights.map(\.shape) == reference.allWeights.map(\.shape))
        }
        let tfk = try KerasImporter.load(path: TestData.fixture("tfk_style_weights.h5"), architecture: TestData.fixture("tfk_style.json"))
        #expect(tfk.layers.map(\.name) == ["input.x", "hidden/one", "block-2.dense", "out/final/probs"])
        #expect(tfk.kerasVersion == "2.21.0")
        #expect(tfk.backend == "tensorflow")
    }

    @Test("weights-only files without an architecture fail saying what is missing",
          arguments: ["mlp.weights.h5", "mlp_weights.h5", "tfk_style_weights.h5"])
    func missingArchitecture(_ file: String) {
        let error = #expect(throws: KerasImportError.self) { try KerasImporter.load(path: TestData.fixture(file)) }
        #expect(error?.kind == .missingArchitecture)
        #expect(error?.description.contains(".keras") == true)
    }

    @Test("the wrong architecture for a weights file is caught, not silently mismatched",
          arguments: [("mlp.weights.h5", "nested.keras"), ("mlp_weights.h5", "shapes.keras"), ("nested.weights.h5", "mlp.keras")])
    func wrongArchitecture(_ file: String, _ architecture: String) {
        let error = #expect(throws: KerasImportError.self) {
            try KerasImporter.load(path: TestData.fixture(file), architecture: TestData.fixture(architecture))
        }
        #expect([.unexpectedWeights, .missingWeights, .shapeMismatch].contains(error?.kind))
    }

    @Test("models the importer does not support are refused with the layer named",
          arguments: [("lambda.keras", KerasImportError.Kind.unsupportedLayer, "layer 'double' (Lambda)"),
                      ("branch.keras", .unsupportedTopology, "model 'branch'")])
    func refused(_ file: String, _ kind: KerasImportError.Kind, _ location: String) {
        let error = #expect(throws: KerasImportError.self) { try KerasImporter.load(path: TestData.fixture(file)) }
        #expect(error?.kind == kind)
        #expect(error?.location == location)
        #expect(error?.description.hasPrefix(TestData.fixture(file)) == true)
    }

    @Test("a weight claiming 2^40 elements fails before anything is allocated")
    func hugeKernel() {
        let error = #expect(throws: KerasImportError.self) {
            try KerasImporter.load(path: TestData.fixture("huge_kernel_weights.h5"), architecture: TestData.fixture("huge_kernel.json"))
        }
        #expect(error?.kind == .hdf5)
        #expect(error?.hdf5Error?.kind == .tooLarge)
        #expect(error?.location == "/d/d/kernel:0")
    }
}
