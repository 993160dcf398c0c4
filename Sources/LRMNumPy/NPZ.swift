import Foundation
internal import ZIPFoundation

/// Reading and writing `.npz` archives: ZIP files holding one `.npy` file per array (stored or deflated),
/// as written by `numpy.savez` and `numpy.savez_compressed`.
public enum NPZ {
    /// The largest uncompressed entry this reader extracts, in bytes: checked, with what else a member claims, before
    /// anything is extracted or allocated (``NPZArchive``), and each piece extracted against the member's declared size.
    public static let maxEntryByteCount: UInt64 = 1 << 34

    /// Reads every array in the `.npz` archive at `path`, keyed by entry name without the `.npy` suffix
    /// (`x.npy` → `x`). Entries not ending in `.npy` are ignored. Each is decoded as it is extracted
    /// (``NPZArchive``).
    ///
    /// - Throws: ``NumPyError`` naming the archive and the entry.
    public static func read(path: String) throws(NumPyError) -> [String: NumPyArray] {
        let archive = try NPZArchive(path: path)
        var arrays: [String: NumPyArray] = [:]
        for key in archive.keys { arrays[key] = try archive.read(key) }
        return arrays
    }

    /// Writes `arrays` to `path` as an `.npz` archive (entries `KEY.npy`, in key order), stored as `numpy.savez` writes
    /// them, or deflated as `numpy.savez_compressed` does (`compressed`), replacing any existing file. Readable by
    /// `numpy.load`.
    public static func write(_ arrays: [String: NumPyArray], to path: String, compressed: Bool = false) throws(NumPyError) {
        try write(members: arrays.sorted { $0.key < $1.key }.map { key, array in (key + ".npy", { NPY.encode(array) }) },
                  to: path, compressed: compressed)
    }

    /// Writes an archive of `members` in their order, each's bytes made when it is written.
    static func write(members: [(name: String, bytes: () -> Data)], to path: String, compressed: Bool) throws(NumPyError) {
        let url = URL(fileURLWithPath: path)
        do {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(at: url) }
            let archive = try Archive(url: url, accessMode: .create)
            for (name, bytes) in members {
                let data = bytes()
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count),
                                     compressionMethod: compressed ? .deflate : .none) { position, size in
                    data.subdata(in: Int(position)..<Int(position) + size)
                }
            }
        } catch {
            throw NumPyError(.writeFailed, file: path, "could not write the archive (\(error))")
        }
    }

    /// deflate's largest possible expansion: no entry can hold more than this many times its compressed size.
    static let maxCompressionRatio: UInt64 = 1032
}

/// An `.npz` archive opened once: its `.npy` members listed by name, each read on request and decoded as it is
/// extracted (stored or inflated), a piece at a time, into its array, so that reading one costs its array and not its
/// bytes as well. What a member claims is checked before anything is extracted or allocated: its size against
/// ``NPZ/maxEntryByteCount``, its compressed bytes against the archive's size, its size against what they can
/// expand to (deflate's 1032:1; a stored member's bytes are its compressed bytes). A member is checked whole (its
/// size and CRC-32) before a fault in its `.npy` header or data is reported, as when it was extracted, then decoded.
public struct NPZArchive {
    /// The archive's path, as errors name it.
    public let path: String
    /// The arrays' names, in archive order: the `.npy` members' paths without the suffix (`x.npy` → `x`).
    public let keys: [String]
    /// The archive's size in bytes when it was opened.
    let byteCount: Int
    private let archive: Archive
    private let entries: [String: Entry]

