/// Parameter counts per layer and for the whole model, from the header alone.
///
/// **Compression ratio** (used everywhere in lrm): the parameters of the original model divided by
/// the parameters stored, counting every weight and bias of every layer. A factorized layer counts
/// in·out + bias before and k·(in + out) + bias after; every other layer counts the same before and
/// after. A ratio of 4 means a quarter of the parameters. Bytes on disk are reported separately.
public struct ModelSummary: Sendable {
    public struct LayerRow: Sendable {
        public var name: String
        public var kind: String
        public var activation: Activation?
        /// (1.5) The function of a `parametric_activation` layer; nil for other layers.
        public var parametricActivation: ParametricActivation?
        /// (1.5) What an `upsample2d` layer does, and a `conv2d_transpose` layer's geometry; nil for other layers.
        public var upsampling: Upsampling?
        public var transposedGeometry: TransposedGeometry?
        /// (1.5) A `layer_norm`'s epsilon: what it computes besides its gamma and beta.
        public var epsilon: Double?
        /// Input and output width of dense and factorized layers.
        public var inFeatures: Int?
        public var outFeatures: Int?
        public var factorization: Factorization?
        /// A convolution's kernel shape [kh, kw, cin, cout] ([kh, kw, cin, m] depthwise; for a factorized one the
        /// kernel its two halves stand for); nil for other layers.
        public var kernelShape: [Int]?
        /// The form of a factorized convolution.
        public var convolutionForm: ConvFactorizationForm?
        /// (1.4) What a `store`, `load` or `merge` does with the model's slots, e.g. "→ slot 2", "← slot 2",
        /// "add slots 1, 2"; nil for other layers.
        public var slots: String?
        /// The Keras class the layer was imported from when its kind does not name it (a 1-D layer run as its 2-D kind,
        /// metadata `source.keras_classes`), e.g. "Conv1D"; nil otherwise.
        public var kerasClass: String?
        public var parametersBefore: Int
        public var parametersAfter: Int
        /// The sample shape this layer produces (empty when the header's shapes do not chain).
        public var outputShape: [Int] = []
        /// Multiply-accumulates per sample of the original layer and of the stored one.
        public var macsBefore: Int = 0
        public var macsAfter: Int = 0
        /// Bytes of the layer's tensors as stored (codes, scales and biases; without alignment padding).
        public var storedBytes = 0
        public var compressionRatio: Double {
            parametersAfter == 0 ? 1 : Double(parametersBefore) / Double(parametersAfter)
        }
        /// Whether the recorded energy is the truncation's the stored factors started from, not theirs: they were refitted
        /// or fine-tuned since (`+refit`, `+finetune`) or rounded to integer codes (a quantized factorized kind, or
        /// `+rounded(…)` before a re-storing in float), so their own 1 − e² is below it. `lrm verify --reference`'s
        /// Weights table marks the same records "(truncation's)".
        public var energyIsTruncations: Bool {
            guard let f = factorization else { return false }
            return f.movedAfterTruncation || f.roundedBefore || kind.hasPrefix("quantized_factorized")
        }
        /// Stored bits per stored parameter (scales of quantized weights included), nil without parameters.
        public var bitsPerParameter: Double? {
            parametersAfter == 0 ? nil : Double(storedBytes * 8) / Double(parametersAfter)
        }
    }

    public var layers: [LayerRow]
    public var parametersBefore: Int { layers.reduce(0) { $0 + $1.parametersBefore } }
    /// The parameters stored: every tensor counted once, however many layers use it (the spec lets
    /// layers share a tensor); for a file without shared tensors, the sum of the layers' counts.
    public var parametersAfter: Int { storedParameterCount }
    private var storedParameterCount = 0
    public var macsBefore: Int { layers.reduce(0) { $0 + $1.macsBefore } }
    public var macsAfter: Int { layers.reduce(0) { $0 + $1.macsAfter } }
    /// The model's input shape, and every layer's output shape is in its row.
    public var inputShape: [Int]
    public var storedBytes: Int { layers.reduce(0) { $0 + $1.storedBytes } }
    /// Stored bits per stored parameter over the whole model (tensor bytes only: no header or padding).
    public var bitsPerParameter: Double? {
        parametersAfter == 0 ? nil : Double(storedBytes * 8) / Double(parametersAfter)
    }
    public var compressionRatio: Double {
        parametersAfter == 0 ? 1 : Double(parametersBefore) / Double(parametersAfter)
    }

