import LRMFormat
import LRMLinearAlgebra

/// A sliding window over [h, w, c] samples with every size resolved: what a convolution's or pooling layer's
/// forward and backward passes index by. Output position (y, x) reads input rows y·sh + i·dh − padTop and
/// columns x·sw + j·dw − padLeft for i < kh, j < kw; positions outside the input are zeros (a convolution) or
/// not counted (pooling), as the runtime's `ConvolutionPlan` and `SpatialKernels` have them.
struct TrainingWindow: Equatable {
    var inH: Int, inW: Int, channels: Int
    var kernelH: Int, kernelW: Int
    var strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
    var padTop: Int, padLeft: Int
    var outH: Int, outW: Int

    /// The window for a kh×kw kernel on samples of shape `input` ([h, w, c]), or nil when it does not fit.
    init?(input: [Int], kernelH: Int, kernelW: Int, strides: (Int, Int), dilation: (Int, Int), padding: WindowPadding) {
        guard input.count == 3,
              let rows = WindowAxis.compute(length: input[0], window: kernelH, stride: strides.0, dilation: dilation.0, padding: padding),
              let columns = WindowAxis.compute(length: input[1], window: kernelW, stride: strides.1, dilation: dilation.1, padding: padding)
        else { return nil }
        (inH, inW, channels) = (input[0], input[1], input[2])
        (self.kernelH, self.kernelW) = (kernelH, kernelW)
        (strideH, strideW, dilationH, dilationW) = (strides.0, strides.1, dilation.0, dilation.1)
        (padTop, padLeft, outH, outW) = (rows.padBefore, columns.padBefore, rows.outputLength, columns.outputLength)
    }

    /// The window of the `conv2d` whose adjoint a transposed convolution (format 1.5) is: over the transposed layer's
    /// output map `[outputH, outputW, cout]` (this window's input), kh×kw taps with its strides and dilation, padding
    /// `cropTop` and `cropLeft` before, one position per input position of the transposed layer (`[h, w]`).
    init?(transposedInput input: [Int], kernelH: Int, kernelW: Int, outChannels: Int, geometry g: TransposedGeometry) {
        guard input.count == 3 else { return nil }
        (inH, inW, channels) = (g.outputH, g.outputW, outChannels)
        (self.kernelH, self.kernelW) = (kernelH, kernelW)
        (strideH, strideW, dilationH, dilationW) = (g.strideH, g.strideW, g.dilationH, g.dilationW)
        (padTop, padLeft, outH, outW) = (g.cropTop, g.cropLeft, input[0], input[1])
    }

    /// Input values one output position's kernel multiplies: kh·kw·cin.
    var patchLength: Int { kernelH * kernelW * channels }
    var inputSize: Int { inH * inW * channels }
    var positions: Int { outH * outW }
    /// A 1×1 window with stride 1 and no padding: the input already is the patch matrix.
    var isPointwise: Bool { kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 }
}

/// One convolution a stage runs: a [kh, kw, cin, cout] kernel (the parameter `kernel`) over `window`. A convolution
/// layer is one part; a factorized one is two (channel form: kh×kw to k channels, then 1×1; spatial form: kh×1, then 1×kw).
struct ConvolutionPart: Equatable {
    var kernel: Int
    var window: TrainingWindow
    var outChannels: Int
}

/// Forward and backward passes of the spatial layers over NHWC batches, row-major, for fine-tuning. Convolutions go
/// through im2col and `sgemm`, a chunk of output positions at a time (at most ``maxPatchFloats`` patch floats), so that
/// memory stays bounded whatever the batch; the chunks depend only on the sizes, so results are deterministic for a
/// given BLAS thread count. The other layers are direct loops. Max pooling's gradient goes to the first largest element
/// of each window (in row, then column order), so ties are broken the same way every time.
enum SpatialTraining {
    static let maxPatchFloats = 1 << 20

    /// Rows per chunk of the patch matrix.
    static func chunkRows(_ window: TrainingWindow, totalRows: Int, patchFloats: Int) -> Int {
        max(1, min(totalRows, patchFloats / max(window.patchLength, 1)))
    }

