import Foundation
import LRMFormat
import Testing
@testable import LRMRuntime

/// Naive double-precision references for the spatial layers, written from the spec's formulas
/// (direct loops, no im2col), one sample of shape [h, w, c] at a time.
enum SpatialReference {
    /// Keras/TensorFlow's rule: out and the padding before, for one axis.
    static func axis(_ length: Int, _ window: Int, _ stride: Int, _ dilation: Int, same: Bool) -> (out: Int, before: Int) {
        let effective = (window - 1) * dilation + 1
        if !same { return ((length - effective) / stride + 1, 0) }
        let out = Int((Double(length) / Double(stride)).rounded(.up))
        let total = max((out - 1) * stride + effective - length, 0)
        return (out, total / 2)
    }

    static func conv(_ x: [Double], _ shape: [Int], kernel: [Double], _ k: [Int], bias: [Double]?, strides: (Int, Int),
                     dilation: (Int, Int), same: Bool) -> ([Double], [Int]) {
        let (h, w, c) = (shape[0], shape[1], shape[2])
        let rows = axis(h, k[0], strides.0, dilation.0, same: same), cols = axis(w, k[1], strides.1, dilation.1, same: same)
        let cout = k[3]
        var y = [Double](repeating: 0, count: rows.out * cols.out * cout)
        for oy in 0..<rows.out { for ox in 0..<cols.out { for o in 0..<cout {
            var sum = bias?[o] ?? 0
            for i in 0..<k[0] { for j in 0..<k[1] {
                let iy = oy * strides.0 + i * dilation.0 - rows.before, ix = ox * strides.1 + j * dilation.1 - cols.before
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                for ci in 0..<c { sum += x[(iy * w + ix) * c + ci] * kernel[((i * k[1] + j) * c + ci) * cout + o] }
            } }
            y[(oy * cols.out + ox) * cout + o] = sum
        } } }
        return (y, [rows.out, cols.out, cout])
    }

    static func pool(_ x: [Double], _ shape: [Int], window: (Int, Int), strides: (Int, Int), same: Bool, max isMax: Bool) -> [Double] {
        let (h, w, c) = (shape[0], shape[1], shape[2])
        let rows = axis(h, window.0, strides.0, 1, same: same), cols = axis(w, window.1, strides.1, 1, same: same)
        var y: [Double] = []
        for oy in 0..<rows.out { for ox in 0..<cols.out { for ci in 0..<c {
            var values: [Double] = []
            for i in 0..<window.0 { for j in 0..<window.1 {
                let iy = oy * strides.0 + i - rows.before, ix = ox * strides.1 + j - cols.before
                if iy >= 0, iy < h, ix >= 0, ix < w { values.append(x[(iy * w + ix) * c + ci]) }
            } }
            y.append(isMax ? values.max() ?? 0 : values.reduce(0, +) / Double(values.count))
        } } }
        return y
    }
}

private func randomValues(_ count: Int, _ rng: inout SeededGenerator) -> [Double] {
    (0..<count).map { _ in Double(Float.random(in: -1...1, using: &rng)) }
}

private func tensor(_ shape: [Int], _ values: [Double]) -> Tensor { Tensor(shape: shape, floats: values.map(Float.init)) }

private func run(_ layers: [Layer<Tensor>], input shape: [Int], _ x: [Double], samples: Int = 1, batchSize: Int = 1024) throws -> [Double] {
    let model = Model(name: "m", input: InputSpec(shape: shape, layout: .hwc), layers: layers)
    _ = try model.plan()  // the container accepts it
    let runtime = try InferenceModel(model)
    return try x.map(Float.init).withUnsafeBufferPointer {
        try runtime.run($0, sampleCount: samples, batchSize: batchSize)
    }.map(Double.init)
}

private func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

@Suite("Spatial forward pass")
struct SpatialInferenceTests {
    struct ConvCase: CustomStringConvertible, Sendable {
        var input: [Int], kernel: [Int], strides: (Int, Int), dilation: (Int, Int), same: Bool, bias: Bool
        var description: String { "\(input) kernel \(kernel) strides \(strides) dilation \(dilation) \(same ? "same" : "valid")" }
    }

