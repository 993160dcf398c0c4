public import LRMFormat
import Foundation

/// What a model predicts, which decides how it is scored.
public enum TaskKind: String, Sendable, CaseIterable {
    /// One of several classes (argmax of the outputs): accuracy, F1, confusion matrix.
    case multiclass
    /// Yes or no from one output (a sigmoid probability): accuracy at a threshold, ROC AUC, F1.
    case binary
    /// Numbers: mean absolute error, root mean squared error, R².
    case regression

    /// The task a model and its labels imply, unless `given`:
    /// - more than one output: `multiclass`;
    /// - one output ending in a sigmoid: `binary`;
    /// - one output, other labels than 0 and 1: `regression`;
    /// - one output without a sigmoid and labels all 0 or 1 (logits, or a regressor of 0/1 targets) is
    ///   ambiguous: `VerificationError.ambiguousTask`, asking for `--task`.
    ///
    /// - Throws: `VerificationError` `.ambiguousTask`, or `.taskMismatch` when `given` cannot fit the model
    ///   or the labels (binary or multiclass labels that are not whole numbers in range: the first such label is
    ///   named). `model` is how the messages name the model (a caller's `the model my.lrm`).
    public static func resolve(given: TaskKind?, outputCount: Int, outputActivation: Activation?, labels: some Collection<Double>,
                               model: String = "the model") throws -> TaskKind {
        let zeroOne = labels.allSatisfy { $0 == 0 || $0 == 1 }
        func found(_ fits: (Double) -> Bool) -> String {
            labels.first { !fits($0) }.map { "found \(String(format: "%g", $0))" } ?? "found other values"
        }
        let kind: TaskKind
        if let given {
            kind = given
        } else if outputCount > 1 {
            kind = .multiclass
        } else if outputActivation == .sigmoid {
            kind = .binary
        } else if !zeroOne {
            kind = .regression
        } else {
            throw VerificationError(.ambiguousTask, "\(model) has one output without a sigmoid and the labels are all 0 or 1: "
                                    + "give --task binary (outputs thresholded with --threshold) or --task regression")
        }
        switch kind {
        case .binary:
            guard outputCount == 1 else {
                throw VerificationError(.taskMismatch, "a binary task needs a model with one output; \(model) has \(outputCount)")
            }
            guard zeroOne else { throw VerificationError(.taskMismatch, "a binary task needs labels 0 and 1; \(found { $0 == 0 || $0 == 1 })") }
        case .multiclass:
            let inRange = { (label: Double) in label == label.rounded() && label >= 0 && label < Double(outputCount) }
            guard labels.allSatisfy(inRange) else {
                throw VerificationError(.taskMismatch, "a multi-class task needs labels 0 to \(outputCount - 1) (one per output of \(model)); "
                                        + found(inRange))
            }
        case .regression:
            break
        }
        return kind
    }
}

extension Model {
    /// The activation that produces the model's outputs: that of the last layer with one, looking past
    /// flatten and reshape; linear after a scale-shift; nil when no layer has one.
    public var outputActivation: Activation? { TaskKind.outputActivation(of: layers) }
}

extension ModelDescription {
    /// The same as ``Model/outputActivation`` from a file's header (a mapped model's), no tensor read.
    public var outputActivation: Activation? { TaskKind.outputActivation(of: layers) }
}

extension TaskKind {
    /// The activation that produces the outputs of `layers` (``Model/outputActivation``).
    static func outputActivation<T>(of layers: [Layer<T>]) -> Activation? {
        var index = layers.count - 1
        while index >= 0 {
            switch layers[index].operation {
            case .dense(_, _, let activation), .factorizedDense(_, _, _, let activation, _), .activation(let activation),
                 .conv2D(_, _, let activation, _), .factorizedConv2D(_, _, _, let activation, _, _, _), .depthwiseConv2D(_, _, let activation, _),
                 .merge(_, _, let activation), .conv2DTranspose(_, _, let activation, _):
                return activation
            case .scaleShift, .pool2D, .globalPool2D, .layerNorm:
                return .linear
            case .parametricActivation:
                // (1.5) A ReLU, ELU or PReLU with parameters: unbounded outputs, not probabilities.
                return .linear
            case .flatten, .reshape, .pad2D, .crop2D, .permute, .store, .upsample2D:
                index -= 1
            case .load(let slot):
                // (1.4) The loaded samples are those the last earlier store of the slot kept: look on from there.
                let store = layers[..<index].lastIndex { if case .store(slot) = $0.operation { true } else { false } }
                guard let store else { return nil }
                index = store - 1
            }
        }
        return nil
    }
}
