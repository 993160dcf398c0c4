public import LRMFormat
import LRMLinearAlgebra

/// How faithfully one layer of a compressed model reproduces the matching layer of the original.
///
/// W is the original kernel, Ŵ the compressed one (U·Σ·Vᵀ for a factorized layer). The relative
/// Frobenius error is e = ‖Ŵ − W‖_F / ‖W‖_F and the measured retained energy is 1 − e² (for a
/// truncated SVD this is Σᵢ≤ₖ σᵢ² / Σ σᵢ², the ARSVD quantity).
public struct LayerFidelity: Sendable {
    public var name: String
    /// "dense" or "factorized_dense".
    public var kind: String
    public var rank: Int?
    public var inFeatures: Int
    public var outFeatures: Int
    /// e, measured.
    public var relativeError: Double
    /// 1 − e², measured.
    public var retainedEnergy: Double
    /// What the file's factorization record says, for factorized layers.
    public var recordedRelativeError: Double?
    public var recordedRetainedEnergy: Double?
    /// The metric the recorded energy is in ("plain" unless the method names another).
    public var recordedMetric: String?
    /// Whether the measurements agree with the record (nil when there is no record).
    public var agreesWithRecord: Bool?
    /// The largest |Δ| of the biases (0 when both have none).
    public var biasMaxDifference: Double

    /// Tolerance for agreement with the record: 1e-4 absolute plus 0.1% of the error.
    static func agrees(_ measured: Double, _ recorded: Double) -> Bool {
        abs(measured - recorded) <= 1e-4 + 1e-3 * abs(recorded)
    }

    /// Compares the weighted layers of `candidate` with the layers of the same name in `reference`.
    /// - Throws: `VerificationError` when a layer has no counterpart or the shapes differ.
    public static func compare(candidate: Model, reference: Model) throws -> [LayerFidelity] {
        var referenceKernels: [String: (Tensor, Tensor?)] = [:]
        for layer in reference.layers {
            switch layer.operation {
            case let .dense(kernel, bias, _):
                referenceKernels[layer.name] = (kernel, bias)
            case let .factorizedDense(us, vt, bias, _, _):
                if let product = try? product(us, vt) { referenceKernels[layer.name] = (product, bias) }
            default: break
            }
        }
        var results: [LayerFidelity] = []
        for layer in candidate.layers {
            let kernel: Tensor, bias: Tensor?, kind: String
            var factorization: Factorization?
            switch layer.operation {
            case let .dense(k, b, _):
                (kernel, bias, kind) = (k, b, "dense")
            case let .factorizedDense(us, vt, b, _, f):
                (kernel, bias, kind) = (try product(us, vt), b, "factorized_dense")
                factorization = f
            default:
                continue
            }
            guard let (original, originalBias) = referenceKernels[layer.name] else {
                throw VerificationError(.layerMismatch, "layer '\(escaped(layer.name))' has no layer of that name in the reference model")
            }
            guard original.shape == kernel.shape else {
                throw VerificationError(.layerMismatch, "layer '\(escaped(layer.name))' is \(kernel.shape) but the reference's is \(original.shape)")
            }
            let w = original.floats(), compressed = kernel.floats()
            var difference = 0.0, norm = 0.0
            for (a, b) in zip(compressed, w) {
                difference += (Double(a) - Double(b)) * (Double(a) - Double(b))
                norm += Double(b) * Double(b)
            }
            let error = norm > 0 ? (difference / norm).squareRoot() : (difference > 0 ? .infinity : 0)
            let candidateBias = bias?.floats() ?? [], referenceBias = originalBias?.floats() ?? []
            var biasDifference = 0.0
            if candidateBias.count == referenceBias.count {
                for (a, b) in zip(candidateBias, referenceBias) { biasDifference = max(biasDifference, abs(Double(a) - Double(b))) }
            } else {
                biasDifference = .infinity
            }
            var fidelity = LayerFidelity(name: layer.name, kind: kind, rank: factorization?.rank, inFeatures: kernel.shape[0],
                                         outFeatures: kernel.shape[1], relativeError: error, retainedEnergy: max(0, 1 - error * error),
                                         biasMaxDifference: biasDifference)
            if let f = factorization {
                let metric = f.method.hasPrefix("whitened") ? "whitened" : f.method.hasPrefix("activation-scaled") ? "activation-scaled" : "plain"
                fidelity.recordedRelativeError = f.relativeError
                fidelity.recordedRetainedEnergy = f.retainedEnergy
                fidelity.recordedMetric = metric
                // The recorded error is always plain; the recorded energy only when the metric is plain.
                var agrees = agrees(error, f.relativeError)
                if metric == "plain" { agrees = agrees && LayerFidelity.agrees(fidelity.retainedEnergy, f.retainedEnergy) }
                fidelity.agreesWithRecord = agrees
            }
            results.append(fidelity)
        }
        return results
    }

    /// us · vt as a dense in × out tensor.
    static func product(_ us: Tensor, _ vt: Tensor) throws -> Tensor {
        let a = try Matrix(rows: us.shape[0], columns: us.shape[1], values: us.floats())
        let b = try Matrix(rows: vt.shape[0], columns: vt.shape[1], values: vt.floats())
        return Tensor(shape: [us.shape[0], vt.shape[1]], floats: try Matrix.product(a, b).values)
    }
}
