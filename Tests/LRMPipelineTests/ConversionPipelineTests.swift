import LRMCompress
import LRMFormat
import Testing
@testable import LRMPipeline

@Suite("Conversion pipeline")
struct ConversionPipelineTests {
    /// A 32 → 24 → 5 MLP whose dense kernels are seeded random numbers.
    func model() -> Model {
        var rng = SeededGenerator(seed: 7)
        let k1 = (0..<(32 * 24)).map { _ in rng.nextSymmetricFloat() }
        let k2 = (0..<(24 * 5)).map { _ in rng.nextSymmetricFloat() }
        return Model(name: "p", input: InputSpec(shape: [32]), layers: [
            Layer(name: "h", operation: .dense(kernel: Tensor(shape: [32, 24], floats: k1), bias: nil, activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [24, 5], floats: k2), bias: nil, activation: .softmax)),
        ])
    }

    @Test func policyConversionIsTheConverterPlusTheWriter() throws {
        let options = ConversionOptions(policy: .rank(4), seed: 99, parallelLayers: 1)
        let result = try ConversionPipeline.run(model(), request: ConversionRequest(options: options, writer: "test 1"))
        let direct = try Converter.convert(model(), options: options)
        #expect(result.decisions.map(\.rank) == direct.decisions.map(\.rank))
        #expect(result.model.layers.map(\.operation.kindName) == direct.model.layers.map(\.operation.kindName))
        var expected = direct.model.metadata
        expected[MetadataKey.writer] = .string("test 1")
        #expect(result.model.metadata == expected)
        #expect(result.provenance.seed == 99)
        #expect(result.search == nil)
    }

    @Test func provenanceWritesEveryConversionKey() {
        var metadata: [String: MetadataValue] = [:]
        let source = CalibrationSource(dataset: "mnist", split: "train", count: 10, seed: 3)
        ConversionProvenance(policy: "target-ratio", parameter: 0.2, factorDType: .float16, seed: 5, metric: .whitened(ridge: 1e-6),
                             calibration: source, writer: "w").record(in: &metadata)
        #expect(metadata[MetadataKey.conversionPolicy] == .string("target-ratio"))
        #expect(metadata[MetadataKey.conversionParameter] == .float(0.2))
        #expect(metadata[MetadataKey.conversionFactorDType] == .string("f16"))
        #expect(metadata[MetadataKey.conversionSeed] == .int(5))
        #expect(metadata[MetadataKey.conversionMetric] == .string("whitened"))
        #expect(metadata[MetadataKey.calibrationDataset] == .string("mnist"))
        #expect(metadata[MetadataKey.calibrationCount] == .int(10))
        #expect(metadata[MetadataKey.calibrationSeed] == .int(3))
        #expect(metadata[MetadataKey.calibrationRidge] == .float(1e-6))
        #expect(metadata[MetadataKey.calibrationAlpha] == nil)
        #expect(metadata[MetadataKey.writer] == .string("w"))
    }

    @Test func aSearchWithoutADataSetIsABadRequest() {
        let request = ConversionRequest(target: .accuracyDrop(1))
        #expect(request.needsData)
        #expect {
            try ConversionPipeline.run(model(), request: request)
        } throws: { error in
            (error as? PipelineError)?.kind == .badRequest
        }
    }

    @Test("a rank search with nothing to search (every hidden layer excluded, or none) is a bad request, said before any data is read")
    func emptySearchRefused() throws {
        // Own data that do not exist: a search that got as far as its data would fail on them instead.
        var data = DataSelection()
        data.ownData = OwnDataSource(inputs: "/nonexistent/lrm-x.npy", labels: "/nonexistent/lrm-y.npy")
        var excluded = ConversionOptions(policy: .energy(0.9))
        excluded.overrides = [.init(pattern: NamePattern("h"), policy: nil)]
        let onlyOutput = Model(name: "o", input: InputSpec(shape: [24]), layers: [model().layers[1]])
        for target in [ConversionTarget.accuracyDrop(1), .metricDrop(2), .ratio(0.5)] {
            for (source, options, why) in [(model(), excluded, "the exclusions match every one of them (h)"),
                                           (onlyOutput, ConversionOptions(policy: .energy(0.9)), "the model has none")] {
                var request = ConversionRequest(options: options, target: target, data: data)
                request.finetune = FineTuneOptions(epochs: 1)
                for entry in ["run", "search"] {
                    #expect {
                        _ = entry == "run" ? try ConversionPipeline.run(source, request: request) : try ConversionPipeline.search(source, request: request)
                    } throws: { error in
                        guard let error = error as? PipelineError else { return false }
                        return error.kind == .badRequest && error.message.contains("nothing to search") && error.message.contains(why)
                            && error.message.contains("hidden dense layers")
                    }
                }
            }
        }
        // Not refused: a search with a layer left, which reaches its (missing) data; and a size search, which still
        // chooses the excluded layers' storage.
        for target in [ConversionTarget.ratio(0.5), .size(4000)] {
            let options = target == .size(4000) ? excluded : ConversionOptions(policy: .energy(0.9))
            #expect { _ = try ConversionPipeline.run(model(), request: ConversionRequest(options: options, target: target, data: data)) }
                throws: { error in !"\(error)".contains("nothing to search") }
        }
        #expect(ConversionPipeline.nothingToSearch(model(), target: .policy, options: excluded) == nil)
    }
}
