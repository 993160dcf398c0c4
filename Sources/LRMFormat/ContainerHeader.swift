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

    /// The lowest format minor version that has every code the header uses: what a writer records
    /// (1.1 layer kinds; 1.2 `i8`/`i4` tensors and quantized layers; 1.3 zero points; 1.4 the slot kinds;
    /// 1.5 `upsample2d`, `conv2d_transpose`, activation codes 15 and up and `parametric_activation`).
    public var minorVersion: UInt16 {
        let kinds = model.layers.map(\.operation.minimumMinorVersion).max() ?? 0
        if model.layers.contains(where: \.hasZeroPoints) { return max(kinds, 3) }
        if tensors.contains(where: { !$0.dtype.isFloatingPoint }) || model.layers.contains(where: \.isQuantized) { return max(kinds, 2) }
        return kinds
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
            record.write(layer.kindCode)
            record.write(layer.name)
            let ref: (Int?) -> UInt32 = { $0.map(UInt32.init) ?? Container.noTensor }
            // A quantized weight is `tref codes, tref scales, u32 group_size` (format 1.2), with
            // zero points `tref codes, tref scales, tref zero_points, u32 group_size` (1.3).
            let zeroPoints = layer.hasZeroPoints
            func weight(_ index: Int, _ role: String) {
                record.write(ref(index))
                if let q = layer.quantization[role] {
                    record.write(ref(q.scales))
                    if zeroPoints { record.write(ref(q.zeroPoints)) }
                    record.write(UInt32(clamping: q.groupSize))
                }
            }
            switch layer.operation {
            case let .dense(kernel, bias, activation):
                weight(kernel, "kernel"); record.write(ref(bias)); record.write(activation.rawValue)
            case let .factorizedDense(us, vt, bias, activation, f):
                weight(us, "us"); weight(vt, "vt"); record.write(ref(bias)); record.write(activation.rawValue)
                record.write(f)
            case .activation(let activation):
                record.write(activation.rawValue)
            case .flatten:
                break
            case .reshape(let shape):
                record.writeDimensions(shape)
            case let .scaleShift(scale, shift):
                record.write(ref(scale)); record.write(ref(shift))
            case let .layerNorm(gamma, beta, epsilon):
                record.write(ref(gamma)); record.write(ref(beta)); record.write(epsilon)
            case let .conv2D(kernel, bias, activation, geometry), let .depthwiseConv2D(kernel, bias, activation, geometry):
                record.write(ref(kernel)); record.write(ref(bias)); record.write(activation.rawValue)
                record.write(geometry)
            case let .factorizedConv2D(first, second, bias, activation, form, geometry, f):
                record.write(ref(first)); record.write(ref(second)); record.write(ref(bias)); record.write(activation.rawValue)
                record.write(form.rawValue)
                record.write(geometry)
                record.write(f)
            case .pool2D(let p):
                record.write(p.mode.rawValue)
                for value in [p.poolH, p.poolW, p.strideH, p.strideW] { record.write(UInt32(truncatingIfNeeded: value)) }
                record.write(p.padding.rawValue)
            case .globalPool2D(let mode):
                record.write(mode.rawValue)
            case .pad2D(let m), .crop2D(let m):
                for value in [m.top, m.bottom, m.left, m.right] { record.write(UInt32(truncatingIfNeeded: value)) }
            case .permute(let axes):
                record.write(UInt8(truncatingIfNeeded: axes.count))
                for axis in axes { record.write(UInt8(truncatingIfNeeded: axis)) }
            case .store(let slot), .load(let slot):
                record.write(UInt32(truncatingIfNeeded: slot))
            case let .merge(mode, slots, activation):
                record.write(mode.rawValue)
                record.write(UInt32(truncatingIfNeeded: slots.count))
                for slot in slots { record.write(UInt32(truncatingIfNeeded: slot)) }
                record.write(activation.rawValue)
            case let .conv2DTranspose(kernel, bias, activation, g):
                record.write(ref(kernel)); record.write(ref(bias)); record.write(activation.rawValue)
                for value in [g.strideH, g.strideW, g.dilationH, g.dilationW, g.cropTop, g.cropLeft, g.outputH, g.outputW] {
                    record.write(UInt32(truncatingIfNeeded: value))
                }
            case .upsample2D(let u):
                record.write(UInt32(truncatingIfNeeded: u.factorH)); record.write(UInt32(truncatingIfNeeded: u.factorW))
                record.write(u.interpolation.rawValue)
            case let .parametricActivation(function, alphas):
                record.write(function.code)
                record.write(function.parameters)
                record.write(ref(alphas))
            }
            w.writeCount(record.bytes.count)
            w.append(record.bytes)
        }
        return w.bytes
    }
}

extension ByteWriter {
    /// `conv_geometry`: u32 stride_h, stride_w, dilation_h, dilation_w, u8 padding.
    mutating func write(_ g: ConvGeometry) {
        for value in [g.strideH, g.strideW, g.dilationH, g.dilationW] { write(UInt32(truncatingIfNeeded: value)) }
        write(g.padding.rawValue)
    }

    /// The `factorization` record.
    mutating func write(_ f: Factorization) {
        writeSize(f.inFeatures); writeSize(f.outFeatures); writeSize(f.rank)
        write(f.retainedEnergy); write(f.relativeError)
        write(f.policy); write(f.policyParameter); write(f.method)
        write(f.singularValues)
    }
}
