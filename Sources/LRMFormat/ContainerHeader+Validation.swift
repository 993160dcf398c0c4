extension ContainerHeader {
    /// Checks everything that can be checked without the data: alignment, the reader's limits
    /// (``validateLimits()``), the tiling of the tensor table, tensor references and shapes,
    /// factorization records, preprocessing, and that the layers chain from the input shape to the
    /// output. Throws `.badLayout` or `.badModel` (or the limit's own kind).
    public func validate() throws {
        guard alignment >= Container.Limits.minAlignment, alignment <= Container.Limits.maxAlignment,
              alignment & (alignment - 1) == 0 else {
            throw ContainerError(.badPreamble, "alignment \(alignment) is not a power of two from "
                                 + "\(Container.Limits.minAlignment) to \(Container.Limits.maxAlignment)")
        }
        try validateLimits()
        try validateModel()
        try validateTiling()
    }

    /// Tensors must tile the data section: the first at offset 0, each next one at the end of
    /// the previous one rounded up to the alignment. No holes, no overlaps.
    func validateTiling() throws {
        var expected = 0
        var names = Set<String>()
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else {
                throw ContainerError(.badTensor, "tensor name '\(escaped(tensor.name))' appears twice")
            }
            guard tensor.byteOffset == expected else {
                throw ContainerError(.badLayout, "tensor '\(escaped(tensor.name))' has offset \(tensor.byteOffset), expected \(expected)")
            }
            guard let end = Optional(tensor.byteOffset.addingReportingOverflow(tensor.byteCount)).flatMap({ $0.overflow ? nil : $0.partialValue }),
                  let next = alignUp(end, to: alignment) else {
                throw ContainerError(.limitExceeded, "tensor '\(escaped(tensor.name))' ends beyond any possible file size")
            }
            expected = next
        }
    }

    func modelError(_ message: String) -> ContainerError { ContainerError(.badModel, message) }

    func validateModel() throws {
        let input = model.input
        switch input.layout {
        case .features: break
        case .hwc, .chw:
            guard input.shape.count == 3 else {
                throw modelError("input layout \(input.layout.name) needs a 3-dimensional input shape, found \(input.shape)")
            }
        }
        guard let inputCount = TensorInfo.elementCount(input.shape), inputCount <= Int(Int32.max) else {
            throw modelError("input shape \(input.shape) has more than \(Int32.max) elements")
        }
        for (label, values) in [("scale", input.scale), ("offset", input.offset)] {
            let allowed = Set([0, 1, input.channelCount ?? 1, inputCount])
            guard allowed.contains(values.count) else {
                throw modelError("input \(label) has \(values.count) values, expected 0, 1, one per channel or \(inputCount)")
            }
            guard values.allSatisfy(\.isFinite) else { throw modelError("input \(label) holds a non-finite value") }
        }

        var used = [Bool](repeating: false, count: tensors.count)
        var layerNames = Set<String>()
        var shape = input.shape
        var slots = SlotShapes()
        for layer in model.layers {
            let label = "layer '\(escaped(layer.name))'"
            guard layerNames.insert(layer.name).inserted else { throw modelError("\(label) appears twice") }
            var shapes: [String: [Int]] = [:]
            for (role, index) in layer.references {
                guard index >= 0, index < tensors.count else {
                    throw modelError("\(label) refers to tensor \(index) as its \(role), but there are \(tensors.count) tensors")
                }
                used[index] = true
                shapes[role] = tensors[index].shape
            }
            shape = try outputShape(of: layer.operation, label: label, input: shape, shapes: shapes, slots: &slots)
            try validateQuantization(of: layer, label: label)
            guard let count = TensorInfo.elementCount(shape), count <= Int(Int32.max) else {
                throw modelError("\(label) produces samples of shape \(shape), more than \(Int32.max) elements")
            }
        }
        if let unused = used.firstIndex(of: false) {
            throw modelError("tensor '\(escaped(tensors[unused].name))' is not used by any layer")
        }
        if !model.classNames.isEmpty, model.classNames.count != shape.reduce(1, *) {
            throw modelError("\(model.classNames.count) class names for \(shape.reduce(1, *)) outputs")
        }
    }

    /// The sample shape after each layer, in layer order (the header must be valid).
    public func layerOutputShapes() throws -> [[Int]] {
        var shape = model.input.shape
        var result: [[Int]] = []
        var slots = SlotShapes()
        for layer in model.layers {
            var shapes: [String: [Int]] = [:]
            for (role, index) in layer.operation.tensors where tensors.indices.contains(index) { shapes[role] = tensors[index].shape }
            shape = try outputShape(of: layer.operation, label: "layer '\(escaped(layer.name))'", input: shape, shapes: shapes,
                                    slots: &slots)
            result.append(shape)
        }
        return result
    }

    /// The shape of one output sample: the last layer's (``layerOutputShapes()``), the input's for a model without
    /// layers. What every command counts as the model's outputs (the header must be valid).
    public func outputShape() throws -> [Int] {
        try layerOutputShapes().last ?? model.input.shape
    }

    /// The rules of quantized weights (format 1.2): a quantized record quantizes every weight of its
    /// kind; codes are `i8`/`i4`, scales `f32`/`f16` of shape `[rows / group_size, columns]` with a group
    /// size dividing the rows; integer tensors serve only as codes.
    private func validateQuantization(of layer: Layer<Int>, label: String) throws {
        let roles = layer.quantizableRoles
        if layer.isQuantized {
            for role in layer.quantization.keys.sorted() where !roles.contains(role) {
                throw modelError("\(label) (\(layer.operation.kindName)) has no weight '\(role)' to quantize")
            }
            for role in roles where layer.quantization[role] == nil {
                throw modelError("\(label) quantizes some of its weights but not its \(role)")
            }
        }
        for (role, index) in layer.operation.tensors {
            let info = tensors[index]
            guard let q = layer.quantization[role] else {
                guard info.dtype.isFloatingPoint else {
                    throw modelError("\(label) uses the \(info.dtype.name) tensor '\(escaped(info.name))' as its \(role); "
                                     + "integer tensors are only the codes of a quantized weight")
                }
                continue
            }
            guard !info.dtype.isFloatingPoint else {
                throw modelError("\(label) has a quantized \(role) stored as \(info.dtype.name), expected i8 or i4")
            }
            let scales = tensors[q.scales]
            guard scales.dtype == .float32 || scales.dtype == .float16 else {
                throw modelError("\(label) has \(role) scales stored as \(scales.dtype.name), expected f32 or f16")
            }
            // The shape rules made the codes 2-dimensional.
            let rows = info.shape[0], columns = info.shape[1]
            guard q.groupSize >= 1, q.groupSize <= rows, rows % q.groupSize == 0 else {
                throw modelError("\(label) has \(role) group size \(q.groupSize), which does not divide its \(rows) rows")
            }
            guard scales.shape == [rows / q.groupSize, columns] else {
                throw modelError("\(label) has \(role) scales of shape \(scales.shape), expected \([rows / q.groupSize, columns]) "
                                 + "(\(rows) rows in groups of \(q.groupSize), \(columns) columns)")
            }
            // (1.3) Zero points: every weight of a record with zero points has them, i8 or i4, one per scale.
            guard let zeroIndex = q.zeroPoints else {
                guard !layer.hasZeroPoints else { throw modelError("\(label) has zero points for some of its weights but not its \(role)") }
                continue
            }
            let zero = tensors[zeroIndex]
            guard !zero.dtype.isFloatingPoint else {
                throw modelError("\(label) has \(role) zero points stored as \(zero.dtype.name), expected i8 or i4")
            }
            guard zero.shape == scales.shape else {
                throw modelError("\(label) has \(role) zero points of shape \(zero.shape), expected \(scales.shape) (one per scale)")
            }
        }
    }

    func outputShape(of operation: LayerOperation<Int>, label: String, input shape: [Int],
                     shapes: [String: [Int]], slots: inout SlotShapes) throws -> [Int] {
        let features = shape.last ?? 0
        func expectShape(_ role: String, _ expected: [Int]) throws {
            let found = shapes[role] ?? []
            guard found == expected else {
                throw modelError("\(label) has \(role) of shape \(found), expected \(expected)")
            }
        }
        switch operation {
        case .dense:
            guard let kernel = shapes["kernel"], kernel.count == 2 else {
                throw modelError("\(label) has a kernel of shape \(shapes["kernel"] ?? []), expected 2 dimensions")
            }
            guard kernel[0] == features else {
                throw modelError("\(label) has a \(kernel[0])×\(kernel[1]) kernel but receives \(features) features")
            }
            if shapes["bias"] != nil { try expectShape("bias", [kernel[1]]) }
            return shape.dropLast() + [kernel[1]]
        case let .factorizedDense(_, _, _, _, f):
            guard f.inFeatures == features else {
                throw modelError("\(label) was factorized from \(f.inFeatures) inputs but receives \(features) features")
            }
            try validateFactorizationRecord(f, label: label) {
                try expectShape("us", [f.inFeatures, f.rank])
                try expectShape("vt", [f.rank, f.outFeatures])
                if shapes["bias"] != nil { try expectShape("bias", [f.outFeatures]) }
            }
            return shape.dropLast() + [f.outFeatures]
        case .activation:
            return shape
        case .flatten:
            // Every shape in the chain has at most 2³¹−1 elements (checked for the input), so this is a valid dimension.
            return [shape.reduce(1, *)]
        case .reshape(let target):
            guard TensorInfo.elementCount(target) == shape.reduce(1, *) else {
                throw modelError("\(label) reshapes \(shape) (\(shape.reduce(1, *)) elements) to \(target)")
            }
            return target
        case .scaleShift:
            try expectShape("scale", [features])
            if shapes["shift"] != nil { try expectShape("shift", [features]) }
            return shape
        case .layerNorm(_, _, let epsilon):
            // (1.5) Over the last axis, whatever the sample's rank; γ and β have one value per feature.
            if shapes["gamma"] != nil { try expectShape("gamma", [features]) }
            if shapes["beta"] != nil { try expectShape("beta", [features]) }
            guard epsilon.isFinite, epsilon >= 0 else {
                throw modelError("\(label) has epsilon \(epsilon), expected a finite number of 0 or more")
            }
            return shape
        case .conv2D, .factorizedConv2D, .depthwiseConv2D, .pool2D, .globalPool2D, .pad2D, .crop2D, .permute, .upsample2D, .conv2DTranspose:
            return try spatialOutputShape(of: operation, label: label, input: shape, shapes: shapes)
        case .store(let slot):
            slots.shapes[slot] = shape
            return shape
        case .load(let slot):
            guard let stored = slots.shapes[slot] else {
                throw modelError("\(label) loads slot \(slot), which no earlier layer stored")
            }
            return stored
        case let .merge(mode, slotList, _):
            return try mergeOutputShape(mode, slots: slotList, label: label, input: shape, stored: slots)
        case let .parametricActivation(function, _):
            if let problem = function.problem { throw modelError("\(label): \(problem.message)") }
            let alphas = shapes["alphas"]
            if function.usesAlphas {
                guard let alphas else { throw modelError("\(label) (prelu) has no alphas tensor") }
                guard ParametricActivation.alphasBroadcast(alphas, to: shape) else {
                    throw modelError("\(label) has alphas of shape \(alphas), which does not broadcast to its input \(shape) "
                                     + "(at most as many axes, aligned at the last, each 1 or the input's size)")
                }
            } else if alphas != nil {
                throw modelError("\(label) (\(function.name)) has an alphas tensor, which only prelu takes")
            }
            return shape
        }
    }

    /// The rules of a `merge` (format 1.4): every slot stored by an earlier layer; `subtract` has exactly one slot;
    /// `concatenate` joins samples with the same number of axes and the same sizes on all but the last, which add
    /// up; the other modes combine samples of the current one's shape.
    func mergeOutputShape(_ mode: MergeMode, slots slotList: [Int], label: String, input shape: [Int],
                          stored: SlotShapes) throws -> [Int] {
        // In the spec's order (section 4): every slot stored, then subtract's count, then the shapes.
        let others = try slotList.map { slot in
            guard let other = stored.shapes[slot] else {
                throw modelError("\(label) merges slot \(slot), which no earlier layer stored")
            }
            return (slot, other)
        }
        if mode == .subtract, slotList.count != 1 {
            throw modelError("\(label) subtracts \(slotList.count) slots, expected exactly 1")
        }
        var lastAxis = shape.last ?? 1
        for (slot, other) in others {
            if mode == .concatenate {
                guard other.count == shape.count, other.dropLast() == shape.dropLast() else {
                    throw modelError("\(label) concatenates slot \(slot) of shape \(other) with \(shape): "
                                     + "all axes but the last must agree")
                }
                let (sum, overflow) = lastAxis.addingReportingOverflow(other.last ?? 1)
                guard !overflow, sum <= Int(Int32.max) else {
                    throw modelError("\(label) concatenates more than \(Int32.max) values on the last axis")
                }
                lastAxis = sum
            } else {
                guard other == shape else {
                    throw modelError("\(label) (\(mode.name)) merges slot \(slot) of shape \(other) with \(shape), expected the same shape")
                }
            }
        }
        return mode == .concatenate ? shape.dropLast() + [lastAxis] : shape
    }

    /// The rules of a factorization record, in the spec's order: the rank, then the layer's own
    /// tensor shapes (`tensorShapes`), then energy, error and the spectrum.
    func validateFactorizationRecord(_ f: Factorization, label: String, tensorShapes: () throws -> Void) throws {
        guard f.rank >= 1, f.rank <= min(f.inFeatures, f.outFeatures) else {
            throw modelError("\(label) has rank \(f.rank), expected 1 to min(\(f.inFeatures), \(f.outFeatures))")
        }
        try tensorShapes()
        guard f.retainedEnergy >= 0, f.retainedEnergy <= 1 else {
            throw modelError("\(label) has retained energy \(f.retainedEnergy), expected 0 to 1")
        }
        guard f.relativeError >= 0, f.relativeError.isFinite else {
            throw modelError("\(label) has relative error \(f.relativeError), expected a finite value ≥ 0")
        }
        let values = f.singularValues
        guard values.count >= f.rank, values.count <= min(f.inFeatures, f.outFeatures) else {
            throw modelError("\(label) lists \(values.count) singular values, expected \(f.rank) to \(min(f.inFeatures, f.outFeatures))")
        }
        guard values.allSatisfy({ $0.isFinite && $0 >= 0 }), zip(values, values.dropFirst()).allSatisfy({ $0 >= $1 }) else {
            throw modelError("\(label) has singular values that are not finite, non-negative and descending")
        }
    }
}

