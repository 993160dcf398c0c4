import ArgumentParser
import LRMFormat

/// `--meta KEY=VALUE` (repeatable) on `convert` and `import`: free-form user metadata stored in the
/// file (spec/FORMAT.md §3.2), shown by `inspect` and compared by `diff`.
struct UserMetadataOptions: ParsableArguments {
    @Option(name: .customLong("meta"), help: ArgumentHelp(
        "Store KEY=VALUE in the file's user metadata (repeatable; KEY 1 to 1024 bytes without '=', VALUE up to 1 MiB). Replaces an entry of the same key the input had.",
        valueName: "key=value"))
    var entries: [String] = []

    /// The most bytes of a key (a format `name`) and of a value (a format `str`).
    static let maxKeyBytes = 1024
    static let maxValueBytes = 1 << 20

    func validate() throws { _ = try parsed() }

    /// The entries as a dictionary; a malformed, oversized or repeated key is a usage error.
    func parsed() throws -> [(key: String, value: String)] {
        var seen = Set<String>()
        return try entries.map { entry in
            guard let equals = entry.firstIndex(of: "=") else {
                throw ValidationError("--meta '\(escaped(entry))': expected KEY=VALUE")
            }
            let key = String(entry[..<equals]), value = String(entry[entry.index(after: equals)...])
            guard !key.isEmpty, key.utf8.count <= Self.maxKeyBytes else {
                throw ValidationError("--meta '\(escaped(String(entry.prefix(60))))': the key must be 1 to \(Self.maxKeyBytes) bytes, found \(key.utf8.count)")
            }
            guard value.utf8.count <= Self.maxValueBytes else {
                throw ValidationError("--meta \(escaped(key)): the value is \(value.utf8.count) bytes, at most \(Self.maxValueBytes)")
            }
            guard seen.insert(key).inserted else { throw ValidationError("--meta \(escaped(key)) is given twice") }
            return (key, value)
        }
    }

    /// Adds the entries to `model`'s user metadata (replacing the same keys).
    func apply(to model: inout Model) throws {
        for (key, value) in try parsed() { model.userMetadata[key] = value }
    }

    /// The options again, for the Keras reader child (each value joined to its option).
    var arguments: [String] { entries.map { "--meta=\($0)" } }
}
