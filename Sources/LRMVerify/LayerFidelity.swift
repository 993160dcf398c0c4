public import LRMFormat
import LRMLinearAlgebra

/// How faithfully one layer of a compressed model reproduces the matching layer of the original.
///
/// W is the original kernel, Ŵ the compressed one (U·Σ·Vᵀ for a factorized dense layer; for a factorized
/// convolution the (kh, kw, cin, cout) kernel its two halves make together, see ``convolutionKernel(first:second:form:)``).
/// The relative Frobenius error is e = ‖Ŵ − W‖_F / ‖W‖_F and the measured retained energy is 1 − e²
/// (for a truncated SVD this is Σᵢ≤ₖ σᵢ² / Σ σᵢ², the ARSVD quantity). The Frobenius norm does not depend
/// on how a kernel's elements are arranged, so a convolution's e is also the error of the matrix its
/// factorization record describes, whichever form was used.
public struct LayerFidelity: Sendable {
    public var name: String
    /// The layer's kind in the file (``fileKind(of:)``): "dense", "factorized_dense", "conv2d", "factorized_conv2d",
    /// "depthwise_conv2d", or for weights stored as integer codes "quantized_dense", "quantized_factorized_dense"
    /// (with zero points "quantized_dense_zp", "quantized_factorized_dense_zp"), as `lrm inspect` names it.
    public var kind: String
    /// The Keras class the candidate's layer was imported from when its kind does not name it (a 1-D layer run as its
    /// 2-D kind, metadata `source.keras_classes`), e.g. "Conv1D", as `lrm inspect` shows it; nil otherwise.
    public var kerasClass: String?
    public var rank: Int?
    /// Rows and columns of the kernel as a matrix: in × out for a dense layer; for a factorized convolution
    /// the matrix its form split ((kh·kw·cin) × cout for channel, (cin·kh) × (kw·cout) for spatial); for a
    /// convolution kept whole the channel view (kh·kw·cin) × cout, for a depthwise one (kh·kw) × (cin·m).
    public var inFeatures: Int
    public var outFeatures: Int
    /// A convolution's kernel shape [kh, kw, cin, cout] ([kh, kw, cin, m] depthwise); nil for dense layers.
    public var kernelShape: [Int]?
    /// The form of a factorized convolution; nil otherwise.
    public var form: ConvFactorizationForm?
    /// Bytes of the compressed layer's tensors as stored (weights, biases, quantization scales).
    public var storedBytes: Int = 0
    /// e, measured.
    public var relativeError: Double
    /// 1 − e², measured.
    public var retainedEnergy: Double
    /// What the file's factorization record says, for factorized layers.
    public var recordedRelativeError: Double?
    public var recordedRetainedEnergy: Double?
    /// The metric the recorded energy is in ("plain" unless the method names another).
    public var recordedMetric: String?
    /// Whether the recorded energy is the truncation's the stored factors started from, not theirs: they were
    /// refitted or fine-tuned since (`+refit`, `+finetune`) or rounded to integer codes, so 1 − e² is below it.
    public var recordedEnergyIsTruncations = false
    /// Whether the recorded error is an estimate, not compared (``Factorization/relativeErrorIsEstimate``: factors
    /// re-truncated after being rounded to integer codes, `+rounded(…)+retruncated(…)`).
    public var recordedErrorIsEstimate = false
    /// Whether the measurements agree with the record (nil when there is no record, or it was not checked).
    public var agreesWithRecord: Bool?
    /// Why a record was not checked against the reference (nil when it was, or there is none): the reference's layer
    /// is itself factorized, so its kernel is a truncation, not the original's W that the record describes
    /// (a `.lrm` converted again keeps its records relative to the original model, `spec/FORMAT.md` section 3.1); or the
    /// record is relative to a kernel that the `.lrm` this file was converted from stored whole but changed
    /// (`+from-stored(WHAT)`: integer codes, a 16-bit float, fine-tuned), and the reference's kernel is not that kernel
    /// (its SHA-256 is not the one the file records in `conversion.from_stored_sha256`, or the file records none).
    public var recordNotChecked: String?
    /// For a `+from-stored(f16)` or `(bf16)` record checked against a reference whose kernel, rounded to that dtype, is
    /// the kernel the record started from (its SHA-256 is the one the file records): that dtype. The record was then
    /// checked against the rounded kernel; the measured columns stay against the reference's kernel as it is.
    public var recordCheckedRounded: DType?
    /// For a `+from-stored(i8)` or `(i4)` record checked so (``recordCheckedRounded``): how the reference's kernel was
    /// rounded to the codes whose SHA-256 the file records ("one f16 scale per column, symmetric"); nil otherwise.
    public var recordCheckedRoundingLayout: String?
    /// Whether the reference's layer is itself factorized: the measured error and energy are then against its kernel,
    /// a truncation, not the original model's (the table marks them, JSON `reference_layer_factorized`).
    public var referenceLayerFactorized = false
    /// When they do not: which figure disagreed, for the check's message (e.g. "measured relative error …").
    public var recordDisagreement: String?
    /// The largest |Δ| of the biases (0 when both have none).
    public var biasMaxDifference: Double
    /// What the layer computes differently from the reference's layer besides its weights, or nil: its activation, a
    /// convolution's strides, padding or dilation ("activation relu, the reference's linear; strides 2×2, the
    /// reference's 1×1"). The weights compare alike whatever they are, so such a layer fails the run (a check of its own).
    public var operationMismatch: String?

