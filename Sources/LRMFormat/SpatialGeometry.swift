/// How a convolution or pooling window treats the borders (`spec/FORMAT.md`, section 3.5).
public enum WindowPadding: UInt8, Sendable, CaseIterable {
    /// No padding: only windows that lie wholly inside the input; out = ⌊(in − e) / s⌋ + 1, e ≤ in.
    case valid = 0
    /// Keras/TensorFlow "same": out = ⌈in / s⌉; pad_total = max((out − 1)·s + e − in, 0), of which
    /// ⌊pad_total / 2⌋ goes before (top, left) and the rest after. `e` is the dilated window (k − 1)·d + 1.
    case same = 1

    public var name: String { self == .valid ? "valid" : "same" }

    public init?(name: String) {
        guard let match = WindowPadding.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// Strides, dilation and padding of a 2-D convolution; the kernel size comes from its tensor.
public struct ConvGeometry: Sendable, Equatable {
    public var strideH: Int
    public var strideW: Int
    public var dilationH: Int
    public var dilationW: Int
    public var padding: WindowPadding

    public init(strideH: Int = 1, strideW: Int = 1, dilationH: Int = 1, dilationW: Int = 1, padding: WindowPadding = .valid) {
        self.strideH = strideH
        self.strideW = strideW
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.padding = padding
    }

    /// Stride 1, dilation 1: what a 1×1 convolution (or the second half of a channel factorization) uses.
    public static let unit = ConvGeometry()
}

/// Max or average.
public enum PoolMode: UInt8, Sendable, CaseIterable {
    /// The largest element of the window; padded positions never count.
    case max = 0
    /// The mean of the window's elements inside the input (padded positions are not counted).
    case average = 1

    public var name: String { self == .max ? "max" : "average" }

    public init?(name: String) {
        guard let match = PoolMode.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// A 2-D pooling window over height and width, per channel.
public struct Pooling: Sendable, Equatable {
    public var mode: PoolMode
    public var poolH: Int
    public var poolW: Int
    public var strideH: Int
    public var strideW: Int
    public var padding: WindowPadding

    public init(mode: PoolMode, poolH: Int, poolW: Int, strideH: Int, strideW: Int, padding: WindowPadding) {
        self.mode = mode
        self.poolH = poolH
        self.poolW = poolW
        self.strideH = strideH
        self.strideW = strideW
        self.padding = padding
    }
}

/// Rows and columns added (zero padding) or removed (cropping) at each border.
public struct Margins: Sendable, Equatable {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top
        self.bottom = bottom
        self.left = left
        self.right = right
    }
}

/// How a convolution kernel K of shape (kh, kw, cin, cout) was viewed as a matrix and split.
public enum ConvFactorizationForm: UInt8, Sendable, CaseIterable {
    /// (kh·kw·cin) × cout: a kh×kw convolution with k filters, then a 1×1 convolution.
    case channel = 0
    /// (cin·kh) × (kw·cout): a kh×1 convolution with k filters, then a 1×kw convolution.
    case spatial = 1

    public var name: String { self == .channel ? "channel" : "spatial" }

    public init?(name: String) {
        guard let match = ConvFactorizationForm.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// One axis of a sliding window: its output length and the padding before and after.
public struct WindowAxis: Sendable, Equatable {
    public var outputLength: Int
    public var padBefore: Int
    public var padAfter: Int

    /// The largest stride, dilation, window or margin a file may give (`spec/FORMAT.md`, section 4).
    public static let maxParameter = 65_535

    /// The axis for input length `length`, window `window`, stride, dilation and padding, or nil when
    /// the window does not fit (valid padding, dilated window longer than the input) or a parameter
    /// is outside 1…``maxParameter``.
    public static func compute(length: Int, window: Int, stride: Int, dilation: Int, padding: WindowPadding) -> WindowAxis? {
        let range = 1...maxParameter
        guard length >= 1, range.contains(window), range.contains(stride), range.contains(dilation) else { return nil }
        // e ≤ 65535² < 2³²: no overflow on 64-bit Int.
        let effective = (window - 1) * dilation + 1
        switch padding {
        case .valid:
            guard effective <= length else { return nil }
            return WindowAxis(outputLength: (length - effective) / stride + 1, padBefore: 0, padAfter: 0)
        case .same:
            let out = (length + stride - 1) / stride
            let total = max((out - 1) * stride + effective - length, 0)
            return WindowAxis(outputLength: out, padBefore: total / 2, padAfter: total - total / 2)
        }
    }
}

/// How an `upsample2d` layer (format 1.5) fills the positions between the input's (`spec/FORMAT.md`, section 3.5).
public enum UpsampleInterpolation: UInt8, Sendable, CaseIterable {
    /// Output (oy, ox) is input (⌊oy / factor_h⌋, ⌊ox / factor_w⌋): each row and column repeated.
    case nearest = 0
    /// Per axis, the half-pixel-centre linear interpolation of Keras 3's (and TensorFlow's) bilinear resize: source
    /// coordinate (o + ½) / factor − ½, between its two neighbours, clamped to the input's edge.
    case bilinear = 1

    public var name: String { self == .nearest ? "nearest" : "bilinear" }

    public init?(name: String) {
        guard let match = UpsampleInterpolation.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// Integer upsampling factors of an [h, w, c] sample and how the new positions are filled (format 1.5).
public struct Upsampling: Sendable, Equatable {
    /// Rows and columns of the output per input row and column, 1 to ``WindowAxis/maxParameter``.
    public var factorH: Int
    public var factorW: Int
    public var interpolation: UpsampleInterpolation

    public init(factorH: Int, factorW: Int, interpolation: UpsampleInterpolation = .nearest) {
        self.factorH = factorH
        self.factorW = factorW
        self.interpolation = interpolation
    }

    /// The source rows (or columns) and weights of output index `o` along an axis of input length `length` and
    /// factor `factor`: `value = (1 − t)·x[low] + t·x[high]`. Nearest: `low = high = ⌊o / factor⌋`, t = 0. Bilinear:
    /// the source coordinate s = (o + ½)/factor − ½, `low` = clamp(⌊s⌋), `high` = clamp(⌊s⌋ + 1), t = s − ⌊s⌋, clamped
    /// to 0…length − 1 (at the edges both neighbours are the edge's row, so the value is that row's).
    public static func source(_ o: Int, length: Int, factor: Int, interpolation: UpsampleInterpolation) -> (low: Int, high: Int, t: Double) {
        switch interpolation {
        case .nearest:
            let i = o / factor
            return (i, i, 0)
        case .bilinear:
            let s = (Double(o) + 0.5) / Double(factor) - 0.5
            let floor = s.rounded(.down)
            let i = Int(floor)
            return (min(max(i, 0), length - 1), min(max(i + 1, 0), length - 1), s - floor)
        }
    }
}

/// Strides, dilations, cropping and output size of a transposed convolution (format 1.5, `spec/FORMAT.md` section
/// 3.5); the kernel size comes from its tensor. Input position i of an axis reaches output positions
/// i·stride + a·dilation − crop for the kernel's taps a; the output has `outputH` × `outputW` positions (Keras's
/// `padding` and `output_padding` resolved to these by the importer).
public struct TransposedGeometry: Sendable, Equatable {
    public var strideH: Int
    public var strideW: Int
    public var dilationH: Int
    public var dilationW: Int
    /// Rows (columns) of the full transposed map left out before the output's first.
    public var cropTop: Int
    public var cropLeft: Int
    public var outputH: Int
    public var outputW: Int

    public init(strideH: Int = 1, strideW: Int = 1, dilationH: Int = 1, dilationW: Int = 1, cropTop: Int = 0, cropLeft: Int = 0,
                outputH: Int, outputW: Int) {
        self.strideH = strideH
        self.strideW = strideW
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.cropTop = cropTop
        self.cropLeft = cropLeft
        self.outputH = outputH
        self.outputW = outputW
    }

    /// One axis as Keras 3 resolves `padding` and `output_padding` (its JAX backend's padding rule, which TensorFlow's
    /// output shapes agree with): (crop, output length) for input length `length`, kernel size `kernel`, or nil when
    /// the output would be empty. `valid`: crop 0, length (n − 1)·s + max(e, s) without output padding, (n − 1)·s + e + p
    /// with it; `same`: length n·s without, (n − 1)·s + e mod 2 + p with it … as crop e − 1 − left pad, with Keras's
    /// left pad min(⌈pad / 2⌉, e − 1).
    public static func kerasAxis(length: Int, kernel: Int, stride: Int, dilation: Int, same: Bool,
                                 outputPadding: Int?) -> (crop: Int, length: Int)? {
        let e = (kernel - 1) * dilation + 1
        let left: Int, right: Int
        if !same {
            let padding = outputPadding ?? (max(e, stride) - e)
            (left, right) = (e - 1, e - 1 + padding)
        } else {
            let total = outputPadding.map { e + e % 2 - 2 + $0 } ?? (stride + e - 2)
            left = min(total / 2 + total % 2, e - 1)
            right = total - left
        }
        let out = (length - 1) * stride + 1 + left + right - e + 1
        guard out >= 1 else { return nil }
        return (e - 1 - left, out)
    }
}

extension Upsampling {
    /// A short description for tables: the factors (height × width) and the interpolation, `2×2 bilinear`.
    public var summary: String { "\(factorH)×\(factorW) \(interpolation.name)" }
}

extension TransposedGeometry {
    /// A short description for tables: the strides, then the dilation and the crop where they are not 1×1 and 0
    /// (`strides 2×2, dilation 2×2, crop 1, 0`); the output size is the layer's output shape.
    public var summary: String {
        "strides \(strideH)×\(strideW)" + (dilationH == 1 && dilationW == 1 ? "" : ", dilation \(dilationH)×\(dilationW)")
            + (cropTop == 0 && cropLeft == 0 ? "" : ", crop \(cropTop), \(cropLeft)")
    }
}
