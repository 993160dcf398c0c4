public import LRMFormat

/// How one sample's values form an image: height × width × channels, stored channels-last (HWC) or
/// channels-first (CHW).
public struct ImageGeometry: Sendable, Equatable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var channelsLast: Bool

    public init(height: Int, width: Int, channels: Int, channelsLast: Bool) {
        self.height = height
        self.width = width
        self.channels = channels
        self.channelsLast = channelsLast
    }

    /// The geometry of a sample of `shape` as its values are ordered: [H, W] (one channel), [H, W, C]
    /// (`channelsLast`) or [C, H, W]; nil for any other shape.
    public init?(shape: [Int], channelsLast: Bool) {
        switch shape.count {
        case 2: self.init(height: shape[0], width: shape[1], channels: 1, channelsLast: true)
        case 3 where channelsLast: self.init(height: shape[0], width: shape[1], channels: shape[2], channelsLast: true)
        case 3: self.init(height: shape[1], width: shape[2], channels: shape[0], channelsLast: false)
        default: return nil
        }
        guard height > 0, width > 0, channels > 0 else { return nil }
    }

    public var valueCount: Int { height * width * channels }

    /// Where the value of channel `c` at row `y`, column `x` is stored within a sample.
    @inline(__always) func offset(y: Int, x: Int, c: Int) -> Int {
        channelsLast ? (y * width + x) * channels + c : (c * height + y) * width + x
    }
}

/// Random label-preserving changes to training images, drawn anew for every minibatch: a whole-pixel
/// shift of up to `maxShift` rows and columns (the uncovered border repeats the nearest edge pixel) and,
/// when `flip` is set, a left–right mirror with probability ½. A flip changes what some images mean (digits,
/// text), so it is for photographs such as CIFAR's.
public struct ImageAugmentation: Sendable, Equatable, CustomStringConvertible {
    public var maxShift: Int
    public var flip: Bool

    public init(maxShift: Int = 0, flip: Bool = false) {
        self.maxShift = maxShift
        self.flip = flip
    }

    public static let none = ImageAugmentation()

    public var isNone: Bool { maxShift == 0 && !flip }

    public var description: String {
        var parts: [String] = []
        if maxShift > 0 { parts.append("shift ≤ \(maxShift) px") }
        if flip { parts.append("left-right flip") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    /// `count` samples of `image`'s geometry, row after row in `values`, each changed in place by a shift
    /// and flip drawn from `rng` (two draws per sample for the shift, one for the flip).
    public func apply(to values: inout [Float], count: Int, image: ImageGeometry, using rng: inout SeededGenerator) {
        guard !isNone else { return }
        let size = image.valueCount
        precondition(values.count >= count * size, "augmentation: fewer values than samples of the image's size")
        let span = UInt64(2 * maxShift + 1)
        var source = [Float](repeating: 0, count: size)
        for sample in 0..<count {
            let dy = maxShift > 0 ? Int(rng.next() % span) - maxShift : 0
            let dx = maxShift > 0 ? Int(rng.next() % span) - maxShift : 0
            let mirror = flip && rng.next() & 1 == 1
            guard dy != 0 || dx != 0 || mirror else { continue }
            let base = sample * size
            for i in 0..<size { source[i] = values[base + i] }
            for y in 0..<image.height {
                let sy = min(max(y - dy, 0), image.height - 1)
                for x in 0..<image.width {
                    var sx = min(max(x - dx, 0), image.width - 1)
                    if mirror { sx = image.width - 1 - sx }
                    for c in 0..<image.channels {
                        values[base + image.offset(y: y, x: x, c: c)] = source[image.offset(y: sy, x: sx, c: c)]
                    }
                }
            }
        }
    }
}
