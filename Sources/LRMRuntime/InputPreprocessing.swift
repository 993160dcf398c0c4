import LRMFormat

/// A model's input preprocessing `x · scale + offset`, kept as recorded (one value, one per channel or one
/// per element) and broadcast over each sample while it runs: a file's input shape never makes lrm
/// allocate anything before there are inputs (a 128-byte file claiming an input of 2³¹−1 elements and
/// one scale used to make a 16 GiB table of scales when the model was prepared).
struct InputPreprocessing: Sendable {
    /// How one recorded vector maps onto a sample's elements.
    enum Broadcast: Sendable, Equatable {
        /// No values: identity.
        case none
        /// One value for every element.
        case single(Float)
        /// One value per element.
        case perElement([Float])
        /// One value per channel, channels last (HWC): element i has channel i mod C.
        case channelsLast([Float])
        /// One value per channel, channels first (CHW): element i has channel i / (elements / C).
        case channelsFirst([Float])
    }

    let scale: Broadcast
    let offset: Broadcast

    var isIdentity: Bool { scale == .none && offset == .none }

    /// The recorded `input.scale` and `input.offset`, checked against the input shape (0, 1, per channel or
    /// per element values; per-channel values need an image layout whose channels divide the sample).
    init(_ input: InputSpec) throws {
        scale = try Self.broadcast(input.scale, input, label: "scale")
        offset = try Self.broadcast(input.offset, input, label: "offset")
    }

    private static func broadcast(_ values: [Double], _ input: InputSpec, label: String) throws -> Broadcast {
        let floats = values.map(Float.init)
        let count = input.shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        switch values.count {
        case 0: return .none
        case 1: return .single(floats[0])
        case count: return .perElement(floats)
        default:
            guard let channels = input.channelCount, channels == values.count, channels > 0, count % channels == 0 else {
                throw RuntimeError(.invalidModel, "input \(label) has \(values.count) values; the input \(input.shape) (\(input.layout.name)) "
                                   + "takes 1, one per channel or one per element")
            }
            return input.layout == .chw ? .channelsFirst(floats) : .channelsLast(floats)
        }
    }

    /// Applies `x · scale + offset` in place to `samples` samples of `width` elements each.
    func apply(to values: UnsafeMutableBufferPointer<Float>, samples: Int, width: Int) {
        guard width > 0 else { return }
        for s in 0..<samples {
            let sample = UnsafeMutableBufferPointer(rebasing: values[(s * width)..<((s + 1) * width)])
            Self.apply(scale, to: sample) { $0 *= $1 }
            Self.apply(offset, to: sample) { $0 += $1 }
        }
    }

    private static func apply(_ broadcast: Broadcast, to sample: UnsafeMutableBufferPointer<Float>, _ combine: (inout Float, Float) -> Void) {
        let width = sample.count
        switch broadcast {
        case .none: return
        case .single(let value):
            for i in 0..<width { combine(&sample[i], value) }
        case .perElement(let values):
            for i in 0..<width { combine(&sample[i], values[i]) }
        case .channelsLast(let values):
            let channels = values.count
            var i = 0
            while i < width {
                for c in 0..<channels { combine(&sample[i + c], values[c]) }
                i += channels
            }
        case .channelsFirst(let values):
            let plane = width / values.count
            for (c, value) in values.enumerated() {
                for i in (c * plane)..<((c + 1) * plane) { combine(&sample[i], value) }
            }
        }
    }
}
