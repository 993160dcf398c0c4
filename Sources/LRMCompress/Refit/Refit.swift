import Foundation
public import LRMFormat
import LRMLinearAlgebra
import LRMRuntime

/// Settings of the closed-form refit after truncation.
public struct RefitOptions: Sendable, Equatable {
    /// Ridge added to XᵀX in the U·Σ step, relative to its mean diagonal (dead ReLU inputs make XᵀX singular).
    public var ridge: Double
    /// Most least-squares steps per layer (Vᵀ and bias, then U·Σ, alternately).
    public var maxSteps: Int
    /// A step must lower the layer's error by at least this fraction to continue.
    public var minImprovement: Double

    public init(ridge: Double = 1e-4, maxSteps: Int = 6, minImprovement: Double = 1e-3) {
        self.ridge = ridge
        self.maxSteps = maxSteps
        self.minImprovement = minImprovement
    }
}

/// A refit as the file's metadata records it (`conversion.refit`, `refit.ridge`, `refit.count`).
public struct RefitRecord: Sendable, Equatable {
    public var ridge: Double
    public var count: Int
    public init(ridge: Double, count: Int) {
        self.ridge = ridge
        self.count = count
    }
}

/// What the refit did to one factorized layer: its error ‖X_c·U·Σ·Vᵀ + b − Y‖ / ‖Y‖ on the calibration
/// data before and after (Y the original layer's pre-activations on the original inputs, X_c the
/// inputs the compressed model gives it), and how many least-squares steps were kept.
public struct RefitLayerReport: Sendable, Equatable {
    public var name: String
    public var errorBefore: Double
    public var errorAfter: Double
    public var steps: Int
}

/// SVD-LLM's local update, done in closed form: layer by layer in model order, with inputs taken from
/// the already-refitted compressed layers before it, each factorized dense layer's U·Σ, Vᵀ and bias are
/// refitted by least squares so that the layer reproduces the original layer's pre-activations on
/// calibration data. The Vᵀ-and-bias step is an exact least-squares solve given U·Σ; the U·Σ step solves
/// (XᵀX + λI)·U·Σ·(VᵀV) = Xᵀ(Y − 1bᵀ)·V; the two alternate while the error falls by `minImprovement`,
/// and the best iterate is kept, so the calibration error never grows.
///
/// Dense layers only (dense and factorized dense, with element-wise activations, scale-shift, flatten and
/// reshape between them); a layer kind the refit does not know (e.g. a convolution) ends the refit there:
/// the layers after it are left as the truncation made them.
public final class Refitter: @unchecked Sendable {
    public let original: Model
    public let options: RefitOptions
    public let sampleCount: Int
    private let inputs: [Float]
    /// By layer index: the original model's inputs to each dense layer, and its pre-activations.
    private var originalInputs: [Int: [Float]] = [:]
    private var targets: [Int: [Float]] = [:]
    private var targetSums: [Int: [Double]] = [:]
    private var targetNorms: [Int: Double] = [:]
    /// Layers whose inputs are the original model's (nothing before them changed): their Gram
    /// factorization and XᵀY do not depend on the candidate.
    private var prepared: [Int: Prepared] = [:]
    private let lock = NSLock()

    /// XᵀX of the original model's inputs to a layer (by index), for rounding: computed once per refitter.
    private var originalGrams: [Int: [Double]] = [:]

    private struct Prepared {
        var cholesky: Cholesky
        var columnSums: [Double]
        var crossProduct: [Float]
    }

    /// - Parameters:
    ///   - calibrationInputs: raw samples (the model's preprocessing is applied), `sampleCount` of them.
    public init(original: Model, calibrationInputs: [Float], sampleCount: Int, options: RefitOptions = RefitOptions()) throws {
        self.original = original
        self.options = options
        self.sampleCount = sampleCount
        inputs = calibrationInputs
        var dense: [Int] = []
        for (index, layer) in original.layers.enumerated() { if case .dense = layer.operation { dense.append(index) } }
        let captured = try Refitter.layerInputs(of: original, inputs: calibrationInputs, sampleCount: sampleCount, layers: Set(dense))
        for index in dense {
            guard case let .dense(kernel, bias, _) = original.layers[index].operation, let x = captured[index] else { continue }
            let (p, q) = (kernel.shape[0], kernel.shape[1])
            var y = [Float](repeating: 0, count: sampleCount * q)
            if let bias = bias?.floats() { for r in 0..<sampleCount { for c in 0..<q { y[r * q + c] = bias[c] } } }
            try DenseAlgebra.accumulate(x, sampleCount, p, kernel.floats(), p, q, into: &y, beta: bias == nil ? 0 : 1)
            originalInputs[index] = x
            targets[index] = y
            targetSums[index] = DenseAlgebra.columnSums(y, rows: sampleCount, columns: q)
            targetNorms[index] = y.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        }
    }

