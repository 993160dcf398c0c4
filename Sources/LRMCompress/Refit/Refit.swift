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
/// Every step and the error are solved from the layer's sufficient statistics (XᵀX, Xᵀ1, XᵀY, Yᵀ1 and ‖Y‖²,
/// accumulated in double), gathered in one pass over the calibration records `batchSize` at a time: the
/// refit holds one batch's layer inputs and targets, never a matrix with a row per record, so its memory
/// does not grow with the record count (only the calibration inputs themselves do). A refitter that refits
/// many candidates (a search's) may keep the original model's targets Y of a layer, up to `targetCacheBytes`
/// in all, so that its later passes run only the candidate; what is kept is what a pass would compute again.
///
/// Dense layers only (dense and factorized dense, with element-wise activations, scale-shift, flatten and
/// reshape between them); a layer kind the refit does not know (e.g. a convolution) ends the refit there:
/// the layers after it are left as the truncation made them.
public final class Refitter: @unchecked Sendable {
    public let original: Model
    public let options: RefitOptions
    public let sampleCount: Int
    /// Records per batch of the passes over the calibration inputs.
    public let batchSize: Int
    /// The most rows of layer inputs any pass has held at once (at most `batchSize` records' worth).
    public private(set) var largestBatchRows = 0
    /// The most bytes of the original model's targets kept between passes (0: none, every pass computes them).
    public let targetCacheBytes: Int
    /// A search's ``targetCacheBytes`` (64 MiB): it refits many candidates on the same records.
    public static let searchTargetCacheBytes = 64 << 20
    /// By layer index, the original layer's targets Y (rows × q, the bias included) of each batch of a pass, in the
    /// batches' order, and the bytes they take in all.
    private var targets: [Int: [[Float]]] = [:]
    private var targetBytes = 0
    /// Bytes of the original's targets kept now (at most ``targetCacheBytes``).
    var keptTargetBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return targetBytes
    }
    private let batches: BatchSource
    private let originalRunner: InferenceModel
    /// Layers whose inputs are the original model's (nothing before them changed): their statistics and
    /// Gram factorization do not depend on the candidate.
    private var originalStatistics: [Int: Statistics] = [:]
    private var factors: [Int: Cholesky] = [:]
    private let lock = NSLock()

    /// The sufficient statistics of one dense layer's least-squares problem on the calibration records: X its
    /// inputs (rows × p), Y the original layer's pre-activations on the original model's inputs (rows × q).
    struct Statistics {
        var rows = 0
        var p: Int
        var q: Int
        /// XᵀX (p × p, row-major, symmetric), Xᵀ1, XᵀY (p × q), Yᵀ1 and ‖Y‖².
        var gram: [Double]
        var columnSums: [Double]
        var cross: [Double]
        var targetSums: [Double]
        var targetSquares = 0.0

        init(p: Int, q: Int) {
            self.p = p
            self.q = q
            gram = [Double](repeating: 0, count: p * p)
            columnSums = [Double](repeating: 0, count: p)
            cross = [Double](repeating: 0, count: p * q)
            targetSums = [Double](repeating: 0, count: q)
        }

        /// Adds `rows` rows of inputs `x` (rows × p) and targets `y` (rows × q).
        mutating func add(_ x: [Float], _ y: [Float], rows: Int) throws {
            let xd = x.map(Double.init), yd = y.map(Double.init)
            let xShape = MatrixShape(rows: rows, columns: p)
            try xd.withUnsafeBufferPointer { xp in
                try gram.withUnsafeMutableBufferPointer { g in
                    try GEMM.gramLower(xp, shape: xShape, into: g, shape: MatrixShape(rows: p, columns: p), beta: 1)
                }
                try yd.withUnsafeBufferPointer { yp in
                    try cross.withUnsafeMutableBufferPointer { c in
                        try GEMM.multiply(xp, shape: xShape, transposeA: true, yp, shape: MatrixShape(rows: rows, columns: q),
                                          into: c, shape: MatrixShape(rows: p, columns: q), beta: 1)
                    }
                }
            }
            for r in 0..<rows {
                for c in 0..<p { columnSums[c] += xd[r * p + c] }
                for c in 0..<q {
                    let v = yd[r * q + c]
                    targetSums[c] += v
                    targetSquares += v * v
                }
            }
            self.rows += rows
        }

        /// Both triangles of XᵀX from its lower one (the only one `add` computes).
        mutating func symmetrize() {
            for i in 0..<p { for j in 0..<i { gram[j * p + i] = gram[i * p + j] } }
        }
    }

    /// Calls `body` with the calibration records, raw (the model's preprocessing is applied) and in the model's
    /// layout, `size` at a time (fewer in the last call), and how many each call holds; every call of the source
    /// gives the same records in the same order.
    public typealias BatchSource = @Sendable (_ size: Int, _ body: (UnsafeBufferPointer<Float>, Int) throws -> Void) throws -> Void

    /// - Parameters:
    ///   - sampleCount: how many records `batches` gives.
    ///   - batches: the calibration records, read again on every pass (one per refitted layer whose inputs changed).
    ///   - batchSize: records per batch of the passes (the refit's memory beyond the records grows with it, not with their count).
    ///   - targetCacheBytes: the most bytes of the original layers' targets kept for later passes (``searchTargetCacheBytes`` for a search).
    public init(original: Model, sampleCount: Int, batches: @escaping BatchSource, options: RefitOptions = RefitOptions(),
                batchSize: Int = 1024, targetCacheBytes: Int = 0) throws {
        self.original = original
        self.options = options
        self.sampleCount = sampleCount
        self.batchSize = max(1, batchSize)
        self.targetCacheBytes = max(0, targetCacheBytes)
        self.batches = batches
        originalRunner = try InferenceModel(original)
    }

    /// - Parameters:
    ///   - calibrationInputs: raw samples (the model's preprocessing is applied), `sampleCount` of them.
    public convenience init(original: Model, calibrationInputs: [Float], sampleCount: Int, options: RefitOptions = RefitOptions(),
                            batchSize: Int = 1024, targetCacheBytes: Int = 0) throws {
        let width = sampleCount > 0 ? calibrationInputs.count / sampleCount : 0
        try self.init(original: original, sampleCount: sampleCount, batches: { size, body in
            try calibrationInputs.withUnsafeBufferPointer { all in
                var start = 0
                while start < sampleCount {
                    let count = min(size, sampleCount - start)
                    try body(UnsafeBufferPointer(rebasing: all[(start * width)..<((start + count) * width)]), count)
                    start += count
                }
            }
        }, options: options, batchSize: batchSize, targetCacheBytes: targetCacheBytes)
    }

    /// One pass over the calibration records: the statistics of layer `index` (dense in the original), its inputs
    /// those `candidate` gives it (nil: the original model's). Nil when the model never reaches the layer.
    func statistics(index: Int, candidate: Model?) throws -> Statistics? {
        guard case let .dense(kernel, bias, _) = original.layers[index].operation, kernel.shape.count == 2 else { return nil }
        let (p, q) = (kernel.shape[0], kernel.shape[1])
        let w = kernel.floats(), b = bias?.floats()
        let candidateRunner = try candidate.map { try InferenceModel($0) }
        var result = Statistics(p: p, q: q)
        var seen = false
        var originalX: [Float] = [], candidateX: [Float] = []
        var originalRows = 0, candidateRows = 0
        var widthMismatch: Int?
        func capture(_ x: UnsafeBufferPointer<Float>, _ rows: Int, _ width: Int, into buffer: inout [Float], rowCount: inout Int) {
            guard width == p else { widthMismatch = width; return }
            buffer.append(contentsOf: x)
            rowCount += rows
        }
        // The targets a pass before kept (the original is then not run), or those this pass keeps while they fit. A pass
        // on the original's inputs (once per layer, its statistics kept) needs those inputs: it runs the original, keeps nothing.
        lock.lock()
        let kept = candidate == nil ? nil : targets[index]
        let room = targetCacheBytes - targetBytes
        lock.unlock()
        var keeping: [[Float]]? = candidate != nil && kept == nil && q > 0 && room > 0 ? [] : nil
        var keepingBytes = 0
        var batchIndex = 0
        try batches(batchSize) { batch, count in
            defer { batchIndex += 1 }
            var y: [Float] = []
            if let kept {
                guard batchIndex < kept.count else {
                    throw ConversionError(kind: .decomposition, layer: original.layers[index].name,
                                          message: "refit: the calibration records came in more batches than in an earlier pass")
                }
                y = kept[batchIndex]
                originalRows = y.count / q
            } else {
                originalX.removeAll(keepingCapacity: true)
                originalRows = 0
                // Both models stop at the layer: only its inputs are wanted (its targets are computed from them below).
                try originalRunner.runLayers(before: index, batch, sampleCount: count, batchSize: count) { layer, x, rows, width in
                    if layer == index { capture(x, rows, width, into: &originalX, rowCount: &originalRows) }
                }
            }
            if let candidateRunner {
                candidateX.removeAll(keepingCapacity: true)
                candidateRows = 0
                try candidateRunner.runLayers(before: index, batch, sampleCount: count, batchSize: count) { layer, x, rows, width in
                    if layer == index { capture(x, rows, width, into: &candidateX, rowCount: &candidateRows) }
                }
            }
            if let widthMismatch {
                throw ConversionError(kind: .decomposition, layer: original.layers[index].name,
                                      message: "refit: the layer's inputs have \(widthMismatch) features, its kernel \(p) rows")
            }
            guard originalRows > 0 else { keeping?.append([]); return }
            if candidateRunner != nil && candidateRows != originalRows {
                throw ConversionError(kind: .decomposition, layer: original.layers[index].name,
                                      message: "refit: the candidate gives the layer \(candidateRows) input rows, the original \(originalRows)")
            }
            seen = true
            if kept == nil {
                y = [Float](repeating: 0, count: originalRows * q)
                if let b { for r in 0..<originalRows { for c in 0..<q { y[r * q + c] = b[c] } } }
                try DenseAlgebra.accumulate(originalX, originalRows, p, w, p, q, into: &y, beta: b == nil ? 0 : 1)
                if keeping != nil {
                    keepingBytes += y.count * MemoryLayout<Float>.stride
                    if keepingBytes <= room { keeping?.append(y) } else { keeping = nil }
                }
            }
            try result.add(candidateRunner == nil ? originalX : candidateX, y, rows: originalRows)
            lock.lock()
            largestBatchRows = max(largestBatchRows, originalRows)
            lock.unlock()
        }
        if let kept, batchIndex != kept.count {
            throw ConversionError(kind: .decomposition, layer: original.layers[index].name,
                                  message: "refit: the calibration records came in \(batchIndex) batches, in an earlier pass \(kept.count)")
        }
        if let keeping {
            lock.lock()
            if targets[index] == nil && targetBytes + keepingBytes <= targetCacheBytes {
                targets[index] = keeping
                targetBytes += keepingBytes
            }
            lock.unlock()
        }
        guard seen else { return nil }
        result.symmetrize()
        return result
    }

    /// The statistics of layer `index` on the original model's inputs, computed once.
    private func originalStatistics(index: Int) throws -> Statistics? {
        lock.lock()
        let known = originalStatistics[index]
        lock.unlock()
        if let known { return known }
        guard let computed = try statistics(index: index, candidate: nil) else { return nil }
        lock.lock()
        originalStatistics[index] = computed
        lock.unlock()
        return computed
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
        /// The layer's statistics on the calibration records: the original's inputs while no layer before it changed, else the candidate's as it is now.
        func layerStatistics(_ index: Int) throws -> Statistics? {
            guard inputsChanged else { return try originalStatistics(index: index) }
            return try statistics(index: index, candidate: current)
        }
        for index in candidate.layers.indices {
            let layer = current.layers[index]
            switch (layer.operation, original.layers[index].operation) {
            case let (.factorizedDense(us, vt, bias, activation, factorization), .dense(kernel, originalBias, _)):
                guard let statistics = try layerStatistics(index) else { continue }
                let unchangedInputs = !inputsChanged
                let (updated, report) = try refitLayer(index: index, name: layer.name, statistics: statistics, cacheable: unchangedInputs,
                                                       us: us, vt: vt, bias: bias ?? originalBias, factorization: factorization, kernel: kernel)
                current.layers[index] = Layer(name: layer.name, operation: .factorizedDense(us: updated.us, vt: updated.vt, bias: updated.bias,
                                                                                           activation: activation, factorization: updated.factorization))
                if let rounding {
                    current.layers[index] = try rounding.round(index, current.layers[index]) { statistics.gram }
                    rounded.insert(index)
                }
                reports.append(report)
                inputsChanged = true
            case (.dense, .dense) where rounding?.denseLayers.contains(index) == true:
                guard let statistics = try layerStatistics(index) else { continue }
                if let rounding {
                    current.layers[index] = try rounding.round(index, layer) { statistics.gram }
                    rounded.insert(index)
                }
                if current.layers[index] != original.layers[index] { inputsChanged = true }
            case (.dense, .dense), (.activation, _), (.flatten, _), (.reshape, _), (.scaleShift, _),
                 (.conv2D, .conv2D), (.depthwiseConv2D, .depthwiseConv2D), (.pool2D, _), (.globalPool2D, _), (.pad2D, _),
                 (.crop2D, _), (.permute, _), (.store, _), (.load, _), (.merge, _), (.upsample2D, _), (.conv2DTranspose, .conv2DTranspose),
                 (.layerNorm, _):
                // (1.4) Slot layers hold no weights; the runner's passes follow the slots, so the inputs of every later layer
                // are those the candidate gives it.
                if !inputsChanged && layer != original.layers[index] { inputsChanged = true }
            case (.factorizedDense, .factorizedDense), (.factorizedConv2D, .factorizedConv2D):
                // Already factorized in the original (a `.lrm` input): not refitted, since its record is relative to a kernel the
                // file no longer has; the dense layers after it are, on the inputs it gives them.
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

    /// What the metadata records about this refit.
    public var record: RefitRecord { RefitRecord(ridge: options.ridge, count: sampleCount) }

    private struct Factors {
        var us: Tensor
        var vt: Tensor
        var bias: Tensor?
        var factorization: Factorization
    }

    private func refitLayer(index: Int, name: String, statistics s: Statistics, cacheable: Bool, us: Tensor, vt: Tensor, bias: Tensor?,
                            factorization: Factorization, kernel: Tensor) throws -> (Factors, RefitLayerReport) {
        let n = s.rows, p = factorization.inFeatures, q = factorization.outFeatures, k = factorization.rank
        guard p == s.p, q == s.q else {
            throw ConversionError(kind: .decomposition, layer: name, message: "refit: the factors are \(p)×\(q), the layer's inputs and outputs \(s.p)×\(s.q)")
        }
        let norm = s.targetSquares.squareRoot()
        let hasBias = bias != nil
        let cholesky = try gramFactor(index: index, statistics: s, cacheable: cacheable, name: name)
        var a = us.floats(), b = vt.floats()
        var c = bias?.floats() ?? [Float](repeating: 0, count: q)

        /// Z = X·A's statistics: ZᵀZ = AᵀXᵀXA (k × k), ZᵀY = AᵀXᵀY (k × q) and Zᵀ1 = AᵀXᵀ1.
        func projected(_ a: [Double]) throws -> (ztz: [Double], zty: [Double], sums: [Double]) {
            let ga = try DenseAlgebra.product(s.gram, p, p, a, p, k)
            let ztz = try DenseAlgebra.product(a, p, k, transposeA: true, ga, p, k)
            let zty = try DenseAlgebra.product(a, p, k, transposeA: true, s.cross, p, q)
            var sums = [Double](repeating: 0, count: k)
            for i in 0..<p { for j in 0..<k { sums[j] += a[i * k + j] * s.columnSums[i] } }
            return (ztz, zty, sums)
        }
        /// ‖X·A·B + 1cᵀ − Y‖ / ‖Y‖ from the statistics, given A's projection `z` (``projected``):
        /// tr(ZᵀZ·BBᵀ) − 2⟨ZᵀY, B⟩ + 2cᵀBᵀZᵀ1 + n‖c‖² − 2cᵀYᵀ1 + ‖Y‖².
        func error(_ z: (ztz: [Double], zty: [Double], sums: [Double]), _ b: [Float], _ c: [Float]) throws -> Double {
            let (ztz, zty, sums) = z
            let bd = b.map(Double.init), cd = c.map(Double.init)
            let bbt = try DenseAlgebra.product(bd, k, q, bd, k, q, transposeB: true)
            var sum = s.targetSquares
            for i in 0..<(k * k) { sum += ztz[i] * bbt[i] }
            for i in 0..<(k * q) { sum -= 2 * zty[i] * bd[i] }
            for j in 0..<q {
                var zb = 0.0
                for i in 0..<k { zb += sums[i] * bd[i * q + j] }
                sum += 2 * cd[j] * zb + Double(n) * cd[j] * cd[j] - 2 * cd[j] * s.targetSums[j]
            }
            return max(sum, 0).squareRoot() / max(norm, 1e-30)
        }

        // The projection of the current U·Σ: the error and the next Vᵀ-and-bias step both use it, and only the U·Σ step changes it.
        var z = try projected(a.map(Double.init))
        let before = try error(z, b, c)
        var best = (a: a, b: b, c: c, error: before, steps: 0)
        for step in 0..<max(0, options.maxSteps) {
            if step % 2 == 0 {
                // Vᵀ and bias given U·Σ: least squares on Z = X·U·Σ (augmented by a column of ones).
                let (ztz, zty, sums) = z
                let m = hasBias ? k + 1 : k
                var normal = [Double](repeating: 0, count: m * m)
                var rhs = [Double](repeating: 0, count: m * q)
                for i in 0..<k {
                    for j in 0..<k { normal[i * m + j] = ztz[i * k + j] }
                    for j in 0..<q { rhs[i * q + j] = zty[i * q + j] }
                }
                if hasBias {
                    for i in 0..<k { normal[i * m + k] = sums[i]; normal[k * m + i] = sums[i] }
                    normal[k * m + k] = Double(n)
                    for j in 0..<q { rhs[k * q + j] = s.targetSums[j] }
                }
                guard let solution = DenseAlgebra.solveSPD(normal, n: m, rhs, m: q) else { break }
                b = (0..<(k * q)).map { Float(solution[$0]) }
                if hasBias { c = (0..<q).map { Float(solution[k * q + $0]) } }
            } else {
                // U·Σ given Vᵀ and bias: (XᵀX + λI)·A·(B·Bᵀ) = (XᵀY − s·cᵀ)·Bᵀ.
                let bd = b.map(Double.init)
                var r = try DenseAlgebra.product(s.cross, p, q, bd, k, q, transposeB: true)  // p × k
                if hasBias {
                    var bc = [Double](repeating: 0, count: k)
                    for i in 0..<k { for j in 0..<q { bc[i] += bd[i * q + j] * Double(c[j]) } }
                    for i in 0..<p { for j in 0..<k { r[i * k + j] -= s.columnSums[i] * bc[j] } }
                }
                let bbt = try DenseAlgebra.product(bd, k, q, bd, k, q, transposeB: true)
                var rt = [Double](repeating: 0, count: k * p)
                for i in 0..<p { for j in 0..<k { rt[j * p + i] = r[i * k + j] } }
                guard let solved = DenseAlgebra.solveSPD(bbt, n: k, rt, m: p) else { break }  // (B·Bᵀ)⁻¹·Rᵀ
                var right = [Float](repeating: 0, count: p * k)
                for i in 0..<p { for j in 0..<k { right[i * k + j] = Float(solved[j * p + i]) } }
                let half = try cholesky.solve(try Matrix(rows: p, columns: k, values: right))
                a = try cholesky.solve(half, transposed: true).values
            }
            guard a.allSatisfy(\.isFinite), b.allSatisfy(\.isFinite), c.allSatisfy(\.isFinite) else { break }
            if step % 2 == 1 { z = try projected(a.map(Double.init)) }
            let e = try error(z, b, c)
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

    /// The Cholesky factor of XᵀX + λI (λ the ridge relative to XᵀX's mean diagonal, grown tenfold while the
    /// factorization fails), cached when the layer's inputs are the original model's.
    private func gramFactor(index: Int, statistics s: Statistics, cacheable: Bool, name: String) throws -> Cholesky {
        if cacheable {
            lock.lock()
            let known = factors[index]
            lock.unlock()
            if let known { return known }
        }
        let p = s.p
        let gram = try Matrix(rows: p, columns: p, values: s.gram.map { Float($0) })
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
            // The refit's own ridge, not --ridge: the same line, a decomposition failure (more data, or no refit).
            var error = ConversionError.notPositiveDefinite(layer: name, what: "refit: XᵀX + λI", lambda: lambda, ridge: options.ridge, inputs: p,
                                                            rows: s.rows, advice: "give more calibration samples (--calibration-samples), or skip the refit (--no-refit)")
            error.kind = .decomposition
            throw error
        }
        if cacheable {
            lock.lock()
            factors[index] = factor
            lock.unlock()
        }
        return factor
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
