import LRMHDF5
import LRMFormat

/// The JSON of a Keras config (LRMFormat's writer: keys in insertion order, one serialisation).
/// This module's own `JSONValue` is the reader's.
typealias KerasConfigJSON = LRMFormat.JSONValue

/// One Keras layer of an exported model.
public struct KerasExportedLayer: Sendable, Equatable {
    /// The Keras layer name: unique in the model, without `/` (Keras 3 refuses it in names).
    public var name: String
    /// The Keras class: `Dense`, `Activation`, `Flatten`, `Reshape`, `BatchNormalization`, `Conv2D`,
    /// `DepthwiseConv2D`, `MaxPooling2D`, `AveragePooling2D`, `GlobalMaxPooling2D`, `GlobalAveragePooling2D`,
    /// `ZeroPadding2D`, `Cropping2D`, `Permute`, (1.5) `UpSampling2D`, or the 1-D classes (`Conv1D`, `UpSampling1D`, …).
    public var className: String
    /// The name of the lrm layer it comes from.
    public var sourceLayer: String
    /// How many weight values the layer stores (all float32).
    public var parameterCount: Int
}

/// What ``KerasExporter/write(_:to:)`` wrote.
public struct KerasExportSummary: Sendable, Equatable {
    /// The Keras model name.
    public var modelName: String
    /// The `InputLayer`'s shape, without the batch axis: the lrm model's input shape.
    public var inputShape: [Int]
    /// The positions of the dimensions of `inputShape` written open (`None`): those metadata `source.open_input_dims`
    /// records (the source left them open).
    public var openInputDims: [Int] = []
    /// Positions that metadata records but that were written fixed, because a Keras layer (a Reshape or Flatten) fixes
    /// the sample's size: `openInputDimsFixedBy` names it.
    public var openInputDimsKeptFixed: [Int] = []
    public var openInputDimsFixedBy: String?
    /// The layers after the `InputLayer`, in order; a factorized layer gives two Dense layers, and the input
    /// preprocessing, when there is one, is the first layer.
    public var layers: [KerasExportedLayer]
    /// How the model's input preprocessing (`x · scale + offset`) was written.
    public var preprocessing: KerasExportedPreprocessing = .none

    /// Weight values in the file.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
}

/// How an exported model keeps the input preprocessing `x · scale + offset` of the lrm model.
public enum KerasExportedPreprocessing: Sendable, Equatable {
    /// The model records none.
    case none
    /// A first layer computes it (`Rescaling`, or `BatchNormalization` for per-channel or per-feature values),
    /// so the Keras model takes the same raw inputs as `lrm predict`.
    case layer(name: String, className: String)
    /// It cannot be written as a Keras layer (per-element values over a multi-axis input, per-channel
    /// values of a channels-first input): the Keras model expects inputs already scaled.
    case notIncluded(reason: String)
}

/// A ``Model`` mapped to a Keras `Sequential` model (a `Functional` one for a model with branches, format 1.4, its
/// layers naming their inputs and listed in Keras's own order): layer configs, weights in Keras's variable order,
/// and the names under which they are stored. Building it checks the whole model, so that nothing is
/// written for a model that cannot be exported.
struct KerasExportPlan {
    struct Weight {
        /// The Keras variable name: `kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance`.
        var variable: String
        /// Row-major; a Dense kernel is `[in, out]`.
        var shape: [Int]
        var values: [Float]
    }

    struct PlannedLayer {
        var name: String
        var className: String
        var sourceLayer: String
        /// The layer's `config` object after `name`, `trainable` and `dtype`.
        var settings: [(String, KerasConfigJSON)]
        /// In Keras's legacy order: trainable variables first, then non-trainable ones.
        var weights: [Weight]
        /// (A functional model, ``isFunctional``) the layers whose outputs it takes, the model's input by ``inputName``.
        var inputs: [String] = []
        /// (A functional model) the shape of one output sample.
        var outputShape: [Int] = []
    }

    /// Whether the model has branches (format 1.4's slots): written as a Keras `Functional` model whose layers name
    /// their inputs, instead of a `Sequential` one.
    var isFunctional = false

    /// BatchNormalization's ε for a scale_shift layer.
    static let scaleShiftEpsilon = 1e-3
    /// The moving variance stored for a scale_shift layer: 1 − ε rounded to float32, chosen so that
    /// Keras's `moving_variance + epsilon` is exactly 1 in float32 (0.999000013 + 0.001000000047 rounds
    /// to 1), making the layer `x · gamma + beta` up to the rounding of `rsqrt(1)`.
    static let scaleShiftVariance = Float(1 - scaleShiftEpsilon)
    /// Suffix of the first Dense layer of a factorized layer (kernel U·Σ, in × k).
    static let factorSuffix = "_factor_u"
    /// Layer names the legacy loader gives a meaning of its own.
    static let reservedNames: Set<String> = ["top_level_model_weights"]

    var modelName: String
    var inputName: String
    /// The layer whose output is the model's (the last one, or for a functional model the last one the current sample
    /// came from).
    var outputName = ""
    var inputShape: [Int]
    var layers: [PlannedLayer] = []
    var preprocessing: KerasExportedPreprocessing = .none
    /// Name of the layer computing the input preprocessing: `Rescaling` when scale and offset are single
    /// values, else `BatchNormalization`.
    static let rescalingName = "input_rescaling"
    static let normalizationName = "input_normalization"

    /// The most bytes of float32 weights an exported Keras file may hold: 16 GiB. Keras stores every
    /// layer's weights separately, so a small `.lrm` whose layers share one tensor (the spec allows it)
    /// can describe far more; such a model is refused before anything is written.
    static let maxWeightBytes = 1 << 34