    static let convCases: [ConvCase] = [
        ConvCase(input: [7, 6, 3], kernel: [3, 3, 3, 4], strides: (1, 1), dilation: (1, 1), same: false, bias: true),
        ConvCase(input: [7, 6, 3], kernel: [3, 3, 3, 4], strides: (1, 1), dilation: (1, 1), same: true, bias: false),
        ConvCase(input: [8, 7, 2], kernel: [3, 2, 2, 5], strides: (2, 3), dilation: (1, 1), same: true, bias: true),
        ConvCase(input: [8, 7, 2], kernel: [4, 4, 2, 3], strides: (2, 2), dilation: (1, 1), same: true, bias: true),
        ConvCase(input: [9, 9, 2], kernel: [3, 3, 2, 3], strides: (1, 1), dilation: (2, 3), same: true, bias: true),
        ConvCase(input: [9, 9, 2], kernel: [3, 3, 2, 3], strides: (1, 1), dilation: (2, 2), same: false, bias: true),
        ConvCase(input: [5, 5, 4], kernel: [1, 1, 4, 6], strides: (1, 1), dilation: (1, 1), same: false, bias: true),
        ConvCase(input: [5, 6, 4], kernel: [1, 1, 4, 6], strides: (2, 2), dilation: (1, 1), same: true, bias: false),
        // A window wider than the input: patch rows cut off on both sides at once.
        ConvCase(input: [4, 2, 3], kernel: [3, 5, 3, 2], strides: (1, 1), dilation: (1, 1), same: true, bias: true),
    ]

    /// Float32 sums of at most ~50 products of values in [−1, 1]: 1e-5 absolute is ample.
    static let tolerance = 1e-5

    @Test("a convolution matches the direct-loop reference", arguments: convCases)
    func convolutionMatchesReference(_ c: ConvCase) throws {
        var rng = SeededGenerator(seed: 11)
        let samples = 3
        let x = randomValues(samples * c.input.reduce(1, *), &rng)
        let k = randomValues(c.kernel.reduce(1, *), &rng)
        let b = c.bias ? randomValues(c.kernel[3], &rng) : nil
        let g = ConvGeometry(strideH: c.strides.0, strideW: c.strides.1, dilationH: c.dilation.0, dilationW: c.dilation.1,
                             padding: c.same ? .same : .valid)
        let layer = Layer(name: "conv", operation: .conv2D(kernel: tensor(c.kernel, k), bias: b.map { tensor([c.kernel[3]], $0) },
                                                            activation: .linear, geometry: g))
        // Batches of 2 exercise a batch boundary inside the three samples.
        let got = try run([layer], input: c.input, x, samples: samples, batchSize: 2)
        let size = c.input.reduce(1, *)
        var expected: [Double] = []
        for s in 0..<samples {
            expected += SpatialReference.conv(Array(x[(s * size)..<((s + 1) * size)]), c.input, kernel: k, c.kernel, bias: b,
                                              strides: c.strides, dilation: c.dilation, same: c.same).0
        }
        #expect(maxDifference(got, expected) < Self.tolerance)
    }

