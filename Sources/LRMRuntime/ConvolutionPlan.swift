public import LRMFormat
import LRMLinearAlgebra

/// One 2-D convolution with every size resolved for its input: NHWC in, NHWC out.
///
/// The kernel [kh, kw, cin, cout] in row-major order is the (kh·kw·cin) × cout matrix whose row
/// (i·kw + j)·cin + c multiplies input element (y·sh + i·dh − padTop, x·sw + j·dw − padLeft, c) of
/// output position (y, x); positions outside the input count as 0 (zero padding).
struct ConvolutionPlan: Sendable {
    var inH: Int, inW: Int, inChannels: Int
    var kernelH: Int, kernelW: Int, outChannels: Int
    var strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
    var padTop: Int, padLeft: Int
    var outH: Int, outW: Int
    /// (kh·kw·cin) × cout, row-major.
    var kernel: [Float]
    var bias: [Float]?
    var activation: Activation

    /// The plan for `kernelShape` = [kh, kw, cin, cout] on an [h, w, cin] input, or nil when it does not fit.
    init?(input: [Int], kernelShape: [Int], kernel: [Float], bias: [Float]?, activation: Activation,
          strides: (Int, Int), dilation: (Int, Int), padding: WindowPadding) {
        guard input.count == 3, kernelShape.count == 4, kernelShape[2] == input[2],
              let rows = WindowAxis.compute(length: input[0], window: kernelShape[0], stride: strides.0, dilation: dilation.0, padding: padding),
              let columns = WindowAxis.compute(length: input[1], window: kernelShape[1], stride: strides.1, dilation: dilation.1, padding: padding)
        else { return nil }
        (inH, inW, inChannels) = (input[0], input[1], input[2])
        (kernelH, kernelW, outChannels) = (kernelShape[0], kernelShape[1], kernelShape[3])
        (strideH, strideW, dilationH, dilationW) = (strides.0, strides.1, dilation.0, dilation.1)
        (padTop, padLeft, outH, outW) = (rows.padBefore, columns.padBefore, rows.outputLength, columns.outputLength)
        self.kernel = kernel
        self.bias = bias
        self.activation = activation
    }

    var outputShape: [Int] { [outH, outW, outChannels] }
    var patchLength: Int { kernelH * kernelW * inChannels }
    /// A 1×1 convolution with stride 1 and no padding: the input already is the patch matrix.
    var isPointwise: Bool { kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 }

    /// The most patch-matrix floats held at once (4 MiB): the patches of one chunk of output rows are
    /// written, multiplied and activated while they are still in cache, and memory stays bounded whatever
    /// the batch. Each output row's value does not depend on how the rows are chunked.
    static let maxPatchFloats = 1 << 20

