import Foundation
import LRMFormat
import LRMPipeline

/// The text and JSON forms of what a rank search found.
extension SearchOutcome {
    var text: String {
        let drop = (testReference - testAccuracy) * 100
        var lines = [
            "",
            "search (\(metric) spectra, \(candidates) candidates on \(Format.count(validationSamples)) validation samples, the \(validationPlacement == .last ? "last" : "seeded random") records of the training split):",
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
            ("validation_samples", .int(Int64(validationSamples))), ("validation_placement", .string(validationPlacement.rawValue)),
            ("validation_accuracy_original", .number(validationBaseline)), ("validation_accuracy", .number(validationAccuracy)),
            ("validation_drop_standard_error", .number(standardError)), ("confidence", .number(confidence)),
            ("hidden_fraction", .number(hiddenFraction)), ("energy_threshold", .number(threshold)),
            ("test_samples", .int(Int64(testSamples))), ("test_accuracy_original", .number(testReference)),
            ("test_accuracy", .number(testAccuracy)), ("test_images_change", .int(Int64(testImagesChange))),
            ("test_f1_macro_original", .number(testReferenceF1)), ("test_f1_macro", .number(testF1)),
        ])
    }
}
