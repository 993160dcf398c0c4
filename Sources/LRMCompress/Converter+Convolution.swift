import Foundation
public import LRMFormat
import LRMLinearAlgebra

/// Factorizing convolutions: a kernel K of shape (kh, kw, cin, cout) is viewed as a matrix in one of two
/// ways (`spec/FORMAT.md` section 3.5), truncated exactly as a dense kernel is (same policies, overrides,
/// break-even rule and Eckart–Young check), and stored as a `factorized_conv2d` layer.
///
/// - channel: M = K as (kh·kw·cin) × cout, row (i·kw + j)·cin + ci (K's own row-major order). M ≈ A·B gives
///   `first` = A as [kh, kw, cin, k] and `second` = B as [1, 1, k, cout].
/// - spatial: M[ci·kh + i, j·cout + o] = K[i, j, ci, o], a (cin·kh) × (kw·cout) matrix. M ≈ A·B gives
///   `first`[i, 0, ci, r] = A[ci·kh + i, r] and `second`[0, j, r, o] = B[r, j·cout + o], so that
///   Σ_r first[i, 0, ci, r]·second[0, j, r, o] = M_k[ci·kh + i, j·cout + o].
///
/// The data-aware metrics (whitened, activation-scaled) apply to the channel form, whose matrix rows are the
/// features of the layer's im2col patches, whose statistics calibration collects; the spatial form's rows
/// (ci·kh + i) are not features of any input the layer sees, so it is truncated in the plain metric.
extension Converter {
    ///
    /// With `cost` (the layer's on the input it gets), a form pays only where it stores fewer parameters **and** costs
    /// fewer multiply-accumulates per sample (``ConvolutionCost``): `auto` chooses among the forms that do; an explicit
    /// form that would cost more keeps the layer as a convolution, its decision saying why
    /// (``LayerDecision/costlierMultiplyAccumulates``).
    static func convertConvolution(_ layer: Layer<Tensor>, options: ConversionOptions,
                                   cost: ConvolutionCost? = nil) throws -> (Layer<Tensor>, LayerDecision) {
        guard case let .conv2D(kernel, _, _, _) = layer.operation, kernel.shape.count == 4 else {
            preconditionFailure("conv2d layers only")
        }
        let before = parameterCount(layer)
        guard let policy = options.policy(forLayer: layer.name) else {
            return (layer, LayerDecision(name: layer.name, kind: "conv2d", outcome: .excluded, parametersBefore: before,
                                         parametersAfter: before, seconds: 0, reason: "excluded by an override"))
        }
        // Format 1.2 stores integer codes for dense kinds only: a factorized convolution keeps float factors
        // (in --factor-dtype when that is a float type) whatever --factor-dtype i8/i4 asks of the dense layers.
        let quantized = options.quantization != nil
        let forms: [ConvFactorizationForm] = switch options.convolutions {
        case .channel: [.channel]
        case .spatial: [.spatial]
        default: [.channel, .spatial]
        }
        var best: (layer: Layer<Tensor>, decision: LayerDecision)?
        for form in forms {
            let spectrum = try convolutionSpectrum(of: layer, form: form, policy: policy, options: options)
            let (result, applied) = try applyConvolution(spectrum, to: layer, form: form, rank: spectrum.rank(for: policy),
                                                         policyName: policy.name, policyParameter: policy.parameter,
                                                         policyDescription: policy.description, options: options, cost: cost)
            var decision = applied
            if quantized, decision.outcome == .factorized {
                decision.noteFloatConvolutionFactors(options.factorDType)
            }
            // auto: the form that stores fewer parameters; a factorized form beats one kept as it is.
            if let current = best, current.decision.parametersAfter <= decision.parametersAfter {
                // Both kept whole, this one because it would cost more multiply-accumulates: the decision says that too.
                if current.decision.outcome != .factorized, decision.costlierMultiplyAccumulates != nil {
                    best?.decision.reason += "; " + decision.reason
                    best?.decision.costlierMultiplyAccumulates = decision.costlierMultiplyAccumulates
                }
                continue
            }
            best = (result, decision)
        }
        guard let best else { preconditionFailure("at least one form is tried") }
        return best
    }

    /// The options a convolution is truncated with in `form`: float factors (format 1.2's integer codes are for
    /// dense kinds only), and the plain metric unless the form is the channel one and calibration statistics
    /// of the layer's patches are there.
    static func convolutionOptions(_ options: ConversionOptions, layer: String, form: ConvFactorizationForm,
                                   patchLength: Int) -> ConversionOptions {
        var adjusted = options
        adjusted.quantization = nil
        if form != .channel || options.calibration?.layers[layer]?.features != patchLength { adjusted.metric = .plain }
        return adjusted
    }

