/// Everything a `.lrm` file says before its data section: alignment, metadata, the tensor table
/// and the model. `encode()` is the one canonical encoding; `decode` accepts exactly that.
public struct ContainerHeader: Sendable, Equatable {
    /// Alignment of every tensor's offset, a power of two from 8 to 65536.
    public var alignment: Int
    public var metadata: [String: MetadataValue]
    public var userMetadata: [String: String]
    public var tensors: [TensorInfo]
    public var model: ModelDescription

    public init(alignment: Int, metadata: [String: MetadataValue], userMetadata: [String: String],
                tensors: [TensorInfo], model: ModelDescription) {
        self.alignment = alignment
        self.metadata = metadata
        self.userMetadata = userMetadata
        self.tensors = tensors
        self.model = model
    }

    /// Bytes of the data section: from its start to the end of the last tensor.
    public var dataByteCount: Int {
        guard let last = tensors.last else { return 0 }
        return last.byteOffset + last.byteCount
    }

    // MARK: Encoding

    /// The header bytes (without the preamble). Keys are written in ascending byte order.
    public func encode() -> [UInt8] {
        var w = ByteWriter()
        let keys = metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        w.writeCount(keys.count)
        for key in keys {
            guard let value = metadata[key] else { continue }
            w.write(key)
            w.write(value.typeCode)
            switch value {
            case .string(let text): w.write(text)
            case .int(let number): w.write(number)
            case .float(let number): w.write(number)
            case .bool(let flag): w.write(UInt8(flag ? 1 : 0))
            case .strings(let texts): w.writeCount(texts.count); for text in texts { w.write(text) }
            case .ints(let numbers): w.writeCount(numbers.count); for number in numbers { w.write(number) }
            case .floats(let numbers): w.write(numbers)
            }
        }
        let userKeys = userMetadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        w.writeCount(userKeys.count)
        for key in userKeys {
            w.write(key)
            w.write(userMetadata[key] ?? "")
        }
        w.writeCount(tensors.count)
        for tensor in tensors {
            w.write(tensor.name)
            w.write(tensor.dtype.rawValue)
            w.writeDimensions(tensor.shape)
            w.writeSize(tensor.byteOffset)
            w.writeSize(tensor.byteCount)
            w.write(tensor.crc32)
        }
        w.write(model.name)
        w.writeDimensions(model.input.shape)
        w.write(model.input.layout.rawValue)
        w.write(model.input.scale)
        w.write(model.input.offset)
        w.writeCount(model.classNames.count)
        for name in model.classNames { w.write(name) }
        w.writeCount(model.layers.count)
        for layer in model.layers {
            var record = ByteWriter()
            record.write(layer.operation.kindCode)
            record.write(layer.name)
            let ref: (Int?) -> UInt32 = { $0.map(UInt32.init) ?? Container.noTensor }
            switch layer.operation {
            case let .dense(kernel, bias, activation):
                record.write(ref(kernel)); record.write(ref(bias)); record.write(activation.rawValue)
            case let .factorizedDense(us, vt, bias, activation, f):
                record.write(ref(us)); record.write(ref(vt)); record.write(ref(bias)); record.write(activation.rawValue)
                record.writeSize(f.inFeatures); record.writeSize(f.outFeatures); record.writeSize(f.rank)
                record.write(f.retainedEnergy); record.write(f.relativeError)
                record.write(f.policy); record.write(f.policyParameter); record.write(f.method)
                record.write(f.singularValues)
            case .activation(let activation):
                record.write(activation.rawValue)
            case .flatten:
                break
            case .reshape(let shape):
                record.writeDimensions(shape)
            case let .scaleShift(scale, shift):
                record.write(ref(scale)); record.write(ref(shift))
            }
            w.writeCount(record.bytes.count)
            w.append(record.bytes)
        }
        return w.bytes
    }
}
