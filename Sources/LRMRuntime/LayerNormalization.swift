import Foundation

/// (1.5) Layer normalization over the last axis (`spec/FORMAT.md`, kind 26 `layer_norm`): each row of `features`
/// values, with mean μ and biased variance σ² (computed in double precision, two passes), becomes
/// `y = x · inv + (β − μ · inv)` with `inv = γ / √(σ² + ε)`; γ is 1 and β 0 when absent. This is Keras's
/// `LayerNormalization(axis=-1)` (`ops.layer_normalization`), which computes in at least float32.
package enum LayerNormalization {
    /// The mean and 1/√(σ² + ε) of one row.
    @inline(__always)
    package static func moments(_ row: UnsafeBufferPointer<Float>, epsilon: Double) -> (mean: Double, reciprocal: Double) {
        let n = Double(row.count)
        var sum = 0.0
        for v in row { sum += Double(v) }
        let mean = sum / n
        var squares = 0.0
        for v in row { let d = Double(v) - mean; squares += d * d }
        return (mean, 1 / (squares / n + epsilon).squareRoot())
    }

    /// Normalizes each of the `x.count / features` rows of `x` in place.
    package static func apply(_ x: inout [Float], features: Int, gamma: [Float]?, beta: [Float]?, epsilon: Double) {
        guard features > 0 else { return }
        let rows = x.count / features
        x.withUnsafeMutableBufferPointer { buffer in
            for r in 0..<rows {
                let row = UnsafeMutableBufferPointer(rebasing: buffer[(r * features)..<((r + 1) * features)])
                let (mean, reciprocal) = moments(UnsafeBufferPointer(row), epsilon: epsilon)
                for c in 0..<features {
                    let inv = Float(reciprocal) * (gamma?[c] ?? 1)
                    row[c] = row[c] * inv + ((beta?[c] ?? 0) - Float(mean) * inv)
                }
            }
        }
    }
}
