public import LRMFormat

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
