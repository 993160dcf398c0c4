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
    @inline(__always) public func offset(y: Int, x: Int, c: Int) -> Int {
        channelsLast ? (y * width + x) * channels + c : (c * height + y) * width + x
    }
}