    /// Whether the layer is stored factorized (dense or convolution).
    public var isFactorized: Bool { kind.hasSuffix("factorized_dense") || kind.hasSuffix("factorized_dense_zp") || kind == "factorized_conv2d" }

    /// The spec's name of `layer`'s record kind as the file stores it: a layer held in memory keeps its codes and
    /// scales in its tensors, not in ``Layer/quantization``, so the quantized kinds are told from those.
    public static func fileKind(of layer: Layer<Tensor>) -> String {
        let coded = layer.operation.tensors.compactMap { $0.tensor.quantization }
        guard !coded.isEmpty else { return layer.kindName }
        let suffix = coded.contains { $0.zeroPoints != nil } ? "_zp" : ""
        switch layer.operation {
        case .dense: return "quantized_dense" + suffix
        case .factorizedDense: return "quantized_factorized_dense" + suffix
        default: return layer.kindName
        }
    }

    /// What a layer says when its record was not checked because the reference's layer is itself factorized.
    public static let compressedReferenceReason = "not checked: the reference is itself compressed (its layer is factorized); "
        + "this file's records are relative to the original model — give the original as --reference to check them"

    /// What a layer says when its record is relative to a changed kernel of the `.lrm` this file was converted from
    /// (`+from-stored(WHAT)`) and the reference's kernel is not that kernel: its SHA-256 is not the one the file records
    /// (nor, when `rounded` is given, that of the reference's kernel rounded to that dtype), or, `recorded` false, the
    /// file records none (written before `conversion.from_stored_sha256` was), so that no reference can be known as it.
    /// For codes, `layout` says which layout was tried and why (``codesLayoutTried(_:rows:)``).
    public static func storedKernelReason(_ what: String, recorded: Bool = true, rounded: DType? = nil, layout: String? = nil) -> String {
        let start = "not checked: this layer was factorized from the kernel the .lrm this file was converted from stored whole (\(what)), "
            + "so its record is relative to that kernel"
        guard recorded else {
            return start + ", and the file does not record that kernel's SHA-256 (conversion.from_stored_sha256; written before lrm recorded it), "
                + "so no reference can be told to be it"
        }
        let tried = rounded.map {
            $0.isFloatingPoint ? ", nor is it once rounded to \($0.name)"
                : ", nor is it once rounded to \($0.name) codes\(layout.map { " (\($0))" } ?? "") as a conversion without data rounds them; codes rounded with calibration "
                + "data, as a conversion with data rounds them, cannot be made again without that data"
        } ?? ""
        return start + ", and the reference's kernel is not it (its SHA-256 is not the one the file records" + tried
            + ") — give that file as --reference to check it"
    }

    /// What a layer says when its `+from-stored(f16)` (or bf16) record was checked against the reference's kernel
    /// rounded to that dtype (``recordCheckedRounded``); for `i8` or `i4` codes, `layout` says how they were rounded.
    public static func roundedReferenceNote(_ dtype: DType, layout: String? = nil) -> String {
        "checked against the reference's kernel rounded to \(dtype.name)"
            + (layout.map { " codes (\($0)) as a conversion without data rounds it" } ?? "") + ", which is the kernel this layer was factorized from "
            + "(its SHA-256 is the one the file records); the measured columns are against the reference's kernel as it is"
    }

    /// Which kernel a `+from-stored(WHAT)` record is checked against.
    enum StoredKernelMatch: Equatable {
        /// The reference's kernel as it is: its SHA-256 is the one the file records.
        case reference
        /// The reference's kernel rounded to a 16-bit float, or to integer codes (how: the layout), these values: that
        /// rounding's SHA-256 is the recorded one.
        case rounded(DType, [Float], layout: String?)
        /// None: the record is not checked, for this reason.
        case none(String)
    }

