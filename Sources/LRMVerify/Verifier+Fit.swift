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
    ///   - data: the data set's name (`mnist`); `sampleShape` its samples' stored shape.
    public static func checkFits(model: String, inputShape: [Int], outputShape: () throws -> [Int], data: String, sampleShape: [Int],
                                 classCount: Int) throws {
        let inputs = inputShape.reduce(1, *), values = sampleShape.reduce(1, *)
        guard inputs == values else {
            throw VerificationError(.inputMismatch, "\(model) takes \(inputs) values per sample (shape \(inputShape)); "
                                    + "\(data) samples have \(values) (\(sampleShape.map(String.init).joined(separator: "×")))")
        }
        let outputs = try outputShape().reduce(1, *)
        guard outputs == classCount else {
            throw VerificationError(.outputMismatch, "\(model) has \(outputs) output\(outputs == 1 ? "" : "s"); \(data) has \(classCount) classes")
        }
    }
}
