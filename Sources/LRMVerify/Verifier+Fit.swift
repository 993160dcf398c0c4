extension Verifier {
    /// Throws unless a model fits a classification data set: it takes as many values per sample as a sample holds
    /// (`.inputMismatch`), and it has an output per class (`.outputMismatch`). A model's outputs are the elements of
    /// one output sample (`outputShape`: `ContainerHeader.outputShape()` from a file's header, which a model prepared
    /// to run, `InferenceModel.outputShape`, has too), asked for once the input fits.
    ///
    /// The one definition of both counts and of what is said when they differ, for every command that runs a model
    /// on a bundled data set: `lrm convert`, `verify` and `sweep` check it from the model's shapes before any data is
    /// read (`DataSelection.checkFits`), and ``verify(candidate:reference:dataset:thresholds:layout:batchSize:progress:)``
    /// checks each model it is given.
    ///
    /// - Parameters:
    ///   - model: how the message names the model (`the model`, `the model 'mnist_mlp'`).
    ///   - data: the data set's name (`mnist`, `own data`); `sampleShape` its samples' stored shape.
    public static func checkFits(model: String, inputShape: [Int], outputShape: () throws -> [Int], data: String, sampleShape: [Int],
                                 classCount: Int) throws {
        try checkFits(model: model, inputShape: inputShape, outputShape: outputShape, data: data, sampleShape: sampleShape,
                      outputs: .classes(classCount))
    }

    /// The same for any task's data: a multi-class task's outputs are one per class, a binary task's one, a regression
    /// task's one per target (``ExpectedOutputs``). The one check of `lrm verify`'s binary and regression scoring
    /// (``TaskVerifier``) and of a search's in-memory samples (``EvaluationSet/outputs(of:)``) too.
    public static func checkFits(model: String, inputShape: [Int], outputShape: () throws -> [Int], data: String, sampleShape: [Int],
                                 outputs expected: ExpectedOutputs) throws {
        let inputs = inputShape.reduce(1, *), values = sampleShape.reduce(1, *)
        guard inputs == values else {
            throw VerificationError(.inputMismatch, "\(model) takes \(inputs) values per sample (shape \(inputShape)); "
                                    + "\(data) samples have \(values) (\(sampleShape.map(String.init).joined(separator: "×")))")
        }
        let outputs = try outputShape().reduce(1, *)
        guard outputs == expected.count else {
            throw VerificationError(.outputMismatch, "\(model) has \(outputs) output\(outputs == 1 ? "" : "s"); \(expected.phrase(data: data))")
        }
    }

    /// What a model's outputs must be for a task's data.
    public enum ExpectedOutputs: Sendable, Equatable {
        /// One per class (a multi-class task).
        case classes(Int)
        /// One, the positive class's score (a binary task).
        case binary
        /// One per target (a regression task).
        case targets(Int)

        /// The expectation for `task`'s data of `classCount` classes and `targetWidth` targets per sample.
        public init(task: TaskKind, classCount: Int, targetWidth: Int) {
            self = switch task {
            case .multiclass: .classes(classCount)
            case .binary: .binary
            case .regression: .targets(targetWidth)
            }
        }

        /// The number of outputs.
        public var count: Int {
            switch self {
            case .classes(let count), .targets(let count): count
            case .binary: 1
            }
        }

        /// What the message says of `data`: `mnist has 10 classes`.
        func phrase(data: String) -> String {
            switch self {
            case .classes(let count): "\(data) has \(count) classes"
            case .binary: "\(data) is a binary task, scored on 1 output"
            case .targets(let count): "\(data) has \(count) target\(count == 1 ? "" : "s") per sample"
            }
        }
    }
}