    /// The spectrum of a convolution's kernel seen as `form`'s matrix (plain metric), named after the layer.
    public static func convolutionSpectrum(of layer: Layer<Tensor>, form: ConvFactorizationForm, policy: RankPolicy,
                                           options: ConversionOptions) throws -> LayerSpectrum {
        guard case let .conv2D(kernel, bias, activation, _) = layer.operation, kernel.shape.count == 4 else {
            throw ConversionError(kind: .decomposition, layer: layer.name, message: "not a 2-D convolution")
        }
        let standIn = Layer(name: layer.name, operation: LayerOperation<Tensor>.dense(kernel: convolutionMatrix(kernel, form: form),
                                                                                     bias: bias, activation: activation))
        return try spectrum(of: standIn, policy: policy,
                            options: convolutionOptions(options, layer: layer.name, form: form, patchLength: kernel.shape[0] * kernel.shape[1] * kernel.shape[2]))
    }

    /// The convolution truncated to `rank` in `form` (its spectrum from ``convolutionSpectrum(of:form:policy:options:)``):
    /// a `factorized_conv2d` layer, or the layer unchanged when the rank does not pay: when it would store as many
    /// parameters or more, or, with `cost` (the layer's on the input it gets), cost as many multiply-accumulates per
    /// sample or more (the decision then records both counts, ``LayerDecision/costlierMultiplyAccumulates``).
    public static func applyConvolution(_ spectrum: LayerSpectrum, to layer: Layer<Tensor>, form: ConvFactorizationForm, rank: Int,
                                        policyName: String, policyParameter: Double, policyDescription: String,
                                        options: ConversionOptions, cost: ConvolutionCost? = nil) throws -> (Layer<Tensor>, LayerDecision) {
        guard case let .conv2D(kernel, bias, activation, geometry) = layer.operation, kernel.shape.count == 4 else {
            preconditionFailure("conv2d layers only")
        }
        let adjusted = convolutionOptions(options, layer: layer.name, form: form, patchLength: kernel.shape[0] * kernel.shape[1] * kernel.shape[2])
        let matrix = spectrum.kernel
        let standIn = Layer(name: layer.name, operation: LayerOperation<Tensor>.dense(
            kernel: Tensor(shape: [matrix.rows, matrix.columns], floats: matrix.values), bias: bias, activation: activation))
        var (result, decision) = try apply(spectrum, to: standIn, rank: rank, policyName: policyName, policyParameter: policyParameter,
                                           policyDescription: policyDescription, options: adjusted)
        decision.kind = "conv2d"
        decision.reason = "\(form.name) form \(matrix.rows)×\(matrix.columns): "
            + decision.reason.replacingOccurrences(of: "kept dense", with: "kept as a convolution")
        if case let .factorizedDense(_, _, _, _, factorization) = result.operation, let cost,
           !cost.savesMultiplyAccumulates(form: form, rank: factorization.rank) {
            let (whole, factorized) = (cost.wholeMultiplyAccumulates, cost.multiplyAccumulates(form: form, rank: factorization.rank))
            let more = whole > 0 ? String(format: "%.0f", (Double(factorized) / Double(whole) - 1) * 100) : "?"
            decision.reason = "\(form.name) form \(matrix.rows)×\(matrix.columns): k = \(factorization.rank) would store "
                + "\(decision.parametersAfter) parameters instead of \(decision.parametersBefore) but cost \(factorized) "
                + "multiply-accumulates per sample instead of \(whole) (\(more)% more"
                + (form == .spatial ? "; its kh×1 half runs at the input's full width, \(cost.input.count == 3 ? cost.input[1] : 1)" : "")
                + "): kept as a convolution"
            decision.outcome = .notWorthIt
            decision.parametersAfter = decision.parametersBefore
            decision.costlierMultiplyAccumulates = (whole, factorized)
            return (layer, decision)
        }
        if case let .factorizedDense(us, vt, _, _, factorization) = result.operation {
            let (first, second) = convolutionFactors(us: us, vt: vt, kernelShape: kernel.shape, form: form)
            result = Layer(name: layer.name, operation: .factorizedConv2D(
                first: first, second: second, bias: bias, activation: activation, form: form, geometry: geometry,
                factorization: factorization))
        } else {
            result = layer
        }
        return (result, decision)
    }

