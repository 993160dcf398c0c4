import LRMHDF5
import Foundation
public import LRMFormat

extension KerasImporter {
    /// Imports `path` and maps it to a container model (see ``KerasModel/containerModel(sourcePath:inputShape:)``).
    public static func loadModel(path: String, architecture: String? = nil, match: KerasWeightMatching = .auto,
                                 container: KerasContainer? = nil, inputShape: [Int]? = nil) throws -> Model {
        let keras = try load(path: path, architecture: architecture, match: match, container: container)
        return try keras.containerModel(sourcePath: path, inputShape: inputShape)
    }
}

extension KerasModel {
    /// The model as lrm stores and runs it.
    ///
    /// - Dense layers keep their kernels (in × out) and biases; Keras activations map to lrm's.
    /// - Dropout, InputLayer and the layers that are the identity at inference (``KerasLayerConfig/identityAtInference``)
    ///   vanish.
    /// - A leading Rescaling (before any weighted layer) becomes the input preprocessing; later
    ///   ones, and Normalization, become scale-shift layers.
    /// - BatchNormalization is folded exactly (s = γ/√(var + ε), t = β − mean·s): into the Dense
    ///   before it when that Dense has no activation and nothing stands between them
    ///   (W' = W·diag(s), b' = b·s + t); otherwise into the Dense after it when only Dropout (or identity layers) stands
    ///   between (W' = diag(s)·W, b' = t·W + b); otherwise it is kept as a scale-shift layer.
    /// - Anything without an exact lrm equivalent is refused with the layer named.
    /// - Throws: ``KerasImportError`` naming the layer for anything without an exact lrm equivalent, and
    ///   for a result the container would refuse (layers that do not chain, a name lrm cannot store):
    ///   the returned model always passes `ContainerHeader.validate()`, so it can be run or written as is.
    /// - Parameter inputShape: the sample shape to map the model for when its config leaves a dimension open
    ///   (`Input((None, 3))`) or says none (`--input-shape`); it must agree with every dimension the config gives.
    ///   Ignored for a model whose input shape is fully known.
    public func containerModel(sourcePath: String, inputShape: [Int]? = nil) throws(KerasImportError) -> Model {
        var builder = ContainerModelBuilder(model: self, source: sourcePath, givenShape: inputShape)
        do {
            return try mapped(&builder, sourcePath: sourcePath)
        } catch where error.kind == .shapeMismatch && builder.givenShape != nil {
            // The layers do not fit the shape the user gave (not the file's fault): the option's error.
            var blamed = error
            blamed.kind = .givenShapeMismatch
            blamed.message = "--input-shape \(inputShape?.map(String.init).joined(separator: ",") ?? "") does not fit the model: " + error.message
            throw blamed
        }
    }

    private func mapped(_ builder: inout ContainerModelBuilder, sourcePath: String) throws(KerasImportError) -> Model {
        let model = try builder.build()
        do {
            _ = try model.plan()
        } catch let error as ContainerError {
            let kind: KerasImportError.Kind = error.kind == .badModel || error.kind == .badTensor ? .shapeMismatch : .invalidConfig
            throw KerasImportError(kind, file: sourcePath, "the model cannot be stored as lrm: \(error.message)")
        } catch {
            throw KerasImportError(.invalidConfig, file: sourcePath, "the model cannot be stored as lrm: \(error)")
        }
        return model
    }
}

/// Maps a ``KerasModel`` layer by layer, tracking the feature width.
struct ContainerModelBuilder {
    let model: KerasModel
    let source: String
    var layers: [Layer<Tensor>] = []
    var input: InputSpec
    /// A BatchNormalization waiting to be folded into the next Dense: its scale and shift.
    var pendingNormalization: (name: String, scale: [Double], shift: [Double])?
    /// True while Keras's tensor is channels-first ([c, h, w]) but lrm holds it as [h, w, c]: between a
    /// channels-first spatial layer and the permute that restores Keras's order (see `KerasModel+SpatialLayers`).
    var channelsFirstView = false
    /// True while Keras's sample is [steps, channels] and lrm holds it as [1, steps, channels]: from a 1-D layer to a
    /// layer that depends on the sample's axes (see `KerasModel+SpatialLayers`).
    var sequenceView = false
    /// `Class:layer` for every lrm layer made from a Keras 1-D layer (metadata `source.keras_classes`).
    var kerasClasses: [String] = []
    /// `Class:layer` for every layer dropped as the identity at inference (metadata `source.dropped_layers`).
    var droppedLayers: [String] = []

