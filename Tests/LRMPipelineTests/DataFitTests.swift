import LRMDatasets
import LRMFormat
import LRMVerify
import Testing
@testable import LRMPipeline

/// Whether a data set's samples fit a model is one check (`Verifier.checkFits`): convert makes it from the model's
/// shapes before reading any data (`DataSelection.checkFits`), verify on the data it was given.
@Suite("Data that do not fit a model")
struct DataFitTests {
    /// [28, 28] → flatten → `inputs` × 3 softmax: MNIST's samples fit it with `inputs` 784, its 10 classes never.
    func model(inputs: Int) -> Model {
        Model(name: "m", input: InputSpec(shape: inputs == 784 ? [28, 28] : [inputs]), layers: [
            Layer(name: "flat", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [inputs, 3], floats: [Float](repeating: 0.1, count: inputs * 3)),
                                                 bias: nil, activation: .softmax)),
        ])
    }

    @Test("convert's check before the data and verify's on the data count inputs and outputs alike and say it alike")
    func oneDefinition() throws {
        let selection = DataSelection(dataset: .mnist)
        // A data set of MNIST's shape and classes, in memory.
        let data = try Dataset(arrays: [Float](repeating: 0, count: 2 * 784), sampleShape: [28, 28], labels: [0, 1],
                               classNames: (0..<10).map(String.init), split: .test, description: "two samples")
        for (inputs, said) in [(784, "has 3 outputs; "), (20, "takes 20 values per sample (shape [20]); ")] {
            let model = model(inputs: inputs)
            #expect { try selection.checkFits(model, path: "m.lrm") } throws: {
                let error = $0 as? PipelineError
                return error?.kind == .dataInvalid && error?.message == "m.lrm: the model " + said + (inputs == 784 ? "mnist has 10 classes" : "mnist samples have 784 (28×28)")
            }
            #expect { try Verifier.verify(candidate: model, reference: nil, dataset: data, thresholds: VerificationThresholds()) } throws: {
                let error = $0 as? VerificationError
                return error?.kind == (inputs == 784 ? .outputMismatch : .inputMismatch)
                    && error?.message == "the model 'm' " + said + (inputs == 784 ? "own data has 10 classes" : "own data samples have 784 (28×28)")
            }
        }
    }

    @Test("verify's binary and regression scoring and a search's in-memory samples make the same check and say it alike, each task's outputs counted")
    func everyTask() throws {
        let images = [Float](repeating: 0, count: 2 * 784)
        let classes = try Dataset(arrays: images, sampleShape: [28, 28], labels: [0, 1], classNames: (0..<10).map(String.init), split: .test,
                                  description: "two samples")
        let binary = try Dataset(arrays: images, sampleShape: [28, 28], labels: [0, 1], classNames: ["0", "1"], split: .test, description: "two samples")
        let targets = try Dataset(arrays: images, sampleShape: [28, 28], labels: [-1, -1], classNames: [], targets: [0, 1, 2, 3], targetWidth: 2,
                                  split: .test, description: "two samples")
        let input = "the model 'm' takes 20 values per sample (shape [20]); own data samples have 784 (28×28)"
        /// The error `body` throws is `kind` with `message`.
        func expectError(_ kind: VerificationError.Kind, _ message: String, _ body: () throws -> Void) {
            #expect(throws: VerificationError.self) { try body() }
            do { try body() } catch let error as VerificationError {
                #expect(error.kind == kind && error.message == message, "\(error.kind): \(error.message)")
            } catch {
                Issue.record("\(error)")
            }
        }
        for (task, data, outputs) in [(TaskKind.binary, binary, "own data is a binary task, scored on 1 output"),
                                      (.regression, targets, "own data has 2 targets per sample")] {
            let thresholds = TaskThresholds()
            expectError(.inputMismatch, input) { _ = try TaskVerifier.verify(candidate: model(inputs: 20), reference: nil, dataset: data, task: task, thresholds: thresholds) }
            expectError(.outputMismatch, "the model 'm' has 3 outputs; " + outputs) {
                _ = try TaskVerifier.verify(candidate: model(inputs: 784), reference: nil, dataset: data, task: task, thresholds: thresholds)
            }
            let set = try EvaluationSet(data, layout: .features, task: task)
            expectError(.inputMismatch, input) { _ = try set.outputs(of: model(inputs: 20)) }
            expectError(.outputMismatch, "the model 'm' has 3 outputs; " + outputs) { _ = try set.outputs(of: model(inputs: 784)) }
        }
        let set = try EvaluationSet(classes, layout: .features)
        expectError(.inputMismatch, input) { _ = try set.outputs(of: model(inputs: 20)) }
        expectError(.outputMismatch, "the model 'm' has 3 outputs; own data has 10 classes") { _ = try set.outputs(of: model(inputs: 784)) }
        // A part of the set names the data as the set does.
        expectError(.inputMismatch, input) { _ = try set.slice(0..<1).outputs(of: model(inputs: 20)) }
    }
}