    public init(header: ContainerHeader) {
        let tensors = header.tensors
        func count(_ index: Int?) -> Int { index.map { tensors[$0].elementCount ?? 0 } ?? 0 }
        let modelInput = header.model.input.shape
        inputShape = modelInput
        let outputShapes = (try? header.layerOutputShapes()) ?? []
        let kerasClasses = MetadataKey.sourceKerasClasses(in: header.metadata)
        var used = Set<Int>()
        for layer in header.model.layers {
            for (_, tensor) in layer.operation.tensors where used.insert(tensor).inserted {
                let (sum, overflow) = storedParameterCount.addingReportingOverflow(count(tensor))
                storedParameterCount = overflow ? Int.max : sum
            }
        }
        layers = header.model.layers.enumerated().map { index, layer in
            var row = LayerRow(name: layer.name, kind: layer.kindName, parametersBefore: 0, parametersAfter: 0)
            row.storedBytes = layer.references.reduce(0) { $0 + tensors[$1.tensor].byteCount }
            row.kerasClass = kerasClasses[layer.name]
            switch layer.operation {
            case let .dense(kernel, bias, activation):
                row.activation = activation
                row.inFeatures = tensors[kernel].shape.first
                row.outFeatures = tensors[kernel].shape.last
                row.parametersBefore = count(kernel) + count(bias)
                row.parametersAfter = row.parametersBefore
            case let .factorizedDense(us, vt, bias, activation, f):
                row.activation = activation
                row.inFeatures = f.inFeatures
                row.outFeatures = f.outFeatures
                row.factorization = f
                row.parametersBefore = f.denseParameterCount + count(bias)
                row.parametersAfter = count(us) + count(vt) + count(bias)
            case .activation(let activation):
                row.activation = activation
            case let .scaleShift(scale, shift):
                row.parametersBefore = count(scale) + count(shift)
                row.parametersAfter = row.parametersBefore
            case let .layerNorm(gamma, beta, epsilon):
                row.epsilon = epsilon
                row.parametersBefore = count(gamma) + count(beta)
                row.parametersAfter = row.parametersBefore
            case .flatten, .reshape, .pool2D, .globalPool2D, .pad2D, .crop2D, .permute:
                break
            case .upsample2D(let u):
                row.upsampling = u
            case let .parametricActivation(function, alphas):
                row.parametricActivation = function
                row.parametersBefore = count(alphas)
                row.parametersAfter = row.parametersBefore
            case .store(let slot):
                row.slots = "→ slot \(slot)"
            case .load(let slot):
                row.slots = "← slot \(slot)"
            case let .merge(mode, slots, activation):
                row.activation = activation
                row.slots = "\(mode.name) slot\(slots.count == 1 ? "" : "s") " + slots.map(String.init).joined(separator: ", ")
            case let .conv2D(kernel, bias, activation, _), let .depthwiseConv2D(kernel, bias, activation, _),
                 let .conv2DTranspose(kernel, bias, activation, _):
                if case .conv2DTranspose(_, _, _, let g) = layer.operation { row.transposedGeometry = g }
                row.activation = activation
                row.kernelShape = tensors[kernel].shape
                row.parametersBefore = count(kernel) + count(bias)
                row.parametersAfter = row.parametersBefore
            case let .factorizedConv2D(first, second, bias, activation, form, _, f):
                row.activation = activation
                row.convolutionForm = form
                let (a, b) = (tensors[first].shape, tensors[second].shape)
                if a.count == 4, b.count == 4 { row.kernelShape = [a[0], form == .channel ? a[1] : b[1], a[2], b[3]] }
                row.inFeatures = f.inFeatures
                row.outFeatures = f.outFeatures
                row.factorization = f
                row.parametersBefore = f.denseParameterCount + count(bias)
                row.parametersAfter = count(first) + count(second) + count(bias)
            }
            if index < outputShapes.count {
                row.outputShape = outputShapes[index]
                let input = index == 0 ? modelInput : outputShapes[index - 1]
                (row.macsBefore, row.macsAfter) = Self.macs(layer.operation, input: input, output: outputShapes[index], tensors: tensors)
            }
            return row
        }
    }

    /// Multiply-accumulates per sample (original, stored) of one layer; shapes are the header's, so
    /// the products fit (every sample has fewer than 2³¹ elements and kernels are in the file).
    static func macs(_ operation: LayerOperation<Int>, input: [Int], output: [Int], tensors: [TensorInfo]) -> (Int, Int) {
        /// Products saturate at Int.max instead of trapping: the figures are reports, not sizes.
        let mul = Saturating.product
        func size(_ index: Int) -> Int { tensors[index].elementCount ?? Int.max }
        let positions = output.dropLast().reduce(1) { mul($0, $1) }
        switch operation {
        case .dense(let kernel, _, _), .conv2D(let kernel, _, _, _), .depthwiseConv2D(let kernel, _, _, _):
            return (mul(positions, size(kernel)), mul(positions, size(kernel)))
        case let .factorizedDense(_, _, _, _, f):
            return (mul(positions, f.inFeatures, f.outFeatures), mul(positions, f.rank, f.inFeatures + f.outFeatures))
        case .conv2DTranspose(let kernel, _, _, _):
            // (1.5) Every input position multiplies the whole kernel.
            let inputPositions = input.dropLast().reduce(1) { mul($0, $1) }
            return (mul(inputPositions, size(kernel)), mul(inputPositions, size(kernel)))
        case let .factorizedConv2D(first, second, _, _, form, _, f):
            return (mul(positions, f.inFeatures, f.outFeatures),
                    ConvolutionCost.factorizedMultiplyAccumulates(form: form, firstSize: size(first), secondSize: size(second),
                                                                  input: input, output: output))
        default:
            return (0, 0)
        }
    }
}
