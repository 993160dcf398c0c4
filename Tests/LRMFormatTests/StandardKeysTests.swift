import Foundation
import Testing
import LRMFormat

/// The standard metadata keys are written down three times: the spec's table, the Swift reader's types and the
/// independent Python reader's. A key added to one and not the others would be accepted by one reader and
/// refused by the other.
@Suite("Standard metadata keys")
struct StandardKeysTests {
    /// `key: type` pairs of lines matching `pattern` (capture groups 1 and 2) in the file at `path`.
    func pairs(_ path: String, _ pattern: String) throws -> [String: String] {
        let text = try String(contentsOfFile: packageRoot + "/" + path, encoding: .utf8)
        let regex = try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        var found: [String: String] = [:]
        for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let key = Range(match.range(at: 1), in: text), let type = Range(match.range(at: 2), in: text) else { continue }
            found[String(text[key])] = String(text[type])
        }
        return found
    }

    @Test("spec/FORMAT.md's table, MetadataKey.standardTypes and the Python reader's STANDARD_KEYS list the same keys with the same types")
    func sameEverywhere() throws {
        let spec = try pairs("spec/FORMAT.md", #"^\| `([a-z0-9_.]+)` \| (string|int|float|bool|string\[\]|int\[\]) \|"#)
        let python = try pairs("tools/python/lrm/reader.py", #"^    "([a-z0-9_.]+)": "(string|int|float|bool|string\[\]|int\[\])",\s*(#.*)?$"#)
        #expect(spec.count >= 30, "the spec's table was not found: \(spec.count) keys")
        #expect(spec == MetadataKey.standardTypes)
        #expect(python == MetadataKey.standardTypes)
        for key in Set(spec.keys).symmetricDifference(MetadataKey.standardTypes.keys) { Issue.record("spec vs Swift: \(key)") }
        for key in Set(python.keys).symmetricDifference(MetadataKey.standardTypes.keys) { Issue.record("Python vs Swift: \(key)") }
    }
}
