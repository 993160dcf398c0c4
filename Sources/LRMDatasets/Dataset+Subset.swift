/// How to choose a deterministic subset of a data set (for calibration and validation splits).
public enum SubsetSelection: Sendable, Equatable {
    /// The first `n` samples in file order.
    case first(Int)
    /// `count` samples drawn without replacement by a SplitMix64 generator seeded with `seed`
    /// (partial Fisher–Yates shuffle, bounded draws by Lemire's multiply-shift with rejection),
    /// then sorted into file order. The same seed gives the same samples on every machine.
    case seededSample(count: Int, seed: UInt64)
    /// Exactly these positions (0..<sampleCount of the data set it is applied to), which must be
    /// unique; they are read in ascending order.
    case indices([Int])
}

extension Dataset {
    /// The data set restricted to a selection of its samples. Positions are relative to this
    /// data set (so a subset of a subset selects among the already selected samples); the
    /// result reads its samples in file order, and its `description` names the selection.
    ///
    /// - Throws: `DatasetError.invalidArgument` when a count is negative or exceeds
    ///   `sampleCount`, or an index is out of range or repeated.
    public func subset(_ selection: SubsetSelection) throws -> Dataset {
        let positions: [Int]
        let note: String
        switch selection {
        case .first(let count):
            try checkCount(count)
            positions = Array(0..<count)
            note = "subset: first \(formatCount(count))"
        case .seededSample(let count, let seed):
            try checkCount(count)
            positions = Dataset.seededPositions(count: count, of: sampleCount, seed: seed)
            note = "subset: \(formatCount(count)) sampled with seed \(seed)"
        case .indices(let given):
            let sorted = given.sorted()
            for (offset, position) in sorted.enumerated() {
                guard position >= 0, position < sampleCount else {
                    throw DatasetError(.invalidArgument, "subset index", expected: "0..<\(sampleCount)",
                                       found: "\(position)")
                }
                if offset > 0, sorted[offset - 1] == position {
                    throw DatasetError(.invalidArgument, "subset index \(position) given twice")
                }
            }
            positions = sorted
            // A contiguous run (lrm verify --test-half second) is named by its ends.
            if let low = sorted.first, let high = sorted.last, sorted.count > 1, high - low == sorted.count - 1 {
                note = "subset: samples \(formatCount(low))–\(formatCount(high))"
            } else {
                note = "subset: \(formatCount(sorted.count)) given indices"
            }
        }
        return restricted(to: positions.map { selectedIndices?[$0] ?? $0 }, note: note)
    }

    /// Splits the data set in two disjoint parts: `count` samples drawn with `seed` (as
    /// `.seededSample`) and all the others, both in file order.
    public func partition(sampleCount count: Int, seed: UInt64) throws -> (sample: Dataset, remainder: Dataset) {
        try checkCount(count)
        let chosen = Dataset.seededPositions(count: count, of: sampleCount, seed: seed)
        var isChosen = [Bool](repeating: false, count: sampleCount)
        for position in chosen { isChosen[position] = true }
        let rest = (0..<sampleCount).filter { !isChosen[$0] }
        let sample = restricted(to: chosen.map { selectedIndices?[$0] ?? $0 },
                                note: "partition: \(formatCount(count)) sampled with seed \(seed)")
        let remainder = restricted(to: rest.map { selectedIndices?[$0] ?? $0 },
                                   note: "partition: the \(formatCount(rest.count)) not sampled with seed \(seed)")
        return (sample, remainder)
    }

    private func checkCount(_ count: Int) throws {
        guard count >= 0, count <= sampleCount else {
            throw DatasetError(.invalidArgument, "subset size", expected: "0...\(sampleCount)", found: "\(count)")
        }
    }

    /// `count` distinct positions of 0..<total, ascending, chosen by a seeded partial shuffle.
    public static func seededPositions(count: Int, of total: Int, seed: UInt64) -> [Int] {
        var generator = SplitMix64(seed: seed)
        var pool = Array(0..<total)
        for i in 0..<count {
            let j = i + Int(generator.next(below: UInt64(total - i)))
            pool.swapAt(i, j)
        }
        return pool[..<count].sorted()
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fully specified generator, so seeded
/// subsets are identical on every platform and Swift version.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in 0..<bound (bound ≥ 1), by Lemire's multiply-shift with rejection.
    mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        let threshold = (0 &- bound) % bound
        while true {
            let (high, low) = next().multipliedFullWidth(by: bound)
            if low >= threshold { return high }
        }
    }
}

extension Dataset {
    /// The two halves of a test split that `lrm convert --estimate test-half` and `lrm verify --test-half` use: the
    /// first ⌊n/2⌋ samples (a search selects and confirms on them) and the rest (what it reports). One definition, so
    /// that the half a model was reported on is the half verify checks.
    public static func testHalves(count: Int) -> (first: Range<Int>, second: Range<Int>) {
        let half = count / 2
        return (0..<half, half..<count)
    }

    /// This split's first or second half (``testHalves(count:)``).
    public func testHalf(second: Bool) throws -> Dataset {
        let halves = Dataset.testHalves(count: sampleCount)
        return try subset(second ? .indices(Array(halves.second)) : .first(halves.first.count))
    }
}
