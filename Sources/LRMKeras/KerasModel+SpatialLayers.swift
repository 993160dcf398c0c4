import LRMHDF5
import LRMFormat

/// Mapping Keras's convolution, pooling, padding and cropping layers to lrm's format 1.1 kinds.
///
/// lrm runs every spatial layer on `[h, w, c]` samples (NHWC batches). A Keras model whose layers are
/// `channels_first` sees `[c, h, w]`; the builder then inserts a `permute` [1, 2, 0] before the first such
/// layer and remembers (``ContainerModelBuilder/channelsFirstView``) that lrm's sample is Keras's transposed,
/// until a layer that depends on the element order (Flatten, Dense, Reshape, …) needs Keras's own order
/// back: a `permute` [2, 0, 1] there. Keras's kernels are `[kh, kw, cin, cout]` in both data formats, so
/// they are stored unchanged.
extension ContainerModelBuilder {
    /// Adds `layer` when it is a spatial layer (or Flatten), and says whether it was one.
    mutating func addSpatial(_ layer: KerasLayer) throws(KerasImportError) -> Bool {
        switch layer.config {
        case .conv2D(let c):
            try enter(c.dataFormat, layer)
            let kernel = try weight("kernel", of: layer)
            try checkChannels(kernel.shape[2], layer)
            let activation = try convActivation(c, layer)
            layers.append(Layer(name: layer.name, operation: .conv2D(
                kernel: tensor(kernel.shape, exact(kernel), like: kernel),
                bias: layer.weight(named: "bias").map { tensor($0.shape, exact($0), like: $0) },
                activation: activation, geometry: geometry(c))))
        case .depthwiseConv2D(let c):
            try enter(c.dataFormat, layer)
            let kernel = try weight("depthwise_kernel", of: layer)
            try checkChannels(kernel.shape[2], layer)
            let activation = try convActivation(c, layer)
            layers.append(Layer(name: layer.name, operation: .depthwiseConv2D(
                kernel: tensor(kernel.shape, exact(kernel), like: kernel),
                bias: layer.weight(named: "bias").map { tensor($0.shape, exact($0), like: $0) },
                activation: activation, geometry: geometry(c))))
        case .separableConv2D(let c):
            // depthwise (no bias, linear) then a 1×1 convolution with the bias and the activation.
            try enter(c.dataFormat, layer)
            let depthwise = try weight("depthwise_kernel", of: layer)
            let pointwise = try weight("pointwise_kernel", of: layer)
            try checkChannels(depthwise.shape[2], layer)
            let activation = try convActivation(c, layer)
            layers.append(Layer(name: layer.name + "/depthwise", operation: .depthwiseConv2D(
                kernel: tensor(depthwise.shape, exact(depthwise), like: depthwise), bias: nil, activation: .linear,
                geometry: geometry(c))))
            layers.append(Layer(name: layer.name, operation: .conv2D(
                kernel: tensor(pointwise.shape, exact(pointwise), like: pointwise),
                bias: layer.weight(named: "bias").map { tensor($0.shape, exact($0), like: $0) },
                activation: activation, geometry: .unit)))
        case .pooling2D(let p):
            try enter(p.dataFormat, layer)
            let shape = currentShape()
            let pooling = Pooling(mode: p.mode == .max ? .max : .average, poolH: p.poolH, poolW: p.poolW,
                                  strideH: p.strideH, strideW: p.strideW, padding: p.padding == .same ? .same : .valid)
            guard p.padding == .same || (p.poolH <= shape[0] && p.poolW <= shape[1]) else {
                throw shapeError(layer, "pool window \(p.poolH)×\(p.poolW) is larger than its input \(shape[0])×\(shape[1]) (valid padding)")
            }
            layers.append(Layer(name: layer.name, operation: .pool2D(pooling)))
        case let .globalPooling2D(mode, format, keepDims):
            try enter(format, layer)
            let channels = currentShape()[2]
            layers.append(Layer(name: layer.name, operation: .globalPool2D(mode == .max ? .max : .average)))
            if keepDims {
                // Keras keeps [1, 1, c] (or [c, 1, 1] channels-first, which lrm holds as [1, 1, c]).
                layers.append(Layer(name: layer.name + "/keepdims", operation: .reshape([1, 1, channels])))
            } else {
                channelsFirstView = false
            }
        case let .margins2D(top, bottom, left, right, crop, format):
            try enter(format, layer)
            let shape = currentShape()
            let margins = Margins(top: top, bottom: bottom, left: left, right: right)
            if crop {
                guard top + bottom < shape[0], left + right < shape[1] else {
                    throw shapeError(layer, "cropping \(top)+\(bottom) rows and \(left)+\(right) columns leaves nothing of its \(shape[0])×\(shape[1]) input")
                }
            }
            layers.append(Layer(name: layer.name, operation: crop ? .crop2D(margins) : .pad2D(margins)))
        case .convTranspose2D(let c):
            try enter(c.dataFormat, layer)
            let kernel = try weight("kernel", of: layer)
            try checkChannels(kernel.shape[3], layer)
            guard kernel.shape[0] == c.kernelH, kernel.shape[1] == c.kernelW, kernel.shape[2] == c.filters else {
                throw shapeError(layer, "the kernel has shape \(kernel.shape), the config says \(c.kernelH)×\(c.kernelW) with \(c.filters) filters "
                                 + "([kh, kw, filters, cin])")
            }
            let shape = currentShape()
            guard let rows = TransposedGeometry.kerasAxis(length: shape[0], kernel: c.kernelH, stride: c.strideH, dilation: c.dilationH,
                                                          same: c.padding == .same, outputPadding: c.outputPaddingH),
                  let columns = TransposedGeometry.kerasAxis(length: shape[1], kernel: c.kernelW, stride: c.strideW, dilation: c.dilationW,
                                                             same: c.padding == .same, outputPadding: c.outputPaddingW) else {
                throw shapeError(layer, "its output_padding leaves no output for its \(shape[0])×\(shape[1]) input")
            }
            guard rows.crop <= WindowAxis.maxParameter, columns.crop <= WindowAxis.maxParameter,
                  Saturating.product(rows.length, columns.length, c.filters) <= Int(Int32.max) else {
                throw shapeError(layer, "its \(rows.length)×\(columns.length)×\(c.filters) output is more than \(Int32.max) elements, lrm's limit")
            }
            if c.activation == .softmax && c.dataFormat == .channelsFirst {
                throw fail(layer, "softmax over the last (width) axis of a channels-first convolution has no lrm equivalent")
            }
            let geometry = TransposedGeometry(strideH: c.strideH, strideW: c.strideW, dilationH: c.dilationH, dilationW: c.dilationW,
                                              cropTop: rows.crop, cropLeft: columns.crop, outputH: rows.length, outputW: columns.length)
            layers.append(Layer(name: layer.name, operation: .conv2DTranspose(
                kernel: tensor(kernel.shape, exact(kernel), like: kernel),
                bias: layer.weight(named: "bias").map { tensor($0.shape, exact($0), like: $0) },
                activation: try lrmActivation(c.activation, layer), geometry: geometry)))
        case let .upsampling2D(factorH, factorW, interpolation, format):
            try enter(format, layer)
            let shape = currentShape()
            // Factors are at most 65,535 and dimensions 2³¹−1: the products fit.
            let (height, width) = (shape[0] * factorH, shape[1] * factorW)
            let elements = Saturating.product(height, width, shape[2])
            guard elements <= Int(Int32.max) else {
                let what = sequenceView ? "its \(shape[1]) steps by \(factorW) to \(width)" : "its \(shape[0])×\(shape[1]) input by \(factorH)×\(factorW) to \(height)×\(width)"
                throw shapeError(layer, "upsampling \(what) (\(shape[2]) channel\(shape[2] == 1 ? "" : "s")) makes samples of more than \(Int32.max) elements, lrm's limit")
            }
            layers.append(Layer(name: layer.name, operation: .upsample2D(Upsampling(factorH: factorH, factorW: factorW,
                                                                                       interpolation: interpolation))))
        case let .sequence(inner, causalPadding):
            try enterSequence(layer)
            try checkSteps(inner, causalPadding: causalPadding, layer)
            let first = layers.count
            if causalPadding > 0 {
                layers.append(Layer(name: layer.name + "/causal_padding",
                                    operation: .pad2D(Margins(top: 0, bottom: 0, left: causalPadding, right: 0))))
            }
            // The 2-D layer over a height of 1: Keras's [k, …] kernels are lrm's [1, k, …], the same values in the same order.
            var planar = layer
            planar.config = inner
            planar.weights = layer.weights.map { weight in
                var lifted = weight
                if weight.shape.count == 3 { lifted.shape = [1] + weight.shape }
                return lifted
            }
            _ = try addSpatial(planar)
            kerasClasses += layers[first...].map { "\(layer.className):\($0.name)" }
            if case .globalPooling2D(_, _, false) = inner { sequenceView = false }
        case .flatten:
            // Keras flattens its own order: restore it first.
            if channelsFirstView { restoreKerasOrder(before: layer) }
            layers.append(Layer(name: layer.name, operation: .flatten))
        case .flattenChannelsFirst:
            // Keras moves axis 1 (the channels) last, then flattens: lrm's [h, w, c] already is that order.
            if !channelsFirstView {
                let rank = currentShape().count
                if rank > 1 {
                    layers.append(Layer(name: layer.name + "/channels_last", operation: .permute(Array(1..<rank) + [0])))
                }
            }
            channelsFirstView = false
            layers.append(Layer(name: layer.name, operation: .flatten))
        default:
            return false
        }
        return true
    }

