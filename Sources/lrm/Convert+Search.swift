import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMVerify

extension LRM.Convert {
    /// Rank search for an accuracy or size budget: calibration and validation from the training
    /// split, every dense layer's spectrum computed once, candidates scored on validation, and the
    /// result verified on the test split.
    func search(_ model: Model, options: ConversionOptions) throws -> (ConversionResult, SearchSummary) {
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
        Converter.recordMetric(of: options, in: &result.model.metadata)
        // The reported numbers: the test split, never seen by the search.
        let test = try dataOptions.open(.test)
        let verified = try Verifier.verify(candidate: result.model, reference: model, dataset: test, thresholds: VerificationThresholds(),
                                           layout: layout)
        let reference = verified.reference!, candidate = verified.candidate
        let drop = (reference.accuracy - candidate.accuracy) * 100
        let summary = SearchSummary(metric: options.metric.name, candidates: found.evaluations.count,
                                    validationSamples: validation.sampleCount, validationPlacement: dataOptions.validation,
                                    validationBaseline: baseline, validationAccuracy: found.best.validationAccuracy,
                                    standardError: found.best.standardError, confidence: confidence,
                                    hiddenFraction: found.best.hiddenFraction, threshold: found.threshold,
                                    testSamples: candidate.sampleCount, testReference: reference.accuracy, testAccuracy: candidate.accuracy,
                                    testImagesChange: candidate.confusion.correct - reference.confusion.correct,
                                    testReferenceF1: reference.macroF1, testF1: candidate.macroF1, budget: targetAccuracyDrop)
        return (result, summary)
    }
}

/// What a rank search found, for the text and JSON reports.
struct SearchSummary {
    var metric: String
    var candidates: Int
    var validationSamples: Int
    var validationPlacement: String
    var validationBaseline: Double
    var validationAccuracy: Double
    var standardError: Double
    var confidence: Double
    var hiddenFraction: Double
    var threshold: Double
    var testSamples: Int
    var testReference: Double
    var testAccuracy: Double
    var testImagesChange: Int
    var testReferenceF1: Double
    var testF1: Double
    var budget: Double?

    var text: String {
        let drop = (testReference - testAccuracy) * 100
        var lines = [
            "",
            "search (\(metric) spectra, \(candidates) candidates on \(Format.count(validationSamples)) validation samples, the \(validationPlacement == "last" ? "last" : "seeded random") records of the training split):",
            String(format: "  validation accuracy %.2f%% → %.2f%% (standard error of the drop %.2f pp; accepted when drop + %.1f SE ≤ budget), hidden-parameter fraction %.3f, energy threshold %.6f",
                   validationBaseline * 100, validationAccuracy * 100, standardError * 100, confidence, hiddenFraction, threshold),
            String(format: "  test accuracy %.2f%% → %.2f%% (%+.2f pp, %d of %d images), macro-F1 %.2f%% → %.2f%%",
                   testReference * 100, testAccuracy * 100, -drop, testImagesChange, testSamples, testReferenceF1 * 100, testF1 * 100),
        ]
        if let budget, drop > budget {
            lines.append(String(format: "  note: on the test split the drop (%.2f pp) exceeds the %.2f pp budget met on validation", drop, budget))
        }
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        .object([
            ("metric", .string(metric)), ("candidates", .int(Int64(candidates))),
            ("validation_samples", .int(Int64(validationSamples))), ("validation_placement", .string(validationPlacement)),
            ("validation_accuracy_original", .number(validationBaseline)), ("validation_accuracy", .number(validationAccuracy)),
            ("validation_drop_standard_error", .number(standardError)), ("confidence", .number(confidence)),
            ("hidden_fraction", .number(hiddenFraction)), ("energy_threshold", .number(threshold)),
            ("test_samples", .int(Int64(testSamples))), ("test_accuracy_original", .number(testReference)),
            ("test_accuracy", .number(testAccuracy)), ("test_images_change", .int(Int64(testImagesChange))),
            ("test_f1_macro_original", .number(testReferenceF1)), ("test_f1_macro", .number(testF1)),
        ])
    }
}
