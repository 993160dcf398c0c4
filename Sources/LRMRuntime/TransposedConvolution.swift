package import LRMFormat
import LRMLinearAlgebra

/// One transposed 2-D convolution (format 1.5's `conv2d_transpose`, `spec/FORMAT.md` section 3.5) with every size
/// resolved for its input: NHWC in, NHWC out.
///
/// The kernel [kh, kw, cout, cin], row-major, is the (kh·kw·cout) × cin matrix M. Each input position's cin values
/// times Mᵀ give kh·kw·cout values (one `sgemm` for a chunk of positions); the value of tap (a, b), output channel o
/// is added at output position (i·sh + a·dh − cropTop, j·sw + b·dw − cropLeft) when that lies inside the output
/// (col2im). It is the adjoint of the `conv2d` with kernel M on the output map (stride, dilation, padding before
/// cropTop and cropLeft), which is how its backward pass runs.
package struct TransposedConvolution: Sendable {
    package var inH: Int, inW: Int, inChannels: Int
    package var kernelH: Int, kernelW: Int, outChannels: Int
    package var geometry: TransposedGeometry
    /// (kh·kw·cout) × cin, row-major.
    package var kernel: [Float]
    package var bias: [Float]?
    package var activation: Activation

    /// The plan for a `[kh, kw, cout, cin]` kernel on an `[h, w, cin]` input, or nil when it does not fit.
    package init?(input: [Int], kernelShape: [Int], kernel: [Float], bias: [Float]?, activation: Activation, geometry g: TransposedGeometry) {
        let range = 1...WindowAxis.maxParameter
        guard input.count == 3, kernelShape.count == 4, kernelShape[3] == input[2], kernelShape.allSatisfy({ $0 >= 1 }),
              [g.strideH, g.strideW, g.dilationH, g.dilationW].allSatisfy(range.contains),
              g.cropTop >= 0, g.cropLeft >= 0, g.outputH >= 1, g.outputW >= 1,
              bias.map({ $0.count == kernelShape[2] }) ?? true else { return nil }
        (inH, inW, inChannels) = (input[0], input[1], input[2])
        (kernelH, kernelW, outChannels) = (kernelShape[0], kernelShape[1], kernelShape[2])
        geometry = g
        self.kernel = kernel
        self.bias = bias
        self.activation = activation
    }

    package var outputShape: [Int] { [geometry.outputH, geometry.outputW, outChannels] }
    /// Values one input position gives: kh·kw·cout.
    var tapLength: Int { kernelH * kernelW * outChannels }

    /// The layer's output for `samples` NHWC inputs (bias and activation included when `finish`).
    package func apply(_ x: [Float], samples: Int, finish: Bool = true, chunkFloats: Int = ConvolutionPlan.maxPatchFloats) throws -> [Float] {
        let g = geometry, cout = outChannels, t = tapLength
        let (outH, outW) = (g.outputH, g.outputW)
        var y = [Float](repeating: 0, count: samples * outH * outW * cout)
        if finish, let bias {
            for position in 0..<(samples * outH * outW) { for o in 0..<cout { y[position * cout + o] = bias[o] } }
        }
        let totalRows = samples * inH * inW
        let chunkRows = max(1, min(totalRows, chunkFloats / max(t, 1)))
        var taps = [Float](repeating: 0, count: chunkRows * t)
        try x.withUnsafeBufferPointer { src in
            try kernel.withUnsafeBufferPointer { w in
                try taps.withUnsafeMutableBufferPointer { tapBuffer in
                    try y.withUnsafeMutableBufferPointer { out in
                        var start = 0
                        while start < totalRows {
                            let rows = min(chunkRows, totalRows - start)
                            let a = UnsafeBufferPointer(rebasing: src[(start * inChannels)..<((start + rows) * inChannels)])
                            let c = UnsafeMutableBufferPointer(rebasing: tapBuffer[0..<(rows * t)])
                            do {
                                try GEMM.multiply(a, shape: MatrixShape(rows: rows, columns: inChannels), w,
                                                  shape: MatrixShape(rows: t, columns: inChannels), transposeB: true,
                                                  into: c, shape: MatrixShape(rows: rows, columns: t))
                            } catch {
                                throw RuntimeError(.computation, "matrix product failed: \(error)")
                            }
                            for local in 0..<rows {
                                let row = start + local
                                let sample = row / (inH * inW), position = row % (inH * inW)
                                let (i, j) = (position / inW, position % inW)
                                for a in 0..<kernelH {
                                    let p = i * g.strideH + a * g.dilationH - g.cropTop
                                    guard p >= 0, p < outH else { continue }
                                    for b in 0..<kernelW {
                                        let q = j * g.strideW + b * g.dilationW - g.cropLeft
                                        guard q >= 0, q < outW else { continue }
                                        let to = ((sample * outH + p) * outW + q) * cout, from = local * t + (a * kernelW + b) * cout
                                        for o in 0..<cout { out[to + o] += c[from + o] }
                                    }
                                }
                            }
                            start += rows
                        }
                    }
                }
            }
        }
        if finish { y.withUnsafeMutableBufferPointer { activation.apply(to: $0, rows: samples * outH * outW, width: cout) } }
        return y
    }
}
