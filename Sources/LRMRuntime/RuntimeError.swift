public import LRMFormat

/// Why a model could not be prepared or run.
public typealias RuntimeError = KindedError<RuntimeErrorKind>

/// The kinds of ``RuntimeError``.
public enum RuntimeErrorKind: String, Sendable {
    /// The input does not have the model's input shape.
    case inputShape = "input_shape"
    /// A layer or tensor is not usable (e.g. non-finite weights when those are refused).
    case invalidModel = "invalid_model"
    /// A size the model implies is over lrm's limits (one sample of more than 2²⁸ elements).
    case tooLarge = "too_large"
    /// A matrix product failed.
    case computation = "computation"
}
