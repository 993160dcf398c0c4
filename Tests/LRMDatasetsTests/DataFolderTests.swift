import Foundation
import Testing
@testable import LRMDatasets

@Suite("data folder resolution")
struct DataFolderTests {
    @Test("the flag wins over LRM_DATA, which wins over ../shared/datasets, then data/")
    func precedence() throws {
        let base = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let project = base.appendingPathComponent("project")
        let shared = base.appendingPathComponent("shared/datasets")
        try FileManager.default.createDirectory(at: project, withIntermediateDirectories: true)

        var folder = DataFolder.resolve(flag: nil, environment: [:], packageRoot: project)
        #expect(folder.source == .localData)
        #expect(folder.root.path == project.appendingPathComponent("data").path)

        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        folder = DataFolder.resolve(flag: nil, environment: [:], packageRoot: project)
        #expect(folder.source == .sharedDatasets)
        #expect(folder.root.standardizedFileURL.path == shared.standardizedFileURL.path)

        folder = DataFolder.resolve(flag: nil, environment: ["LRM_DATA": "/somewhere/else"], packageRoot: project)
        #expect(folder.source == .environment)
        #expect(folder.root.path == "/somewhere/else")

        folder = DataFolder.resolve(flag: "mine", environment: ["LRM_DATA": "/somewhere/else"], packageRoot: project)
        #expect(folder.source == .flag)
        #expect(folder.root.path == project.appendingPathComponent("mine").path)
        #expect(folder.candidates.map(\.source) == [.flag, .environment, .sharedDatasets, .localData])

        folder = DataFolder.resolve(flag: "", environment: ["LRM_DATA": ""], packageRoot: project)
        #expect(folder.source == .sharedDatasets)
    }

    @Test("a missing data set's error lists the files looked for and every candidate tried")
    func notFoundMessage() throws {
        let base = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let folder = DataFolder.resolve(flag: nil, environment: ["LRM_DATA": base.path], packageRoot: base)
        let error = #expect(throws: DatasetError.self) { try Dataset.open(.cifar100, split: .train, in: folder) }
        #expect(error?.kind == .notFound)
        let text = error.map(String.init(describing:)) ?? ""
        #expect(text.contains(base.appendingPathComponent("cifar-100/train.bin").path))
        #expect(text.contains("train-25k.bin"))
        #expect(text.contains("flag: not set"))
        #expect(text.contains("LRM_DATA: \(base.path)"))
        #expect(text.contains("(absent)"))
        #expect(text.contains("fetch_datasets.py"))
    }

    @Test("MNIST prefers the raw file and falls back to .gz")
    func rawOrGzip() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = DataFolder(root: root)
        let test = try Dataset.open(.mnist, split: .test, in: folder)
        #expect(test.files.map(\.lastPathComponent) == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
        let train = try Dataset.open(.mnist, split: .train, in: folder)
        #expect(train.files.map(\.lastPathComponent) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"])
        #expect(train.sampleCount == 20)
        #expect(folder.relativePath(of: train.files[0]) == "mnist/train-images-idx3-ubyte.gz")
        let error = #expect(throws: DatasetError.self) { try Dataset.open(.fashionMNIST, split: .test, in: folder) }
        #expect(error?.kind == .notFound)
    }

    @Test("data set names and splits use the command-line spellings")
    func names() {
        #expect(DatasetName.allCases.map(\.rawValue) == ["mnist", "fashion-mnist", "cifar-10", "cifar-100", "cifar-100-coarse"])
        #expect(DatasetSplit.allCases.map(\.rawValue) == ["train", "test"])
        #expect(DatasetName.cifar100Coarse.folderName == "cifar-100")
        #expect(ClassNames.builtIn(for: .fashionMNIST).count == 10)
        #expect(ClassNames.builtIn(for: .cifar100).count == 100)
        #expect(ClassNames.builtIn(for: .cifar100Coarse).count == 20)
        #expect(formatCount(1_234_567) == "1,234,567")
        #expect(formatCount(999) == "999")
    }
}
