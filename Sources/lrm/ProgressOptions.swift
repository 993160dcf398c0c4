import ArgumentParser
import Foundation
import LRMFormat
import LRMPipeline

/// `--progress text|json|off` and `--quiet`: how long work reports itself on stderr.
enum ProgressMode: String, CaseIterable, ExpressibleByArgument {
    case text, json, off
}

struct ProgressOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Progress on stderr: text (the default when stderr is a terminal), json (one JSON object a line, for CI logs) or off.", valueName: "mode"))
    var progress: ProgressMode?

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        if quiet && progress != nil && progress != .off { throw ValidationError("give --quiet or --progress, not both") }
    }

    /// The printer for the chosen mode, nil when progress is off.
    var printer: ProgressPrinter? {
        let mode = quiet ? .off : progress ?? (standardErrorIsTerminal ? .text : .off)
        switch mode {
        case .off: return nil
        case .json: return ProgressPrinter(json: true, terminal: false)
        case .text: return ProgressPrinter(json: false, terminal: standardErrorIsTerminal)
        }
    }
}

/// Writes progress events to stderr: JSON lines, or text; on a terminal one line rewritten in place
/// (cleared by `finish`), elsewhere a line per event.
final class ProgressPrinter: @unchecked Sendable {
    let json: Bool
    let terminal: Bool
    private let lock = NSLock()
    private var lastLength = 0

    init(json: Bool, terminal: Bool) {
        self.json = json
        self.terminal = terminal
    }

    /// The printer as a pipeline handler.
    var handler: ProgressHandler { { [self] event in handle(event) } }

    func handle(_ event: ProgressEvent) {
        lock.lock()
        defer { lock.unlock() }
        if json {
            var members: [(String, JSONValue)] = [("phase", .string(event.phase)), ("done", .int(Int64(event.done)))]
            if let total = event.total { members.append(("total", .int(Int64(total)))) }
            members.append(("message", .string(event.message)))
            write(JSONValue.object([("progress", .object(members))]).serialized() + "\n")
            return
        }
        var line = "lrm: \(event.phase)"
        if let total = event.total, total > 0 {
            line += " \(event.done)/\(total) (\(Int((Double(event.done) / Double(total) * 100).rounded()))%)"
        } else if event.done > 0 {
            line += " \(event.done)"
        }
        if !event.message.isEmpty { line += ": \(event.message)" }
        if terminal {
            let padding = max(0, lastLength - line.count)
            write("\r" + line + String(repeating: " ", count: padding))
            lastLength = line.count
        } else {
            write(line + "\n")
        }
    }

    /// A line that stays, such as a fine-tuning epoch's: in JSON mode `event`; in text mode `line` (the event's
    /// text, written as it is) on a line of its own, after clearing a terminal's line rewritten in place.
    func record(_ event: ProgressEvent, line: String) {
        if json { return handle(event) }
        lock.lock()
        defer { lock.unlock() }
        if terminal && lastLength > 0 { write("\r" + String(repeating: " ", count: lastLength) + "\r") }
        lastLength = 0
        write(line + "\n")
    }

    /// On a terminal, clears the progress line so that the report starts on a clean line.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if terminal && lastLength > 0 { write("\r" + String(repeating: " ", count: lastLength) + "\r") }
        lastLength = 0
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