    /// Whether the reference's kernel `w` (of `shape`) is the kernel a record marked `+from-stored(what)` was factorized
    /// from, told by `recorded`, the SHA-256 the file records for it (``KernelDigest``): `w` itself, or for `f16` and
    /// `bf16` (not fine-tuned) `w` rounded to that dtype as a conversion stores it (the original model's kernel is so), or
    /// for `i8` and `i4` (not fine-tuned) `w` rounded to codes in `layout` as a conversion without data rounds it
    /// (``plainRounding(_:shape:dtype:layout:digest:)``). Without a recorded digest nothing can be told, and the record is
    /// not checked.
    static func storedKernelMatch(_ what: String, recorded: String?, layout: StoredCodesLayout? = nil, reference w: [Float],
                                  shape: [Int]) -> StoredKernelMatch {
        guard let recorded else { return .none(storedKernelReason(what, recorded: false)) }
        if KernelDigest.sha256(w) == recorded { return .reference }
        let dtype: DType? = [DType.float16, .bfloat16, .int8, .int4].first { $0.name == what }
        if let dtype, dtype.isFloatingPoint {
            let rounded = Tensor(shape: shape, floats: w, dtype: dtype).floats()
            if KernelDigest.sha256(rounded) == recorded { return .rounded(dtype, rounded, layout: nil) }
        } else if let dtype, let (rounded, layout) = plainRounding(w, shape: shape, dtype: dtype, layout: layout, digest: recorded) {
            return .rounded(dtype, rounded, layout: layout)
        }
        // Only dense kernels are stored whole as codes: the reason names a rounding tried, for codes in which layout.
        let tried = dtype.flatMap { $0.isFloatingPoint || shape.count == 2 ? $0 : nil }
        return .none(storedKernelReason(what, rounded: tried,
                                        layout: tried.map { !$0.isFloatingPoint && shape[0] > 0 } == true ? codesLayoutTried(layout, rows: shape[0]) : nil))
    }

    /// Which layout of codes verify tried for a dense kernel of `rows` rows, and why: the one the file records (`layout`),
    /// or, the file recording none it can read for the layer, a conversion's defaults; or that the recorded one cannot be
    /// a layout of that kernel (its group size does not divide the rows).
    static func codesLayoutTried(_ layout: StoredCodesLayout?, rows: Int) -> String {
        guard let layout else {
            return StoredCodesLayout(groupSize: rows, scaleDType: .float16, zeroPoints: false).description(rows: rows)
                + ", the defaults: the file records no layout for this layer that lrm reads, in conversion.from_stored_rounding"
        }
        guard layout.groupSize >= 1, rows % min(layout.groupSize, rows) == 0 else {
            return "the layout the file records, \(layout.groupSize) rows per scale, does not divide the kernel's \(rows) rows"
        }
        return layout.description(rows: rows) + ", the layout the file records"
    }

    /// The rounding of a dense kernel `w` (`shape` [in, out]) to `dtype` codes laid out as `layout` (else as a conversion's
    /// defaults lay them out: one f16 scale per column, symmetric), as a conversion without calibration data rounds a kernel
    /// it keeps whole (`--all-kernels`: round to nearest, each group's scale the best of its clipping levels), dequantized,
    /// when its SHA-256 is `digest`, with how it was rounded; nil when it is not. A conversion with data rounds with error
    /// feedback on its calibration inputs, which verify does not have: such codes are not this rounding.
    static func plainRounding(_ w: [Float], shape: [Int], dtype: DType, layout: StoredCodesLayout?,
                              digest: String) -> (values: [Float], layout: String)? {
        guard shape.count == 2, shape[0] > 0, shape[1] > 0, w.count == shape[0] * shape[1],
              dtype.byteCount(elements: w.count) != nil else { return nil }
        let rows = shape[0]
        let layout = layout ?? StoredCodesLayout(groupSize: rows, scaleDType: .float16, zeroPoints: false)
        guard layout.groupSize >= 1, rows % min(layout.groupSize, rows) == 0 else { return nil }
        let codes = QuantizedValues.rounding(w, shape: shape, dtype: dtype, groupSize: min(layout.groupSize, rows),
                                             scaleDType: layout.scaleDType, clipSearch: true, zeroPoints: layout.zeroPoints)
        let values = Tensor(quantized: codes).floats()
        return KernelDigest.sha256(values) == digest ? (values, layout.description(rows: rows)) : nil
    }

    /// What `layer` computes differently from the reference's `reference` besides the weights (``operationMismatch``), or nil.
    /// `causal` says of each whether its valid convolution is causal (``causallyPadded(_:at:_:)``): its padding is then
    /// "causal", which a valid or same one is not.
    static func operationMismatch(_ layer: Weights, reference: Weights, causal: (layer: Bool, reference: Bool) = (false, false)) -> String? {
        var differences: [String] = []
        if layer.activation != reference.activation {
            differences.append("activation \(layer.activation.name), the reference's \(reference.activation.name)")
        }
        if let g = layer.geometry, let r = reference.geometry {
            if g.strideH != r.strideH || g.strideW != r.strideW {
                differences.append("strides \(g.strideH)×\(g.strideW), the reference's \(r.strideH)×\(r.strideW)")
            }
            let padding = causal.layer ? "causal" : g.padding.name, referencePadding = causal.reference ? "causal" : r.padding.name
            if padding != referencePadding { differences.append("padding \(padding), the reference's \(referencePadding)") }
            if g.dilationH != r.dilationH || g.dilationW != r.dilationW {
                differences.append("dilation \(g.dilationH)×\(g.dilationW), the reference's \(r.dilationH)×\(r.dilationW)")
            }
        }
        if let g = layer.transposed, let r = reference.transposed {
            func text(_ t: TransposedGeometry) -> String {
                "strides \(t.strideH)×\(t.strideW), dilation \(t.dilationH)×\(t.dilationW), crop \(t.cropTop), \(t.cropLeft), output \(t.outputH)×\(t.outputW)"
            }
            if g != r { differences.append("\(text(g)), the reference's \(text(r))") }
        }
        return differences.isEmpty ? nil : differences.joined(separator: "; ")
    }

