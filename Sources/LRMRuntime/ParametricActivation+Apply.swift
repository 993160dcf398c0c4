import Foundation
public import LRMFormat

/// PReLU's alphas (format 1.5) and how they broadcast over a sample: for each axis of the sample, its size and the
/// alphas' row-major stride along it (0 where the alphas have 1 there, or no such axis). Nothing is expanded: a sample
/// of 2²⁸ elements costs no more memory for its alphas than their own.
public struct BroadcastAlphas: Sendable {
    public var values: [Float]
    let sizes: [Int]
    let strides: [Int]
    /// Elements of one sample.
    public let sampleCount: Int

    /// `values` of shape `shape` over samples of shape `sample`; nil unless they broadcast (``ParametricActivation/alphasBroadcast(_:to:)``).
    public init?(_ values: [Float], shape: [Int], sample: [Int]) {
        guard ParametricActivation.alphasBroadcast(shape, to: sample), values.count == shape.reduce(1, *) else { return nil }
        let padded = [Int](repeating: 1, count: sample.count - shape.count) + shape
        var strides = [Int](repeating: 0, count: sample.count)
        var step = 1
        for axis in stride(from: sample.count - 1, through: 0, by: -1) {
            strides[axis] = padded[axis] == 1 ? 0 : step
            step *= padded[axis]
        }
        self.values = values
        sizes = sample
        self.strides = strides
        sampleCount = sample.reduce(1, *)
    }

    /// Calls `body(element, alpha)` for each element of one sample (row-major) with the index of the alpha it uses.
    @inline(__always) public func forEachElement(_ body: (Int, Int) -> Void) {
        var index = [Int](repeating: 0, count: sizes.count)
        var source = 0
        for element in 0..<sampleCount {
            body(element, source)
            // Advance the multi-index (last axis fastest) and the alpha's offset with it.
            var axis = sizes.count - 1
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < sizes[axis] { break }
                source -= strides[axis] * index[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

extension ParametricActivation {
    /// Applies the function in place to whole samples (row-major); `alphas` are ``prelu``'s (`values.count` is a
    /// multiple of their sample's element count). Definitions are those of `spec/FORMAT.md` section 3.8, in float32 with
    /// the parameters rounded to float32.
    public func apply(to values: UnsafeMutableBufferPointer<Float>, alphas: BroadcastAlphas?) {
        switch self {
        case let .relu(slope, threshold, maxValue):
            let a = Float(slope), t = Float(threshold), m = Float(maxValue)
            for i in values.indices {
                let x = values[i]
                values[i] = x > t ? min(x, m) : a * (x - t)
            }
        case .elu(let alpha):
            let a = Float(alpha)
            for i in values.indices where !(values[i] > 0) { values[i] = a * expm1(values[i]) }
        case .prelu:
            guard let alphas, alphas.sampleCount > 0 else { return }
            for start in stride(from: 0, to: values.count - alphas.sampleCount + 1, by: alphas.sampleCount) {
                alphas.forEachElement { element, alpha in
                    let x = values[start + element]
                    if x < 0 { values[start + element] = alphas.values[alpha] * x }
                }
            }
        }
    }
}
