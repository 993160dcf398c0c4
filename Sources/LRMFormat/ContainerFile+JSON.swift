extension MetadataValue {
    /// `{"type": …, "value": …}` as in `spec/vectors/README.md`.
    public var json: JSONValue {
        let value: JSONValue
        switch self {
        case .string(let text): value = .string(text)
        case .int(let number): value = .int(number)
        case .float(let number): value = .number(number)
        case .bool(let flag): value = .bool(flag)
        case .strings(let texts): value = JSONValue(texts)
        case .ints(let numbers): value = .array(numbers.map { .int($0) })
        case .floats(let numbers): value = JSONValue(numbers)
        }
        return .object([("type", .string(typeName)), ("value", value)])
    }
}

extension Factorization {
    /// The factorization record in the JSON form of `spec/vectors/README.md`.
    public var json: JSONValue {
        .object([
            ("in_features", .int(Int64(inFeatures))), ("out_features", .int(Int64(outFeatures))),
            ("rank", .int(Int64(rank))), ("retained_energy", .number(retainedEnergy)),
            ("relative_error", .number(relativeError)), ("policy", .string(policy)),
            ("policy_parameter", .number(policyParameter)), ("method", .string(method)),
            ("singular_values", JSONValue(singularValues)),
        ])
    }
}

extension ConvGeometry {
    /// `strides`, `dilation` and `padding` as JSON members.
    var jsonMembers: [(String, JSONValue)] {
        [("strides", JSONValue([strideH, strideW])), ("dilation", JSONValue([dilationH, dilationW])),
         ("padding", .string(padding.name))]
    }
}

extension ContainerHeader {
    /// The metadata as a JSON object, keys in ascending byte order.
    public var metadataJSON: JSONValue {
        .object(metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            .map { ($0, metadata[$0]!.json) })
    }

    public var userMetadataJSON: JSONValue {
        .object(userMetadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            .map { ($0, .string(userMetadata[$0]!)) })
    }

