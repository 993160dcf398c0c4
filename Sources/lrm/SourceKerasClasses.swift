import LRMFormat

/// A layer's kind as the tables show it (`inspect`, `verify`, `report`): with ` [Class]` after it when the layer was
/// imported from a Keras class its kind does not name (metadata `source.keras_classes`), e.g. "conv2d [Conv1D]";
/// the class escaped for the terminal (`escape`; the HTML report escapes the whole cell its own way).
func kindText(_ kind: String, kerasClass: String?, escape: (String) -> String = escaped) -> String {
    kind + (kerasClass.map { " [\(escape($0))]" } ?? "")
}

/// The note under a table whose kinds carry `[Class]`.
let sourceKerasClassNote = "[Class]: the Keras layer class it was imported from (a 1-D layer runs as its 2-D kind over [1, steps, channels])"
