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
            "search (\(metric) spectra, \(candidates) candidates on \(judgedOn) \(samplesDescription)):",
            String(format: "  validation accuracy %.2f%% → %.2f%% (standard error of the drop %.2f pp%@), hidden-parameter fraction %.3f, energy threshold %.6f",
                   validationBaseline * 100, validationAccuracy * 100, standardError * 100, acceptance("drop"), hiddenFraction, threshold),
            task == .binary
                ? String(format: "  test accuracy %.2f%% → %.2f%% (%+.2f pp, %d of %d samples), F1 %.2f%% → %.2f%%%@",
                         testReference * 100, testAccuracy * 100, 0 - drop, testImagesChange, testSamples, testReferenceF1 * 100, testF1 * 100,
                         binaryAUC)
                : String(format: "  test accuracy %.2f%% → %.2f%% (%+.2f pp, %d of %d \(testSampleNoun)), macro-F1 %.2f%% → %.2f%%",
                         testReference * 100, testAccuracy * 100, 0 - drop, testImagesChange, testSamples, testReferenceF1 * 100, testF1 * 100),
        ]
        lines.insert(contentsOf: estimateLines + confirmationLines, at: 2)
        if estimate == .testHalf { lines[lines.count - 1] += String(format: " (test samples %d–%d only)", testFirstSample, testFirstSample + testSamples - 1) }
        lines += storedFactorLines
        if let finetune { lines.append(finetune.text) }
        if let fileBytes, let storage {
            lines.append("  file \(Format.count(fileBytes)) bytes on disk, weights stored as \(storage)")
        }
        if let budget, drop > budget + 1e-9 {
            lines.append(String(format: "  note: on the test split the drop (%.2f pp) exceeds the %.2f pp budget met on validation", drop, budget))
        }
        return lines.joined(separator: "\n")
    }

    /// What a search of a `.lrm` whose layers were already factorized did with them, and what it measured against.
    var storedFactorLines: [String] {
        guard !storedFactorLayers.isEmpty else { return [] }
        let names = storedFactorLayers.prefix(3).joined(separator: ", ") + (storedFactorLayers.count > 3 ? ", …" : "")
        return ["  already factorized in the input (\(names)): searched in the plain metric on their stored factors' spectra, only truncated further "
                + "(never above their stored rank)" + (fileBytes != nil ? " and re-stored in the storage chosen" : "")
                + (storedFactorRefit ? ", not refitted (the layers searched from their kernels were)" : ", candidates not refitted")
                + "; \"original\" above is the input model, which the budget is measured against"]
    }

    /// "; accepted when drop + 1.0 SE ≤ budget" for a search with a budget; empty for one without (a ratio or size
    /// target), which has no confidence either.
    func acceptance(_ what: String) -> String {
        budget == nil ? "" : String(format: "; accepted when %@ + %.1f SE ≤ budget", what, confidence)
    }

    /// The confidence of a budgeted search; null for a ratio or size target, which has no budget to bound.
    var confidenceJSON: JSONValue { budget == nil ? .null : .number(confidence) }

    /// How many records candidates were judged on: "6,000", or "3,000 of the 6,000" with a confirmation split.
    var judgedOn: String {
        guard let confirmation else { return Format.count(validationSamples) }
        return "\(Format.count(confirmation.selectionSamples)) of the \(Format.count(confirmation.selectionSamples + confirmation.confirmationSamples))"
    }

    /// How the choice was confirmed on records it was not selected on.
    var confirmationLines: [String] {
        guard let confirmation else { return [] }
        let what = task == .regression ? "RMSE increase" : "drop"
        let selected = task == .regression
            ? String(format: "%+.2f%% ± %.2f%%", (confirmation.selectionBaseline - confirmation.selectionAccuracy) * 100, confirmation.selectionStandardError * 100)
            : String(format: "%.2f pp ± %.2f", (confirmation.selectionBaseline - confirmation.selectionAccuracy) * 100, confirmation.selectionStandardError * 100)
        var line = "  confirmation: selected on \(Format.count(confirmation.selectionSamples)) of the validation records (its choice: hidden-parameter fraction "
            + String(format: "%.3f, %@ %@ there)", confirmation.selectedHiddenFraction, what, selected)
            + ", re-judged on the other \(Format.count(confirmation.confirmationSamples)), which nothing was selected on; "
        if confirmation.keptOriginal {
            line += "the largest of the \(confirmation.pathLength) candidates it accepted already missed the budget there: the original is kept"
        } else if confirmation.stepsBack == 0 {
            line += "every candidate it accepted, its choice last, kept the budget there (\(confirmation.tests) re-judged; the validation figures above are the confirmation records')"
        } else {
            line += "re-judged from the largest of the \(confirmation.pathLength) candidates the search accepted until one missed the budget there "
                + "(\(confirmation.tests) re-judged), the result is \(confirmation.stepsBack) before the search's own choice "
                + "(the validation figures above are the confirmation records')"
        }
        if confirmation.fineTuneRejected { line += "; no fine-tuned candidate kept the budget there, so the result is not fine-tuned" }
        return [line]
    }

    var confirmationJSON: JSONValue {
        guard let confirmation else { return .null }
        return .object([
            ("selection_samples", .int(Int64(confirmation.selectionSamples))), ("confirmation_samples", .int(Int64(confirmation.confirmationSamples))),
            ("path_length", .int(Int64(confirmation.pathLength))), ("tests", .int(Int64(confirmation.tests))),
            ("steps_back", .int(Int64(confirmation.stepsBack))), ("kept_original", .bool(confirmation.keptOriginal)),
            ("fine_tune_rejected", .bool(confirmation.fineTuneRejected)),
            ("selected_hidden_fraction", .number(confirmation.selectedHiddenFraction)),
            ("selection_score_original", .number(confirmation.selectionBaseline)), ("selection_score", .number(confirmation.selectionAccuracy)),
            ("selection_drop_standard_error", .number(confirmation.selectionStandardError)),
        ])
    }

    /// What the candidates were judged on.
    var samplesDescription: String {
        let records = "the \(validationPlacement == .last ? "last" : "seeded random") records of the training split"
        switch estimate {
        case .heldOut: return "validation samples, \(records)"
        case .shifted: return "validation samples, \(records), each image shifted by up to 1 pixel"
        case .testHalf: return "samples, the first half of the test split (--estimate test-half)"
        }
    }

    /// Which estimate was used and why.
    var estimateLines: [String] {
        guard let exposure else {
            switch estimate {
            case .heldOut: return []
            case .shifted: return ["  estimate: validation records shifted by up to 1 pixel (--estimate shifted)"]
            case .testHalf: return ["  estimate: first half of the test split; the test figures below are the second half's, not selected on"]
            }
        }
        let evidence = String(format: "the original's loss on them %.4f vs %.4f on other training records, z = %.1f; accuracy %.2f%% vs %.2f%%",
                              exposure.validationLoss, exposure.trainingLoss, exposure.z, exposure.validationAccuracy * 100,
                              exposure.trainingAccuracy * 100)
        // Where the validation loss showed no gap: how tightly the original fits its training records.
        let fit = exposure.memorization.map { memorization in
            String(format: "; its overconfidence %+.4f on training records vs %+.4f on them shifted by up to 1 pixel (%.0f%% of its loss %.4f there), z = %.1f",
                   memorization.trainingGap, memorization.shiftedGap, 100 * memorization.shiftedGap / max(memorization.shiftedLoss, 1e-12),
                   memorization.shiftedLoss, memorization.z)
        } ?? ""
        // "Seen" is the cautious reading of "no measurable gap": say which it was, since a held-out split of a
        // few hundred records can fall short of the threshold although its loss is clearly higher.
        if exposure.looksSeen {
            let gap = exposure.validationLoss > exposure.trainingLoss
                ? String(format: "the original's loss on them is not measurably above other training records' (z = %.1f < %.0f)", exposure.z, ExposureCheck.threshold)
                : "the original does no better on other training records than on them"
            let unless = exposure.validationLoss > exposure.trainingLoss
                ? " If they were held out, --estimate held-out judges them as they are, and more --validation-samples make a gap measurable."
                : ""
            let then = estimate == .shifted
                ? "so candidates were judged on them shifted by up to 1 pixel, a proxy for unseen images" : estimateNote ?? ""
            let fits = exposure.memorization == nil ? "" : " and it fits its training records more tightly than shifted copies of them"
            return ["  estimate: the validation records may have been seen in training: \(gap)\(fits) (\(evidence)\(fit)); \(then).\(unless)"]
        }
        if let memorization = exposure.memorization, !memorization.fitsTrainingRecords {
            return ["  estimate: validation records as they are: the original does no better on them than on other training records (\(evidence)), "
                    + "but it does not fit its training records materially more tightly than unseen images either (\(fit.dropFirst(2))), so having seen them would not flatter the estimate"]
        }
        return ["  estimate: validation records as they are: they look held out from training (\(evidence))"]
    }

    var exposureJSON: JSONValue {
        guard let exposure else { return .null }
        return .object([
            ("looks_seen", .bool(exposure.looksSeen)), ("validation_loss", .number(exposure.validationLoss)),
            ("training_loss", .number(exposure.trainingLoss)), ("z", .number(exposure.z)), ("z_threshold", .number(ExposureCheck.threshold)),
            ("validation_accuracy_original", .number(exposure.validationAccuracy)), ("training_accuracy_original", .number(exposure.trainingAccuracy)),
        ] + (exposure.memorization.map { memorization in
            [("memorization", .object([
                ("fits_training_records", .bool(memorization.fitsTrainingRecords)),
                ("training_overconfidence", .number(memorization.trainingGap)),
                ("shifted_overconfidence", .number(memorization.shiftedGap)), ("shifted_loss", .number(memorization.shiftedLoss)),
                ("z", .number(memorization.z)), ("material_share", .number(MemorizationCheck.materialShare)),
            ]))]
        } ?? []))
    }

    /// ", ROC AUC a → b" for a binary task.
    private var binaryAUC: String {
        guard case .binary(let c)? = testScores, case .binary(let r)? = testReferenceScores, let a = r.rocAUC, let b = c.rocAUC else { return "" }
        return String(format: ", ROC AUC %.4f → %.4f", a, b)
    }

    private var regressionText: String {
        var lines = [
            "",
            "search (\(metric) spectra, \(candidates) candidates on \(judgedOn) validation samples, the \(validationPlacement == .last ? "last" : "seeded random") records of the training split):",
            String(format: "  validation RMSE %+.2f%% of the original's (standard error %.2f%%%@), hidden-parameter fraction %.3f, energy threshold %.6f",
                   (1 - validationAccuracy) * 100, standardError * 100, acceptance("increase"), hiddenFraction, threshold),
        ]
        lines.insert(contentsOf: confirmationLines, at: 2)
        lines += storedFactorLines
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
                ("overflowing_candidates", .int(Int64(overflowingCandidates))),
                ("validation_samples", .int(Int64(validationSamples))), ("validation_placement", .string(validationPlacement.rawValue)),
                ("validation_score_original", .number(validationBaseline)), ("validation_score", .number(validationAccuracy)),
                ("validation_drop_standard_error", .number(standardError)), ("confidence", confidenceJSON),
                ("hidden_fraction", .number(hiddenFraction)), ("energy_threshold", .number(threshold)),
                ("test_samples", .int(Int64(testSamples))),
            ]
            if let testReferenceScores { members.append(("test_original", testReferenceScores.json)) }
            if let testScores { members.append(("test", testScores.json)) }
            if let fileBytes { members.append(("file_bytes", .int(Int64(fileBytes)))) }
            if let storage { members.append(("storage", .string(storage))) }
            if let finetune { members.append(("finetune", finetune.json)) }
            members.append(("confirmation", confirmationJSON))
            members.append(("stored_factor_layers", .array(storedFactorLayers.map { .string($0) })))
            members.append(("kept_as_stored", .bool(keptAsStored)))
            if !sizeCandidates.isEmpty { members.append(("size_candidates", sizeCandidatesJSON)) }
            return .object(members)
        }
        var members: [(String, JSONValue)] = [
            ("estimate", .string(estimate.rawValue)), ("exposure", exposureJSON), ("test_first_sample", .int(Int64(testFirstSample))),
            ("metric", .string(metric)), ("candidates", .int(Int64(candidates))),
            ("overflowing_candidates", .int(Int64(overflowingCandidates))),
            ("validation_samples", .int(Int64(validationSamples))), ("validation_placement", .string(validationPlacement.rawValue)),
            ("validation_accuracy_original", .number(validationBaseline)), ("validation_accuracy", .number(validationAccuracy)),
            ("validation_drop_standard_error", .number(standardError)), ("confidence", confidenceJSON),
            ("hidden_fraction", .number(hiddenFraction)), ("energy_threshold", .number(threshold)),
            ("test_samples", .int(Int64(testSamples))), ("test_accuracy_original", .number(testReference)),
            ("test_accuracy", .number(testAccuracy)), ("test_images_change", .int(Int64(testImagesChange))),
            ("test_f1_macro_original", .number(testReferenceF1)), ("test_f1_macro", .number(testF1)),
        ]
        if let fileBytes { members.append(("file_bytes", .int(Int64(fileBytes)))) }
        if let storage { members.append(("storage", .string(storage))) }
        if let finetune { members.append(("finetune", finetune.json)) }
        members.append(("confirmation", confirmationJSON))
        members.append(("stored_factor_layers", .array(storedFactorLayers.map { .string($0) })))
        members.append(("kept_as_stored", .bool(keptAsStored)))
        if !sizeCandidates.isEmpty { members.append(("size_candidates", sizeCandidatesJSON)) }
        return .object(members)
    }

    /// A size search's candidates, in order: storage, bytes, ranks and validation score (accuracy, or a binary or regression
    /// task's score, as `validation_score` above); a candidate whose outputs overflowed has a null score and `overflowed`
    /// true (the null alone did not say why).
    private var sizeCandidatesJSON: JSONValue {
        .array(sizeCandidates.map { candidate in
            let overflowed = candidate.score?.overflowed == true
            return JSONValue.object([
                ("storage", .string(candidate.storage.description)), ("bytes", .int(Int64(candidate.bytes))),
                ("ranks", .object(candidate.ranks.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.int(Int64($0.value))) })),
                ("validation_accuracy", candidate.score.flatMap { overflowed ? nil : JSONValue.number($0.accuracy) } ?? .null),
                ("validation_drop_standard_error", candidate.score.flatMap { overflowed ? nil : JSONValue.number($0.standardError) } ?? .null),
            ] + (overflowed ? [("overflowed", .bool(true))] : []))
        })
    }
}

