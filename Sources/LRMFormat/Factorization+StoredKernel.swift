/// A record relative to a kernel a `.lrm` stored whole but changed from the original model's (`spec/FORMAT.md`
/// section 3.1): a layer that a re-conversion factorized from a kernel its input file held as integer codes or in a
/// 16-bit float, or fine-tuned. Its `method` ends in `+from-stored(WHAT)` (before any later step), WHAT that
/// kernel's ``Factorization/storedKernelDescription(dtype:fineTuned:)``.
extension Factorization {
    /// The method step that opens the mark.
    public static let fromStoredStep = "+from-stored("

    /// What a kernel stored whole is, as the mark says it: its dtype when it is not a 32- or 64-bit float, and
    /// `fine-tuned` when its file was (`finetune.*`), e.g. `i8`, `fine-tuned`, `i4, fine-tuned`; nil for a kernel
    /// as the original model's could be (float, not fine-tuned).
    public static func storedKernelDescription(dtype: DType, fineTuned: Bool) -> String? {
        var what: [String] = []
        if dtype != .float32 && dtype != .float64 { what.append(dtype.name) }
        if fineTuned { what.append("fine-tuned") }
        return what.isEmpty ? nil : what.joined(separator: ", ")
    }

    /// WHAT of the record's `+from-stored(WHAT)` mark, nil when it has none (its record is relative to the
    /// original model's kernel).
    public var fromStoredKernel: String? {
        guard let start = method.range(of: Self.fromStoredStep) else { return nil }
        let rest = method[start.upperBound...]
        guard let end = rest.firstIndex(of: ")") else { return nil }
        return String(rest[..<end])
    }
}
