import LRMFormat

extension InferenceModel {
    /// The step for a format 1.1 layer on samples of shape `input`, and the shape it produces.
    static func spatialStep(_ layer: Layer<Tensor>, input: [Int]) throws -> (Step, [Int]) {
        let label = "layer '\(escaped(layer.name))'"
        func invalid(_ what: String) -> RuntimeError {
            RuntimeError(.invalidModel, "\(label): \(what) does not fit its input \(input)")
        }
        func plan(_ kernel: Tensor, shape: [Int]? = nil, values: [Float]? = nil, bias: Tensor?, activation: Activation,
                  strides: (Int, Int), dilation: (Int, Int), padding: WindowPadding, on sampleShape: [Int]) throws -> ConvolutionPlan {
            guard let plan = ConvolutionPlan(input: sampleShape, kernelShape: shape ?? kernel.shape, kernel: values ?? kernel.floats(),
                                             bias: bias?.floats(), activation: activation, strides: strides,
                                             dilation: dilation, padding: padding) else {
                throw invalid("kernel \(kernel.shape)")
            }
            return plan
        }
        switch layer.operation {
        case let .conv2D(kernel, bias, activation, g):
            let p = try plan(kernel, bias: bias, activation: activation, strides: (g.strideH, g.strideW),
                             dilation: (g.dilationH, g.dilationW), padding: g.padding, on: input)
            return (.convolution([p]), p.outputShape)
        case let .factorizedConv2D(first, second, bias, activation, form, g, _):
            let a: ConvolutionPlan, b: ConvolutionPlan
            switch form {
            case .channel:
                a = try plan(first, bias: nil, activation: .linear, strides: (g.strideH, g.strideW),
                             dilation: (g.dilationH, g.dilationW), padding: g.padding, on: input)
                b = try plan(second, bias: bias, activation: activation, strides: (1, 1), dilation: (1, 1), padding: .valid, on: a.outputShape)
            case .spatial:
                a = try plan(first, bias: nil, activation: .linear, strides: (g.strideH, 1),
                             dilation: (g.dilationH, 1), padding: g.padding, on: input)
                b = try plan(second, bias: bias, activation: activation, strides: (1, g.strideW),
                             dilation: (1, g.dilationW), padding: g.padding, on: a.outputShape)
            }
            return (.convolution([a, b]), b.outputShape)
        case let .depthwiseConv2D(kernel, bias, activation, g):
            // Planned as a kh×kw window over cin channels; the kernel keeps its [kh, kw, cin, m] order.
            guard kernel.shape.count == 4 else { throw invalid("kernel \(kernel.shape)") }
            let m = kernel.shape[3]
            let p = try plan(kernel, shape: Array(kernel.shape.prefix(3)) + [kernel.shape[2] * m], bias: bias, activation: activation,
                             strides: (g.strideH, g.strideW), dilation: (g.dilationH, g.dilationW), padding: g.padding, on: input)
            return (.depthwise(p, multiplier: m), p.outputShape)
        case .pool2D(let pooling):
            guard input.count == 3 else { throw invalid("pooling") }
            let p = try plan(Tensor(shape: [1], floats: [0]), shape: [pooling.poolH, pooling.poolW, input[2], input[2]], values: [],
                             bias: nil, activation: .linear, strides: (pooling.strideH, pooling.strideW), dilation: (1, 1),
                             padding: pooling.padding, on: input)
            return (.pool(p, pooling.mode), p.outputShape)
        case .globalPool2D(let mode):
            guard input.count == 3 else { throw invalid("global pooling") }
            return (.globalPool(input: input, mode), [input[2]])
        case .pad2D(let m):
            guard input.count == 3 else { throw invalid("padding") }
            let (outH, outW) = (input[0] + m.top + m.bottom, input[1] + m.left + m.right)
            return (.shift(input: input, top: m.top, left: m.left, outH: outH, outW: outW), [outH, outW, input[2]])
        case .crop2D(let m):
            guard input.count == 3, m.top + m.bottom < input[0], m.left + m.right < input[1] else { throw invalid("cropping") }
            let (outH, outW) = (input[0] - m.top - m.bottom, input[1] - m.left - m.right)
            return (.shift(input: input, top: -m.top, left: -m.left, outH: outH, outW: outW), [outH, outW, input[2]])
        case .permute(let axes):
            guard axes.count == input.count, Set(axes) == Set(0..<input.count) else { throw invalid("permutation \(axes)") }
            return (.permute(input: input, axes: axes), axes.map { input[$0] })
        case let .conv2DTranspose(kernel, bias, activation, g):
            guard let p = TransposedConvolution(input: input, kernelShape: kernel.shape, kernel: kernel.floats(), bias: bias?.floats(),
                                                activation: activation, geometry: g) else {
                throw invalid("transposed kernel \(kernel.shape)")
            }
            return (.transposedConvolution(p), p.outputShape)
        case .upsample2D(let u):
            let range = 1...WindowAxis.maxParameter
            guard input.count == 3, range.contains(u.factorH), range.contains(u.factorW) else { throw invalid("upsampling \(u.factorH)×\(u.factorW)") }
            return (.upsample(input: input, u), [input[0] * u.factorH, input[1] * u.factorW, input[2]])
        default:
            throw RuntimeError(.invalidModel, "\(label) is not a spatial layer")
        }
    }
}