    /// The shape of the matrix that `form` factorizes, for a kernel of shape (kh, kw, cin, cout): (kh·kw·cin) × cout for
    /// the channel form, (cin·kh) × (kw·cout) for the spatial one.
    public static func convolutionMatrixShape(kernelShape: [Int], form: ConvFactorizationForm) -> (rows: Int, columns: Int) {
        let (kh, kw, cin, cout) = (kernelShape[0], kernelShape[1], kernelShape[2], kernelShape[3])
        return switch form {
        case .channel: (kh * kw * cin, cout)
        case .spatial: (cin * kh, kw * cout)
        }
    }

    /// The kernel as the matrix that `form` factorizes, in float32 (float64 kernels keep their values as far as float32 does).
    static func convolutionMatrix(_ kernel: Tensor, form: ConvFactorizationForm) -> Tensor {
        let (kh, kw, cin, cout) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
        let (rows, columns) = convolutionMatrixShape(kernelShape: kernel.shape, form: form)
        let values = kernel.floats()
        switch form {
        case .channel:
            return Tensor(shape: [rows, columns], floats: values)
        case .spatial:
            var m = [Float](repeating: 0, count: values.count)
            for i in 0..<kh { for j in 0..<kw { for ci in 0..<cin { for o in 0..<cout {
                m[(ci * kh + i) * (kw * cout) + j * cout + o] = values[((i * kw + j) * cin + ci) * cout + o]
            } } } }
            return Tensor(shape: [rows, columns], floats: m)
        }
    }

    /// `first` and `second` of a factorized convolution from the factors of its matrix (see the type's comment).
    static func convolutionFactors(us: Tensor, vt: Tensor, kernelShape: [Int], form: ConvFactorizationForm) -> (Tensor, Tensor) {
        let (kh, kw, cin, cout) = (kernelShape[0], kernelShape[1], kernelShape[2], kernelShape[3])
        let k = us.shape[1]
        switch form {
        case .channel:
            return (Tensor(shape: [kh, kw, cin, k], floats: us.floats(), dtype: us.dtype),
                    Tensor(shape: [1, 1, k, cout], floats: vt.floats(), dtype: vt.dtype))
        case .spatial:
            let a = us.floats(), b = vt.floats()
            let offsets = spatialFactorOffsets(kh: kh, kw: kw, cin: cin, cout: cout, rank: k)
            return (Tensor(shape: [kh, 1, cin, k], floats: offsets.first.map { a[$0] }, dtype: us.dtype),
                    Tensor(shape: [1, kw, k, cout], floats: offsets.second.map { b[$0] }, dtype: vt.dtype))
        }
    }

    /// The spatial form's A (cin·kh × k) and B (k × kw·cout) from the halves `first` [kh, 1, cin, k] and `second`
    /// [1, kw, k, cout]: the inverse of ``convolutionFactors(us:vt:kernelShape:form:)``, in float32.
    static func spatialFactorMatrices(first: Tensor, second: Tensor) throws -> (a: Matrix, b: Matrix) {
        let (kh, cin, k, kw, cout) = (first.shape[0], first.shape[2], first.shape[3], second.shape[1], second.shape[3])
        let offsets = spatialFactorOffsets(kh: kh, kw: kw, cin: cin, cout: cout, rank: k)
        let x = first.floats(), y = second.floats()
        var a = [Float](repeating: 0, count: cin * kh * k), b = [Float](repeating: 0, count: k * kw * cout)
        for (index, offset) in offsets.first.enumerated() { a[offset] = x[index] }
        for (index, offset) in offsets.second.enumerated() { b[offset] = y[index] }
        return (try Matrix(rows: cin * kh, columns: k, values: a), try Matrix(rows: k, columns: kw * cout, values: b))
    }

    /// The spatial form's layout (see the type's comment), one place for both directions: for each element of `first`
    /// [kh, 1, cin, k] in its row-major order, its offset in A (cin·kh × k), A[ci·kh + i, r] = first[i, 0, ci, r]; for each
    /// of `second` [1, kw, k, cout], its offset in B (k × kw·cout), B[r, j·cout + o] = second[0, j, r, o].
    static func spatialFactorOffsets(kh: Int, kw: Int, cin: Int, cout: Int, rank k: Int) -> (first: [Int], second: [Int]) {
        var first: [Int] = []
        first.reserveCapacity(kh * cin * k)
        for i in 0..<kh { for ci in 0..<cin { for r in 0..<k { first.append((ci * kh + i) * k + r) } } }
        var second: [Int] = []
        second.reserveCapacity(kw * k * cout)
        for j in 0..<kw { for r in 0..<k { for o in 0..<cout { second.append(r * (kw * cout) + j * cout + o) } } }
        return (first, second)
    }
}