    /// The shape given for a model whose config leaves its input shape open or unsaid, when it was used.
    var givenShape: [Int]?

    init(model: KerasModel, source: String, givenShape: [Int]? = nil) {
        self.model = model
        self.source = source
        var shape = (model.inputShape ?? []).compactMap { $0 }
        if let givenShape, shape.isEmpty || shape.count != (model.inputShape ?? []).count {
            shape = givenShape
            self.givenShape = givenShape
        } else if shape.isEmpty || shape.count != (model.inputShape ?? []).count {
            // Open or missing input shape: take it from the first Dense.
            shape = model.layers.lazy.compactMap { $0.weight(named: "kernel")?.shape.first }.first.map { [$0] } ?? []
        }
        var layout: InputLayout = shape.count == 3 && [1, 3, 4].contains(shape[2]) ? .hwc : .features
        if shape.count == 3, let format = model.layers.lazy.compactMap(\.config.dataFormat).first {
            layout = format == .channelsFirst ? .chw : .hwc
        }
        input = InputSpec(shape: shape, layout: layout)
    }

    func fail(_ layer: KerasLayer, _ message: String) -> KerasImportError {
        KerasImportError(.unsupportedLayer, file: source, location: "layer '\(layer.name)' (\(layer.className))", message)
    }

    /// The longest scale or shift vector made from a config value alone (a Rescaling after the first
    /// weighted layer, a Normalization with scalar mean and variance): nothing in the file backs its size.
    static let maxConfigVectorLength = 1 << 24

    mutating func build() throws(KerasImportError) -> Model {
        guard !input.shape.isEmpty else {
            throw KerasImportError(.invalidConfig, file: source, "the model's input shape is unknown; give it with --input-shape")
        }
        if let givenShape, let declared = model.inputShape, !declared.isEmpty,
           declared.count != givenShape.count || zip(declared, givenShape).contains(where: { known, given in known.map { $0 != given } ?? false }) {
            throw KerasImportError(.givenShapeMismatch, file: source,
                                   "--input-shape \(givenShape.map(String.init).joined(separator: ",")) does not fit the model's input shape \(Self.kerasShape(declared))")
        }
        // The container's rule for every sample shape, checked here so that no later arithmetic on a
        // shape from the config can overflow.
        guard input.shape.allSatisfy({ (1...Int(Int32.max)).contains($0) }),
              let count = Self.elementCount(input.shape), count <= Int(Int32.max) else {
            let limits = "expected dimensions from 1 to \(Int32.max) and at most \(Int32.max) elements"
            if let givenShape {
                // The option's value, not the file's (it said "the input shape … is not supported", exit 65).
                throw KerasImportError(.givenShapeMismatch, file: source,
                                       "--input-shape \(givenShape.map(String.init).joined(separator: ",")) is not a shape lrm can run: \(limits)")
            }
            throw KerasImportError(.invalidConfig, file: source, "the input shape \(input.shape) is not supported, \(limits)")
        }
        let kerasLayers = model.layers
        if let graph = model.graph {
            try addGraph(graph)
        } else {
            for (index, layer) in kerasLayers.enumerated() {
                try refuseOversizedSamples()
                try add(layer, next: kerasLayers[(index + 1)...])
            }
        }
        if let pending = pendingNormalization {
            layers.append(scaleShift(name: pending.name, scale: pending.scale, shift: pending.shift))
        }
        if sequenceView { leaveSequence(before: "output") }
        var metadata: [String: MetadataValue] = [
            MetadataKey.sourceFile: .string((source as NSString).lastPathComponent),
            MetadataKey.sourceFormat: .string(formatName),
        ]
        if let version = model.kerasVersion { metadata[MetadataKey.sourceKerasVersion] = .string(version) }
        if !kerasClasses.isEmpty { metadata[MetadataKey.sourceKerasClasses] = .strings(kerasClasses) }
        if !droppedLayers.isEmpty { metadata[MetadataKey.sourceDroppedLayers] = .strings(droppedLayers) }
        if givenShape != nil, let declared = model.inputShape, declared.count == input.shape.count {
            // The dimensions the config left open (None), which the given shape filled: the export leaves them open again.
            let open = declared.indices.filter { declared[$0] == nil }
            if !open.isEmpty { metadata[MetadataKey.sourceOpenInputDims] = .ints(open.map(Int64.init)) }
        }
        return Model(name: model.name, input: input, layers: layers, metadata: metadata)
    }