    /// Walks the patch rows [firstRow, firstRow + rowCount) (row = sample·positions + y·outW + x): for each kernel tap
    /// (i, j) whose input position lies inside the input, `body(patchOffset, inputOffset)` with the offset of the tap's
    /// `channels` values in the chunk's patch matrix and in the batch's input; `outside(patchOffset)` for the others.
    @inline(__always)
    static func forEachTap(_ w: TrainingWindow, firstRow: Int, rowCount: Int, _ body: (Int, Int) -> Void, outside: (Int) -> Void) {
        let k = w.patchLength, cin = w.channels
        for local in 0..<rowCount {
            let row = firstRow + local
            let sample = row / w.positions, position = row % w.positions
            let oy = position / w.outW, ox = position % w.outW
            let base = sample * w.inputSize
            for i in 0..<w.kernelH {
                let iy = oy * w.strideH + i * w.dilationH - w.padTop
                for j in 0..<w.kernelW {
                    let ix = ox * w.strideW + j * w.dilationW - w.padLeft
                    let to = local * k + (i * w.kernelW + j) * cin
                    if iy < 0 || iy >= w.inH || ix < 0 || ix >= w.inW {
                        outside(to)
                    } else {
                        body(to, base + (iy * w.inW + ix) * cin)
                    }
                }
            }
        }
    }

    /// im2col: the patch rows [firstRow, firstRow + rowCount) of `src` into `dst` (zeros outside the input).
    static func fillPatches(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, window w: TrainingWindow, firstRow: Int, rowCount: Int) {
        let cin = w.channels
        forEachTap(w, firstRow: firstRow, rowCount: rowCount, { to, from in
            for c in 0..<cin { dst[to + c] = src[from + c] }
        }, outside: { to in
            (dst + to).update(repeating: 0, count: cin)
        })
    }

    /// col2im: adds the patch rows' values into the input positions they were taken from (the adjoint of ``fillPatches``).
    static func addPatches(_ patches: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, window w: TrainingWindow, firstRow: Int, rowCount: Int) {
        let cin = w.channels
        forEachTap(w, firstRow: firstRow, rowCount: rowCount, { from, to in
            for c in 0..<cin { dst[to + c] += patches[from + c] }
        }, outside: { _ in })
    }

    /// Rows [firstRow, firstRow + rowCount) of the patch matrix: the input's own rows for a pointwise window, else
    /// `buffer` filled by im2col.
    @inline(__always)
    static func patchRows(_ src: UnsafeBufferPointer<Float>, buffer: UnsafeMutableBufferPointer<Float>, window w: TrainingWindow,
                          firstRow: Int, rowCount: Int) -> UnsafeBufferPointer<Float> {
        let k = w.patchLength
        if w.isPointwise { return UnsafeBufferPointer(rebasing: src[(firstRow * k)..<((firstRow + rowCount) * k)]) }
        fillPatches(buffer.baseAddress!, from: src.baseAddress!, window: w, firstRow: firstRow, rowCount: rowCount)
        return UnsafeBufferPointer(rebasing: UnsafeBufferPointer(buffer)[0..<(rowCount * k)])
    }

    /// The convolution of `samples` inputs with `kernel` ((kh·kw·cin) × cout, row-major), plus `bias` when given. `patchFloats`
    /// bounds the patch matrix of one chunk.
    static func convolve(_ x: [Float], samples: Int, window w: TrainingWindow, kernel: [Float], outChannels: Int, bias: [Float]?,
                         patchFloats: Int = maxPatchFloats) throws -> [Float] {
        let totalRows = samples * w.positions, k = w.patchLength
        var y = [Float](repeating: 0, count: totalRows * outChannels)
        if let bias { for r in 0..<totalRows { for c in 0..<outChannels { y[r * outChannels + c] = bias[c] } } }
        let beta: Float = bias == nil ? 0 : 1
        let chunk = chunkRows(w, totalRows: totalRows, patchFloats: patchFloats)
        var patches = w.isPointwise ? [] : [Float](repeating: 0, count: chunk * k)
        try x.withUnsafeBufferPointer { src in
            try kernel.withUnsafeBufferPointer { weights in
                try y.withUnsafeMutableBufferPointer { out in
                    try patches.withUnsafeMutableBufferPointer { buffer in
                        var start = 0
                        while start < totalRows {
                            let rows = min(chunk, totalRows - start)
                            let a = patchRows(src, buffer: buffer, window: w, firstRow: start, rowCount: rows)
                            try GEMM.multiply(a, shape: MatrixShape(rows: rows, columns: k), weights, shape: MatrixShape(rows: k, columns: outChannels),
                                              into: UnsafeMutableBufferPointer(rebasing: out[(start * outChannels)..<((start + rows) * outChannels)]),
                                              shape: MatrixShape(rows: rows, columns: outChannels), beta: beta)
                            start += rows
                        }
                    }
                }
            }
        }
        return y
    }

