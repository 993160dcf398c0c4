import Foundation
import LRMFormat

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
            default: appendEscapingControl(scalar, to: &result)
            }
        }
        return result
    }
}

/// Prints `lrm: <label>: <message>` (label `note`, `warning`, `error`, `check failed`) on stderr, on one line, made safe by
/// ``TerminalText``; with `--progress json` (``Diagnostics/json``) one JSON object instead.
func printDiagnostic(_ label: String, _ message: String, status: ExitStatus? = nil) {
    FileHandle.standardError.write(Data(Diagnostics.line(label, message, status: status).utf8))
}

/// How messages on stderr are written. With `--progress json` every line there is one JSON object, so that a CI log
/// parser reading the progress events is not broken by a warning: `{"warning": {"message": …}}`, `{"note": …}`,
/// `{"check_failed": …}`, `{"error": {"message": …, "exit_status": N}}` beside `{"progress": …}`.
enum Diagnostics {
    /// Set once at start-up, before any thread is made, from the command line (``LRM/main()``).
    nonisolated(unsafe) static var json = false

    /// Whether `arguments` (before any `--`) choose `--progress json`.
    static func choosesJSON(_ arguments: [String]) -> Bool {
        let options = Array(arguments.prefix { $0 != "--" })
        return options.contains("--progress=json") || zip(options, options.dropFirst()).contains { $0 == "--progress" && $1 == "json" }
    }

    /// The line for a message of kind `label`: text, or with ``json`` `{"<label, _ for spaces>": {"message": …}}`
    /// (with `exit_status` for an error).
    static func line(_ label: String, _ message: String, status: ExitStatus? = nil) -> String {
        guard json else { return "lrm: \(label): \(TerminalText.line(message))\n" }
        var members: [(String, JSONValue)] = [("message", .string(message.replacingOccurrences(of: "\n", with: " ")))]
        if let status { members.append(("exit_status", .int(Int64(status.rawValue)))) }
        return JSONValue.object([(label.replacingOccurrences(of: " ", with: "_"), .object(members))]).serialized() + "\n"
    }
}
