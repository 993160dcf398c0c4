import ArgumentParser

/// The ranges of convert's numeric options, checked as a bad command line (exit 64) before anything runs:
/// a NaN or an extreme value would otherwise pass silently (`--confidence nan` compared false everywhere and
/// kept every layer dense) or surface later as an invalid-input error (`--alpha 1e308` overflowed the
/// activation scales).
enum ConvertOptionRanges {
    /// The whitening ridge λ (relative to the mean diagonal of XᵀX): (0, 1000].
    static let ridge: ClosedRange<Double> = .leastNonzeroMagnitude...1000
    /// ASVD's exponent α of the activation scales (mean |x|)^α: (0, 4]; the ASVD paper uses 0.5 and searches up to 1.
    static let alpha: ClosedRange<Double> = .leastNonzeroMagnitude...4
    /// Standard errors added to a candidate's validation drop in the search: [0, 10].
    static let confidence: ClosedRange<Double> = 0...10

    /// The share of the validation records that confirm a search's choice: [0, 0.9].
    static let confirmFraction: ClosedRange<Double> = 0...0.9

    static func check(ridge: Double, alpha: Double, confidence: Double, confirmFraction: Double = 0) throws {
        for (flag, value, range, text) in [("--ridge", ridge, Self.ridge, "a positive number, at most 1000"),
                                           ("--alpha", alpha, Self.alpha, "a positive number, at most 4"),
                                           ("--confidence", confidence, Self.confidence, "a number from 0 to 10"),
                                           ("--confirm-fraction", confirmFraction, Self.confirmFraction, "a fraction from 0 to 0.9")]
            where !range.contains(value) {
            throw ValidationError("\(flag) must be \(text), found \(value)")
        }
    }
}
