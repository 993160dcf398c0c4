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
    }

    public var kind: Kind
    public var layer: String
    public var message: String

    public var description: String { "layer '\(layer)': \(message)" }
}
