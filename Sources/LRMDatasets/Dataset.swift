public import Foundation

/// One split of a data set, opened and checked, read in batches on demand.
///
/// Opening reads only headers, file sizes and (for the IDX formats) the labels; pixels are
/// streamed from the files by `forEachBatch`, a bounded number of records at a time, so
/// memory stays proportional to the batch size whatever the size of the data set.
/// Pixel values are the raw bytes 0–255 as `Float` (times `scale`).
public struct Dataset: Sendable, CustomStringConvertible {
    /// Which bundled data set; nil for data given as arrays (`Dataset(arrays:)`).
    public let name: DatasetName?
    /// Training or test files.
    public let split: DatasetSplit
    /// Class names in label order (`classNames[label]`); `classNames.count` classes.
    public let classNames: [String]
    /// The files read, in reading order (images then labels for IDX; record files for CIFAR).
    public let files: [URL]
    /// Samples in the files (before any subset).
    public let fileSampleCount: Int
    /// The selected samples' indices in file order, ascending; `nil` when every sample is used.
    public private(set) var selectedIndices: [Int]?
    /// What was read and from where, e.g. "cifar-10 train: 20,000 samples from data_batch_1.bin,
    /// data_batch_2.bin (2 of the 5 official training batches)".
    public internal(set) var description: String
    let storage: Storage

    enum Storage: Sendable {
        case idx(IDXStorage)
        case cifar(CIFARStorage)
        case arrays(ArrayStorage)
    }

    init(name: DatasetName?, split: DatasetSplit, classNames: [String], files: [URL], storage: Storage,
         description: String) {
        self.name = name
        self.split = split
        self.classNames = classNames
        self.files = files
        self.storage = storage
        self.description = description
        switch storage {
        case .idx(let idx): fileSampleCount = idx.labels.count
        case .cifar(let cifar): fileSampleCount = cifar.sampleCount
        case .arrays(let arrays): fileSampleCount = arrays.sampleCount
        }
    }

    /// The name used in messages and records: the bundled data set's name, else "own data".
    public var identifier: String { name?.rawValue ?? "own data" }

    /// Number of classes (labels are 0..<classCount).
    public var classCount: Int { classNames.count }

    /// Number of samples `forEachBatch` yields (the subset's size when one was taken).
    public var sampleCount: Int { selectedIndices?.count ?? fileSampleCount }

    /// The shape of one sample as stored in the files: [rows, columns] = [28, 28] for MNIST and
    /// Fashion-MNIST, [channels, rows, columns] = [3, 32, 32] for CIFAR.
    public var storedShape: [Int] {
        if case .arrays(let arrays) = storage { return arrays.sampleShape }
        return name?.storedShape ?? []
    }

    /// Whether the records are arrays in memory (own data), not read from the data set's files on every pass.
    public var isInMemory: Bool {
        if case .arrays = storage { return true }
        return false
    }

    /// The order of a sample's values in the files: `.features` for the single-channel IDX
    /// images (row-major), `.chw` for CIFAR (channel planes).
    public var storedLayout: SampleLayout {
        if case .arrays = storage { return .features }
        return name?.storedLayout ?? .features
    }

    /// Values per sample (784 for 28×28, 3,072 for 32×32×3).
    public var featureCount: Int { storedShape.reduce(1, *) }

    /// The shape of one sample when read in `layout`: CIFAR gives [3, 32, 32] for `.chw` and
    /// `.features`, [32, 32, 3] for `.hwc`; single-channel images stay [28, 28] in every layout.
    public func sampleShape(in layout: SampleLayout) -> [Int] {
        layout.shape(fromCHW: storedShape)
    }

