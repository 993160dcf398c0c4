import Foundation
public import LRMFormat

extension VerificationReport {
    /// The report as JSON: result, data set, samples, checks, layers, and for each model the
    /// metrics of `ClassificationMetrics.json` (macro-F1 is the unweighted mean over classes;
    /// weighted-F1 weights classes by support), plus the comparison between the two models.
    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("result", .string(result.rawValue)),
            ("dataset", .string(dataset)),
            ("samples", .int(Int64(sampleCount))),
            ("checks", .array(checks.map { .object([("name", .string($0.name)), ("passed", .bool($0.passed)), ("detail", .string($0.detail))]) })),
            ("layers", .array(layers.map(\.json) + checks.operationMismatches.map(\.json))),
            ("compressed", candidate.json(classNames: classNames)),
        ]
        if let reference { members.append(("reference", reference.json(classNames: classNames))) }
        if let comparison {
            members.append(("comparison", .object([
                ("agreement", .number(comparison.sampleCount > 0 ? Double(comparison.agreementCount) / Double(comparison.sampleCount) : 0)),
                ("agreeing_samples", .int(Int64(comparison.agreementCount))),
                ("max_abs_difference", .number(comparison.maxAbsoluteDifference)),
                ("mean_abs_difference", .number(comparison.sampleCount > 0
                    ? comparison.absoluteDifferenceSum / Double(comparison.sampleCount * comparison.classCount) : 0)),
            ])))
        }
        if !preprocessingNotes.isEmpty { members.append(("preprocessing", .array(preprocessingNotes.map { .string($0) }))) }
        members.append(("seconds", .number(seconds)))
        return .object(members)
    }

    /// JUnit XML: one test suite, one test case per check (and one for the run itself), failures
    /// with their detail, so CI systems can display the outcome.
    public func junit(suiteName: String = "lrm verify") -> String {
        let cases: [(String, Bool, String)] = [("evaluate \(dataset)", true, "\(sampleCount) samples")] + checks.map { ($0.name, $0.passed, $0.detail) }
        return VerificationReport.junitXML(suiteName: suiteName, cases: cases, seconds: seconds)
    }

    /// JUnit XML for a run an error stopped before any check: one test case in error with the message,
    /// so CI shows the error instead of nothing.
    public static func junitError(suiteName: String = "lrm verify", message: String, seconds: Double) -> String {
        let text = escape(message)
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites tests=\"1\" failures=\"0\" errors=\"1\" time=\"\(String(format: "%.3f", seconds))\">\n"
        xml += "  <testsuite name=\"\(escape(suiteName))\" tests=\"1\" failures=\"0\" errors=\"1\" time=\"\(String(format: "%.3f", seconds))\">\n"
        xml += "    <testcase classname=\"lrm.verify\" name=\"verify\"><error message=\"\(text)\" type=\"error\">\(text)</error></testcase>\n"
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }

    /// Text with XML's special characters escaped and the control characters XML 1.0 forbids replaced.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" { out += "?" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    /// JUnit XML of `cases` (name, passed, detail): one test suite, failures with their detail.
    public static func junitXML(suiteName: String, cases: [(String, Bool, String)], seconds: Double) -> String {
        let failures = cases.filter { !$0.1 }.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites tests=\"\(cases.count)\" failures=\"\(failures)\" time=\"\(String(format: "%.3f", seconds))\">\n"
        xml += "  <testsuite name=\"\(escape(suiteName))\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"0\" time=\"\(String(format: "%.3f", seconds))\">\n"
        for (name, passed, detail) in cases {
            xml += "    <testcase classname=\"lrm.verify\" name=\"\(escape(name))\">"
            if passed {
                xml += "<system-out>\(escape(detail))</system-out></testcase>\n"
            } else {
                xml += "<failure message=\"\(escape(detail))\" type=\"threshold\">\(escape(detail))</failure></testcase>\n"
            }
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }
}