    var formatName: String {
        switch model.layout {
        case .legacyFullModel: "keras-h5"
        case .legacyWeightsOnly: "keras-weights-h5"
        case .kerasWeights: "keras-v3-weights"
        case .kerasArchive: "keras-zip"
        }
    }

    var hasWeightedLayer: Bool { !layers.isEmpty && layers.contains { !$0.operation.tensors.isEmpty } }

    mutating func add(_ layer: KerasLayer, next: ArraySlice<KerasLayer>) throws(KerasImportError) {
        try addMapped(layer, next: next)
        // A Dense or convolution with an activation lrm stores as a layer of its own (format 1.5: `leaky_relu`).
        if let activation = layer.config.ownActivation, activation != .linear, let function = Self.parametric(activation) {
            layers.append(Layer(name: uniqueName("\(layer.name)/activation"), operation: .parametricActivation(function, alphas: nil)))
        }
    }

    /// The parametric activation (format 1.5) a Keras activation name stands for: `leaky_relu` is Keras 3's
    /// `leaky_relu(x, negative_slope=0.2)`; nil for the names that are an activation code.
    static func parametric(_ activation: KerasActivation) -> ParametricActivation? {
        activation == .leakyRelu ? .relu(negativeSlope: 0.2, threshold: 0, maxValue: .infinity) : nil
    }