    /// Brings lrm's sample into the data format a spatial layer expects, after checking it is [h, w, c].
    mutating func enter(_ format: KerasDataFormat, _ layer: KerasLayer) throws(KerasImportError) {
        let shape = currentShape()
        guard shape.count == 3 else {
            try refuseOpenShape(layer, example: "32")
            throw shapeError(layer, "the layer takes images ([height, width, channels]), found a sample of shape \(shape)")
        }
        switch (format, channelsFirstView) {
        case (.channelsFirst, false):
            layers.append(Layer(name: layer.name + "/channels_last", operation: .permute([1, 2, 0])))
            channelsFirstView = true
        case (.channelsLast, true):
            restoreKerasOrder(before: layer)
        default:
            break
        }
    }

    /// Before a 1-D layer: lrm's view of Keras's [steps, channels] sample becomes [1, steps, channels], unless it is already.
    mutating func enterSequence(_ layer: KerasLayer) throws(KerasImportError) {
        guard !sequenceView else { return }
        let shape = currentShape()
        guard shape.count == 2 else {
            try refuseOpenShape(layer, example: "100")
            throw shapeError(layer, "the layer takes sequences ([steps, channels]), found a sample of shape \(shape)")
        }
        layers.append(Layer(name: layer.name + "/as_2d", operation: .reshape([1] + shape)))
        sequenceView = true
    }

