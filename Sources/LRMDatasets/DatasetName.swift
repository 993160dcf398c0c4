/// The data sets lrm can read. The raw value is the name used on the command line and in
/// JSON output.
public enum DatasetName: String, Sendable, CaseIterable, Hashable {
    /// Handwritten digits, 28×28 grayscale, 10 classes (IDX files).
    case mnist = "mnist"
    /// Zalando's clothing images, 28×28 grayscale, 10 classes (IDX files, same names as MNIST).
    case fashionMNIST = "fashion-mnist"
    /// 32×32 colour images, 10 classes (binary batches of 3,073-byte records).
    case cifar10 = "cifar-10"
    /// 32×32 colour images with the 100 fine labels (3,074-byte records).
    case cifar100 = "cifar-100"
    /// CIFAR-100 with the 20 coarse (superclass) labels; same files as `cifar100`.
    case cifar100Coarse = "cifar-100-coarse"

    /// The subfolder of the data folder that holds the files.
    public var folderName: String {
        switch self {
        case .mnist: "mnist"
        case .fashionMNIST: "fashion-mnist"
        case .cifar10: "cifar-10"
        case .cifar100, .cifar100Coarse: "cifar-100"
        }
    }

    /// Number of classes (labels are 0..<classCount).
    public var classCount: Int {
        switch self {
        case .mnist, .fashionMNIST, .cifar10: 10
        case .cifar100: 100
        case .cifar100Coarse: 20
        }
    }

    /// The shape of one sample as stored in the files: [28, 28] (rows, columns) for the IDX
    /// data sets, [3, 32, 32] (channels, rows, columns) for CIFAR.
    public var storedShape: [Int] {
        isIDX ? [28, 28] : [3, 32, 32]
    }

    /// How samples are ordered in the files: `.features` (single-channel rows × columns) for
    /// the IDX data sets, `.chw` (channel planes) for CIFAR.
    public var storedLayout: SampleLayout {
        isIDX ? .features : .chw
    }

    /// Whether the files are in the IDX format (MNIST, Fashion-MNIST) rather than CIFAR records.
    public var isIDX: Bool {
        self == .mnist || self == .fashionMNIST
    }
}

/// Which part of a data set: the official training or test files.
public enum DatasetSplit: String, Sendable, CaseIterable, Hashable {
    /// The training files (for calibration and validation subsets).
    case train = "train"
    /// The test files (what accuracy is reported on).
    case test = "test"
}