    /// Opens the archive at `path` and lists its members, reading nothing but its index.
    ///
    /// - Throws: ``NumPyError``: `unreadable` (no such file, a directory, not a regular file, cannot be opened),
    ///   `badArchive` (not a ZIP archive, a name twice).
    public init(path: String) throws(NumPyError) {
        // Existence, directory and readability checked with clear errors, without reading the archive: it is read
        // once, by the extraction of its members.
        try NPY.checkIsFile(path)
        guard let file = try NPYFileReader(path: path) else {
            throw NumPyError(.unreadable, file: path, "not a regular file: an .npz archive is read from a file (its index is at its end)")
        }
        self.path = path
        byteCount = file.byteCount
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch Archive.ArchiveError.missingEndOfCentralDirectoryRecord {
            // What an .npz cut short gives (and any file that is not a ZIP archive): the record is a ZIP file's last part.
            throw NumPyError(.badArchive, file: path, "not a readable ZIP archive: it has no end-of-central-directory record, "
                             + "the index a ZIP file ends with (the file is truncated, corrupt or not an .npz)")
        } catch {
            throw NumPyError(.badArchive, file: path, "not a readable ZIP archive (\(error))")
        }
        var keys: [String] = [], entries: [String: Entry] = [:]
        for entry in archive where entry.type == .file && entry.path.hasSuffix(".npy") {
            let key = String(entry.path.dropLast(4))
            guard entries[key] == nil else {
                throw NumPyError(.badArchive, file: path, location: entry.path, "entry appears twice")
            }
            keys.append(key)
            entries[key] = entry
        }
        self.keys = keys
        self.entries = entries
    }

    /// The array named `key`, in its stored type.
    public func read(_ key: String) throws(NumPyError) -> NumPyArray {
        try read(key, chunkByteCount: NPY.readChunkByteCount)
    }

    /// The values of the array named `key` converted to `Float` as it is extracted: what ``NumPyArray/floatValues()``
    /// gives, without the array in its stored type.
    public func readFloat32(_ key: String) throws(NumPyError) -> (shape: [Int], values: [Float]) {
        try readConverted(key, chunkByteCount: NPY.readChunkByteCount)
    }

    /// The values of the array named `key` converted to `Double` as it is extracted: what
    /// ``NumPyArray/doubleValues()`` gives, without the array in its stored type.
    public func readFloat64(_ key: String) throws(NumPyError) -> (shape: [Int], values: [Double]) {
        try readConverted(key, chunkByteCount: NPY.readChunkByteCount)
    }

    /// The values of the array named `key` in the narrower of `Float` and `Double` that holds its type exactly
    /// (``ExactValues``), converted as it is extracted.
    public func readExact(_ key: String) throws(NumPyError) -> (shape: [Int], values: ExactValues) {
        let member = try self.member(key)
        return try NPY.readExact(from: member, try member.layout(), chunkByteCount: NPY.readChunkByteCount)
    }

    func read(_ key: String, chunkByteCount: Int) throws(NumPyError) -> NumPyArray {
        let member = try self.member(key)
        return try NPY.read(from: member, try member.layout(), chunkByteCount: chunkByteCount)
    }

    func readConverted<F: BinaryFloatingPoint>(_ key: String, chunkByteCount: Int) throws(NumPyError) -> (shape: [Int], values: [F]) {
        let member = try self.member(key)
        return try NPY.readConverted(from: member, try member.layout(), chunkByteCount: chunkByteCount)
    }

    /// The member holding `key`, once what it claims is checked.
    func member(_ key: String) throws(NumPyError) -> NPZMember {
        guard let entry = entries[key] else {
            throw NumPyError(.badArchive, file: path, "no array named '\(key)' (it holds \(keys.isEmpty ? "none" : keys.joined(separator: ", ")))")
        }
        guard entry.uncompressedSize <= NPZ.maxEntryByteCount else {
            throw NumPyError(.tooLarge, file: path, location: entry.path,
                             "entry claims \(entry.uncompressedSize) bytes, expected at most \(NPZ.maxEntryByteCount)")
        }
        // Checked before anything is read: a size no compressed stream of this length can produce, bytes the archive
        // cannot hold. Past these, a member's array is allocated for at most 1032 times bytes that are in the file.
        let (capacity, overflow) = max(entry.compressedSize, 1).multipliedReportingOverflow(by: NPZ.maxCompressionRatio)
        guard overflow || entry.uncompressedSize <= capacity else {
            throw NumPyError(.tooLarge, file: path, location: entry.path,
                             "entry claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed, "
                             + "more than deflate's \(NPZ.maxCompressionRatio):1 can expand")
        }
        guard entry.compressedSize <= UInt64(byteCount) else {
            throw NumPyError(.tooLarge, file: path, location: entry.path,
                             "entry claims \(entry.compressedSize) compressed bytes, more than the archive's \(byteCount)")
        }
        guard entry.isCompressed || entry.uncompressedSize <= UInt64(byteCount) else {
            throw NumPyError(.tooLarge, file: path, location: entry.path,
                             "stored entry claims \(entry.uncompressedSize) bytes, more than the archive's \(byteCount)")
        }
        return NPZMember(archive: archive, entry: entry, archivePath: path)
    }
}