    /// Refuses, in Keras's 1-D terms, a window longer than the steps it slides over (valid padding) or a cropping
    /// that leaves none (the 2-D checks would speak of a 1×k window and rows).
    func checkSteps(_ inner: KerasLayerConfig, causalPadding: Int, _ layer: KerasLayer) throws(KerasImportError) {
        let steps = currentShape()[1] + causalPadding
        switch inner {
        case .conv2D(let c), .depthwiseConv2D(let c), .separableConv2D(let c):
            let span = (c.kernelW - 1) * c.dilationW + 1
            guard c.padding == .same || span <= steps else {
                throw shapeError(layer, "the kernel spans \(span) steps (size \(c.kernelW), dilation \(c.dilationW)), more than the \(steps) "
                                 + "of its input\(causalPadding > 0 ? " with the causal padding" : "") (valid padding)")
            }
        case .pooling2D(let p):
            guard p.padding == .same || p.poolW <= steps else {
                throw shapeError(layer, "the pool window of \(p.poolW) steps is longer than its input's \(steps) (valid padding)")
            }
        case let .margins2D(_, _, before, after, true, _):
            guard before + after < steps else {
                throw shapeError(layer, "cropping \(before)+\(after) steps leaves nothing of its input's \(steps)")
            }
        default:
            break
        }
    }