    /// Gradients of a convolution (without its bias) given the gradient `dy` of its output: the kernel's
    /// (Σ patchesᵀ·dy) and, when `inputGradient`, the input's (col2im of dy·Kᵀ).
    static func convolutionGradients(_ x: [Float], samples: Int, window w: TrainingWindow, kernel: [Float], outChannels: Int, outputGradient dy: [Float],
                                     inputGradient: Bool, patchFloats: Int = maxPatchFloats) throws -> (kernel: [Float], input: [Float]?) {
        let totalRows = samples * w.positions, k = w.patchLength
        var dk = [Float](repeating: 0, count: k * outChannels)
        var dx = inputGradient ? [Float](repeating: 0, count: samples * w.inputSize) : []
        let chunk = chunkRows(w, totalRows: totalRows, patchFloats: patchFloats)
        var patches = w.isPointwise ? [] : [Float](repeating: 0, count: chunk * k)
        var patchGradient = (w.isPointwise || !inputGradient) ? [] : [Float](repeating: 0, count: chunk * k)
        try x.withUnsafeBufferPointer { src in
            try kernel.withUnsafeBufferPointer { weights in
                try dy.withUnsafeBufferPointer { g in
                    try dk.withUnsafeMutableBufferPointer { kernelGradient in
                        try dx.withUnsafeMutableBufferPointer { inputGradientBuffer in
                            try patches.withUnsafeMutableBufferPointer { buffer in
                                try patchGradient.withUnsafeMutableBufferPointer { patchGradientBuffer in
                                    var start = 0
                                    while start < totalRows {
                                        let rows = min(chunk, totalRows - start)
                                        let a = patchRows(src, buffer: buffer, window: w, firstRow: start, rowCount: rows)
                                        let gChunk = UnsafeBufferPointer(rebasing: g[(start * outChannels)..<((start + rows) * outChannels)])
                                        try GEMM.multiply(a, shape: MatrixShape(rows: rows, columns: k), transposeA: true,
                                                          gChunk, shape: MatrixShape(rows: rows, columns: outChannels),
                                                          into: kernelGradient, shape: MatrixShape(rows: k, columns: outChannels), beta: start == 0 ? 0 : 1)
                                        if inputGradient {
                                            // dy·Kᵀ: straight into the input's gradient for a pointwise window, else into the
                                            // chunk's patch gradient, added back to the input positions (col2im).
                                            let target = w.isPointwise
                                                ? UnsafeMutableBufferPointer(rebasing: inputGradientBuffer[(start * k)..<((start + rows) * k)])
                                                : UnsafeMutableBufferPointer(rebasing: patchGradientBuffer[0..<(rows * k)])
                                            try GEMM.multiply(gChunk, shape: MatrixShape(rows: rows, columns: outChannels), weights,
                                                              shape: MatrixShape(rows: k, columns: outChannels), transposeB: true,
                                                              into: target, shape: MatrixShape(rows: rows, columns: k))
                                            if !w.isPointwise {
                                                addPatches(patchGradientBuffer.baseAddress!, into: inputGradientBuffer.baseAddress!, window: w,
                                                           firstRow: start, rowCount: rows)
                                            }
                                        }
                                        start += rows
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dk, inputGradient ? dx : nil)
    }

    /// Visits every output position's window: `body(outputOffset, inputOffsets)` with the offset of the position's
    /// `channels` outputs and the offsets of the input positions its window covers inside the input (in row, then column order).
    static func forEachWindow(_ w: TrainingWindow, samples: Int, _ body: (Int, [Int]) -> Void) {
        var inside: [Int] = []
        inside.reserveCapacity(w.kernelH * w.kernelW)
        for n in 0..<samples {
            for oy in 0..<w.outH {
                for ox in 0..<w.outW {
                    inside.removeAll(keepingCapacity: true)
                    for i in 0..<w.kernelH {
                        let iy = oy * w.strideH + i * w.dilationH - w.padTop
                        guard iy >= 0, iy < w.inH else { continue }
                        for j in 0..<w.kernelW {
                            let ix = ox * w.strideW + j * w.dilationW - w.padLeft
                            guard ix >= 0, ix < w.inW else { continue }
                            inside.append(n * w.inputSize + (iy * w.inW + ix) * w.channels)
                        }
                    }
                    body(((n * w.outH + oy) * w.outW + ox) * w.channels, inside)
                }
            }
        }
    }

    /// Max or average pooling, as the runtime computes it: padded positions never count.
    static func pool(_ x: [Float], samples: Int, window w: TrainingWindow, mode: PoolMode) -> [Float] {
        let c = w.channels
        var y = [Float](repeating: 0, count: samples * w.positions * c)
        forEachWindow(w, samples: samples) { out, inside in
            for ch in 0..<c {
                switch mode {
                case .max:
                    var m = -Float.infinity
                    for from in inside { m = max(m, x[from + ch]) }
                    y[out + ch] = m
                case .average:
                    var s: Float = 0
                    for from in inside { s += x[from + ch] }
                    y[out + ch] = s / Float(max(inside.count, 1))
                }
            }
        }
        return y
    }

    /// The input's gradient of a pooling layer: max sends each output's gradient to the first largest element of its
    /// window, average shares it evenly among the window's positions inside the input.
    static func poolGradient(_ x: [Float], samples: Int, window w: TrainingWindow, mode: PoolMode, outputGradient dy: [Float]) -> [Float] {
        let c = w.channels
        var dx = [Float](repeating: 0, count: samples * w.inputSize)
        forEachWindow(w, samples: samples) { out, inside in
            guard !inside.isEmpty else { return }
            for ch in 0..<c {
                switch mode {
                case .max:
                    var best = inside[0]
                    for from in inside.dropFirst() where x[from + ch] > x[best + ch] { best = from }
                    dx[best + ch] += dy[out + ch]
                case .average:
                    let share = dy[out + ch] / Float(inside.count)
                    for from in inside { dx[from + ch] += share }
                }
            }
        }
        return dx
    }

    /// The input's gradient of a global pooling layer (max: to the first largest position of each channel).
    static func globalPoolGradient(_ x: [Float], samples: Int, shape: [Int], mode: PoolMode, outputGradient dy: [Float]) -> [Float] {
        let c = shape[2], positions = shape[0] * shape[1]
        var dx = [Float](repeating: 0, count: x.count)
        for n in 0..<samples {
            for ch in 0..<c {
                switch mode {
                case .max:
                    var best = n * positions * c + ch
                    for position in 1..<max(positions, 1) {
                        let at = (n * positions + position) * c + ch
                        if x[at] > x[best] { best = at }
                    }
                    dx[best] += dy[n * c + ch]
                case .average:
                    let share = dy[n * c + ch] / Float(positions)
                    for position in 0..<positions { dx[(n * positions + position) * c + ch] = share }
                }
            }
        }
        return dx
    }

    /// Depthwise convolution: kernel [kh, kw, cin, m]; output channel ci·m + j sums x[…, ci]·kernel[i, q, ci, j].
    static func depthwise(_ x: [Float], samples: Int, window w: TrainingWindow, kernel: [Float], multiplier m: Int, bias: [Float]?) -> [Float] {
        let cin = w.channels, cout = cin * m
        var y = [Float](repeating: 0, count: samples * w.positions * cout)
        if let bias { for r in 0..<(samples * w.positions) { for c in 0..<cout { y[r * cout + c] = bias[c] } } }
        forEachDepthwiseTap(w, samples: samples) { position, from, tap in
            let out = position * cout, row = tap * cout
            for c in 0..<cin {
                let v = x[from + c]
                for j in 0..<m { y[out + c * m + j] += v * kernel[row + c * m + j] }
            }
        }
        return y
    }

    /// The kernel's and (when `inputGradient`) the input's gradients of a depthwise convolution (without its bias).
    static func depthwiseGradients(_ x: [Float], samples: Int, window w: TrainingWindow, kernel: [Float], multiplier m: Int,
                                   outputGradient dy: [Float], inputGradient: Bool) -> (kernel: [Float], input: [Float]?) {
        let cin = w.channels, cout = cin * m
        var dk = [Float](repeating: 0, count: kernel.count)
        var dx = inputGradient ? [Float](repeating: 0, count: x.count) : []
        forEachDepthwiseTap(w, samples: samples) { position, from, tap in
            let out = position * cout, row = tap * cout
            for c in 0..<cin {
                let v = x[from + c]
                var back: Float = 0
                for j in 0..<m {
                    let g = dy[out + c * m + j]
                    dk[row + c * m + j] += v * g
                    back += kernel[row + c * m + j] * g
                }
                if inputGradient { dx[from + c] += back }
            }
        }
        return (dk, inputGradient ? dx : nil)
    }

    /// For every output position and kernel tap inside the input: the output position's index in the batch, the offset
    /// of the tap's input channels, and the tap's index i·kw + q.
    private static func forEachDepthwiseTap(_ w: TrainingWindow, samples: Int, _ body: (Int, Int, Int) -> Void) {
        for n in 0..<samples {
            for oy in 0..<w.outH {
                for ox in 0..<w.outW {
                    let position = (n * w.outH + oy) * w.outW + ox
                    for i in 0..<w.kernelH {
                        let iy = oy * w.strideH + i * w.dilationH - w.padTop
                        guard iy >= 0, iy < w.inH else { continue }
                        for q in 0..<w.kernelW {
                            let ix = ox * w.strideW + q * w.dilationW - w.padLeft
                            guard ix >= 0, ix < w.inW else { continue }
                            body(position, n * w.inputSize + (iy * w.inW + ix) * w.channels, i * w.kernelW + q)
                        }
                    }
                }
            }
        }
    }

    /// The inverse of the permutation `axes`.
    static func inverse(_ axes: [Int]) -> [Int] {
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        return inverse
    }
}
