import Foundation
import Testing
@testable import LRMDatasets

/// Tests on the real data sets in `../shared/datasets` (from the package root). They skip
/// cleanly when the folder is absent.
@Suite("real data sets (../shared/datasets)", .enabled(if: TestFiles.sharedDatasets != nil, "../shared/datasets is absent"))
struct RealDatasetTests {
    var folder: DataFolder { DataFolder(root: TestFiles.sharedDatasets ?? URL(fileURLWithPath: "/nonexistent")) }

    @Test("real data: MNIST test set has 10,000 samples with the published per-digit counts")
    func mnistTest() throws {
        let dataset = try Dataset.open(.mnist, split: .test, in: folder)
        #expect(dataset.sampleCount == 10_000)
        #expect(try dataset.labelCounts() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        // The well-known first test digits.
        #expect(try dataset.labels().prefix(5) == [7, 2, 1, 0, 4])
        var seen = 0
        var maximum: Float = 0
        try dataset.forEachBatch(size: 1000, layout: .features) { batch in
            seen += batch.count
            maximum = max(maximum, batch.pixels.max() ?? 0)
        }
        #expect(seen == 10_000)
        #expect(maximum == 255)
    }

    @Test("real data: MNIST training set has 60,000 samples")
    func mnistTrain() throws {
        let dataset = try Dataset.open(.mnist, split: .train, in: folder)
        #expect(dataset.sampleCount == 60_000)
        #expect(try dataset.labelCounts().reduce(0, +) == 60_000)
    }

    @Test("real data: CIFAR-10 test set has 1,000 samples per class; training uses the batches present")
    func cifar10() throws {
        let test = try Dataset.open(.cifar10, split: .test, in: folder)
        #expect(test.sampleCount == 10_000)
        #expect(test.classNames == ClassNames.cifar10)
        #expect(try test.labelCounts() == [Int](repeating: 1000, count: 10))
        // cat, ship, ship, airplane, frog.
        #expect(try test.labels().prefix(5) == [3, 8, 8, 0, 6])
        let train = try Dataset.open(.cifar10, split: .train, in: folder)
        #expect(train.sampleCount == 20_000)
        #expect(train.files.map(\.lastPathComponent) == ["data_batch_1.bin", "data_batch_2.bin"])
    }

    @Test("real data: CIFAR-100 test set has 100 samples per fine class and 500 per coarse class")
    func cifar100() throws {
        let fine = try Dataset.open(.cifar100, split: .test, in: folder)
        #expect(fine.sampleCount == 10_000)
        #expect(try fine.labelCounts() == [Int](repeating: 100, count: 100))
        #expect(fine.classNames == ClassNames.cifar100Fine)
        // mountain, forest, seal, mushroom, sea; superclasses 10, 10, 0, 4, 10.
        #expect(try fine.labels().prefix(5) == [49, 33, 72, 51, 71])
        let coarse = try Dataset.open(.cifar100Coarse, split: .test, in: folder)
        #expect(try coarse.labelCounts() == [Int](repeating: 500, count: 20))
        #expect(coarse.classNames == ClassNames.cifar100Coarse)
        #expect(try coarse.labels().prefix(5) == [10, 10, 0, 4, 10])
        let train = try Dataset.open(.cifar100, split: .train, in: folder)
        #expect(train.sampleCount == 25_000)
        #expect(train.files.map(\.lastPathComponent) == ["train-25k.bin"])
    }

    @Test("real data: every file matches SHA256SUMS")
    func checksums() throws {
        let sums = try SHA256Sums.read(from: folder.checksumsFile)
        #expect(sums.entries.count == 12)
        for entry in sums.entries {
            let actual = try SHA256.hexDigest(ofFileAt: folder.root.appendingPathComponent(entry.path))
            #expect(actual == entry.digest, "\(entry.path)")
        }
        for name in [DatasetName.mnist, .cifar100Coarse] {
            let dataset = try Dataset.open(name, split: .test, in: folder)
            #expect(try folder.checksums(of: dataset).allSatisfy { $0.matches == true }, "\(name)")
        }
    }

    @Test("real data: CIFAR-10 HWC sample (r, c, channel) equals the file's byte at channel * 1024 + r * 32 + c")
    func hwcOnRealRecords() throws {
        let dataset = try Dataset.open(.cifar10, split: .test, in: folder).subset(.indices([0, 1234, 9999]))
        let batch = try TestFiles.readAll(dataset, layout: .hwc)
        let file = try FileHandle(forReadingFrom: dataset.files[0])
        defer { try? file.close() }
        for (i, index) in [0, 1234, 9999].enumerated() {
            try file.seek(toOffset: UInt64(index * 3073))
            let record = [UInt8](try file.read(upToCount: 3073) ?? Data())
            #expect(batch.labels[i] == Int(record[0]))
            for (row, column) in [(0, 0), (5, 17), (31, 31)] {
                for channel in 0..<3 {
                    #expect(batch.pixels[i * 3072 + (row * 32 + column) * 3 + channel]
                            == Float(record[1 + channel * 1024 + row * 32 + column]))
                }
            }
        }
    }
}
