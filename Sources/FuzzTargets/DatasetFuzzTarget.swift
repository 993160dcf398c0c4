import Foundation
import LRMDatasets

/// The data set readers under fuzzing. The first byte chooses what the rest is:
///
/// | byte 0 mod 5 | rest of the input |
/// |---|---|
/// | 0 | MNIST: a little-endian u32 n, then n bytes of images file, then the labels file (raw or gzip) |
/// | 1 | a CIFAR-10 record file |
/// | 2 | a CIFAR-100 record file, fine labels |
/// | 3 | a CIFAR-100 record file, coarse labels |
/// | 4 | a CIFAR-10 `batches.meta.txt` beside one valid record, opened through a data folder |
///
/// The files are written to a scratch directory (the readers take paths), then every sample is read in
/// batches, in two layouts, with a seeded subset. Property checked: a data set that reads yields exactly
/// `sampleCount` samples with labels below `classCount`.
public enum DatasetFuzzTarget {
    /// A per-process scratch directory, in memory (/dev/shm) when there is one.
    static let scratch: URL = {
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("lrm-fuzz-datasets-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Removes the scratch directory (call when done replaying).
    public static func removeScratch() {
        try? FileManager.default.removeItem(at: scratch)
    }

    public static func run(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard let mode = bytes.first else { return [] }
        let rest = Array(bytes.dropFirst())
        let dataset: Dataset
        do {
            switch mode % 5 {
            case 0:
                guard rest.count >= 4 else { return [] }
                let declared = Int(rest[0]) | Int(rest[1]) << 8 | Int(rest[2]) << 16 | Int(rest[3]) << 24
                let body = Array(rest[4...])
                let split = min(declared, body.count)
                let images = try write(Array(body[..<split]), "images-idx3-ubyte")
                let labels = try write(Array(body[split...]), "labels-idx1-ubyte")
                dataset = try Dataset.openIDX(.mnist, split: .test, images: images, labels: labels)
            case 1, 2, 3:
                let name: DatasetName = mode % 5 == 1 ? .cifar10 : mode % 5 == 2 ? .cifar100 : .cifar100Coarse
                dataset = try Dataset.openCIFAR(name, split: .test, files: [try write(rest, "records.bin")])
            default:
                let folder = scratch.appendingPathComponent("folder")
                let directory = folder.appendingPathComponent(DatasetName.cifar10.folderName)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try Data([3] + [UInt8](repeating: 128, count: 3072)).write(to: directory.appendingPathComponent("test_batch.bin"))
                try Data(rest).write(to: directory.appendingPathComponent("batches.meta.txt"))
                dataset = try Dataset.open(.cifar10, split: .test, in: DataFolder(root: folder))
            }
        } catch {
            return []
        }
        return read(dataset) + ((try? dataset.subset(.seededSample(count: min(2, dataset.sampleCount), seed: 7))).map(read) ?? [])
    }

    /// Reads every sample twice (two batch sizes and layouts) and the labels.
    static func read(_ dataset: Dataset) -> [String] {
        var violations: [String] = []
        for (size, layout) in [(3, SampleLayout.hwc), (1, .chw)] {
            var seen = 0
            do {
                try dataset.forEachBatch(size: size, layout: layout, scale: 1 / 255) { batch in
                    seen += batch.count
                    if batch.pixels.count != batch.count * dataset.featureCount { violations.append("batch has \(batch.pixels.count) values") }
                    if let bad = batch.labels.first(where: { !(0..<dataset.classCount).contains($0) }) { violations.append("label \(bad)") }
                }
                if seen != dataset.sampleCount { violations.append("read \(seen) samples of \(dataset.sampleCount)") }
            } catch {
                continue
            }
        }
        _ = try? dataset.labelCounts()
        return violations
    }

    private static func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }
}
