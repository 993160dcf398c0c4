import Foundation
import Testing
@testable import LRMKeras

/// One file of the shared corpus in one layout, with the architecture source it needs.
struct CorpusCase: CustomTestStringConvertible, Sendable {
    var directory: String
    var model: String
    var file: String
    var architecture: String?

    var testDescription: String { file + (architecture.map { " + \(($0 as NSString).lastPathComponent)" } ?? "") }
    var stem: String { "\(directory)/\(model)" }
    var path: String { "\(directory)/\(file)" }

    /// Every model in `keras3/` and `tf-keras/`, in every layout present beside it.
    static func all() -> [CorpusCase] {
        guard let corpus = TestData.corpus else { return [] }
        var cases: [CorpusCase] = []
        for sub in ["keras3", "tf-keras"] {
            let directory = corpus.appendingPathComponent(sub).path
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for json in files.filter({ $0.hasSuffix(".ref.json") }).sorted() {
                let model = String(json.dropLast(".ref.json".count))
                let keras = "\(directory)/\(model).keras"
                for (file, architecture) in [("\(model).h5", nil), ("\(model).keras", nil),
                                             ("\(model).weights.h5", keras), ("\(model)_weights.h5", keras)]
                where files.contains(file) {
                    cases.append(CorpusCase(directory: directory, model: model, file: file, architecture: architecture))
                }
            }
        }
        return cases
    }
}

@Suite("Real data: the shared Keras corpus (skipped when ../shared/keras-corpus is absent)",
       .enabled(if: TestData.corpus != nil, "../shared/keras-corpus not found"))
struct KerasCorpusTests {
    @Test("real-data: every corpus model imports in every layout and matches NAME.ref.npz exactly",
          arguments: CorpusCase.all())
    func importsAndMatchesReference(_ corpusCase: CorpusCase) throws {
        let model = try KerasImporter.load(path: corpusCase.path, architecture: corpusCase.architecture)
        let problems = try differences(model, referenceStem: corpusCase.stem)
        #expect(problems.isEmpty, "\(corpusCase.file): \(problems.joined(separator: "; "))")
    }

    @Test("real-data: the conv model maps to conv2d, pool2d, flatten and dense layers with its 8×8×1 input",
          arguments: CorpusCase.all().filter { $0.model.hasSuffix("_conv") })
    func convMaps(_ corpusCase: CorpusCase) throws {
        let model = try KerasImporter.loadModel(path: corpusCase.path, architecture: corpusCase.architecture)
        #expect(model.layers.map(\.operation.kindName).prefix(3) == ["conv2d", "pool2d", "flatten"])
        #expect(model.input.layout == .hwc)
    }

    @Test("real-data: a weights-only corpus file without an architecture says what is missing",
          arguments: CorpusCase.all().filter { $0.architecture != nil && $0.model.hasSuffix("_nobias") })
    func weightsOnlyNeedsArchitecture(_ corpusCase: CorpusCase) throws {
        let error = #expect(throws: KerasImportError.self) { try KerasImporter.load(path: corpusCase.path) }
        #expect(error?.kind == .missingArchitecture)
        #expect(error?.message.contains("architecture") == true)
    }

    @Test("real-data: the 330-layer chunked model keeps its layer order across split layer_names0/1")
    func chunkedOrder() throws {
        let cases = CorpusCase.all().filter { $0.model.hasSuffix("_chunked") && $0.file.hasSuffix(".h5") && $0.architecture == nil }
        #expect(!cases.isEmpty)
        for corpusCase in cases {
            let model = try KerasImporter.load(path: corpusCase.path)
            let dense = model.layers.filter { if case .dense = $0.config { true } else { false } }
            #expect(dense.count == 331)
            #expect(dense.first?.name.hasPrefix("l000_") == true)
            #expect(dense.dropLast().last?.name.hasPrefix("l329_") == true)
            #expect(dense.last?.name == "final")
        }
    }

    @Test("real-data: UTF-8 names and names with '/' survive the import")
    func unusualNames() throws {
        guard let corpus = TestData.corpus else { return }
        let k3 = try KerasImporter.load(path: corpus.appendingPathComponent("keras3/k3_names.h5").path)
        #expect(k3.layers.map(\.name) == ["entrée", "hidden.one", "скрытый_два", "with space:colon", "出力_☃"])
        #expect(k3.name == "modèle_names")
        let tfk = try KerasImporter.load(path: corpus.appendingPathComponent("tf-keras/tfk_names_weights.h5").path,
                                         architecture: corpus.appendingPathComponent("tf-keras/tfk_names.keras").path)
        #expect(tfk.layers.map(\.name) == ["input.x", "hidden/one", "block-2.dense", "a>b", "out/final/probs"])
        #expect(tfk.layer(named: "out/final/probs")?.weight(named: "kernel")?.shape == [8, 3])
    }
}
