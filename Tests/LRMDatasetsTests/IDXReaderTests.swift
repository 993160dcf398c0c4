import Foundation
import Testing
@testable import LRMDatasets

/// Defects of an MNIST images/labels pair. Each must be rejected with exactly `expectedKind`,
/// at open or while streaming, never by a crash.
enum IDXDefect: String, CaseIterable {
    case emptyImages, shortImagesHeader, badImagesMagic, labelsFileAsImages, wrongImageSize
    case truncatedImages, trailingImageBytes, badLabelsMagic, countMismatch, truncatedLabels
    case trailingLabelBytes, labelOutOfRange, hugeCountRaw, hugeCountGzip, truncatedGzipImages
    case gzipChecksum, gzipGarbageAfterEnd, gzipCutInsideHeader

    var expectedKind: DatasetError.Kind {
        switch self {
        case .emptyImages, .shortImagesHeader, .truncatedImages, .truncatedLabels, .hugeCountRaw, .hugeCountGzip,
             .truncatedGzipImages, .gzipCutInsideHeader: .truncated
        case .badImagesMagic, .labelsFileAsImages, .badLabelsMagic: .badMagic
        case .wrongImageSize: .badHeader
        case .trailingImageBytes, .trailingLabelBytes: .trailingData
        case .countMismatch: .countMismatch
        case .labelOutOfRange: .labelOutOfRange
        case .gzipChecksum, .gzipGarbageAfterEnd: .corruptCompression
        }
    }

    /// The (images, labels) file contents with this defect; a valid pair has 5 images.
    func files() throws -> (images: [UInt8], labels: [UInt8]) {
        let images = TestFiles.idxImages(count: 5)
        let labels = TestFiles.idxLabels(TestFiles.idxLabelValues(count: 5))
        switch self {
        case .emptyImages: return ([], labels)
        case .shortImagesHeader: return (Array(images[..<10]), labels)
        case .badImagesMagic: return ([0, 0, 8, 4] + images.dropFirst(4), labels)
        case .labelsFileAsImages: return (labels, labels)
        case .wrongImageSize: return (TestFiles.idxImages(count: 5, rows: 27, columns: 29), labels)
        case .truncatedImages: return (Array(images.dropLast(1)), labels)
        case .trailingImageBytes: return (images + [0], labels)
        case .badLabelsMagic: return (images, [0, 0, 9, 1] + labels.dropFirst(4))
        case .countMismatch: return (images, TestFiles.idxLabels(TestFiles.idxLabelValues(count: 4)))
        case .truncatedLabels: return (images, Array(labels.dropLast(2)))
        case .trailingLabelBytes: return (images, labels + [1, 2])
        case .labelOutOfRange: return (images, TestFiles.idxLabels([0, 1, 2, 10, 4]))
        case .hugeCountRaw:
            return (TestFiles.idxImages(count: 5, declaredCount: .max), TestFiles.idxLabels([0], declaredCount: .max))
        case .hugeCountGzip:
            return (try Gzip.compress(TestFiles.idxImages(count: 5, declaredCount: .max)),
                    try Gzip.compress(TestFiles.idxLabels([0], declaredCount: .max)))
        case .truncatedGzipImages:
            let compressed = try Gzip.compress(images)
            return (Array(compressed.dropLast(12)), labels)
        case .gzipChecksum:
            // The gzip trailer is CRC-32 then ISIZE; flip a CRC bit.
            var compressed = try Gzip.compress(images)
            compressed[compressed.count - 8] ^= 0x01
            return (compressed, labels)
        case .gzipGarbageAfterEnd:
            return (try Gzip.compress(images) + [0x42, 0x42, 0x42], labels)
        case .gzipCutInsideHeader:
            return (Array(try Gzip.compress(images)[..<6]), labels)
        }
    }
}