/// One `.npy` member of an `.npz` archive, decoded as ZIPFoundation extracts it (reads a stored member, inflates a
/// deflated one) a piece at a time: its header from its first bytes (``layout()``), its data handed on as they come
/// (``forEachDataPiece(_:chunkByteCount:_:)``). Every extraction checks each piece against the declared size, and
/// at its end the CRC-32 and the size; a fault in the `.npy` bytes is reported after these, as when the member was
/// extracted whole before it was decoded.
struct NPZMember: NPYDataSource {
    let archive: Archive
    let entry: Entry
    let archivePath: String

    var name: String { "\(archivePath): \(entry.path)" }

    /// Ends an extraction early, once the header's bytes are in.
    private struct Enough: Error {}

    /// Extracts the member, `bufferSize` bytes a piece, handing each to `consumer`; then checks the CRC-32 and the
    /// size. Returns false, unchecked, when `consumer` ended it by throwing ``Enough``.
    @discardableResult
    private func extract(bufferSize: Int, _ consumer: (Data) throws -> Void) throws(NumPyError) -> Bool {
        var extracted: UInt64 = 0
        do {
            let checksum = try archive.extract(entry, bufferSize: max(1, bufferSize)) { chunk in
                guard extracted + UInt64(chunk.count) <= entry.uncompressedSize else {
                    throw NumPyError(.badArchive, file: archivePath, location: entry.path,
                                     "entry inflates past its declared size of \(entry.uncompressedSize) bytes")
                }
                extracted += UInt64(chunk.count)
                try consumer(chunk)
            }
            guard checksum == entry.checksum else {
                throw NumPyError(.badArchive, file: archivePath, location: entry.path, "CRC-32 mismatch, expected \(entry.checksum), found \(checksum)")
            }
        } catch is Enough {
            return false
        } catch let error as NumPyError {
            throw error
        } catch {
            throw NumPyError(.badArchive, file: archivePath, location: entry.path, "could not extract the entry (\(error))")
        }
        guard extracted == entry.uncompressedSize else {
            throw NumPyError(.badArchive, file: archivePath, location: entry.path,
                             "entry has \(extracted) bytes, expected \(entry.uncompressedSize)")
        }
        return true
    }

    /// The member's header, checked against its declared size as ``NPY/decode(_:file:)`` checks a file's bytes: from
    /// its first `12 + NPY.maxHeaderByteCount` bytes (the extraction stops there). A fault in it is reported once the
    /// whole member has been extracted and checked (and found sound).
    func layout() throws(NumPyError) -> NPY.Layout {
        let wanted = Int(min(entry.uncompressedSize, UInt64(12 + NPY.maxHeaderByteCount)))
        var prefix: [UInt8] = []
        prefix.reserveCapacity(wanted)
        try extract(bufferSize: 16 << 10) { chunk in
            prefix += chunk.prefix(wanted - prefix.count)
            if prefix.count == wanted { throw Enough() }
        }
        do {
            return try NPY.layout(prefix: prefix, byteCount: Int(entry.uncompressedSize), file: name)
        } catch {
            try extract(bufferSize: NPY.readChunkByteCount) { _ in }
            throw error
        }
    }

    /// The bytes after the header, `chunkByteCount` at a time as ZIPFoundation hands them on (an element may be split
    /// between two pieces). An error from `body` stops the decoding, not the extraction: it is thrown once the member
    /// has been checked whole.
    func forEachDataPiece(_ layout: NPY.Layout, chunkByteCount: Int,
                          _ body: (UnsafeRawBufferPointer) throws(NumPyError) -> Void) throws(NumPyError) {
        var position = 0
        var failure: NumPyError?
        try extract(bufferSize: chunkByteCount) { chunk in
            defer { position += chunk.count }
            guard failure == nil, position + chunk.count > layout.dataStart else { return }
            let skipped = max(0, layout.dataStart - position)
            chunk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                do throws(NumPyError) {
                    try body(UnsafeRawBufferPointer(rebasing: raw[skipped...]))
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
    }
}