    /// Runs the convolution on `samples` NHWC samples. `patchFloats` bounds the patch matrix of one chunk.
    func apply(_ x: [Float], samples: Int, patchFloats: Int = ConvolutionPlan.maxPatchFloats) throws -> [Float] {
        let totalRows = samples * outH * outW
        let count = totalRows * outChannels
        // The output starts as the bias broadcast over the rows (sgemm then adds the product, beta = 1) or as zeros.
        var y: [Float]
        if let bias {
            y = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                bias.withUnsafeBufferPointer { b in
                    var at = buffer.baseAddress!
                    for _ in 0..<totalRows {
                        Self.copy(at, b.baseAddress!, outChannels)
                        at += outChannels
                    }
                }
                initialized = count
            }
        } else {
            y = [Float](repeating: 0, count: count)
        }
        let beta: Float = bias == nil ? 0 : 1
        let k = patchLength
        let chunkRows = max(1, min(totalRows, patchFloats / max(k, 1)))
        // Not zeroed: fillPatches writes every float of the rows a product reads.
        var patches = isPointwise ? [] : [Float](unsafeUninitializedCapacity: chunkRows * k) { $1 = chunkRows * k }
        try x.withUnsafeBufferPointer { src in
            try kernel.withUnsafeBufferPointer { w in
                try y.withUnsafeMutableBufferPointer { out in
                    try patches.withUnsafeMutableBufferPointer { patchBuffer in
                        var start = 0
                        while start < totalRows {
                            let rows = min(chunkRows, totalRows - start)
                            let a: UnsafeBufferPointer<Float>
                            if isPointwise {
                                a = UnsafeBufferPointer(rebasing: src[(start * k)..<((start + rows) * k)])
                            } else {
                                fillPatches(patchBuffer.baseAddress!, from: src.baseAddress!, firstRow: start, rowCount: rows)
                                a = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(patchBuffer)[0..<(rows * k)])
                            }
                            let c = UnsafeMutableBufferPointer(rebasing: out[(start * outChannels)..<((start + rows) * outChannels)])
                            do {
                                try GEMM.multiply(a, shape: MatrixShape(rows: rows, columns: k), w, shape: MatrixShape(rows: k, columns: outChannels),
                                                  into: c, shape: MatrixShape(rows: rows, columns: outChannels), alpha: 1, beta: beta)
                            } catch {
                                throw RuntimeError(.computation, "matrix product failed: \(error)")
                            }
                            activation.apply(to: c, rows: rows, width: outChannels)
                            start += rows
                        }
                    }
                }
            }
        }
        return y
    }

    /// Writes the patch rows [firstRow, firstRow + rowCount) (row = sample·positions + y·outW + x) to `dst`,
    /// `patchLength` floats each. A patch row is kh runs of kw·cin floats; with dilation 1 along the width
    /// each run is contiguous in the NHWC input, so it is one copy (its part outside the input zeros).
    /// Rows are taken one output line (sample, y) at a time, so the kernel rows' input lines are found once.
    func fillPatches(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, firstRow: Int, rowCount: Int) {
        let k = patchLength, cin = inChannels, kw = kernelW, dw = dilationW
        let run = kw * cin
        let sampleSize = inH * inW * cin, rowSize = inW * cin
        let positions = outH * outW
        // Output columns whose whole window lies inside the input: [interiorStart, interiorEnd).
        let interiorStart = min(outW, max(0, (padLeft + strideW - 1) / strideW))
        let lastTap = (kw - 1) * dw
        let interiorEnd = max(interiorStart, min(outW, inW - lastTap + padLeft > 0 ? (inW - lastTap + padLeft - 1) / strideW + 1 : 0))
        var row = firstRow, out = dst
        let endRow = firstRow + rowCount
        while row < endRow {
            let sample = row / positions, oy = (row % positions) / outW
            let ox0 = row % outW, ox1 = min(outW, ox0 + (endRow - row))
            let base = src + sample * sampleSize
            for i in 0..<kernelH {
                let iy = oy * strideH + i * dilationH - padTop
                var to = out + i * run
                if iy < 0 || iy >= inH {
                    for _ in ox0..<ox1 { to.update(repeating: 0, count: run); to += k }
                    continue
                }
                let line = base + iy * rowSize
                for ox in ox0..<ox1 {
                    let x0 = ox * strideW - padLeft
                    if ox >= interiorStart && ox < interiorEnd && dw == 1 {
                        Self.copy(to, line + x0 * cin, run)
                    } else {
                        for j in 0..<kw {
                            let ix = x0 + j * dw
                            if ix < 0 || ix >= inW {
                                (to + j * cin).update(repeating: 0, count: cin)
                            } else {
                                Self.copy(to + j * cin, line + ix * cin, cin)
                            }
                        }
                    }
                    to += k
                }
            }
            out += (ox1 - ox0) * k
            row += ox1 - ox0
        }
    }

    /// Copies `count` floats, eight at a time: the runs are short (9 floats for a 3×3 kernel on RGB), too short
    /// for a call to memmove to pay.
    @inline(__always) static func copy(_ to: UnsafeMutablePointer<Float>, _ from: UnsafePointer<Float>, _ count: Int) {
        var t = 0
        while t + 8 <= count {
            UnsafeMutableRawPointer(to + t).storeBytes(of: UnsafeRawPointer(from + t).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            t += 8
        }
        while t < count { to[t] = from[t]; t += 1 }
    }
}

extension InferenceModel {
    /// The im2col patch rows of a `conv2d` layer's input, a chunk at a time: for each output position of each
    /// sample, the kh·kw·cin input values its kernel multiplies (zeros outside the input), in the order of the
    /// kernel's rows, (i·kw + j)·cin + c. `x` holds `samples` inputs of shape `input` (NHWC); `body` gets each
    /// chunk (at most ``ConvolutionPlan/maxPatchFloats`` floats) and its row count. Calibration statistics of a
    /// convolution are those of these rows.
    public static func forEachPatchChunk(of layer: Layer<Tensor>, input: [Int], _ x: UnsafeBufferPointer<Float>, samples: Int,
                                         _ body: (UnsafeBufferPointer<Float>, Int) throws -> Void) throws {
        guard case let .conv2D(kernel, _, _, g) = layer.operation,
              let plan = ConvolutionPlan(input: input, kernelShape: kernel.shape, kernel: [], bias: nil, activation: .linear,
                                         strides: (g.strideH, g.strideW), dilation: (g.dilationH, g.dilationW), padding: g.padding),
              x.count == samples * input.reduce(1, *), let source = x.baseAddress else {
            throw RuntimeError(.invalidModel, "layer '\(escaped(layer.name))': not a convolution that fits its input \(input)")
        }
        let k = plan.patchLength
        let totalRows = samples * plan.outH * plan.outW
        let chunkRows = max(1, min(totalRows, ConvolutionPlan.maxPatchFloats / max(k, 1)))
        var patches = [Float](repeating: 0, count: chunkRows * k)
        try patches.withUnsafeMutableBufferPointer { buffer in
            var start = 0
            while start < totalRows {
                let rows = min(chunkRows, totalRows - start)
                plan.fillPatches(buffer.baseAddress!, from: source, firstRow: start, rowCount: rows)
                try body(UnsafeBufferPointer(rebasing: UnsafeBufferPointer(buffer)[0..<(rows * k)]), rows)
                start += rows
            }
        }
    }
}
