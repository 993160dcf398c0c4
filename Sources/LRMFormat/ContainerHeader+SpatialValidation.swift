extension ContainerHeader {
    /// The output shape of a format 1.1 layer (convolution, pooling, padding, cropping, permutation) for
    /// an input of shape `shape`, checking the rules of `spec/FORMAT.md` section 4 in the order listed there.
    func spatialOutputShape(of operation: LayerOperation<Int>, label: String, input shape: [Int],
                            shapes: [String: [Int]]) throws -> [Int] {
        if case .permute(let axes) = operation {
            guard axes.count == shape.count, Set(axes) == Set(0..<shape.count) else {
                throw modelError("\(label) permutes axes \(axes), expected a permutation of 0..<\(shape.count) for its input \(shape)")
            }
            return axes.map { shape[$0] }
        }
        guard shape.count == 3 else {
            throw modelError("\(label) (\(operation.kindName)) needs an [h, w, c] input, found \(shape)")
        }
        let (h, w, c) = (shape[0], shape[1], shape[2])
        func tensorShape(_ role: String, rank: Int) throws -> [Int] {
            let found = shapes[role] ?? []
            guard found.count == rank else {
                throw modelError("\(label) has \(role) of shape \(found), expected \(rank) dimensions")
            }
            return found
        }
        func expect(_ role: String, _ expected: [Int]) throws {
            let found = shapes[role] ?? []
            guard found == expected else { throw modelError("\(label) has \(role) of shape \(found), expected \(expected)") }
        }
        func axes(kh: Int, kw: Int, _ g: ConvGeometry, input: (Int, Int)) throws -> (Int, Int) {
            guard let rows = WindowAxis.compute(length: input.0, window: kh, stride: g.strideH, dilation: g.dilationH, padding: g.padding),
                  let columns = WindowAxis.compute(length: input.1, window: kw, stride: g.strideW, dilation: g.dilationW, padding: g.padding) else {
                throw modelError("\(label) has a \(kh)×\(kw) window with strides \(g.strideH)×\(g.strideW), dilation "
                                 + "\(g.dilationH)×\(g.dilationW) and \(g.padding.name) padding, which does not fit its "
                                 + "\(input.0)×\(input.1) input (strides, dilations and windows are 1 to \(WindowAxis.maxParameter))")
            }
            return (rows.outputLength, columns.outputLength)
        }
        switch operation {
        case let .conv2D(_, bias, _, geometry):
            let k = try tensorShape("kernel", rank: 4)
            guard k[2] == c else {
                throw modelError("\(label) has a kernel \(k) for \(k[2]) input channels but receives \(c)")
            }
            if bias != nil { try expect("bias", [k[3]]) }
            let (oh, ow) = try axes(kh: k[0], kw: k[1], geometry, input: (h, w))
            return [oh, ow, k[3]]
        case let .depthwiseConv2D(_, bias, _, geometry):
            let k = try tensorShape("kernel", rank: 4)
            guard k[2] == c else {
                throw modelError("\(label) has a depthwise kernel \(k) for \(k[2]) input channels but receives \(c)")
            }
            let (product, overflow) = k[2].multipliedReportingOverflow(by: k[3])
            guard !overflow, product <= Int(Int32.max) else { throw modelError("\(label) has \(k[2])×\(k[3]) output channels") }
            if bias != nil { try expect("bias", [product]) }
            let (oh, ow) = try axes(kh: k[0], kw: k[1], geometry, input: (h, w))
            return [oh, ow, product]
        case let .factorizedConv2D(_, _, bias, _, form, geometry, f):
            let first = try tensorShape("first", rank: 4)
            let second = try tensorShape("second", rank: 4)
            let (kh, kw) = form == .channel ? (first[0], first[1]) : (first[0], second[1])
            let (cout, rank) = (second[3], first[3])
            guard let matrixIn = TensorInfo.elementCount(form == .channel ? [kh, kw, c] : [c, kh]),
                  let matrixOut = TensorInfo.elementCount(form == .channel ? [cout] : [kw, cout]) else {
                throw modelError("\(label) has factors \(first) and \(second) too large to multiply out")
            }
            guard f.inFeatures == matrixIn, f.outFeatures == matrixOut, f.rank == rank else {
                throw modelError("\(label) records a \(f.inFeatures)×\(f.outFeatures) matrix of rank \(f.rank), its \(form.name) "
                                 + "factors \(first) and \(second) on \(c) channels make \(matrixIn)×\(matrixOut) of rank \(rank)")
            }
            try validateFactorizationRecord(f, label: label) {
                switch form {
                case .channel:
                    try expect("first", [kh, kw, c, rank])
                    try expect("second", [1, 1, rank, cout])
                case .spatial:
                    try expect("first", [kh, 1, c, rank])
                    try expect("second", [1, kw, rank, cout])
                }
                if bias != nil { try expect("bias", [cout]) }
            }
            let (oh, ow) = try axes(kh: kh, kw: kw, geometry, input: (h, w))
            return [oh, ow, cout]
        case .pool2D(let p):
            let g = ConvGeometry(strideH: p.strideH, strideW: p.strideW, padding: p.padding)
            let (oh, ow) = try axes(kh: p.poolH, kw: p.poolW, g, input: (h, w))
            return [oh, ow, c]
        case .globalPool2D:
            return [c]
        case .pad2D(let m):
            let range = 0...WindowAxis.maxParameter
            guard [m.top, m.bottom, m.left, m.right].allSatisfy(range.contains) else {
                throw modelError("\(label) pads by \(m.top), \(m.bottom), \(m.left), \(m.right), expected 0 to \(WindowAxis.maxParameter) each")
            }
            return [h + m.top + m.bottom, w + m.left + m.right, c]
        case .crop2D(let m):
            let range = 0...WindowAxis.maxParameter
            guard [m.top, m.bottom, m.left, m.right].allSatisfy(range.contains),
                  m.top + m.bottom < h, m.left + m.right < w else {
                throw modelError("\(label) crops \(m.top)+\(m.bottom) rows and \(m.left)+\(m.right) columns from a \(h)×\(w) input, leaving nothing")
            }
            return [h - m.top - m.bottom, w - m.left - m.right, c]
        case let .conv2DTranspose(_, bias, _, g):
            let k = try tensorShape("kernel", rank: 4)
            guard k[3] == c else {
                throw modelError("\(label) has a transposed kernel \(k) ([kh, kw, cout, cin]) for \(k[3]) input channels but receives \(c)")
            }
            if bias != nil { try expect("bias", [k[2]]) }
            let range = 1...WindowAxis.maxParameter
            guard [g.strideH, g.strideW, g.dilationH, g.dilationW].allSatisfy(range.contains),
                  [g.cropTop, g.cropLeft].allSatisfy((0...WindowAxis.maxParameter).contains) else {
                throw modelError("\(label) has strides \(g.strideH)×\(g.strideW), dilation \(g.dilationH)×\(g.dilationW) and crop "
                                 + "\(g.cropTop), \(g.cropLeft): strides and dilations are 1 to \(WindowAxis.maxParameter), crops 0 to \(WindowAxis.maxParameter)")
            }
            guard (1...Int(Int32.max)).contains(g.outputH), (1...Int(Int32.max)).contains(g.outputW) else {
                throw modelError("\(label) makes a \(g.outputH)×\(g.outputW) output, expected 1 to \(Int32.max) rows and columns")
            }
            return [g.outputH, g.outputW, k[2]]
        case .upsample2D(let u):
            // Each product is at most (2³¹−1)·65,535 < 2⁴⁷: no overflow; the sample's element count is checked after the layer.
            let range = 1...WindowAxis.maxParameter
            guard range.contains(u.factorH), range.contains(u.factorW) else {
                throw modelError("\(label) upsamples by \(u.factorH)×\(u.factorW), expected factors of 1 to \(WindowAxis.maxParameter)")
            }
            guard h * u.factorH <= Int(Int32.max), w * u.factorW <= Int(Int32.max) else {
                throw modelError("\(label) upsamples its \(h)×\(w) input by \(u.factorH)×\(u.factorW) to \(h * u.factorH)×\(w * u.factorW), "
                                 + "more than \(Int32.max) rows or columns")
            }
            return [h * u.factorH, w * u.factorW, c]
        default:
            throw modelError("\(label) (\(operation.kindName)) is not a spatial layer")
        }
    }
}
