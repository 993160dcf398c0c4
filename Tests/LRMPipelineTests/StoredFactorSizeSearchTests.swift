import Foundation
import LRMCompress
import LRMFormat
import LRMRuntime
import Testing
@testable import LRMPipeline

/// A size search of a model whose layers are already factorized (a `.lrm` input): each such layer is searched from its
/// stored factors, never above its stored rank, never densified, and re-stored in the dtype the search chooses.
@Suite("Size search of already factorized layers")
struct StoredFactorSizeSearchTests {
    /// A 64 → 48 → 32 → 6 MLP converted at rank 10 (every layer factorized but the output, where rank 10 does not pay;
    /// with `output`, the output layer at rank 5 too), a size search of it whose candidates are scored by agreement with it.
    func setUp(output: Bool = false) throws -> (search: SizeSearch, stored: Model) {
        var rng = SeededGenerator(seed: 61)
        func kernel(_ rows: Int, _ columns: Int, decay: Float) -> [Float] { decayingKernel(rows, columns, decay: decay, rng: &rng) }
        let original = Model(name: "s", input: InputSpec(shape: [64]), layers: [
            Layer(name: "h1", operation: .dense(kernel: Tensor(shape: [64, 48], floats: kernel(64, 48, decay: 0.8)),
                                                bias: Tensor(shape: [48], floats: [Float](repeating: 0.01, count: 48)), activation: .tanh)),
            Layer(name: "h2", operation: .dense(kernel: Tensor(shape: [48, 32], floats: kernel(48, 32, decay: 0.75)), bias: nil, activation: .tanh)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [32, 6], floats: kernel(32, 6, decay: 0.9)), bias: nil, activation: .softmax)),
        ])
        var convert = ConversionOptions(policy: .rank(10), parallelLayers: 1)
        if output { convert.overrides = [ConversionOptions.Override(pattern: NamePattern("out"), policy: .rank(2))] }
        let stored = try Converter.convert(original, options: convert).model
        let samples = 400
        let x = (0..<(samples * 64)).map { _ in rng.nextSymmetricFloat() }
        let y = try InferenceModel(stored).run(x, sampleCount: samples)
        let labels = (0..<samples).map { s in (0..<6).max { y[s * 6 + $0] < y[s * 6 + $1] }! }
        let spectra = try ConversionPipeline.searchSpectra(stored, options: ConversionOptions())
        var options = ConversionOptions(parallelLayers: 1)
        options.metric = .plain
        options.quantization = QuantizationOptions(dtype: .int8)
        let provenance = ConversionProvenance(policy: "target-size", parameter: 0, factorDType: .float32, seed: nil, metric: .plain, calibration: nil)
        let search = SizeSearch(model: stored, spectra: spectra, options: options, provenance: provenance) { candidate in
            let out = try InferenceModel(candidate).run(x, sampleCount: samples)
            let agree = labels.enumerated().filter { s, label in (0..<6).max(by: { out[s * 6 + $0] < out[s * 6 + $1] })! == label }.count
            return ValidationScore(accuracy: Double(agree) / Double(samples), standardError: 0)
        }
        return (search, stored)
    }

    func record(_ model: Model, _ name: String) -> Factorization? {
        guard let layer = model.layers.first(where: { $0.name == name }), case let .factorizedDense(_, _, _, _, f) = layer.operation else { return nil }
        return f
    }

    @Test("the factorized hidden layers are searched, their ranks capped at the stored one, and the tightest f32 candidate is the file's model")
    func storedLayersAreSearched() throws {
        let (search, stored) = try setUp()
        #expect(search.hiddenLayers == ["h1", "h2"] && search.outputLayer == "out")
        #expect(search.storedRank("h1") == 10 && search.storedRank("h2") == 10)
        for storage in StorageChoice.searched {
            for tau in [0.0, 0.5, 0.99, 1] {
                let ranks = search.ranks(threshold: tau, storage: storage)
                #expect(ranks.keys.sorted() == ["h1", "h2"] && ranks.values.allSatisfy { $0 >= 1 && $0 <= 10 }, "\(storage) \(tau): \(ranks)")
            }
        }
        let f32 = StorageChoice(hidden: .float32, output: .float32)
        let ranks = search.ranks(threshold: 1, storage: f32)
        #expect(ranks == ["h1": 10, "h2": 10])
        let kept = try search.build(ranks, storage: f32, calibrated: true).model
        for name in ["h1", "h2"] {
            let before = try #require(record(stored, name)), after = try #require(record(kept, name))
            #expect(after.rank == 10 && after.method == before.method && after.relativeError == before.relativeError, "\(name): \(after)")
        }
        #expect(try InferenceModel(kept).run([Float](repeating: 0.3, count: 64), sampleCount: 1)
                == InferenceModel(stored).run([Float](repeating: 0.3, count: 64), sampleCount: 1))
        // Integer storage re-stores the factors, the record still relative to the original; a lower rank truncates them.
        let i8 = StorageChoice(hidden: .int8, output: .int8)
        let restored = try search.build(["h1": 10, "h2": 4], storage: i8, calibrated: true).model
        let h1 = try #require(record(restored, "h1")), h2 = try #require(record(restored, "h2"))
        let storedH1 = try #require(record(stored, "h1"))
        #expect(h1.rank == 10 && h1.method.hasSuffix("+restored(i8)") && h1.relativeError >= storedH1.relativeError, "\(h1)")
        #expect(h2.rank == 4 && h2.method.hasSuffix("+retruncated(10→4)") && h2.policy == "target-size", "\(h2)")
        guard case let .factorizedDense(us, _, _, _, _) = try #require(restored.layers.first { $0.name == "h1" }).operation else {
            Issue.record("h1 is no longer factorized")
            return
        }
        #expect(us.dtype == .int8)
    }

    @Test("the per-layer choice offers a factorized layer factor options only, up to its stored rank (that one included); a factorized output layer only its stored rank")
    func perLayerOptions() throws {
        var (search, _) = try setUp(output: true)
        let tables = try search.allocation()
        for name in ["h1", "h2"] {
            let options = try #require(tables.tables[name])
            #expect(options.allSatisfy { $0.rank != nil && $0.rank! <= 10 } && options.contains { $0.rank == 10 }, "\(name): \(options)")
        }
        let output = try #require(tables.tables["out"])
        #expect(!output.isEmpty && output.allSatisfy { $0.rank == 2 }, "\(output)")
    }

    @Test("a size target and a byte minimization of the file find a smaller file, every layer within its stored rank")
    func searchesFindSmallerFiles() throws {
        var (search, stored) = try setUp(output: true)
        let bytes = try SizeSearch.fileSize(stored)
        let floor = try SizeSearch.sizeFloor(stored, options: search.options, policy: "target-size", parameter: 0)
        let smallestPossible = try search.smallestPossible()
        #expect(floor <= smallestPossible, "\(floor) > \(smallestPossible)")
        let found = try #require(try search.targetSize(bytes / 2))
        #expect(found.bytes <= bytes / 2 && found.ranks.values.allSatisfy { $0 <= 10 }, "\(found.bytes) of \(bytes): \(found.ranks)")
        let built = try search.build(found.ranks, storage: found.storage, calibrated: true).model
        #expect(try SizeSearch.fileSize(built) == found.bytes)
        #expect(built.layers.allSatisfy { if case .dense = $0.operation { false } else { true } }, "no layer densified")
        let smallest = try #require(try search.minimizeBytes(baseline: 1, maxDrop: 0.02))
        #expect(smallest.bytes < bytes && (smallest.score?.accuracy ?? 0) >= 0.98, "\(smallest.bytes) of \(bytes)")
    }

    @Test("factors stored at rank 1 of an odd shape (a hidden layer that cannot leave rank 1, the output layer kept at its rank) are i8 codes where the search chooses i4, which cannot pack them: the search threw 'i4 factors need an even number of values' (lrm convert: exit 65)")
    func oddFactorsUnderInt4() throws {
        var rng = SeededGenerator(seed: 67)
        func kernel(_ rows: Int, _ columns: Int) -> [Float] { decayingKernel(rows, columns, decay: 0.8, rng: &rng) }
        let original = Model(name: "odd", input: InputSpec(shape: [63]), layers: [
            Layer(name: "h", operation: .dense(kernel: Tensor(shape: [63, 47], floats: kernel(63, 47)), bias: nil, activation: .tanh)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [47, 5], floats: kernel(47, 5)), bias: nil, activation: .softmax)),
        ])
        let stored = try Converter.convert(original, options: ConversionOptions(policy: .rank(1), parallelLayers: 1)).model
        #expect(record(stored, "h")?.rank == 1 && record(stored, "out")?.rank == 1)
        var options = ConversionOptions(parallelLayers: 1)
        options.metric = .plain
        options.quantization = QuantizationOptions(dtype: .int4)
        let provenance = ConversionProvenance(policy: "target-size", parameter: 0, factorDType: .float32, seed: nil, metric: .plain, calibration: nil)
        var search = SizeSearch(model: stored, spectra: try ConversionPipeline.searchSpectra(stored, options: ConversionOptions()),
                                options: options, provenance: provenance) { _ in ValidationScore(accuracy: 1, standardError: 0) }
        let i4 = StorageChoice(hidden: .int4, output: .int4)
        let built = try search.build(search.ranks(threshold: 0, storage: i4), storage: i4, calibrated: true).model
        for name in ["h", "out"] {
            guard case let .factorizedDense(us, vt, _, _, f) = try #require(built.layers.first { $0.name == name }).operation else {
                Issue.record("\(name) is no longer factorized")
                continue
            }
            #expect(f.rank == 1 && us.dtype == .int8 && vt.dtype == .int8, "\(name): \(us.dtype) \(vt.dtype) rank \(f.rank)")
        }
        _ = try built.plan()
        #expect(try search.smallestPossible() > 0)
    }
}
