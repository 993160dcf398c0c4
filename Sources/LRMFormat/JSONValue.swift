/// A JSON value with one deterministic serialisation (object keys in insertion order, numbers in
/// Swift's shortest round-trip form), used for test vectors and every `--json` output.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Keys in the order they were given.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        lhs.serialized() == rhs.serialized()
    }

    /// The JSON text. `indent` > 0 pretty-prints with that many spaces per level.
    public func serialized(indent: Int = 0) -> String {
        var out = ""
        write(to: &out, indent: indent, level: 0)
        return out
    }

    private func write(to out: inout String, indent: Int, level: Int) {
        let newline = indent > 0 ? "\n" : ""
        let pad = { (n: Int) in String(repeating: " ", count: indent * n) }
        switch self {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .number(let number):
            if !number.isFinite { out += "null" }
            else if number == number.rounded(), abs(number) < 1e15 { out += String(Int64(number)) }
            else { out += String(number) }
        case .string(let text): JSONValue.quote(text, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            // Arrays of scalars stay on one line.
            let flat = indent == 0 || items.allSatisfy { if case .array = $0 { return false }; if case .object = $0 { return false }; return true }
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += flat ? (indent > 0 ? ", " : ",") : "," }
                if !flat { out += newline + pad(level + 1) }
                item.write(to: &out, indent: flat ? 0 : indent, level: level + 1)
            }
            if !flat { out += newline + pad(level) }
            out += "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                out += newline + pad(level + 1)
                JSONValue.quote(key, into: &out)
                out += indent > 0 ? ": " : ":"
                value.write(to: &out, indent: indent, level: level + 1)
            }
            out += newline + pad(level) + "}"
        }
    }

    private static func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension JSONValue {
    public init(_ values: [Double]) { self = .array(values.map { .number($0) }) }
    public init(_ values: [Int]) { self = .array(values.map { .int(Int64($0)) }) }
    public init(_ values: [String]) { self = .array(values.map { .string($0) }) }
}
