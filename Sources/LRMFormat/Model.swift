/// A whole model in memory: what a `.lrm` file holds, with tensors inline.
///
/// The writer turns it into a header and a data section; the reader's `loadModel()` gives it back.
public struct Model: Sendable, Equatable {
    public var name: String
    public var input: InputSpec
    /// Empty, or one name per output unit.
    public var classNames: [String]
    public var layers: [Layer<Tensor>]
    /// Typed metadata; see `MetadataKey` for the standard keys.
    public var metadata: [String: MetadataValue]
    /// Free-form user metadata.
    public var userMetadata: [String: String]

    public init(name: String, input: InputSpec, classNames: [String] = [], layers: [Layer<Tensor>],
                metadata: [String: MetadataValue] = [:], userMetadata: [String: String] = [:]) {
        self.name = name
        self.input = input
        self.classNames = classNames
        self.layers = layers
        self.metadata = metadata
        self.userMetadata = userMetadata
    }

    /// The shape of one output sample, by the same rules as the header's (``ContainerHeader/outputShape()``): the
    /// last layer's, the input's for a model without layers. Found from the shapes alone (no weight is read or
    /// converted). Throws `ContainerError` `.badModel` where the layers do not chain.
    public func outputShape() throws -> [Int] {
        try layerOutputShapes().last ?? input.shape
    }

    /// The sample shape after each layer, in layer order, following the slots of a model with `store`, `load` and
    /// `merge` layers (format 1.4). Throws `ContainerError` `.badModel` where the layers do not chain.
    public func layerOutputShapes() throws -> [[Int]] {
        var slots = SlotShapes()
        var shape = input.shape
        return try layers.map { layer in
            shape = try layer.outputShape(input: shape, slots: &slots)
            return shape
        }
    }

    /// The tensor table and model description this model is written as, before offsets and
    /// checksums are known. Tensors are named `<layer>/<role>` in layer order.
    public func plan(alignment: Int = Container.defaultAlignment) throws -> (tensors: [Tensor], header: ContainerHeader) {
        var tensors: [Tensor] = []
        var infos: [TensorInfo] = []
        var described: [Layer<Int>] = []
        for layer in layers {
            var quantization: [String: WeightQuantization] = [:]
            let operation = layer.operation.map { tensor, role -> Int in
                tensors.append(tensor)
                infos.append(TensorInfo(name: "\(layer.name)/\(role)", dtype: tensor.dtype, shape: tensor.shape,
                                        byteCount: tensor.byteCount))
                let index = infos.count - 1
                if let q = tensor.quantization {
                    // A quantized weight is written as its codes followed by its scales (format 1.2).
                    tensors.append(q.scales)
                    infos.append(TensorInfo(name: "\(layer.name)/\(role)_scales", dtype: q.scales.dtype, shape: q.scales.shape,
                                            byteCount: q.scales.byteCount))
                    var weight = WeightQuantization(scales: infos.count - 1, groupSize: q.groupSize)
                    if let zeroPoints = q.zeroPoints {
                        // With zero points (format 1.3), they follow the scales.
                        tensors.append(zeroPoints)
                        infos.append(TensorInfo(name: "\(layer.name)/\(role)_zero_points", dtype: zeroPoints.dtype,
                                                shape: zeroPoints.shape, byteCount: zeroPoints.byteCount))
                        weight.zeroPoints = infos.count - 1
                    }
                    quantization[role] = weight
                }
                return index
            }
            described.append(Layer(name: layer.name, operation: operation, quantization: quantization))
        }
        var offset = 0
        for index in infos.indices {
            infos[index].byteOffset = offset
            guard let next = alignUp(offset + infos[index].byteCount, to: alignment) else {
                throw ContainerError(.limitExceeded, "tensor data larger than the address space")
            }
            offset = next
        }
        let description = ModelDescription(name: name, input: input, classNames: classNames, layers: described)
        let header = ContainerHeader(alignment: alignment, metadata: metadata, userMetadata: userMetadata,
                                     tensors: infos, model: description)
        try header.validate()
        return (tensors, header)
    }
}
