import Foundation

/// Reading the IDX files of MNIST and Fashion-MNIST (raw or gzip-compressed).
///
/// Byte layout (all integers big-endian, unsigned 32-bit):
///
/// | offset | images file (magic `0x00000803`) | labels file (magic `0x00000801`) |
/// |---|---|---|
/// | 0 | magic: 0, 0, type `0x08` (unsigned byte), dimension count 3 | magic: 0, 0, `0x08`, 1 |
/// | 4 | image count N | label count N |
/// | 8 | rows (28) | labels: N bytes, 0–9 |
/// | 12 | columns (28) | |
/// | 16 | N × rows × columns pixel bytes, each image row-major | |
enum IDXReader {
    static let imagesMagic: UInt32 = 0x0000_0803
    static let labelsMagic: UInt32 = 0x0000_0801
    static let imagesHeaderByteCount = 16
    static let labelsHeaderByteCount = 8
    /// deflate's largest possible expansion (1032:1), to reject gzip files whose header
    /// promises more data than they can hold before any allocation.
    static let maximumDeflateRatio = 1032

    /// The images file's header, checked against the expected image size.
    struct ImagesHeader: Equatable {
        var count: Int
        var rows: Int
        var columns: Int
    }

    /// Reads and checks the images header; leaves `stream` at the first pixel.
    static func readImagesHeader(_ stream: any ByteStream, expectedRows: Int, expectedColumns: Int) throws -> ImagesHeader {
        var header = try stream.read(4, what: "the IDX images magic number")
        try checkMagic(header, expected: imagesMagic, path: stream.path, what: "images")
        header += try stream.read(imagesHeaderByteCount - 4, what: "the IDX images header")
        let count = Int(bigEndian32(header, at: 4))
        let rows = Int(bigEndian32(header, at: 8))
        let columns = Int(bigEndian32(header, at: 12))
        guard rows == expectedRows, columns == expectedColumns else {
            throw DatasetError(.badHeader, "image size in the IDX header", path: stream.path, byteOffset: 8,
                               expected: "\(expectedRows) × \(expectedColumns)", found: "\(rows) × \(columns)")
        }
        return ImagesHeader(count: count, rows: rows, columns: columns)
    }

    /// Reads and checks the labels header; returns the label count and leaves `stream` at the
    /// first label.
    static func readLabelsHeader(_ stream: any ByteStream) throws -> Int {
        var header = try stream.read(4, what: "the IDX labels magic number")
        try checkMagic(header, expected: labelsMagic, path: stream.path, what: "labels")
        header += try stream.read(labelsHeaderByteCount - 4, what: "the IDX labels header")
        return Int(bigEndian32(header, at: 4))
    }

    /// Checks that a file of `fileByteCount` bytes can hold `declaredByteCount` bytes of content:
    /// exactly for a raw file, within deflate's maximum ratio for a gzip file.
    static func checkSize(declaredByteCount: Int, fileByteCount: Int, gzip: Bool, path: String, what: String) throws {
        if gzip {
            let (capacity, overflow) = fileByteCount.multipliedReportingOverflow(by: maximumDeflateRatio)
            guard overflow || declaredByteCount <= capacity else {
                throw DatasetError(.truncated, "the header declares \(what) of \(declaredByteCount) bytes, more than "
                                   + "a gzip file of \(fileByteCount) bytes can hold", path: path,
                                   expected: "at most \(capacity) bytes", found: "\(declaredByteCount)")
            }
            return
        }
        if fileByteCount < declaredByteCount {
            throw DatasetError(.truncated, "file size for \(what)", path: path,
                               expected: "\(declaredByteCount) bytes", found: "\(fileByteCount)")
        }
        if fileByteCount > declaredByteCount {
            throw DatasetError(.trailingData, "file size for \(what)", path: path,
                               expected: "\(declaredByteCount) bytes", found: "\(fileByteCount)")
        }
    }

    /// Reads all `count` labels (growing the array as bytes arrive, so a lying header cannot
    /// make us allocate), checks each is below `classCount`, and that nothing follows.
    static func readLabels(_ stream: any ByteStream, count: Int, classCount: Int) throws -> [UInt8] {
        var labels: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while labels.count < count {
            let step = min(chunk.count, count - labels.count)
            try stream.read(step, into: &chunk, what: "label \(labels.count) of \(count)")
            labels.append(contentsOf: chunk[..<step])
        }
        if let bad = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw DatasetError(.labelOutOfRange, "label of sample \(bad)", path: stream.path,
                               byteOffset: labelsHeaderByteCount + bad,
                               expected: "0...\(classCount - 1)", found: "\(labels[bad])")
        }
        try stream.expectEnd("the last label")
        return labels
    }

    static func checkMagic(_ header: [UInt8], expected: UInt32, path: String, what: String) throws {
        let magic = bigEndian32(header, at: 0)
        guard magic == expected else {
            var hint = "not an IDX \(what) file"
            if magic == imagesMagic || magic == labelsMagic { hint = "images and labels files swapped?" }
            throw DatasetError(.badMagic, "IDX \(what) magic number", path: path, byteOffset: 0,
                               expected: hex(expected), found: hex(magic), hint: hint)
        }
    }

    /// The big-endian u32 at `offset` (the caller guarantees 4 bytes are there).
    static func bigEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset ..< offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
