import Foundation

/// What a file is, judged from its first bytes, before any library is handed the file.
package enum FileSignature: Equatable {
    /// The HDF5 superblock signature at offset 0 or at a user-block offset (512, 1024, 2048, …).
    case hdf5
    /// A ZIP archive (`PK\x03\x04`, or the end record of an empty archive).
    case zip
    /// A zero-byte file.
    case empty
    /// Anything else; the text names what the bytes look like (`a PNG image`, `bytes 00 01 …`).
    case other(String)

    /// The eight bytes that start an HDF5 superblock.
    package static let hdf5Magic: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Sniffs the file at `path`. The caller has checked that it exists and is a regular file.
    package static func sniff(path: String) throws(HDF5Error) -> FileSignature {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw HDF5Error(.openFailed, file: path, "could not open the file for reading")
        }
        defer { try? handle.close() }
        let size: UInt64
        do {
            size = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
        } catch {
            throw HDF5Error(.openFailed, file: path, "could not read the file: \(error.localizedDescription)")
        }
        if size == 0 { return .empty }
        let head = (try? handle.read(upToCount: 16)).map { [UInt8]($0) } ?? []
        if head.starts(with: hdf5Magic) { return .hdf5 }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zip }
        // HDF5 allows a user block of 512·2ⁿ bytes before the superblock.
        var offset: UInt64 = 512
        while offset + 8 <= size {
            guard (try? handle.seek(toOffset: offset)) != nil,
                  let bytes = try? handle.read(upToCount: 8) else { break }
            if [UInt8](bytes) == hdf5Magic { return .hdf5 }
            offset *= 2
        }
        // A file cut short inside a signature: say so, rather than list its bytes.
        if size < UInt64(hdf5Magic.count), hdf5Magic.starts(with: head) {
            return .other("only \(size) byte\(size == 1 ? "" : "s"), the start of an HDF5 signature: the file is truncated")
        }
        if size < 4, [0x50, 0x4B, 0x03, 0x04].starts(with: head) {
            return .other("only \(size) byte\(size == 1 ? "" : "s"), the start of a ZIP archive's signature: the file is truncated")
        }
        return .other(describe(head))
    }

    /// Names common file types, else lists the first bytes in hex.
    package static func describe(_ head: [UInt8]) -> String {
        let known: [([UInt8], String)] = [
            ([0x89, 0x50, 0x4E, 0x47], "a PNG image"), ([0xFF, 0xD8, 0xFF], "a JPEG image"),
            ([0x47, 0x49, 0x46, 0x38], "a GIF image"), ([0x25, 0x50, 0x44, 0x46], "a PDF document"),
            ([0x1F, 0x8B], "a gzip file"), ([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59], "a NumPy .npy file"),
            ([0x7B], "text starting with '{' (JSON?)"),
        ]
        for (magic, name) in known where head.starts(with: magic) { return name }
        return "bytes " + head.prefix(8).map { String(format: "%02X", $0) }.joined(separator: " ")
    }
}