    /// When the model's config leaves input dimensions open and no shape was given, the refusal that says so (a spatial
    /// layer then meets the stand-in shape taken from the first kernel): `example` fills the open dimensions of the hint.
    func refuseOpenShape(_ layer: KerasLayer, example: String) throws(KerasImportError) {
        guard let declared = model.inputShape, declared.contains(where: { $0 == nil }), givenShape == nil else { return }
        let what = declared.count == 2 ? "the number of steps" : "dimensions"
        let hint = declared.map { $0.map(String.init) ?? example }.joined(separator: ",")
        throw shapeError(layer, "the model's input shape \(Self.kerasShape(declared)) leaves \(what) open; lrm runs a fixed shape: give it with "
                         + "--input-shape (e.g. --input-shape \(hint)) to import, inspect, convert, predict, verify, sweep or export")
    }

    /// Gives back Keras's [steps, channels] view of lrm's [1, steps, channels] sample, before a layer named `name`
    /// that depends on the sample's axes (Dense, Reshape, Permute, Softmax, a 2-D layer) or at the model's end.
    mutating func leaveSequence(before name: String) {
        layers.append(Layer(name: name + "/as_1d", operation: .reshape(Array(currentShape().dropFirst()))))
        sequenceView = false
    }

    /// Inserts the permute [2, 0, 1] that gives back Keras's channels-first order.
    mutating func restoreKerasOrder(before layer: KerasLayer) {
        layers.append(Layer(name: layer.name + "/channels_first", operation: .permute([2, 0, 1])))
        channelsFirstView = false
    }

    /// Checks that a BatchNormalization normalizes the axis lrm's scale-shift acts on (the last one of lrm's
    /// sample): Keras's channel axis (1) in a channels-first view, else Keras's last axis.
    func checkNormalizedAxis(_ axes: [Int], _ layer: KerasLayer) throws(KerasImportError) {
        let rank = currentShape().count + (sequenceView ? 0 : 1)  // Keras's, with the batch axis
        let normalized = axes.map { $0 < 0 ? $0 + rank : $0 }
        let expected = channelsFirstView ? 1 : rank - 1
        guard normalized == [expected] else {
            throw fail(layer, "normalizes axis \(axes) of a rank-\(rank) tensor; lrm folds or keeps BatchNormalization only over the channel axis (\(expected))")
        }
    }

    /// Folds a BatchNormalization (y = x·s + t per channel) into the convolution just before it, when that
    /// convolution has no activation: K'[…, o] = K[…, o]·s[o], b'[o] = b[o]·s[o] + t[o]. Exact up to rounding.
    mutating func foldIntoConvolution(_ layer: KerasLayer, scale s: [Double], shift t: [Double]) throws(KerasImportError) -> Bool {
        guard let last = layers.last else { return false }
        let kernel: Tensor, bias: Tensor?
        switch last.operation {
        case let .conv2D(k, b, .linear, _), let .depthwiseConv2D(k, b, .linear, _):
            (kernel, bias) = (k, b)
        default:
            return false
        }
        let channels = isDepthwise(last) ? kernel.shape[2] * kernel.shape[3] : kernel.shape[3]
        guard s.count == channels else {
            throw shapeError(layer, "normalizes \(s.count) channels, the convolution '\(last.name)' gives \(channels)")
        }
        var w = doubles(kernel)
        for index in w.indices { w[index] *= s[index % channels] }
        let b = bias.map(doubles) ?? Array(repeating: 0, count: channels)
        let folded = (0..<channels).map { b[$0] * s[$0] + t[$0] }
        let newKernel = stored(kernel.shape, w, like: kernel), newBias = stored([channels], folded, like: kernel)
        switch last.operation {
        case let .conv2D(_, _, activation, g):
            layers[layers.count - 1].operation = .conv2D(kernel: newKernel, bias: newBias, activation: activation, geometry: g)
        case let .depthwiseConv2D(_, _, activation, g):
            layers[layers.count - 1].operation = .depthwiseConv2D(kernel: newKernel, bias: newBias, activation: activation, geometry: g)
        default:
            return false
        }
        return true
    }

