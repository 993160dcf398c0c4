import Foundation

/// Text from files (Keras layer names, paths, JSON values) made safe for a terminal: a message is one line,
/// and no escape sequence from a crafted file reaches the user's terminal (ESC `\u{1b}[2J` would clear it).
enum TerminalText {
    /// `text` on one line: line breaks become spaces; other control characters (C0, DEL, C1) and Unicode
    /// format characters (bidirectional overrides) are written as `\u{…}`.
    static func line(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n", "\r": result += " "
            case "\t": result += "\t"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.properties.generalCategory == .format {
                    result += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}

/// Prints `lrm: <label>: <message>` (label `note` or `warning`) on stderr, on one line, made safe by ``TerminalText``.
func printDiagnostic(_ label: String, _ message: String) {
    FileHandle.standardError.write(Data("lrm: \(label): \(TerminalText.line(message))\n".utf8))
}
