/// The header of a `.npy` file: a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
///
/// Parsed by a small tokenizer that accepts only what NumPy writes — strings, `True`/`False`, and tuples of
/// non-negative integers — and never evaluates anything.
struct NPYHeader: Equatable {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    /// Parses the header text; `file` is used in error messages.
    static func parse(_ text: String, file: String) throws(NumPyError) -> NPYHeader {
        var parser = Parser(scalars: Array(text.unicodeScalars), file: file)
        return try parser.parseHeader()
    }

    /// The header text NumPy would write for this header (without padding or newline).
    var literal: String {
        "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(NPYHeader.formatShape(shape)), }"
    }

    /// Formats a shape as a Python tuple: `()`, `(3,)`, `(3, 4)`.
    static func formatShape(_ shape: [Int]) -> String {
        switch shape.count {
        case 0: "()"
        case 1: "(\(shape[0]),)"
        default: "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
    }

    private enum Value {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        let file: String
        var index = 0

        init(scalars: [Unicode.Scalar], file: String) {
            self.scalars = scalars
            self.file = file
        }

        func fail(_ message: String) -> NumPyError {
            NumPyError(.malformedHeader, file: file, location: "header", message)
        }

        mutating func skipSpace() {
            while index < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[index]) { index += 1 }
        }

        mutating func expect(_ scalar: Unicode.Scalar) throws(NumPyError) {
            skipSpace()
            guard index < scalars.count else { throw fail("expected '\(scalar)', found the end of the header") }
            guard scalars[index] == scalar else {
                throw fail("expected '\(scalar)' at character \(index), found '\(scalars[index])'")
            }
            index += 1
        }

        /// Consumes `scalar` if it is next (after spaces); returns whether it did.
        mutating func accept(_ scalar: Unicode.Scalar) -> Bool {
            skipSpace()
            if index < scalars.count, scalars[index] == scalar {
                index += 1
                return true
            }
            return false
        }

        mutating func parseHeader() throws(NumPyError) -> NPYHeader {
            try expect("{")
            var descr: String?
            var fortranOrder: Bool?
            var shape: [Int]?
            while !accept("}") {
                guard case .string(let key) = try parseValue() else { throw fail("dict keys must be strings") }
                try expect(":")
                let value = try parseValue()
                switch (key, value) {
                case ("descr", .string(let text)) where descr == nil: descr = text
                case ("fortran_order", .bool(let flag)) where fortranOrder == nil: fortranOrder = flag
                case ("shape", .tuple(let dims)) where shape == nil: shape = dims
                case ("descr", _), ("fortran_order", _), ("shape", _):
                    throw fail("key '\(key)' is repeated or has the wrong type")
                default:
                    throw fail("unexpected key '\(key)', expected only 'descr', 'fortran_order' and 'shape'")
                }
                if !accept(",") {
                    try expect("}")
                    break
                }
            }
            skipSpace()
            guard index == scalars.count else { throw fail("unexpected text after the closing '}'") }
            guard let descr, let fortranOrder, let shape else {
                let missing = [("descr", descr == nil), ("fortran_order", fortranOrder == nil), ("shape", shape == nil)]
                    .filter(\.1).map(\.0).joined(separator: ", ")
                throw fail("missing key(s) \(missing)")
            }
            return NPYHeader(descr: descr, fortranOrder: fortranOrder, shape: shape)
        }

        mutating func parseValue() throws(NumPyError) -> Value {
            skipSpace()
            guard index < scalars.count else { throw fail("expected a value, found the end of the header") }
            let first = scalars[index]
            switch first {
            case "'", "\"":
                return .string(try parseString(quote: first))
            case "(":
                return .tuple(try parseTuple())
            case "T", "F":
                for (word, flag) in [("True", true), ("False", false)] where hasWord(word) {
                    index += word.unicodeScalars.count
                    return .bool(flag)
                }
                throw fail("unexpected word at character \(index)")
            case "[":
                throw NumPyError(.unsupportedDType, file: file, location: "header", "structured dtypes are not supported")
            default:
                throw fail("unexpected '\(first)' at character \(index)")
            }
        }

        func hasWord(_ word: String) -> Bool {
            let wordScalars = Array(word.unicodeScalars)
            guard index + wordScalars.count <= scalars.count else { return false }
            return Array(scalars[index..<(index + wordScalars.count)]) == wordScalars
        }

        mutating func parseString(quote: Unicode.Scalar) throws(NumPyError) -> String {
            index += 1
            var text = String.UnicodeScalarView()
            while index < scalars.count {
                let scalar = scalars[index]
                index += 1
                if scalar == quote { return String(text) }
                guard scalar != "\\", scalar != "\n" else { throw fail("escapes and newlines in strings are not supported") }
                text.append(scalar)
            }
            throw fail("unterminated string")
        }

        mutating func parseTuple() throws(NumPyError) -> [Int] {
            try expect("(")
            var values: [Int] = []
            if accept(")") { return values }
            while true {
                values.append(try parseInteger())
                let hadComma = accept(",")
                if accept(")") {
                    guard hadComma || values.count > 1 else {
                        throw fail("shape '(\(values[0]))' is not a tuple, expected '(\(values[0]),)'")
                    }
                    return values
                }
                guard hadComma else { throw fail("expected ',' or ')' in the shape tuple") }
            }
        }

        mutating func parseInteger() throws(NumPyError) -> Int {
            skipSpace()
            var digits = ""
            while index < scalars.count, ("0"..."9").contains(scalars[index]) {
                digits.unicodeScalars.append(scalars[index])
                index += 1
            }
            guard !digits.isEmpty else { throw fail("expected a non-negative integer at character \(index)") }
            if index < scalars.count, scalars[index] == "L" { index += 1 }  // Python 2 long suffix
            guard digits.count <= 19, let value = Int(digits) else {
                throw NumPyError(.tooLarge, file: file, location: "header", "dimension \(digits) is too large")
            }
            return value
        }
    }
}
