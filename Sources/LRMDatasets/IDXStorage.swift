import Foundation

/// An IDX images file plus its labels, read and checked when opened.
struct IDXStorage: Sendable {
    var images: URL
    var labelsFile: URL
    var rows: Int
    var columns: Int
    /// Labels 0..<classCount, one per image.
    var labels: [UInt8]

    var pixelsPerSample: Int { rows * columns }

    /// Reads both headers and all labels; checks magic numbers, image size, counts, file sizes
    /// and label range.
    init(images: URL, labels labelsFile: URL, rows: Int, columns: Int, classCount: Int) throws {
        let imageStream = try ByteStreams.open(images)
        let header = try IDXReader.readImagesHeader(imageStream, expectedRows: rows, expectedColumns: columns)
        let imageBytes = try CheckedSize.multiply(header.count, rows * columns, "image data size", path: images.path)
        let imageFileBytes = try CheckedSize.add(imageBytes, IDXReader.imagesHeaderByteCount, "images file size",
                                                 path: images.path)
        try IDXReader.checkSize(declaredByteCount: imageFileBytes, fileByteCount: FileByteStream.size(of: images),
                                gzip: imageStream is GzipStream, path: images.path,
                                what: "\(header.count) images of \(rows) × \(columns)")

        let labelStream = try ByteStreams.open(labelsFile)
        let labelCount = try IDXReader.readLabelsHeader(labelStream)
        guard labelCount == header.count else {
            throw DatasetError(.countMismatch, "label count in the IDX header does not match the images file "
                               + "(\(images.lastPathComponent))", path: labelsFile.path, byteOffset: 4,
                               expected: "\(header.count)", found: "\(labelCount)")
        }
        try IDXReader.checkSize(declaredByteCount: labelCount + IDXReader.labelsHeaderByteCount,
                                fileByteCount: FileByteStream.size(of: labelsFile),
                                gzip: labelStream is GzipStream, path: labelsFile.path, what: "\(labelCount) labels")
        self.labels = try IDXReader.readLabels(labelStream, count: labelCount, classCount: classCount)
        self.images = images
        self.labelsFile = labelsFile
        self.rows = rows
        self.columns = columns
    }
}