/// The text and JSON forms of a fine-tuning.
extension FineTuneSummary {
    var text: String {
        let kept = epochs.indices.contains(bestEpoch) ? epochs[bestEpoch] : epochs.last
        return String(format: "  fine-tuned %d candidate%@; the kept one: %d epoch%@ run, epoch %d kept (early stopping on %d held-out training records), their accuracy %.2f%% → %.2f%% (agreement %.2f%%), %.1f s",
                      candidates, candidates == 1 ? "" : "s", epochs.count - 1, epochs.count == 2 ? "" : "s", bestEpoch, earlyStoppingSamples,
                      validationAccuracyBefore * 100, (kept?.validationAccuracy ?? 0) * 100, (kept?.validationAgreement ?? 0) * 100,
                      epochs.last?.seconds ?? 0)
    }

    var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("candidates", .int(Int64(candidates))), ("best_epoch", .int(Int64(bestEpoch))),
            ("training_samples", .int(Int64(trainingSamples))), ("early_stopping_samples", .int(Int64(earlyStoppingSamples))),
            ("schedule", .string(schedule.rawValue)), ("patience", .int(Int64(patience))),
            ("augmentation", augmentation.isNone ? .null : .string(augmentation.description)),
            ("epochs", .array(epochs.map { epoch in
                .object([("epoch", .int(Int64(epoch.epoch))), ("loss", .number(epoch.loss)),
                         ("validation_accuracy", .number(epoch.validationAccuracy)),
                         ("validation_agreement", .number(epoch.validationAgreement)), ("seconds", .number(epoch.seconds))])
            })),
        ]
        if !tried.isEmpty {
            members.append(("tried", .array(tried.map(\.json))))
        }
        return .object(members)
    }
}