    private mutating func addMapped(_ layer: KerasLayer, next: ArraySlice<KerasLayer>) throws(KerasImportError) {
        if sequenceView {
            switch layer.config {
            case .sequence: break
            case .flatten: sequenceView = false  // [1, steps, channels] flattens as Keras's [steps, channels] does
            default: if layer.config.needsKerasOrder { leaveSequence(before: layer.name) }
            }
        }
        if try addSpatial(layer) { return }
        if channelsFirstView && layer.config.needsKerasOrder {
            restoreKerasOrder(before: layer)
        }
        switch layer.config {
        case .inputLayer, .dropout:
            return
        case .identityAtInference:
            droppedLayers.append("\(layer.className):\(layer.name)")
        case .merge:
            // Only a functional model's graph (`addGraph`) gives a merge its inputs.
            throw KerasImportError(.unsupportedTopology, file: source, location: "layer '\(layer.name)' (\(layer.className))",
                                   "a merge outside a functional model's branches")
        case .conv2D, .depthwiseConv2D, .separableConv2D, .pooling2D, .globalPooling2D, .margins2D, .flattenChannelsFirst, .sequence,
             .upsampling2D, .convTranspose2D:
            return  // handled by addSpatial
        case .permute(let dims):
            let rank = currentShape().count
            guard dims.count == rank else { throw fail(layer, "permutes \(dims.count) axes, the sample has \(rank)") }
            layers.append(Layer(name: layer.name, operation: .permute(dims.map { $0 - 1 })))
        case let .dense(units, activation, useBias):
            guard let kernel = layer.weight(named: "kernel"), kernel.shape.count == 2, kernel.shape[1] == units else {
                throw KerasImportError(.missingWeights, file: source, location: "layer '\(layer.name)' (Dense)", "no kernel of shape [in, \(units)]")
            }
            let bias = useBias ? layer.weight(named: "bias") : nil
            if pendingNormalization == nil && kernel.doubleValues == nil && bias?.doubleValues == nil {
                // Nothing to fold: the weights as read (shared, not copied through Double and back,
                // which gave the same values at three times the memory).
                layers.append(Layer(name: layer.name, operation: .dense(
                    kernel: tensor(kernel.shape, kernel.values, like: kernel),
                    bias: bias.map { tensor([units], $0.values, like: kernel) },
                    activation: try lrmActivation(activation, layer))))
                return
            }
            var w = kernel.doubleValues ?? kernel.values.map(Double.init)
            var b = bias.map { $0.doubleValues ?? $0.values.map(Double.init) } ?? [Double](repeating: 0, count: units)
            var hasBias = bias != nil
            if let pending = pendingNormalization {
                // y = (x·s + t)·W + b = x·(diag(s)·W) + (t·W + b)
                let rows = kernel.shape[0]
                guard pending.scale.count == rows else {
                    throw fail(layer, "BatchNormalization '\(pending.name)' has \(pending.scale.count) features, the Dense takes \(rows)")
                }
                for j in 0..<units {
                    var extra = 0.0
                    for i in 0..<rows { extra += pending.shift[i] * w[i * units + j] }
                    b[j] += extra
                }
                for i in 0..<rows { for j in 0..<units { w[i * units + j] *= pending.scale[i] } }
                hasBias = true
                pendingNormalization = nil
            }
            layers.append(Layer(name: layer.name, operation: .dense(
                kernel: tensor(kernel.shape, w, like: kernel),
                bias: hasBias ? tensor([units], b, like: kernel) : nil,
                activation: try lrmActivation(activation, layer))))
        case .activation(let activation):
            if let function = Self.parametric(activation) {
                layers.append(Layer(name: layer.name, operation: .parametricActivation(function, alphas: nil)))
                return
            }
            layers.append(Layer(name: layer.name, operation: .activation(try lrmActivation(activation, layer))))
        case let .relu(maxValue, negativeSlope, threshold):
            if negativeSlope == 0, threshold == 0, maxValue == nil || maxValue == 6 {
                layers.append(Layer(name: layer.name, operation: .activation(maxValue == 6 ? .relu6 : .relu)))
                return
            }
            // Format 1.5: x > threshold ? min(x, max_value) : negative_slope · (x − threshold).
            let function = ParametricActivation.relu(negativeSlope: negativeSlope, threshold: threshold, maxValue: maxValue ?? .infinity)
            if let problem = function.problem { throw fail(layer, problem.message) }
            layers.append(Layer(name: layer.name, operation: .parametricActivation(function, alphas: nil)))
        case .elu(let alpha):
            if alpha == 1 {
                layers.append(Layer(name: layer.name, operation: .activation(.elu)))
                return
            }
            let function = ParametricActivation.elu(alpha: alpha)
            if let problem = function.problem { throw fail(layer, problem.message) }
            layers.append(Layer(name: layer.name, operation: .parametricActivation(function, alphas: nil)))
        case .prelu(let sharedAxes):
            let shape = currentShape()
            guard let alpha = layer.weight(named: "alpha") else {
                throw KerasImportError(.missingWeights, file: source, location: "layer '\(layer.name)' (PReLU)", "no alpha")
            }
            // Keras's alpha has the sample's shape with 1 on each shared axis.
            var expected = shape
            for axis in sharedAxes {
                guard (1...shape.count).contains(axis) else {
                    throw fail(layer, "shares axis \(axis), the sample \(shape) has axes 1 to \(shape.count)")
                }
                expected[axis - 1] = 1
            }
            guard alpha.shape == expected else {
                throw KerasImportError(.shapeMismatch, file: source, location: "layer '\(layer.name)' (PReLU)",
                                       "alpha has shape \(alpha.shape), expected \(expected) (its input \(shape) with shared axes \(sharedAxes) as 1)")
            }
            let alphas = alpha.doubleValues.map { tensor(alpha.shape, $0, like: alpha) } ?? tensor(alpha.shape, alpha.values, like: alpha)
            layers.append(Layer(name: layer.name, operation: .parametricActivation(.prelu, alphas: alphas)))
        case .softmax(let axis):
            guard axis == -1 || axis == currentShape().count else { throw fail(layer, "softmax over axis \(axis) is not supported, only the last axis") }
            layers.append(Layer(name: layer.name, operation: .activation(.softmax)))
        case .flatten:
            layers.append(Layer(name: layer.name, operation: .flatten))
        case .reshape(let target):
            var shape = target
            let total = Self.elementCount(currentShape()) ?? Int.max
            guard target.allSatisfy({ $0 == -1 || $0 >= 1 }), target.filter({ $0 == -1 }).count <= 1,
                  let known = Self.elementCount(target.filter { $0 != -1 }) else {
                throw fail(layer, "target shape \(target) is not positive dimensions with at most one -1")
            }
            if let open = shape.firstIndex(of: -1) {
                guard total % known == 0 else { throw fail(layer, "cannot reshape \(total) elements to \(target)") }
                shape[open] = total / known
            } else if known != total {
                throw fail(layer, "cannot reshape \(total) elements to \(target)")
            }
            layers.append(Layer(name: layer.name, operation: .reshape(shape)))
        case let .rescaling(scale, offset):
            if !hasWeightedLayer && layers.isEmpty {
                // Fold into the input preprocessing: (x·s₀ + o₀)·s + o.
                let s0 = input.scale.first ?? 1, o0 = input.offset.first ?? 0
                guard input.scale.count <= 1, input.offset.count <= 1 else { throw fail(layer, "cannot fold a second per-channel rescaling") }
                input.scale = [s0 * scale]
                input.offset = o0 * scale + offset == 0 ? [] : [o0 * scale + offset]
                if input.scale == [1] { input.scale = [] }
            } else {
                let width = try configVectorLength(layer)
                layers.append(scaleShift(name: layer.name, scale: Array(repeating: scale, count: width),
                                         shift: Array(repeating: offset, count: width)))
            }
        case let .normalization(_, mean, variance, invert):
            let width = try configVectorLength(layer)
            guard let m = mean ?? layer.weight(named: "mean")?.values.map(Double.init),
                  let v = variance ?? layer.weight(named: "variance")?.values.map(Double.init) else {
                throw KerasImportError(.missingWeights, file: source, location: "layer '\(layer.name)' (Normalization)", "no mean and variance")
            }
            let mm = m.count == 1 ? Array(repeating: m[0], count: width) : m
            let vv = v.count == 1 ? Array(repeating: v[0], count: width) : v
            guard mm.count == width, vv.count == width else { throw fail(layer, "normalizes \(mm.count) features, the input has \(width)") }
            // Keras: (x − mean) / max(√var, ε) with ε = 1e-7 (backend epsilon).
            let sd = vv.map { max($0.squareRoot(), 1e-7) }
            let scale = invert ? sd : sd.map { 1 / $0 }
            let shift = invert ? mm : zip(mm, sd).map { -$0 / $1 }
            layers.append(scaleShift(name: layer.name, scale: scale, shift: shift))
        case let .layerNormalization(axis, epsilon, center, scaleEnabled):
            // (1.5) Per sample, over Keras's last axis (Keras's order is restored before it): never folded into a Dense.
            let shape = currentShape()
            let rank = shape.count + 1  // Keras's, with the batch axis
            guard axis.count == 1, axis[0] == -1 || axis[0] == rank - 1, let features = shape.last else {
                throw fail(layer, "normalizes axis \(axis) of a rank-\(rank) tensor; lrm imports LayerNormalization over the last axis only (-1)")
            }
            func vector(_ name: String, _ enabled: Bool) throws(KerasImportError) -> Tensor? {
                guard enabled else { return nil }
                guard let weight = layer.weight(named: name), weight.shape == [features] else {
                    throw KerasImportError(.missingWeights, file: source, location: "layer '\(layer.name)' (LayerNormalization)",
                                           "no \(name) of shape [\(features)]")
                }
                return Tensor(shape: [features], floats: weight.values)
            }
            layers.append(Layer(name: layer.name, operation: .layerNorm(gamma: try vector("gamma", scaleEnabled), beta: try vector("beta", center),
                                                                        epsilon: epsilon)))
        case let .batchNormalization(axis, epsilon, center, scaleEnabled):
            let (s, t) = try batchNormalization(layer, epsilon: epsilon, center: center, scale: scaleEnabled)
            try checkNormalizedAxis(axis, layer)
            if try foldIntoConvolution(layer, scale: s, shift: t) { return }
            if let last = layers.last, case let .dense(kernel, bias, .linear) = last.operation, s.count == kernel.shape[1] {
                // Fold into the preceding Dense: W' = W·diag(s), b' = b·s + t.
                let (rows, cols) = (kernel.shape[0], kernel.shape[1])
                func doubles(_ t: Tensor) -> [Double] {
                    if case .float64(let values) = t.storage { return values }
                    return t.floats().map(Double.init)
                }
                var w = doubles(kernel)
                for i in 0..<rows { for j in 0..<cols { w[i * cols + j] *= s[j] } }
                let b = bias.map(doubles) ?? Array(repeating: 0, count: cols)
                let folded = (0..<cols).map { b[$0] * s[$0] + t[$0] }
                let stored = { (shape: [Int], values: [Double]) -> Tensor in
                    kernel.dtype == .float64 ? Tensor(shape: shape, storage: .float64(values))
                                             : Tensor(shape: shape, floats: values.map(Float.init), dtype: kernel.dtype)
                }
                layers[layers.count - 1] = Layer(name: last.name, operation: .dense(
                    kernel: stored(kernel.shape, w), bias: stored([cols], folded), activation: .linear))
            } else if next.first(where: { !$0.config.isIdentityAtInference }).map({ if case .dense = $0.config { return true }; return false }) == true {
                pendingNormalization = (layer.name, s, t)
            } else {
                layers.append(scaleShift(name: layer.name, scale: s, shift: t))
            }
        }
    }