    /// Whether the convolution at `index` of `layers` (its weights `w`) is causal, as a Keras Conv1D of padding "causal"
    /// is: a kernel one step high, valid padding, and right before it a padding of (k − 1)·d steps on the left alone (what
    /// an import puts before such a Conv1D; its name does not matter). Its weights and geometry alone compare alike with
    /// a valid convolution's.
    static func causallyPadded(_ layers: [Layer<Tensor>], at index: Int, _ w: Weights) -> Bool {
        guard index > 0, index < layers.count, let g = w.geometry, g.padding == .valid, w.kernel.shape.count == 4, w.kernel.shape[0] == 1,
              case .pad2D(let m) = layers[index - 1].operation else { return false }
        return m.top == 0 && m.bottom == 0 && m.right == 0 && m.left > 0 && m.left == (w.kernel.shape[1] - 1) * g.dilationW
    }

    /// ‖a − w‖_F / ‖w‖_F and ‖w‖²_F, in double.
    static func relativeError(_ a: [Float], _ w: [Float]) -> (error: Double, energy: Double) {
        var difference = 0.0, norm = 0.0
        for (x, y) in zip(a, w) {
            difference += (Double(x) - Double(y)) * (Double(x) - Double(y))
            norm += Double(y) * Double(y)
        }
        return (norm > 0 ? (difference / norm).squareRoot() : (difference > 0 ? .infinity : 0), norm)
    }

    /// Tolerance for agreement with the record: 1e-4 absolute plus 0.1% of the error.
    static func agrees(_ measured: Double, _ recorded: Double) -> Bool {
        abs(measured - recorded) <= 1e-4 + 1e-3 * abs(recorded)
    }

    /// A weighted layer's kernel in its original arrangement (dense in × out; convolution [kh, kw, cin, cout]),
    /// with its bias, the record of its factorization if it has one, and what kind of weight it is.
    struct Weights {
        var kernel: Tensor
        var bias: Tensor?
        var factorization: Factorization?
        var form: ConvFactorizationForm?
        /// "dense" for dense and factorized dense, "conv2d" for plain and factorized convolutions, "depthwise_conv2d".
        var family: String
        /// Whether the factors are stored as integer codes with scales (a quantized factorized record).
        var storedAsCodes = false
        var activation: Activation
        /// A convolution's strides, padding and dilation; nil for dense layers.
        var geometry: ConvGeometry?
        /// (1.5) A transposed convolution's strides, dilation, crop and output size.
        var transposed: TransposedGeometry?
    }

    /// The weights of `layer`, nil for layers without a kernel.
    static func weights(of layer: Layer<Tensor>) throws -> Weights? {
        switch layer.operation {
        case let .dense(kernel, bias, activation):
            return Weights(kernel: kernel, bias: bias, family: "dense", activation: activation)
        case let .factorizedDense(us, vt, bias, activation, f):
            return Weights(kernel: try product(us, vt, layer: layer.name), bias: bias, factorization: f, family: "dense",
                           storedAsCodes: us.quantization != nil || vt.quantization != nil, activation: activation)
        case let .conv2D(kernel, bias, activation, geometry):
            return Weights(kernel: kernel, bias: bias, family: "conv2d", activation: activation, geometry: geometry)
        case let .factorizedConv2D(first, second, bias, activation, form, geometry, f):
            return Weights(kernel: try convolutionKernel(first: first, second: second, form: form, layer: layer.name), bias: bias,
                           factorization: f, form: form, family: "conv2d", activation: activation, geometry: geometry)
        case let .depthwiseConv2D(kernel, bias, activation, geometry):
            return Weights(kernel: kernel, bias: bias, family: "depthwise_conv2d", activation: activation, geometry: geometry)
        case let .conv2DTranspose(kernel, bias, activation, g):
            return Weights(kernel: kernel, bias: bias, family: "conv2d_transpose", activation: activation, transposed: g)
        default:
            return nil
        }
    }

