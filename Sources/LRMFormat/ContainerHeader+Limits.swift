extension ContainerHeader {
    /// Checks every limit and encoding rule the reader enforces while decoding (`spec/FORMAT.md`,
    /// section 3), so that a header built in memory is never written unless it can be read back:
    /// name and string lengths, empty names, metadata key form and standard types, counts, and
    /// `dims` (1 to 8 dimensions, each 1 to 2³¹−1) in tensor shapes, the input shape and reshape targets.
    ///
    /// A decoded header passes by construction (the decoder checked each field as it read it); this
    /// matters for headers made from other sources, such as a Keras model whose layer is called "".
    /// Throws the error kind the reader would report for the same field.
    func validateLimits() throws {
        typealias Limits = Container.Limits
        func string(_ text: String, _ what: String, limit: Int = Limits.maxStringByteCount, nonEmpty: Bool = false) throws {
            let count = text.utf8.count
            guard count <= limit else {
                throw ContainerError(.limitExceeded, "\(what) is \(count) bytes long, more than the limit \(limit)")
            }
            guard !nonEmpty || count > 0 else { throw ContainerError(.invalidString, "\(what) is empty") }
        }
        func name(_ text: String, _ what: String) throws {
            try string(text, what, limit: Limits.maxNameByteCount, nonEmpty: true)
        }
        func count(_ value: Int, _ what: String, limit: Int) throws {
            guard value <= limit else { throw ContainerError(.limitExceeded, "\(what) is \(value), more than the limit \(limit)") }
        }
        func dims(_ shape: [Int], _ what: String) throws {
            guard (1...Limits.maxDimensions).contains(shape.count) else {
                throw ContainerError(.badTensor, "\(what) has \(shape.count) dimensions, expected 1 to \(Limits.maxDimensions)")
            }
            for (axis, size) in shape.enumerated() where !(1...Int(Int32.max)).contains(size) {
                throw ContainerError(.badTensor, "\(what) has dimension \(axis) of size \(size), expected 1 to \(Int32.max)")
            }
        }

        try count(metadata.count, "metadata count", limit: Limits.maxMetadataEntries)
        for (key, value) in metadata {
            guard MetadataKey.isWellFormed(key) else {
                throw ContainerError(.badMetadata, "metadata key '\(escaped(key))' is not 1 to 128 characters of [a-z0-9_.]")
            }
            if let required = MetadataKey.standardTypes[key], required != value.typeName {
                throw ContainerError(.badMetadata, "metadata '\(key)' is a \(value.typeName), expected \(required)")
            }
            switch value {
            case .string(let text): try string(text, "metadata '\(key)'")
            case .strings(let texts):
                try count(texts.count, "count of metadata '\(key)'", limit: Limits.maxArrayCount)
                for text in texts { try string(text, "metadata '\(key)'") }
            case .ints(let numbers): try count(numbers.count, "count of metadata '\(key)'", limit: Limits.maxArrayCount)
            case .floats(let numbers): try count(numbers.count, "count of metadata '\(key)'", limit: Limits.maxArrayCount)
            case .int, .float, .bool: break
            }
        }
        try count(userMetadata.count, "user metadata count", limit: Limits.maxMetadataEntries)
        for (key, value) in userMetadata {
            try name(key, "user metadata key '\(escaped(key))'")
            try string(value, "user metadata '\(escaped(key))'")
        }

        try count(tensors.count, "tensor count", limit: Limits.maxTensors)
        for tensor in tensors {
            try name(tensor.name, "name of tensor '\(escaped(tensor.name))'")
            try dims(tensor.shape, "tensor '\(escaped(tensor.name))'")
            if tensor.dtype == .int4, let count = tensor.elementCount, count % 2 != 0 {
                throw ContainerError(.badTensor, "tensor '\(escaped(tensor.name))' holds \(count) i4 values, an odd number (i4 packs two per byte)")
            }
        }

        try string(model.name, "model name", limit: Limits.maxNameByteCount)
        try dims(model.input.shape, "model input")
        try count(model.input.scale.count, "count of input scale", limit: Limits.maxArrayCount)
        try count(model.input.offset.count, "count of input offset", limit: Limits.maxArrayCount)
        try count(model.classNames.count, "class name count", limit: Limits.maxClassNames)
        for className in model.classNames { try string(className, "class name", limit: Limits.maxNameByteCount) }
        try count(model.layers.count, "layer count", limit: Limits.maxLayers)
        for (index, layer) in model.layers.enumerated() {
            try name(layer.name, "name of layer \(index)")
            let label = "layer '\(escaped(layer.name))'"
            switch layer.operation {
            case .reshape(let target):
                try dims(target, "target shape of \(label)")
            case let .factorizedDense(_, _, _, _, f), let .factorizedConv2D(_, _, _, _, _, _, f):
                for (value, what) in [(f.inFeatures, "input features"), (f.outFeatures, "output features"), (f.rank, "rank")]
                where !(0...Int(Int32.max)).contains(value) {
                    throw ContainerError(.limitExceeded, "\(what) of \(label) is \(value), expected 0 to \(Int32.max)")
                }
                try string(f.policy, "policy of \(label)", limit: Limits.maxNameByteCount)
                try string(f.method, "method of \(label)", limit: Limits.maxNameByteCount)
                try count(f.singularValues.count, "count of singular values of \(label)", limit: Limits.maxArrayCount)
            case .store(let slot), .load(let slot):
                guard (0...Limits.maxSlot).contains(slot) else {
                    throw ContainerError(.badModel, "\(label) uses slot \(slot), expected 0 to \(Limits.maxSlot)")
                }
            case let .merge(_, slots, _):
                guard (1...Limits.maxMergeSlots).contains(slots.count) else {
                    throw ContainerError(.badModel, "\(label) merges \(slots.count) slots, expected 1 to \(Limits.maxMergeSlots)")
                }
                for slot in slots where !(0...Limits.maxSlot).contains(slot) {
                    throw ContainerError(.badModel, "\(label) uses slot \(slot), expected 0 to \(Limits.maxSlot)")
                }
            case .dense, .activation, .flatten, .scaleShift, .conv2D, .depthwiseConv2D, .pool2D, .globalPool2D,
                 .pad2D, .crop2D, .permute, .upsample2D, .parametricActivation, .conv2DTranspose, .layerNorm:
                break
            }
        }
    }
}
