/// Samples held in memory: data a user gives as arrays (`--inputs X.npy --labels Y.npy`, a CSV file)
/// rather than one of the bundled data sets. Samples are stored in the order the model takes them (no
/// layout conversion) and unscaled; each model applies its own preprocessing.
struct ArrayStorage: Sendable {
    /// `sampleCount × featureCount` values, row-major, from `features.startIndex` on: a slice, so that the parts of
    /// one array (own data split into training and test records) are data sets without copying it.
    let features: ArraySlice<Float>
    /// The shape of one sample.
    let sampleShape: [Int]
    /// The class of each sample (classification); for regression data empty, or -1 for every sample (each sample's
    /// label is -1 either way: ``label(_:)``).
    let labels: [Int]
    /// `sampleCount × targetWidth` regression targets, row-major, from `targets.startIndex` on (a slice, so that the
    /// parts of one array of targets are data sets without copying it); empty for classification.
    let targets: ArraySlice<Float>
    let targetWidth: Int

    var sampleCount: Int { targetWidth > 0 ? targets.count / targetWidth : labels.count }
    var featureCount: Int { sampleShape.reduce(1, *) }

    /// Sample `index`'s class; -1 for regression data.
    func label(_ index: Int) -> Int { labels.isEmpty ? -1 : labels[index] }

    func forEachBatch(size: Int, selected: [Int]?, scale: Float, _ body: (DatasetBatch) throws -> Void) throws {
        let count = selected?.count ?? sampleCount
        let width = featureCount
        let base = features.startIndex
        var start = 0
        while start < count {
            let end = min(count, start + size)
            var pixels: [Float] = []
            var labels: [Int] = []
            var targets: [Float] = []
            var indices: [Int] = []
            pixels.reserveCapacity((end - start) * width)
            for position in start..<end {
                let index = selected?[position] ?? position
                indices.append(index)
                labels.append(label(index))
                let row = features[(base + index * width)..<(base + (index + 1) * width)]
                if scale == 1 { pixels += row } else { pixels += row.map { $0 * scale } }
                let first = self.targets.startIndex + index * targetWidth
                if targetWidth > 0 { targets += self.targets[first..<(first + targetWidth)] }
            }
            try body(DatasetBatch(pixels: pixels, labels: labels, range: start..<end, sampleIndices: indices,
                                  featureCount: width, targets: targets))
            start = end
        }
    }
}

extension Dataset {
    /// Data given as arrays: `features` (`labels.count` samples of shape `sampleShape`, row-major, raw as
    /// the model's preprocessing expects them), with class labels (`0..<classNames.count`) for
    /// classification, or `targets` (`targetWidth` values per sample) and labels of -1 for regression.
    /// `description` says where the arrays came from; `split` which part they are.
    ///
    /// - Throws: `DatasetError.invalidArgument` when the counts do not fit together or a label is out of range.
    public init(arrays features: [Float], sampleShape: [Int], labels: [Int], classNames: [String],
                targets: [Float] = [], targetWidth: Int = 0, split: DatasetSplit, description: String) throws {
        try self.init(arrays: features[...], sampleShape: sampleShape, labels: labels, classNames: classNames, targets: targets,
                      targetWidth: targetWidth, split: split, description: description)
    }

    /// The same from part of an array: the data set keeps the slice, sharing the array's storage (no copy).
    public init(arrays features: ArraySlice<Float>, sampleShape: [Int], labels: [Int], classNames: [String],
                targets: [Float] = [], targetWidth: Int = 0, split: DatasetSplit, description: String) throws {
        try self.init(arrays: features, sampleShape: sampleShape, sampleCount: labels.count, labels: labels, classNames: classNames,
                      targets: targets[...], targetWidth: targetWidth, split: split, description: description)
    }

    /// Regression data given as arrays: `features` and `targets` (`targetWidth ≥ 1` values per sample, row-major; both
    /// kept as the slices they are, sharing their arrays' storage), no classes; every sample's label is -1 without an
    /// array of them (a label per sample would cost 8 bytes a record).
    public init(arrays features: ArraySlice<Float>, sampleShape: [Int], targets: ArraySlice<Float>, targetWidth: Int,
                split: DatasetSplit, description: String) throws {
        guard targetWidth >= 1, targets.count % targetWidth == 0 else {
            throw DatasetError(.invalidArgument, "own data: \(targets.count) target values in rows of \(targetWidth)",
                               expected: "a multiple of \(targetWidth) (at least 1)", found: "\(targets.count)")
        }
        try self.init(arrays: features, sampleShape: sampleShape, sampleCount: targets.count / targetWidth, labels: [], classNames: [],
                      targets: targets, targetWidth: targetWidth, split: split, description: description)
    }

    private init(arrays features: ArraySlice<Float>, sampleShape: [Int], sampleCount: Int, labels: [Int], classNames: [String],
                 targets: ArraySlice<Float>, targetWidth: Int, split: DatasetSplit, description: String) throws {
        let width = sampleShape.reduce(1, *)
        guard width >= 1, features.count == sampleCount * width else {
            throw DatasetError(.invalidArgument, "own data: \(features.count) feature values for \(sampleCount) samples",
                               expected: "\(sampleCount) × \(width)", found: "\(features.count)")
        }
        guard targets.count == sampleCount * targetWidth else {
            throw DatasetError(.invalidArgument, "own data: \(targets.count) target values for \(sampleCount) samples",
                               expected: "\(sampleCount) × \(targetWidth)", found: "\(targets.count)")
        }
        if targetWidth == 0 {
            if let bad = labels.first(where: { !(0..<classNames.count).contains($0) }) {
                throw DatasetError(.labelOutOfRange, "own data: label", expected: "0...\(classNames.count - 1)", found: "\(bad)")
            }
        }
        let storage = ArrayStorage(features: features, sampleShape: sampleShape, labels: labels, targets: targets,
                                   targetWidth: targetWidth)
        self.init(name: nil, split: split, classNames: classNames, files: [], storage: .arrays(storage), description: description)
    }

    /// Regression targets per sample (0 for classification data).
    public var targetWidth: Int {
        if case .arrays(let arrays) = storage { return arrays.targetWidth }
        return 0
    }
}
