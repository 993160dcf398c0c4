extension ContainerHeader {
    /// Decodes and validates header bytes (everything after the preamble, `baseOffset` bytes
    /// into the file). Rejects anything that is not the canonical encoding.
    static func decode(_ bytes: UnsafeRawBufferPointer, baseOffset: Int, alignment: Int,
                       minorVersion: UInt16 = 0) throws -> ContainerHeader {
        var r = ByteReader(bytes, baseOffset: baseOffset)
        r.fileMinorVersion = minorVersion
        let metadata = try decodeMetadata(&r)
        let userMetadata = try decodeUserMetadata(&r)

        let tensorCount = try r.readCount("tensor count", limit: Container.Limits.maxTensors, minimumElementBytes: 26)
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var names = Set<String>()
        for index in 0..<tensorCount {
            let start = r.fileOffset
            let name = try r.readName("name of tensor \(index)")
            guard names.insert(name).inserted else {
                throw r.error(.badTensor, "tensor \(index) repeats the name '\(escaped(name))'", at: start)
            }
            let dtypeAt = r.fileOffset
            let code = try r.readUInt8("dtype of tensor '\(escaped(name))'")
            guard let dtype = DType(rawValue: code) else {
                throw r.error(.badTensor, "tensor '\(escaped(name))' has unknown dtype code \(code)", at: dtypeAt)
            }
            let shape = try r.readDimensions("tensor '\(escaped(name))'")
            let offset = try r.readSize("offset of tensor '\(escaped(name))'", limit: 1 << 62)
            let countAt = r.fileOffset
            let byteCount = try r.readSize("byte count of tensor '\(escaped(name))'", limit: 1 << 62)
            let crc = try r.readUInt32("checksum of tensor '\(escaped(name))'")
            if dtype == .int4, let elements = TensorInfo.elementCount(shape), elements % 2 != 0 {
                throw r.error(.badTensor, "tensor '\(escaped(name))' holds \(elements) i4 values, an odd number (i4 packs two per byte)", at: countAt)
            }
            guard let elements = TensorInfo.elementCount(shape), let expected = dtype.byteCount(elements: elements),
                  expected == byteCount else {
                let size = dtype == .int4 ? "½" : String(dtype.byteCount)
                throw r.error(.badTensor, "tensor '\(escaped(name))' has byte count \(byteCount), expected "
                              + "\(shape.map(String.init).joined(separator: "×")) × \(size)", at: countAt)
            }
            tensors.append(TensorInfo(name: name, dtype: dtype, shape: shape, byteOffset: offset,
                                      byteCount: byteCount, crc32: crc))
        }

        let model = try decodeModel(&r)
        guard r.remaining == 0 else {
            throw r.error(.malformedHeader, "\(r.remaining) bytes after the end of the model section")
        }
        let header = ContainerHeader(alignment: alignment, metadata: metadata, userMetadata: userMetadata,
                                     tensors: tensors, model: model)
        try header.validate()
        return header
    }

    private static func decodeMetadata(_ r: inout ByteReader) throws -> [String: MetadataValue] {
        let count = try r.readCount("metadata count", limit: Container.Limits.maxMetadataEntries, minimumElementBytes: 6)
        var metadata: [String: MetadataValue] = [:]
        var previous: [UInt8]? = nil
        for _ in 0..<count {
            let start = r.fileOffset
            let key = try r.readString("metadata key", limit: 128)
            guard MetadataKey.isWellFormed(key) else {
                throw r.error(.badMetadata, "metadata key '\(escaped(key))' is not 1 to 128 characters of [a-z0-9_.]", at: start)
            }
            let keyBytes = Array(key.utf8)
            if let previous, !previous.lexicographicallyPrecedes(keyBytes) {
                throw r.error(.badMetadata, "metadata key '\(key)' is out of order or repeated (keys must ascend)", at: start)
            }
            previous = keyBytes
            let typeAt = r.fileOffset
            let type = try r.readUInt8("type of metadata '\(key)'")
            let value: MetadataValue
            switch type {
            case 1: value = .string(try r.readString("metadata '\(key)'"))
            case 2: value = .int(try r.readInt64("metadata '\(key)'"))
            case 3: value = .float(try r.readFloat64("metadata '\(key)'"))
            case 4:
                let at = r.fileOffset
                let byte = try r.readUInt8("metadata '\(key)'")
                guard byte <= 1 else { throw r.error(.badMetadata, "metadata '\(key)' is a bool stored as \(byte), expected 0 or 1", at: at) }
                value = .bool(byte == 1)
            case 5:
                let n = try r.readCount("count of metadata '\(key)'", limit: Container.Limits.maxArrayCount, minimumElementBytes: 4)
                var texts: [String] = []
                for _ in 0..<n { texts.append(try r.readString("metadata '\(key)'")) }
                value = .strings(texts)
            case 6:
                let n = try r.readCount("count of metadata '\(key)'", limit: Container.Limits.maxArrayCount, minimumElementBytes: 8)
                var numbers: [Int64] = []
                for _ in 0..<n { numbers.append(try r.readInt64("metadata '\(key)'")) }
                value = .ints(numbers)
            case 7:
                value = .floats(try r.readFloat64Array("metadata '\(key)'"))
            default:
                throw r.error(.badMetadata, "metadata '\(key)' has unknown type code \(type)", at: typeAt)
            }
            if let required = MetadataKey.standardTypes[key], required != value.typeName {
                throw r.error(.badMetadata, "metadata '\(key)' is a \(value.typeName), expected \(required)", at: typeAt)
            }
            metadata[key] = value
        }
        return metadata
    }

    private static func decodeUserMetadata(_ r: inout ByteReader) throws -> [String: String] {
        let count = try r.readCount("user metadata count", limit: Container.Limits.maxMetadataEntries, minimumElementBytes: 8)
        var result: [String: String] = [:]
        var previous: [UInt8]? = nil
        for _ in 0..<count {
            let start = r.fileOffset
            let key = try r.readName("user metadata key")
            let keyBytes = Array(key.utf8)
            if let previous, !previous.lexicographicallyPrecedes(keyBytes) {
                throw r.error(.badMetadata, "user metadata key '\(escaped(key))' is out of order or repeated (keys must ascend)", at: start)
            }
            previous = keyBytes
            result[key] = try r.readString("user metadata '\(escaped(key))'")
        }
        return result
    }

    private static func decodeModel(_ r: inout ByteReader) throws -> ModelDescription {
        let name = try r.readString("model name", limit: Container.Limits.maxNameByteCount)
        let shape = try r.readDimensions("model input")
        let layoutAt = r.fileOffset
        let layoutCode = try r.readUInt8("input layout")
        guard let layout = InputLayout(rawValue: layoutCode) else {
            throw r.error(.badModel, "input layout code \(layoutCode) is unknown, expected 0 (features), 1 (hwc) or 2 (chw)", at: layoutAt)
        }
        let scale = try r.readFloat64Array("input scale")
        let offset = try r.readFloat64Array("input offset")
        let classCount = try r.readCount("class name count", limit: Container.Limits.maxClassNames, minimumElementBytes: 4)
        var classNames: [String] = []
        for _ in 0..<classCount { classNames.append(try r.readString("class name", limit: Container.Limits.maxNameByteCount)) }

        let layerCount = try r.readCount("layer count", limit: Container.Limits.maxLayers, minimumElementBytes: 9)
        var layers: [Layer<Int>] = []
        for index in 0..<layerCount {
            let recordAt = r.fileOffset
            let length = Int(try r.readUInt32("length of layer record \(index)"))
            guard length <= r.remaining else {
                throw r.error(.malformedHeader, "layer record \(index) claims \(length) bytes, only \(r.remaining) remain", at: recordAt)
            }
            let start = r.index
            layers.append(try decodeLayer(&r, index: index))
            guard r.index - start == length else {
                throw r.error(.malformedHeader, "layer record \(index) says it is \(length) bytes, but its fields take \(r.index - start)", at: recordAt)
            }
        }
        let input = InputSpec(shape: shape, layout: layout, scale: scale, offset: offset)
        return ModelDescription(name: name, input: input, classNames: classNames, layers: layers)
    }

    private static func decodeLayer(_ r: inout ByteReader, index: Int) throws -> Layer<Int> {
        let kindAt = r.fileOffset
        let kind = try r.readUInt8("kind of layer \(index)")
        let name = try r.readName("name of layer \(index)")
        let label = "layer '\(escaped(name))'"
        func ref(_ role: String) throws -> Int { Int(try r.readUInt32("\(role) of \(label)")) }
        func optionalRef(_ role: String) throws -> Int? {
            let raw = try r.readUInt32("\(role) of \(label)")
            return raw == Container.noTensor ? nil : Int(raw)
        }
        func activation() throws -> Activation {
            let at = r.fileOffset
            let code = try r.readUInt8("activation of \(label)")
            guard let value = Activation(rawValue: code) else {
                throw r.error(.unsupportedFeature, "\(label) has unknown activation code \(code)\(r.newerFileNote)", at: at)
            }
            return value
        }
        var quantization: [String: WeightQuantization] = [:]
        func weightQuantization(_ role: String, zeroPoints: Bool = false) throws -> WeightQuantization {
            let scales = try ref("\(role) scales")
            let zero = zeroPoints ? try ref("\(role) zero points") : nil
            let group = try r.readUInt32("\(role) group size of \(label)")
            return WeightQuantization(scales: scales, groupSize: Int(group), zeroPoints: zero)
        }
        let operation: LayerOperation<Int>
        switch kind {
        case 1:
            operation = .dense(kernel: try ref("kernel"), bias: try optionalRef("bias"), activation: try activation())
        case 2:
            let us = try ref("us"), vt = try ref("vt"), bias = try optionalRef("bias"), act = try activation()
            operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: act,
                                         factorization: try r.readFactorization(label))
        case 3:
            operation = .activation(try activation())
        case 4:
            operation = .flatten
        case 5:
            operation = .reshape(try r.readDimensions("target shape of \(label)"))
        case 6:
            operation = .scaleShift(scale: try ref("scale"), shift: try optionalRef("shift"))
        case 7:
            let kernel = try ref("kernel"), bias = try optionalRef("bias"), act = try activation()
            operation = .conv2D(kernel: kernel, bias: bias, activation: act, geometry: try r.readGeometry(label))
        case 8:
            let first = try ref("first"), second = try ref("second"), bias = try optionalRef("bias"), act = try activation()
            let formAt = r.fileOffset
            let code = try r.readUInt8("factorization form of \(label)")
            guard let form = ConvFactorizationForm(rawValue: code) else {
                throw r.error(.badModel, "\(label) has factorization form code \(code), expected 0 (channel) or 1 (spatial)", at: formAt)
            }
            let geometry = try r.readGeometry(label)
            operation = .factorizedConv2D(first: first, second: second, bias: bias, activation: act, form: form,
                                          geometry: geometry, factorization: try r.readFactorization(label))
        case 9:
            let kernel = try ref("kernel"), bias = try optionalRef("bias"), act = try activation()
            operation = .depthwiseConv2D(kernel: kernel, bias: bias, activation: act, geometry: try r.readGeometry(label))
        case 10:
            let mode = try r.readPoolMode(label)
            let sizes = try (0..<4).map { _ in Int(try r.readUInt32("window of \(label)")) }
            operation = .pool2D(Pooling(mode: mode, poolH: sizes[0], poolW: sizes[1], strideH: sizes[2], strideW: sizes[3],
                                        padding: try r.readPadding(label)))
        case 11:
            operation = .globalPool2D(try r.readPoolMode(label))
        case 12, 13:
            let m = try (0..<4).map { _ in Int(try r.readUInt32("margins of \(label)")) }
            let margins = Margins(top: m[0], bottom: m[1], left: m[2], right: m[3])
            operation = kind == 12 ? .pad2D(margins) : .crop2D(margins)
        case 14:
            let countAt = r.fileOffset
            let count = Int(try r.readUInt8("axis count of \(label)"))
            guard (1...Container.Limits.maxDimensions).contains(count) else {
                throw r.error(.badModel, "\(label) permutes \(count) axes, expected 1 to \(Container.Limits.maxDimensions)", at: countAt)
            }
            operation = .permute(try (0..<count).map { _ in Int(try r.readUInt8("axis of \(label)")) })
        case LayerKindCode.store, LayerKindCode.load:
            let slot = try r.readSlot(label)
            operation = kind == LayerKindCode.store ? .store(slot: slot) : .load(slot: slot)
        case LayerKindCode.merge:
            let modeAt = r.fileOffset
            let code = try r.readUInt8("merge mode of \(label)")
            guard let mode = MergeMode(rawValue: code) else {
                throw r.error(.badModel, "\(label) has merge mode code \(code), expected 0 to \(MergeMode.allCases.count - 1)", at: modeAt)
            }
            let countAt = r.fileOffset
            let count = Int(try r.readUInt32("slot count of \(label)"))
            guard (1...Container.Limits.maxMergeSlots).contains(count) else {
                throw r.error(.badModel, "\(label) merges \(count) slots, expected 1 to \(Container.Limits.maxMergeSlots)", at: countAt)
            }
            let slots = try (0..<count).map { _ in try r.readSlot(label) }
            operation = .merge(mode, slots: slots, activation: try activation())
        case LayerKindCode.upsample2D:
            let factors = try (0..<2).map { _ in Int(try r.readUInt32("factors of \(label)")) }
            let at = r.fileOffset
            let code = try r.readUInt8("interpolation of \(label)")
            guard let interpolation = UpsampleInterpolation(rawValue: code) else {
                throw r.error(.badModel, "\(label) has interpolation code \(code), expected 0 (nearest) or 1 (bilinear)", at: at)
            }
            operation = .upsample2D(Upsampling(factorH: factors[0], factorW: factors[1], interpolation: interpolation))
        case LayerKindCode.parametricActivation:
            let functionAt = r.fileOffset
            let code = try r.readUInt8("function of \(label)")
            let parametersAt = r.fileOffset
            let parameters = try r.readFloat64Array("parameters of \(label)")
            guard let decoded = ParametricActivation.decoded(code: code, parameters: parameters) else {
                throw r.error(.unsupportedFeature, "\(label) has unknown parametric activation function code \(code)\(r.newerFileNote)",
                              at: functionAt)
            }
            switch decoded {
            case .success(let function):
                operation = .parametricActivation(function, alphas: try optionalRef("alphas"))
            case .failure(let problem):
                throw r.error(.badModel, "\(label): \(problem.message)", at: parametersAt)
            }
        case LayerKindCode.conv2DTranspose:
            let kernel = try ref("kernel"), bias = try optionalRef("bias"), act = try activation()
            let v = try (0..<8).map { _ in Int(try r.readUInt32("geometry of \(label)")) }
            operation = .conv2DTranspose(kernel: kernel, bias: bias, activation: act, geometry: TransposedGeometry(
                strideH: v[0], strideW: v[1], dilationH: v[2], dilationW: v[3], cropTop: v[4], cropLeft: v[5], outputH: v[6], outputW: v[7]))
        case LayerKindCode.layerNorm:
            let gamma = try optionalRef("gamma"), beta = try optionalRef("beta")
            operation = .layerNorm(gamma: gamma, beta: beta, epsilon: try r.readFloat64("epsilon of \(label)"))
        case LayerKindCode.quantizedDense, LayerKindCode.zeroPointDense:
            let kernel = try ref("kernel")
            quantization["kernel"] = try weightQuantization("kernel", zeroPoints: kind == LayerKindCode.zeroPointDense)
            operation = .dense(kernel: kernel, bias: try optionalRef("bias"), activation: try activation())
        case LayerKindCode.quantizedFactorizedDense, LayerKindCode.zeroPointFactorizedDense:
            let zeroPoints = kind == LayerKindCode.zeroPointFactorizedDense
            let us = try ref("us")
            quantization["us"] = try weightQuantization("us", zeroPoints: zeroPoints)
            let vt = try ref("vt")
            quantization["vt"] = try weightQuantization("vt", zeroPoints: zeroPoints)
            let bias = try optionalRef("bias"), act = try activation()
            operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: act, factorization: try r.readFactorization(label))
        default:
            throw r.error(.unsupportedFeature, "layer \(index) has unknown kind code \(kind)\(r.newerFileNote)", at: kindAt)
        }
        return Layer(name: name, operation: operation, quantization: quantization)
    }
}

