public import Foundation

/// The folder that holds the data sets, one subfolder each:
///
/// ```
/// <root>/SHA256SUMS                                   (optional; sha256sum format; the files it lists are checked before use)
/// <root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
/// <root>/fashion-mnist/   (same names as mnist)
/// <root>/cifar-10/{data_batch_<N>.bin, test_batch.bin, batches.meta.txt}
/// <root>/cifar-100/{train.bin or train-25k.bin, test.bin, fine_label_names.txt, coarse_label_names.txt}
/// ```
public struct DataFolder: Sendable, Equatable, CustomStringConvertible {
    /// Where the choice of folder came from.
    public enum Source: String, Sendable, CaseIterable {
        /// An explicit value (the `--data` flag).
        case flag = "flag"
        /// The `LRM_DATA` environment variable.
        case environment = "LRM_DATA"
        /// `../shared/datasets`, relative to the base directory.
        case sharedDatasets = "../shared/datasets"
        /// `data/` in the base directory (the default when nothing else exists).
        case localData = "data/"
    }

    /// One candidate considered by `resolve`.
    public struct Candidate: Sendable, Equatable {
        /// Which rule this candidate comes from.
        public var source: Source
        /// The path, or `nil` when the flag or variable was not set.
        public var path: String?
        /// Whether the path existed as a directory when resolved.
        public var exists: Bool
    }

    /// The chosen folder.
    public let root: URL
    /// Why it was chosen.
    public let source: Source
    /// Every candidate considered, in order of precedence, for error messages.
    public let candidates: [Candidate]

    /// Creates a data folder at a known path (no resolution).
    public init(root: URL, source: Source = .flag) {
        self.root = root
        self.source = source
        self.candidates = [Candidate(source: source, path: root.path, exists: DataFolder.isDirectory(root.path))]
    }

    init(root: URL, source: Source, candidates: [Candidate]) {
        self.root = root
        self.source = source
        self.candidates = candidates
    }

    /// Chooses the data folder, in this order: `flag` when given; else `environment["LRM_DATA"]`
    /// when set and non-empty; else `<base>/../shared/datasets` when it exists; else
    /// `<base>/data`. An explicit flag or variable is used even if the folder is missing (the
    /// error then comes when a data set is opened, listing everything tried).
    ///
    /// - Parameters:
    ///   - flag: the `--data` value, if any (relative paths are taken from `packageRoot`).
    ///   - environment: the process environment (injectable for tests).
    ///   - packageRoot: the base directory for relative paths; `nil` means the current
    ///     directory.
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               packageRoot: URL? = nil) -> DataFolder {
        let base = packageRoot ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        func url(_ path: String) -> URL {
            path.hasPrefix("/") ? URL(fileURLWithPath: path, isDirectory: true)
                : base.appendingPathComponent(path, isDirectory: true).standardizedFileURL
        }
        let given: [(Source, String?)] = [
            (.flag, flag.flatMap { $0.isEmpty ? nil : $0 }),
            (.environment, environment["LRM_DATA"].flatMap { $0.isEmpty ? nil : $0 }),
            (.sharedDatasets, "../shared/datasets"),
            (.localData, "data"),
        ]
        let candidates = given.map { source, path in
            Candidate(source: source, path: path.map { url($0).path }, exists: path.map { isDirectory(url($0).path) } ?? false)
        }
        let chosen = candidates.first { candidate in
            switch candidate.source {
            case .flag, .environment: candidate.path != nil
            case .sharedDatasets: candidate.exists
            case .localData: true
            }
        } ?? candidates[candidates.count - 1]
        return DataFolder(root: URL(fileURLWithPath: chosen.path ?? "data", isDirectory: true), source: chosen.source,
                          candidates: candidates)
    }

    /// The subfolder holding a data set's files (`<root>/cifar-100` for both CIFAR-100 variants).
    public func directory(for dataset: DatasetName) -> URL {
        root.appendingPathComponent(dataset.folderName, isDirectory: true)
    }

    /// `<root>/SHA256SUMS`.
    public var checksumsFile: URL { root.appendingPathComponent("SHA256SUMS") }

    /// The path of `file` relative to the root (as listed in `SHA256SUMS`), or `nil` if it is
    /// not inside the root.
    public func relativePath(of file: URL) -> String? {
        let rootPath = root.standardizedFileURL.path
        let filePath = file.standardizedFileURL.path
        let prefix = rootPath.hasSuffix("/") ? rootPath : rootPath + "/"
        guard filePath.hasPrefix(prefix) else { return nil }
        return String(filePath.dropFirst(prefix.count))
    }

    /// "<root> (from <source>)".
    public var description: String { "\(root.path) (from \(source.rawValue))" }

    /// The `.notFound` error for a data set missing from this folder.
    func notFound(_ dataset: DatasetName, split: DatasetSplit, lookedFor files: [String]) -> DatasetError {
        let directory = directory(for: dataset)
        let tried = candidates.map { candidate in
            "\(candidate.source.rawValue): " + (candidate.path.map { $0 + (candidate.exists ? "" : " (absent)") } ?? "not set")
        }
        return DatasetError(
            .notFound, "\(dataset.rawValue) \(split.rawValue) not found: looked for "
                + files.map { directory.appendingPathComponent($0).path }.joined(separator: ", ")
                + "; data folder \(description); candidates tried: " + tried.joined(separator: "; "),
            hint: ownFolderHint(dataset, lookedFor: files) ?? "run tools/fetch_datasets.py --root \(root.path), or pass --data / set LRM_DATA")
    }

    /// When the root is a data set's own folder (`--data …/mnist`, a common slip: the data set's files lie in it, not in a
    /// subfolder of its name), the hint to give its parent instead; fetching into the root would nest a second copy.
    func ownFolderHint(_ dataset: DatasetName, lookedFor files: [String]) -> String? {
        let holdsFiles = files.contains { name in
            FileManager.default.fileExists(atPath: root.appendingPathComponent(name.replacingOccurrences(of: "<N>", with: "1")).path)
        }
        guard holdsFiles || root.standardizedFileURL.lastPathComponent == dataset.folderName else { return nil }
        let parent = root.standardizedFileURL.deletingLastPathComponent().path
        let option = source == .environment ? "set LRM_DATA to" : "give --data"
        return "\(root.path) is the \(dataset.rawValue) folder itself (\(holdsFiles ? "it holds the data set's files" : "named like it")); "
            + "the data folder is the one that holds it: \(option) \(parent)"
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
