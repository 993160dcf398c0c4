import Foundation
public import LRMFormat
import LRMLinearAlgebra

/// Re-converting a layer that is already factorized (a `.lrm` input): its stored factors A (in × r) and B
/// (r × out), dequantized when they are integer codes, are the layer. A·B has an exact thin SVD computed from
/// the factors alone: A = Qa·Ra, Bᵀ = Qb·Rb (QR), Ra·Rbᵀ = Uc·S·Vcᵀ (an r × r SVD), so A·B = (Qa·Uc)·S·(Qb·Vc)ᵀ.
/// The policy chooses k on the spectrum the layer's record gives, and k < r truncates that SVD (the best
/// rank-k approximation of the stored layer; for a plain truncation of the original kernel W, also W's own
/// rank-k truncation, since the leading triplets are shared). A layer never gains rank: k ≥ r keeps it.
///
/// The record stays true. When the layer's record is a truncation the stored factors still are (any metric's
/// truncation W·V_r·V_rᵀ, not refitted or fine-tuned), W − A·B is orthogonal to A·B and to every truncation of
/// it, so ‖W‖² = ‖A·B‖² / (1 − e²) and the new error is √(e² + ‖A·B − A'·B'‖² / ‖W‖²) exactly (e the recorded
/// error; with integer or half-precision codes the rounding makes it an estimate to within that rounding's
/// share). Factors refitted or fine-tuned after their truncation (method `+refit`, `+finetune`) are not: they
/// are kept at their rank, and a policy that would truncate them is refused (the original kernel is not in the
/// file to measure against). The spectrum: a plain truncation's record holds W's singular values, so the policy
/// chooses on them as it would on the original (energy relative to the original layer); a data-aware one's
/// holds another metric's, so the policy chooses on the stored layer's own singular values (energy relative to
/// the stored layer).
extension Converter {
    /// Whether a record's spectrum is W's own (a plain truncation, possibly re-truncated or re-stored since).
    static func recordsOriginalSpectrum(_ f: Factorization) -> Bool {
        !f.method.hasPrefix("whitened") && !f.method.hasPrefix("activation-scaled") && !f.movedAfterTruncation
    }

    /// A factorized layer's factors as the matrices its record describes, A (in × r) and B (r × out), in float32
    /// (integer codes dequantized), with the record.
    static func factorMatrices(_ layer: Layer<Tensor>) throws -> (a: Matrix, b: Matrix, record: Factorization) {
        switch layer.operation {
        case let .factorizedDense(us, vt, _, _, f):
            return (try Matrix(rows: f.inFeatures, columns: f.rank, values: us.floats()),
                    try Matrix(rows: f.rank, columns: f.outFeatures, values: vt.floats()), f)
        case let .factorizedConv2D(first, second, _, _, form, _, f):
            let k = f.rank
            switch form {
            case .channel:
                return (try Matrix(rows: f.inFeatures, columns: k, values: first.floats()),
                        try Matrix(rows: k, columns: f.outFeatures, values: second.floats()), f)
            case .spatial:
                let (a, b) = try spatialFactorMatrices(first: first, second: second)
                return (a, b, f)
            }
        default:
            throw ConversionError(kind: .decomposition, layer: layer.name, message: "not a factorized layer")
        }
    }

    /// The exact thin SVD of A·B (A m × r, B r × n, r ≤ min(m, n)) from the factors: QR of A and of Bᵀ, SVD of the
    /// r × r core (in double precision).
    static func productSVD(_ a: Matrix, _ b: Matrix) throws -> (u: Matrix, s: [Double], vt: Matrix) {
        let qa = try QR.compute(a), qb = try QR.compute(b.transposed())
        let core = try Matrix.product(qa.r, qb.r, transposeB: true)
        let small = try SVD.compute(core, precision: .double)
        return (try Matrix.product(qa.q, small.u), small.s, try Matrix.product(small.vt, qb.q, transposeB: true))
    }

    /// Whether the layer's factors are stored as `options` asks (integer codes of that dtype and scheme for a dense
    /// layer with quantization; else the float factor dtype).
    static func storedAsAsked(_ layer: Layer<Tensor>, options: ConversionOptions) -> Bool {
        switch layer.operation {
        case let .factorizedDense(us, _, _, _, _):
            if let quantization = options.quantization {
                return us.dtype == quantization.dtype && (us.quantization?.zeroPoints != nil) == quantization.zeroPoints
            }
            return us.dtype == options.factorDType
        case let .factorizedConv2D(first, _, _, _, _, _, _):
            return first.dtype == options.factorDType
        default:
            return true
        }
    }