    func batchNormalization(_ layer: KerasLayer, epsilon: Double, center: Bool, scale: Bool) throws(KerasImportError) -> ([Double], [Double]) {
        func exact(_ name: String) -> [Double]? {
            layer.weight(named: name).map { $0.doubleValues ?? $0.values.map(Double.init) }
        }
        guard let mean = exact("moving_mean"), let variance = exact("moving_variance") else {
            throw KerasImportError(.missingWeights, file: source, location: "layer '\(layer.name)' (BatchNormalization)", "no moving mean and variance")
        }
        let gamma = scale ? exact("gamma") : nil
        let beta = center ? exact("beta") : nil
        let s = (0..<mean.count).map { (gamma?[$0] ?? 1) / (variance[$0] + epsilon).squareRoot() }
        let t = (0..<mean.count).map { (beta?[$0] ?? 0) - mean[$0] * s[$0] }
        return (s, t)
    }

    func scaleShift(name: String, scale: [Double], shift: [Double]) -> Layer<Tensor> {
        Layer(name: name, operation: .scaleShift(scale: Tensor(shape: [scale.count], floats: scale.map(Float.init)),
                                                  shift: Tensor(shape: [shift.count], floats: shift.map(Float.init))))
    }

    /// A tensor in the storage precision of the Keras weight it came from, from values read as `Float`
    /// (float32 ones are shared, not copied). Not for float64 weights, whose exact values are `Double`.
    func tensor(_ shape: [Int], _ values: [Float], like weight: KerasWeight) -> Tensor {
        switch weight.sourceDType {
        case .float16: Tensor(shape: shape, floats: values, dtype: .float16)
        case .bfloat16: Tensor(shape: shape, floats: values, dtype: .bfloat16)
        default: Tensor(shape: shape, floats: values)
        }
    }

