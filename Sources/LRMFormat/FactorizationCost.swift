/// What a dense in × out kernel costs, kept dense or stored as rank-k factors U·Σ (in × k) and
/// Vᵀ (k × out): parameters, bytes, multiply-accumulates per sample, and the rules built on them
/// (a factorization pays only when k·(in + out) < in·out; ranks are rounded up to a multiple and
/// capped at min(in, out)). Every part of lrm that counts or decides asks this type.
///
/// Arithmetic is checked: a count that does not fit in `Int` saturates at `Int.max` instead of
/// wrapping or trapping, so a shape no machine could hold never "pays" and never crashes.
public struct FactorizationCost: Sendable, Equatable {
    public let inFeatures: Int
    public let outFeatures: Int

    public init(inFeatures: Int, outFeatures: Int) {
        self.inFeatures = max(0, inFeatures)
        self.outFeatures = max(0, outFeatures)
    }

    /// min(in, out): the largest rank a factorization can have.
    public var fullRank: Int { min(inFeatures, outFeatures) }

    /// in·out, the dense kernel's parameters (and multiply-accumulates per sample).
    public var denseParameters: Int { Self.product(inFeatures, outFeatures) }

    /// k·(in + out), the two factors' parameters (and multiply-accumulates per sample).
    public func factorParameters(rank: Int) -> Int { Self.product(max(0, rank), Self.sum(inFeatures, outFeatures)) }

    /// Whether storing rank `rank` is smaller than the dense kernel: k·(in + out) < in·out.
    public func pays(rank: Int) -> Bool {
        let factors = factorParameters(rank: rank), dense = denseParameters
        return factors < dense && dense != Int.max
    }

    /// The largest rank that pays (0 when none does): ⌊(in·out − 1) / (in + out)⌋.
    public var breakEvenRank: Int {
        let width = Self.sum(inFeatures, outFeatures)
        guard width > 0, denseParameters > 0 else { return 0 }
        return (denseParameters - 1) / width
    }

    /// Kernel parameters stored at rank `rank`: the factors when they pay, else the dense kernel.
    public func storedParameters(rank: Int?) -> Int {
        guard let rank, pays(rank: rank) else { return denseParameters }
        return factorParameters(rank: rank)
    }

    /// Bytes of the stored kernel (factors or dense) in `dtype`.
    public func bytes(rank: Int?, dtype: DType) -> Int { Self.product(storedParameters(rank: rank), dtype.byteCount) }

    /// Multiply-accumulates per sample of the stored kernel: k·(in + out) factorized, in·out dense.
    public func multiplyAccumulates(rank: Int?) -> Int { storedParameters(rank: rank) }

    /// `chosen` rounded up to a multiple of `multiple` (values below 1 mean no rounding), at least 1
    /// and at most min(in, out).
    public func roundedRank(_ chosen: Int, multiple: Int) -> Int {
        let step = max(1, multiple)
        let (up, overflow) = max(chosen, 0).addingReportingOverflow(step - 1)
        let rounded = overflow ? fullRank : up / step * step
        return min(fullRank, max(1, rounded))
    }

    /// The largest rank keeping at most a fraction `fraction` of the dense parameters (at least 1,
    /// at most min(in, out)): ⌊r·in·out / (in + out)⌋.
    public func rank(keepingFraction fraction: Double) -> Int {
        let budget = fraction * Double(inFeatures) * Double(outFeatures) / Double(inFeatures + outFeatures)
        guard budget.isFinite, budget < Double(Int.max) else { return max(1, fullRank) }
        return min(fullRank, max(1, Int(budget.rounded(.down))))
    }

    static func product(_ a: Int, _ b: Int) -> Int {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max : value
    }

    static func sum(_ a: Int, _ b: Int) -> Int {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : value
    }
}

extension Factorization {
    /// The cost rules for this layer's shape.
    public var cost: FactorizationCost { FactorizationCost(inFeatures: inFeatures, outFeatures: outFeatures) }
}
