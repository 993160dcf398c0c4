import Foundation
public import LRMFormat
import LRMLinearAlgebra

/// Rounding to integer codes done inside the refit pass: each factorized layer is rounded right after it
/// is refitted, and each dense layer in `denseLayers` when the pass reaches it, both on the inputs that the
/// layers before it, already refitted and rounded, give it. The layers after it are then refitted to those
/// rounded outputs, so the refit corrects rounding errors as well as truncation errors.
struct RefitRounding {
    /// Indices of dense layers (kept dense) to round.
    var denseLayers: Set<Int>
    /// The layer at an index rounded, given its inputs (samples × features, row-major) and the sample count.
    var round: (_ index: Int, _ layer: Layer<Tensor>, _ inputs: [Float], _ sampleCount: Int) throws -> Layer<Tensor>
}

extension Refitter {
    /// Refits a conversion made with float factors and rounds it to `options.quantization` in the same pass,
    /// layer by layer in model order: a factorized layer is refitted on the inputs the compressed layers
    /// before it give, then its U·Σ and Vᵀ are rounded with error feedback against the Gram matrix of those
    /// same inputs (`Converter.quantizedFactors`); a kernel kept dense is rounded when
    /// `options.quantizeDenseKernels` asks for it, against its inputs likewise. Layers the pass does not
    /// reach (after a layer kind the refit does not know) are rounded as the converter rounds them, on the
    /// original model's calibration statistics. `result` must come from `Converter.convert` with
    /// `quantization` nil and `quantizeDenseKernels` false.
    public func applyRounding(to result: inout ConversionResult, options: ConversionOptions) throws {
        guard let quantization = options.quantization else { return try apply(to: &result) }
        var denseLayers: Set<Int> = []
        if options.quantizeDenseKernels {
            for (index, layer) in result.model.layers.enumerated() {
                guard case .dense = layer.operation,
                      result.decisions.first(where: { $0.name == layer.name })?.outcome == .notWorthIt else { continue }
                denseLayers.insert(index)
            }
        }
        let original = self.original
        func rounded(_ index: Int, _ layer: Layer<Tensor>, gram: [Double]?) throws -> Layer<Tensor> {
            switch layer.operation {
            case let .factorizedDense(us, vt, bias, activation, factorization):
                let (n, k, m) = (factorization.inFeatures, factorization.rank, factorization.outFeatures)
                try Converter.checkPacking(quantization, inFeatures: n, rank: k, outFeatures: m, layer: layer.name)
                let (usQ, vtQ) = try Converter.quantizedFactors(us: us.floats(), vt: vt.floats(), inFeatures: n, rank: k,
                                                                outFeatures: m, options: quantization,
                                                                gram: quantization.useCalibration ? gram : nil, layer: layer.name)
                var record = factorization
                if case let .dense(kernel, _, _) = original.layers[index].operation {
                    record.relativeError = try Converter.relativeError(of: try Matrix(rows: n, columns: k, values: usQ.floats()),
                                                                       try Matrix(rows: k, columns: m, values: vtQ.floats()),
                                                                       against: try Matrix(rows: n, columns: m, values: kernel.floats()))
                }
                return Layer(name: layer.name, operation: .factorizedDense(us: usQ, vt: vtQ, bias: bias, activation: activation,
                                                                           factorization: record))
            case .dense:
                return try Converter.quantizedDense(layer, quantization: quantization, gram: gram)
            default:
                return layer
            }
        }
        let rounding = RefitRounding(denseLayers: denseLayers) { index, layer, x, sampleCount in
            let features = x.count / max(sampleCount, 1)
            return try rounded(index, layer, gram: quantization.useCalibration ? Refitter.gram(x, rows: sampleCount, columns: features) : nil)
        }
        let pass = try refit(result.model, rounding: rounding)
        result.model = pass.model
        for (index, layer) in result.model.layers.enumerated() where !pass.rounded.contains(index) {
            let inFeatures: Int
            switch layer.operation {
            case let .factorizedDense(_, _, _, _, f): inFeatures = f.inFeatures
            case let .dense(kernel, _, _) where denseLayers.contains(index) && kernel.shape.count == 2: inFeatures = kernel.shape[0]
            default: continue
            }
            result.model.layers[index] = try rounded(index, layer,
                                                     gram: Converter.calibrationGram(forLayer: layer.name, inFeatures: inFeatures, options: options))
        }
        // As `Converter.convertConvolution` says when it converts with integer codes asked for.
        let note = "; factors stored in \(options.factorDType.name) (integer codes are for dense layers only)"
        for d in result.decisions.indices where result.decisions[d].kind == "conv2d" && result.decisions[d].outcome == .factorized
            && !result.decisions[d].reason.hasSuffix(note) {
            result.decisions[d].reason += note
        }
        for (index, layer) in result.model.layers.enumerated() {
            guard case let .factorizedDense(_, _, _, _, f) = layer.operation,
                  let d = result.decisions.firstIndex(where: { $0.name == layer.name }), result.decisions[d].outcome == .factorized,
                  index < original.layers.count else { continue }
            result.decisions[d].relativeError = f.relativeError
        }
    }

    /// XᵀX (columns × columns, row-major) of `x` (rows × columns, row-major), in double precision.
    static func gram(_ x: [Float], rows: Int, columns: Int) throws -> [Double] {
        let xd = x.map(Double.init)
        var gram = [Double](repeating: 0, count: columns * columns)
        try xd.withUnsafeBufferPointer { xp in
            try gram.withUnsafeMutableBufferPointer { g in
                let shape = MatrixShape(rows: rows, columns: columns)
                try GEMM.multiply(xp, shape: shape, transposeA: true, xp, shape: shape,
                                  into: g, shape: MatrixShape(rows: columns, columns: columns), beta: 0)
            }
        }
        return gram
    }
}
