/// Why a conversion was refused.
public struct ConversionError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The layer's weights hold NaN or ±∞.
        case nonFiniteWeights = "non_finite_weights"
        /// The factors do not reproduce the truncation error Eckart–Young predicts.
        case eckartYoung = "eckart_young"
        /// The decomposition failed.
        case decomposition = "decomposition"
        /// The calibration data reaching the layer cannot be used (values too large for float32 statistics): the
        /// data is at fault, not the model.
        case calibrationData = "calibration_data"
        /// XᵀX + λI stayed singular however far λ grew: too small a ridge (`--ridge`) for the calibration records
        /// (fewer than the layer's inputs, XᵀX is singular and only λ makes it positive definite).
        case notPositiveDefinite = "not_positive_definite"
    }

    public var kind: Kind
    public var layer: String
    public var message: String

    public var description: String { "layer '\(layer)': \(message)" }
}

extension ConversionError {
    /// XᵀX + λI (`inputs` × `inputs`, from `rows` calibration rows) is not positive definite even with `lambda`, the ridge
    /// `ridge` times the mean of its diagonal grown tenfold 6 times: what to do, in the one line.
    static func notPositiveDefinite(layer: String, what: String, lambda: Double, ridge: Double, inputs: Int, rows: Int,
                                    advice: String = "give a larger --ridge or more calibration samples (--calibration-samples)") -> ConversionError {
        let seen = rows < inputs ? ", and only \(rows) calibration rows reach the layer's \(inputs) inputs (XᵀX is singular: only λ can make it positive definite)" : ""
        return ConversionError(kind: .notPositiveDefinite, layer: layer,
                               message: "\(what) is not positive definite even with λ = \(String(format: "%.3g", lambda)) (the ridge "
                               + "\(String(format: "%g", ridge)) times the mean of XᵀX's diagonal, grown tenfold 6 times)\(seen): "
                               + advice)
    }
}