    /// Maps `model`, checking every layer's tensors against the features that reach it.
    /// `file` names the output in errors.
    init(_ model: Model, file: String) throws(KerasExportError) {
        guard !model.input.shape.isEmpty, model.input.shape.allSatisfy({ $0 > 0 }) else {
            throw KerasExportError(.invalidModel, file: file, location: "input",
                                   "the input shape is \(model.input.shape), expected one or more positive dimensions")
        }
        var elements = 0
        for layer in model.layers {
            for (_, tensor) in layer.operation.tensors {
                let (sum, overflow) = elements.addingReportingOverflow(tensor.elementCount)
                elements = overflow ? Int.max : sum
            }
        }
        guard elements <= Self.maxWeightBytes / 4 else {
            throw KerasExportError(.invalidModel, file: file,
                                   "the layers' weights, one copy per layer as Keras stores them, would take "
                                   + "\(elements == Int.max ? "more than 2⁶³" : String(elements)) float32 values, more than the limit of "
                                   + "\(Self.maxWeightBytes / 4) (16 GiB); the model's layers share tensors that Keras cannot share")
        }
        var names = NameAllocator(reserved: Self.reservedNames)
        let kerasNames = model.layers.enumerated().map { index, layer in
            names.claim(Self.kerasName(layer.name, fallback: "layer_\(index)"))
        }
        modelName = Self.kerasName(model.name, fallback: "model")
        inputName = names.claim("input_layer")
        inputShape = model.input.shape
        try planPreprocessing(model.input, names: &names, file: file)
        isFunctional = model.layers.contains { $0.operation.usesSlots }
        // The Keras layer whose output is the current sample, and what each slot holds (format 1.4), with its view.
        var current = inputName
        var held: [Int: (name: String, shape: [Int], view: Bool)] = [:]
        for index in layers.indices {
            layers[index].inputs = [current]
            layers[index].outputShape = model.input.shape
            current = layers[index].name
        }
        // Keras 1-D layers (KerasExportPlan+Sequence.swift): in the sequence view Keras holds lrm's [1, steps, channels]
        // sample as [steps, channels].
        let kerasClasses = MetadataKey.sourceKerasClasses(in: model.metadata)
        let modelLayers = model.layers
        func sequenceLayer(_ index: Int, input: [Int]) -> Bool {
            index < modelLayers.count && kerasClasses[modelLayers[index].name] != nil
                && Self.hasSequenceForm(modelLayers[index].operation, input: input)
        }
        func kerasShape(_ shape: [Int], _ view: Bool) -> [Int] { view ? Array(shape.dropFirst()) : shape }
        var sequenceView = false
        /// A `Reshape` to lrm's `shape` of the Keras tensor `input` (held in the sequence view), named after `layer`.
        func bridge(_ input: String, to shape: [Int], before layer: Layer<Tensor>, name: String) -> PlannedLayer {
            var reshape = LayerMapper(layer: layer, name: names.claim(name + "_as_2d"), file: file)
                .planned("Reshape", [("target_shape", KerasConfigJSON(shape))])
            reshape.inputs = [input]
            reshape.outputShape = shape
            return reshape
        }
        /// lrm layers written with the Keras layer before them (a separable pair's pointwise half, a global pooling's
        /// keepdims reshape), and whether the causal padding before the current convolution was left out.
        var merged: Set<Int> = []
        var causal = false
        var shape = model.input.shape
        for (index, (layer, name)) in zip(model.layers, kerasNames).enumerated() {
            if merged.contains(index) { continue }
            if case .reshape(let target) = layer.operation {
                if sequenceView, shape.count == 3, target == Array(shape.dropFirst()) {
                    // Back to [steps, channels]: what Keras holds already.
                    sequenceView = false
                    shape = target
                    continue
                }
                if !sequenceView, shape.count == 2, target == [1] + shape, sequenceLayer(index + 1, input: target) {
                    // Into [1, steps, channels] for a layer written as a Keras 1-D one: Keras keeps [steps, channels].
                    sequenceView = true
                    shape = target
                    continue
                }
            }
            let sequence = sequenceView && sequenceLayer(index, input: shape)
            if sequenceView, !sequence, !layer.operation.usesSlots, !Self.ignoresSequenceView(layer.operation) {
                // A layer without a 1-D form: lrm's shape again, and its 2-D layer.
                let reshape = bridge(current, to: shape, before: layer, name: name)
                layers.append(reshape)
                current = reshape.name
                sequenceView = false
            }
            let mapper = LayerMapper(layer: layer, name: name, file: file)
            let features = shape.last ?? 0
            let stepInput = shape
            let planned = layers.count
            var lastStep = index
            var viewAfter = sequenceView && !{ if case .flatten = layer.operation { return true }; if case .reshape = layer.operation { return true }; return false }()
            if sequence {
                viewAfter = true
                let next = index + 1 < modelLayers.count ? modelLayers[index + 1] : nil
                switch layer.operation {
                case let .conv2D(kernel, bias, activation, geometry):
                    layers.append(try mapper.convolution1D(kernel: kernel, bias: bias, activation: activation, geometry: geometry, causal: causal))
                case let .factorizedConv2D(first, second, bias, activation, form, geometry, _):
                    let (firstGeometry, secondGeometry) = Self.halves(geometry, form: form)
                    var firstMapper = mapper
                    firstMapper.name = names.claim(name + Self.factorSuffix)
                    layers.append(try firstMapper.convolution1D(kernel: first, bias: nil, activation: .linear, geometry: firstGeometry,
                                                                causal: causal && form == .channel))
                    layers.append(try mapper.convolution1D(kernel: second, bias: bias, activation: activation, geometry: secondGeometry,
                                                           causal: causal && form == .spatial))
                case let .depthwiseConv2D(kernel, _, _, geometry)
                    where next.map { Self.separablePair(layer, $0) && kerasClasses[$0.name] == kerasClasses[layer.name] } == true:
                    guard let next, case let .conv2D(pointwise, bias, activation, _) = next.operation else { break }
                    let pairMapper = LayerMapper(layer: next, name: kerasNames[index + 1], file: file)
                    layers.append(try pairMapper.separable1D(depthwise: kernel, geometry: geometry, pointwise: pointwise, bias: bias,
                                                             activation: activation))
                    merged.insert(index + 1)
                    lastStep = index + 1
                case .globalPool2D:
                    var keepDims = false
                    if let next, next.name == layer.name + "/keepdims", kerasClasses[next.name] == kerasClasses[layer.name],
                       case .reshape(let target) = next.operation, target.count == 3, target[0] == 1, target[1] == 1, target[2] == shape[2] {
                        keepDims = true
                        merged.insert(index + 1)
                        lastStep = index + 1
                    }
                    guard let pooled = try mapper.spatial1D(input: shape, keepDims: keepDims) else { throw mapper.invalid("no 1-D form") }
                    layers.append(pooled)
                    viewAfter = keepDims
                case let .pad2D(m) where next.map { Self.isCausalPadding(m, of: $0, name: layer.name) } == true
                    && (try? layer.outputShape(input: shape)).map { sequenceLayer(index + 1, input: $0) } == true:
                    // The causal padding of the convolution after it, written as a Conv1D: that Conv1D's padding "causal".
                    causal = true
                    shape = try Self.outputShape(of: layer, input: shape, mapper: mapper)
                    continue
                default:
                    guard let sequenceForm = try mapper.spatial1D(input: shape) else { throw mapper.invalid("no 1-D form") }
                    layers.append(sequenceForm)
                }
                causal = false
            } else {
            switch layer.operation {
            case .store(let slot):
                held[slot] = (current, shape, sequenceView)
                continue
            case .load(let slot):
                guard let kept = held[slot] else { throw mapper.invalid("slot \(slot) was not stored before") }
                (current, shape, sequenceView) = kept
                continue
            case let .merge(mode, slots, activation):
                var inputs = [current]
                var views = [sequenceView]
                var shapes = [shape]
                var joined = shape
                for slot in slots {
                    guard let kept = held[slot] else { throw mapper.invalid("slot \(slot) was not stored before") }
                    inputs.append(kept.name)
                    views.append(kept.view)
                    shapes.append(kept.shape)
                    if mode == .concatenate { joined[joined.count - 1] += kept.shape.last ?? 0 }
                }
                // Inputs held in different views are all given lrm's shape first.
                var view = views[0]
                if Set(views).count > 1 {
                    for position in inputs.indices where views[position] {
                        let reshape = bridge(inputs[position], to: shapes[position], before: layer, name: inputs[position])
                        layers.append(reshape)
                        inputs[position] = reshape.name
                    }
                    view = false
                }
                var merge = mapper
                if activation != .linear { merge.name = names.claim(name + "_merge") }
                let className = ["add": "Add", "subtract": "Subtract", "multiply": "Multiply", "average": "Average",
                                 "maximum": "Maximum", "minimum": "Minimum", "concatenate": "Concatenate"][mode.name] ?? "Add"
                var planned = merge.planned(className, mode == .concatenate ? [("axis", .int(-1))] : [])
                planned.inputs = inputs
                planned.outputShape = kerasShape(joined, view)
                layers.append(planned)
                current = planned.name
                shape = joined
                sequenceView = view
                if activation != .linear {
                    var activated = mapper.planned("Activation", [("activation", .string(try mapper.kerasActivation(activation)))])
                    activated.inputs = [current]
                    activated.outputShape = kerasShape(shape, view)
                    layers.append(activated)
                    current = activated.name
                }
                continue
            case let .dense(kernel, bias, activation):
                let out = try mapper.matrix(kernel, "kernel", rows: features)
                layers.append(try mapper.dense(units: out, activation: activation, kernel: kernel, bias: bias))
                shape = shape.dropLast() + [out]
            case let .factorizedDense(us, vt, bias, activation, _):
                let rank = try mapper.matrix(us, "us", rows: features)
                let out = try mapper.matrix(vt, "vt", rows: rank)
                var first = mapper
                first.name = names.claim(name + Self.factorSuffix)
                layers.append(try first.dense(units: rank, activation: .linear, kernel: us, bias: nil))
                layers.append(try mapper.dense(units: out, activation: activation, kernel: vt, bias: bias))
                shape = shape.dropLast() + [out]
            case .activation(let activation):
                layers.append(mapper.planned("Activation", [("activation", .string(try mapper.kerasActivation(activation)))]))
            case let .parametricActivation(function, alphas):
                layers.append(try mapper.parametricActivation(function, alphas: alphas, input: shape))
            case .flatten:
                layers.append(mapper.planned("Flatten", [("data_format", .string("channels_last"))]))
                shape = [shape.reduce(1, *)]
            case .reshape(let target):
                let count = shape.reduce(1, *)
                guard !target.isEmpty, target.allSatisfy({ $0 > 0 }), target.reduce(1, *) == count else {
                    throw mapper.invalid("the target shape \(target) does not hold the \(count) elements of shape \(shape)")
                }
                layers.append(mapper.planned("Reshape", [("target_shape", KerasConfigJSON(target))]))
                shape = target
            case let .scaleShift(scale, shift):
                layers.append(try mapper.batchNormalization(scale: scale, shift: shift, features: features))
            case let .layerNorm(gamma, beta, epsilon):
                layers.append(try mapper.layerNormalization(gamma: gamma, beta: beta, epsilon: epsilon, features: features))
            case let .factorizedConv2D(first, second, bias, activation, form, geometry, _):
                // Two Conv2D layers: the first (k filters, no bias, linear), then the second with bias and activation.
                let (firstGeometry, secondGeometry) = Self.halves(geometry, form: form)
                var firstMapper = mapper
                firstMapper.name = names.claim(name + Self.factorSuffix)
                layers.append(try firstMapper.convolution(kernel: first, bias: nil, activation: .linear, geometry: firstGeometry))
                layers.append(try mapper.convolution(kernel: second, bias: bias, activation: activation, geometry: secondGeometry))
            default:
                guard let spatial = try mapper.spatial(input: shape) else {
                    throw mapper.invalid("\(layer.operation.kindName) layers cannot be exported to Keras yet")
                }
                layers.append(spatial)
            }
            }
            for step in index...lastStep {
                shape = try Self.outputShape(of: modelLayers[step], input: step == index ? stepInput : shape,
                                             mapper: step == index ? mapper : LayerMapper(layer: modelLayers[step], name: kerasNames[step], file: file))
            }
            sequenceView = viewAfter
            // Each Keras layer of this step takes the one before it; the first half of a factorized layer gives k values
            // (a convolution's: at the output's rows, and for the spatial form at the input's columns).
            for index in planned..<layers.count {
                layers[index].inputs = [current]
                layers[index].outputShape = kerasShape(shape, sequenceView)
                current = layers[index].name
            }
            if layers.count - planned == 2 {
                switch layer.operation {
                case let .factorizedDense(_, _, _, _, f):
                    layers[planned].outputShape = kerasShape(shape.dropLast() + [f.rank], sequenceView)
                case let .factorizedConv2D(_, _, _, _, form, _, f) where shape.count == 3 && stepInput.count == 3:
                    layers[planned].outputShape = kerasShape([shape[0], form == .channel ? shape[1] : stepInput[1], f.rank], sequenceView)
                default:
                    break
                }
            }
        }
        if sequenceView, let last = modelLayers.last {
            // The model ends in the sequence view: lrm's output shape again.
            let reshape = bridge(current, to: shape, before: last, name: "output")
            layers.append(reshape)
            current = reshape.name
        }
        outputName = current
        if isFunctional { layers = Self.kerasOrder(layers, input: inputName, output: outputName) }
        // The input dimensions the source left open (metadata source.open_input_dims) are written open again, unless a
        // Reshape or Flatten would fix them: those are written for the shape the model was mapped for.
        let open = MetadataKey.sourceOpenInputDims(in: model.metadata, rank: inputShape.count)
        if let fixing = layers.first(where: { ["Reshape", "Flatten"].contains($0.className) }), !open.isEmpty {
            openInputDimsKeptFixed = open
            openInputDimsFixedBy = fixing.name
        } else {
            openInputDims = open
        }
    }

