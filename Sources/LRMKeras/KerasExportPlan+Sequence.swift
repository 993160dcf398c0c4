import LRMFormat

/// Keras 1-D layers on export. An import runs a Keras 1-D layer as its 2-D kind over a height of 1, between reshapes
/// (`<layer>/as_2d`: [steps, channels] → [1, steps, channels], and back), and records its class in metadata
/// `source.keras_classes`. The export writes such a layer as the Keras 1-D class again where its geometry has a 1-D
/// form (a kernel, window or margins of height 1, stride and dilation 1 along the height): the Keras model then holds
/// the sample as [steps, channels] (the plan's sequence view) and the reshapes around the run are left out. A layer the
/// 1-D classes cannot express, met in that view, gets a `Reshape` back to lrm's [1, steps, channels] first and is
/// written as its 2-D layer (as every 1-D layer was before).
extension KerasExportPlan {
    /// Whether `operation`, at lrm's sample shape `input`, has a Keras 1-D form: `input` is [1, steps, channels] and the
    /// layer works along the steps alone.
    static func hasSequenceForm(_ operation: LayerOperation<Tensor>, input: [Int]) -> Bool {
        guard input.count == 3, input[0] == 1 else { return false }
        func flat(_ g: ConvGeometry) -> Bool { g.strideH == 1 && g.dilationH == 1 }
        switch operation {
        case let .conv2D(kernel, _, _, geometry), let .depthwiseConv2D(kernel, _, _, geometry):
            return kernel.shape.count == 4 && kernel.shape[0] == 1 && flat(geometry)
        case let .factorizedConv2D(first, second, _, _, _, geometry, _):
            return first.shape.count == 4 && second.shape.count == 4 && first.shape[0] == 1 && second.shape[0] == 1 && flat(geometry)
        case .pool2D(let p):
            return p.poolH == 1 && p.strideH == 1
        case .globalPool2D:
            return true
        case .pad2D(let m), .crop2D(let m):
            return m.top == 0 && m.bottom == 0
        case let .conv2DTranspose(kernel, _, _, g):
            return kernel.shape.count == 4 && kernel.shape[0] == 1 && g.strideH == 1 && g.dilationH == 1 && g.cropTop == 0 && g.outputH == 1
        case .upsample2D(let u):
            // UpSampling1D repeats steps: nearest, along the steps alone.
            return u.factorH == 1 && u.interpolation == .nearest
        default:
            return false
        }
    }

    /// Whether `operation` gives the same values whether Keras holds the sample as lrm's [1, steps, channels] or as
    /// [steps, channels]: it works on the last axis alone, or keeps the elements' row-major order (flatten, reshape).
    static func ignoresSequenceView(_ operation: LayerOperation<Tensor>) -> Bool {
        switch operation {
        case .dense, .factorizedDense, .activation, .scaleShift, .layerNorm, .flatten, .reshape: return true
        case .parametricActivation(let function, _): return !function.usesAlphas  // element-wise, whatever the axes
        default: return false
        }
    }

    /// A `SeparableConv1D` for an lrm `depthwise` layer and the `pointwise` 1×1 convolution after it, as the import
    /// makes of one (`<layer>/depthwise`, then `<layer>`): nil unless they are that pair (the depthwise half without
    /// bias or activation, the pointwise a plain 1×1 convolution of stride 1).
    static func separablePair(_ depthwise: Layer<Tensor>, _ pointwise: Layer<Tensor>) -> Bool {
        guard depthwise.name == pointwise.name + "/depthwise",
              case let .depthwiseConv2D(kernel, nil, .linear, _) = depthwise.operation,
              case let .conv2D(pointKernel, _, _, geometry) = pointwise.operation,
              kernel.shape.count == 4, pointKernel.shape.count == 4,
              pointKernel.shape[0] == 1, pointKernel.shape[1] == 1, pointKernel.shape[2] == kernel.shape[2] * kernel.shape[3],
              geometry.strideH == 1, geometry.strideW == 1 else { return false }
        return true
    }
}

extension LayerMapper {
    /// A convolution's window settings along the steps: `kernel_size`, `strides`, `padding` (`causal` when `causal`),
    /// `data_format`, `dilation_rate`, for lrm's [1, k, …] kernel.
    static func window1D(_ kernelShape: [Int], _ g: ConvGeometry, causal: Bool) -> [String: KerasConfigJSON] {
        ["kernel_size": KerasConfigJSON([kernelShape[1]]), "strides": KerasConfigJSON([g.strideW]),
         "padding": .string(causal ? "causal" : g.padding.name), "data_format": .string("channels_last"),
         "dilation_rate": KerasConfigJSON([g.dilationW])]
    }

    /// `planned` (a 2-D convolution of lrm's [1, k, …] kernel) as the 1-D class `className`: its window settings along
    /// the steps, its kernel [k, …] (the same values).
    static func sequence(_ planned: KerasExportPlan.PlannedLayer, _ className: String, kernelShape: [Int], geometry: ConvGeometry,
                         causal: Bool) -> KerasExportPlan.PlannedLayer {
        var layer = planned
        layer.className = className
        let window = window1D(kernelShape, geometry, causal: causal)
        layer.settings = layer.settings.map { ($0.0, window[$0.0] ?? $0.1) }
        if !layer.weights.isEmpty { layer.weights[0].shape.removeFirst() }
        return layer
    }

