public import LRMFormat

/// The operation check of the layers without weights (activations, pooling, padding, cropping, merges, …): the weighted
/// layers' activation and geometry are compared with their weights (``LayerFidelity/operationMismatch``), but a `.lrm`
/// whose separate activation layer or pooling is not the reference's compared alike everywhere and passed.
extension LayerFidelity {
    /// What a layer without weights computes, in words that differ exactly where two such layers compute differently:
    /// nil for weighted layers (compared with their weights), slots (which depend on the layer order), and a
    /// scale-shift (its values are weights).
    /// `shape` gives a tensor's shape: a PReLU's alphas' shape says which axes share an alpha (their values are weights,
    /// which fine-tuning trains).
    static func operationText<T>(_ operation: LayerOperation<T>, shape: (T) -> [Int]? = { _ in nil }) -> String? {
        switch operation {
        case .activation(let activation): "activation \(activation.name)"
        case let .parametricActivation(function, alphas):
            "activation \(function.summary)" + (alphas.flatMap(shape).map { " (alphas \($0.map(String.init).joined(separator: "×")))" } ?? "")
        case .flatten: "flatten"
        case .reshape(let shape): "reshape to \(shape.map(String.init).joined(separator: "×"))"
        case .permute(let axes): "permute axes \(axes.map(String.init).joined(separator: ", "))"
        case .pool2D(let p):
            "\(p.mode.name) pooling \(p.poolH)×\(p.poolW), strides \(p.strideH)×\(p.strideW), padding \(p.padding.name)"
        case .globalPool2D(let mode): "global \(mode.name) pooling"
        case .pad2D(let m): "zero padding top \(m.top), bottom \(m.bottom), left \(m.left), right \(m.right)"
        case .crop2D(let m): "cropping top \(m.top), bottom \(m.bottom), left \(m.left), right \(m.right)"
        case let .merge(mode, _, activation): "\(mode.name) merge" + (activation == .linear ? "" : ", then \(activation.name)")
        case .upsample2D(let u): "upsampling \(u.factorH)×\(u.factorW), \(u.interpolation.name)"
        // (1.5) Its epsilon and which of gamma and beta it has (their values, like a scale-shift's, are not compared).
        case let .layerNorm(gamma, beta, epsilon):
            "layer normalization, epsilon \(epsilon)" + (gamma == nil ? ", no gamma" : "") + (beta == nil ? ", no beta" : "")
        case .dense, .factorizedDense, .conv2D, .factorizedConv2D, .depthwiseConv2D, .conv2DTranspose, .scaleShift, .store, .load: nil
        // A kind added later is not compared until it is listed here.
        @unknown default: nil
        }
    }

    /// A failed check (`operation LAYER`) for each layer without weights of `candidate` whose layer of the same name in
    /// `reference` (the first of that name), of the same kind, computes otherwise (``operationText(_:)``). A layer the
    /// reference does not have, or has as another kind, is not compared: the models' structures differ there, and the
    /// weighted layers' comparison or the data tell. `kerasClasses` (the candidate's `source.keras_classes`) name a layer's
    /// Keras class, as the weighted layers' checks do.
    static func operationChecks<T, U>(candidate: [Layer<T>], reference: [Layer<U>], kerasClasses: [String: String],
                                      candidateShape: (T) -> [Int]?, referenceShape: (U) -> [Int]?) -> [VerificationCheck] {
        var byName: [String: LayerOperation<U>] = [:]
        for layer in reference where byName[layer.name] == nil { byName[layer.name] = layer.operation }
        var checks: [VerificationCheck] = []
        for layer in candidate {
            guard let text = operationText(layer.operation, shape: candidateShape), let other = byName[layer.name],
                  other.kindCode == layer.operation.kindCode, let referenceText = operationText(other, shape: referenceShape),
                  referenceText != text else { continue }
            let label = "layer '\(escaped(layer.name))'" + (kerasClasses[layer.name].map { " [\(escaped($0))]" } ?? "")
            let mismatch = "\(text), the reference's \(referenceText)"
            checks.append(VerificationCheck(name: "operation \(layer.name)", passed: false,
                                            detail: "\(label) does not compute what the reference's does: \(mismatch)",
                                            operationLayer: OperationMismatch(name: layer.name, kind: layer.kindName,
                                                                              kerasClass: kerasClasses[layer.name], mismatch: mismatch)))
        }
        return checks
    }

    /// ``operationChecks(candidate:reference:kerasClasses:)`` of two mapped models, from their headers (no tensor is read);
    /// none without a reference.
    public static func operationChecks(candidate: MappedModel, reference: MappedModel?) -> [VerificationCheck] {
        guard let reference else { return [] }
        let (tensors, referenceTensors) = (candidate.file.header.tensors, reference.file.header.tensors)
        return operationChecks(candidate: candidate.file.header.model.layers, reference: reference.file.header.model.layers,
                               kerasClasses: MetadataKey.sourceKerasClasses(in: candidate.metadata),
                               candidateShape: { tensors.indices.contains($0) ? tensors[$0].shape : nil },
                               referenceShape: { referenceTensors.indices.contains($0) ? referenceTensors[$0].shape : nil })
    }

    /// The same for two models in memory.
    public static func operationChecks(candidate: Model, reference: Model?) -> [VerificationCheck] {
        guard let reference else { return [] }
        return operationChecks(candidate: candidate.layers, reference: reference.layers, kerasClasses: MetadataKey.sourceKerasClasses(in: candidate.metadata),
                               candidateShape: { $0.shape }, referenceShape: { $0.shape })
    }
}
