import ArgumentParser
import Foundation
import LRMFormat
import LRMPipeline
import LRMVerify

/// What convert checks on the test split when it has data.
struct ConvertCheckOptions: ParsableArguments {
    @Option(help: ArgumentHelp("With data, for a classifier: exit 1 if accuracy on the test split drops by more than X percentage points (without it, more than 1 point is a warning). Refused without data and for a regressor.", valueName: "X"))
    var maxAccuracyDrop: Double?

    @Option(help: ArgumentHelp("With data, for a regressor: exit 1 if the test split's RMSE grows by more than X percent (without it, more than 5% is a warning). Refused without data and for a classifier (--dataset sets included).", valueName: "X"))
    var maxMetricDrop: Double?

    func validate() throws {
        if let maxAccuracyDrop, !(maxAccuracyDrop >= 0 && maxAccuracyDrop <= 100) { throw ValidationError("--max-accuracy-drop must be 0 to 100 points") }
        if let maxMetricDrop, !(maxMetricDrop >= 0 && maxMetricDrop.isFinite) { throw ValidationError("--max-metric-drop must be a finite number ≥ 0") }
    }

    /// The warning limits used when no limit is given.
    static let defaultAccuracyDrop = 1.0
    static let defaultMetricDrop = 5.0
}

/// The limit convert holds the test split's loss to (``LRM/Convert/testLimit(_:)``).
struct TestLimit {
    var option: String
    var value: Double
    /// Whether the option was given (else `value` is the default past which a warning is printed).
    var given: Bool
    var passed: Bool
}

extension TestEvaluation {
    var text: String {
        var line = range.map { "test split, samples \(Format.count($0.lowerBound))–\(Format.count($0.upperBound - 1)) (\(Format.count(samples)) samples, the half not selected on): " }
            ?? "test split (\(Format.count(samples)) samples, not used to convert): "
        if let referenceAccuracy, let accuracy {
            line += String(format: "accuracy %.2f%% → %.2f%% (%+.2f pp)", referenceAccuracy * 100, accuracy * 100, 0 - drop)
            // (0 − drop, not −drop: no change prints +0.00, not −0.00)
        } else if let referenceRMSE, let rmse {
            line += String(format: "RMSE %.6g → %.6g (%+.2f%%)", referenceRMSE, rmse, drop)
        }
        if let agreement { line += String(format: ", agreement %.2f%%", agreement * 100) }
        return line
    }

    var json: JSONValue {
        var members: [(String, JSONValue)] = [("task", .string(task.rawValue)), ("dataset", .string(dataset)), ("samples", .int(Int64(samples)))]
        if let referenceAccuracy { members.append(("accuracy_original", .number(referenceAccuracy))) }
        if let accuracy { members.append(("accuracy", .number(accuracy))) }
        if let agreement { members.append(("agreement", .number(agreement))) }
        if let referenceRMSE { members.append(("rmse_original", .number(referenceRMSE))) }
        if let rmse { members.append(("rmse", .number(rmse))) }
        if let range { members.append(("first_sample", .int(Int64(range.lowerBound)))) }
        members.append(("drop", .number(drop)))
        members.append(("drop_unit", .string(dropUnit)))
        return .object(members)
    }
}

extension LRM.Convert {
    /// The converted model against the original on the test split of `data` (the conversion's selection, own data
    /// already split), when there is data. A search has scored its result there already (for its `search.test_*`
    /// figures; after `--estimate test-half` only the second half, which it did not select on): that run is reported,
    /// not repeated. Else `original()` (loaded only then) and the result are run on the whole test split.
    func testEvaluation(_ result: PipelineResult, original: () throws -> Model, data: DataSelection,
                        progress: ProgressHandler? = nil) throws -> TestEvaluation? {
        guard dataOptions.hasData else { return nil }
        if let measured = result.search?.testEvaluation { return measured }
        return try ConversionPipeline.evaluateOnTest(result.model, original: try original(), data: data, progress: progress)
    }

