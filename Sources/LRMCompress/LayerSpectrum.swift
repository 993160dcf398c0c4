import Foundation
import LRMFormat
public import LRMLinearAlgebra

/// The metric in which a layer's truncation error is measured.
///
/// Every metric ends with the same form, W_k = W·V_k·V_kᵀ (factors W·V_k, in × k, and V_kᵀ, k × out);
/// they differ in which right subspace V_k they keep: the leading right singular vectors of
/// T·W for a transform T of the input space.
public enum TruncationMetric: Sendable {
    /// T = I: plain SVD of W, the factors U_k·Σ_k and V_kᵀ (Eckart–Young in Frobenius norm).
    case plain
    /// T = Lᵀ with XᵀX + λI = L·Lᵀ (SVD-LLM): minimises ‖X·W − X·W_k‖_F over the calibration inputs X.
    case whitened(lower: Matrix, ridge: Double)
    /// T = diag(sⱼ) with sⱼ = (mean |xⱼ|)^α (ASVD): input features weighted by their typical size.
    case activationScaled(scales: [Float], alpha: Double)

    public var name: String {
        switch self {
        case .plain: "plain"
        case .whitened: "whitened"
        case .activationScaled: "activation-scaled"
        }
    }
}

/// One dense kernel W (in × out) and the singular value decomposition of its transform T·W in the
/// chosen metric, computed once so that several rank choices can be tried on it (convert, sweep).
public struct LayerSpectrum: Sendable {
    public let name: String
    public let kernel: Matrix
    public let metric: TruncationMetric
    /// T·W (the kernel itself for the plain metric).
    public let transformed: Matrix
    /// The decomposition of T·W: all min(in, out) triplets (exact), the leading ones (randomized), or
    /// (exact through the Gram matrix, for a conversion that knows its rank) the triplets it keeps.
    public let svd: SVD
    /// ‖T·W‖²_F, exact.
    public let totalEnergy: Double
    /// Whether `svd` holds every singular value.
    public let isComplete: Bool
    /// "gesdd-f32", "gesdd-f64", "gram-f64" or "randomized", prefixed by the metric unless plain.
    public let method: String
    public let seconds: Double
    /// Whether the large products of checking this layer's factors are split in two halves run at once
    /// (the Gram path, used for large layers, where one layer is often all that is left to do).
    var splitsProducts = false
    /// Every singular value, when `svd` holds only the leading triplets of an exact decomposition.
    var allSingularValues: [Double]?
    /// A factorized layer's stored rank (``Converter/factorizedSpectrum(of:)``: `kernel` is its stored product, `svd` that
    /// product's thin SVD, and no rank above this one can be kept); nil for a kernel's spectrum.
    public internal(set) var storedRank: Int?

    public var inFeatures: Int { kernel.rows }
    public var outFeatures: Int { kernel.columns }
    /// The singular values, descending: every one when `isComplete`, else the sketch's.
    public var singularValues: [Double] { allSingularValues ?? svd.s }

    /// Energy denominator: Σσ² when every σ is known (so energy + tail = 1 exactly), else ‖T·W‖²_F.
    var energyDenominator: Double { isComplete ? Spectrum.energy(singularValues) : totalEnergy }

