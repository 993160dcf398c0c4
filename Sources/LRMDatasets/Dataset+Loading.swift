public import Foundation

extension Dataset {
    /// Official numbers of training batches / samples, for the description.
    static let officialCIFAR10TrainingBatches = 5
    static let officialCIFAR100TrainingSamples = 50_000

    /// Opens a data set's split from a data folder, in the layout described in
    /// `DataFolder` (`<root>/mnist/t10k-images-idx3-ubyte.gz`, `<root>/cifar-10/test_batch.bin`, …).
    ///
    /// - For MNIST and Fashion-MNIST, the raw file is used when present, else the `.gz` one.
    /// - For CIFAR-10 train, every `data_batch_<N>.bin` present is used in order of N.
    /// - For CIFAR-100 train, `train.bin`, else `train-25k.bin` (the first 25,000 records).
    /// - Class names come from the names file when present (`batches.meta.txt`,
    ///   `fine_label_names.txt`, `coarse_label_names.txt`), else from `ClassNames.builtIn`.
    ///
    /// - Throws: `DatasetError` `.notFound` listing the paths looked for and every data folder
    ///   candidate tried; any error of `openIDX`/`openCIFAR`.
    public static func open(_ name: DatasetName, split: DatasetSplit, in folder: DataFolder) throws -> Dataset {
        let directory = folder.directory(for: name)
        let exists = { (file: String) in FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path) }
        let classNames = try namesFromFolder(name, directory: directory)
        if name.isIDX {
            let prefix = split == .train ? "train" : "t10k"
            let imageNames = ["\(prefix)-images-idx3-ubyte", "\(prefix)-images-idx3-ubyte.gz"]
            let labelNames = ["\(prefix)-labels-idx1-ubyte", "\(prefix)-labels-idx1-ubyte.gz"]
            guard let images = imageNames.first(where: exists), let labels = labelNames.first(where: exists) else {
                throw folder.notFound(name, split: split, lookedFor: imageNames + labelNames)
            }
            return try openIDX(name, split: split, images: directory.appendingPathComponent(images),
                               labels: directory.appendingPathComponent(labels), classNames: classNames)
        }
        let fileNames: [String]
        var note = ""
        switch (name, split) {
        case (.cifar10, .test):
            fileNames = exists("test_batch.bin") ? ["test_batch.bin"] : []
            if fileNames.isEmpty { throw folder.notFound(name, split: split, lookedFor: ["test_batch.bin"]) }
        case (.cifar10, .train):
            fileNames = trainingBatches(in: directory)
            if fileNames.isEmpty { throw folder.notFound(name, split: split, lookedFor: ["data_batch_<N>.bin"]) }
            if fileNames.count < officialCIFAR10TrainingBatches {
                note = " (\(fileNames.count) of the \(officialCIFAR10TrainingBatches) official training batches)"
            }
        case (_, .test):
            fileNames = exists("test.bin") ? ["test.bin"] : []
            if fileNames.isEmpty { throw folder.notFound(name, split: split, lookedFor: ["test.bin"]) }
        case (_, .train):
            guard let file = ["train.bin", "train-25k.bin"].first(where: exists) else {
                throw folder.notFound(name, split: split, lookedFor: ["train.bin", "train-25k.bin"])
            }
            fileNames = [file]
        }
        var dataset = try openCIFAR(name, split: split, files: fileNames.map { directory.appendingPathComponent($0) },
                                    classNames: classNames)
        if name != .cifar10, split == .train, dataset.fileSampleCount < officialCIFAR100TrainingSamples {
            note = " (the first \(formatCount(dataset.fileSampleCount)) of the official "
                + "\(formatCount(officialCIFAR100TrainingSamples)))"
        }
        dataset.description += note
        return dataset
    }

    /// Opens an MNIST or Fashion-MNIST images/labels pair (each raw or gzip-compressed).
    ///
    /// Checks the magic numbers (`0x00000803`, `0x00000801`), the image size (28 × 28), that both
    /// files declare the same count, that the file sizes match the headers (exactly for raw
    /// files; within deflate's 1032:1 limit for gzip ones, the rest being checked while
    /// streaming), and that every label is 0–9. Reads all labels into memory.
    ///
    /// - Parameter classNames: names in label order; `nil` uses `ClassNames.builtIn(for: name)`.
    public static func openIDX(_ name: DatasetName, split: DatasetSplit, images: URL, labels: URL,
                               classNames: [String]? = nil) throws -> Dataset {
        guard name.isIDX else {
            throw DatasetError(.invalidArgument, "\(name.rawValue) is not stored in IDX files",
                               path: images.path, hint: "use openCIFAR")
        }
        let names = try checkedNames(classNames, for: name)
        let shape = name.storedShape
        let storage = try IDXStorage(images: images, labels: labels, rows: shape[0], columns: shape[1],
                                     classCount: name.classCount)
        let description = "\(name.rawValue) \(split.rawValue): \(formatCount(storage.labels.count)) samples of "
            + "28×28 grayscale from \(images.lastPathComponent) + \(labels.lastPathComponent)"
        return Dataset(name: name, split: split, classNames: names, files: [images, labels],
                       storage: .idx(storage), description: description)
    }

    /// Opens CIFAR record files, read in the order given as one data set. `name` chooses the
    /// record format and label: `.cifar10` (3,073-byte records), `.cifar100` (3,074 bytes, fine
    /// label) or `.cifar100Coarse` (3,074 bytes, coarse label).
    ///
    /// Checks that each file is a non-empty whole number of records. Labels (both bytes for
    /// CIFAR-100) are range-checked as records are read.
    ///
    /// - Parameter classNames: names in label order; `nil` uses `ClassNames.builtIn(for: name)`.
    public static func openCIFAR(_ name: DatasetName, split: DatasetSplit, files: [URL],
                                 classNames: [String]? = nil) throws -> Dataset {
        guard let format = CIFARRecordFormat.format(for: name) else {
            throw DatasetError(.invalidArgument, "\(name.rawValue) is not stored in CIFAR records",
                               path: files.first?.path, hint: "use openIDX")
        }
        let names = try checkedNames(classNames, for: name)
        let storage = try CIFARStorage(files: files, format: format)
        let labelKind = name == .cifar100 ? ", fine labels" : name == .cifar100Coarse ? ", coarse labels" : ""
        let description = "\(name.rawValue) \(split.rawValue): \(formatCount(storage.sampleCount)) samples of "
            + "32×32 RGB (stored CHW\(labelKind)) from \(files.map(\.lastPathComponent).joined(separator: ", "))"
        return Dataset(name: name, split: split, classNames: names, files: files, storage: .cifar(storage),
                       description: description)
    }

    /// `data_batch_<N>.bin` files in `directory`, sorted by N.
    static func trainingBatches(in directory: URL) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let numbered = entries.compactMap { entry -> (Int, String)? in
            guard entry.hasPrefix("data_batch_"), entry.hasSuffix(".bin") else { return nil }
            let digits = entry.dropFirst("data_batch_".count).dropLast(".bin".count)
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let number = Int(digits) else { return nil }
            return (number, entry)
        }
        return numbered.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func namesFromFolder(_ name: DatasetName, directory: URL) throws -> [String] {
        guard let file = ClassNames.fileName(for: name) else { return ClassNames.builtIn(for: name) }
        let url = directory.appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else { return ClassNames.builtIn(for: name) }
        return try ClassNames.read(from: url, expectedCount: name.classCount)
    }

    static func checkedNames(_ names: [String]?, for name: DatasetName) throws -> [String] {
        guard let names else { return ClassNames.builtIn(for: name) }
        guard names.count == name.classCount else {
            throw DatasetError(.badClassNames, "number of class names given for \(name.rawValue)",
                               expected: "\(name.classCount)", found: "\(names.count)")
        }
        return names
    }
}

/// `12345` → `"12,345"`.
func formatCount(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (offset, digit) in digits.enumerated() {
        if offset > 0, (digits.count - offset) % 3 == 0 { out += "," }
        out.append(digit)
    }
    return value < 0 ? "-" + out : out
}
