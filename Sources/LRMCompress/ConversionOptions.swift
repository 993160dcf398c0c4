public import LRMFormat
public import LRMLinearAlgebra

/// What `Converter` does: the rank policy, per-layer overrides, rounding, storage and SVD method.
public struct ConversionOptions: Sendable {
    /// A per-layer rule: layers whose name matches `pattern` use `policy`, or stay dense if nil.
    public struct Override: Sendable, Equatable {
        public var pattern: NamePattern
        public var policy: RankPolicy?
        public init(pattern: NamePattern, policy: RankPolicy?) {
            self.pattern = pattern
            self.policy = policy
        }
    }

    /// How singular values are computed.
    public enum SVDMethod: String, Sendable, CaseIterable {
        /// LAPACK's `gesdd` for layers with min(in, out) below `gramThreshold`, the Gram matrix's
        /// eigendecomposition in double precision from there, and randomized for large layers
        /// (min(in, out) ≥ `randomizedThreshold`) when the policy does not need the full spectrum.
        case auto
        /// Always LAPACK's `gesdd`.
        case exact
        /// Always the eigendecomposition of the Gram matrix in double precision (exact up to its
        /// stated accuracy; see `GramDecomposition`).
        case gram
        /// Randomized range finder whenever the policy allows.
        case randomized
    }

    /// Which truncation metric to use; the data-aware ones need `calibration`.
    public enum MetricChoice: Sendable, Equatable {
        case plain
        /// Ridge λ relative to the mean diagonal of XᵀX (λ = ridge · mean XᵀXⱼⱼ).
        case whitened(ridge: Double)
        /// Exponent α of the ASVD scales (mean |xⱼ|)^α.
        case activationScaled(alpha: Double)

        public var name: String {
            switch self {
            case .plain: "plain"
            case .whitened: "whitened"
            case .activationScaled: "activation-scaled"
            }
        }
    }

    /// How convolution kernels are factorized (`spec/FORMAT.md` section 3.5).
    public enum ConvolutionForm: String, Sendable, CaseIterable {
        /// Per layer, the form that stores fewer parameters at the rank its policy chooses.
        case auto
        /// (kh·kw·cin) × cout: a kh×kw convolution with k filters, then a 1×1 convolution.
        case channel
        /// (cin·kh) × (kw·cout): a kh×1 convolution with k filters, then a 1×kw convolution.
        case spatial
        /// Convolutions are kept as they are.
        case none
    }

    public var policy: RankPolicy
    public var metric: MetricChoice = .plain
    /// Which form convolutions are factorized in (`.none`: they are kept).
    public var convolutions: ConvolutionForm = .auto
    /// Input statistics of the original model's dense layers, for the data-aware metrics.
    public var calibration: CalibrationStatistics?
    /// An exclusion (an override without a policy) that matches wins; otherwise the first match wins.
    public var overrides: [Override]
    /// Round every chosen rank up to a multiple of this (1: no rounding), capped at min(in, out).
    public var rankMultiple: Int
    /// Storage dtype of U·Σ and Vᵀ (a float dtype; see `quantization` for integer codes).
    public var factorDType: DType
    /// Store U·Σ and Vᵀ as integer codes with scales (format 1.2) instead of `factorDType`.
    public var quantization: QuantizationOptions?
    /// Also store the kernels of layers that stay dense in `factorDType` (as codes with `quantization`).
    public var quantizeDenseKernels = false
    /// Re-store already factorized layers (a `.lrm` input) that keep their rank in `factorDType` (or as codes with
    /// `quantization`) when they are stored otherwise; false keeps them exactly as they are (`lrm convert` sets it
    /// when `--factor-dtype` is given).
    public var restoreFactorizedLayers = false
    /// LAPACK precision of the exact SVD.
    public var precision: Precision
    public var svdMethod: SVDMethod
    /// Layers with min(in, out) at least this use the randomized SVD under `.auto`.
    public var randomizedThreshold: Int
    /// Layers with min(in, out) at least this use the Gram eigendecomposition under `.auto` where
    /// the decomposition is exact: about half `gesdd`'s work from there (`lrm-bench svd`). Below it,
    /// `gesdd` as before, so the samples' files do not change.
    public var gramThreshold: Int
    /// Seed of the randomized SVD.
    public var seed: UInt64
    /// Layers factorized at once (1: one at a time).
    public var parallelLayers: Int

    public init(policy: RankPolicy = .energy(0.95), overrides: [Override] = [], rankMultiple: Int = 1,
                factorDType: DType = .float32, precision: Precision = .single, svdMethod: SVDMethod = .auto,
                randomizedThreshold: Int = 2048, gramThreshold: Int = 1024, seed: UInt64 = 0x5EED,
                parallelLayers: Int = 2) {
        self.policy = policy
        self.overrides = overrides
        self.rankMultiple = rankMultiple
        self.factorDType = factorDType
        self.precision = precision
        self.svdMethod = svdMethod
        self.randomizedThreshold = randomizedThreshold
        self.gramThreshold = gramThreshold
        self.seed = seed
        self.parallelLayers = parallelLayers
    }

    /// The policy for layer `name`, or nil if it is excluded. An exclusion beats any policy override,
    /// whatever their order (`--exclude dense_3 --layer 'dense_*=rank:8'` keeps `dense_3` dense).
    public func policy(forLayer name: String) -> RankPolicy? {
        let matching = overrides.filter { $0.pattern.matches(name) }
        if matching.contains(where: { $0.policy == nil }) { return nil }
        return matching.first?.policy ?? policy
    }
}
