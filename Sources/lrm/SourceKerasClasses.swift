import LRMFormat

/// The Keras classes metadata `source.keras_classes` records (`Class:layer`, the Keras 1-D layers an import ran as
/// 2-D kinds over a height of 1), by lrm layer name.
func sourceKerasClasses(_ metadata: [String: MetadataValue]) -> [String: String] {
    guard case .strings(let entries)? = metadata[MetadataKey.sourceKerasClasses] else { return [:] }
    var classes: [String: String] = [:]
    for entry in entries {
        // Class names hold no ':'; layer names may.
        guard let colon = entry.firstIndex(of: ":") else { continue }
        classes[String(entry[entry.index(after: colon)...])] = String(entry[..<colon])
    }
    return classes
}

/// The note under a table whose kinds carry `[Class]`.
let sourceKerasClassNote = "[Class]: the Keras layer class it was imported from (a 1-D layer runs as its 2-D kind over [1, steps, channels])"