    /// The model section in the JSON form of `spec/vectors/README.md`.
    public var modelJSON: JSONValue {
        let input = model.input
        let layers: [JSONValue] = model.layers.map { layer in
            var members: [(String, JSONValue)] = [("name", .string(layer.name)), ("kind", .string(layer.kindName))]
            let ref: (Int?) -> JSONValue = { $0.map { .int(Int64($0)) } ?? .null }
            // A quantized weight adds `<role>_scales`, (1.3) `<role>_zero_points` and `<role>_group_size`
            // after its reference.
            func weight(_ index: Int, _ role: String) -> [(String, JSONValue)] {
                guard let q = layer.quantization[role] else { return [(role, ref(index))] }
                let zero: [(String, JSONValue)] = q.zeroPoints.map { [(role + "_zero_points", ref($0))] } ?? []
                return [(role, ref(index)), (role + "_scales", ref(q.scales))] + zero + [(role + "_group_size", .int(Int64(q.groupSize)))]
            }
            switch layer.operation {
            case let .dense(kernel, bias, activation):
                members += weight(kernel, "kernel") + [("bias", ref(bias)), ("activation", .string(activation.name))]
            case let .factorizedDense(us, vt, bias, activation, f):
                members += weight(us, "us") + weight(vt, "vt") + [("bias", ref(bias)), ("activation", .string(activation.name)),
                            ("factorization", f.json)]
            case .activation(let activation):
                members.append(("activation", .string(activation.name)))
            case .flatten:
                break
            case .reshape(let target):
                members.append(("target", JSONValue(target)))
            case let .scaleShift(scale, shift):
                members += [("scale", ref(scale)), ("shift", ref(shift))]
            case let .layerNorm(gamma, beta, epsilon):
                members += [("gamma", ref(gamma)), ("beta", ref(beta)), ("epsilon", .number(epsilon))]
            case let .conv2D(kernel, bias, activation, geometry), let .depthwiseConv2D(kernel, bias, activation, geometry):
                members += [("kernel", ref(kernel)), ("bias", ref(bias)), ("activation", .string(activation.name))]
                members += geometry.jsonMembers
            case let .factorizedConv2D(first, second, bias, activation, form, geometry, f):
                members += [("first", ref(first)), ("second", ref(second)), ("bias", ref(bias)),
                            ("activation", .string(activation.name)), ("form", .string(form.name))]
                members += geometry.jsonMembers
                members.append(("factorization", f.json))
            case .pool2D(let p):
                members += [("mode", .string(p.mode.name)), ("pool", JSONValue([p.poolH, p.poolW])),
                            ("strides", JSONValue([p.strideH, p.strideW])), ("padding", .string(p.padding.name))]
            case .globalPool2D(let mode):
                members.append(("mode", .string(mode.name)))
            case .pad2D(let m), .crop2D(let m):
                members.append(("margins", JSONValue([m.top, m.bottom, m.left, m.right])))
            case .permute(let axes):
                members.append(("axes", JSONValue(axes)))
            case .store(let slot), .load(let slot):
                members.append(("slot", .int(Int64(slot))))
            case let .merge(mode, slots, activation):
                members += [("mode", .string(mode.name)), ("slots", JSONValue(slots)), ("activation", .string(activation.name))]
            case let .conv2DTranspose(kernel, bias, activation, g):
                members += [("kernel", ref(kernel)), ("bias", ref(bias)), ("activation", .string(activation.name)),
                            ("strides", JSONValue([g.strideH, g.strideW])), ("dilation", JSONValue([g.dilationH, g.dilationW])),
                            ("crop", JSONValue([g.cropTop, g.cropLeft])), ("output", JSONValue([g.outputH, g.outputW]))]
            case .upsample2D(let u):
                members += [("factors", JSONValue([u.factorH, u.factorW])), ("interpolation", .string(u.interpolation.name))]
            case let .parametricActivation(function, alphas):
                // +inf (relu's max_value "none") is not a JSON number: null.
                members += [("function", .string(function.name)),
                            ("parameters", .array(function.parameters.map { $0.isFinite ? .number($0) : .null })),
                            ("alphas", ref(alphas))]
            }
            return .object(members)
        }
        return .object([
            ("name", .string(model.name)),
            ("input", .object([("shape", JSONValue(input.shape)), ("layout", .string(input.layout.name)),
                               ("scale", JSONValue(input.scale)), ("offset", JSONValue(input.offset))])),
            ("class_names", JSONValue(model.classNames)),
            ("layers", .array(layers)),
        ])
    }
}

extension ContainerFile {
    /// The decoded content in the JSON form of `spec/vectors/README.md`; tensor values are
    /// included when `includeValues` is true.
    public func contentJSON(includeValues: Bool = true) -> JSONValue {
        let tensors: [JSONValue] = header.tensors.indices.map { index in
            let info = header.tensors[index]
            var members: [(String, JSONValue)] = [
                ("name", .string(info.name)), ("dtype", .string(info.dtype.name)), ("shape", JSONValue(info.shape)),
                ("offset", .int(Int64(info.byteOffset))), ("byte_count", .int(Int64(info.byteCount))),
                ("crc32", .int(Int64(info.crc32))),
            ]
            if includeValues {
                let values: [Double]
                switch tensor(index).storage {
                case .float64(let doubles): values = doubles
                default: values = tensor(index).floats().map(Double.init)
                }
                members.append(("values", JSONValue(values)))
            }
            return .object(members)
        }
        return .object([
            ("version", .array([.int(Int64(majorVersion)), .int(Int64(minorVersion))])),
            ("alignment", .int(Int64(header.alignment))),
            ("metadata", header.metadataJSON),
            ("user_metadata", header.userMetadataJSON),
            ("tensors", .array(tensors)),
            ("model", header.modelJSON),
        ])
    }
}
