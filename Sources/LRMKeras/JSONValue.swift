import Foundation

/// A JSON document as a typed tree, so that Keras configs are read without `[String: Any]` bags.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let items = try? container.decode([JSONValue].self) {
            self = .array(items)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses UTF-8 JSON text. Python's `NaN`/`Infinity` tokens are accepted as numbers.
    static func parse(_ data: Data) throws -> JSONValue {
        // Foundation's JSON5 scanner traps (instead of throwing) on a byte that is not UTF-8 where it
        // expects an unquoted key; JSON text is UTF-8 (RFC 8259), so anything else is refused first.
        guard String(validating: data, as: UTF8.self) != nil else { throw InvalidUTF8() }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true  // tolerates NaN/Infinity, which Python's json module writes
        return try decoder.decode(JSONValue.self, from: data)
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The value as an `Int` when it is a number with an integral value in range.
    var integer: Int? {
        guard case .number(let value) = self, value.rounded() == value, abs(value) < 0x1p62 else { return nil }
        return Int(value)
    }

    var bool: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    var isNull: Bool { self == .null }

    /// A short rendering for error messages.
    var brief: String {
        switch self {
        case .null: "null"
        case .bool(let flag): flag ? "true" : "false"
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
        case .string(let text): "\"\(text)\""
        case .array(let items): "[" + items.prefix(6).map(\.brief).joined(separator: ", ") + (items.count > 6 ? ", …]" : "]")
        case .object(let members): "{" + members.keys.sorted().prefix(4).joined(separator: ", ") + (members.count > 4 ? ", …}" : "}")
        }
    }
}

/// JSON text that is not UTF-8.
struct InvalidUTF8: Error, CustomStringConvertible {
    var description: String { "the text is not valid UTF-8" }
}
