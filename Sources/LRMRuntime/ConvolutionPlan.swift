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

    /// The most patch-matrix floats held at once (16 MiB), so memory stays bounded whatever the batch.
    static let maxPatchFloats = 1 << 22

    /// Runs the convolution on `samples` NHWC samples.
    func apply(_ x: [Float], samples: Int) throws -> [Float] {
        let positions = outH * outW
        let totalRows = samples * positions
        var y = [Float](repeating: 0, count: totalRows * outChannels)
        if isPointwise {
            try InferenceModel.affineInto(&y, x, rows: totalRows, inFeatures: inChannels, kernel, outFeatures: outChannels, bias: bias, rowOffset: 0)
        } else {
            let k = patchLength
            let chunkRows = max(1, min(totalRows, Self.maxPatchFloats / max(k, 1)))
            var patches = [Float](repeating: 0, count: chunkRows * k)
            var start = 0
            while start < totalRows {
                let count = min(chunkRows, totalRows - start)
                fillPatches(&patches, from: x, firstRow: start, rowCount: count)
                try InferenceModel.affineInto(&y, count == chunkRows ? patches : Array(patches[0..<(count * k)]), rows: count,
                                              inFeatures: k, kernel, outFeatures: outChannels, bias: bias, rowOffset: start)
                start += count
            }
        }
        y.withUnsafeMutableBufferPointer { activation.apply(to: $0, rows: totalRows, width: outChannels) }
        return y
    }

    /// Writes the patch rows [firstRow, firstRow + rowCount) (row = sample·positions + y·outW + x).
    private func fillPatches(_ patches: inout [Float], from x: [Float], firstRow: Int, rowCount: Int) {
        let k = patchLength
        let positions = outH * outW
        let sampleSize = inH * inW * inChannels
        x.withUnsafeBufferPointer { src in
            patches.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rowCount {
                    let row = firstRow + r
                    let sample = row / positions
                    let position = row % positions
                    let oy = position / outW, ox = position % outW
                    var out = r * k
                    let base = sample * sampleSize
                    for i in 0..<kernelH {
                        let iy = oy * strideH + i * dilationH - padTop
                        for j in 0..<kernelW {
                            let ix = ox * strideW + j * dilationW - padLeft
                            if iy < 0 || iy >= inH || ix < 0 || ix >= inW {
                                for c in 0..<inChannels { dst[out + c] = 0 }
                            } else {
                                let from = base + (iy * inW + ix) * inChannels
                                for c in 0..<inChannels { dst[out + c] = src[from + c] }
                            }
                            out += inChannels
                        }
                    }
                }
            }
        }
    }
}

extension InferenceModel {
    /// y[rowOffset…] = x (rows × in) · w (in × out) + bias, through sgemm, into a larger output.
    static func affineInto(_ y: inout [Float], _ x: [Float], rows: Int, inFeatures: Int, _ w: [Float], outFeatures: Int,
                           bias: [Float]?, rowOffset: Int) throws {
        let part = try w.withUnsafeBufferPointer { try affine(x, rows: rows, inFeatures: inFeatures, $0, outFeatures: outFeatures, bias: bias) }
        y.replaceSubrange((rowOffset * outFeatures)..<((rowOffset + rows) * outFeatures), with: part)
    }
}
