import Foundation
import LRMFormat
import LRMLinearAlgebra
import Testing
@testable import LRMCompress

/// Re-converting a model whose layers are already factorized (a `.lrm` input; review finding 7: every factorized layer
/// used to be left as it was, whatever the policy asked). Each test failed before: the second conversion returned the
/// layers unchanged (rank 8 stayed rank 8).
@Suite("Re-converting factorized layers")
struct ReconversionTests {
    /// A 64 → 32 (σᵢ = 0.85^i) → 10 model.
    func model() throws -> Model {
        try SyntheticKernel.model(hidden: (0..<32).map { 3 * pow(0.85, Double($0)) }, seed: 7)
    }

    func convert(_ model: Model, _ policy: RankPolicy, configure: (inout ConversionOptions) -> Void = { _ in }) throws -> ConversionResult {
        var options = ConversionOptions(policy: policy)
        configure(&options)
        return try Converter.convert(model, options: options)
    }

    /// The layer's weight as one matrix (us·vt of a factorized layer, dequantized) and its record.
    func weight(_ layer: Layer<Tensor>) throws -> (Matrix, Factorization?) {
        if case let .dense(kernel, _, _) = layer.operation {
            return (try Matrix(rows: kernel.shape[0], columns: kernel.shape[1], values: kernel.floats()), nil)
        }
        let (a, b, f) = try Converter.factorMatrices(layer)
        return (try Matrix.product(a, b), f)
    }

    /// max |x − y| / max |y|.
    func relativeDifference(_ x: Matrix, _ y: Matrix) -> Double {
        let largest = y.values.map { Double(abs($0)) }.max() ?? 1
        return zip(x.values, y.values).map { Double(abs($0 - $1)) }.max()! / largest
    }

    @Test("rank 8 then rank 4 gives the original's rank-4 conversion, weights and records, up to rounding")
    func rankEightToFour() throws {
        let original = try model()
        let eight = try convert(original, .rank(8)).model
        let again = try convert(eight, .rank(4))
        let direct = try convert(original, .rank(4)).model
        #expect(again.decisions[0].outcome == .factorized)
        #expect(again.decisions[0].reason.contains("truncated from the stored rank 8"), "\(again.decisions[0].reason)")
        #expect(again.decisions[0].truncatedFromRank == 8)
        // Compression is counted from the original layer, as the record gives it.
        #expect(again.decisions[0].parametersBefore == 64 * 32 + 32)
        for index in 0..<2 {
            let (w, f) = try weight(again.model.layers[index]), (v, g) = try weight(direct.layers[index])
            #expect(relativeDifference(w, v) < 1e-4, "layer \(index)")
            guard index == 0 else { continue }  // the output layer stays dense (rank 8 does not pay for 32×10)
            let record = try #require(f), reference = try #require(g)
            #expect(record.rank == 4 && reference.rank == 4)
            #expect(abs(record.retainedEnergy - reference.retainedEnergy) < 1e-9)
            #expect(abs(record.relativeError - reference.relativeError) < 1e-5)
            #expect(record.singularValues == reference.singularValues, "the original's spectrum stays recorded")
            #expect(record.method.hasSuffix("+retruncated(8→4)"), "\(record.method)")
            #expect(record.policy == "rank" && record.policyParameter == 4)
        }
    }

    @Test("energy on a factorized layer chooses on the original's spectrum; a policy asking for more rank keeps the layer, with a note")
    func energyOnFactorizedLayer() throws {
        let original = try model()
        let high = try convert(original, .energy(0.99)).model
        let again = try convert(high, .energy(0.8))
        let direct = try convert(original, .energy(0.8))
        #expect(again.decisions[0].rank == direct.decisions[0].rank)
        #expect(abs((again.decisions[0].retainedEnergy ?? 0) - (direct.decisions[0].retainedEnergy ?? 1)) < 1e-9)
        #expect(relativeDifference(try weight(again.model.layers[0]).0, try weight(direct.model.layers[0]).0) < 1e-4)
        // Asking for more than the stored rank: kept exactly as it is, and said.
        let more = try convert(high, .energy(0.999))
        #expect(more.decisions[0].outcome == .keptFactorized && more.decisions[0].truncatedFromRank == nil)
        #expect(more.decisions[0].reason.contains("a layer cannot gain rank it does not have"), "\(more.decisions[0].reason)")
        guard case let .factorizedDense(us, vt, _, _, f) = more.model.layers[0].operation,
              case let .factorizedDense(us0, vt0, _, _, f0) = high.layers[0].operation else {
            Issue.record("not factorized")
            return
        }
        #expect(us == us0 && vt == vt0 && f == f0)
        // Excluded: kept as stored, whatever the policy.
        let excluded = try convert(high, .rank(2)) { $0.overrides = [.init(pattern: NamePattern("hidden"), policy: nil)] }
        #expect(excluded.decisions[0].outcome == .keptFactorized && excluded.decisions[0].rank == f0.rank)
    }

