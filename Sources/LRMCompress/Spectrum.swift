import Foundation

/// Functions of a spectrum σ₁ ≥ σ₂ ≥ … ≥ 0.
public enum Spectrum {
    /// Σ σᵢ², summed in descending order of σ (Double).
    public static func energy(_ singularValues: [Double]) -> Double {
        singularValues.reduce(0) { $0 + $1 * $1 }
    }

    /// The smallest k with Σᵢ≤ₖ σᵢ² / total ≥ τ, or nil if the known values do not reach τ.
    /// A relative slack of 1e-12 absorbs rounding when τ = 1.
    public static func smallestRank(keepingEnergy tau: Double, singularValues: [Double], totalEnergy: Double) -> Int? {
        guard totalEnergy > 0 else { return 1 }
        var kept = 0.0
        for (index, sigma) in singularValues.enumerated() {
            kept += sigma * sigma
            if kept >= tau * totalEnergy * (1 - 1e-12) { return index + 1 }
        }
        return nil
    }

    /// Shannon entropy H = −Σ pᵢ ln pᵢ of pᵢ = σᵢ / Σ σⱼ (terms with pᵢ = 0 count 0).
    public static func entropy(_ singularValues: [Double]) -> Double {
        let total = singularValues.reduce(0, +)
        guard total > 0 else { return 0 }
        return singularValues.reduce(0) { sum, sigma in
            let p = sigma / total
            return p > 0 ? sum - p * log(p) : sum
        }
    }

    /// The smallest k whose partial entropy −Σᵢ≤ₖ pᵢ ln pᵢ reaches τ·H (at least 1).
    public static func smallestRank(keepingEntropy tau: Double, singularValues: [Double]) -> Int {
        let total = singularValues.reduce(0, +)
        guard total > 0, !singularValues.isEmpty else { return 1 }
        let target = tau * entropy(singularValues)
        var partial = 0.0
        for (index, sigma) in singularValues.enumerated() {
            let p = sigma / total
            if p > 0 { partial -= p * log(p) }
            if partial >= target * (1 - 1e-12) { return index + 1 }
        }
        return singularValues.count
    }

    /// Σᵢ₌ₖ₊₁ σᵢ² / total: the squared relative error of the best rank-k approximation. With
    /// every σ known (`complete`) the tail is summed directly, avoiding the cancellation of
    /// total − head; otherwise it is total − head, with total = ‖W‖²_F exact.
    public static func tailEnergyFraction(rank: Int, singularValues: [Double], totalEnergy: Double, complete: Bool) -> Double {
        guard totalEnergy > 0 else { return 0 }
        let tail = complete
            ? singularValues.dropFirst(rank).reduce(0) { $0 + $1 * $1 }
            : max(0, totalEnergy - singularValues.prefix(rank).reduce(0) { $0 + $1 * $1 })
        return min(1, tail / totalEnergy)
    }
}
