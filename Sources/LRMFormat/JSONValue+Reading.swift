public import Foundation

/// Reading JSON into the one JSON value type: Keras configs, `metadata.json`, a sweep's `--json`.
/// Numbers read as `.number` (Double); objects keep their members sorted by key (the order of a
/// parsed object is not significant), and a key given twice keeps its last value, as Python's
/// `json` module does.
extension JSONValue: Decodable {
    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [String: JSONValue] = [:]
            for key in container.allKeys { members[key.stringValue] = try container.decode(JSONValue.self, forKey: key) }
            self = .object(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            if let count = container.count { items.reserveCapacity(count) }
            while !container.isAtEnd { items.append(try container.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Parses UTF-8 JSON text. Python's `NaN`/`Infinity` tokens are accepted as numbers.
    /// - Throws: ``JSONTextError`` for text that is not UTF-8; Foundation's decoding errors otherwise.
    public static func parse(_ data: Data) throws -> JSONValue {
        // Foundation's JSON5 scanner traps (instead of throwing) on a byte that is not UTF-8 where it
        // expects an unquoted key; JSON text is UTF-8 (RFC 8259), so anything else is refused first.
        guard String(validating: data, as: UTF8.self) != nil else { throw JSONTextError.invalidUTF8 }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true  // tolerates NaN/Infinity, which Python's json module writes
        return try decoder.decode(JSONValue.self, from: data)
    }

    /// The value of `key` when this is an object (its last occurrence), else nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }

    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The value as a Double when it is a number.
    public var number: Double? {
        switch self {
        case .number(let value): value
        case .int(let value): Double(value)
        default: nil
        }
    }

    /// The value as an `Int` when it is a number with an integral value in range.
    public var integer: Int? {
        switch self {
        case .int(let value): Int(exactly: value)
        case .number(let value): value.rounded() == value && abs(value) < 0x1p62 ? Int(value) : nil
        default: nil
        }
    }

    public var bool: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short rendering for error messages.
    public var brief: String {
        switch self {
        case .null: "null"
        case .bool(let flag): flag ? "true" : "false"
        case .int(let value): String(value)
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
        case .string(let text): "\"\(text)\""
        case .array(let items): "[" + items.prefix(6).map(\.brief).joined(separator: ", ") + (items.count > 6 ? ", …]" : "]")
        case .object(let members):
            "{" + members.map(\.0).prefix(4).joined(separator: ", ") + (members.count > 4 ? ", …}" : "}")
        }
    }
}

/// JSON text that cannot be read as text.
public enum JSONTextError: Error, Sendable, CustomStringConvertible {
    case invalidUTF8

    public var description: String { "the text is not valid UTF-8" }
}