    /// Reads the samples in order, `size` at a time (the last batch may be smaller), and calls
    /// `body` with each batch.
    ///
    /// - Parameters:
    ///   - size: samples per batch (≥ 1).
    ///   - layout: the order of each sample's values in `pixels`: `.hwc` interleaves CIFAR's
    ///     channels as Keras `(32, 32, 3)` inputs expect; `.chw` and `.features` keep the stored
    ///     order. Single-channel images are identical in all three.
    ///   - scale: multiplies every pixel byte (1 gives 0–255; 1/255 gives 0–1).
    /// - Throws: `DatasetError` for any defect met while reading (truncated file, label out of
    ///   range, corrupt gzip), or whatever `body` throws. Batches already delivered stay valid.
    public func forEachBatch(size: Int, layout: SampleLayout, scale: Float = 1,
                             _ body: (DatasetBatch) throws -> Void) throws {
        guard size >= 1 else {
            throw DatasetError(.invalidArgument, "batch size", expected: "at least 1", found: "\(size)")
        }
        if case .arrays(let arrays) = storage {
            return try arrays.forEachBatch(size: size, selected: selectedIndices, scale: scale, body)
        }
        let reader = makeReader()
        let features = featureCount
        let shape = storedShape
        let permutation = shape.count == 3
            ? SampleLayout.permutation(fromCHW: shape[0], height: shape[1], width: shape[2], to: layout) : nil
        var start = 0
        while start < sampleCount {
            let end = min(sampleCount, start + size)
            var pixels = [Float](repeating: 0, count: (end - start) * features)
            var labels: [Int] = []
            var indices: [Int] = []
            labels.reserveCapacity(end - start)
            indices.reserveCapacity(end - start)
            for position in start..<end {
                let index = selectedIndices?[position] ?? position
                labels.append(try reader.read(sample: index))
                indices.append(index)
                let offset = reader.pixelOffset
                let base = (position - start) * features
                reader.buffer.withUnsafeBufferPointer { source in
                    pixels.withUnsafeMutableBufferPointer { target in
                        if let permutation {
                            for k in 0..<features { target[base + k] = Float(source[offset + permutation[k]]) * scale }
                        } else {
                            for k in 0..<features { target[base + k] = Float(source[offset + k]) * scale }
                        }
                    }
                }
            }
            try body(DatasetBatch(pixels: pixels, labels: labels, range: start..<end, sampleIndices: indices,
                                  featureCount: features))
            start = end
        }
    }

    /// The label of every selected sample, in order. For CIFAR this reads the record files
    /// (labels are interleaved with pixels); for the IDX formats they are already in memory.
    public func labels() throws -> [Int] {
        if case .arrays(let arrays) = storage { return (0..<sampleCount).map { arrays.label(selectedIndices?[$0] ?? $0) } }
        let reader = makeReader()
        var labels: [Int] = []
        labels.reserveCapacity(sampleCount)
        for position in 0..<sampleCount {
            labels.append(try reader.readLabel(sample: selectedIndices?[position] ?? position))
        }
        return labels
    }

    /// How many selected samples carry each label: `counts[label]`, `classCount` entries.
    public func labelCounts() throws -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in try labels() where (0..<classCount).contains(label) { counts[label] += 1 }
        return counts
    }

    func makeReader() -> any SampleReader {
        switch storage {
        case .idx(let idx): IDXSampleReader(idx)
        case .cifar(let cifar): CIFARSampleReader(cifar)
        case .arrays: preconditionFailure("array data is read by ArrayStorage.forEachBatch")
        }
    }

    /// A copy restricted to `indices` (ascending, unique, in file order), described by `note`.
    func restricted(to indices: [Int], note: String) -> Dataset {
        var copy = self
        copy.selectedIndices = indices
        copy.description += "; \(note)"
        return copy
    }
}

/// A run of consecutive samples from `Dataset.forEachBatch`.
public struct DatasetBatch: Sendable {
    /// `count × featureCount` values, row-major: sample `i`'s values are
    /// `pixels[i * featureCount ..< (i + 1) * featureCount]`, in the layout that was asked for.
    /// Raw bytes 0–255 times the requested scale.
    public var pixels: [Float]
    /// The true label of each sample, 0..<classCount.
    public var labels: [Int]
    /// The positions of these samples among all samples yielded (0..<sampleCount).
    public var range: Range<Int>
    /// Each sample's index in the files (equal to its position unless a subset was taken).
    public var sampleIndices: [Int]
    /// Values per sample.
    public var featureCount: Int
    /// Regression targets (`count × targetWidth` values, row-major); empty for classification data.
    public var targets: [Float]

    /// Samples in the batch.
    public var count: Int { labels.count }

    public init(pixels: [Float], labels: [Int], range: Range<Int>, sampleIndices: [Int], featureCount: Int, targets: [Float] = []) {
        self.pixels = pixels
        self.labels = labels
        self.targets = targets
        self.range = range
        self.sampleIndices = sampleIndices
        self.featureCount = featureCount
    }
}
