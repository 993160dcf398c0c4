import Foundation
@testable import LRMDatasets

/// Small data set files built in code, in temporary folders.
enum TestFiles {
    /// The package root, from this file's path (`<root>/Tests/LRMDatasetsTests/TestFiles.swift`).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `<package root>/../shared/datasets`, or `nil` when absent (real-data tests then skip).
    static let sharedDatasets: URL? = {
        let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/datasets")
        return DataFolder.isDirectory(url.path) ? url : nil
    }()

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-datasets-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ bytes: [UInt8], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
         UInt8(truncatingIfNeeded: value)]
    }

    /// The pixel byte of image `image` at (row, column) in the synthetic IDX files.
    static func idxPixel(image: Int, row: Int, column: Int) -> UInt8 {
        UInt8((image * 31 + row * 7 + column * 3) % 256)
    }

    /// An IDX images file of `count` 28×28 images with `idxPixel` values.
    static func idxImages(count: Int, rows: Int = 28, columns: Int = 28, declaredCount: UInt32? = nil) -> [UInt8] {
        var bytes = bigEndian(0x0803) + bigEndian(declaredCount ?? UInt32(count)) + bigEndian(UInt32(rows))
            + bigEndian(UInt32(columns))
        for image in 0..<count {
            for row in 0..<rows {
                for column in 0..<columns { bytes.append(idxPixel(image: image, row: row, column: column)) }
            }
        }
        return bytes
    }

    /// An IDX labels file; label of sample i is `labels[i]`.
    static func idxLabels(_ labels: [UInt8], declaredCount: UInt32? = nil) -> [UInt8] {
        bigEndian(0x0801) + bigEndian(declaredCount ?? UInt32(labels.count)) + labels
    }

    /// The labels used by the synthetic IDX files: sample i has label i % 10.
    static func idxLabelValues(count: Int) -> [UInt8] {
        (0..<count).map { UInt8($0 % 10) }
    }

    /// The stored (CHW) byte of CIFAR sample `sample` at (channel, row, column).
    static func cifarPixel(sample: Int, channel: Int, row: Int, column: Int) -> UInt8 {
        UInt8((sample * 17 + channel * 85 + row * 5 + column) % 256)
    }

    /// CIFAR records for samples `first..<first+count`. `labelBytes(sample)` gives the label
    /// bytes that precede the pixels (one for CIFAR-10, coarse + fine for CIFAR-100).
    static func cifarRecords(first: Int = 0, count: Int, labelBytes: (Int) -> [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for sample in first..<(first + count) {
            bytes += labelBytes(sample)
            for channel in 0..<3 {
                for row in 0..<32 {
                    for column in 0..<32 { bytes.append(cifarPixel(sample: sample, channel: channel, row: row, column: column)) }
                }
            }
        }
        return bytes
    }

    static func cifar10Label(_ sample: Int) -> [UInt8] { [UInt8(sample % 10)] }
    static func cifar100Labels(_ sample: Int) -> [UInt8] { [UInt8(sample % 20), UInt8(sample % 100)] }

    /// A data folder with MNIST (raw test, gzip train), CIFAR-10 (two training batches of 3 and
    /// 2 records, test of 4) and CIFAR-100 (`train-25k.bin` of 5 records, test of 6).
    static func makeDataFolder() throws -> URL {
        let root = try temporaryDirectory()
        let mnist = root.appendingPathComponent("mnist")
        try write(idxImages(count: 12), to: mnist.appendingPathComponent("t10k-images-idx3-ubyte"))
        try write(idxLabels(idxLabelValues(count: 12)), to: mnist.appendingPathComponent("t10k-labels-idx1-ubyte"))
        try write(Gzip.compress(idxImages(count: 20)), to: mnist.appendingPathComponent("train-images-idx3-ubyte.gz"))
        try write(Gzip.compress(idxLabels(idxLabelValues(count: 20))),
                  to: mnist.appendingPathComponent("train-labels-idx1-ubyte.gz"))
        let cifar10 = root.appendingPathComponent("cifar-10")
        try write(cifarRecords(count: 3, labelBytes: cifar10Label), to: cifar10.appendingPathComponent("data_batch_1.bin"))
        try write(cifarRecords(first: 3, count: 2, labelBytes: cifar10Label),
                  to: cifar10.appendingPathComponent("data_batch_2.bin"))
        try write(cifarRecords(count: 4, labelBytes: cifar10Label), to: cifar10.appendingPathComponent("test_batch.bin"))
        let cifar100 = root.appendingPathComponent("cifar-100")
        try write(cifarRecords(count: 5, labelBytes: cifar100Labels), to: cifar100.appendingPathComponent("train-25k.bin"))
        try write(cifarRecords(count: 6, labelBytes: cifar100Labels), to: cifar100.appendingPathComponent("test.bin"))
        return root
    }

    /// Every label and pixel of a data set, read in one batch.
    static func readAll(_ dataset: Dataset, layout: SampleLayout) throws -> DatasetBatch {
        var all: DatasetBatch?
        try dataset.forEachBatch(size: max(1, dataset.sampleCount), layout: layout) { all = $0 }
        return all ?? DatasetBatch(pixels: [], labels: [], range: 0..<0, sampleIndices: [], featureCount: dataset.featureCount)
    }
}