    /// A tensor in the storage precision of the Keras weight it came from.
    func tensor(_ shape: [Int], _ values: [Double], like weight: KerasWeight) -> Tensor {
        switch weight.sourceDType {
        case .float64: Tensor(shape: shape, storage: .float64(values))
        case .float16: Tensor(shape: shape, floats: values.map(Float.init), dtype: .float16)
        case .bfloat16: Tensor(shape: shape, floats: values.map(Float.init), dtype: .bfloat16)
        default: Tensor(shape: shape, floats: values.map(Float.init))
        }
    }

    /// The width (last dimension) of the current sample, for a vector made from a config value alone.
    func configVectorLength(_ layer: KerasLayer) throws(KerasImportError) -> Int {
        let width = currentShape().last ?? 1
        guard width <= Self.maxConfigVectorLength else {
            throw fail(layer, "the layer would apply to \(width) features, more than the \(Self.maxConfigVectorLength) lrm accepts for a layer without weights")
        }
        return width
    }

    /// A config's input shape as Keras writes it: `(None, 3)`.
    static func kerasShape(_ shape: [Int?]) -> String {
        "(" + shape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }

    /// The product of `shape`, or nil if it overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            product = next
        }
        return product
    }

    /// Refuses the model at the first layer mapped so far whose samples pass the container's 2³¹−1 elements, as the
    /// container would (``containerModel(sourcePath:)``), before the next layer is checked against ``currentShape()``,
    /// which stops before that layer: a Reshape or Cropping2D after a ZeroPadding2D of 65,535 rows said it could not
    /// reshape or crop the 4×4 input the padding had been given.
    func refuseOversizedSamples() throws(KerasImportError) {
        var shape = input.shape
        var slots = SlotShapes()
        for layer in layers {
            // A layer the container refuses for another reason is left to its validation, which says why.
            guard let next = try? layer.outputShape(input: shape, slots: &slots) else { return }
            guard let count = Self.elementCount(next), count <= Int(Int32.max) else {
                throw KerasImportError(.shapeMismatch, file: source, "the model cannot be stored as lrm: layer '\(escaped(layer.name))' "
                                       + "produces samples of shape \(next), more than \(Int32.max) elements")
            }
            shape = next
        }
    }

    /// The sample shape after the layers mapped so far (each layer was checked when it was added).
    func currentShape() -> [Int] {
        var shape = input.shape
        var slots = SlotShapes()
        for layer in layers {
            // Shapes past the container's 2³¹−1 elements stop here (the model is refused when it is stored).
            guard let next = try? layer.outputShape(input: shape, slots: &slots), let count = Self.elementCount(next),
                  count <= Int(Int32.max) else { return shape }
            shape = next
        }
        return shape
    }

    func lrmActivation(_ activation: KerasActivation, _ layer: KerasLayer) throws(KerasImportError) -> Activation {
        switch activation {
        case .linear: return .linear
        case .relu: return .relu
        case .relu6: return .relu6
        case .sigmoid: return .sigmoid
        case .tanh: return .tanh
        case .softmax: return .softmax
        case .softplus: return .softplus
        case .softsign: return .softsign
        case .elu: return .elu
        case .selu: return .selu
        case .gelu: return .gelu
        case .silu: return .silu
        case .exponential: return .exponential
        case .mish: return .mish
        case .hardSilu: return .hardSilu
        case .logSigmoid: return .logSigmoid
        case .hardTanh: return .hardTanh
        case .logSoftmax: return .logSoftmax
        case .celu: return .elu  // Keras's celu(x, alpha=1) is elu
        case .leakyRelu: return .linear  // applied by a parametric_activation layer after this one (`add`)
        case .hardSigmoid:
            // Keras 3: relu6(x + 3) / 6; Keras 1 and 2 (tf-keras) used clip(0.2·x + 0.5, 0, 1) (format 1.5's code 20). A file
            // that does not say its version is taken as Keras 3's.
            return model.isBeforeKeras3 ? .hardSigmoidKeras2 : .hardSigmoid
        }
    }
}

extension KerasModel {
    /// Whether the file says it was written by Keras 1 or 2 (tf-keras): its `keras_version`'s major number is below 3.
    /// Those define `hard_sigmoid` as clip(0.2·x + 0.5, 0, 1), Keras 3 as relu6(x + 3) / 6.
    var isBeforeKeras3: Bool {
        guard let version = kerasVersion, let major = Int(version.prefix { $0.isNumber }) else { return false }
        return major < 3
    }
}
