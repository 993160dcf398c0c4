import LRMFormat

/// Which input preprocessing (`x · scale + offset`) each model of a comparison runs with (verify, report).
///
/// Each model runs with its own recorded preprocessing. A model that records none takes the command line's
/// `--input-scale`/`--input-offset` when given, else the other model's (a Keras reference beside the `.lrm`
/// made from it, the usual case). Command-line values never replace what a model records. Every choice that
/// is not a model's own, and any difference between the two, is described in a note for the report.
struct VerifyPreprocessing {
    /// One model of the comparison: its role in messages ("compressed model", "reference") and its path.
    struct Side {
        var role: String
        var path: String
        /// The model's input description: its recorded preprocessing, replaced by what is chosen.
        var input: InputSpec
        var records: Bool { !input.scale.isEmpty || !input.offset.isEmpty }
    }

    /// What was decided, for the text and JSON reports.
    private(set) var notes: [String] = []
    /// Where the candidate's preprocessing came from, for the report's preprocessing line: "the model file"
    /// (its own record, or none anywhere), the command line's options ("--input-scale"), or the other model's
    /// ("the reference").
    private(set) var candidateSource = "the model file"

    /// Chooses the preprocessing of `candidate` and `reference` (in place). `scale` and `offset` are the
    /// command line's values, nil when not given.
    mutating func resolve(candidate: inout Side, reference: inout Side?, scale: [Double]?, offset: [Double]?) {
        let originalCandidate = candidate, originalReference = reference
        candidateSource = choose(&candidate, other: originalReference, scale: scale, offset: offset)
        if var side = reference {
            _ = choose(&side, other: originalCandidate, scale: scale, offset: offset)
            reference = side
        }
        if originalCandidate.records, let originalReference, originalReference.records,
           originalCandidate.input.scale != originalReference.input.scale
            || originalCandidate.input.offset != originalReference.input.offset {
            notes.append("the two models record different preprocessing: the \(candidate.role) \(Self.describe(candidate.input)), "
                         + "the \(originalReference.role) \(Self.describe(originalReference.input)); each runs with its own")
        }
    }

    /// Chooses `side`'s preprocessing and returns where it came from (see `candidateSource`).
    private mutating func choose(_ side: inout Side, other: Side?, scale: [Double]?, offset: [Double]?) -> String {
        let given = scale != nil || offset != nil
        if side.records {
            if given {
                let options = [scale.map { _ in "--input-scale" }, offset.map { _ in "--input-offset" }].compactMap { $0 }.joined(separator: " and ")
                notes.append("the \(side.role) \(side.path) records its own preprocessing (\(Self.describe(side.input))) and runs with it: "
                             + "\(options) \(scale != nil && offset != nil ? "are" : "is") not used for it (verify applies --input-scale and --input-offset only "
                             + "to a model that records none; predict and convert replace the recorded values with them)")
            }
            return "the model file"
        } else if given {
            side.input.scale = scale ?? []
            side.input.offset = offset ?? []
            notes.append("the \(side.role) \(side.path) records no preprocessing; it runs with the command line's (\(Self.describe(side.input)))")
            return [scale.map { _ in "--input-scale" }, offset.map { _ in "--input-offset" }].compactMap { $0 }.joined(separator: " and ")
        } else if let other, other.records {
            side.input.scale = other.input.scale
            side.input.offset = other.input.offset
            notes.append("the \(side.role) \(side.path) records no preprocessing; it runs with the \(other.role)'s (\(Self.describe(side.input)))")
            return "the \(other.role)"
        }
        return "the model file"
    }

    /// "scale 0.00392…, offset none" (at most four values of each).
    static func describe(_ input: InputSpec) -> String {
        func values(_ list: [Double]) -> String {
            list.isEmpty ? "none" : list.prefix(4).map { String($0) }.joined(separator: ", ") + (list.count > 4 ? ", … (\(list.count) values)" : "")
        }
        return "scale \(values(input.scale)), offset \(values(input.offset))"
    }
}
