public import Foundation

/// Class names in label order: built into lrm, and read from the names files that ship with
/// the CIFAR archives (`batches.meta.txt`, `fine_label_names.txt`, `coarse_label_names.txt`:
/// one name per line, blank lines ignored).
public enum ClassNames {
    /// The names lrm knows without any file, in label order.
    public static func builtIn(for dataset: DatasetName) -> [String] {
        switch dataset {
        case .mnist: (0..<10).map(String.init)
        case .fashionMNIST: fashionMNIST
        case .cifar10: cifar10
        case .cifar100: cifar100Fine
        case .cifar100Coarse: cifar100Coarse
        }
    }

    /// The file in the data set's folder that lists its names, if the format has one.
    public static func fileName(for dataset: DatasetName) -> String? {
        switch dataset {
        case .mnist, .fashionMNIST: nil
        case .cifar10: "batches.meta.txt"
        case .cifar100: "fine_label_names.txt"
        case .cifar100Coarse: "coarse_label_names.txt"
        }
    }

    /// The largest names file read (bytes); the real ones are under 1 KiB.
    static let maximumFileByteCount = 1 << 20

    /// Reads one name per line (trimmed; blank lines skipped) and requires exactly
    /// `expectedCount` names.
    /// - Throws: `DatasetError` `.io`, `.limitExceeded` (file over 1 MiB) or `.badClassNames`.
    public static func read(from url: URL, expectedCount: Int) throws -> [String] {
        let data = try FileByteStream.readAll(url, limit: maximumFileByteCount)
        guard let text = String(bytes: data, encoding: .utf8) else {
            throw DatasetError(.badClassNames, "class names are not UTF-8 text", path: url.path)
        }
        let names = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard names.count == expectedCount else {
            throw DatasetError(.badClassNames, "number of class names", path: url.path,
                               expected: "\(expectedCount)", found: "\(names.count)")
        }
        return names
    }

    /// Fashion-MNIST's ten classes, from Zalando's README.
    public static let fashionMNIST = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
        "Ankle boot",
    ]

    /// CIFAR-10's ten classes, as in `batches.meta.txt`.
    public static let cifar10 = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]

    /// CIFAR-100's 100 fine classes, as in `fine_label_names.txt`.
    public static let cifar100Fine = [
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
        "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
        "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
        "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
        "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle",
        "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
        "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon",
        "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail",
        "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
        "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
        "willow_tree", "wolf", "woman", "worm",
    ]

    /// CIFAR-100's 20 coarse classes (superclasses), as in `coarse_label_names.txt`.
    public static let cifar100Coarse = [
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
        "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
        "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
        "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
        "vehicles_1", "vehicles_2",
    ]
}
