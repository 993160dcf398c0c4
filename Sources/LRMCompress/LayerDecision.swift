public import LRMFormat

/// What the converter did with one layer, for the report.
public struct LayerDecision: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// Stored as U·Σ and Vᵀ of rank k.
        case factorized
        /// Kept dense because k·(in + out) ≥ in·out (factoring does not pay).
        case notWorthIt
        /// Excluded by an override.
        case excluded
        /// Not a dense layer (nor a convolution being factorized).
        case notApplicable
        /// Already factorized (a `.lrm` input) and kept at its stored rank: excluded, or its policy asks for at
        /// least as much.
        case keptFactorized
    }

    public var name: String
    public var kind: String
    public var outcome: Outcome
    public var inFeatures: Int?
    public var outFeatures: Int?
    /// The rank the policy chose (before rounding), and the rank stored (after rounding).
    public var policyRank: Int?
    public var rank: Int?
    public var policy: RankPolicy?
    /// Retained energy and relative error of the rank that was considered (k), whether or not stored.
    public var retainedEnergy: Double?
    public var relativeError: Double?
    public var parametersBefore: Int
    public var parametersAfter: Int
    public var method: String?
    public var seconds: Double
    /// Why the layer is as it is, in words.
    public var reason: String
    /// Bytes of the layer's tensors as stored (codes, scales, bias), when known.
    public var storedBytes: Int? = nil
    /// The storage dtype of its weights, when known.
    public var storage: DType? = nil
    /// For a layer of a `.lrm` input already factorized and truncated further by this conversion, the rank it was
    /// stored at (its method then ends in `+retruncated(r→k)`); nil for every other layer.
    public var truncatedFromRank: Int? = nil
    /// A word about a factorized layer the report prints below its table (its `reason` carries it too), e.g. that a
    /// convolution's factors stay in float where integer codes were asked for.
    public var note: String? = nil
    /// For a convolution kept whole because the factorization its policy chose (in its form) would store fewer parameters
    /// but cost more multiply-accumulates per sample: the whole layer's and the factorized one's (``ConvolutionCost``).
    public var costlierMultiplyAccumulates: (whole: Int, factorized: Int)? = nil

    /// Says that a factorized convolution keeps float factors in `dtype` where integer codes were asked for (the
    /// format has no integer convolution kind): sets ``note`` and appends it to ``reason``, once.
    package mutating func noteFloatConvolutionFactors(_ dtype: DType) {
        let text = "factors stored in \(dtype.name) (integer codes are for dense layers only)"
        guard note != text else { return }
        note = text
        reason += "; " + text
    }

    package init(name: String, kind: String, outcome: Outcome, inFeatures: Int? = nil, outFeatures: Int? = nil,
                 policyRank: Int? = nil, rank: Int? = nil, policy: RankPolicy? = nil, retainedEnergy: Double? = nil,
                 relativeError: Double? = nil, parametersBefore: Int, parametersAfter: Int, method: String? = nil,
                 seconds: Double, reason: String) {
        self.name = name
        self.kind = kind
        self.outcome = outcome
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.policyRank = policyRank
        self.rank = rank
        self.policy = policy
        self.retainedEnergy = retainedEnergy
        self.relativeError = relativeError
        self.parametersBefore = parametersBefore
        self.parametersAfter = parametersAfter
        self.method = method
        self.seconds = seconds
        self.reason = reason
    }
}