    /// Decomposes `kernel` for `policy` in `metric`: exact, or (plain metric only) randomized when
    /// allowed and worthwhile, growing the sketch until the policy's threshold is met with exact
    /// energy accounting (‖W − Q·Qᵀ·W‖² = ‖W‖² − ‖Qᵀ·W‖²).
    /// `gram`, when given, is the Gram matrix of T·W already formed (by the singular-values pass), of
    /// `kernel` in `metric`: T·W is taken from it, not transformed again.
    /// `leading`, with it, is what that pass found: every singular value, and how many triplets the
    /// conversion keeps; then only those vectors are computed (``GramDecomposition/svd(leading:)``).
    public static func compute(name: String, kernel: Matrix, metric: TruncationMetric = .plain, policy: RankPolicy,
                               options: ConversionOptions, gram: GramDecomposition? = nil,
                               leading: (singularValues: [Double], count: Int)? = nil) throws -> LayerSpectrum {
        let start = DispatchTime.now().uptimeNanoseconds
        let elapsed = { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        // The values pass's Gram decomposition holds T·W already (the same product, the same bits).
        let transformed = try gram?.matrix ?? transform(kernel, metric)
        let total = transformed.values.reduce(0.0) { $0 + Double($1) * Double($1) }
        let full = min(kernel.rows, kernel.columns)
        if usesRandomizedSVD(rows: kernel.rows, columns: kernel.columns, metric: metric, policy: policy, options: options) {
            var sketch: Int
            switch policy {
            case .rank, .ratio:
                sketch = policy.chooseRank(singularValues: [], totalEnergy: total, inFeatures: kernel.rows, outFeatures: kernel.columns)
            default:
                sketch = max(32, full / 16)
            }
            while sketch <= full / 2 {
                let svd = try SVD.randomized(transformed, rank: sketch, seed: options.seed)
                let candidate = LayerSpectrum(name: name, kernel: kernel, metric: metric, transformed: transformed, svd: svd,
                                              totalEnergy: total, isComplete: false, method: methodName(exact: false, metric: metric, precision: .single),
                                              seconds: elapsed())
                let rank = policy.chooseRank(singularValues: svd.s, totalEnergy: total, inFeatures: kernel.rows, outFeatures: kernel.columns)
                let reached = Spectrum.smallestRank(keepingEnergy: candidate.thresholdEnergy(policy) ?? 0, singularValues: svd.s,
                                                    totalEnergy: total) != nil
                if rank <= svd.rank && reached { return candidate }
                sketch *= 2
            }
        }
        let viaGram = usesGram(rows: kernel.rows, columns: kernel.columns, options: options)
        let known = viaGram && gram != nil ? leading : nil
        let svd: SVD
        if viaGram {
            let decomposition = try gram ?? GramDecomposition(transformed)
            svd = try known.map { try decomposition.svd(leading: $0.count) } ?? decomposition.svd()
        } else {
            svd = try SVD.compute(transformed, precision: options.precision)
        }
        var spectrum = LayerSpectrum(name: name, kernel: kernel, metric: metric, transformed: transformed, svd: svd, totalEnergy: total,
                                     isComplete: true, method: methodName(exact: true, gram: viaGram, metric: metric, precision: options.precision),
                                     seconds: elapsed())
        spectrum.splitsProducts = viaGram
        spectrum.allSingularValues = known?.singularValues
        return spectrum
    }

    /// Whether ``compute(name:kernel:metric:policy:options:)`` starts with a randomized sketch of an
    /// in × out kernel (plain metric, a policy that does not need every σ, and `--svd randomized`, or
    /// `auto` with min(in, out) ≥ the threshold) rather than the exact SVD.
    static func usesRandomizedSVD(rows: Int, columns: Int, metric: TruncationMetric, policy: RankPolicy,
                                  options: ConversionOptions) -> Bool {
        guard case .plain = metric, !policy.needsFullSpectrum else { return false }
        return options.svdMethod == .randomized
            || (options.svdMethod == .auto && min(rows, columns) >= options.randomizedThreshold)
    }

    /// Whether an exact decomposition of an in × out kernel goes through its Gram matrix
    /// (`--svd gram`, or `auto` with min(in, out) ≥ `gramThreshold`) rather than `gesdd`.
    static func usesGram(rows: Int, columns: Int, options: ConversionOptions) -> Bool {
        options.svdMethod == .gram || (options.svdMethod == .auto && min(rows, columns) >= options.gramThreshold)
    }

    /// "gesdd-f32", "gesdd-f64", "gram-f64" or "randomized", prefixed by the metric unless plain.
    static func methodName(exact: Bool, gram: Bool = false, metric: TruncationMetric, precision: Precision) -> String {
        let method = !exact ? "randomized" : gram ? "gram-f64" : (precision == .single ? "gesdd-f32" : "gesdd-f64")
        if case .plain = metric { return method }
        return "\(metric.name) \(method)"
    }

    /// T·W for the metric.
    static func transform(_ w: Matrix, _ metric: TruncationMetric) throws -> Matrix {
        switch metric {
        case .plain: return w
        case .whitened(let lower, _): return try Matrix.product(lower, w, transposeA: true)
        case .activationScaled(let scales, _):
            var values = w.values
            for i in 0..<w.rows { for j in 0..<w.columns { values[i * w.columns + j] *= scales[i] } }
            return try Matrix(rows: w.rows, columns: w.columns, values: values)
        }
    }

    /// The energy fraction an energy-type policy must reach (nil for the others).
    func thresholdEnergy(_ policy: RankPolicy) -> Double? {
        switch policy {
        case .energy(let tau): tau
        case .error(let epsilon): 1 - epsilon * epsilon
        default: nil
        }
    }

    /// The rank `policy` chooses here, before rounding.
    public func rank(for policy: RankPolicy) -> Int {
        policy.chooseRank(singularValues: singularValues, totalEnergy: energyDenominator, inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// Σᵢ≤ₖ σᵢ² over the energy denominator, in this metric.
    public func retainedEnergy(rank: Int) -> Double {
        1 - tailFraction(rank: rank)
    }

    /// Squared relative error of the rank-k truncation, in this metric.
    public func tailFraction(rank: Int) -> Double {
        Spectrum.tailEnergyFraction(rank: rank, singularValues: singularValues, totalEnergy: energyDenominator, complete: isComplete)
    }

    /// The factors (in × k and k × out). Plain: U_k·Σ_k and V_kᵀ. Other metrics: W·V_k and V_kᵀ.
    public func factors(rank: Int) throws -> (us: Matrix, vt: Matrix) {
        let truncated = try svd.truncated(to: rank)
        if case .plain = metric {
            return (try truncated.u.scalingColumns(by: truncated.s.map { Float($0) }), truncated.vt)
        }
        let us = splitsProducts ? try Matrix.productInHalves(kernel, truncated.vt, transposeB: true)
                                : try Matrix.product(kernel, truncated.vt, transposeB: true)
        return (us, truncated.vt)
    }

    /// ‖T·(W − us·vt)‖_F / ‖T·W‖_F: the error in this metric, measured on the factors.
    public func metricError(us: Matrix, vt: Matrix) throws -> Double {
        let product = splitsProducts ? try Matrix.productInHalves(us, vt) : try Matrix.product(us, vt)
        let approximation = try LayerSpectrum.transform(product, metric)
        return relativeDistance(approximation, transformed)
    }
}

/// ‖a − b‖²_F and ‖b‖²_F, the differences taken in float32 and the sums in Double.
func squaredDistance(_ a: Matrix, _ b: Matrix) -> (difference: Double, norm: Double) {
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(a.values, b.values) {
        difference += Double(x - y) * Double(x - y)
        norm += Double(y) * Double(y)
    }
    return (difference, norm)
}

/// ‖a − b‖_F / ‖b‖_F (0 when b is 0), from ``squaredDistance(_:_:)``.
func relativeDistance(_ a: Matrix, _ b: Matrix) -> Double {
    let (difference, norm) = squaredDistance(a, b)
    return norm > 0 ? (difference / norm).squareRoot() : 0
}