    /// Compares the weighted layers of `candidate` (dense, convolutions, factorized or not) with the layers
    /// of the same name in `reference`.
    /// - Throws: `VerificationError` when a layer has no counterpart, is of another family (a dense layer
    ///   against a convolution) or the kernel shapes differ.
    /// The same for two mapped models, one layer of each in memory at a time (the reference's layer of the
    /// same name): what `lrm verify` does, so that neither model is ever loaded whole.
    public static func compare(candidate: MappedModel, reference: MappedModel) throws -> [LayerFidelity] {
        var byName: [String: Int] = [:]
        for (index, layer) in reference.file.header.model.layers.enumerated() where byName[layer.name] == nil { byName[layer.name] = index }
        var results: [LayerFidelity] = []
        for index in 0..<candidate.layerCount {
            let layer = try candidate.layer(index)
            defer { candidate.release(index) }
            guard try weights(of: layer) != nil else { continue }
            // Each with the padding layer before it, if any: it tells a causal convolution (``causallyPadded(_:at:_:)``).
            func padding(_ model: MappedModel, before index: Int) throws -> [Layer<Tensor>] {
                guard index > 0, case .pad2D = model.layerInfo(index - 1).operation else { return [] }
                return [try model.layer(index - 1)]
            }
            var original: [Layer<Tensor>] = []
            if let match = byName[layer.name] {
                original = try padding(reference, before: match) + [try reference.layer(match)]
                reference.release(match)
            }
            // The first of an lrm export's pair, so that a mismatch can say the reference looks like one (exportedPairHint).
            if let first = byName[layer.name + exportedFactorSuffix] {
                original.insert(try reference.layer(first), at: 0)
                reference.release(first)
            }
            results += try compare(candidate: Model(name: candidate.name, input: candidate.input, layers: try padding(candidate, before: index) + [layer],
                                                    metadata: candidate.metadata),
                                   reference: Model(name: reference.name, input: reference.input, layers: original,
                                                    metadata: reference.metadata))
        }
        return results
    }

    /// The suffix `lrm export --to keras` gives the first of the two layers it writes for a factorized layer (U·Σ, then
    /// V under the layer's own name): LRMKeras's `KerasExportPlan.factorSuffix`.
    static let exportedFactorSuffix = "_factor_u"

    /// What a layer mismatch adds where the reference has the layer as an lrm export's pair ('c1_factor_u' then 'c1'):
    /// the reference's 'c1' is then only the second factor, so the shapes differ; empty otherwise.
    static func exportedPairHint(_ name: String, reference: Model) -> String {
        let first = name + exportedFactorSuffix
        guard reference.layers.contains(where: { $0.name == first }) else { return "" }
        return " — the reference looks like an lrm export, which writes a factorized layer as two ('\(escaped(first))' "
            + "then '\(escaped(name))'); verify against the original model"
    }