/// The sample shapes held in the slots of a model (format 1.4) at one point of its layers, as they are walked in
/// order: what `load` and `merge` layers need to know their output shape.
public struct SlotShapes: Sendable, Equatable {
    public var shapes: [Int: [Int]] = [:]
    public init() {}
}

extension Layer where T == Tensor {
    /// The sample shape this layer produces from samples of shape `input`, checked by the rules a
    /// reader applies to a file (`spec/FORMAT.md` section 4). Throws `ContainerError` `.badModel`.
    /// A `load` or `merge` (format 1.4) needs the slots' shapes: without them (this form) it is refused as
    /// using a slot no earlier layer stored; walk a model with ``outputShape(input:slots:)``.
    public func outputShape(input: [Int]) throws -> [Int] {
        var slots = SlotShapes()
        return try outputShape(input: input, slots: &slots)
    }

    /// The sample shape this layer produces from samples of shape `input` when the model's slots hold `slots`
    /// (updated by a `store`), checked by the rules of `spec/FORMAT.md` section 4.
    public func outputShape(input: [Int], slots: inout SlotShapes) throws -> [Int] {
        var shapes: [String: [Int]] = [:]
        let described = operation.map { tensor, role -> Int in shapes[role] = tensor.shape; return 0 }
        let scratch = ContainerHeader(alignment: Container.defaultAlignment, metadata: [:], userMetadata: [:], tensors: [],
                                      model: ModelDescription(name: "", input: InputSpec(shape: input), layers: []))
        return try scratch.outputShape(of: described, label: "layer '\(escaped(name))'", input: input, shapes: shapes,
                                       slots: &slots)
    }
}