    /// The positions of the input dimensions written open (`None`), from metadata `source.open_input_dims`.
    var openInputDims: [Int] = []
    /// Those the metadata records but the export writes fixed, and the Keras layer (a Reshape or Flatten) that fixes them.
    var openInputDimsKeptFixed: [Int] = []
    var openInputDimsFixedBy: String?

    /// The `InputLayer`'s shape with the batch axis: `null`, then each dimension, `null` where it is written open.
    var batchInputShape: KerasConfigJSON {
        .array([.null] + inputShape.indices.map { openInputDims.contains($0) ? .null : .int(Int64(inputShape[$0])) })
    }

    /// The geometries of a factorized convolution's halves: the channel form's first half has the layer's, its second
    /// is a 1×1 of stride 1; the spatial form's first half has the height's strides and dilation, its second the width's.
    static func halves(_ geometry: ConvGeometry, form: ConvFactorizationForm) -> (ConvGeometry, ConvGeometry) {
        form == .channel
            ? (geometry, ConvGeometry.unit)
            : (ConvGeometry(strideH: geometry.strideH, strideW: 1, dilationH: geometry.dilationH, dilationW: 1, padding: geometry.padding),
               ConvGeometry(strideH: 1, strideW: geometry.strideW, dilationH: 1, dilationW: geometry.dilationW, padding: geometry.padding))
    }

