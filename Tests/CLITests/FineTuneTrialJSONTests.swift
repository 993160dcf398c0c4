@testable import LRMPipeline
@testable import lrm
import LRMFormat
import Testing

/// `search.finetune.tried` entries of `convert --json`.
@Suite("the JSON of a fine-tuned search candidate")
struct FineTuneTrialJSONTests {
    static func trial(selection: Double, confirmation: Double?) -> FineTuneTrial {
        FineTuneTrial(hiddenFraction: 0.5, ranks: ["hidden": 2], epochsRun: 1, bestEpoch: 1, earlyStoppingAccuracy: 0.9,
                      selectionAccuracy: selection, selectionStandardError: selection == -.infinity ? 0 : 0.01, selectionWithinBudget: selection > 0.8,
                      inSequence: confirmation != nil, confirmationAccuracy: confirmation,
                      confirmationWithinBudget: confirmation.map { $0 > 0.8 })
    }

    static func members(_ value: JSONValue) -> [String: JSONValue] {
        guard case .object(let members) = value else { return [:] }
        return Dictionary(members, uniquingKeysWith: { a, _ in a })
    }

    static func isNull(_ value: JSONValue?) -> Bool { if case .null = value { true } else { false } }

    @Test("a candidate whose outputs overflowed on the selection or the confirmation records has selection_overflowed or confirmation_overflowed true beside its null score (the null alone did not say why, and a null confirmation score was also one not reached); the others have no such key")
    func overflowMarked() throws {
        let selection = Self.members(Self.trial(selection: -Double.infinity, confirmation: nil).json)
        #expect(Self.isNull(selection["selection_accuracy"]) && Self.isNull(selection["selection_drop_standard_error"]), "\(selection)")
        #expect(selection["selection_overflowed"] == .bool(true) && selection["confirmation_overflowed"] == nil, "\(selection)")

        let confirmation = Self.members(Self.trial(selection: 0.9, confirmation: -Double.infinity).json)
        #expect(confirmation["selection_accuracy"] == .number(0.9) && confirmation["selection_overflowed"] == nil, "\(confirmation)")
        #expect(Self.isNull(confirmation["confirmation_accuracy"]) && confirmation["confirmation_overflowed"] == .bool(true), "\(confirmation)")

        for (trial, reached) in [(Self.trial(selection: 0.9, confirmation: 0.85), true), (Self.trial(selection: 0.7, confirmation: nil), false)] {
            let entry = Self.members(trial.json)
            #expect(entry["selection_overflowed"] == nil && entry["confirmation_overflowed"] == nil, "\(entry)")
            #expect(reached ? entry["confirmation_accuracy"] == .number(0.85) : Self.isNull(entry["confirmation_accuracy"]), "\(entry)")
        }
    }
}