    /// The spectrum a factorized layer's rank is chosen on (``convertFactorized(_:options:)``, and a search of a `.lrm`,
    /// ``applyFactorized(_:to:rank:policyName:policyParameter:policyDescription:options:)``): `kernel` is the stored
    /// layer A·B (in × out; the form's matrix for a convolution), `svd` its exact thin SVD from the factors, of the
    /// stored rank (``LayerSpectrum/storedRank``: the most it can keep). Its singular values are the original's where
    /// the record is a plain truncation (energy relative to the original layer; their total from the record's energy when
    /// only the leading ones are known), else the stored layer's own.
    public static func factorizedSpectrum(of layer: Layer<Tensor>) throws -> LayerSpectrum {
        let start = DispatchTime.now().uptimeNanoseconds
        let (a, b, f) = try factorMatrices(layer)
        guard FiniteValues.all(a.values), FiniteValues.all(b.values) else {
            throw ConversionError(kind: .nonFiniteWeights, layer: layer.name, message: "the stored factors hold NaN or infinite values")
        }
        let svd: (u: Matrix, s: [Double], vt: Matrix)
        let product: Matrix
        do {
            svd = try productSVD(a, b)
            product = try Matrix.product(a, b)
        } catch {
            throw ConversionError(kind: .decomposition, layer: layer.name, message: "\(error)")
        }
        let original = recordsOriginalSpectrum(f)
        let values = original ? f.singularValues : svd.s
        var total = Spectrum.energy(values)
        if original, values.count < FactorizationCost(inFeatures: f.inFeatures, outFeatures: f.outFeatures).fullRank, f.retainedEnergy > 0 {
            total = max(total, Spectrum.energy(Array(values.prefix(f.rank))) / f.retainedEnergy)
        }
        var spectrum = LayerSpectrum(name: layer.name, kernel: product, metric: .plain, transformed: product,
                                     svd: SVD(u: svd.u, s: svd.s, vt: svd.vt, precision: .double), totalEnergy: total,
                                     isComplete: false, method: f.method,
                                     seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        spectrum.allSingularValues = values
        spectrum.storedRank = f.rank
        return spectrum
    }

    /// Converts a factorized layer (see the extension's comment): truncated further when its policy chooses a rank
    /// below the stored one, else kept (re-stored in the asked storage when `options.restoreFactorizedLayers`).
    static func convertFactorized(_ layer: Layer<Tensor>, options: ConversionOptions) throws -> (Layer<Tensor>, LayerDecision) {
        guard let policy = options.policy(forLayer: layer.name) else {
            var decision = outlineFactorized(layer)
            decision.reason = "excluded by an override: kept as stored (\(decision.kind == "conv2d" ? "convolution factorized" : "factorized") "
                + "at rank \(decision.rank ?? 0))"
            return (layer, decision)
        }
        let spectrum = try factorizedSpectrum(of: layer)
        var (converted, decision) = try applyFactorized(spectrum, to: layer, rank: spectrum.rank(for: policy), policyName: policy.name,
                                                        policyParameter: policy.parameter, policyDescription: policy.description,
                                                        options: options)
        decision.policy = policy
        return (converted, decision)
    }

    /// A factorized layer's decision as it is stored (kept at its rank), before anything is decided.
    public static func outlineFactorized(_ layer: Layer<Tensor>) -> LayerDecision {
        let (isConvolution, bias, f): (Bool, Tensor?, Factorization) = switch layer.operation {
        case let .factorizedConv2D(_, _, b, _, _, _, f): (true, b, f)
        case let .factorizedDense(_, _, b, _, f): (false, b, f)
        default: preconditionFailure("factorized layers only")
        }
        let cost = FactorizationCost(inFeatures: f.inFeatures, outFeatures: f.outFeatures)
        return LayerDecision(name: layer.name, kind: isConvolution ? "conv2d" : "dense", outcome: .keptFactorized,
                             inFeatures: f.inFeatures, outFeatures: f.outFeatures, rank: f.rank,
                             retainedEnergy: f.retainedEnergy, relativeError: f.relativeError,
                             parametersBefore: cost.denseParameters + (bias?.elementCount ?? 0), parametersAfter: parameterCount(layer),
                             method: f.method, seconds: 0, reason: "")
    }

    /// A factorized layer at rank `chosen` (rounded up to `options.rankMultiple`), its spectrum from
    /// ``factorizedSpectrum(of:)``: truncated further when that is below the stored rank (Eckart–Young checked on the
    /// stored layer), else kept (re-stored in the asked storage when `options.restoreFactorizedLayers`). The record stays
    /// relative to the original layer (see the extension's comment); a truncation records `policyName` and
    /// `policyParameter`, a kept layer its old policy.
    public static func applyFactorized(_ spectrum: LayerSpectrum, to layer: Layer<Tensor>, rank chosen: Int, policyName: String,
                                       policyParameter: Double, policyDescription: String,
                                       options: ConversionOptions) throws -> (Layer<Tensor>, LayerDecision) {
        let isConvolution: Bool
        let bias: Tensor?
        switch layer.operation {
        case let .factorizedDense(_, _, b, _, _): (isConvolution, bias) = (false, b)
        case let .factorizedConv2D(_, _, b, _, _, _, _): (isConvolution, bias) = (true, b)
        default: preconditionFailure("factorized layers only")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let (a, b, f) = try factorMatrices(layer)
        let (inFeatures, outFeatures, stored) = (f.inFeatures, f.outFeatures, f.rank)
        let cost = FactorizationCost(inFeatures: inFeatures, outFeatures: outFeatures)
        let biasCount = bias?.elementCount ?? 0
        var decision = outlineFactorized(layer)
        decision.policy = try? RankPolicy(parsing: "\(policyName):\(policyParameter)")
        let original = recordsOriginalSpectrum(f)
        let svd = (u: spectrum.svd.u, s: spectrum.svd.s, vt: spectrum.svd.vt)
        let total = spectrum.energyDenominator
        let rank = cost.roundedRank(chosen, multiple: options.rankMultiple)
        decision.policyRank = chosen
        let whose = original ? "" : " (on the stored layer's own spectrum: its record's is "
            + (f.movedAfterTruncation ? "the truncation's before a refit or fine-tuning)" : "in another metric)")
        let truncate = rank < stored
        if !truncate {
            decision.reason = rank == stored
                ? "\(policyDescription) chooses k = \(stored), the stored rank\(whose): kept"
                : "\(policyDescription) asks for k = \(rank) of \(cost.fullRank)\(whose), more than the \(stored) stored: kept at rank \(stored) "
                    + "(a layer cannot gain rank it does not have; convert the original model for more)"
            guard options.restoreFactorizedLayers, !storedAsAsked(layer, options: options) else {
                decision.seconds = spectrum.seconds + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                return (layer, decision)
            }
        }
        if truncate && f.movedAfterTruncation {
            throw ConversionError(kind: .decomposition, layer: layer.name,
                                  message: "\(policyDescription) would truncate it from rank \(stored) to \(rank), but its factors were changed after "
                                  + "their truncation (method '\(f.method)'), so their record could not stay true without the original kernel: "
                                  + "convert the original model, or --exclude this layer")
        }
        let k = truncate ? rank : stored
        let usFloat: Matrix, vtFloat: Matrix
        if truncate {
            let u = svd.u.leadingColumns(k)
            usFloat = try u.scalingColumns(by: svd.s.prefix(k).map { Float($0) })
            vtFloat = svd.vt.leadingRows(k)
        } else {
            (usFloat, vtFloat) = (a, b)
        }
        let product = spectrum.kernel
        if truncate {
            // Eckart–Young on the stored layer: the truncation's error is the tail of A·B's spectrum.
            let measured = try relativeError(of: usFloat, vtFloat, against: product)
            let predicted = Spectrum.tailEnergyFraction(rank: k, singularValues: svd.s, totalEnergy: Spectrum.energy(svd.s),
                                                        complete: true).squareRoot()
            let tolerance = max(2e-3 * predicted, 2e-6 * Double(max(inFeatures, outFeatures)).squareRoot())
            guard abs(measured - predicted) <= tolerance else {
                throw ConversionError(kind: .eckartYoung, layer: layer.name,
                                      message: "truncated factors have relative error \(measured) against the stored layer, Eckart–Young predicts \(predicted) (tolerance \(tolerance)); refusing to write")
            }
        }
        // The factors in the asked storage.
        let first: Tensor, second: Tensor
        var storage = options.factorDType
        var packingNote: String?
        if !isConvolution, var quantization = options.quantization {
            if !truncate, quantization.dtype == .int4, (inFeatures * k) % 2 != 0 || (k * outFeatures) % 2 != 0 {
                // i4 packs two codes a byte, and the rank the layer keeps (its stored one: a layer never gains rank) leaves its
                // factors an odd number of values: i8 codes, said in a note (it was 'choose an even rank (--round-rank 2)',
                // which cannot raise a stored rank).
                quantization.dtype = .int8
                packingNote = "i4 cannot pack its \(inFeatures)×\(k) and \(k)×\(outFeatures) factors (an odd number of values) at the rank "
                    + "it keeps, its stored \(k) (a layer never gains rank): stored as i8"
            }
            try checkPacking(quantization, inFeatures: inFeatures, rank: k, outFeatures: outFeatures, layer: layer.name)
            // Against the layer's inputs on the calibration data when there are some (as a dense layer's factors are).
            (first, second) = try quantizedFactors(us: usFloat.values, vt: vtFloat.values, inFeatures: inFeatures, rank: k,
                                                   outFeatures: outFeatures, options: quantization,
                                                   gram: calibrationGram(forLayer: layer.name, inFeatures: inFeatures, options: options),
                                                   layer: layer.name)
            storage = quantization.dtype
        } else {
            first = Tensor(shape: [inFeatures, k], floats: usFloat.values, dtype: options.factorDType)
            second = Tensor(shape: [k, outFeatures], floats: vtFloat.values, dtype: options.factorDType)
        }
        // The error against the original kernel, from the record (see the extension's comment).
        let storedProduct = try Matrix.product(try Matrix(rows: inFeatures, columns: k, values: first.floats()),
                                               try Matrix(rows: k, columns: outFeatures, values: second.floats()))
        let (moved, productNorm) = squaredDistance(storedProduct, product)
        let e = f.relativeError
        let originalNorm = e < 1 ? productNorm / (1 - e * e) : productNorm
        let error = originalNorm > 0 ? (e * e + moved / originalNorm).squareRoot() : e
        let energy: Double
        if truncate {
            let kept = Spectrum.energy(Array((original ? f.singularValues : svd.s).prefix(k)))
            let denominator = original ? total : Spectrum.energy(svd.s)
            energy = denominator > 0 ? min(1, max(0, kept / denominator)) : 1
        } else {
            energy = f.retainedEnergy
        }
        var step = truncate ? "+retruncated(\(stored)→\(k))" : "+restored(\(storage.name))"
        // Factors that were integer codes are no longer the truncation their record describes: said before the step
        // (spec/FORMAT.md section 3.1), so that verify checks them as it checks codes.
        if case let .factorizedDense(us, _, _, _, _) = layer.operation, us.quantization != nil, !f.roundedBefore {
            step = Factorization.roundedStep + us.dtype.name + ")" + step
        }
        let method = f.method.count + step.count <= 1024 ? f.method + step : f.method
        let factorization = Factorization(inFeatures: inFeatures, outFeatures: outFeatures, rank: k, retainedEnergy: energy,
                                          relativeError: error, policy: truncate ? policyName : f.policy,
                                          policyParameter: truncate ? policyParameter : f.policyParameter, method: method,
                                          singularValues: original ? f.singularValues : svd.s)
        let operation: LayerOperation<Tensor>
        switch layer.operation {
        case let .factorizedDense(_, _, bias, activation, _):
            operation = .factorizedDense(us: first, vt: second, bias: bias, activation: activation, factorization: factorization)
        case let .factorizedConv2D(oldFirst, oldSecond, bias, activation, form, geometry, _):
            let kernelShape = form == .channel
                ? [oldFirst.shape[0], oldFirst.shape[1], oldFirst.shape[2], oldSecond.shape[3]]
                : [oldFirst.shape[0], oldSecond.shape[1], oldFirst.shape[2], oldSecond.shape[3]]
            let (convFirst, convSecond) = convolutionFactors(us: first, vt: second, kernelShape: kernelShape, form: form)
            operation = .factorizedConv2D(first: convFirst, second: convSecond, bias: bias, activation: activation, form: form,
                                          geometry: geometry, factorization: factorization)
        default:
            preconditionFailure("factorized layers only")
        }
        decision.outcome = .factorized
        decision.rank = k
        decision.retainedEnergy = energy
        decision.relativeError = error
        decision.method = method
        decision.parametersAfter = cost.factorParameters(rank: k) + biasCount
        decision.seconds = spectrum.seconds + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if truncate {
            decision.truncatedFromRank = stored
            decision.reason = "\(policyDescription) chose k = \(k) of \(cost.fullRank)\(whose): truncated from the stored rank \(stored)"
        } else {
            decision.reason += "; factors re-stored as \(storage.name)"
        }
        if isConvolution, options.quantization != nil {
            decision.noteFloatConvolutionFactors(options.factorDType)
        }
        if let packingNote {
            decision.note = packingNote
            decision.reason += "; " + packingNote
        }
        return (Layer(name: layer.name, operation: operation), decision)
    }
}