    /// `layer`'s output shape for `input`, or the export's error naming it.
    fileprivate static func outputShape(of layer: Layer<Tensor>, input: [Int], mapper: LayerMapper) throws(KerasExportError) -> [Int] {
        do {
            return try layer.outputShape(input: input)
        } catch {
            throw mapper.invalid("the layer does not fit its input \(input): \(error)")
        }
    }

    /// Whether `margins` (a layer named `name`) are the causal padding an import put before the convolution `next`:
    /// `<next>/causal_padding`, (k − 1)·d steps on the left alone, and `next` a valid convolution of kernel width k and
    /// dilation d (of a factorized one, the half that has them).
    static func isCausalPadding(_ margins: Margins, of next: Layer<Tensor>, name: String) -> Bool {
        guard name == next.name + "/causal_padding", margins.top == 0, margins.bottom == 0, margins.right == 0, margins.left > 0 else { return false }
        switch next.operation {
        case let .conv2D(kernel, _, _, geometry) where geometry.padding == .valid && kernel.shape.count == 4:
            return margins.left == (kernel.shape[1] - 1) * geometry.dilationW
        case let .factorizedConv2D(first, second, _, _, form, geometry, _) where geometry.padding == .valid && first.shape.count == 4 && second.shape.count == 4:
            return margins.left == ((form == .channel ? first.shape[1] : second.shape[1]) - 1) * geometry.dilationW
        default:
            return false
        }
    }