extension FineTuneTrial {
    /// A `search.finetune.tried` entry. A score whose outputs overflowed is null with `selection_overflowed`
    /// (`confirmation_overflowed`) true beside it, as a size candidate's is with `overflowed`: the null alone did not say
    /// why (a null confirmation score is also one the confirmation did not reach).
    var json: JSONValue {
        func flag(_ value: Bool?) -> JSONValue { value.map { JSONValue.bool($0) } ?? .null }
        let trial = self, (selection, confirmation) = (trial.selectionOverflowed, trial.confirmationOverflowed)
        let confirmationScore: JSONValue = confirmation ? .null : trial.confirmationAccuracy.map { JSONValue.number($0) } ?? .null
        var entry: [(String, JSONValue)] = [
            ("hidden_fraction", .number(trial.hiddenFraction)),
            ("ranks", .object(trial.ranks.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.int(Int64($0.value))) })),
            ("epochs_run", .int(Int64(trial.epochsRun))), ("best_epoch", .int(Int64(trial.bestEpoch))),
            ("early_stopping_accuracy", .number(trial.earlyStoppingAccuracy)),
            ("selection_accuracy", selection ? .null : .number(trial.selectionAccuracy)),
            ("selection_drop_standard_error", selection ? .null : .number(trial.selectionStandardError)),
        ]
        if selection { entry.append(("selection_overflowed", .bool(true))) }
        entry += [("selection_within_budget", flag(trial.selectionWithinBudget)), ("in_sequence", .bool(trial.inSequence)),
                  ("confirmation_accuracy", confirmationScore)]
        if confirmation { entry.append(("confirmation_overflowed", .bool(true))) }
        entry.append(("confirmation_within_budget", flag(trial.confirmationWithinBudget)))
        return JSONValue.object(entry)
    }
}