    /// `Conv1D`: lrm's [1, k, cin, filters] kernel as Keras's [k, cin, filters]; padding `causal` when `causal` (the
    /// import's left padding of (k − 1)·d steps, then a valid convolution).
    func convolution1D(kernel: Tensor, bias: Tensor?, activation: Activation, geometry: ConvGeometry,
                       causal: Bool) throws(KerasExportError) -> KerasExportPlan.PlannedLayer {
        Self.sequence(try convolution(kernel: kernel, bias: bias, activation: activation, geometry: geometry), "Conv1D",
                      kernelShape: kernel.shape, geometry: geometry, causal: causal)
    }

    /// `SeparableConv1D` of an import's depthwise and pointwise pair (``KerasExportPlan/separablePair(_:_:)``): depthwise
    /// kernel [k, cin, m], pointwise kernel [1, cin·m, filters], then the pointwise layer's bias and activation.
    func separable1D(depthwise: Tensor, geometry: ConvGeometry, pointwise: Tensor, bias: Tensor?,
                     activation: Activation) throws(KerasExportError) -> KerasExportPlan.PlannedLayer {
        try checkCount(depthwise, "depthwise kernel")
        try checkCount(pointwise, "pointwise kernel")
        let filters = pointwise.shape[3]
        var weights = [KerasExportPlan.Weight(variable: "depthwise_kernel", shape: Array(depthwise.shape.dropFirst()), values: depthwise.floats()),
                       KerasExportPlan.Weight(variable: "pointwise_kernel", shape: Array(pointwise.shape.dropFirst()), values: pointwise.floats())]
        if let bias {
            guard bias.shape == [filters] else { throw invalid("bias has shape \(bias.shape), expected [\(filters)]") }
            try checkCount(bias, "bias")
            weights.append(.init(variable: "bias", shape: [filters], values: bias.floats()))
        }
        let window = Self.window1D(depthwise.shape, geometry, causal: false)
        return planned("SeparableConv1D", [("filters", .int(Int64(filters)))]
                       + ["kernel_size", "strides", "padding", "data_format", "dilation_rate"].map { ($0, window[$0]!) } + [
            ("depth_multiplier", .int(Int64(depthwise.shape[3]))), ("activation", .string(try kerasActivation(activation))),
            ("use_bias", .bool(bias != nil)),
        ], weights: weights)
    }

    /// The Keras 1-D layer of a layer other than the (factorized) convolutions with a 1-D form
    /// (``KerasExportPlan/hasSequenceForm(_:input:)``): `DepthwiseConv1D`, `MaxPooling1D`, `AveragePooling1D`,
    /// `GlobalMaxPooling1D`, `GlobalAveragePooling1D` (`keepDims`: Keras's [1, channels]), `ZeroPadding1D`, `Cropping1D`,
    /// (1.5) `UpSampling1D`.
    func spatial1D(input: [Int], keepDims: Bool = false) throws(KerasExportError) -> KerasExportPlan.PlannedLayer? {
        let channelsLast = ("data_format", KerasConfigJSON.string("channels_last"))
        switch source.operation {
        case let .depthwiseConv2D(kernel, _, _, geometry):
            guard let planned = try spatial(input: input) else { return nil }
            return Self.sequence(planned, "DepthwiseConv1D", kernelShape: kernel.shape, geometry: geometry, causal: false)
        case .pool2D(let p):
            return planned(p.mode == .max ? "MaxPooling1D" : "AveragePooling1D", [
                ("pool_size", KerasConfigJSON([p.poolW])), ("strides", KerasConfigJSON([p.strideW])), ("padding", .string(p.padding.name)), channelsLast,
            ])
        case .globalPool2D(let mode):
            return planned(mode == .max ? "GlobalMaxPooling1D" : "GlobalAveragePooling1D", [channelsLast, ("keepdims", .bool(keepDims))])
        case .pad2D(let m):
            // No data_format: tf-keras's ZeroPadding1D takes none (Keras 3's defaults to channels_last).
            return planned("ZeroPadding1D", [("padding", KerasConfigJSON([m.left, m.right]))])
        case .crop2D(let m):
            return planned("Cropping1D", [("cropping", KerasConfigJSON([m.left, m.right]))])
        case .conv2DTranspose:
            // Conv1DTranspose: the 2-D layer's settings along the steps, its kernel [k, filters, cin].
            guard var layer = try spatial(input: input) else { return nil }
            layer.className = "Conv1DTranspose"
            layer.settings = layer.settings.map { key, value in
                switch (key, value) {
                case (_, .array(let pair)) where ["kernel_size", "strides", "dilation_rate", "output_padding"].contains(key) && pair.count == 2:
                    return (key, .array([pair[1]]))
                default:
                    return (key, value)
                }
            }
            if !layer.weights.isEmpty { layer.weights[0].shape.removeFirst() }
            return layer
        case .upsample2D(let u):
            return planned("UpSampling1D", [("size", .int(Int64(u.factorW)))])
        default:
            return nil
        }
    }
}
