import Foundation

/// lrm's one deterministic random number generator (SplitMix64): the same seed gives the same
/// sequence on every platform and run, so examples, tests, benchmarks, randomized SVD and
/// conversions are reproducible. Not for cryptography.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    private var spareGaussian: Float?

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Float in [-1, 1).
    public mutating func nextSymmetricFloat() -> Float {
        Float(next() >> 40) * 0x1p-23 - 1
    }

    /// A standard normal sample (mean 0, variance 1), by the Box–Muller transform in `Double`;
    /// the second value of each pair is kept for the next call.
    public mutating func nextGaussian() -> Float {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        // u1 in (0, 1] so that log(u1) is finite; 53 random bits each.
        let u1 = Double((next() >> 11) + 1) / 9_007_199_254_740_992.0
        let u2 = Double(next() >> 11) / 9_007_199_254_740_992.0
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareGaussian = Float(radius * sin(angle))
        return Float(radius * cos(angle))
    }
}
