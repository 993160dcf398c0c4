import Foundation
import Testing
@testable import LRMDatasets

/// Defects of CIFAR record files; each must be rejected with exactly `expectedKind`.
enum CIFARDefect: String, CaseIterable {
    case emptyFile, partialRecord, labelTooLarge, coarseLabelTooLarge, fineLabelTooLarge, missingFile

    var expectedKind: DatasetError.Kind {
        switch self {
        case .emptyFile, .partialRecord: .truncated
        case .labelTooLarge, .coarseLabelTooLarge, .fineLabelTooLarge: .labelOutOfRange
        case .missingFile: .notFound
        }
    }

    var dataset: DatasetName { self == .coarseLabelTooLarge || self == .fineLabelTooLarge ? .cifar100 : .cifar10 }

    /// The file contents (nil: no file).
    func bytes() -> [UInt8]? {
        switch self {
        case .emptyFile: return []
        case .partialRecord: return Array(TestFiles.cifarRecords(count: 2, labelBytes: TestFiles.cifar10Label).dropLast(5))
        case .labelTooLarge: return TestFiles.cifarRecords(count: 3, labelBytes: { $0 == 2 ? [10] : [1] })
        case .coarseLabelTooLarge: return TestFiles.cifarRecords(count: 3, labelBytes: { $0 == 1 ? [20, 5] : [1, 5] })
        case .fineLabelTooLarge: return TestFiles.cifarRecords(count: 3, labelBytes: { $0 == 1 ? [2, 100] : [1, 5] })
        case .missingFile: return nil
        }
    }
}

@Suite("CIFAR reader")
struct CIFARReaderTests {
    @Test("CIFAR-10 training batches are read in order as one data set")
    func cifar10Batches() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try Dataset.open(.cifar10, split: .train, in: DataFolder(root: root))
        #expect(dataset.sampleCount == 5)
        #expect(dataset.files.map(\.lastPathComponent) == ["data_batch_1.bin", "data_batch_2.bin"])
        #expect(dataset.description.contains("2 of the 5 official training batches"))
        #expect(dataset.classNames == ClassNames.cifar10)
        #expect(dataset.storedShape == [3, 32, 32])
        #expect(dataset.storedLayout == .chw)
        #expect(dataset.sampleShape(in: .hwc) == [32, 32, 3])
        #expect(try dataset.labels() == [0, 1, 2, 3, 4])
        var ranges: [Range<Int>] = []
        try dataset.forEachBatch(size: 2, layout: .chw) { batch in
            ranges.append(batch.range)
            for (i, sample) in batch.range.enumerated() {
                // Stored order: channel planes, exact bytes.
                #expect(batch.pixels[i * 3072 + 1 * 1024 + 4 * 32 + 7]
                        == Float(TestFiles.cifarPixel(sample: sample, channel: 1, row: 4, column: 7)))
            }
        }
        #expect(ranges == [0..<2, 2..<4, 4..<5])
    }

    @Test("HWC layout puts pixel (row, column, channel) at (row * 32 + column) * 3 + channel, as Keras expects")
    func hwcLayout() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try Dataset.open(.cifar10, split: .test, in: DataFolder(root: root))
        let hwc = try TestFiles.readAll(dataset, layout: .hwc)
        let chw = try TestFiles.readAll(dataset, layout: .chw)
        for sample in 0..<dataset.sampleCount {
            for (row, column) in [(0, 0), (0, 31), (13, 21), (31, 0), (31, 31)] {
                for channel in 0..<3 {
                    let expected = Float(TestFiles.cifarPixel(sample: sample, channel: channel, row: row, column: column))
                    #expect(hwc.pixels[sample * 3072 + (row * 32 + column) * 3 + channel] == expected)
                    #expect(chw.pixels[sample * 3072 + channel * 1024 + row * 32 + column] == expected)
                }
            }
        }
        #expect(hwc.pixels.sorted() == chw.pixels.sorted())
    }

    @Test("CIFAR-100 gives fine labels by default and coarse labels for cifar-100-coarse")
    func cifar100Labels() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = DataFolder(root: root)
        let fine = try Dataset.open(.cifar100, split: .test, in: folder)
        let coarse = try Dataset.open(.cifar100Coarse, split: .test, in: folder)
        #expect(try fine.labels() == (0..<6).map { $0 % 100 })
        #expect(try coarse.labels() == (0..<6).map { $0 % 20 })
        #expect(fine.classCount == 100)
        #expect(coarse.classCount == 20)
        #expect(coarse.classNames.first == "aquatic_mammals")
        let train = try Dataset.open(.cifar100, split: .train, in: folder)
        #expect(train.files.map(\.lastPathComponent) == ["train-25k.bin"])
        #expect(train.description.contains("the first 5 of the official 50,000"))
        let pixels = try TestFiles.readAll(train, layout: .chw).pixels
        #expect(pixels[3 * 3072 + 2 * 1024 + 31 * 32 + 30] == Float(TestFiles.cifarPixel(sample: 3, channel: 2, row: 31, column: 30)))
    }

    @Test("class names come from the names file when present, and a wrong count is an error")
    func namesFile() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let names = (0..<10).map { "class-\($0)" }
        let meta = root.appendingPathComponent("cifar-10/batches.meta.txt")
        try TestFiles.write(Array((names.joined(separator: "\n") + "\n\n").utf8), to: meta)
        #expect(try Dataset.open(.cifar10, split: .test, in: DataFolder(root: root)).classNames == names)
        try TestFiles.write(Array(names.dropLast().joined(separator: "\n").utf8), to: meta)
        let error = #expect(throws: DatasetError.self) { try Dataset.open(.cifar10, split: .test, in: DataFolder(root: root)) }
        #expect(error?.kind == .badClassNames)
    }

    @Test("each CIFAR defect is rejected with its error kind", arguments: CIFARDefect.allCases)
    func defect(_ defect: CIFARDefect) throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("batch.bin")
        if let bytes = defect.bytes() { try TestFiles.write(bytes, to: url) }
        let error = #expect(throws: DatasetError.self) {
            let dataset = try Dataset.openCIFAR(defect.dataset, split: .test, files: [url])
            try dataset.forEachBatch(size: 2, layout: .hwc) { _ in }
        }
        #expect(error?.kind == defect.expectedKind, "\(defect): \(error.map(String.init(describing:)) ?? "no error")")
        #expect(error?.path == url.path)
    }

    @Test("a label out of range names the record's byte offset")
    func labelOffset() throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("batch.bin")
        try TestFiles.write(CIFARDefect.fineLabelTooLarge.bytes() ?? [], to: url)
        let error = #expect(throws: DatasetError.self) { try Dataset.openCIFAR(.cifar100, split: .test, files: [url]).labels() }
        #expect(error?.byteOffset == 3074 + 1)
        #expect(error?.found == "100")
    }

    @Test("batch size 0 is an invalid argument")
    func batchSizeZero() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try Dataset.open(.cifar10, split: .test, in: DataFolder(root: root))
        let error = #expect(throws: DatasetError.self) { try dataset.forEachBatch(size: 0, layout: .chw) { _ in } }
        #expect(error?.kind == .invalidArgument)
    }
}
