import Foundation
import LRMFormat

/// How a layer's rank k is chosen from its singular values σ₁ ≥ σ₂ ≥ … (recorded in the file
/// as `policy` and `policy_parameter`).
public enum RankPolicy: Sendable, Equatable, CustomStringConvertible {
    /// ARSVD (arXiv 2504.20078, first version): the smallest k with Σᵢ≤ₖ σᵢ² / Σ σᵢ² ≥ τ.
    case energy(Double)
    /// ARSVD's later version: pᵢ = σᵢ / Σ σⱼ, H = −Σ pᵢ ln pᵢ; the smallest k whose partial
    /// entropy −Σᵢ≤ₖ pᵢ ln pᵢ reaches τ·H.
    case entropy(Double)
    /// Effective rank (Roy & Vetterli): k = ⌈exp(H)⌉ with H as for `entropy`.
    case effectiveRank
    /// At most relative Frobenius error ε: the same as energy 1 − ε².
    case error(Double)
    /// A fixed rank k (clamped to min(in, out)).
    case rank(Int)
    /// Keep a fraction r of the layer's kernel parameters: the largest k with k·(in + out) ≤ r·in·out (at least 1).
    case ratio(Double)

    /// The name recorded in files and shown in reports.
    public var name: String {
        switch self {
        case .energy: "energy"
        case .entropy: "entropy"
        case .effectiveRank: "erank"
        case .error: "error"
        case .rank: "rank"
        case .ratio: "ratio"
        }
    }

    /// The parameter recorded with the name (0 for erank).
    public var parameter: Double {
        switch self {
        case .energy(let tau), .entropy(let tau): tau
        case .effectiveRank: 0
        case .error(let epsilon): epsilon
        case .rank(let k): Double(k)
        case .ratio(let r): r
        }
    }

    public var description: String {
        switch self {
        case .effectiveRank: "erank"
        case .rank(let k): "rank \(k)"
        default: "\(name) \(parameter)"
        }
    }

    /// Whether the policy needs every singular value (so a randomized SVD will not do).
    public var needsFullSpectrum: Bool {
        switch self {
        case .entropy, .effectiveRank: true
        default: false
        }
    }

    /// Parses `energy:0.95`, `energy=0.95`, `entropy:0.9`, `erank`, `error:0.1`, `rank:64`, `ratio:0.25`.
    public init(parsing text: String) throws {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "=" }).map(String.init)
        let name = parts.first?.lowercased() ?? ""
        func number() throws -> Double {
            guard parts.count == 2, let value = Double(parts[1]), value.isFinite else {
                throw PolicyError("policy '\(text)' needs a number, e.g. \(name):\(name == "rank" ? "64" : "0.95")")
            }
            return value
        }
        func unitInterval(_ value: Double, open: Bool) throws -> Double {
            guard value > 0, open ? value < 1 : value <= 1 else {
                throw PolicyError("policy '\(text)': the parameter must be in \(open ? "(0, 1)" : "(0, 1]"), found \(value)")
            }
            return value
        }
        switch name {
        case "energy": self = .energy(try unitInterval(try number(), open: false))
        case "entropy": self = .entropy(try unitInterval(try number(), open: false))
        case "erank":
            guard parts.count == 1 else { throw PolicyError("policy 'erank' takes no parameter") }
            self = .effectiveRank
        case "error": self = .error(try unitInterval(try number(), open: true))
        case "rank":
            let value = try number()
            guard value >= 1, value == value.rounded(), value <= Double(Int32.max) else {
                throw PolicyError("policy '\(text)': the rank must be a whole number ≥ 1")
            }
            self = .rank(Int(value))
        case "ratio": self = .ratio(try unitInterval(try number(), open: false))
        default:
            throw PolicyError("unknown policy '\(text)'; expected energy:τ, entropy:τ, erank, error:ε, rank:k or ratio:r", kind: .unknownPolicy)
        }
    }

    /// The rank this policy chooses for a layer of `inFeatures` × `outFeatures` whose known
    /// singular values are `singularValues` (descending) and whose total energy is
    /// `totalEnergy` = ‖W‖²_F (exact even when only the leading σ are known). The result is in
    /// 1…min(in, out); for energy and error it may be limited by how many σ are known.
    public func chooseRank(singularValues: [Double], totalEnergy: Double, inFeatures: Int, outFeatures: Int) -> Int {
        let full = min(inFeatures, outFeatures)
        let known = singularValues.count
        switch self {
        case .energy(let tau):
            return Spectrum.smallestRank(keepingEnergy: tau, singularValues: singularValues, totalEnergy: totalEnergy) ?? max(1, known)
        case .error(let epsilon):
            return Spectrum.smallestRank(keepingEnergy: 1 - epsilon * epsilon, singularValues: singularValues,
                                         totalEnergy: totalEnergy) ?? max(1, known)
        case .entropy(let tau):
            return Spectrum.smallestRank(keepingEntropy: tau, singularValues: singularValues)
        case .effectiveRank:
            return min(full, max(1, Int(exp(Spectrum.entropy(singularValues)).rounded(.up))))
        case .rank(let k):
            return min(full, max(1, k))
        case .ratio(let r):
            return FactorizationCost(inFeatures: inFeatures, outFeatures: outFeatures).rank(keepingFraction: r)
        }
    }
}

/// A bad policy specification.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    /// What is wrong: a name no policy has, or a known policy with a bad or missing parameter.
    public enum Kind: String, Sendable {
        case unknownPolicy = "unknown_policy"
        case invalidParameter = "invalid_parameter"
    }

    public var kind: Kind
    public var description: String
    public init(_ description: String, kind: Kind = .invalidParameter) {
        self.kind = kind
        self.description = description
    }
}
