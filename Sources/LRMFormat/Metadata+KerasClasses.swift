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
