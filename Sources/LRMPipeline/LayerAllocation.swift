import Foundation
public import LRMCompress
public import LRMFormat

/// One way to store one dense layer: a rank (nil: the kernel kept dense) and a dtype, with its bytes
/// and the predicted error it adds.
public struct LayerOption: Sendable, Hashable {
    public var rank: Int?
    public var dtype: DType
    /// Bytes of the layer's tensors (codes, scales, bias, each padded to the file's alignment) plus
    /// an estimate of its header bytes.
    public var bytes: Int
    /// Predicted squared relative error of the layer's output on calibration data, in the metric of
    /// its spectrum: the truncated tail plus the rounding noise of the stored values.
    public var error: Double
}

/// Per-layer choice of rank and storage dtype for a byte budget (issue 15: "choosing each layer's
/// rank and dtype").
///
/// For every dense layer a table of options (rank × dtype, and the dense kernel × dtype) with the
/// bytes each costs and the error each adds. The error of rank k stored in dtype d is the truncated
/// tail of the spectrum (exact, in the spectrum's metric) plus the rounding noise of the stored
/// factors: ‖T·ΔU·Vᵀ‖² ≈ Σᵢ (TᵀT)ᵢᵢ·‖ΔUᵢ‖² (rows of the rounding error taken as uncorrelated, the
/// diagonal approximation of the input Gram matrix) and ‖T·U·ΔVᵀ‖² = Σₐ σₐ²·‖ΔVᵀₐ‖² (exact: T·U·Σ has
/// orthogonal columns), divided by ‖T·W‖². The rounding here is round-to-nearest with the best
/// clipped scale per group, not the calibrated error feedback of the written file (which is
/// smaller for i4), so the prediction is pessimistic for integer codes; candidates are judged on
/// validation anyway.
///
/// For a multiplier λ every layer takes the option minimising error + λ·bytes (the Lagrangian
/// relaxation of "least total error within a byte budget"): larger λ, smaller files. The search
/// varies λ for a size or an accuracy budget.
public struct LayerAllocation: Sendable {
    /// Options per dense layer, by name.
    public var tables: [String: [LayerOption]]

    public init(tables: [String: [LayerOption]]) { self.tables = tables }

    /// Every layer's option minimising error + λ·bytes (ties: fewer bytes).
    public func choose(lambda: Double) -> [String: LayerOption] {
        var chosen: [String: LayerOption] = [:]
        for (name, options) in tables {
            var best: LayerOption?
            var bestCost = Double.infinity
            for option in options {
                let cost = option.error + lambda * Double(option.bytes)
                if cost < bestCost || (cost == bestCost && option.bytes < (best?.bytes ?? Int.max)) {
                    best = option
                    bestCost = cost
                }
            }
            chosen[name] = best
        }
        return chosen
    }

    /// The tables with every layer's errors multiplied by its weight (layers without one keep theirs).
    public func weighted(_ weights: [String: Double]) -> LayerAllocation {
        var tables = tables
        for (name, weight) in weights {
            tables[name] = tables[name]?.map { var o = $0; o.error *= weight; return o }
        }
        return LayerAllocation(tables: tables)
    }

    /// `choice` grown within `budget` estimated bytes: repeatedly the upgrade (a layer's option with
    /// less error) that removes the most error per added byte, while it fits.
    public func filled(_ choice: [String: LayerOption], budget: Int) -> [String: LayerOption] {
        var choice = choice
        var used = Self.bytes(choice)
        while true {
            var best: (name: String, option: LayerOption, gain: Double)?
            for (name, options) in tables {
                guard let current = choice[name] else { continue }
                for option in options where option.error < current.error {
                    let added = option.bytes - current.bytes
                    guard used + added <= budget else { continue }
                    let gain = added <= 0 ? Double.infinity : (current.error - option.error) / Double(added)
                    if gain > (best?.gain ?? 0) { best = (name, option, gain) }
                }
            }
            guard let best else { return choice }
            used += best.option.bytes - choice[best.name]!.bytes
            choice[best.name] = best.option
        }
    }

    /// Estimated bytes of a choice (sum over layers).
    public static func bytes(_ choice: [String: LayerOption]) -> Int { choice.values.reduce(0) { $0 + $1.bytes } }

    /// Predicted total error of a choice.
    public static func error(_ choice: [String: LayerOption]) -> Double { choice.values.reduce(0) { $0 + $1.error } }

    /// The dtypes a table offers.
    public static let dtypes: [DType] = [.float32, .float16, .int8, .int4]

