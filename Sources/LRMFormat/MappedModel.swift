/// A model whose tensors stay in a mapped `.lrm` file until a layer is asked for.
///
/// What `lrm convert` works from, so that a large model is never in memory whole: the converter
/// takes one layer at a time (``layer(_:)`` decodes it, checksums checked, out of the mapping) and
/// gives it back (``release(_:)`` drops the mapping's pages of its tensors from resident memory).
/// The description (name, input, class names, metadata) can be changed before the layers are read,
/// as command-line preprocessing does.
public struct MappedModel: Sendable {
    public let file: ContainerFile
    public var name: String
    public var input: InputSpec
    public var classNames: [String]
    public var metadata: [String: MetadataValue]
    public var userMetadata: [String: String]
    /// Whether ``layer(_:)`` checks each tensor against its checksum (the default). A caller that has just
    /// had the file written from the very bytes its checksums were computed from (`lrm`'s Keras reader
    /// child, in a scratch folder of its own) may skip that second pass over the model.
    public var verifiesChecksums = true

    public init(_ file: ContainerFile) {
        self.file = file
        let model = file.header.model
        name = model.name
        input = model.input
        classNames = model.classNames
        metadata = file.header.metadata
        userMetadata = file.header.userMetadata
    }

    public var layerCount: Int { file.header.model.layers.count }

    /// Layer `index` with its tensors described (dtype, shape) but not read.
    public func layerInfo(_ index: Int) -> Layer<TensorInfo> {
        let layer = file.header.model.layers[index]
        return Layer(name: layer.name, operation: layer.operation.map { tensor, _ in file.header.tensors[tensor] })
    }

    /// Layer `index`, its tensors checked against their checksums (unless ``verifiesChecksums`` is false)
    /// and decoded (each once, however often the layer uses it); the mapping's pages of each are released
    /// once it is copied.
    public func layer(_ index: Int) throws -> Layer<Tensor> {
        let layer = file.header.model.layers[index]
        if verifiesChecksums {
            var checked = Set<Int>()
            for (_, tensor) in layer.operation.tensors where checked.insert(tensor).inserted { try file.verifyChecksum(tensor) }
            for (_, q) in layer.quantization {
                for index in [q.scales] + (q.zeroPoints.map { [$0] } ?? []) where checked.insert(index).inserted {
                    try file.verifyChecksum(index)
                }
            }
        }
        var cache: [Int: Tensor] = [:]
        return try file.loadLayer(index, cache: &cache)
    }

    /// Drops the mapping's resident pages of layer `index`'s tensors (read again from the file if
    /// the layer is asked for again).
    public func release(_ index: Int) {
        let layer = file.header.model.layers[index]
        for (_, tensor) in layer.operation.tensors { file.releasePages(ofTensor: tensor) }
        for (_, q) in layer.quantization {
            file.releasePages(ofTensor: q.scales)
            if let zeroPoints = q.zeroPoints { file.releasePages(ofTensor: zeroPoints) }
        }
    }

    /// The header this model would be checked against: the file's, with this description.
    public var header: ContainerHeader {
        var header = file.header
        header.model.name = name
        header.model.input = input
        header.model.classNames = classNames
        header.metadata = metadata
        header.userMetadata = userMetadata
        return header
    }

    /// Checks what ``loadModel(verifyChecksums:)`` checks without keeping the model: every tensor's
    /// checksum (in tensor order, each tensor's pages of the mapping released once read), then every
    /// quantization scale and zero point (`ContainerFile.verifyScales`).
    public func verifyTensors() throws {
        for index in file.header.tensors.indices {
            try file.verifyChecksum(index)
            file.releasePages(ofTensor: index)
        }
        try file.verifyScales()
        for index in file.header.tensors.indices { file.releasePages(ofTensor: index) }
    }

    /// The whole model in memory, with this description.
    public func loadModel(verifyChecksums: Bool = true) throws -> Model {
        var model = try file.loadModel(verifyChecksums: verifyChecksums)
        model.name = name
        model.input = input
        model.classNames = classNames
        model.metadata = metadata
        model.userMetadata = userMetadata
        return model
    }

    /// Every tensor that holds a NaN or an infinity, in layer order (as ``Model/nonFiniteWeights``),
    /// found one layer at a time.
    public func nonFiniteWeights() throws -> [NonFiniteWeights] {
        var found: [NonFiniteWeights] = []
        for index in 0..<layerCount {
            let layer = try layer(index)
            found += Model(name: name, input: input, layers: [layer]).nonFiniteWeights
            release(index)
        }
        return found
    }
}
