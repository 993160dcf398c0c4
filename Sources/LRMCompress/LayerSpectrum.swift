import Foundation
public import LRMFormat
public import LRMLinearAlgebra

/// One dense kernel W (in × out) and its singular value decomposition, computed once so that
/// several rank choices can be tried on it (convert, sweep).
public struct LayerSpectrum: Sendable {
    public let name: String
    public let kernel: Matrix
    /// The decomposition: all min(in, out) triplets (exact) or the leading ones (randomized).
    public let svd: SVD
    /// ‖W‖²_F, exact.
    public let totalEnergy: Double
    /// Whether `svd` holds every singular value.
    public let isComplete: Bool
    /// "gesdd-f32", "gesdd-f64" or "randomized".
    public let method: String
    public let seconds: Double

    public var inFeatures: Int { kernel.rows }
    public var outFeatures: Int { kernel.columns }
    public var singularValues: [Double] { svd.s }

    /// Energy denominator: Σσ² when every σ is known (so energy + tail = 1 exactly), else ‖W‖²_F.
    var energyDenominator: Double { isComplete ? Spectrum.energy(svd.s) : totalEnergy }

    /// Decomposes `kernel` for `policy`: exact, or randomized (when allowed and worthwhile),
    /// growing the sketch until the policy's threshold is met with exact energy accounting.
    public static func compute(name: String, kernel: Matrix, policy: RankPolicy, options: ConversionOptions) throws -> LayerSpectrum {
        let start = DispatchTime.now().uptimeNanoseconds
        let elapsed = { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let total = kernel.values.reduce(0.0) { $0 + Double($1) * Double($1) }
        let full = min(kernel.rows, kernel.columns)
        let randomizedAllowed = !policy.needsFullSpectrum && (options.svdMethod == .randomized
            || (options.svdMethod == .auto && full >= options.randomizedThreshold))
        if randomizedAllowed {
            var sketch: Int
            switch policy {
            case .rank, .ratio:
                sketch = policy.chooseRank(singularValues: [], totalEnergy: total, inFeatures: kernel.rows, outFeatures: kernel.columns)
            default:
                sketch = max(32, full / 16)
            }
            while sketch <= full / 2 {
                let svd = try SVD.randomized(kernel, rank: sketch, seed: options.seed)
                let candidate = LayerSpectrum(name: name, kernel: kernel, svd: svd, totalEnergy: total, isComplete: false,
                                              method: "randomized", seconds: elapsed())
                let rank = policy.chooseRank(singularValues: svd.s, totalEnergy: total, inFeatures: kernel.rows, outFeatures: kernel.columns)
                let reached = Spectrum.smallestRank(keepingEnergy: candidate.thresholdEnergy(policy) ?? 0, singularValues: svd.s, totalEnergy: total) != nil
                if rank <= svd.rank && reached { return candidate }
                sketch *= 2
            }
        }
        let svd = try SVD.compute(kernel, precision: options.precision)
        return LayerSpectrum(name: name, kernel: kernel, svd: svd, totalEnergy: total, isComplete: true,
                             method: options.precision == .single ? "gesdd-f32" : "gesdd-f64", seconds: elapsed())
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
        policy.chooseRank(singularValues: svd.s, totalEnergy: energyDenominator, inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// Σᵢ≤ₖ σᵢ² over the energy denominator.
    public func retainedEnergy(rank: Int) -> Double {
        1 - tailFraction(rank: rank)
    }

    /// Squared relative Frobenius error of the rank-k truncation.
    public func tailFraction(rank: Int) -> Double {
        Spectrum.tailEnergyFraction(rank: rank, singularValues: svd.s, totalEnergy: energyDenominator, complete: isComplete)
    }

    /// The factors U_k·Σ_k (in × k) and V_kᵀ (k × out).
    public func factors(rank: Int) throws -> (us: Matrix, vt: Matrix) {
        let truncated = try svd.truncated(to: rank)
        return (try truncated.u.scalingColumns(by: truncated.s.map { Float($0) }), truncated.vt)
    }
}