    public static func compare(candidate: Model, reference: Model) throws -> [LayerFidelity] {
        let storedDigests = Factorization.fromStoredDigests(in: candidate.metadata)
        let storedLayouts = Factorization.fromStoredLayouts(in: candidate.metadata)
        let kerasClasses = MetadataKey.sourceKerasClasses(in: candidate.metadata)
        var referenceWeights: [String: (weights: Weights, causal: Bool)] = [:]
        for (index, layer) in reference.layers.enumerated() {
            if let weights = try? weights(of: layer) { referenceWeights[layer.name] = (weights, causallyPadded(reference.layers, at: index, weights)) }
        }
        var results: [LayerFidelity] = []
        for (index, layer) in candidate.layers.enumerated() {
            guard let compressed = try weights(of: layer) else { continue }
            let kernel = compressed.kernel
            guard let (original, referenceCausal) = referenceWeights[layer.name] else {
                throw VerificationError(.layerMismatch, "layer '\(escaped(layer.name))' has no layer of that name in the reference model")
            }
            guard original.family == compressed.family else {
                throw VerificationError(.layerMismatch, "layer '\(escaped(layer.name))' is a \(compressed.family) layer but the reference's is a \(original.family) layer"
                                        + exportedPairHint(layer.name, reference: reference))
            }
            guard original.kernel.shape == kernel.shape else {
                throw VerificationError(.layerMismatch, "layer '\(escaped(layer.name))' is \(kernel.shape) but the reference's is \(original.kernel.shape)"
                                        + exportedPairHint(layer.name, reference: reference))
            }
            let w = original.kernel.floats(), approximation = kernel.floats()
            let (error, norm) = relativeError(approximation, w)
            let candidateBias = compressed.bias?.floats() ?? [], referenceBias = original.bias?.floats() ?? []
            var biasDifference = 0.0
            if candidateBias.count == referenceBias.count {
                for (a, b) in zip(candidateBias, referenceBias) { biasDifference = max(biasDifference, abs(Double(a) - Double(b))) }
            } else {
                biasDifference = .infinity
            }
            let (rows, columns) = matrixShape(kernel.shape, family: compressed.family, factorization: compressed.factorization)
            var fidelity = LayerFidelity(name: layer.name, kind: Self.fileKind(of: layer), rank: compressed.factorization?.rank,
                                         inFeatures: rows, outFeatures: columns,
                                         kernelShape: compressed.family == "dense" ? nil : kernel.shape, form: compressed.form,
                                         relativeError: error, retainedEnergy: max(0, 1 - error * error), biasMaxDifference: biasDifference)
            fidelity.kerasClass = kerasClasses[layer.name]
            fidelity.storedBytes = layer.operation.tensors.reduce(0) { $0 + $1.tensor.storedByteCount }
            fidelity.referenceLayerFactorized = original.factorization != nil
            fidelity.operationMismatch = operationMismatch(compressed, reference: original,
                                                           causal: (causallyPadded(candidate.layers, at: index, compressed), referenceCausal))
            if let f = compressed.factorization {
                let metric = f.method.hasPrefix("whitened") ? "whitened" : f.method.hasPrefix("activation-scaled") ? "activation-scaled" : "plain"
                fidelity.recordedRelativeError = f.relativeError
                fidelity.recordedRetainedEnergy = f.retainedEnergy
                fidelity.recordedMetric = metric
                fidelity.recordedEnergyIsTruncations = f.movedAfterTruncation || compressed.storedAsCodes || f.roundedBefore
                fidelity.recordedErrorIsEstimate = f.relativeErrorIsEstimate
                if original.factorization != nil {
                    // The reference is itself compressed here: its kernel is the product of its factors, not the W this
                    // record's error, energy and singular values are relative to (the original model's: a file converted
                    // again keeps them so). Measured against it they would disagree by construction, a false failure;
                    // they are shown, marked not checked. A reference layer stored whole is checked as before: it is the
                    // kernel a conversion from the reference truncated, or the original's.
                    fidelity.recordNotChecked = Self.compressedReferenceReason
                } else {
                    // A record relative to the kernel the .lrm this file was converted from stored whole (rounded to codes, a 16-bit
                    // float, or fine-tuned) is checked only against that kernel, known by the SHA-256 the file records for it: the
                    // reference's own, or for a 16-bit float the reference's rounded to it (the original model's is so). Any other
                    // kernel, be it stored alike, is not the W it describes (measured against it, it would fail, or pass, by chance).
                    var w = w, (recordError, recordNorm) = (error, norm)
                    if let stored = f.fromStoredKernel {
                        switch storedKernelMatch(stored, recorded: storedDigests[layer.name], layout: storedLayouts[layer.name], reference: w,
                                                 shape: original.kernel.shape) {
                        case .reference: break
                        case let .rounded(dtype, rounded, layout):
                            w = rounded
                            (recordError, recordNorm) = relativeError(approximation, rounded)
                            fidelity.recordCheckedRounded = dtype
                            fidelity.recordCheckedRoundingLayout = layout
                        case let .none(reason):
                            fidelity.recordNotChecked = reason
                        }
                    }
                    if fidelity.recordNotChecked == nil {
                        fidelity.recordDisagreement = try recordDisagreement(f, metric: metric, error: recordError, kernelEnergy: recordNorm,
                                                                             storedAsCodes: compressed.storedAsCodes || f.roundedBefore) {
                            try referenceSingularValues(try recordMatrix(w, shape: original.kernel.shape, form: compressed.form,
                                                                         rows: f.inFeatures, columns: f.outFeatures, layer: layer.name))
                        }
                        fidelity.agreesWithRecord = fidelity.recordDisagreement == nil
                    }
                }
            }
            results.append(fidelity)
        }
        return results
    }

