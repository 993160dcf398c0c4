extension MetadataKey {
    /// The Keras classes metadata `source.keras_classes` records (`Class:layer`, the Keras 1-D layers an import ran as
    /// 2-D kinds over a height of 1), by lrm layer name; empty when the key is absent or not a string list. An entry
    /// without a ':' is skipped (class names hold none; layer names may, so the first one splits).
    public static func sourceKerasClasses(in metadata: [String: MetadataValue]) -> [String: String] {
        guard case .strings(let entries)? = metadata[sourceKerasClasses] else { return [:] }
        var classes: [String: String] = [:]
        for entry in entries {
            guard let colon = entry.firstIndex(of: ":") else { continue }
            classes[String(entry[entry.index(after: colon)...])] = String(entry[..<colon])
        }
        return classes
    }
}

extension MetadataKey {
    /// The layers metadata `source.dropped_layers` records (`Class:layer`, dropped at import as the identity at
    /// inference) as "Class 'layer'" texts, control characters escaped; empty when the key is absent or not a string
    /// list. An entry without a ':' is shown as it is.
    public static func sourceDroppedLayers(in metadata: [String: MetadataValue]) -> [String] {
        guard case .strings(let entries)? = metadata[sourceDroppedLayers] else { return [] }
        return entries.map { entry in
            guard let colon = entry.firstIndex(of: ":") else { return escaped(entry) }
            return "\(escaped(String(entry[..<colon]))) '\(escaped(String(entry[entry.index(after: colon)...])))'"
        }
    }

    /// One line saying which layers were dropped at import (metadata `source.dropped_layers`), the first 8 named;
    /// nil when none were.
    public static func droppedLayersText(in metadata: [String: MetadataValue]) -> String? {
        let dropped = sourceDroppedLayers(in: metadata)
        guard !dropped.isEmpty else { return nil }
        let shown = dropped.prefix(8).joined(separator: ", ") + (dropped.count > 8 ? ", and \(dropped.count - 8) more" : "")
        return "\(dropped.count) layer\(dropped.count == 1 ? "" : "s") of the source, the identity at inference, dropped at import: \(shown)"
    }
}

extension MetadataKey {
    /// The positions metadata `source.open_input_dims` records for an input of `rank` dimensions: those from 0 to
    /// rank − 1, in ascending order, once each; empty when the key is absent, not an int list, or names another position
    /// (a file whose record does not fit its input is read as recording nothing).
    public static func sourceOpenInputDims(in metadata: [String: MetadataValue], rank: Int) -> [Int] {
        guard case .ints(let positions)? = metadata[sourceOpenInputDims],
              positions.allSatisfy({ (0..<Int64(rank)).contains($0) }) else { return [] }
        return Set(positions.map { Int($0) }).sorted()
    }
}