@Suite("IDX reader (MNIST, Fashion-MNIST)")
struct IDXReaderTests {
    @Test("raw and gzip IDX files give the same labels and pixels", arguments: [false, true])
    func readsRawAndGzip(gzip: Bool) throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let count = 7
        var images = TestFiles.idxImages(count: count)
        var labels = TestFiles.idxLabels(TestFiles.idxLabelValues(count: count))
        if gzip {
            images = try Gzip.compress(images)
            labels = try Gzip.compress(labels)
        }
        let imagesURL = directory.appendingPathComponent("images")
        let labelsURL = directory.appendingPathComponent("labels")
        try TestFiles.write(images, to: imagesURL)
        try TestFiles.write(labels, to: labelsURL)
        let dataset = try Dataset.openIDX(.mnist, split: .test, images: imagesURL, labels: labelsURL)
        #expect(dataset.sampleCount == count)
        #expect(dataset.storedShape == [28, 28])
        #expect(dataset.storedLayout == .features)
        #expect(dataset.featureCount == 784)
        #expect(dataset.classNames == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
        var seen: [Int] = []
        try dataset.forEachBatch(size: 3, layout: .hwc) { batch in
            #expect(batch.pixels.count == batch.count * 784)
            for (i, label) in batch.labels.enumerated() {
                let image = batch.range.lowerBound + i
                #expect(label == image % 10)
                // Pixel bytes are exact integers in Float: compared with ==.
                #expect(batch.pixels[i * 784 + 5 * 28 + 9] == Float(TestFiles.idxPixel(image: image, row: 5, column: 9)))
                #expect(batch.pixels[i * 784 + 27 * 28 + 27] == Float(TestFiles.idxPixel(image: image, row: 27, column: 27)))
            }
            seen.append(batch.count)
        }
        #expect(seen == [3, 3, 1])
        #expect(try dataset.labels() == (0..<count).map { $0 % 10 })
    }

    @Test("scale multiplies pixel bytes (1/255 gives 0...1)")
    func scale() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try Dataset.open(.mnist, split: .test, in: DataFolder(root: root))
        var maximum: Float = 0
        try dataset.forEachBatch(size: 100, layout: .features, scale: 1 / 255) { maximum = max(maximum, $0.pixels.max() ?? 0) }
        #expect(maximum <= 1)
        #expect(maximum > 0.9)
    }

    @Test("each IDX defect is rejected with its error kind", arguments: IDXDefect.allCases)
    func defect(_ defect: IDXDefect) throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, labels) = try defect.files()
        let imagesURL = directory.appendingPathComponent("images")
        let labelsURL = directory.appendingPathComponent("labels")
        try TestFiles.write(images, to: imagesURL)
        try TestFiles.write(labels, to: labelsURL)
        let error = #expect(throws: DatasetError.self) {
            let dataset = try Dataset.openIDX(.fashionMNIST, split: .train, images: imagesURL, labels: labelsURL)
            try dataset.forEachBatch(size: 2, layout: .features) { _ in }
        }
        #expect(error?.kind == defect.expectedKind, "\(defect): \(error.map(String.init(describing:)) ?? "no error")")
        #expect(error?.path != nil)
    }

    @Test("an error message names the file, the field, and expected and found values")
    func errorMessage() throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let imagesURL = directory.appendingPathComponent("imgs")
        try TestFiles.write([0, 0, 8, 4] + TestFiles.idxImages(count: 1).dropFirst(4), to: imagesURL)
        let error = #expect(throws: DatasetError.self) {
            try Dataset.openIDX(.mnist, split: .test, images: imagesURL, labels: imagesURL)
        }
        let text = error.map(String.init(describing:)) ?? ""
        #expect(text.hasPrefix(imagesURL.path + ": byte 0: IDX images magic number, expected 0x00000803, found 0x00000804"))
    }

    @Test("openIDX refuses a CIFAR data set name")
    func wrongName() throws {
        let url = URL(fileURLWithPath: "/nonexistent")
        #expect(throws: DatasetError.self) { try Dataset.openIDX(.cifar10, split: .test, images: url, labels: url) }
    }

    @Test("concatenated gzip members read as one stream (as gunzip does)")
    func multiMemberGzip() throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = TestFiles.idxImages(count: 4)
        let imagesURL = directory.appendingPathComponent("images.gz")
        let labelsURL = directory.appendingPathComponent("labels.gz")
        try TestFiles.write(try Gzip.compress(Array(images[..<1000])) + Gzip.compress(Array(images[1000...])), to: imagesURL)
        try TestFiles.write(try Gzip.compress(TestFiles.idxLabels([3, 1, 4, 1])), to: labelsURL)
        let batch = try TestFiles.readAll(try Dataset.openIDX(.mnist, split: .test, images: imagesURL, labels: labelsURL),
                                          layout: .features)
        #expect(batch.labels == [3, 1, 4, 1])
        #expect(batch.pixels.map { UInt8($0) } == Array(images[16...]))
    }
}