    @Test("a convolution gives the reference's values whatever the chunk of patch rows, chunks ending inside output rows and samples",
          arguments: [convCases[1], convCases[2], convCases[4], convCases[6], convCases[8]])
    func chunkingKeepsValues(_ c: ConvCase) throws {
        var rng = SeededGenerator(seed: 13)
        let samples = 3
        let x = randomValues(samples * c.input.reduce(1, *), &rng).map(Float.init)
        let k = randomValues(c.kernel.reduce(1, *), &rng).map(Float.init)
        let b = c.bias ? randomValues(c.kernel[3], &rng).map(Float.init) : nil
        let plan = try #require(ConvolutionPlan(input: c.input, kernelShape: c.kernel, kernel: k, bias: b, activation: .relu,
                                                strides: c.strides, dilation: c.dilation, padding: c.same ? .same : .valid))
        let size = c.input.reduce(1, *)
        var expected: [Double] = []
        for s in 0..<samples {
            expected += SpatialReference.conv(Array(x[(s * size)..<((s + 1) * size)]).map(Double.init), c.input, kernel: k.map(Double.init),
                                              c.kernel, bias: b?.map(Double.init), strides: c.strides, dilation: c.dilation, same: c.same).0.map { max($0, 0) }
        }
        // One chunk, then chunks of 1, 3 and outW + 1 rows (OpenBLAS may take another kernel for a tiny product, so
        // the last bits can differ; every value stays the reference's).
        for rowsPerChunk in [Int.max / plan.patchLength, 1, 3, plan.outW + 1] {
            let got = try plan.apply(x, samples: samples, patchFloats: rowsPerChunk * plan.patchLength)
            #expect(maxDifference(got.map(Double.init), expected) < Self.tolerance, "\(rowsPerChunk) rows per chunk")
        }
    }

    @Test("ReLU zeroes negatives and passes −0 and NaN through unchanged")
    func reluKeepsSignedZeroAndNaN() {
        var values: [Float] = [-2, -0.0, 0, 3, .nan, -.infinity, .infinity]
        values.withUnsafeMutableBufferPointer { Activation.relu.apply(to: $0, rows: 1, width: 7) }
        #expect(values[0] == 0 && values[0].sign == .plus)
        #expect(values[1] == 0 && values[1].sign == .minus)
        #expect(values[2] == 0 && values[3] == 3 && values[4].isNaN && values[5] == 0 && values[6] == .infinity)
    }

    @Test("both factorized forms equal the convolution with their product kernel, strides and padding split exactly",
          arguments: [ConvFactorizationForm.channel, .spatial], [false, true])
    func factorizedFormsMatchProductKernel(_ form: ConvFactorizationForm, same: Bool) throws {
        var rng = SeededGenerator(seed: 5)
        let (kh, kw, cin, cout, rank) = (3, 3, 3, 4, 2)
        let input = [9, 8, cin]
        let firstShape = form == .channel ? [kh, kw, cin, rank] : [kh, 1, cin, rank]
        let secondShape = form == .channel ? [1, 1, rank, cout] : [1, kw, rank, cout]
        let a = randomValues(firstShape.reduce(1, *), &rng), b = randomValues(secondShape.reduce(1, *), &rng)
        let bias = randomValues(cout, &rng)
        // The kernel the two halves compute together.
        var product = [Double](repeating: 0, count: kh * kw * cin * cout)
        for i in 0..<kh { for j in 0..<kw { for c in 0..<cin { for o in 0..<cout { for r in 0..<rank {
            let left = form == .channel ? a[((i * kw + j) * cin + c) * rank + r] : a[(i * cin + c) * rank + r]
            let right = form == .channel ? b[r * cout + o] : b[(j * rank + r) * cout + o]
            product[((i * kw + j) * cin + c) * cout + o] += left * right
        } } } } }
        let g = ConvGeometry(strideH: 2, strideW: 3, dilationH: 1, dilationW: 1, padding: same ? .same : .valid)
        let f = Factorization(inFeatures: form == .channel ? kh * kw * cin : cin * kh, outFeatures: form == .channel ? cout : kw * cout,
                              rank: rank, retainedEnergy: 1, relativeError: 0, policy: "rank", policyParameter: 2, method: "test",
                              singularValues: [2, 1])
        let layer = Layer(name: "f", operation: .factorizedConv2D(first: tensor(firstShape, a), second: tensor(secondShape, b),
                                                                   bias: tensor([cout], bias), activation: .linear, form: form,
                                                                   geometry: g, factorization: f))
        let x = randomValues(input.reduce(1, *), &rng)
        let got = try run([layer], input: input, x)
        let expected = SpatialReference.conv(x, input, kernel: product, [kh, kw, cin, cout], bias: bias, strides: (2, 3),
                                             dilation: (1, 1), same: same).0
        #expect(maxDifference(got, expected) < Self.tolerance)
    }

    @Test("a depthwise convolution with multiplier 2 matches the reference")
    func depthwiseMatchesReference() throws {
        var rng = SeededGenerator(seed: 7)
        let (input, m) = ([6, 7, 3], 2)
        let k = randomValues(3 * 3 * 3 * m, &rng), bias = randomValues(3 * m, &rng)
        let x = randomValues(input.reduce(1, *), &rng)
        let g = ConvGeometry(strideH: 2, strideW: 1, padding: .same)
        let layer = Layer(name: "dw", operation: .depthwiseConv2D(kernel: tensor([3, 3, 3, m], k), bias: tensor([3 * m], bias),
                                                                   activation: .relu, geometry: g))
        let got = try run([layer], input: input, x)
        // Depthwise = a full convolution whose kernel is zero between different channels.
        var full = [Double](repeating: 0, count: 3 * 3 * 3 * 3 * m)
        for i in 0..<3 { for j in 0..<3 { for c in 0..<3 { for q in 0..<m {
            full[((i * 3 + j) * 3 + c) * (3 * m) + c * m + q] = k[((i * 3 + j) * 3 + c) * m + q]
        } } } }
        let expected = SpatialReference.conv(x, input, kernel: full, [3, 3, 3, 3 * m], bias: bias, strides: (2, 1),
                                             dilation: (1, 1), same: true).0.map { max($0, 0) }
        #expect(maxDifference(got, expected) < Self.tolerance)
    }

    @Test("pooling matches the reference", arguments: [PoolMode.max, .average], [WindowPadding.valid, .same])
    func poolingMatchesReference(_ mode: PoolMode, _ padding: WindowPadding) throws {
        var rng = SeededGenerator(seed: 3)
        let input = [7, 8, 2]
        let x = randomValues(input.reduce(1, *), &rng)
        let layer = Layer<Tensor>(name: "p", operation: .pool2D(Pooling(mode: mode, poolH: 3, poolW: 2, strideH: 2, strideW: 3, padding: padding)))
        let got = try run([layer], input: input, x)
        let expected = SpatialReference.pool(x, input, window: (3, 2), strides: (2, 3), same: padding == .same, max: mode == .max)
        #expect(maxDifference(got, expected) < 1e-6)
    }

    @Test("global pooling, zero padding, cropping and permutation move the right elements")
    func layoutLayers() throws {
        let input = [2, 3, 2]
        let x = (0..<12).map(Double.init)
        let avg = try run([Layer(name: "g", operation: .globalPool2D(.average))], input: input, x)
        #expect(avg == [5, 6])
        let mx = try run([Layer(name: "g", operation: .globalPool2D(.max))], input: input, x)
        #expect(mx == [10, 11])
        let padded = try run([Layer(name: "p", operation: .pad2D(Margins(top: 1, bottom: 0, left: 0, right: 1)))], input: input, x)
        // Row 0 is zeros (4 positions × 2 channels), then each input row gains a zero column at the right.
        #expect(padded == [0, 0, 0, 0, 0, 0, 0, 0] + [0, 1, 2, 3, 4, 5, 0, 0] + [6, 7, 8, 9, 10, 11, 0, 0])
        let cropped = try run([Layer(name: "c", operation: .crop2D(Margins(top: 1, bottom: 0, left: 1, right: 1)))], input: input, x)
        #expect(cropped == [8, 9])
        let permuted = try run([Layer(name: "t", operation: .permute([2, 0, 1]))], input: input, x)
        // CHW of the HWC sample: channel 0 is the even numbers.
        #expect(permuted == [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11])
    }

    @Test("a small CNN gives the same outputs in batches of 1 and of 1024")
    func batchingDoesNotChangeResults() throws {
        var rng = SeededGenerator(seed: 9)
        let layers: [Layer<Tensor>] = [
            Layer(name: "c1", operation: .conv2D(kernel: tensor([3, 3, 1, 4], randomValues(36, &rng)), bias: tensor([4], randomValues(4, &rng)),
                                                 activation: .relu, geometry: ConvGeometry(padding: .same))),
            Layer(name: "p1", operation: .pool2D(Pooling(mode: .max, poolH: 2, poolW: 2, strideH: 2, strideW: 2, padding: .valid))),
            Layer(name: "f", operation: .flatten),
            Layer(name: "d", operation: .dense(kernel: tensor([36, 3], randomValues(108, &rng)), bias: nil, activation: .softmax)),
        ]
        let x = randomValues(5 * 36, &rng)
        let one = try run(layers, input: [6, 6, 1], x, samples: 5, batchSize: 1)
        let all = try run(layers, input: [6, 6, 1], x, samples: 5)
        #expect(maxDifference(one, all) < 1e-6)
        #expect(one.count == 15)
    }
}