    /// The inputs of the layers in `layers` (by index) when `model` runs on `inputs`.
    static func layerInputs(of model: Model, inputs: [Float], sampleCount: Int, layers: Set<Int>) throws -> [Int: [Float]] {
        let runner = try InferenceModel(model)
        var captured: [Int: [Float]] = [:]
        _ = try inputs.withUnsafeBufferPointer { buffer in
            try runner.run(buffer, sampleCount: sampleCount) { layer, x, _, _ in
                guard layers.contains(layer) else { return }
                captured[layer, default: []].append(contentsOf: x)
            }
        }
        return captured
    }

    /// `candidate` (the original model with some dense layers truncated to factors) with every
    /// factorized layer refitted, and a report per refitted layer.
    public func refit(_ candidate: Model) throws -> (model: Model, layers: [RefitLayerReport]) {
        let pass = try refit(candidate, rounding: nil)
        return (pass.model, pass.layers)
    }

    /// The refit, with each layer `rounding` names rounded as the pass reaches it (see ``RefitRounding``):
    /// the model, a report per refitted layer, and the indices of the layers rounded.
    func refit(_ candidate: Model, rounding: RefitRounding?) throws -> (model: Model, layers: [RefitLayerReport], rounded: Set<Int>) {
        guard candidate.layers.count == original.layers.count else {
            throw ConversionError(kind: .decomposition, layer: candidate.name, message: "refit: the candidate has \(candidate.layers.count) layers, the original \(original.layers.count)")
        }
        var current = candidate
        var reports: [RefitLayerReport] = []
        var rounded: Set<Int> = []
        var inputsChanged = false
        /// The layer's inputs on the calibration samples: the original's while no layer before it changed, else the candidate's as it is now.
        func layerInput(_ index: Int) throws -> [Float]? {
            guard inputsChanged else { return originalInputs[index] }
            return try Refitter.layerInputs(of: current, inputs: inputs, sampleCount: sampleCount, layers: [index])[index]
        }
        for index in candidate.layers.indices {
            let layer = current.layers[index]
            switch (layer.operation, original.layers[index].operation) {
            case let (.factorizedDense(us, vt, bias, activation, factorization), .dense(kernel, originalBias, _)):
                guard let x = try layerInput(index) else { continue }
                let unchangedInputs = !inputsChanged
                let (updated, report) = try refitLayer(index: index, name: layer.name, x: x, cacheable: unchangedInputs, us: us, vt: vt,
                                                       bias: bias ?? originalBias, factorization: factorization, kernel: kernel)
                current.layers[index] = Layer(name: layer.name, operation: .factorizedDense(us: updated.us, vt: updated.vt, bias: updated.bias,
                                                                                           activation: activation, factorization: updated.factorization))
                if let rounding {
                    current.layers[index] = try rounding.round(index, current.layers[index]) { try inputGram(index: index, x: x, cacheable: unchangedInputs) }
                    rounded.insert(index)
                }
                reports.append(report)
                inputsChanged = true
            case (.dense, .dense) where rounding?.denseLayers.contains(index) == true:
                guard let x = try layerInput(index) else { continue }
                if let rounding {
                    let unchangedInputs = !inputsChanged
                    current.layers[index] = try rounding.round(index, layer) { try inputGram(index: index, x: x, cacheable: unchangedInputs) }
                    rounded.insert(index)
                }
                if current.layers[index] != original.layers[index] { inputsChanged = true }
            case (.dense, .dense), (.activation, _), (.flatten, _), (.reshape, _), (.scaleShift, _),
                 (.conv2D, .conv2D), (.depthwiseConv2D, .depthwiseConv2D), (.pool2D, _), (.globalPool2D, _), (.pad2D, _),
                 (.crop2D, _), (.permute, _):
                if !inputsChanged && layer != original.layers[index] { inputsChanged = true }
            case (.factorizedConv2D, .conv2D):
                // A truncated convolution is not refitted itself; the dense layers after it are, on the inputs it gives them.
                inputsChanged = true
            default:
                // A layer kind the refit does not handle: leave the rest as it is.
                return (current, reports, rounded)
            }
        }
        return (current, reports, rounded)
    }

