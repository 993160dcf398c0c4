import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMVerify

extension LRM.Convert {
    /// Rank search for an accuracy or size budget: calibration and validation from the training
    /// split, every dense layer's spectrum computed once, candidates scored on validation, and the
    /// result verified on the test split.
    func search(_ model: Model, options: ConversionOptions) throws -> (ConversionResult, String) {
        var options = options
        let (calibrationSet, validationSet) = try dataOptions.trainingSubsets()
        if options.metric != .plain { options.calibration = try dataOptions.calibrate(model, on: calibrationSet) }
        var spectra: [String: LayerSpectrum] = [:]
        for layer in model.layers {
            guard case .dense = layer.operation, options.policy(forLayer: layer.name) != nil else { continue }
            spectra[layer.name] = try Converter.spectrum(of: layer, policy: .effectiveRank, options: options)
        }
        let layout = dataOptions.layout(for: model)
        let validation = try EvaluationSet(validationSet, layout: layout)
        let referenceCorrect = try validation.correctness(of: model)
        let baseline = Double(referenceCorrect.filter { $0 }.count) / Double(max(1, referenceCorrect.count))
        let policyName = targetAccuracyDrop != nil ? "target-accuracy-drop" : "target-ratio"
        let parameter = targetAccuracyDrop ?? targetRatio ?? 0
        var search = RankSearch(model: model, spectra: spectra, options: options, policyName: policyName, policyParameter: parameter) {
            let (accuracy, error) = try validation.pairedAccuracy(of: $0, reference: referenceCorrect)
            return ValidationScore(accuracy: accuracy, standardError: error)
        }
        search.confidence = confidence
        let found = try targetAccuracyDrop.map { try search.targetAccuracy(baseline: baseline, maxDrop: $0 / 100) }
            ?? search.targetRatio(targetRatio ?? 1, baseline: baseline)
        var result = try search.buildWithDecisions(found.best.ranks)
        result.model.metadata[MetadataKey.conversionPolicy] = .string(policyName)
        result.model.metadata[MetadataKey.conversionParameter] = .float(parameter)
        result.model.metadata[MetadataKey.conversionFactorDType] = .string(options.factorDType.name)
        result.model.metadata[MetadataKey.conversionMetric] = .string(options.metric.name)
        if let source = options.calibration?.source {
            result.model.metadata[MetadataKey.calibrationDataset] = .string(source.dataset)
            result.model.metadata[MetadataKey.calibrationSplit] = .string(source.split)
            result.model.metadata[MetadataKey.calibrationCount] = .int(Int64(source.count))
            result.model.metadata[MetadataKey.calibrationSeed] = .int(Int64(bitPattern: source.seed))
        }
        // The reported numbers: the test split, never seen by the search.
        let test = try dataOptions.open(.test)
        let verified = try Verifier.verify(candidate: result.model, reference: model, dataset: test, thresholds: VerificationThresholds(),
                                           layout: layout)
        let reference = verified.reference!, candidate = verified.candidate
        let drop = (reference.accuracy - candidate.accuracy) * 100
        var lines = [
            "",
            "search (\(options.metric.name) spectra, \(found.evaluations.count) candidates on \(Format.count(validation.sampleCount)) validation samples, the \(dataOptions.validation == "last" ? "last" : "seeded random") records of the training split):",
            String(format: "  validation accuracy %.2f%% → %.2f%% (standard error of the drop %.2f pp; accepted when drop + %.1f SE ≤ budget), hidden-parameter fraction %.3f, energy threshold %.6f",
                   baseline * 100, found.best.validationAccuracy * 100, found.best.standardError * 100, confidence,
                   found.best.hiddenFraction, found.threshold),
            String(format: "  test accuracy %.2f%% → %.2f%% (%+.2f pp, %d of %d images), macro-F1 %.2f%% → %.2f%%",
                   reference.accuracy * 100, candidate.accuracy * 100, -drop, candidate.confusion.correct - reference.confusion.correct,
                   candidate.sampleCount, reference.macroF1 * 100, candidate.macroF1 * 100),
        ]
        if let limit = targetAccuracyDrop, drop > limit {
            lines.append(String(format: "  note: on the test split the drop (%.2f pp) exceeds the %.2f pp budget met on validation", drop, limit))
        }
        return (result, lines.joined(separator: "\n"))
    }
}