    private func isDepthwise(_ layer: Layer<Tensor>) -> Bool {
        if case .depthwiseConv2D = layer.operation { return true }
        return false
    }

    func doubles(_ t: Tensor) -> [Double] {
        if case .float64(let values) = t.storage { return values }
        return t.floats().map(Double.init)
    }

    /// A tensor in the storage type of `like`.
    func stored(_ shape: [Int], _ values: [Double], like: Tensor) -> Tensor {
        like.dtype == .float64 ? Tensor(shape: shape, storage: .float64(values))
                               : Tensor(shape: shape, floats: values.map(Float.init), dtype: like.dtype)
    }

    func exact(_ weight: KerasWeight) -> [Double] {
        weight.doubleValues ?? weight.values.map(Double.init)
    }

    func weight(_ name: String, of layer: KerasLayer) throws(KerasImportError) -> KerasWeight {
        guard let weight = layer.weight(named: name), weight.shape.count == 4 else {
            throw KerasImportError(.missingWeights, file: source, location: "layer '\(layer.name)' (\(layer.className))",
                                   "no \(name) of shape [kh, kw, cin, cout]")
        }
        return weight
    }

    func checkChannels(_ kernelChannels: Int, _ layer: KerasLayer) throws(KerasImportError) {
        let channels = currentShape()[2]
        guard kernelChannels == channels else {
            throw shapeError(layer, "the kernel takes \(kernelChannels) input channels, its input has \(channels)")
        }
    }

    func convActivation(_ c: KerasConvolution, _ layer: KerasLayer) throws(KerasImportError) -> Activation {
        if c.activation == .softmax && c.dataFormat == .channelsFirst {
            throw fail(layer, "softmax over the last (width) axis of a channels-first convolution has no lrm equivalent")
        }
        return try lrmActivation(c.activation, layer)
    }

    func geometry(_ c: KerasConvolution) -> ConvGeometry {
        ConvGeometry(strideH: c.strideH, strideW: c.strideW, dilationH: c.dilationH, dilationW: c.dilationW,
                     padding: c.padding == .same ? .same : .valid)
    }

    func shapeError(_ layer: KerasLayer, _ message: String) -> KerasImportError {
        KerasImportError(.shapeMismatch, file: source, location: "layer '\(layer.name)' (\(layer.className))", message)
    }
}

extension KerasLayerConfig {
    /// Whether the layer computes nothing at inference (Dropout, and the identity layers such as RandomFlip).
    var isIdentityAtInference: Bool {
        switch self {
        case .dropout, .identityAtInference: true
        default: false
        }
    }

    /// The data format of a spatial layer; nil for layers that have none.
    var dataFormat: KerasDataFormat? {
        switch self {
        case .conv2D(let c), .depthwiseConv2D(let c), .separableConv2D(let c): c.dataFormat
        case .pooling2D(let p): p.dataFormat
        case .globalPooling2D(_, let format, _), .margins2D(_, _, _, _, _, let format): format
        case .upsampling2D(_, _, _, let format): format
        case .convTranspose2D(let c): c.dataFormat
        default: nil
        }
    }

    /// Whether the layer depends on the order of the sample's elements or axes, so that Keras's own
    /// (channels-first) order must be restored before it. Elementwise layers and BatchNormalization
    /// (which ``ContainerModelBuilder/checkNormalizedAxis(_:_:)`` places) do not.
    var needsKerasOrder: Bool {
        switch self {
        case .inputLayer, .dropout, .identityAtInference, .relu, .elu, .batchNormalization: false
        case .activation(let activation): activation == .softmax || activation == .logSoftmax
        case .prelu: true  // its alphas have the shape of Keras's sample
        case .rescaling: false
        default: true
        }
    }
}

extension KerasLayerConfig {
    /// The activation a weighted layer applies to its output (Dense, the convolutions, their 1-D forms); nil for others.
    var ownActivation: KerasActivation? {
        switch self {
        case .dense(_, let activation, _): activation
        case .conv2D(let c), .depthwiseConv2D(let c), .separableConv2D(let c): c.activation
        case .convTranspose2D(let c): c.activation
        case .sequence(let inner, _): inner.ownActivation
        default: nil
        }
    }
}
