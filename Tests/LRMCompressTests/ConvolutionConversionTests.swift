import Foundation
import LRMFormat
import LRMRuntime
import Testing
@testable import LRMCompress

@Suite("Converter: convolutions in the channel and spatial forms")
struct ConvolutionConversionTests {
    /// A model with one 3×3 convolution (3 → 16 channels) on 9×8×3 inputs, then flatten and a small dense head.
    static func model(geometry: ConvGeometry, seed: UInt64 = 7) -> Model {
        var rng = SeededGenerator(seed: seed)
        let kernel = Tensor(shape: [3, 3, 3, 16], floats: (0..<(3 * 3 * 3 * 16)).map { _ in rng.nextSymmetricFloat() })
        let bias = Tensor(shape: [16], floats: (0..<16).map { _ in 0.1 * rng.nextSymmetricFloat() })
        var model = Model(name: "cnn", input: InputSpec(shape: [9, 8, 3], layout: .hwc), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: kernel, bias: bias, activation: .relu, geometry: geometry)),
            Layer(name: "flat", operation: .flatten),
        ])
        let features = (try? model.layers[0].outputShape(input: [9, 8, 3]))?.reduce(1, *) ?? 0
        model.layers.append(Layer(name: "out", operation: .dense(
            kernel: Tensor(shape: [features, 4], floats: (0..<(features * 4)).map { _ in 0.1 * rng.nextSymmetricFloat() }),
            bias: nil, activation: .linear)))
        return model
    }

    static let geometries = [
        ConvGeometry(),
        ConvGeometry(strideH: 2, strideW: 3, padding: .same),
        ConvGeometry(dilationH: 2, dilationW: 2, padding: .valid),
        ConvGeometry(strideH: 1, strideW: 2, dilationH: 2, dilationW: 1, padding: .same),
    ]

    /// The kernel K[i, j, ci, o] = Σ_r first·second that a factorized layer stands for (`spec/FORMAT.md` 3.5).
    static func reconstructed(first: Tensor, second: Tensor, form: ConvFactorizationForm, kernelShape: [Int]) -> [Float] {
        let (kh, kw, cin, cout) = (kernelShape[0], kernelShape[1], kernelShape[2], kernelShape[3])
        let a = first.floats(), b = second.floats()
        let k = first.shape[3]
        var kernel = [Float](repeating: 0, count: kh * kw * cin * cout)
        for i in 0..<kh { for j in 0..<kw { for ci in 0..<cin { for o in 0..<cout {
            var sum: Float = 0
            for r in 0..<k {
                switch form {
                case .channel: sum += a[((i * kw + j) * cin + ci) * k + r] * b[r * cout + o]
                case .spatial: sum += a[(i * cin + ci) * k + r] * b[(j * k + r) * cout + o]
                }
            }
            kernel[((i * kw + j) * cin + ci) * cout + o] = sum
        } } } }
        return kernel
    }

    @Test("a factorized convolution computes exactly the convolution with its reconstructed kernel (strides, dilation and padding split between the halves)",
          arguments: [ConversionOptions.ConvolutionForm.channel, .spatial], geometries)
    func factorsRunAsTheirProduct(_ form: ConversionOptions.ConvolutionForm, _ geometry: ConvGeometry) throws {
        let model = Self.model(geometry: geometry)
        var options = ConversionOptions(policy: .rank(2))
        options.convolutions = form
        let result = try Converter.convert(model, options: options)
        guard case let .factorizedConv2D(first, second, bias, activation, storedForm, storedGeometry, f) = result.model.layers[0].operation else {
            Issue.record("conv was not factorized: \(result.decisions[0].reason)")
            return
        }
        #expect(storedForm.name == form.rawValue)
        #expect(storedGeometry == geometry)
        #expect(f.rank == 2)
        #expect(form == .channel ? (f.inFeatures, f.outFeatures) == (27, 16) : (f.inFeatures, f.outFeatures) == (9, 48))
        #expect(first.shape == (form == .channel ? [3, 3, 3, 2] : [3, 1, 3, 2]))
        #expect(second.shape == (form == .channel ? [1, 1, 2, 16] : [1, 3, 2, 16]))
        #expect(result.decisions[0].parametersAfter == 2 * (f.inFeatures + f.outFeatures) + 16)
        var expected = result.model
        expected.layers[0] = Layer(name: "conv", operation: .conv2D(
            kernel: Tensor(shape: [3, 3, 3, 16], floats: Self.reconstructed(first: first, second: second, form: storedForm, kernelShape: [3, 3, 3, 16])),
            bias: bias, activation: activation, geometry: geometry))
        var rng = SeededGenerator(seed: 3)
        let x = (0..<(5 * 9 * 8 * 3)).map { _ in rng.nextSymmetricFloat() }
        let got = try InferenceModel(result.model).run(x, sampleCount: 5)
        let want = try InferenceModel(expected).run(x, sampleCount: 5)
        // Both are float32 sums of the same products in different orders: |Δ| ≤ 1e-5 at these magnitudes (≤ ~10).
        #expect(zip(got, want).map { abs($0 - $1) }.max() ?? 1 <= 1e-5)
        // And the factorization is a real approximation: the record's error is the spectrum's tail.
        #expect(f.relativeError > 0 && f.relativeError < 1)
    }

    @Test("auto picks, per layer, the form that stores fewer parameters; none keeps the convolution")
    func autoAndNone() throws {
        let model = Self.model(geometry: ConvGeometry())
        var options = ConversionOptions(policy: .rank(2))
        var after: [String: Int] = [:]
        for form in ConversionOptions.ConvolutionForm.allCases {
            options.convolutions = form
            after[form.rawValue] = try Converter.convert(model, options: options).decisions[0].parametersAfter
        }
        // channel: 2·(27 + 16) + 16 = 102; spatial: 2·(9 + 48) + 16 = 130.
        #expect(after["channel"] == 102 && after["spatial"] == 130 && after["auto"] == 102)
        #expect(after["none"] == 3 * 3 * 3 * 16 + 16)
    }

    @Test("a convolution whose factors would not pay is kept, with the break-even rule as the reason")
    func breakEven() throws {
        let model = Self.model(geometry: ConvGeometry())
        var options = ConversionOptions(policy: .rank(16))
        options.convolutions = .channel
        let result = try Converter.convert(model, options: options)
        guard case .conv2D = result.model.layers[0].operation else { Issue.record("factorized at full rank"); return }
        #expect(result.decisions[0].outcome == .notWorthIt)
        #expect(result.decisions[0].reason.contains("kept as a convolution"))
    }

    @Test("with i8 or i4 factors the dense layers get integer codes and factorized convolutions keep float factors (format 1.2 quantizes dense kinds only)",
          arguments: [DType.int8, .int4])
    func quantizedFactorsSkipConvolutions(_ dtype: DType) throws {
        let model = Self.model(geometry: ConvGeometry())
        var options = ConversionOptions(policy: .rank(2))
        options.convolutions = .channel
        options.quantization = QuantizationOptions(dtype: dtype)
        let result = try Converter.convert(model, options: options)
        guard case let .factorizedConv2D(first, second, _, _, _, _, f) = result.model.layers[0].operation else {
            Issue.record("conv was not factorized: \(result.decisions[0].reason)")
            return
        }
        #expect(first.dtype == .float32 && second.dtype == .float32 && first.quantization == nil && second.quantization == nil)
        #expect(result.decisions[0].reason.contains("integer codes are for dense layers only"), "\(result.decisions[0].reason)")
        guard case let .factorizedDense(us, vt, _, _, _) = result.model.layers[2].operation else {
            Issue.record("out was not factorized: \(result.decisions[2].reason)")
            return
        }
        #expect(us.dtype == dtype && vt.dtype == dtype && us.quantization != nil)
        // The header validates (it used to refuse 'first' as a weight a convolution cannot quantize), and the
        // convolution's record is its float factors' error.
        _ = try result.model.plan()
        #expect(result.model.layers.map(\.operation.kindName) == ["factorized_conv2d", "flatten", "factorized_dense"])
        let kernel = Self.reconstructed(first: first, second: second, form: .channel, kernelShape: [3, 3, 3, 16])
        guard case let .conv2D(original, _, _, _) = model.layers[0].operation else { return }
        let w = original.floats()
        let error = (zip(kernel, w).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / w.map { Double($0 * $0) }.reduce(0, +)).squareRoot()
        #expect(abs(error - f.relativeError) < 1e-5, "measured \(error), recorded \(f.relativeError)")
    }
}