    /// Tables for `hidden` layers (factorized at a grid of ranks, or kept dense) and `output` (kept
    /// dense), every option in each of `dtypes`.
    public static func tables(model: Model, spectra: [String: LayerSpectrum], hidden: [String], output: String?,
                              options: ConversionOptions, dtypes: [DType] = dtypes) throws -> LayerAllocation {
        var tables: [String: [LayerOption]] = [:]
        for layer in model.layers {
            let isHidden = hidden.contains(layer.name)
            guard isHidden || layer.name == output else { continue }
            if case let .factorizedDense(_, _, bias, _, f) = layer.operation {
                // Already factorized (a `.lrm` input): factor options only (never densified), of ranks up to the stored one
                // (the output layer at that rank alone: a search does not truncate it), errors relative to the original.
                guard let spectrum = spectra[layer.name], let stored = spectrum.storedRank, spectrum.totalEnergy > 0 else { continue }
                var ranks = isHidden ? rankGrid(spectrum, multiple: options.rankMultiple).filter { $0 < stored } : []
                ranks.append(stored)
                tables[layer.name] = try factorOptions(spectrum, weights: inputWeights(spectrum, rows: f.inFeatures),
                                                       biasCount: bias?.elementCount ?? 0, options: options, dtypes: dtypes, ranks: ranks)
                continue
            }
            guard case let .dense(kernel, bias, _) = layer.operation, kernel.shape.count == 2 else { continue }
            let (n, m) = (kernel.shape[0], kernel.shape[1])
            let spectrum = spectra[layer.name]
            let weights = inputWeights(spectrum, rows: n)
            let w = kernel.floats()
            let total = spectrum?.totalEnergy ?? weightedNorm(w, rows: n, columns: m, weights: weights)
            guard total > 0 else { continue }
            let biasCount = bias?.elementCount ?? 0
            var table: [LayerOption] = []
            for dtype in dtypes {
                let q = quantization(options, dtype)
                if dtype == .int4, (n * m) % 2 != 0 { continue }   // not writable as i4: the converter keeps it f32
                if let q, let g = q.groupSize, n % g != 0 { _ = g; continue }
                let stored = storedValues(w, rows: n, columns: m, dtype: dtype, quantization: q)
                let noise = weightedDistance(stored, w, rows: n, columns: m, weights: weights)
                table.append(LayerOption(rank: nil, dtype: dtype,
                                         bytes: tensorBytes(rows: n, columns: m, dtype: dtype, quantization: q) + biasBytes(biasCount, dtype),
                                         error: noise / total))
            }
            if isHidden, let spectrum {
                table += try factorOptions(spectrum, weights: weights, biasCount: biasCount, options: options, dtypes: dtypes)
            }
            tables[layer.name] = table
        }
        return LayerAllocation(tables: tables)
    }

    /// Ranks tried for a layer: every rank up to 16, then steps of about 6%, up to the largest that pays.
    static func rankGrid(_ spectrum: LayerSpectrum, multiple: Int) -> [Int] {
        let cost = FactorizationCost(inFeatures: spectrum.inFeatures, outFeatures: spectrum.outFeatures)
        let largest = min(cost.breakEvenRank, spectrum.svd.rank)
        var ranks: [Int] = []
        var r = 1
        while r <= largest {
            let rounded = cost.roundedRank(r, multiple: multiple)
            if rounded <= largest, ranks.last != rounded { ranks.append(rounded) }
            r = max(r + 1, Int((Double(r) * 1.06).rounded()))
        }
        return ranks
    }

    /// `ranks`: the ranks tried (nil: ``rankGrid(_:multiple:)``), ascending.
    static func factorOptions(_ spectrum: LayerSpectrum, weights: [Double], biasCount: Int, options: ConversionOptions,
                              dtypes: [DType], ranks: [Int]? = nil) throws -> [LayerOption] {
        let ranks = ranks ?? rankGrid(spectrum, multiple: options.rankMultiple)
        guard let largest = ranks.last else { return [] }
        let (n, m) = (spectrum.inFeatures, spectrum.outFeatures)
        let (us, vt) = try spectrum.factors(rank: largest)
        let sigma2 = spectrum.singularValues.prefix(largest).map { $0 * $0 }
        let total = spectrum.totalEnergy
        var result: [LayerOption] = []
        for dtype in dtypes {
            let q = quantization(options, dtype)
            if let q, let g = q.groupSize, n % g != 0 { _ = g; continue }
            // U·Σ: each column is rounded on its own (its scales run over rows), so the noise of rank k
            // is the sum of the first k columns' noise.
            let storedUS = storedValues(us.values, rows: n, columns: largest, dtype: dtype, quantization: q)
            var columnNoise = [Double](repeating: 0, count: largest)
            for i in 0..<n {
                let wi = weights[i]
                if wi == 0 { continue }
                for a in 0..<largest {
                    let d = Double(storedUS[i * largest + a]) - Double(us.values[i * largest + a])
                    columnNoise[a] += wi * d * d
                }
            }
            var prefix = 0.0, next = 0
            for k in ranks {
                while next < k { prefix += columnNoise[next]; next += 1 }
                if dtype == .int4, (n * k) % 2 != 0 || (k * m) % 2 != 0 { continue }
                var vtQ = q
                if let g = q?.groupSize, k % g != 0 { vtQ?.groupSize = nil }
                let slice = Array(vt.values[0..<(k * m)])
                let storedVT = storedValues(slice, rows: k, columns: m, dtype: dtype, quantization: vtQ)
                var vtNoise = 0.0
                for a in 0..<k {
                    var row = 0.0
                    for j in 0..<m { let d = Double(storedVT[a * m + j]) - Double(slice[a * m + j]); row += d * d }
                    vtNoise += sigma2[a] * row
                }
                let tail = spectrum.tailFraction(rank: k)
                let bytes = tensorBytes(rows: n, columns: k, dtype: dtype, quantization: q)
                    + tensorBytes(rows: k, columns: m, dtype: dtype, quantization: vtQ) + biasBytes(biasCount, dtype)
                    + headerBytesPerRank * k
                result.append(LayerOption(rank: k, dtype: dtype, bytes: bytes, error: tail + (prefix + vtNoise) / total))
            }
        }
        return result
    }

