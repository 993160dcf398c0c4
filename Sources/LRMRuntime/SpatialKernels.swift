package import LRMFormat

/// Direct kernels for the spatial layers that are not matrix products: depthwise convolution,
/// pooling, padding, cropping and axis permutation. All work on NHWC batches, row-major.
package enum SpatialKernels {
    /// Depthwise convolution: kernel [kh, kw, cin, m]; output channel ci·m + j sums
    /// x[y·sh + i·dh − padTop, x·sw + q·dw − padLeft, ci] · kernel[i, q, ci, j].
    static func depthwise(_ x: [Float], samples: Int, plan p: ConvolutionPlan, multiplier m: Int) -> [Float] {
        let cin = p.inChannels, cout = cin * m
        var y = [Float](repeating: 0, count: samples * p.outH * p.outW * cout)
        x.withUnsafeBufferPointer { src in
            p.kernel.withUnsafeBufferPointer { k in
                y.withUnsafeMutableBufferPointer { dst in
                    for n in 0..<samples {
                        let base = n * p.inH * p.inW * cin
                        for oy in 0..<p.outH {
                            for ox in 0..<p.outW {
                                let out = ((n * p.outH + oy) * p.outW + ox) * cout
                                if let bias = p.bias { for c in 0..<cout { dst[out + c] = bias[c] } }
                                for i in 0..<p.kernelH {
                                    let iy = oy * p.strideH + i * p.dilationH - p.padTop
                                    guard iy >= 0, iy < p.inH else { continue }
                                    for q in 0..<p.kernelW {
                                        let ix = ox * p.strideW + q * p.dilationW - p.padLeft
                                        guard ix >= 0, ix < p.inW else { continue }
                                        let from = base + (iy * p.inW + ix) * cin
                                        let kbase = (i * p.kernelW + q) * cin * m
                                        for c in 0..<cin {
                                            let v = src[from + c]
                                            for j in 0..<m { dst[out + c * m + j] += v * k[kbase + c * m + j] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        y.withUnsafeMutableBufferPointer { p.activation.apply(to: $0, rows: samples * p.outH * p.outW, width: cout) }
        return y
    }

    /// Max or average pooling; `plan` carries the window (as a kh×kw kernel with cin = cout = c).
    /// Average divides by the number of window positions inside the input; max ignores padding.
    static func pool(_ x: [Float], samples: Int, plan p: ConvolutionPlan, mode: PoolMode) -> [Float] {
        let c = p.inChannels
        let count = samples * p.outH * p.outW * c
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            x.withUnsafeBufferPointer { source in
                let src = source.baseAddress!
                var dst = buffer.baseAddress!
                for n in 0..<samples {
                    let base = src + n * p.inH * p.inW * c
                    for oy in 0..<p.outH {
                        let y0 = max(oy * p.strideH - p.padTop, 0), y1 = max(min(oy * p.strideH - p.padTop + p.kernelH, p.inH), y0)
                        for ox in 0..<p.outW {
                            let x0 = max(ox * p.strideW - p.padLeft, 0), x1 = max(min(ox * p.strideW - p.padLeft + p.kernelW, p.inW), x0)
                            switch mode {
                            case .max:
                                dst.initialize(repeating: -.infinity, count: c)
                                for iy in y0..<y1 {
                                    for ix in x0..<x1 {
                                        let from = base + (iy * p.inW + ix) * c
                                        for ch in 0..<c { dst[ch] = max(dst[ch], from[ch]) }
                                    }
                                }
                            case .average:
                                dst.initialize(repeating: 0, count: c)
                                for iy in y0..<y1 {
                                    for ix in x0..<x1 {
                                        let from = base + (iy * p.inW + ix) * c
                                        for ch in 0..<c { dst[ch] += from[ch] }
                                    }
                                }
                                let divisor = Float(max((y1 - y0) * (x1 - x0), 1))
                                for ch in 0..<c { dst[ch] /= divisor }
                            }
                            dst += c
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// [h, w, c] → [c]: the maximum or the mean over all positions.
    package static func globalPool(_ x: [Float], samples: Int, shape: [Int], mode: PoolMode) -> [Float] {
        let c = shape[2], positions = shape[0] * shape[1]
        var y = [Float](repeating: mode == .max ? -.infinity : 0, count: samples * c)
        for n in 0..<samples {
            for position in 0..<positions {
                let from = (n * positions + position) * c
                for ch in 0..<c {
                    y[n * c + ch] = mode == .max ? max(y[n * c + ch], x[from + ch]) : y[n * c + ch] + x[from + ch]
                }
            }
            if mode == .average { for ch in 0..<c { y[n * c + ch] /= Float(positions) } }
        }
        return y
    }

    /// Copies each [h, w, c] sample into an [h + top + bottom, w + left + right, c] one (`pad`), or
    /// the window [top, h − bottom) × [left, w − right) out of it (`crop`, negative margins).
    package static func shift(_ x: [Float], samples: Int, shape: [Int], top: Int, left: Int, outH: Int, outW: Int) -> [Float] {
        let (h, w, c) = (shape[0], shape[1], shape[2])
        var y = [Float](repeating: 0, count: samples * outH * outW * c)
        for n in 0..<samples {
            for oy in 0..<outH {
                let iy = oy - top
                guard iy >= 0, iy < h else { continue }
                for ox in 0..<outW {
                    let ix = ox - left
                    guard ix >= 0, ix < w else { continue }
                    let from = ((n * h + iy) * w + ix) * c, to = ((n * outH + oy) * outW + ox) * c
                    for ch in 0..<c { y[to + ch] = x[from + ch] }
                }
            }
        }
        return y
    }

    /// numpy's transpose of each sample: output axis i is input axis `axes[i]`.
    package static func permute(_ x: [Float], samples: Int, shape: [Int], axes: [Int]) -> [Float] {
        let rank = shape.count
        var inStrides = [Int](repeating: 1, count: rank)
        for a in stride(from: rank - 2, through: 0, by: -1) { inStrides[a] = inStrides[a + 1] * shape[a + 1] }
        let outShape = axes.map { shape[$0] }
        let strides = axes.map { inStrides[$0] }
        let size = shape.reduce(1, *)
        var y = [Float](repeating: 0, count: x.count)
        var index = [Int](repeating: 0, count: rank)
        for n in 0..<samples {
            let base = n * size
            for i in 0..<rank { index[i] = 0 }
            var from = 0
            for out in 0..<size {
                y[base + out] = x[base + from]
                // Advance the output multi-index (last axis fastest), tracking the input offset.
                var axis = rank - 1
                while axis >= 0 {
                    index[axis] += 1
                    from += strides[axis]
                    if index[axis] < outShape[axis] { break }
                    from -= strides[axis] * outShape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return y
    }

    /// One axis of an upsampling: for each output index, its two source indices and the weight of the second.
    static func upsampleAxis(length: Int, factor: Int, _ interpolation: UpsampleInterpolation) -> [(low: Int, high: Int, t: Float)] {
        (0..<(length * factor)).map { o in
            let s = Upsampling.source(o, length: length, factor: factor, interpolation: interpolation)
            return (s.low, s.high, Float(s.t))
        }
    }

    /// (1.5) Each [h, w, c] sample upsampled to [h·fh, w·fw, c] (`spec/FORMAT.md` section 3.5): nearest repeats each
    /// row and column; bilinear weighs the two nearest source rows, then the two nearest columns,
    /// `(1 − ty)·((1 − tx)·x[ly, lx] + tx·x[ly, hx]) + ty·((1 − tx)·x[hy, lx] + tx·x[hy, hx])`.
    package static func upsample(_ x: [Float], samples: Int, shape: [Int], _ u: Upsampling) -> [Float] {
        let (h, w, c) = (shape[0], shape[1], shape[2])
        let rows = upsampleAxis(length: h, factor: u.factorH, u.interpolation)
        let columns = upsampleAxis(length: w, factor: u.factorW, u.interpolation)
        let (outH, outW) = (rows.count, columns.count)
        var y = [Float](repeating: 0, count: samples * outH * outW * c)
        x.withUnsafeBufferPointer { src in
            y.withUnsafeMutableBufferPointer { dst in
                for n in 0..<samples {
                    let base = n * h * w * c
                    for (oy, row) in rows.enumerated() {
                        for (ox, column) in columns.enumerated() {
                            let to = ((n * outH + oy) * outW + ox) * c
                            let a = base + (row.low * w + column.low) * c, b = base + (row.low * w + column.high) * c
                            let d = base + (row.high * w + column.low) * c, e = base + (row.high * w + column.high) * c
                            if u.interpolation == .nearest {
                                for ch in 0..<c { dst[to + ch] = src[a + ch] }
                                continue
                            }
                            let (ty, tx) = (row.t, column.t)
                            for ch in 0..<c {
                                let top = (1 - tx) * src[a + ch] + tx * src[b + ch]
                                let bottom = (1 - tx) * src[d + ch] + tx * src[e + ch]
                                dst[to + ch] = (1 - ty) * top + ty * bottom
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// The adjoint of ``upsample(_:samples:shape:_:)``: each output position's gradient `g` ([h·fh, w·fw, c] samples)
    /// added back to the source positions it was made from, with the same weights: the gradient of an [h, w, c] input.
    package static func upsampleGradient(_ g: [Float], samples: Int, shape: [Int], _ u: Upsampling) -> [Float] {
        let (h, w, c) = (shape[0], shape[1], shape[2])
        let rows = upsampleAxis(length: h, factor: u.factorH, u.interpolation)
        let columns = upsampleAxis(length: w, factor: u.factorW, u.interpolation)
        let (outH, outW) = (rows.count, columns.count)
        var dx = [Float](repeating: 0, count: samples * h * w * c)
        g.withUnsafeBufferPointer { src in
            dx.withUnsafeMutableBufferPointer { dst in
                /// Adds `weight` times the output position's gradient at `from` to input position (iy, ix) of the sample at `base`.
                @inline(__always) func add(_ base: Int, _ iy: Int, _ ix: Int, _ weight: Float, _ from: Int) {
                    guard weight != 0 else { return }
                    let to = base + (iy * w + ix) * c
                    for ch in 0..<c { dst[to + ch] += weight * src[from + ch] }
                }
                for n in 0..<samples {
                    let base = n * h * w * c
                    for (oy, row) in rows.enumerated() {
                        for (ox, column) in columns.enumerated() {
                            let from = ((n * outH + oy) * outW + ox) * c
                            let (ty, tx) = (row.t, column.t)
                            add(base, row.low, column.low, (1 - ty) * (1 - tx), from)
                            add(base, row.low, column.high, (1 - ty) * tx, from)
                            add(base, row.high, column.low, ty * (1 - tx), from)
                            add(base, row.high, column.high, ty * tx, from)
                        }
                    }
                }
            }
        }
        return dx
    }
}
