import Foundation
public import LRMFormat

extension ParametricActivation {
    /// Applies the function in place to whole samples (row-major). `alphas` is ``prelu``'s tensor expanded to one value
    /// per element of a sample (``expandedAlphas(_:shape:sample:)``): `values.count` is a multiple of its count.
    /// Definitions are those of `spec/FORMAT.md` section 3.8, in float32 with the parameters rounded to float32.
    public func apply(to values: UnsafeMutableBufferPointer<Float>, alphas: [Float]?) {
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
            guard let alphas, !alphas.isEmpty else { return }
            let width = alphas.count
            for start in stride(from: 0, to: values.count, by: width) {
                for j in 0..<min(width, values.count - start) {
                    let x = values[start + j]
                    if x < 0 { values[start + j] = alphas[j] * x }
                }
            }
        }
    }

    /// `alphas` of shape `alphaShape`, broadcast (numpy's rule, aligned at the last axis) to one value per element of a
    /// sample of shape `sample`, row-major. The shapes must broadcast (``alphasBroadcast(_:to:)``).
    public static func expandedAlphas(_ alphas: [Float], shape alphaShape: [Int], sample: [Int]) -> [Float] {
        alphaIndices(shape: alphaShape, sample: sample).map { alphas[$0] }
    }

    /// For each element of a sample of shape `sample` (row-major), the index of the alpha of shape `alphaShape` that
    /// broadcasts to it. The shapes must broadcast (``alphasBroadcast(_:to:)``).
    public static func alphaIndices(shape alphaShape: [Int], sample: [Int]) -> [Int] {
        let count = sample.reduce(1, *)
        let padded = [Int](repeating: 1, count: max(sample.count - alphaShape.count, 0)) + alphaShape
        // Row-major strides of the alphas over the sample's axes: 0 where an axis is broadcast.
        var strides = [Int](repeating: 0, count: sample.count)
        var step = 1
        for axis in stride(from: sample.count - 1, through: 0, by: -1) {
            strides[axis] = padded[axis] == 1 ? 0 : step
            step *= padded[axis]
        }
        var result = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: sample.count)
        var source = 0
        for element in 0..<count {
            result[element] = source
            // Advance the multi-index (last axis fastest) and the source offset with it.
            var axis = sample.count - 1
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < sample[axis] { break }
                source -= strides[axis] * index[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
