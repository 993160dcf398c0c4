import Foundation
import LRMFormat
import LRMLinearAlgebra

/// Rounding to integer codes done inside the refit pass: each factorized layer is rounded right after it
/// is refitted, and each dense layer in `denseLayers` when the pass reaches it, both on the inputs that the
/// layers before it, already refitted and rounded, give it. The layers after it are then refitted to those
/// rounded outputs, so the refit corrects rounding errors as well as truncation errors.
struct RefitRounding {
    /// Indices of dense layers (kept dense) to round.
    var denseLayers: Set<Int>
    /// The layer at an index rounded, given XᵀX of its inputs on the calibration samples (computed when asked for).
    var round: (_ index: Int, _ layer: Layer<Tensor>, _ gram: () throws -> [Double]) throws -> Layer<Tensor>
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
        var plan: [Int: QuantizationOptions] = [:]
        for (index, layer) in result.model.layers.enumerated() {
            switch layer.operation {
            case .factorizedDense where index < original.layers.count && { if case .dense = original.layers[index].operation { true } else { false } }():
                // A layer already factorized in the original (a `.lrm` input) is not refitted and comes rounded as it is stored.
                plan[index] = quantization
            case .dense where options.quantizeDenseKernels
                && result.decisions.first(where: { $0.name == layer.name })?.outcome == .notWorthIt:
                plan[index] = quantization
            default:
                break
            }
        }
        try applyRounding(to: &result, plan: plan, options: options)
        // As `Converter.convertConvolution` says when it converts with integer codes asked for.
        for d in result.decisions.indices where result.decisions[d].kind == "conv2d" && result.decisions[d].outcome == .factorized {
            result.decisions[d].noteFloatConvolutionFactors(options.factorDType)
        }
    }

    /// The refit with each layer of `plan` (by index: factorized layers and kernels kept dense, in float) rounded to its
    /// own integer storage in the same pass, as ``applyRounding(to:options:)`` rounds every layer to one: layers may differ
    /// in dtype, and factorized layers `plan` leaves out are refitted and keep their float dtype. `options` gives the
    /// original model's calibration statistics, used for layers the pass does not reach.
    public func applyRounding(to result: inout ConversionResult, plan: [Int: QuantizationOptions], options: ConversionOptions) throws {
        let denseLayers = Set(plan.keys.filter { index in
            index < result.model.layers.count && { if case .dense = result.model.layers[index].operation { true } else { false } }()
        })
        let original = self.original
        func rounded(_ index: Int, _ layer: Layer<Tensor>, gram: () throws -> [Double]?) throws -> Layer<Tensor> {
            guard let quantization = plan[index] else { return layer }
            switch layer.operation {
            case let .factorizedDense(us, vt, bias, activation, factorization):
                let (n, k, m) = (factorization.inFeatures, factorization.rank, factorization.outFeatures)
                try Converter.checkPacking(quantization, inFeatures: n, rank: k, outFeatures: m, layer: layer.name)
                let (usQ, vtQ) = try Converter.quantizedFactors(us: us.floats(), vt: vt.floats(), inFeatures: n, rank: k,
                                                                outFeatures: m, options: quantization,
                                                                gram: quantization.useCalibration ? gram() : nil, layer: layer.name)
                var record = factorization
                if case let .dense(kernel, _, _) = original.layers[index].operation {
                    record.relativeError = try Converter.relativeError(of: try Matrix(rows: n, columns: k, values: usQ.floats()),
                                                                       try Matrix(rows: k, columns: m, values: vtQ.floats()),
                                                                       against: try Matrix(rows: n, columns: m, values: kernel.floats()))
                }
                return Layer(name: layer.name, operation: .factorizedDense(us: usQ, vt: vtQ, bias: bias, activation: activation,
                                                                           factorization: record))
            case .dense:
                return try Converter.quantizedDense(layer, quantization: quantization, gram: quantization.useCalibration ? gram() : nil)
            default:
                return layer
            }
        }
        let rounding = RefitRounding(denseLayers: denseLayers) { index, layer, gram in try rounded(index, layer, gram: gram) }
        let pass = try refit(result.model, rounding: rounding)
        result.model = pass.model
        for (index, layer) in result.model.layers.enumerated() where !pass.rounded.contains(index) {
            guard let quantization = plan[index] else { continue }
            let inFeatures: Int
            switch layer.operation {
            case let .factorizedDense(_, _, _, _, f): inFeatures = f.inFeatures
            case let .dense(kernel, _, _) where denseLayers.contains(index) && kernel.shape.count == 2: inFeatures = kernel.shape[0]
            default: continue
            }
            var local = options
            local.quantization = quantization
            result.model.layers[index] = try rounded(index, layer) {
                Converter.calibrationGram(forLayer: layer.name, inFeatures: inFeatures, options: local)
            }
        }
        for (index, layer) in result.model.layers.enumerated() {
            guard case let .factorizedDense(_, _, _, _, f) = layer.operation,
                  let d = result.decisions.firstIndex(where: { $0.name == layer.name }), result.decisions[d].outcome == .factorized,
                  index < original.layers.count else { continue }
            result.decisions[d].relativeError = f.relativeError
        }
    }
}
