import Foundation
import LRMFormat
import LRMPipeline
import LRMVerify

/// The text and JSON forms of what a rank search found.
extension SearchOutcome {
    var text: String {
        if task == .regression { return regressionText }
        let drop = (testReference - testAccuracy) * 100
        var lines = [
            "",
            "search (\(metric) spectra, \(candidates) candidates on \(Format.count(validationSamples)) validation samples, the \(validationPlacement == .last ? "last" : "seeded random") records of the training split):",
            String(format: "  validation accuracy %.2f%% → %.2f%% (standard error of the drop %.2f pp; accepted when drop + %.1f SE ≤ budget), hidden-parameter fraction %.3f, energy threshold %.6f",
                   validationBaseline * 100, validationAccuracy * 100, standardError * 100, confidence, hiddenFraction, threshold),
            task == .binary
                ? String(format: "  test accuracy %.2f%% → %.2f%% (%+.2f pp, %d of %d samples), F1 %.2f%% → %.2f%%%@",
                         testReference * 100, testAccuracy * 100, -drop, testImagesChange, testSamples, testReferenceF1 * 100, testF1 * 100,
                         binaryAUC)
                : String(format: "  test accuracy %.2f%% → %.2f%% (%+.2f pp, %d of %d images), macro-F1 %.2f%% → %.2f%%",
                         testReference * 100, testAccuracy * 100, -drop, testImagesChange, testSamples, testReferenceF1 * 100, testF1 * 100),
        ]
        if let fileBytes, let storage {
            lines.append("  file \(Format.count(fileBytes)) bytes on disk, weights stored as \(storage)")
        }
        if let budget, drop > budget {
            lines.append(String(format: "  note: on the test split the drop (%.2f pp) exceeds the %.2f pp budget met on validation", drop, budget))
        }
        return lines.joined(separator: "\n")
    }

    /// ", ROC AUC a → b" for a binary task.
    private var binaryAUC: String {
        guard case .binary(let c)? = testScores, case .binary(let r)? = testReferenceScores, let a = r.rocAUC, let b = c.rocAUC else { return "" }
        return String(format: ", ROC AUC %.4f → %.4f", a, b)
    }

    private var regressionText: String {
        var lines = [
            "",
            "search (\(metric) spectra, \(candidates) candidates on \(Format.count(validationSamples)) validation samples, the \(validationPlacement == .last ? "last" : "seeded random") records of the training split):",
            String(format: "  validation RMSE %+.2f%% of the original's (standard error %.2f%%; accepted when increase + %.1f SE ≤ budget), hidden-parameter fraction %.3f, energy threshold %.6f",
                   (1 - validationAccuracy) * 100, standardError * 100, confidence, hiddenFraction, threshold),
        ]
        if case .regression(let c)? = testScores, case .regression(let r)? = testReferenceScores {
            let increase = TaskVerifier.relativeIncrease(c.rootMeanSquaredError, over: r.rootMeanSquaredError) * 100
            lines.append(String(format: "  test (%d samples): RMSE %.6g → %.6g (%+.2f%%), MAE %.6g → %.6g, R² %@ → %@",
                                testSamples, r.rootMeanSquaredError, c.rootMeanSquaredError, increase, r.meanAbsoluteError, c.meanAbsoluteError,
                                r.r2.map { String(format: "%.4f", $0) } ?? "n/a", c.r2.map { String(format: "%.4f", $0) } ?? "n/a"))
            if let budget, increase > budget {
                lines.append(String(format: "  note: on the test split the RMSE increase (%.2f%%) exceeds the %.2f%% budget met on validation", increase, budget))
            }
        }
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        if task != .multiclass {
            var members: [(String, JSONValue)] = [
                ("task", .string(task.rawValue)), ("metric", .string(metric)), ("candidates", .int(Int64(candidates))),
                ("validation_samples", .int(Int64(validationSamples))), ("validation_placement", .string(validationPlacement.rawValue)),
                ("validation_score_original", .number(validationBaseline)), ("validation_score", .number(validationAccuracy)),
                ("validation_drop_standard_error", .number(standardError)), ("confidence", .number(confidence)),
                ("hidden_fraction", .number(hiddenFraction)), ("energy_threshold", .number(threshold)),
                ("test_samples", .int(Int64(testSamples))),
            ]
            if let testReferenceScores { members.append(("test_original", testReferenceScores.json)) }
            if let testScores { members.append(("test", testScores.json)) }
            return .object(members)
        }
        return .object([
            ("metric", .string(metric)), ("candidates", .int(Int64(candidates))),
            ("validation_samples", .int(Int64(validationSamples))), ("validation_placement", .string(validationPlacement.rawValue)),
            ("validation_accuracy_original", .number(validationBaseline)), ("validation_accuracy", .number(validationAccuracy)),
            ("validation_drop_standard_error", .number(standardError)), ("confidence", .number(confidence)),
            ("hidden_fraction", .number(hiddenFraction)), ("energy_threshold", .number(threshold)),
            ("test_samples", .int(Int64(testSamples))), ("test_accuracy_original", .number(testReference)),
            ("test_accuracy", .number(testAccuracy)), ("test_images_change", .int(Int64(testImagesChange))),
            ("test_f1_macro_original", .number(testReferenceF1)), ("test_f1_macro", .number(testF1)),
        ] + (fileBytes.map { [("file_bytes", JSONValue.int(Int64($0)))] } ?? []) + (storage.map { [("storage", JSONValue.string($0))] } ?? []))
    }
}