    /// XᵀX (in double) of a layer's calibration inputs `x`; cached when they are the original model's.
    func inputGram(index: Int, x: [Float], cacheable: Bool) throws -> [Double] {
        let features = x.count / max(sampleCount, 1)
        guard cacheable else { return try Refitter.gram(x, rows: sampleCount, columns: features) }
        lock.lock()
        let known = originalGrams[index]
        lock.unlock()
        if let known { return known }
        let gram = try Refitter.gram(x, rows: sampleCount, columns: features)
        lock.lock()
        originalGrams[index] = gram
        lock.unlock()
        return gram
    }

    /// What the metadata records about this refit.
    public var record: RefitRecord { RefitRecord(ridge: options.ridge, count: sampleCount) }

    private struct Factors {
        var us: Tensor
        var vt: Tensor
        var bias: Tensor?
        var factorization: Factorization
    }

    private func refitLayer(index: Int, name: String, x: [Float], cacheable: Bool, us: Tensor, vt: Tensor, bias: Tensor?,
                            factorization: Factorization, kernel: Tensor) throws -> (Factors, RefitLayerReport) {
        guard let y = targets[index], let t = targetSums[index], let norm = targetNorms[index] else {
            throw ConversionError(kind: .decomposition, layer: name, message: "refit: no calibration targets for this layer")
        }
        let n = sampleCount, p = factorization.inFeatures, q = factorization.outFeatures, k = factorization.rank
        let hasBias = bias != nil
        let prep = try preparation(index: index, x: x, y: y, p: p, q: q, cacheable: cacheable, name: name)
        var a = us.floats(), b = vt.floats()
        var c = bias?.floats() ?? [Float](repeating: 0, count: q)

        func error(_ a: [Float], _ b: [Float], _ c: [Float]) throws -> Double {
            let z = try DenseAlgebra.product(x, n, p, a, p, k)
            var out = [Float](repeating: 0, count: n * q)
            for r in 0..<n { for j in 0..<q { out[r * q + j] = c[j] } }
            try DenseAlgebra.accumulate(z, n, k, b, k, q, into: &out, beta: 1)
            var sum = 0.0
            for (o, target) in zip(out, y) { let d = Double(o) - Double(target); sum += d * d }
            return sum.squareRoot() / max(norm, 1e-30)
        }

        let before = try error(a, b, c)
        var best = (a: a, b: b, c: c, error: before, steps: 0)
        for step in 0..<max(0, options.maxSteps) {
            if step % 2 == 0 {
                // Vᵀ and bias given U·Σ: least squares on Z = X·U·Σ (augmented by a column of ones).
                let z = try DenseAlgebra.product(x, n, p, a, p, k)
                let ztz = try DenseAlgebra.product(z, n, k, transposeA: true, z, n, k)
                let zty = try DenseAlgebra.product(z, n, k, transposeA: true, y, n, q)
                let m = hasBias ? k + 1 : k
                var normal = [Double](repeating: 0, count: m * m)
                var rhs = [Double](repeating: 0, count: m * q)
                for i in 0..<k {
                    for j in 0..<k { normal[i * m + j] = Double(ztz[i * k + j]) }
                    for j in 0..<q { rhs[i * q + j] = Double(zty[i * q + j]) }
                }
                if hasBias {
                    let sums = DenseAlgebra.columnSums(z, rows: n, columns: k)
                    for i in 0..<k { normal[i * m + k] = sums[i]; normal[k * m + i] = sums[i] }
                    normal[k * m + k] = Double(n)
                    for j in 0..<q { rhs[k * q + j] = t[j] }
                }
                guard let solution = DenseAlgebra.solveSPD(normal, n: m, rhs, m: q) else { break }
                b = (0..<(k * q)).map { Float(solution[$0]) }
                if hasBias { c = (0..<q).map { Float(solution[k * q + $0]) } }
            } else {
                // U·Σ given Vᵀ and bias: (XᵀX + λI)·A·(B·Bᵀ) = (XᵀY − s·cᵀ)·Bᵀ.
                var r = try DenseAlgebra.product(prep.crossProduct, p, q, b, k, q, transposeB: true)  // p × k
                if hasBias {
                    var bc = [Double](repeating: 0, count: k)
                    for i in 0..<k { for j in 0..<q { bc[i] += Double(b[i * q + j]) * Double(c[j]) } }
                    for i in 0..<p { for j in 0..<k { r[i * k + j] -= Float(prep.columnSums[i] * bc[j]) } }
                }
                let bbt = try DenseAlgebra.product(b, k, q, b, k, q, transposeB: true)
                var rt = [Double](repeating: 0, count: k * p)
                for i in 0..<p { for j in 0..<k { rt[j * p + i] = Double(r[i * k + j]) } }
                guard let solved = DenseAlgebra.solveSPD(bbt.map(Double.init), n: k, rt, m: p) else { break }  // (B·Bᵀ)⁻¹·Rᵀ
                var right = [Float](repeating: 0, count: p * k)
                for i in 0..<p { for j in 0..<k { right[i * k + j] = Float(solved[j * p + i]) } }
                let half = try prep.cholesky.solve(try Matrix(rows: p, columns: k, values: right))
                a = try prep.cholesky.solve(half, transposed: true).values
            }
            guard a.allSatisfy(\.isFinite), b.allSatisfy(\.isFinite), c.allSatisfy(\.isFinite) else { break }
            let e = try error(a, b, c)
            let improved = e < best.error * (1 - options.minImprovement)
            if e < best.error { best = (a, b, c, e, step + 1) }
            // The first step always runs to the second (they solve for different factors).
            if !improved && step > 0 { break }
        }

        var record = factorization
        if best.steps > 0 {
            let product = try DenseAlgebra.product(best.a, p, k, best.b, k, q)
            let w = kernel.floats()
            var difference = 0.0, total = 0.0
            for (v, target) in zip(product, w) { difference += Double(v - target) * Double(v - target); total += Double(target) * Double(target) }
            record.relativeError = total > 0 ? (difference / total).squareRoot() : 0
            if !record.method.hasSuffix("+refit") { record.method += "+refit" }
        }
        let factors = Factors(us: Tensor(shape: [p, k], floats: best.a, dtype: us.dtype),
                              vt: Tensor(shape: [k, q], floats: best.b, dtype: vt.dtype),
                              bias: hasBias ? Tensor(shape: [q], floats: best.c, dtype: bias?.dtype ?? .float32) : nil,
                              factorization: record)
        return (factors, RefitLayerReport(name: name, errorBefore: before, errorAfter: best.error, steps: best.steps))
    }