    /// Refuses (exit 64) a test-split limit the conversion would not read: without data nothing is tested, and
    /// each limit belongs to one kind of task (bundled data sets are multi-class; own data's task is known
    /// once they are read, see ``refuseLimit(of:)``).
    func refuseUnusedLimits() throws {
        let given = [("--max-accuracy-drop", checks.maxAccuracyDrop != nil), ("--max-metric-drop", checks.maxMetricDrop != nil)]
        if !dataOptions.hasData, let flag = given.first(where: \.1)?.0 {
            throw ValidationError("\(flag) checks the converted model on a test split; this conversion has no data: give --dataset, or your own with --inputs")
        }
        if checks.maxMetricDrop != nil, let name = dataOptions.dataset {
            throw ValidationError("--max-metric-drop is for a regressor (percent of RMSE, on your own data); --dataset \(name.rawValue) is a classification data set: give --max-accuracy-drop")
        }
    }

    /// Refuses (exit 64) the limit of the other kind of task, once own data have said what the task is.
    func refuseLimit(of task: TaskKind) throws {
        if task == .regression, checks.maxAccuracyDrop != nil {
            throw CommandFailure(status: .usage, message: "\(input): a regression model has no accuracy: limit the test split's RMSE increase with --max-metric-drop (percent)")
        }
        if task != .regression, checks.maxMetricDrop != nil {
            throw CommandFailure(status: .usage, message: "\(input): --max-metric-drop is for a regressor; a \(task == .binary ? "binary " : "")classifier has --max-accuracy-drop")
        }
    }

    /// The limit the test split's loss is held to: the one given for the task (`--max-accuracy-drop`, or
    /// `--max-metric-drop` for a regressor), else the default past which a warning is printed.
    func testLimit(_ evaluation: TestEvaluation) -> TestLimit {
        let regression = evaluation.task == .regression
        let given = regression ? checks.maxMetricDrop : checks.maxAccuracyDrop
        let limit = given ?? (regression ? ConvertCheckOptions.defaultMetricDrop : ConvertCheckOptions.defaultAccuracyDrop)
        return TestLimit(option: regression ? "--max-metric-drop" : "--max-accuracy-drop", value: limit, given: given != nil,
                         passed: evaluation.drop <= limit + 1e-9)
    }

    /// `--json`'s `test`: the evaluation and its limit (`limit`: the option, its value, whether it was given, and
    /// whether the drop kept it: a given limit missed exits 1, the default one missed is a warning).
    func testJSON(_ evaluation: TestEvaluation) -> JSONValue {
        guard case .object(var members) = evaluation.json else { return evaluation.json }
        let limit = testLimit(evaluation)
        members.append(("limit", .object([("option", .string(limit.option)), ("value", .number(limit.value)), ("given", .bool(limit.given)),
                                          ("passed", .bool(limit.passed))])))
        return .object(members)
    }

    /// Checks the test-split loss against the limit: a limit given and missed exits 1 (after the report
    /// and the file, so both can be looked at); past the default limit it is a warning, with the search
    /// suggested when a plain policy made the model.
    func enforceLimit(_ evaluation: TestEvaluation?, searched: Bool) throws {
        guard let evaluation else { return }
        let regression = evaluation.task == .regression
        let check = testLimit(evaluation)
        let limit = check.value
        guard !check.passed else { return }
        let what = regression ? String(format: "the test split's RMSE grew %.2f%%", evaluation.drop)
            : String(format: "accuracy on the test split dropped %.2f pp", evaluation.drop)
        let unit = regression ? "%" : " pp"
        if check.given {
            // Named as errors are: the file converted (written, so that it can be looked at), else the input of a dry run.
            let file = destination ?? input
            printDiagnostic("check failed", "\(file): \(what), limit \(check.option) \(Format.fixed(limit, 2))\(unit)")
            throw ExitCode(ExitStatus.checkFailed.rawValue)
        }
        var message = "\(what), more than \(Format.fixed(limit, 2))\(unit)"
        if !searched {
            message += regression ? "; --target-metric-drop X searches for the smallest model within X% instead"
                : "; --target-accuracy-drop X searches for the smallest model within X points instead"
        }
        printWarning(message)
    }
}
