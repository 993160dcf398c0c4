import LRMHDF5
import Foundation
import LRMFormat
import ZIPFoundation

/// A `.keras` file: a ZIP archive with `config.json` (the architecture), `metadata.json` (Keras version)
/// and `model.weights.h5` (weights in the Keras 3 layout). Members are read by name only; nothing is
/// extracted to a path taken from the archive.
struct KerasArchive {
    /// The largest `config.json` / `metadata.json` read, in bytes.
    static let maxJSONByteCount: UInt64 = 1 << 26
    /// The largest `model.weights.h5` extracted, in bytes.
    static let maxWeightsByteCount: UInt64 = 1 << 36
    /// deflate's largest possible expansion: no member can hold more than this many times its compressed size.
    static let maxCompressionRatio: UInt64 = 1032
    /// The most `model.weights.h5` may expand to, relative to the whole archive: 64 times (real weights
    /// compress less than 2:1; Keras stores them uncompressed), but at least ``minExpansionCap`` bytes.
    static let maxArchiveExpansion: UInt64 = 64
    static let minExpansionCap: UInt64 = 64 << 20

    /// Refuses a member whose declared size no compressed stream of its length can produce, before anything
    /// is extracted.
    private func checkRatio(_ entry: Entry, _ name: String) throws(KerasImportError) {
        let (capacity, overflow) = max(entry.compressedSize, 1).multipliedReportingOverflow(by: KerasArchive.maxCompressionRatio)
        guard overflow || entry.uncompressedSize <= capacity else {
            throw KerasImportError(.invalidArchive, file: path, location: name,
                                   "member claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed, "
                                   + "more than deflate's \(KerasArchive.maxCompressionRatio):1 can expand")
        }
    }

    let path: String
    let archive: Archive

    init(path: String) throws(KerasImportError) {
        self.path = path
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch Archive.ArchiveError.missingEndOfCentralDirectoryRecord {
            // What a .keras file cut short gives: the record is the last thing a ZIP file holds.
            throw KerasImportError(.invalidArchive, file: path, "not a readable ZIP archive: it has no end-of-central-directory "
                                   + "record, the index a ZIP file ends with (the file is truncated or corrupt)")
        } catch {
            throw KerasImportError(.invalidArchive, file: path, "not a readable ZIP archive (\(error))")
        }
        try refuseDuplicateMembers()
    }

    /// The architecture from `config.json`, with the Keras version from `metadata.json` when present.
    func architecture() throws(KerasImportError) -> KerasArchitecture {
        guard let configData = try member("config.json") else {
            throw KerasImportError(.invalidArchive, file: path, "the archive has no 'config.json', expected a .keras file")
        }
        var architecture = try KerasConfigParser.parse(configData, source: "\(path): config.json")
        if let metadataData = try member("metadata.json"), let metadata = try? JSONValue.parse(metadataData) {
            architecture.kerasVersion = metadata["keras_version"]?.string
            architecture.backend = metadata["backend"]?.string
        }
        return architecture
    }

    /// Extracts `model.weights.h5` into a new file in the temporary directory and returns its path.
    /// The caller removes it.
    func extractWeights() throws(KerasImportError) -> String {
        let name = "model.weights.h5"
        guard let entry = archive[name], entry.type == .file else {
            throw KerasImportError(.invalidArchive, file: path, "the archive has no '\(name)'")
        }
        guard entry.uncompressedSize <= KerasArchive.maxWeightsByteCount else {
            throw KerasImportError(.invalidArchive, file: path, location: name,
                                   "member claims \(entry.uncompressedSize) bytes, expected at most \(KerasArchive.maxWeightsByteCount)")
        }
        try checkRatio(entry, name)
        let archiveBytes = UInt64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0)
        let (scaled, overflow) = archiveBytes.multipliedReportingOverflow(by: KerasArchive.maxArchiveExpansion)
        let cap = max(overflow ? UInt64.max : scaled, KerasArchive.minExpansionCap)
        guard entry.uncompressedSize <= cap else {
            throw KerasImportError(.invalidArchive, file: path, location: name,
                                   "member claims \(entry.uncompressedSize) bytes from an archive of \(archiveBytes), more than "
                                   + "\(KerasArchive.maxArchiveExpansion) times its size (real weights compress less than 2:1)")
        }
        let directory = FileManager.default.temporaryDirectory.path
        var space = statvfs()
        if statvfs(directory, &space) == 0 {
            let free = UInt64(space.f_bavail) * UInt64(space.f_frsize)
            guard entry.uncompressedSize <= free else {
                throw KerasImportError(.noSpace, file: path, location: name,
                                       "extracting the weights needs \(entry.uncompressedSize) bytes in \(directory), which has \(free) free")
            }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-keras-\(UUID().uuidString).weights.h5")
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw KerasImportError(.noSpace, file: path, location: name,
                                   "could not create a temporary file in \(directory): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var written: UInt64 = 0
        do {
            let checksum = try archive.extract(entry) { chunk in
                written += UInt64(chunk.count)
                guard written <= entry.uncompressedSize else {
                    throw KerasImportError(.invalidArchive, file: path, location: name, "member inflates past its declared size")
                }
                try chunk.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                    var offset = 0
                    while offset < bytes.count {
                        let count = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                        if count < 0 && errno == EINTR { continue }
                        guard count > 0 else {
                            let code = count < 0 ? errno : ENOSPC
                            let kind: KerasImportError.Kind = code == ENOSPC || code == EDQUOT ? .noSpace : .invalidArchive
                            throw KerasImportError(kind, file: path, location: name,
                                                   "could not write the extracted weights to \(directory): \(String(cString: strerror(code)))")
                        }
                        offset += count
                    }
                }
            }
            guard checksum == entry.checksum, written == entry.uncompressedSize else {
                throw KerasImportError(.invalidArchive, file: path, location: name, "member is corrupt (CRC-32 or size mismatch)")
            }
        } catch {
            try? FileManager.default.removeItem(at: url)
            if let error = error as? KerasImportError { throw error }
            throw KerasImportError(.invalidArchive, file: path, location: name, "could not extract the member (\(error))")
        }
        return url.path
    }

    /// The bytes of a small member, or `nil` when the archive has no such member.
    private func member(_ name: String) throws(KerasImportError) -> Data? {
        guard let entry = archive[name], entry.type == .file else { return nil }
        guard entry.uncompressedSize <= KerasArchive.maxJSONByteCount else {
            throw KerasImportError(.invalidArchive, file: path, location: name, "member is \(entry.uncompressedSize) bytes, expected at most \(KerasArchive.maxJSONByteCount)")
        }
        try checkRatio(entry, name)
        var data = Data()
        do {
            let checksum = try archive.extract(entry) { chunk in
                guard UInt64(data.count + chunk.count) <= entry.uncompressedSize else {
                    throw KerasImportError(.invalidArchive, file: path, location: name, "member inflates past its declared size")
                }
                data.append(chunk)
            }
            guard checksum == entry.checksum else {
                throw KerasImportError(.invalidArchive, file: path, location: name, "member is corrupt (CRC-32 mismatch)")
            }
        } catch {
            if let error = error as? KerasImportError { throw error }
            throw KerasImportError(.invalidArchive, file: path, location: name, "could not read the member (\(error))")
        }
        return data
    }
}