    /// What in the record `f` the measurement disagrees with (nil: nothing), `error` being the measured
    /// ‖W − Ŵ‖/‖W‖, `kernelEnergy` ‖W‖²_F of the reference's kernel and `referenceSpectrum` the singular values of
    /// the reference's kernel as the matrix the record describes (asked for only when they are compared).
    ///
    /// The recorded error is always plain and as the factors are stored (dequantized, refitted, fine-tuned), so it
    /// must match. The recorded energy and singular values are the truncation's, of the spectrum the policy used
    /// (`spec/FORMAT.md` section 3.4), so in the plain metric:
    /// - float factors of the truncation itself (not moved by a refit or fine-tuning since): 1 − e² must match the
    ///   recorded energy (float16 rounding stays within the tolerance);
    /// - factors moved after the truncation (`+refit`, `+finetune`) or rounded to integer codes (`i8`/`i4`): they are
    ///   no longer the truncation, by an amount the file does not bound, so 1 − e² is compared one way only: the
    ///   stored factors are still of rank k, and no rank-k matrix is closer to W than its truncation (Eckart–Young),
    ///   so 1 − e² may not exceed the recorded energy. The record's spectrum still describes W: the recorded energy
    ///   must be what its own first k singular values keep of the reference's kernel, Σᵢ≤ₖ σᵢ² / ‖W‖², and the
    ///   recorded singular values must be the reference kernel's (each within 1e-4·σ₁ + 0.1%; a `randomized`
    ///   sketch's are only known not to exceed them, so they are compared one way).
    ///
    /// A data-aware metric's energy and singular values are of W in that metric (calibration data the file does not
    /// hold), and a refitted or fine-tuned layer re-stored in another storage since (`+restored`) records its stored
    /// product's own singular values: for those only what can be measured is compared (the error, and the
    /// Eckart–Young bound of the re-stored one).
    static func recordDisagreement(_ f: Factorization, metric: String, error: Double, kernelEnergy: Double,
                                   storedAsCodes: Bool, referenceSpectrum: () throws -> [Double]) throws -> String? {
        // A re-truncation of integer codes estimates its error (``Factorization/relativeErrorIsEstimate``): not compared,
        // the bound below (1 − e² at most the truncation's energy) and the spectrum still are.
        guard agrees(error, f.relativeError) || f.relativeErrorIsEstimate else {
            return String(format: "measured relative error %.6f, the file records %.6f", error, f.relativeError)
        }
        guard metric == "plain" else { return nil }
        let energy = max(0, 1 - error * error)
        let moved = f.movedAfterTruncation
        guard storedAsCodes || moved else {
            if agrees(energy, f.retainedEnergy) { return nil }
            return String(format: "measured retained energy %.6f (1 − e², plain truncation), the file records %.6f", energy, f.retainedEnergy)
        }
        if energy > f.retainedEnergy + 1e-4 + 1e-3 * f.retainedEnergy {
            return String(format: "measured retained energy %.6f (1 − e² of the stored factors) is more than the truncation's %.6f the file records, which no rank-%d matrix can exceed",
                          energy, f.retainedEnergy, f.rank)
        }
        // A refitted or fine-tuned record re-stored since holds its stored product's singular values, not W's.
        guard !(moved && f.method.contains("+restored")) else { return nil }
        let kept = f.singularValues.prefix(f.rank).reduce(0.0) { $0 + $1 * $1 }
        let spectrumEnergy = kernelEnergy > 0 ? min(1, kept / kernelEnergy) : 1
        if !agrees(spectrumEnergy, f.retainedEnergy) {
            return String(format: "the file records retained energy %.6f, its first %d singular values keep %.6f of the reference's kernel",
                          f.retainedEnergy, f.rank, spectrumEnergy)
        }
        let reference = try referenceSpectrum()
        let largest = reference.first ?? 0
        let sketched = f.method.hasPrefix("randomized")
        for (index, recorded) in f.singularValues.enumerated() {
            let actual = index < reference.count ? reference[index] : 0
            let tolerance = 1e-4 * largest + 1e-3 * actual
            if recorded > actual + tolerance || (!sketched && recorded < actual - tolerance) {
                return String(format: "the file records singular value σ%d = %.6g, the reference's kernel has %.6g%@", index + 1, recorded, actual,
                              sketched ? " (a randomized sketch's may be lower, not higher)" : "")
            }
        }
        return nil
    }

    /// The singular values of the reference's kernel as the record's matrix, for comparing with a record's: the
    /// eigenvalues of its Gram matrix (AᵀA or A·Aᵀ, r × r with r = min(rows, columns)) formed and reduced in double
    /// precision (``GramDecomposition``). A σⱼ comes out within about 1e-16·σ₁²/σⱼ, and no worse than 1e-8·σ₁ where σⱼ
    /// is near 0: far inside the comparison's tolerance (1e-4·σ₁ + 0.1%). Against `dgesdd` without vectors on a double
    /// copy of the whole kernel it does about half the arithmetic, in a level-3 product, and holds r² doubles instead of
    /// the copy (CIFAR-10's 3072×512 layer: 2 MiB instead of 12 MiB).
    static func referenceSingularValues(_ matrix: Matrix) throws -> [Double] {
        try GramDecomposition(matrix).singularValues()
    }

    /// The reference's kernel `w` (of `shape`, row-major) as the `rows` × `columns` matrix a factorization record
    /// describes: a dense kernel as it is; a convolution's [kh, kw, cin, cout] as `form` splits it, (kh·kw·cin) × cout
    /// for the channel form, (cin·kh) × (kw·cout) for the spatial one (`spec/FORMAT.md` section 3.5).
    static func recordMatrix(_ w: [Float], shape: [Int], form: ConvFactorizationForm?, rows: Int, columns: Int, layer: String) throws -> Matrix {
        var values = w
        if form == .spatial, shape.count == 4 {
            let (kh, kw, cin, cout) = (shape[0], shape[1], shape[2], shape[3])
            for i in 0..<kh { for j in 0..<kw { for ci in 0..<cin { for o in 0..<cout {
                values[(ci * kh + i) * (kw * cout) + j * cout + o] = w[((i * kw + j) * cin + ci) * cout + o]
            } } } }
        }
        guard rows * columns == values.count else {
            throw VerificationError(.layerMismatch, "layer '\(escaped(layer))': its record describes a \(rows)×\(columns) matrix, the reference's kernel \(shape) has \(values.count) values")
        }
        return try Matrix(rows: rows, columns: columns, values: values)
    }

