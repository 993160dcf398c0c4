public import Foundation

/// A checksum list in `sha256sum` format: one `<64 hex digits><space><space or *><path>` line per
/// file, paths relative to the list's folder. Blank lines and lines starting with `#` are skipped.
public struct SHA256Sums: Sendable, Equatable {
    /// One listed file.
    public struct Entry: Sendable, Equatable {
        /// Path relative to the folder of the list, with `/` separators.
        public var path: String
        /// Lower-case hex SHA-256.
        public var digest: String
    }

    /// The listed files, in file order.
    public var entries: [Entry]

    /// The largest list read (bytes).
    static let maximumFileByteCount = 1 << 20

    public init(entries: [Entry]) { self.entries = entries }

    /// Parses the text of a list; `source` names it in errors.
    /// - Throws: `DatasetError.badChecksumList` naming the line.
    public static func parse(_ text: String, source: String) throws -> SHA256Sums {
        var entries: [Entry] = []
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let hexDigits = line.prefix(64)
            let rest = line.dropFirst(64)
            guard hexDigits.count == 64, hexDigits.allSatisfy(\.isHexDigit),
                  rest.hasPrefix("  ") || rest.hasPrefix(" *"), rest.count > 2 else {
                throw DatasetError(.badChecksumList, "line \(number + 1)", path: source,
                                   expected: "<64 hex digits>  <path>", found: "\"\(line.prefix(100))\"")
            }
            entries.append(Entry(path: String(rest.dropFirst(2)), digest: hexDigits.lowercased()))
        }
        return SHA256Sums(entries: entries)
    }

    /// Reads and parses a list file.
    public static func read(from url: URL) throws -> SHA256Sums {
        let bytes = try FileByteStream.readAll(url, limit: maximumFileByteCount)
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw DatasetError(.badChecksumList, "not UTF-8 text", path: url.path)
        }
        return try parse(text, source: url.path)
    }

    /// The listed digest of `path` (relative, `/` separators), if listed.
    public func digest(for path: String) -> String? {
        entries.first { $0.path == path }?.digest
    }
}

/// The outcome of checking one file against `SHA256SUMS`.
public struct ChecksumResult: Sendable, Equatable {
    /// Path relative to the data folder.
    public var path: String
    /// The listed digest, or `nil` when the file is not listed.
    public var expected: String?
    /// The digest computed from the file.
    public var actual: String

    /// `true` when listed and equal, `false` when listed and different, `nil` when not listed.
    public var matches: Bool? { expected.map { $0 == actual } }
}

extension DataFolder {
    /// Hashes each of `dataset.files` and compares it with `<root>/SHA256SUMS`.
    ///
    /// - Returns: one result per file, in the data set's file order; files not in the list
    ///   come back with `expected == nil` (unverified, not an error).
    /// - Throws: `.notFound` if `SHA256SUMS` is missing, `.badChecksumList`, `.io`.
    public func checksums(of dataset: Dataset) throws -> [ChecksumResult] {
        let sums = try SHA256Sums.read(from: checksumsFile)
        return try dataset.files.map { file in
            let path = relativePath(of: file) ?? file.path
            return ChecksumResult(path: path, expected: sums.digest(for: path), actual: try SHA256.hexDigest(ofFileAt: file))
        }
    }

    /// Like `checksums(of:)`, but throws `.checksumMismatch` for the first file whose digest
    /// differs from the list, or that the list does not name.
    public func verifyChecksums(of dataset: Dataset) throws {
        for result in try checksums(of: dataset) where result.matches != true {
            throw DatasetError(.checksumMismatch, result.expected == nil ? "file not listed in SHA256SUMS" : "SHA-256",
                               path: root.appendingPathComponent(result.path).path,
                               expected: result.expected ?? "an entry in \(checksumsFile.path)", found: result.actual,
                               hint: "the file differs from the one the checksums were made for; fetch it again")
        }
    }
}

extension DataFolder {
    /// Checks each of `dataset.files` that `<root>/SHA256SUMS` lists against its listed digest, so that
    /// a changed or damaged data file is never used without a word. Nothing is checked when there is no
    /// list (it is optional), nor a file the list does not name. A file found equal is not hashed again
    /// in this process while its size and modification time stay the same.
    ///
    /// - Throws: `.checksumMismatch` naming the first listed file whose digest differs, with both digests;
    ///   `.badChecksumList`; `.io`.
    public func verifyListedChecksums(of dataset: Dataset) throws {
        try verifyListedChecksums(of: dataset.files)
    }

    /// The listed files in `directory` that exist, checked as `verifyListedChecksums(of:)` checks a data set's:
    /// when a data set fails to open, a listed file that differs from its digest is the better explanation
    /// than what its reader tripped on (a damaged `.gz` reads as a zlib error).
    public func verifyListedChecksums(in directory: URL) throws {
        guard FileManager.default.fileExists(atPath: checksumsFile.path), let folder = relativePath(of: directory) else { return }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        let files = try SHA256Sums.read(from: checksumsFile).entries.map(\.path).filter { $0.hasPrefix(prefix) }
            .map { root.appendingPathComponent($0) }.filter { FileManager.default.fileExists(atPath: $0.path) }
        try verifyListedChecksums(of: files)
    }

    private func verifyListedChecksums(of files: [URL]) throws {
        guard FileManager.default.fileExists(atPath: checksumsFile.path) else { return }
        let sums = try SHA256Sums.read(from: checksumsFile)
        for file in files {
            let path = relativePath(of: file) ?? file.path
            guard let expected = sums.digest(for: path) else { continue }
            let stamp = VerifiedFiles.stamp(of: file)
            if let stamp, VerifiedFiles.shared.contains(stamp) { continue }
            let actual = try SHA256.hexDigest(ofFileAt: file)
            guard actual == expected else {
                throw DatasetError(.checksumMismatch, "SHA-256 differs from \(checksumsFile.path)", path: file.path,
                                   expected: expected, found: actual,
                                   hint: "the file is not the one the checksums were made for: fetch it again "
                                       + "(python3 tools/fetch_datasets.py), or update the list if you changed it on purpose")
            }
            if let stamp { VerifiedFiles.shared.insert(stamp) }
        }
    }
}

/// Data files whose digest matched their list in this process, by path, size and modification time.
final class VerifiedFiles: @unchecked Sendable {
    static let shared = VerifiedFiles()
    private let lock = NSLock()
    private var stamps: Set<String> = []

    static func stamp(of file: URL) -> String? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path),
              let size = attributes[.size] as? NSNumber, let modified = attributes[.modificationDate] as? Date else { return nil }
        return "\(file.standardizedFileURL.path)\u{0}\(size)\u{0}\(modified.timeIntervalSince1970)"
    }

    func contains(_ stamp: String) -> Bool { lock.lock(); defer { lock.unlock() }; return stamps.contains(stamp) }
    func insert(_ stamp: String) { lock.lock(); defer { lock.unlock() }; stamps.insert(stamp) }
}