extension LayerFidelity {
    /// One layer of verify's JSON: name, kind, `keras_class` when the layer was imported from a Keras class its kind
    /// does not name (as `lrm inspect --json` has it), the kernel as a matrix (`in_features` × `out_features`), a
    /// convolution's `kernel_shape` and factorized `form`, rank, the measured error and energy, stored bytes,
    /// and what the file's factorization record says: `agrees_with_record` when it was checked, and `record_check`
    /// (`agrees`, `disagrees` or `not_checked`) with `record_check_reason` when it was not; `reference_layer_factorized`
    /// true when the reference's layer is itself factorized, so that the measured error and energy are against its
    /// truncated kernel, not the original's; `record_check_rounding` (`f16`, `bf16`, `i8`, `i4`) when a `+from-stored` record was
    /// checked against the reference's kernel rounded to that dtype (``recordCheckedRounded``), with `record_check_rounding_layout`
    /// for codes (``recordCheckedRoundingLayout``); `operation_mismatch` when
    /// the layer's activation or a convolution's strides, padding or dilation are not the reference layer's
    /// (``operationMismatch``: the run fails).
    public var json: JSONValue {
        var entry: [(String, JSONValue)] = [("name", .string(name)), ("kind", .string(kind))]
        if let kerasClass { entry.append(("keras_class", .string(kerasClass))) }
        entry += [("in_features", .int(Int64(inFeatures))), ("out_features", .int(Int64(outFeatures)))]
        if let kernelShape { entry.append(("kernel_shape", .array(kernelShape.map { .int(Int64($0)) }))) }
        if let form { entry.append(("form", .string(form.name))) }
        if let rank { entry.append(("rank", .int(Int64(rank)))) }
        entry += [("relative_error", .number(relativeError)), ("retained_energy", .number(retainedEnergy))]
        if referenceLayerFactorized { entry.append(("reference_layer_factorized", .bool(true))) }
        entry += [("bias_max_difference", .number(biasMaxDifference)), ("stored_bytes", .int(Int64(storedBytes)))]
        if let recorded = recordedRelativeError { entry.append(("recorded_relative_error", .number(recorded))) }
        if let recorded = recordedRetainedEnergy { entry.append(("recorded_retained_energy", .number(recorded))) }
        if let metric = recordedMetric { entry.append(("recorded_metric", .string(metric))) }
        if recordedRetainedEnergy != nil { entry.append(("recorded_energy_is_truncations", .bool(recordedEnergyIsTruncations))) }
        if recordedErrorIsEstimate { entry.append(("recorded_error_is_estimate", .bool(true))) }
        if let agrees = agreesWithRecord { entry.append(("agrees_with_record", .bool(agrees))) }
        if recordedRelativeError != nil { entry.append(("record_check", .string(recordCheck))) }
        if let reason = recordNotChecked { entry.append(("record_check_reason", .string(reason))) }
        if let rounded = recordCheckedRounded { entry.append(("record_check_rounding", .string(rounded.name))) }
        if let layout = recordCheckedRoundingLayout { entry.append(("record_check_rounding_layout", .string(layout))) }
        if let operationMismatch { entry.append(("operation_mismatch", .string(operationMismatch))) }
        return .object(entry)
    }

    /// The layer in a check's detail (text, JSON and JUnit): "layer 'c1'", with its Keras class as `lrm inspect` shows it
    /// when it has one ("layer 'c1' [Conv1D]").
    public var label: String {
        "layer '\(escaped(name))'" + (kerasClass.map { " [\(escaped($0))]" } ?? "")
    }

    /// What the tables say of the record below them ("LAYER: record …"): why it was not checked, or that it was checked
    /// against the reference's kernel rounded to a 16-bit float; nil otherwise.
    public var recordNote: String? {
        recordNotChecked ?? recordCheckedRounded.map { Self.roundedReferenceNote($0, layout: recordCheckedRoundingLayout) }
    }

    /// What became of the layer's record: "agrees", "disagrees", "not_checked" (``recordNotChecked`` says why), or
    /// "none" when the layer has no record.
    public var recordCheck: String {
        if let agrees = agreesWithRecord { return agrees ? "agrees" : "disagrees" }
        return recordNotChecked != nil ? "not_checked" : "none"
    }

    /// The measured error and energy as the tables show them (4 decimals), marked "*" when they are against a
    /// reference layer that is itself factorized (``referenceLayerFactorized``; ``againstFactorizedReferenceNote`` says so).
    public var measuredErrorText: String { String(format: "%.4f", relativeError) + (referenceLayerFactorized ? "*" : "") }
    public var measuredEnergyText: String { String(format: "%.4f", retainedEnergy) + (referenceLayerFactorized ? "*" : "") }

    /// The note below a table with a row marked "*".
    public static let againstFactorizedReferenceNote = "* measured against the reference's own layer, which is itself factorized "
        + "(a truncation, not the original model's kernel)"

    /// The report's "agrees" cell: yes, NO, not checked, or empty without a record.
    public var recordCheckText: String {
        if let agrees = agreesWithRecord { return agrees ? "yes" : "NO" }
        return recordNotChecked != nil ? "not checked" : ""
    }

    /// The kernel's shape for people: "784→128" for a dense layer, "3×3×16→32" for a convolution
    /// (kh×kw×cin→cout; depthwise: kh×kw×cin, ×m).
    public var shapeText: String {
        guard let k = kernelShape, k.count == 4 else { return "\(inFeatures)→\(outFeatures)" }
        if kind == "depthwise_conv2d" { return "\(k[0])×\(k[1])×\(k[2]) depthwise, ×\(k[3])" }
        return "\(k[0])×\(k[1])×\(k[2])→\(k[3])"
    }

    /// A factorized convolution's form and the matrix it split ("channel 144×32"); empty otherwise.
    public var formText: String {
        guard let form else { return "" }
        return "\(form.name) \(inFeatures)×\(outFeatures)"
    }
}