    /// The ridge-regularized Gram factorization, Xᵀ1 and XᵀY of one layer's inputs, cached when those
    /// inputs are the original model's.
    private func preparation(index: Int, x: [Float], y: [Float], p: Int, q: Int, cacheable: Bool, name: String) throws -> Prepared {
        if cacheable {
            lock.lock()
            let known = prepared[index]
            lock.unlock()
            if let known { return known }
        }
        let n = sampleCount
        let matrix = try Matrix(rows: n, columns: p, values: x)
        var gram = try Cholesky.regularizedGram(of: matrix, ridge: 0, precision: .double)
        let meanDiagonal = (0..<p).reduce(0.0) { $0 + Double(gram[$1, $1]) } / Double(max(p, 1))
        var lambda = options.ridge * (meanDiagonal > 0 ? meanDiagonal : 1)
        var factor: Cholesky?
        for _ in 0..<6 {
            var regularized = gram
            for i in 0..<p { regularized[i, i] += Float(lambda) }
            do {
                factor = try Cholesky.factor(regularized, precision: .double)
                break
            } catch let error as LinearAlgebraError {
                guard case .notPositiveDefinite = error.kind else { throw error }
                lambda *= 10
            }
        }
        guard let factor else {
            throw ConversionError(kind: .decomposition, layer: name, message: "refit: XᵀX + λI is not positive definite even with λ = \(lambda)")
        }
        gram = Matrix(rows: 0, columns: 0)
        let result = Prepared(cholesky: factor, columnSums: DenseAlgebra.columnSums(x, rows: n, columns: p),
                              crossProduct: try DenseAlgebra.product(x, n, p, transposeA: true, y, n, q))
        if cacheable {
            lock.lock()
            prepared[index] = result
            lock.unlock()
        }
        return result
    }
}

extension Refitter {
    /// Refits a conversion's factorized layers in place and updates each refitted layer's decision to
    /// the factors' new plain relative error (the metadata is `ConversionProvenance`'s job: give it `record`).
    public func apply(to result: inout ConversionResult) throws {
        result.model = try refit(result.model).model
        result.takeRecordedErrors()
    }
}