    /// The kernel as a matrix (see ``inFeatures``): the factorization record's shape when there is one.
    static func matrixShape(_ shape: [Int], family: String, factorization: Factorization?) -> (Int, Int) {
        if let f = factorization { return (f.inFeatures, f.outFeatures) }
        guard family != "dense", shape.count == 4 else { return (shape.first ?? 0, shape.last ?? 0) }
        // The shape is a tensor's in memory, so its products are element counts and cannot overflow.
        return family == "depthwise_conv2d" ? (shape[0] * shape[1], shape[2] * shape[3]) : (shape[0] * shape[1] * shape[2], shape[3])
    }

    /// us · vt as a dense in × out tensor.
    static func product(_ us: Tensor, _ vt: Tensor, layer: String) throws -> Tensor {
        guard us.shape.count == 2, vt.shape.count == 2, us.shape[1] == vt.shape[0] else {
            throw VerificationError(.layerMismatch, "layer '\(escaped(layer))': factors \(us.shape) and \(vt.shape) do not multiply")
        }
        let a = try Matrix(rows: us.shape[0], columns: us.shape[1], values: us.floats())
        let b = try Matrix(rows: vt.shape[0], columns: vt.shape[1], values: vt.floats())
        return Tensor(shape: [us.shape[0], vt.shape[1]], floats: try Matrix.product(a, b).values)
    }

    /// The (kh, kw, cin, cout) kernel that a factorized convolution's two halves apply together, row-major:
    /// - channel: `first` [kh, kw, cin, k] is a (kh·kw·cin) × k matrix and `second` [1, 1, k, cout] a k × cout one;
    ///   their product is the kernel in its own element order.
    /// - spatial: K[i, j, ci, o] = Σᵣ first[i, 0, ci, r] · second[0, j, r, o] (`spec/FORMAT.md`, section 3.5).
    /// - Throws: `VerificationError` when the halves' shapes do not fit together.
    public static func convolutionKernel(first: Tensor, second: Tensor, form: ConvFactorizationForm, layer: String = "") throws -> Tensor {
        let a = first.shape, b = second.shape
        guard a.count == 4, b.count == 4, a[3] == b[2] else {
            throw VerificationError(.layerMismatch, "layer '\(escaped(layer))': convolution halves \(a) and \(b) do not fit together")
        }
        let rank = a[3], outChannels = b[3]
        switch form {
        case .channel:
            guard b[0] == 1, b[1] == 1 else {
                throw VerificationError(.layerMismatch, "layer '\(escaped(layer))': the channel form's second half is \(b), expected [1, 1, \(rank), \(outChannels)]")
            }
            let rows = a[0] * a[1] * a[2]
            let product = try Matrix.product(try Matrix(rows: rows, columns: rank, values: first.floats()),
                                             try Matrix(rows: rank, columns: outChannels, values: second.floats()))
            return Tensor(shape: [a[0], a[1], a[2], outChannels], floats: product.values)
        case .spatial:
            guard a[1] == 1, b[0] == 1 else {
                throw VerificationError(.layerMismatch, "layer '\(escaped(layer))': the spatial form's halves are \(a) and \(b), expected [kh, 1, cin, k] and [1, kw, k, cout]")
            }
            let (kh, kw, inChannels) = (a[0], b[1], a[2])
            // first is already the (kh·cin) × k matrix A[i·cin + ci, r]; B[r, j·cout + o] = second[0, j, r, o].
            let values = second.floats()
            var reordered = [Float](repeating: 0, count: values.count)
            for j in 0..<kw { for r in 0..<rank { for o in 0..<outChannels {
                reordered[r * kw * outChannels + j * outChannels + o] = values[(j * rank + r) * outChannels + o]
            } } }
            let product = try Matrix.product(try Matrix(rows: kh * inChannels, columns: rank, values: first.floats()),
                                             try Matrix(rows: rank, columns: kw * outChannels, values: reordered)).values
            var kernel = [Float](repeating: 0, count: product.count)
            for i in 0..<kh { for ci in 0..<inChannels { for j in 0..<kw { for o in 0..<outChannels {
                kernel[((i * kw + j) * inChannels + ci) * outChannels + o] = product[(i * inChannels + ci) * kw * outChannels + j * outChannels + o]
            } } } }
            return Tensor(shape: [kh, kw, inChannels, outChannels], floats: kernel)
        }
    }
}