extension ByteReader {
    /// For an unknown code's message: the file's version when it is newer than this reader's.
    var newerFileNote: String {
        fileMinorVersion > Container.minorVersion
            ? " (the file is format 1.\(fileMinorVersion); this reader reads up to 1.\(Container.minorVersion))" : ""
    }

    /// The `factorization` record of `label`.
    mutating func readFactorization(_ label: String) throws -> Factorization {
        let inFeatures = try readSize("input features of \(label)", limit: Int(Int32.max))
        let outFeatures = try readSize("output features of \(label)", limit: Int(Int32.max))
        let rank = try readSize("rank of \(label)", limit: Int(Int32.max))
        let energy = try readFloat64("retained energy of \(label)")
        let error = try readFloat64("relative error of \(label)")
        let policy = try readString("policy of \(label)", limit: Container.Limits.maxNameByteCount)
        let parameter = try readFloat64("policy parameter of \(label)")
        let method = try readString("method of \(label)", limit: Container.Limits.maxNameByteCount)
        let singularValues = try readFloat64Array("singular values of \(label)")
        return Factorization(inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, retainedEnergy: energy,
                             relativeError: error, policy: policy, policyParameter: parameter, method: method,
                             singularValues: singularValues)
    }

    /// `conv_geometry`: four u32 (strides, dilations) and the padding code.
    mutating func readGeometry(_ label: String) throws -> ConvGeometry {
        let values = try (0..<4).map { _ in Int(try readUInt32("geometry of \(label)")) }
        return ConvGeometry(strideH: values[0], strideW: values[1], dilationH: values[2], dilationW: values[3],
                            padding: try readPadding(label))
    }

