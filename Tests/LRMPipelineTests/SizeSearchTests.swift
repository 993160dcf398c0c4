import Foundation
import LRMCompress
import LRMFormat
import LRMRuntime
import Testing
@testable import LRMPipeline

/// A rows × columns kernel that is a sum of rank-one terms with weights decay^r (the size-search tests' spectra).
func decayingKernel(_ rows: Int, _ columns: Int, decay: Float, rng: inout SeededGenerator) -> [Float] {
    var w = [Float](repeating: 0, count: rows * columns)
    for r in 0..<min(rows, columns) {
        let a = (0..<rows).map { _ in rng.nextSymmetricFloat() }, b = (0..<columns).map { _ in rng.nextSymmetricFloat() }
        let weight = pow(decay, Float(r))
        for i in 0..<rows { for j in 0..<columns { w[i * columns + j] += weight * a[i] * b[j] } }
    }
    return w
}

@Suite("Size search")
struct SizeSearchTests {
    /// A 64 → 48 → 32 → 6 MLP with decaying spectra; accuracy is agreement with the original's answers.
    /// With `outliers`, h1's kernel gets one entry per column 30 times its typical size (hard for i4).
    func setUp(outliers: Bool = false, zeroPoints: Bool = false) throws -> (SizeSearch, Model) {
        var rng = SeededGenerator(seed: 51)
        func kernel(_ rows: Int, _ columns: Int, decay: Float) -> [Float] { decayingKernel(rows, columns, decay: decay, rng: &rng) }
        var first = kernel(64, 48, decay: 0.8)
        if outliers {
            let typical = (first.reduce(0) { $0 + $1 * $1 } / Float(first.count)).squareRoot()
            for j in 0..<48 { first[(j * 7 % 64) * 48 + j] = 30 * typical }
        }
        let model = Model(name: "s", input: InputSpec(shape: [64]), layers: [
            Layer(name: "h1", operation: .dense(kernel: Tensor(shape: [64, 48], floats: first),
                                                bias: Tensor(shape: [48], floats: [Float](repeating: 0.01, count: 48)), activation: .tanh)),
            Layer(name: "h2", operation: .dense(kernel: Tensor(shape: [48, 32], floats: kernel(48, 32, decay: 0.75)), bias: nil, activation: .tanh)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [32, 6], floats: kernel(32, 6, decay: 0.9)), bias: nil, activation: .softmax)),
        ])
        let samples = 400
        let x = (0..<(samples * 64)).map { _ in rng.nextSymmetricFloat() }
        let y = try InferenceModel(model).run(x, sampleCount: samples)
        let labels = (0..<samples).map { s in (0..<6).max { y[s * 6 + $0] < y[s * 6 + $1] }! }
        var spectra: [String: LayerSpectrum] = [:]
        for layer in model.layers { spectra[layer.name] = try Converter.spectrum(of: layer, policy: .effectiveRank, options: ConversionOptions()) }
        var options = ConversionOptions(parallelLayers: 1)
        options.quantization = QuantizationOptions(dtype: .int8, zeroPoints: zeroPoints)
        let provenance = ConversionProvenance(policy: "target-size", parameter: 0, factorDType: .float32, seed: nil, metric: .plain, calibration: nil)
        let search = SizeSearch(model: model, spectra: spectra, options: options, provenance: provenance) { candidate in
            let out = try InferenceModel(candidate).run(x, sampleCount: samples)
            var correct = 0.0
            for (s, label) in labels.enumerated() where (0..<6).max(by: { out[s * 6 + $0] < out[s * 6 + $1] })! == label { correct += 1 }
            let n = Double(samples), flips = n - correct, d = flips / n
            return ValidationScore(accuracy: correct / n, standardError: max(0, flips / (n * n) - d * d / n).squareRoot())
        }
        return (search, model)
    }

    @Test("sizes are the bytes the writer writes (integer codes with and without zero points)", arguments: [false, true])
    func exactSizes(zeroPoints: Bool) throws {
        let (search, model) = try setUp(zeroPoints: zeroPoints)
        for storage in StorageChoice.searched {
            let built = try search.build(search.ranks(threshold: 0.9, storage: storage), storage: storage, calibrated: false).model
            #expect(try SizeSearch.fileSize(built) == ContainerWriter.encode(built).count, "\(storage)")
        }
        #expect(try SizeSearch.fileSize(model) == ContainerWriter.encode(model).count)
    }

    @Test("the floor from the shapes alone (no spectra, no data) is at most the search's smallest file, and close to it",
          arguments: [false, true])
    func sizeFloor(zeroPoints: Bool) throws {
        var (search, model) = try setUp(zeroPoints: zeroPoints)
        let floor = try SizeSearch.sizeFloor(model, options: search.options, policy: search.provenance.policy, parameter: 0)
        let smallest = try search.smallestPossible()
        #expect(floor <= smallest && Double(floor) >= 0.8 * Double(smallest), "floor \(floor), smallest \(smallest)")
        #expect(try search.targetSize(floor - 1) == nil)
    }

    @Test("the floor and the smallest file are over the same candidates: each searched storage at the smallest ranks, then the per-layer choice")
    func smallestCandidates() throws {
        var (search, model) = try setUp()
        let candidates = try search.smallestCandidates()
        #expect(candidates.count == StorageChoice.searched.count + 1)
        #expect(candidates.prefix(StorageChoice.searched.count).map(\.storage) == StorageChoice.searched)
        // h1 is 64 × 48 and h2 48 × 32: even shapes, so rank 1 in every storage, i4 included.
        #expect(candidates.prefix(StorageChoice.searched.count).allSatisfy { $0.ranks == ["h1": 1, "h2": 1] }, "\(candidates)")
        #expect(try candidates.map { try search.size($0.ranks, storage: $0.storage) }.min() == search.smallestPossible())
        let last = try #require(candidates.last)
        #expect(!last.storage.layers.isEmpty, "the per-layer choice: \(last.storage)")
        search.perLayer = false
        #expect(try search.smallestCandidates().count == StorageChoice.searched.count)
        #expect(try SizeSearch.sizeFloor(model, options: search.options, policy: search.provenance.policy, parameter: 0) <= search.smallestPossible())
    }

    @Test("a size target gives the most accurate candidate that fits; a tighter one a smaller file; below the smallest, none")
    func targetSize() throws {
        var (search, model) = try setUp()
        let dense = try SizeSearch.fileSize(model)
        let loose = try #require(try search.targetSize(dense / 3))
        #expect(loose.bytes <= dense / 3)
        let tight = try #require(try search.targetSize(dense / 8))
        #expect(tight.bytes <= dense / 8)
        #expect((loose.score?.accuracy ?? 0) >= (tight.score?.accuracy ?? 1) - 0.05)
        #expect(search.log.allSatisfy { $0.score != nil })
        let smallest = try search.smallestPossible()
        #expect(try search.targetSize(smallest - 1) == nil)
        #expect(try search.targetSize(smallest) != nil)
    }

    @Test("minimizing bytes within an accuracy budget keeps the budget on validation and is smaller than dense")
    func minimizeBytes() throws {
        var (search, model) = try setUp()
        search.confidence = 0
        let found = try #require(try search.minimizeBytes(baseline: 1, maxDrop: 0.05))
        #expect(1 - (found.score?.accuracy ?? 0) <= 0.05 + 1e-12)
        #expect(try found.bytes < SizeSearch.fileSize(model))
    }
}