    /// The layers in the order Keras gives a Functional model's layers (and so its weights, which its loaders match by
    /// that order): by decreasing depth, the longest path to the output, and at equal depth in the order a depth-first
    /// walk from the output meets them, inputs in call order (Keras's `map_graph`). Layers that do not lead to the
    /// output (none here) would keep their place at the end.
    static func kerasOrder(_ layers: [PlannedLayer], input: String, output: String) -> [PlannedLayer] {
        let byName = Dictionary(layers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var visit: [String: Int] = [:]
        var finished = Set<String>()
        var postOrder: [String] = []
        // An explicit stack in place of Keras's recursion: (name, whether its inputs were pushed).
        var stack: [(String, Bool)] = [(output, false)]
        while let (name, expanded) = stack.popLast() {
            if expanded {
                if finished.insert(name).inserted { postOrder.append(name) }
                continue
            }
            guard !finished.contains(name) else { continue }
            if visit[name] == nil { visit[name] = visit.count }
            stack.append((name, true))
            guard name != input, let index = byName[name] else { continue }
            for source in layers[index].inputs.reversed() where !finished.contains(source) { stack.append((source, false)) }
        }
        var depth: [String: Int] = [:]
        for name in postOrder.reversed() {
            let own = depth[name, default: 0]
            guard name != input, let index = byName[name] else { continue }
            for source in layers[index].inputs { depth[source] = max(depth[source, default: 0], own + 1) }
        }
        let reachable = layers.filter { visit[$0.name] != nil }
        let sorted = reachable.sorted { a, b in
            let (da, db) = (depth[a.name, default: 0], depth[b.name, default: 0])
            return da != db ? da > db : visit[a.name, default: 0] < visit[b.name, default: 0]
        }
        return sorted + layers.filter { visit[$0.name] == nil }
    }

    /// The first layer, computing the model's input preprocessing `x · scale + offset` (see
    /// ``KerasExportedPreprocessing``): a `Rescaling(scale, offset)` when each is at most one value; a
    /// `BatchNormalization` over the last axis (as a `scale_shift` layer is written) when the values are one
    /// per channel of a channels-last image or one per feature of a vector input.
    private mutating func planPreprocessing(_ input: InputSpec, names: inout NameAllocator, file: String) throws(KerasExportError) {
        let scale = input.scale, offset = input.offset
        guard !scale.isEmpty || !offset.isEmpty else { return }
        for value in scale + offset where !value.isFinite {
            throw KerasExportError(.invalidModel, file: file, location: "input", "the input preprocessing holds \(value), expected finite numbers")
        }
        if scale.count <= 1 && offset.count <= 1 {
            let name = names.claim(Self.rescalingName)
            layers.append(PlannedLayer(name: name, className: "Rescaling", sourceLayer: "(input preprocessing)",
                                       settings: [("scale", .number(scale.first ?? 1)), ("offset", .number(offset.first ?? 0))], weights: []))
            preprocessing = .layer(name: name, className: "Rescaling")
            return
        }
        // One value per entry of the last axis: per channel of an HWC image, or per feature of a vector.
        let last = input.shape.last ?? 0
        let perLastAxis = input.shape.count == 1 || (input.layout == .hwc && input.shape.count == 3)
        guard perLastAxis, [scale.count, offset.count].allSatisfy({ $0 <= 1 || $0 == last }) else {
            preprocessing = .notIncluded(reason: "\(max(scale.count, offset.count)) values over the \(input.layout.name) input \(input.shape) "
                                         + "are not one per entry of its last axis")
            return
        }
        func expanded(_ values: [Double], identity: Double) -> [Float] {
            values.count == last ? values.map(Float.init) : Array(repeating: Float(values.first ?? identity), count: last)
        }
        let name = names.claim(Self.normalizationName)
        let gamma = Tensor(shape: [last], floats: expanded(scale, identity: 1)), beta = Tensor(shape: [last], floats: expanded(offset, identity: 0))
        let layer = Layer(name: name, operation: .scaleShift(scale: gamma, shift: beta))
        var planned = try LayerMapper(layer: layer, name: name, file: file).batchNormalization(scale: gamma, shift: beta, features: last)
        planned.sourceLayer = "(input preprocessing)"
        layers.append(planned)
        preprocessing = .layer(name: name, className: "BatchNormalization")
    }

    /// The `model_config` attribute: a `Sequential` config in the legacy (tf-keras) form, which Keras 3
    /// reads too: `batch_input_shape` on the InputLayer and dtypes as plain strings.
    var modelConfig: KerasConfigJSON {
        let input = KerasConfigJSON.object([
            ("class_name", .string("InputLayer")),
            ("config", .object([
                ("batch_input_shape", batchInputShape),
                ("dtype", .string("float32")), ("sparse", .bool(false)), ("ragged", .bool(false)),
                ("name", .string(inputName)),
            ])),
        ])
        let entries = layers.map { layer in
            KerasConfigJSON.object([
                ("class_name", .string(layer.className)),
                ("config", .object([("name", .string(layer.name)), ("trainable", .bool(true)),
                                    ("dtype", .string("float32"))] + layer.settings)),
            ] + (isFunctional ? [
                ("name", .string(layer.name)),
                ("inbound_nodes", .array([.array(layer.inputs.map { .array([.string($0), .int(0), .int(0), .object([])]) })])),
            ] : []))
        }
        guard isFunctional, case .object(let inputMembers) = input else {
            return .object([
                ("class_name", .string("Sequential")),
                ("config", .object([("name", .string(modelName)), ("layers", .array([input] + entries))])),
            ])
        }
        // tf-keras's functional form: each layer names the layers it is called on.
        let functionalInput = KerasConfigJSON.object(inputMembers + [("name", .string(inputName)), ("inbound_nodes", .array([]))])
        return .object([
            ("class_name", .string("Functional")),
            ("config", .object([("name", .string(modelName)), ("layers", .array([functionalInput] + entries)),
                                ("input_layers", .array([.array([.string(inputName), .int(0), .int(0)])])),
                                ("output_layers", .array([.array([.string(outputName), .int(0), .int(0)])]))])),
        ])
    }

    var summary: KerasExportSummary {
        KerasExportSummary(modelName: modelName, inputShape: inputShape, openInputDims: openInputDims,
                           openInputDimsKeptFixed: openInputDimsKeptFixed, openInputDimsFixedBy: openInputDimsFixedBy, layers: layers.map {
            KerasExportedLayer(name: $0.name, className: $0.className, sourceLayer: $0.sourceLayer,
                               parameterCount: $0.weights.reduce(0) { $0 + $1.values.count })
        }, preprocessing: preprocessing)
    }

    /// A name Keras 3 accepts and HDF5 can store as one link: `/` and NUL become `_`; an empty name, `.` or
    /// `..` becomes `fallback`.
    static func kerasName(_ name: String, fallback: String) -> String {
        let cleaned = String(name.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        return cleaned.isEmpty || cleaned == "." || cleaned == ".." ? fallback : cleaned
    }
}

/// Hands out unique names: a name already taken gets `_2`, `_3`, … appended.
struct NameAllocator {
    private var used: Set<String>

    init(reserved: Set<String> = []) {
        used = reserved
    }

    mutating func claim(_ preferred: String) -> String {
        var candidate = preferred
        var counter = 2
        while used.contains(candidate) {
            candidate = "\(preferred)_\(counter)"
            counter += 1
        }
        used.insert(candidate)
        return candidate
    }
}

/// Maps one lrm layer, with errors naming it.
struct LayerMapper {
    let source: Layer<Tensor>
    /// The Keras name of the layer being made.
    var name: String
    let file: String

    init(layer: Layer<Tensor>, name: String, file: String) {
        self.source = layer
        self.name = name
        self.file = file
    }

    func invalid(_ message: String) -> KerasExportError {
        KerasExportError(.invalidModel, file: file, location: location, message)
    }

    var location: String { "layer '\(source.name)' (\(source.operation.kindName))" }

    func planned(_ className: String, _ settings: [(String, KerasConfigJSON)],
               weights: [KerasExportPlan.Weight] = []) -> KerasExportPlan.PlannedLayer {
        KerasExportPlan.PlannedLayer(name: name, className: className, sourceLayer: source.name, settings: settings, weights: weights)
    }

    /// Checks that `tensor` is a `[rows, n]` matrix holding its values, and returns n.
    func matrix(_ tensor: Tensor, _ role: String, rows: Int) throws(KerasExportError) -> Int {
        guard tensor.shape.count == 2, tensor.shape[0] == rows, tensor.shape[1] > 0 else {
            throw invalid("\(role) has shape \(tensor.shape), expected [\(rows), n] for the \(rows) features reaching it")
        }
        try checkCount(tensor, role)
        return tensor.shape[1]
    }

    func checkCount(_ tensor: Tensor, _ role: String) throws(KerasExportError) {
        guard tensor.elementCount == tensor.shape.reduce(1, *) else {
            throw invalid("\(role) has shape \(tensor.shape) but \(tensor.elementCount) values")
        }
    }

    /// A Dense layer: kernel `[in, units]`, then the bias `[units]` when there is one.
    func dense(units: Int, activation: Activation, kernel: Tensor, bias: Tensor?) throws(KerasExportError) -> KerasExportPlan.PlannedLayer {
        var weights = [KerasExportPlan.Weight(variable: "kernel", shape: kernel.shape, values: kernel.floats())]
        if let bias {
            guard bias.shape == [units] else { throw invalid("bias has shape \(bias.shape), expected [\(units)]") }
            try checkCount(bias, "bias")
            weights.append(.init(variable: "bias", shape: [units], values: bias.floats()))
        }
        return planned("Dense", [("units", .int(Int64(units))), ("activation", .string(try kerasActivation(activation))),
                               ("use_bias", .bool(bias != nil))], weights: weights)
    }

    /// `Conv2D` (channels-last): kernel `[kh, kw, cin, filters]` as lrm stores it, then the bias.
    func convolution(kernel: Tensor, bias: Tensor?, activation: Activation,
                     geometry: ConvGeometry) throws(KerasExportError) -> KerasExportPlan.PlannedLayer {
        guard kernel.shape.count == 4 else { throw invalid("kernel has shape \(kernel.shape), expected [kh, kw, cin, cout]") }
        try checkCount(kernel, "kernel")
        let filters = kernel.shape[3]
        var weights = [KerasExportPlan.Weight(variable: "kernel", shape: kernel.shape, values: kernel.floats())]
        if let bias {
            guard bias.shape == [filters] else { throw invalid("bias has shape \(bias.shape), expected [\(filters)]") }
            try checkCount(bias, "bias")
            weights.append(.init(variable: "bias", shape: [filters], values: bias.floats()))
        }
        return planned("Conv2D", [("filters", .int(Int64(filters)))] + Self.window(kernel.shape, geometry) + [
            ("groups", .int(1)), ("activation", .string(try kerasActivation(activation))), ("use_bias", .bool(bias != nil)),
        ], weights: weights)
    }

    /// `kernel_size`, `strides`, `padding`, `data_format`, `dilation_rate` of a convolution.
    static func window(_ kernelShape: [Int], _ g: ConvGeometry) -> [(String, KerasConfigJSON)] {
        [("kernel_size", KerasConfigJSON([kernelShape[0], kernelShape[1]])), ("strides", KerasConfigJSON([g.strideH, g.strideW])),
         ("padding", .string(g.padding.name)), ("data_format", .string("channels_last")),
         ("dilation_rate", KerasConfigJSON([g.dilationH, g.dilationW]))]
    }

    /// The Keras layer of a format 1.1 layer other than the (factorized) convolutions, or nil.
    func spatial(input: [Int]) throws(KerasExportError) -> KerasExportPlan.PlannedLayer? {
        let channelsLast = ("data_format", KerasConfigJSON.string("channels_last"))
        switch source.operation {
        case let .conv2D(kernel, bias, activation, geometry):
            return try convolution(kernel: kernel, bias: bias, activation: activation, geometry: geometry)
        case let .depthwiseConv2D(kernel, bias, activation, geometry):
            guard kernel.shape.count == 4 else { throw invalid("kernel has shape \(kernel.shape), expected [kh, kw, cin, m]") }
            try checkCount(kernel, "kernel")
            let outputs = kernel.shape[2] * kernel.shape[3]
            var weights = [KerasExportPlan.Weight(variable: "depthwise_kernel", shape: kernel.shape, values: kernel.floats())]
            if let bias {
                guard bias.shape == [outputs] else { throw invalid("bias has shape \(bias.shape), expected [\(outputs)]") }
                try checkCount(bias, "bias")
                weights.append(.init(variable: "bias", shape: [outputs], values: bias.floats()))
            }
            return planned("DepthwiseConv2D", Self.window(kernel.shape, geometry) + [
                ("depth_multiplier", .int(Int64(kernel.shape[3]))), ("activation", .string(try kerasActivation(activation))),
                ("use_bias", .bool(bias != nil)),
            ], weights: weights)
        case .pool2D(let p):
            return planned(p.mode == .max ? "MaxPooling2D" : "AveragePooling2D", [
                ("pool_size", KerasConfigJSON([p.poolH, p.poolW])), ("strides", KerasConfigJSON([p.strideH, p.strideW])),
                ("padding", .string(p.padding.name)), channelsLast,
            ])
        case .globalPool2D(let mode):
            return planned(mode == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D", [channelsLast, ("keepdims", .bool(false))])
        case .pad2D(let m):
            return planned("ZeroPadding2D", [("padding", .array([KerasConfigJSON([m.top, m.bottom]), KerasConfigJSON([m.left, m.right])])), channelsLast])
        case .crop2D(let m):
            return planned("Cropping2D", [("cropping", .array([KerasConfigJSON([m.top, m.bottom]), KerasConfigJSON([m.left, m.right])])), channelsLast])
        case .permute(let axes):
            // Keras's Permute numbers the sample's axes from 1.
            return planned("Permute", [("dims", KerasConfigJSON(axes.map { $0 + 1 }))])
        case let .conv2DTranspose(kernel, bias, activation, g):
            return try transposedConvolution(kernel: kernel, bias: bias, activation: activation, geometry: g, input: input)
        case .upsample2D(let u):
            return planned("UpSampling2D", [("size", KerasConfigJSON([u.factorH, u.factorW])), channelsLast,
                                            ("interpolation", .string(u.interpolation.name))])
        default:
            return nil
        }
    }

    /// (1.5) `Conv2DTranspose` (channels-last): kernel `[kh, kw, filters, cin]` as lrm stores it, then the bias; Keras's
    /// `padding` and `output_padding` found from the cropping and output size (``kerasPadding(_:input:)``).
    func transposedConvolution(kernel: Tensor, bias: Tensor?, activation: Activation, geometry g: TransposedGeometry,
                               input: [Int]) throws(KerasExportError) -> KerasExportPlan.PlannedLayer {
        guard kernel.shape.count == 4, input.count == 3 else { throw invalid("kernel has shape \(kernel.shape), expected [kh, kw, cout, cin]") }
        try checkCount(kernel, "kernel")
        let filters = kernel.shape[2]
        var weights = [KerasExportPlan.Weight(variable: "kernel", shape: kernel.shape, values: kernel.floats())]
        if let bias {
            guard bias.shape == [filters] else { throw invalid("bias has shape \(bias.shape), expected [\(filters)]") }
            try checkCount(bias, "bias")
            weights.append(.init(variable: "bias", shape: [filters], values: bias.floats()))
        }
        guard let (padding, outputPadding) = Self.kerasPadding(g, kernelShape: kernel.shape, input: input) else {
            throw invalid("its cropping (\(g.cropTop), \(g.cropLeft)) and \(g.outputH)×\(g.outputW) output have no Keras padding and output_padding")
        }
        return planned("Conv2DTranspose", [
            ("filters", .int(Int64(filters))), ("kernel_size", KerasConfigJSON([kernel.shape[0], kernel.shape[1]])),
            ("strides", KerasConfigJSON([g.strideH, g.strideW])), ("padding", .string(padding)),
            ("output_padding", outputPadding.map { KerasConfigJSON($0) } ?? .null), ("data_format", .string("channels_last")),
            ("dilation_rate", KerasConfigJSON([g.dilationH, g.dilationW])), ("activation", .string(try kerasActivation(activation))),
            ("use_bias", .bool(bias != nil)),
        ], weights: weights)
    }

    /// The Keras `padding` and `output_padding` (nil: None) that give a transposed convolution's cropping and output
    /// size on `input` (``TransposedGeometry/kerasAxis(length:kernel:stride:dilation:same:outputPadding:)``): `valid`
    /// before `same`, None before explicit values; nil when none does.
    static func kerasPadding(_ g: TransposedGeometry, kernelShape k: [Int], input: [Int]) -> (String, [Int]?)? {
        let axes = [(input[0], k[0], g.strideH, g.dilationH, g.cropTop, g.outputH), (input[1], k[1], g.strideW, g.dilationW, g.cropLeft, g.outputW)]
        for same in [false, true] {
            func fits(_ axis: (Int, Int, Int, Int, Int, Int), _ padding: Int?) -> Bool {
                TransposedGeometry.kerasAxis(length: axis.0, kernel: axis.1, stride: axis.2, dilation: axis.3, same: same,
                                             outputPadding: padding).map { $0 == (axis.4, axis.5) } ?? false
            }
            if axes.allSatisfy({ fits($0, nil) }) { return (same ? "same" : "valid", nil) }
            let explicit = axes.map { axis in (0...(axis.2 + (axis.1 - 1) * axis.3)).first { fits(axis, $0) } }
            if let h = explicit[0], let w = explicit[1] { return (same ? "same" : "valid", [h, w]) }
        }
        return nil
    }

    /// A BatchNormalization computing `x · scale + shift` over the last axis: gamma = scale, beta = shift
    /// (`center` false without one), moving mean 0, moving variance 1 − ε.
    func batchNormalization(scale: Tensor, shift: Tensor?, features: Int) throws(KerasExportError) -> KerasExportPlan.PlannedLayer {
        func perFeature(_ tensor: Tensor, _ role: String) throws(KerasExportError) -> [Float] {
            guard features > 0, tensor.shape == [features] else {
                throw invalid("\(role) has shape \(tensor.shape), expected [\(features)] (one value per feature of the last axis)")
            }
            try checkCount(tensor, role)
            return tensor.floats()
        }
        var weights = [KerasExportPlan.Weight(variable: "gamma", shape: [features], values: try perFeature(scale, "scale"))]
        if let shift {
            weights.append(.init(variable: "beta", shape: [features], values: try perFeature(shift, "shift")))
        }
        weights.append(.init(variable: "moving_mean", shape: [features], values: Array(repeating: 0, count: features)))
        weights.append(.init(variable: "moving_variance", shape: [features],
                             values: Array(repeating: KerasExportPlan.scaleShiftVariance, count: features)))
        return planned("BatchNormalization", [
            ("axis", .int(-1)), ("momentum", .number(0.99)), ("epsilon", .number(KerasExportPlan.scaleShiftEpsilon)),
            ("center", .bool(shift != nil)), ("scale", .bool(true)),
        ], weights: weights)
    }

    /// (1.5) A LayerNormalization over the last axis: gamma (`scale` false without one), then beta (`center` false
    /// without one), the record's epsilon.
    func layerNormalization(gamma: Tensor?, beta: Tensor?, epsilon: Double, features: Int) throws(KerasExportError) -> KerasExportPlan.PlannedLayer {
        var weights: [KerasExportPlan.Weight] = []
        for (tensor, variable) in [(gamma, "gamma"), (beta, "beta")] {
            guard let tensor else { continue }
            guard features > 0, tensor.shape == [features] else {
                throw invalid("\(variable) has shape \(tensor.shape), expected [\(features)] (one value per feature of the last axis)")
            }
            try checkCount(tensor, variable)
            weights.append(.init(variable: variable, shape: [features], values: tensor.floats()))
        }
        return planned("LayerNormalization", [
            ("axis", .int(-1)), ("epsilon", .number(epsilon)), ("center", .bool(beta != nil)), ("scale", .bool(gamma != nil)),
        ], weights: weights)
    }

    /// The Keras name of an lrm activation (the same function in Keras 3; see ``KerasExporter`` for tf-keras).
    func kerasActivation(_ activation: Activation) throws(KerasExportError) -> String {
        switch activation {
        case .hardSigmoidKeras2:
            throw KerasExportError(.unsupportedActivation, file: file, location: location,
                                   "activation 'hard_sigmoid_keras2' (tf-keras's hard_sigmoid, clip(0.2·x + 0.5, 0, 1)) has no built-in Keras 3 equivalent; Keras 3's 'hard_sigmoid' is relu6(x + 3) / 6")
        case .geluTanh:
            throw KerasExportError(.unsupportedActivation, file: file, location: location,
                                   "activation 'gelu_tanh' (GELU's tanh approximation) has no built-in Keras equivalent; Keras's 'gelu' is the exact erf form")
        case .linear, .relu, .sigmoid, .tanh, .softmax, .gelu, .silu, .elu, .selu, .softplus, .softsign, .relu6,
             .hardSigmoid, .exponential, .mish, .hardSilu, .logSigmoid, .hardTanh, .logSoftmax:
            return activation.name
        }
    }

    /// The Keras layer of a parametric activation (format 1.5): `LeakyReLU` for a ReLU with only a slope, `ReLU` with its
    /// settings otherwise, `ELU`, `PReLU` with its alphas (of the sample's shape, 1 on each shared axis).
    func parametricActivation(_ function: ParametricActivation, alphas: Tensor?, input: [Int]) throws(KerasExportError)
        -> KerasExportPlan.PlannedLayer {
        switch function {
        case let .relu(slope, threshold, maxValue):
            // Keras 3 refuses a negative slope, threshold or maximum in both layers.
            guard slope >= 0 else {
                throw KerasExportError(.unsupportedActivation, file: file, location: location,
                                       "a ReLU with negative slope \(slope) has no Keras 3 layer (LeakyReLU and ReLU refuse a negative slope)")
            }
            if threshold == 0 && maxValue == .infinity {
                return planned("LeakyReLU", [("negative_slope", .number(slope))])
            }
            return planned("ReLU", [("max_value", maxValue.isFinite ? .number(maxValue) : .null),
                                    ("negative_slope", .number(slope)), ("threshold", .number(threshold))])
        case .elu(let alpha):
            return planned("ELU", [("alpha", .number(alpha))])
        case .prelu:
            guard let alphas, ParametricActivation.alphasBroadcast(alphas.shape, to: input) else {
                throw invalid("prelu has alphas \(alphas?.shape ?? []) that do not broadcast to its input \(input)")
            }
            try checkCount(alphas, "alphas")
            // Keras's alpha has the sample's rank: leading axes of 1, each broadcast axis shared.
            let shape = [Int](repeating: 1, count: input.count - alphas.shape.count) + alphas.shape
            let shared = input.indices.filter { shape[$0] == 1 && input[$0] != 1 }.map { $0 + 1 }
            return planned("PReLU", [
                ("alpha_initializer", .string("zeros")), ("alpha_regularizer", .null), ("alpha_constraint", .null),
                ("shared_axes", shared.isEmpty ? .null : KerasConfigJSON(shared)),
            ], weights: [.init(variable: "alpha", shape: shape, values: alphas.floats())])
        }
    }
}
