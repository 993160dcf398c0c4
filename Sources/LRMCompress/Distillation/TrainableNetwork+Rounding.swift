import Foundation
import LRMFormat

/// A trained parameter that the model stores as integer codes: its index in ``TrainableNetwork/parameters``, its
/// `rows × columns` shape, and the storage the conversion gave it.
struct CodedParameter {
    var parameter: Int
    var rows: Int
    var columns: Int
    var storage: QuantizationOptions
}

extension TrainableNetwork {
    /// How `tensor` is stored as integer codes (nil: a float tensor): its dtype, rows per scale (nil: one group per
    /// column, when the group covers every row), scale dtype and zero points, as `--factor-dtype`, `--group-size`,
    /// `--scale-dtype` and `--quant-scheme` had the conversion store it.
    static func storage(of tensor: Tensor) -> QuantizationOptions? {
        guard let q = tensor.quantization else { return nil }
        return QuantizationOptions(dtype: q.dtype, groupSize: q.groupSize >= q.rows ? nil : q.groupSize, scaleDType: q.scales.dtype,
                                   zeroPoints: q.zeroPoints != nil)
    }

    /// The parameters that `model` (the model this network was made from) stores as integer codes.
    func codedParameters(of model: Model) -> [CodedParameter] {
        var coded: [CodedParameter] = []
        for (position, stage) in stages.enumerated() {
            switch (stage, model.layers[layerIndices[position]].operation) {
            case let (.factorized(us, vt, _, inFeatures, rank, outFeatures, _), .factorizedDense(oldUs, oldVt, _, _, _)):
                if let s = Self.storage(of: oldUs) { coded.append(CodedParameter(parameter: us, rows: inFeatures, columns: rank, storage: s)) }
                if let s = Self.storage(of: oldVt) { coded.append(CodedParameter(parameter: vt, rows: rank, columns: outFeatures, storage: s)) }
            case let (.dense(kernel, _, inFeatures, outFeatures, _), .dense(oldKernel, _, _)):
                if let s = Self.storage(of: oldKernel) {
                    coded.append(CodedParameter(parameter: kernel, rows: inFeatures, columns: outFeatures, storage: s))
                }
            default:
                continue
            }
        }
        return coded
    }

    /// Each `coded` parameter rounded to its storage by the converter's rounding (``FactorQuantizer/quantize(_:rows:columns:options:gram:)``,
    /// without calibration data: each group's clipped scale, round to nearest), by parameter index.
    func quantized(_ coded: [CodedParameter]) throws -> [Int: QuantizedValues] {
        var out: [Int: QuantizedValues] = [:]
        for c in coded {
            out[c.parameter] = try FactorQuantizer.quantize(parameters[c.parameter], rows: c.rows, columns: c.columns, options: c.storage)
        }
        return out
    }

    /// This network with the `coded` parameters replaced by their rounding (the values the stored codes stand for):
    /// what the model computes once written. Fine-tuning runs and scores this, and steps the unrounded parameters with
    /// its gradients (straight-through).
    func rounded(_ coded: [CodedParameter]) throws -> TrainableNetwork {
        var network = self
        for (parameter, values) in try quantized(coded) { network.parameters[parameter] = values.dequantized() }
        return network
    }

    /// The model with this network's parameters written back, the `coded` ones as integer codes in the storage they had
    /// (``rounded(_:)``'s values; `keepingCodes`: the codes `model` has, for parameters not trained since it was read),
    /// the others in their dtype.
    func write(into model: Model, methodSuffix: String, coded: [CodedParameter], keepingCodes: Bool = false) throws -> Model {
        var updated = write(into: model, methodSuffix: methodSuffix)
        guard !coded.isEmpty else { return updated }
        let codes = keepingCodes ? [:] : try quantized(coded)
        let isCoded = Set(coded.map(\.parameter))
        func stored(_ parameter: Int, _ old: Tensor, _ written: Tensor) -> Tensor {
            guard isCoded.contains(parameter) else { return written }
            return codes[parameter].map { Tensor(quantized: $0) } ?? old
        }
        for (position, stage) in stages.enumerated() {
            let index = layerIndices[position]
            switch (stage, model.layers[index].operation, updated.layers[index].operation) {
            case let (.factorized(us, vt, _, _, _, _, _), .factorizedDense(oldUs, oldVt, _, _, _),
                      .factorizedDense(usTensor, vtTensor, bias, activation, factorization)):
                updated.layers[index].operation = .factorizedDense(us: stored(us, oldUs, usTensor), vt: stored(vt, oldVt, vtTensor), bias: bias,
                                                                   activation: activation, factorization: factorization)
            case let (.dense(kernel, _, _, _, _), .dense(oldKernel, _, _), .dense(kernelTensor, bias, activation)):
                updated.layers[index].operation = .dense(kernel: stored(kernel, oldKernel, kernelTensor), bias: bias, activation: activation)
            default:
                continue
            }
        }
        return updated
    }
}
