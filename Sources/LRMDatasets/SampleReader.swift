/// Reads the samples of a data set in ascending index order, one at a time, from its files.
/// After `read(sample:)` the sample's pixel bytes are
/// `buffer[pixelOffset ..< pixelOffset + pixelCount]` in the stored order.
protocol SampleReader: AnyObject {
    /// The most recently read record.
    var buffer: [UInt8] { get }
    /// Where the pixels start in `buffer`.
    var pixelOffset: Int { get }
    /// Reads sample `index` (greater than any index read before) and returns its label.
    func read(sample index: Int) throws -> Int
    /// The label of sample `index` (greater than any index read before).
    func readLabel(sample index: Int) throws -> Int
}

/// Streams an IDX images file; labels come from memory (read and checked when the data set
/// was opened).
final class IDXSampleReader: SampleReader {
    private(set) var buffer: [UInt8]
    let pixelOffset = 0
    private let storage: IDXStorage
    private var stream: (any ByteStream)?
    /// The sample the stream is positioned at.
    private var nextSample = 0

    init(_ storage: IDXStorage) {
        self.storage = storage
        buffer = [UInt8](repeating: 0, count: storage.pixelsPerSample)
    }

    func read(sample index: Int) throws -> Int {
        let stream = try openStream()
        precondition(index >= nextSample, "samples must be read in ascending order")
        let recordBytes = storage.pixelsPerSample
        if index > nextSample {
            try stream.skip((index - nextSample) * recordBytes, what: "images \(nextSample)..<\(index)")
        }
        try stream.read(recordBytes, into: &buffer, what: "image \(index) of \(storage.labels.count)")
        nextSample = index + 1
        if nextSample == storage.labels.count { try stream.expectEnd("the last image") }
        return try readLabel(sample: index)
    }

    func readLabel(sample index: Int) throws -> Int {
        Int(storage.labels[index])
    }

    private func openStream() throws -> any ByteStream {
        if let stream { return stream }
        let opened = try ByteStreams.open(storage.images)
        let header = try IDXReader.readImagesHeader(opened, expectedRows: storage.rows, expectedColumns: storage.columns)
        guard header.count == storage.labels.count else {
            throw DatasetError(.countMismatch, "image count in the IDX header changed since the file was opened",
                               path: opened.path, byteOffset: 4, expected: "\(storage.labels.count)",
                               found: "\(header.count)")
        }
        stream = opened
        return opened
    }
}

/// Streams CIFAR record files one after the other, record by record.
final class CIFARSampleReader: SampleReader {
    private(set) var buffer: [UInt8]
    var pixelOffset: Int { storage.format.pixelOffset }
    private let storage: CIFARStorage
    private var fileIndex = -1
    private var stream: FileByteStream?
    /// Index (over all files) of the first record of the open file.
    private var fileFirstSample = 0
    /// The sample the stream is positioned at.
    private var nextSample = 0

    init(_ storage: CIFARStorage) {
        self.storage = storage
        buffer = [UInt8](repeating: 0, count: storage.format.recordByteCount)
    }

    func read(sample index: Int) throws -> Int {
        let recordBytes = storage.format.recordByteCount
        let stream = try seek(to: index)
        let recordOffset = stream.position
        try stream.read(recordBytes, into: &buffer, what: "record \(index - fileFirstSample)")
        nextSample = index + 1
        for check in storage.format.labelChecks {
            let value = Int(buffer[check.byteOffset])
            guard value < check.classCount else {
                throw DatasetError(.labelOutOfRange, "\(check.name) label of record \(index - fileFirstSample)",
                                   path: stream.path, byteOffset: recordOffset + check.byteOffset,
                                   expected: "0...\(check.classCount - 1)", found: "\(value)")
            }
        }
        return Int(buffer[storage.format.labelOffset])
    }

    func readLabel(sample index: Int) throws -> Int {
        try read(sample: index)
    }

    /// Opens the file holding sample `index` and skips to its record.
    private func seek(to index: Int) throws -> FileByteStream {
        precondition(index >= nextSample, "samples must be read in ascending order")
        guard index < storage.sampleCount else {
            throw DatasetError(.invalidArgument, "sample \(index) is past the end of the data set",
                               expected: "below \(storage.sampleCount)", found: "\(index)")
        }
        while fileIndex < 0 || index >= fileFirstSample + storage.recordCounts[fileIndex] {
            if fileIndex >= 0 { fileFirstSample += storage.recordCounts[fileIndex] }
            fileIndex += 1
            stream = try FileByteStream(storage.files[fileIndex])
            nextSample = fileFirstSample
        }
        guard let stream else { preconditionFailure("no open file") }
        if index > nextSample {
            try stream.skip((index - nextSample) * storage.format.recordByteCount, what: "records before \(index)")
        }
        return stream
    }
}