    /// Header bytes a factorized layer adds per rank (its singular values as JSON numbers): an
    /// estimate; searches check the exact size of the written file.
    static let headerBytesPerRank = 22

    static func quantization(_ options: ConversionOptions, _ dtype: DType) -> QuantizationOptions? {
        guard !dtype.isFloatingPoint else { return nil }
        var q = options.quantization ?? QuantizationOptions(dtype: dtype)
        q.dtype = dtype
        return q
    }

    /// The values as they would be stored (and read back).
    static func storedValues(_ values: [Float], rows: Int, columns: Int, dtype: DType, quantization: QuantizationOptions?) -> [Float] {
        if let q = quantization {
            return QuantizedValues.rounding(values, shape: [rows, columns], dtype: dtype, groupSize: q.groupSize(rows: rows),
                                            scaleDType: q.scaleDType, clipSearch: true, zeroPoints: q.zeroPoints).dequantized()
        }
        return dtype == .float32 ? values : Tensor(shape: [rows, columns], floats: values, dtype: dtype).floats()
    }

    static func padded(_ bytes: Int) -> Int { (bytes + Container.defaultAlignment - 1) / Container.defaultAlignment * Container.defaultAlignment }

    /// Bytes of a rows × columns weight stored in `dtype` (codes, scales and zero points padded separately).
    static func tensorBytes(rows: Int, columns: Int, dtype: DType, quantization: QuantizationOptions?) -> Int {
        guard let q = quantization else { return padded(rows * columns * dtype.byteCount) }
        let codes = dtype == .int4 ? (rows * columns + 1) / 2 : rows * columns
        var symmetric = q
        symmetric.zeroPoints = false
        let scales = symmetric.byteCount(rows: rows, columns: columns) - codes
        let zeroPoints = q.byteCount(rows: rows, columns: columns) - codes - scales
        return padded(codes) + padded(scales) + (zeroPoints > 0 ? padded(zeroPoints) : 0)
    }

    /// The bias as the size search stores it: f32 next to f32 weights, else f16.
    static func biasBytes(_ count: Int, _ dtype: DType) -> Int {
        count == 0 ? 0 : padded(count * (dtype == .float32 ? 4 : 2))
    }

    /// (TᵀT)ᵢᵢ for the spectrum's metric T (1 for the plain metric or without a spectrum).
    static func inputWeights(_ spectrum: LayerSpectrum?, rows: Int) -> [Double] {
        switch spectrum?.metric {
        case .whitened(let lower, _)?:
            // T = Lᵀ: (L·Lᵀ)ᵢᵢ = Σⱼ Lᵢⱼ².
            var result = [Double](repeating: 0, count: rows)
            for i in 0..<rows {
                var sum = 0.0
                for j in 0..<lower.columns { let x = Double(lower.values[i * lower.columns + j]); sum += x * x }
                result[i] = sum
            }
            return result
        case .activationScaled(let scales, _)?:
            return scales.map { Double($0) * Double($0) }
        default:
            return [Double](repeating: 1, count: rows)
        }
    }

    static func weightedNorm(_ w: [Float], rows: Int, columns: Int, weights: [Double]) -> Double {
        var sum = 0.0
        for i in 0..<rows { for j in 0..<columns { let x = Double(w[i * columns + j]); sum += weights[i] * x * x } }
        return sum
    }

    static func weightedDistance(_ a: [Float], _ b: [Float], rows: Int, columns: Int, weights: [Double]) -> Double {
        var sum = 0.0
        for i in 0..<rows { for j in 0..<columns { let d = Double(a[i * columns + j]) - Double(b[i * columns + j]); sum += weights[i] * d * d } }
        return sum
    }
}