    mutating func readPadding(_ label: String) throws -> WindowPadding {
        let at = fileOffset
        let code = try readUInt8("padding of \(label)")
        guard let padding = WindowPadding(rawValue: code) else {
            throw error(.badModel, "\(label) has padding code \(code), expected 0 (valid) or 1 (same)", at: at)
        }
        return padding
    }

    /// A slot number (format 1.4): a u32 of 0 to `Container.Limits.maxSlot`.
    mutating func readSlot(_ label: String) throws -> Int {
        let at = fileOffset
        let slot = Int(try readUInt32("slot of \(label)"))
        guard slot <= Container.Limits.maxSlot else {
            throw error(.badModel, "\(label) uses slot \(slot), expected 0 to \(Container.Limits.maxSlot)", at: at)
        }
        return slot
    }

    mutating func readPoolMode(_ label: String) throws -> PoolMode {
        let at = fileOffset
        let code = try readUInt8("pooling mode of \(label)")
        guard let mode = PoolMode(rawValue: code) else {
            throw error(.badModel, "\(label) has pooling mode code \(code), expected 0 (max) or 1 (average)", at: at)
        }
        return mode
    }
}

/// A name with control characters escaped (\n, \t, \u{…}), for messages and tables.
public func escaped(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case "\r": result += "\\r"
        case "\\": result += "\\\\"
        default: appendEscapingControl(scalar, to: &result)
        }
    }
    return result
}

/// Appends `scalar` to `text`, as `\u{…}` (hex) when it is a C0 or C1 control character, DEL or a Unicode format
/// character (a bidirectional override): the characters ``escaped(_:)`` and lrm's terminal lines never write as they are.
package func appendEscapingControl(_ scalar: Unicode.Scalar, to text: inout String) {
    if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.properties.generalCategory == .format {
        text += "\\u{" + String(scalar.value, radix: 16) + "}"
    } else {
        text.unicodeScalars.append(scalar)
    }
}
