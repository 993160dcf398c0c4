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

/// A record whose factors were integer codes before a re-conversion re-stored or re-truncated them (`spec/FORMAT.md`
/// section 3.1): its `method` holds `+rounded(DTYPE)` before that step. Its factors are then no longer the truncation
/// its `retained_energy` and `singular_values` describe (the codes' rounding moved them), as integer codes' are not.
extension Factorization {
    /// The method step that says the factors were rounded to integer codes before a later step.
    public static let roundedStep = "+rounded("

    /// Whether the factors were integer codes before a re-conversion's step (`+rounded(…)`).
    public var roundedBefore: Bool { method.contains(Self.roundedStep) }

    /// Whether `relative_error` is the re-truncation's estimate rather than a measurement: the factors were re-truncated
    /// after being rounded to integer codes, where W − P is not orthogonal to P (P the dequantized product), so the
    /// error a re-truncation computes from the record is off by up to the codes' share of it.
    public var relativeErrorIsEstimate: Bool {
        guard let rounded = method.range(of: Self.roundedStep) else { return false }
        return method[rounded.upperBound...].contains("+retruncated(")
    }
}

extension Factorization {
    /// The SHA-256 of the kernel each `+from-stored(WHAT)` record was factorized from, by layer name, from metadata
    /// `conversion.from_stored_sha256` (entries `HEX NAME`, section 3.1); entries not of that form are skipped. Empty
    /// for a file without the key (one written before it was recorded, or with no such record).
    public static func fromStoredDigests(in metadata: [String: MetadataValue]) -> [String: String] {
        guard case .strings(let entries)? = metadata[MetadataKey.conversionFromStoredSHA256] else { return [:] }
        var digests: [String: String] = [:]
        for entry in entries {
            let utf8 = Array(entry.utf8)
            guard utf8.count > 65, utf8[64] == 0x20,
                  utf8[..<64].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { continue }
            digests[String(decoding: utf8[65...], as: UTF8.self)] = String(decoding: utf8[..<64], as: UTF8.self)
        }
        return digests
    }

    /// `digests` (layer name → lowercase hex SHA-256) as the value of `conversion.from_stored_sha256`, ordered by name.
    public static func fromStoredDigestsValue(_ digests: [String: String]) -> MetadataValue {
        .strings(digests.keys.sorted().map { digests[$0]! + " " + $0 })
    }
}

/// How a kernel stored whole as integer codes was laid out: rows per scale, the scales' dtype, and whether it has zero
/// points (metadata `conversion.from_stored_rounding`, for a `+from-stored(i8)` or `(i4)` record).
public struct StoredCodesLayout: Sendable, Equatable {
    /// Rows (inputs) per scale; the kernel's row count for one scale per column.
    public var groupSize: Int
    public var scaleDType: DType
    public var zeroPoints: Bool

    public init(groupSize: Int, scaleDType: DType, zeroPoints: Bool) {
        self.groupSize = groupSize
        self.scaleDType = scaleDType
        self.zeroPoints = zeroPoints
    }

    /// The layout of `values`.
    public init(_ values: QuantizedValues) {
        self.init(groupSize: values.groupSize, scaleDType: values.scales.dtype, zeroPoints: values.zeroPoints != nil)
    }

    /// "one f16 scale per column, symmetric", "one f32 scale per 16 rows of a column, with zero points" for a kernel of `rows` rows.
    public func description(rows: Int) -> String {
        (groupSize >= rows ? "one \(scaleDType.name) scale per column" : "one \(scaleDType.name) scale per \(groupSize) rows of a column")
            + (zeroPoints ? ", with zero points" : ", symmetric")
    }

    /// The entry's `GROUP SCALE SCHEME` part.
    var entry: String { "\(groupSize) \(scaleDType.name) \(zeroPoints ? "asymmetric" : "symmetric")" }
}

extension Factorization {
    /// How the kernel each `+from-stored(i8)` or `(i4)` record was factorized from was stored as codes, by layer name, from
    /// metadata `conversion.from_stored_rounding` (entries `GROUP SCALE SCHEME NAME`, section 3.1); entries not of that form
    /// are skipped. Empty for a file without the key.
    public static func fromStoredLayouts(in metadata: [String: MetadataValue]) -> [String: StoredCodesLayout] {
        guard case .strings(let entries)? = metadata[MetadataKey.conversionFromStoredRounding] else { return [:] }
        var layouts: [String: StoredCodesLayout] = [:]
        for entry in entries {
            let parts = entry.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count == 4, !parts[3].isEmpty, let group = Int(parts[0]), group >= 1, String(group) == parts[0],
                  let scale = [DType.float16, .float32].first(where: { $0.name == parts[1] }),
                  parts[2] == "symmetric" || parts[2] == "asymmetric" else { continue }
            layouts[String(parts[3])] = StoredCodesLayout(groupSize: group, scaleDType: scale, zeroPoints: parts[2] == "asymmetric")
        }
        return layouts
    }

    /// `layouts` (layer name → layout) as the value of `conversion.from_stored_rounding`, ordered by name.
    public static func fromStoredLayoutsValue(_ layouts: [String: StoredCodesLayout]) -> MetadataValue {
        .strings(layouts.keys.sorted().map { layouts[$0]!.entry + " " + $0 })
    }
}
