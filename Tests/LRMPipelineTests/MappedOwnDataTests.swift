import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMKeras
import LRMRuntime
import LRMVerify
import Testing
@testable import LRMPipeline

/// `lrm verify` with the user's own data maps its models (issue 14): the data are split from the header alone
/// (`OwnDataSource.splits(for: MappedModel)`) and the models run in place (`TaskVerifier.verify` with mapped
/// runners). On the real tabular samples, converted and written to `.lrm` files, the mapped path must give
/// the report the loaded path gives, to the last digit.
@Suite("Own data on mapped models: the same splits and report as on loaded ones")
struct MappedOwnDataTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path + "/"

    /// A folder removed when the test ends.
    final class Folder {
        let path = NSTemporaryDirectory() + "lrm-mapped-own-\(UUID().uuidString)"
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// The report's JSON without its timing, and its JUnit without the times.
    func comparable(_ report: TaskReport) -> (String, String) {
        var json = report.json()
        if case .object(let members) = json { json = .object(members.filter { $0.0 != "seconds" }) }
        var copy = report
        copy.seconds = 0
        return (json.serialized(indent: 2), copy.junit())
    }

    /// Every sample's values, label and targets, batch by batch.
    func contents(_ data: Dataset) throws -> [[Float]] {
        var rows: [[Float]] = []
        try data.forEachBatch(size: 97, layout: .features) { batch in
            rows.append(batch.pixels)
            rows.append(batch.labels.map(Float.init))
            rows.append(batch.targets)
        }
        return rows
    }

    func check(_ sample: String, _ source: OwnDataSource, task: TaskKind, thresholds: TaskThresholds) throws {
        let folder = try Folder()
        let original = try KerasImporter.loadModel(path: Self.root + "samples/\(sample).h5")
        // A fixed rank factorizes the hidden layers (the output layer of one unit stays dense): the table of layers
        // compares factorized and dense ones.
        let converted = try Converter.convert(original, options: ConversionOptions(policy: .rank(8))).model
        let referencePath = folder.path + "/original.lrm", candidatePath = folder.path + "/candidate.lrm"
        try ContainerWriter.write(original, to: referencePath, durable: false)
        try ContainerWriter.write(converted, to: candidatePath, durable: false)
        let mapped = MappedModel(try ContainerFile(path: candidatePath))
        let mappedReference = MappedModel(try ContainerFile(path: referencePath))
        let loaded = try mapped.loadModel(), loadedReference = try mappedReference.loadModel()

        let loadedSplits = try source.splits(for: loaded)
        let mappedSplits = try source.splits(for: mapped)
        #expect(mappedSplits.task == task && loadedSplits.task == task)
        #expect(mappedSplits.threshold == loadedSplits.threshold)
        for (a, b) in [(mappedSplits.train, loadedSplits.train), (mappedSplits.test, loadedSplits.test)] {
            #expect(a.description == b.description && a.sampleCount == b.sampleCount && a.classNames == b.classNames)
            #expect(try contents(a) == contents(b))
        }

        let loadedReport = try TaskVerifier.verify(candidate: loaded, reference: loadedReference, dataset: loadedSplits.test, task: task,
                                                   threshold: loadedSplits.threshold, thresholds: thresholds, batchSize: 128)
        let layers = try LayerFidelity.compare(candidate: mapped, reference: mappedReference)
        #expect(layers.contains { $0.isFactorized } && layers.contains { !$0.isFactorized }, "\(layers.map(\.name))")
        // Page release after every use (the path of models over 64 MiB) and the default (small models keep their pages).
        for threshold in [0, InferenceModel.releaseThreshold] {
            let runner = try InferenceModel(mapped: mapped, releaseThreshold: threshold)
            let referenceRunner = try InferenceModel(mapped: mappedReference, releaseThreshold: threshold)
            #expect(runner.usesMappedWeights && referenceRunner.usesMappedWeights)
            let mappedReport = try TaskVerifier.verify(candidate: runner, reference: referenceRunner, layers: layers, dataset: mappedSplits.test,
                                                       task: task, threshold: mappedSplits.threshold, thresholds: thresholds, batchSize: 128)
            let (mappedJSON, mappedJUnit) = comparable(mappedReport), (loadedJSON, loadedJUnit) = comparable(loadedReport)
            #expect(mappedJSON == loadedJSON)
            #expect(mappedJUnit == loadedJUnit)
            #expect(mappedReport.passed == loadedReport.passed && mappedReport.result == loadedReport.result)
            #expect(!mappedReport.checks.isEmpty && mappedReport.sampleCount == mappedSplits.test.sampleCount)
        }
        // The thresholds that compare with a reference still need one.
        #expect(throws: VerificationError.self) {
            try TaskVerifier.verify(candidate: try InferenceModel(mapped: mapped), reference: nil, layers: [], dataset: mappedSplits.test,
                                    task: task, thresholds: thresholds)
        }
    }

    @Test("binary classifier on a CSV (churn): splits, metrics, agreement, layers and checks identical")
    func binary() throws {
        try check("churn_mlp", OwnDataSource(inputs: Self.root + "samples/churn.csv", labelColumn: "churned"), task: .binary,
                  thresholds: TaskThresholds(maxAccuracyDrop: 5, maxF1Drop: 5, minAgreement: 0.8, minEnergy: 0.1))
    }

    @Test("regressor on .npy files (housing): splits, RMSE, MAE, R², layers and checks identical")
    func regression() throws {
        try check("housing_mlp", OwnDataSource(inputs: Self.root + "samples/housing_x.npy", labels: Self.root + "samples/housing_y.npy"),
                  task: .regression, thresholds: TaskThresholds(minEnergy: 0.1, maxMetricDrop: 50))
    }

    @Test("the header's output activation is the loaded model's, looking past reshapes and after a scale-shift")
    func outputActivation() throws {
        for sample in ["churn_mlp", "housing_mlp", "mnist_mlp", "mnist_cnn"] {
            let folder = try Folder()
            let model = try KerasImporter.loadModel(path: Self.root + "samples/\(sample).h5")
            let path = folder.path + "/m.lrm"
            try ContainerWriter.write(model, to: path, durable: false)
            let header = try ContainerFile(path: path).header
            #expect(header.model.outputActivation == model.outputActivation, "\(sample)")
            #expect(try header.layerOutputShapes().last?.reduce(1, *) == InferenceModel(model).outputElementCount, "\(sample)")
        }
    }
}
