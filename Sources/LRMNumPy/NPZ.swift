import Foundation
internal import ZIPFoundation

/// Reading and writing `.npz` archives: ZIP files holding one `.npy` file per array (stored or deflated),
/// as written by `numpy.savez` and `numpy.savez_compressed`.
public enum NPZ {
    /// The largest uncompressed entry this reader extracts, in bytes. Checked while inflating, so an
    /// entry that lies about its size cannot exhaust memory.
    public static let maxEntryByteCount: UInt64 = 1 << 34

    /// Reads every array in the `.npz` archive at `path`, keyed by entry name without the `.npy` suffix
    /// (`x.npy` → `x`). Entries not ending in `.npy` are ignored.
    ///
    /// - Throws: ``NumPyError`` naming the archive and the entry.
    public static func read(path: String) throws(NumPyError) -> [String: NumPyArray] {
        // Existence, directory and readability checked with clear errors, without reading the archive: it is read once,
        // by the extraction below.
        try NPY.checkIsFile(path)
        guard try NPYFileReader(path: path) != nil else {
            throw NumPyError(.unreadable, file: path, "not a regular file: an .npz archive is read from a file (its index is at its end)")
        }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch Archive.ArchiveError.missingEndOfCentralDirectoryRecord {
            // What an .npz cut short gives (and any file that is not a ZIP archive): the record is a ZIP file's last part.
            throw NumPyError(.badArchive, file: path, "not a readable ZIP archive: it has no end-of-central-directory record, "
                             + "the index a ZIP file ends with (the file is truncated, corrupt or not an .npz)")
        } catch {
            throw NumPyError(.badArchive, file: path, "not a readable ZIP archive (\(error))")
        }
        var arrays: [String: NumPyArray] = [:]
        for entry in archive where entry.type == .file && entry.path.hasSuffix(".npy") {
            let key = String(entry.path.dropLast(4))
            guard arrays[key] == nil else {
                throw NumPyError(.badArchive, file: path, location: entry.path, "entry appears twice")
            }
            let data = try extract(entry, from: archive, file: path)
            arrays[key] = try NPY.decode(data, file: "\(path): \(entry.path)")
        }
        return arrays
    }

    /// Writes `arrays` to `path` as an uncompressed `.npz` archive (entries `KEY.npy`, in key order),
    /// replacing any existing file. Readable by `numpy.load`.
    public static func write(_ arrays: [String: NumPyArray], to path: String) throws(NumPyError) {
        let url = URL(fileURLWithPath: path)
        do {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(at: url) }
            let archive = try Archive(url: url, accessMode: .create)
            for key in arrays.keys.sorted() {
                guard let array = arrays[key] else { continue }
                let data = NPY.encode(array)
                try archive.addEntry(with: key + ".npy", type: .file, uncompressedSize: Int64(data.count),
                                     compressionMethod: .none) { position, size in
                    data.subdata(in: Int(position)..<Int(position) + size)
                }
            }
        } catch {
            throw NumPyError(.writeFailed, file: path, "could not write the archive (\(error))")
        }
    }

    /// deflate's largest possible expansion: no entry can hold more than this many times its compressed size.
    static let maxCompressionRatio: UInt64 = 1032

    private static func extract(_ entry: Entry, from archive: Archive, file: String) throws(NumPyError) -> Data {
        guard entry.uncompressedSize <= maxEntryByteCount else {
            throw NumPyError(.tooLarge, file: file, location: entry.path,
                             "entry claims \(entry.uncompressedSize) bytes, expected at most \(maxEntryByteCount)")
        }
        // Checked before anything is inflated: a size no compressed stream of this length can produce.
        let (capacity, overflow) = max(entry.compressedSize, 1).multipliedReportingOverflow(by: maxCompressionRatio)
        guard overflow || entry.uncompressedSize <= capacity else {
            throw NumPyError(.tooLarge, file: file, location: entry.path,
                             "entry claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed, "
                             + "more than deflate's \(maxCompressionRatio):1 can expand")
        }
        var data = Data()
        do {
            let checksum = try archive.extract(entry) { chunk in
                guard UInt64(data.count) + UInt64(chunk.count) <= entry.uncompressedSize else {
                    throw NumPyError(.badArchive, file: file, location: entry.path,
                                     "entry inflates past its declared size of \(entry.uncompressedSize) bytes")
                }
                data.append(chunk)
            }
            guard checksum == entry.checksum else {
                throw NumPyError(.badArchive, file: file, location: entry.path, "CRC-32 mismatch, expected \(entry.checksum), found \(checksum)")
            }
        } catch let error as NumPyError {
            throw error
        } catch {
            throw NumPyError(.badArchive, file: file, location: entry.path, "could not extract the entry (\(error))")
        }
        guard UInt64(data.count) == entry.uncompressedSize else {
            throw NumPyError(.badArchive, file: file, location: entry.path,
                             "entry has \(data.count) bytes, expected \(entry.uncompressedSize)")
        }
        return data
    }
}