    @Test("a factorized convolution, channel and spatial forms, is truncated further like its kernel matrix", arguments: [ConvFactorizationForm.channel, .spatial])
    func convolution(form: ConvFactorizationForm) throws {
        var rng = SeededGenerator(seed: 5)
        let kernel = (0..<(3 * 3 * 4 * 8)).map { _ in rng.nextSymmetricFloat() }
        let original = Model(name: "c", input: InputSpec(shape: [6, 6, 4]), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: Tensor(shape: [3, 3, 4, 8], floats: kernel), bias: nil, activation: .relu,
                                                  geometry: ConvGeometry(padding: .same))),
        ])
        let configure: (inout ConversionOptions) -> Void = { $0.convolutions = form == .channel ? .channel : .spatial }
        let six = try convert(original, .rank(6), configure: configure).model
        let again = try convert(six, .rank(3), configure: configure)
        let direct = try convert(original, .rank(3), configure: configure).model
        guard case .factorizedConv2D(let first, _, _, _, form, _, let f) = again.model.layers[0].operation else {
            Issue.record("not a factorized convolution in the \(form.name) form: \(again.model.layers[0].operation.kindName)")
            return
        }
        #expect(f.rank == 3 && first.shape[3] == 3)
        #expect(relativeDifference(try weight(again.model.layers[0]).0, try weight(direct.layers[0]).0) < 1e-4)
        #expect(again.decisions[0].kind == "conv2d" && again.decisions[0].parametersBefore == 3 * 3 * 4 * 8)
    }

    @Test("integer factors are dequantized first: rank-8 i8 to rank-4 f32 is the original's rank 4 within the i8 rounding")
    func quantizedInput() throws {
        let original = try model()
        let eight = try convert(original, .rank(8)) { $0.quantization = QuantizationOptions(dtype: .int8) }.model
        guard case let .factorizedDense(us, _, _, _, _) = eight.layers[0].operation, us.quantization != nil else {
            Issue.record("the rank-8 layer is not stored as codes")
            return
        }
        let again = try convert(eight, .rank(4))
        let direct = try convert(original, .rank(4)).model
        let (w, f) = try weight(again.model.layers[0]), (v, g) = try weight(direct.layers[0])
        #expect(relativeDifference(w, v) < 2e-2)
        guard case let .factorizedDense(us4, _, _, _, _) = again.model.layers[0].operation else {
            Issue.record("the rank-4 layer is not factorized")
            return
        }
        #expect(us4.dtype == .float32)
        #expect(abs(try #require(f).retainedEnergy - (try #require(g)).retainedEnergy) < 1e-9, "energy relative to the original layer")
        #expect(abs(f!.relativeError - g!.relativeError) < 1e-2)
    }

    @Test("a layer kept at its stored rank 1 of an odd shape, re-stored as i4 (which packs an even number of values), is stored as i8 codes with a note: it threw 'choose an even rank (--round-rank 2)', which cannot raise a stored rank")
    func oddStoredRankUnderInt4() throws {
        var rng = SeededGenerator(seed: 29)
        func kernel(_ rows: Int, _ columns: Int) -> Tensor {
            Tensor(shape: [rows, columns], floats: (0..<(rows * columns)).map { _ in rng.nextSymmetricFloat() })
        }
        let original = Model(name: "odd", input: InputSpec(shape: [27]), layers: [
            Layer(name: "h", operation: .dense(kernel: kernel(27, 7), bias: nil, activation: .tanh)),
            Layer(name: "out", operation: .dense(kernel: kernel(7, 5), bias: nil, activation: .softmax)),
        ])
        let one = try convert(original, .rank(1)).model
        // As lrm convert --policy rank:1 --factor-dtype i4 asks: ranks rounded up to even, the stored layers re-stored.
        let again = try convert(one, .rank(1)) {
            $0.rankMultiple = 2
            $0.quantization = QuantizationOptions(dtype: .int4)
            $0.restoreFactorizedLayers = true
        }
        for (index, name) in ["h", "out"].enumerated() {
            guard case let .factorizedDense(us, vt, _, _, f) = again.model.layers[index].operation else {
                Issue.record("\(name) is not factorized")
                continue
            }
            #expect(f.rank == 1 && us.dtype == .int8 && vt.dtype == .int8 && f.method.hasSuffix("+restored(i8)"), "\(name): \(f.method)")
            let note = try #require(again.decisions[index].note)
            #expect(note.contains("i4 cannot pack") && note.contains("stored as i8"), "\(note)")
        }
        _ = try again.model.plan()
    }

    @Test("factors refitted after their truncation are kept at their rank, and a policy that would truncate them is refused")
    func refittedFactorsRefused() throws {
        var model = try convert(try model(), .rank(8)).model
        guard case let .factorizedDense(us, vt, bias, activation, f) = model.layers[0].operation else {
            Issue.record("the rank-8 layer is not factorized")
            return
        }
        var moved = f
        moved.method += "+refit"
        model.layers[0].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: moved)
        #expect(throws: ConversionError.self) { try convert(model, .rank(4)) }
        let kept = try convert(model, .rank(8))
        #expect(kept.decisions[0].outcome == .keptFactorized)
    }
}
