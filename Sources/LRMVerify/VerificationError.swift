public import LRMFormat

/// Why a verification could not be carried out (as opposed to a threshold being missed).
public typealias VerificationError = KindedError<VerificationErrorKind>

/// The kinds of ``VerificationError``.
public enum VerificationErrorKind: String, Sendable {
    /// The compressed and reference models do not correspond layer by layer.
    case layerMismatch = "layer_mismatch"
    /// The model's input does not fit the data set's samples.
    case inputMismatch = "input_mismatch"
    /// The model's output width is not the data set's class count.
    case outputMismatch = "output_mismatch"
    /// A threshold needs something that was not given (e.g. a reference model).
    case missingReference = "missing_reference"
    /// One output without a sigmoid and 0/1 labels: binary (logits) or regression cannot be told apart.
    case ambiguousTask = "ambiguous_task"
    /// The task given does not fit the model's outputs or the labels.
    case taskMismatch = "task_mismatch"
    /// A model's outputs are NaN or infinite though its inputs are finite: it overflows.
    case nonFiniteOutputs = "non_finite_outputs"
}
