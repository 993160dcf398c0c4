import Foundation
public import LRMFormat

extension Activation {
    /// Applies the activation in place to `rows` rows of `width` values (row-major); softmax acts
    /// on each row. Definitions are those of `spec/FORMAT.md`.
    public func apply(to values: UnsafeMutableBufferPointer<Float>, rows: Int, width: Int) {
        let count = rows * width
        switch self {
        case .linear:
            return
        case .relu:
            // A select rather than a branch, so the loop vectorizes; −0 and NaN pass through as before.
            for i in 0..<count { values[i] = values[i] < 0 ? 0 : values[i] }
        case .relu6:
            for i in 0..<count { values[i] = min(max(values[i], 0), 6) }
        case .sigmoid:
            for i in 0..<count { values[i] = Activation.sigmoid(values[i]) }
        case .tanh:
            for i in 0..<count { values[i] = Foundation.tanh(values[i]) }
        case .softmax:
            for row in 0..<rows {
                let start = row * width
                var largest = -Float.infinity
                for i in start..<(start + width) { largest = max(largest, values[i]) }
                var total: Float = 0
                for i in start..<(start + width) {
                    let e = exp(values[i] - largest)
                    values[i] = e
                    total += e
                }
                let inverse = 1 / total
                for i in start..<(start + width) { values[i] *= inverse }
            }
        case .gelu:
            for i in 0..<count {
                let x = Double(values[i])
                values[i] = Float(0.5 * x * (1 + erf(x / 2.0.squareRoot())))
            }
        case .geluTanh:
            let c = Float((2 / Double.pi).squareRoot())
            for i in 0..<count {
                let x = values[i]
                values[i] = 0.5 * x * (1 + Foundation.tanh(c * (x + 0.044715 * x * x * x)))
            }
        case .silu:
            for i in 0..<count { values[i] = values[i] * Activation.sigmoid(values[i]) }
        case .elu:
            for i in 0..<count where values[i] <= 0 { values[i] = expm1(values[i]) }
        case .selu:
            let scale: Float = 1.0507009873554805, alpha: Float = 1.6732632423543772
            for i in 0..<count { values[i] = values[i] > 0 ? scale * values[i] : scale * alpha * expm1(values[i]) }
        case .softplus:
            // ln(1 + eˣ) without overflow: max(x, 0) + ln(1 + e^−|x|).
            for i in 0..<count { let x = values[i]; values[i] = max(x, 0) + log1p(exp(-abs(x))) }
        case .softsign:
            for i in 0..<count { values[i] = values[i] / (1 + abs(values[i])) }
        case .hardSigmoid:
            for i in 0..<count { values[i] = min(max(values[i] + 3, 0), 6) / 6 }
        case .exponential:
            for i in 0..<count { values[i] = exp(values[i]) }
        case .mish:
            for i in 0..<count { let x = values[i]; values[i] = x * Foundation.tanh(Activation.softplus(x)) }
        case .hardSilu:
            for i in 0..<count { let x = values[i]; values[i] = x * (min(max(x + 3, 0), 6) / 6) }
        case .logSigmoid:
            // −softplus(−x) = min(x, 0) − ln(1 + e^−|x|).
            for i in 0..<count { let x = values[i]; values[i] = min(x, 0) - log1p(exp(-abs(x))) }
        case .hardSigmoidKeras2:
            // tf-keras computes (x · 0.2 + 0.5) in float32, then clips.
            for i in 0..<count { values[i] = min(max(values[i] * 0.2 + 0.5, 0), 1) }
        case .hardTanh:
            for i in 0..<count { values[i] = min(max(values[i], -1), 1) }
        case .logSoftmax:
            for row in 0..<rows {
                let start = row * width
                var largest = -Float.infinity
                for i in start..<(start + width) { largest = max(largest, values[i]) }
                var total: Float = 0
                for i in start..<(start + width) { total += exp(values[i] - largest) }
                let shift = largest + log(total)
                for i in start..<(start + width) { values[i] -= shift }
            }
        }
    }

    /// ln(1 + eˣ) without overflow: max(x, 0) + ln(1 + e^−|x|).
    @inline(__always) static func softplus(_ x: Float) -> Float { max(x, 0) + log1p(exp(-abs(x))) }

    @inline(__always) static func sigmoid(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }
}
