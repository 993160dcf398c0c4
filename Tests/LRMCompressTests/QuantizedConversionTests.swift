import Foundation
import LRMFormat
import LRMLinearAlgebra
import LRMRuntime
import Testing
@testable import LRMCompress

@Suite("Quantized factors in the converter")
struct QuantizedConversionTests {
    /// Inputs with strongly correlated features (a few latent factors plus noise), as real layer inputs are.
    static func correlatedInputs(samples: Int, features: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        let latent = 4
        let mixing = (0..<(latent * features)).map { _ in rng.nextSymmetricFloat() }
        var x = [Float](repeating: 0, count: samples * features)
        for s in 0..<samples {
            let z = (0..<latent).map { _ in rng.nextSymmetricFloat() * 2 }
            for f in 0..<features {
                var v = rng.nextSymmetricFloat() * 0.1
                for l in 0..<latent { v += z[l] * mixing[l * features + f] }
                x[s * features + f] = v
            }
        }
        return x
    }

    static func gram(_ x: [Float], samples: Int, features n: Int) -> [Double] {
        var g = [Double](repeating: 0, count: n * n)
        for s in 0..<samples {
            for i in 0..<n { for j in 0..<n { g[i * n + j] += Double(x[s * n + i]) * Double(x[s * n + j]) } }
        }
        return g
    }

    /// ‖X·W − X·Ŵ‖_F² on the samples.
    static func outputError(_ x: [Float], samples: Int, _ w: [Float], _ q: [Float], rows: Int, columns: Int) -> Double {
        var total = 0.0
        for s in 0..<samples {
            for j in 0..<columns {
                var d = 0.0
                for i in 0..<rows { d += Double(x[s * rows + i]) * Double(w[i * columns + j] - q[i * columns + j]) }
                total += d * d
            }
        }
        return total
    }

    @Test("error feedback on calibration data gives a smaller output error than rounding to nearest", arguments: [DType.int4, .int8])
    func errorFeedback(dtype: DType) throws {
        let (samples, rows, columns) = (300, 32, 6)
        let x = Self.correlatedInputs(samples: samples, features: rows, seed: 4)
        var rng = SeededGenerator(seed: 8)
        let w = (0..<(rows * columns)).map { _ in rng.nextSymmetricFloat() }
        let options = QuantizationOptions(dtype: dtype, groupSize: 8)
        let plain = try FactorQuantizer.quantize(w, rows: rows, columns: columns, options: options)
        let fed = try FactorQuantizer.quantize(w, rows: rows, columns: columns, options: options,
                                               gram: Self.gram(x, samples: samples, features: rows))
        #expect(fed.groupSize == 8 && fed.scales.shape == [4, columns] && fed.scales.dtype == .float16)
        let plainError = Self.outputError(x, samples: samples, w, plain.dequantized(), rows: rows, columns: columns)
        let fedError = Self.outputError(x, samples: samples, w, fed.dequantized(), rows: rows, columns: columns)
        #expect(fedError < 0.8 * plainError, "error feedback \(fedError), round to nearest \(plainError)")
    }

    @Test("error feedback with zero points (1.3): smaller output error than rounding to nearest with zero points, codes and zero points in range",
          arguments: [DType.int4, .int8])
    func errorFeedbackWithZeroPoints(dtype: DType) throws {
        let (samples, rows, columns) = (300, 32, 6)
        let x = Self.correlatedInputs(samples: samples, features: rows, seed: 4)
        var rng = SeededGenerator(seed: 8)
        // Skewed weights (mostly positive), where zero points matter.
        let w = (0..<(rows * columns)).map { _ in rng.nextSymmetricFloat() + 0.6 }
        let options = QuantizationOptions(dtype: dtype, groupSize: 8, zeroPoints: true)
        let plain = try FactorQuantizer.quantize(w, rows: rows, columns: columns, options: options)
        let gram = Self.gram(x, samples: samples, features: rows)
        let fed = try FactorQuantizer.quantize(w, rows: rows, columns: columns, options: options, gram: gram)
        var symmetricOptions = options
        symmetricOptions.zeroPoints = false
        let symmetric = try FactorQuantizer.quantize(w, rows: rows, columns: columns, options: symmetricOptions, gram: gram)
        let range = QuantizedValues.codeRange(dtype)
        #expect(fed.zeroPoints?.shape == [4, columns] && plain.zeroPoints?.shape == [4, columns] && symmetric.zeroPoints == nil)
        #expect(fed.codes.allSatisfy { range.contains(Int($0)) } && fed.zeroPointValues?.allSatisfy { range.contains(Int($0)) } == true)
        #expect(fed.zeroPointValues?.contains { $0 != 0 } == true)
        let plainError = Self.outputError(x, samples: samples, w, plain.dequantized(), rows: rows, columns: columns)
        let fedError = Self.outputError(x, samples: samples, w, fed.dequantized(), rows: rows, columns: columns)
        let symmetricError = Self.outputError(x, samples: samples, w, symmetric.dequantized(), rows: rows, columns: columns)
        #expect(fedError < 0.8 * plainError, "error feedback \(fedError), round to nearest \(plainError)")
        // On these one-sided weights zero points also beat symmetric codes under the same error feedback.
        #expect(fedError < symmetricError, "with zero points \(fedError), symmetric \(symmetricError)")
        // The byte count the searches use is that of the tensors written.
        let written = Tensor(quantized: fed)
        #expect(options.byteCount(rows: rows, columns: columns) == written.storedByteCount)
    }

    @Test("U of (H + δI)⁻¹ = UᵀU is upper triangular and reproduces the inverse")
    func inverseCholesky() throws {
        let n = 12
        let x = Self.correlatedInputs(samples: 40, features: n, seed: 2)
        let h = Self.gram(x, samples: 40, features: n)
        let u = try FactorQuantizer.inverseUpperCholesky(h, n: n)
        var mean = 0.0
        for i in 0..<n { mean += h[i * n + i] }
        let damping = FactorQuantizer.dampening * mean / Double(n)
        // (UᵀU)·(H + δI) = I
        for i in 0..<n {
            for j in 0..<n {
                if j < i { #expect(u[i * n + j] == 0) }
                var product = 0.0
                for k in 0..<n {
                    var inverse = 0.0
                    for r in 0..<n { inverse += u[r * n + i] * u[r * n + k] }
                    product += inverse * (h[k * n + j] + (k == j ? damping : 0))
                }
                #expect(abs(product - (i == j ? 1 : 0)) < 1e-3, "[\(i), \(j)] = \(product)")
            }
        }
    }

    func model() throws -> Model {
        let k1 = try SyntheticKernel.make(rows: 24, columns: 20, sigma: (0..<20).map { pow(0.8, Double($0)) * 3 }, seed: 41)
        var rng = SeededGenerator(seed: 42)
        let k2 = (0..<(20 * 4)).map { _ in rng.nextSymmetricFloat() }
        return Model(name: "q", input: InputSpec(shape: [24]), layers: [
            Layer(name: "h", operation: .dense(kernel: Tensor(shape: [24, 20], floats: k1), bias: Tensor(shape: [20], floats: [Float](repeating: 0.1, count: 20)), activation: .tanh)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [20, 4], floats: k2), bias: nil, activation: .softmax)),
        ])
    }

    @Test("--factor-dtype i4 with groups: quantized factors, their error recorded, the metadata, a file that reads back")
    func converterQuantizes() throws {
        var options = ConversionOptions(policy: .rank(6), parallelLayers: 1)
        options.quantization = QuantizationOptions(dtype: .int4, groupSize: 4)
        options.quantizeDenseKernels = true
        let result = try Converter.convert(try model(), options: options)
        guard case let .factorizedDense(us, vt, _, _, f) = result.model.layers[0].operation else { Issue.record("not factorized"); return }
        #expect(us.dtype == .int4 && us.quantization?.groupSize == 4 && us.quantization?.scales.shape == [6, 6])
        // 4 does not divide the rank 6: Vᵀ gets one scale per column.
        #expect(vt.dtype == .int4 && vt.quantization?.groupSize == 6 && vt.quantization?.scales.shape == [1, 20])
        // The recorded error is that of the stored (rounded) factors, larger than the truncation's alone.
        let decision = result.decisions[0]
        #expect(f.relativeError >= (1 - f.retainedEnergy).squareRoot() - 1e-6)
        #expect(decision.relativeError == f.relativeError)
        guard case let .dense(kernel, _, _) = result.model.layers[1].operation else { Issue.record("output"); return }
        #expect(kernel.dtype == .int4, "--quantize-dense stores the kept-dense output layer as codes too")
        #expect(result.model.metadata[MetadataKey.conversionFactorDType] == .string("i4"))
        #expect(result.model.metadata[MetadataKey.conversionGroupSize] == .int(4))
        let bytes = try ContainerWriter.encode(result.model)
        let directory = NSTemporaryDirectory() + "lrm-qc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/m.lrm"))
        let loaded = try ContainerFile(path: directory + "/m.lrm").loadModel()
        #expect(loaded == result.model)
    }

    @Test("asymmetric i4 factors: zero points on every quantized weight, format 1.3, the metadata, a file that reads back")
    func converterZeroPoints() throws {
        var options = ConversionOptions(policy: .rank(6), parallelLayers: 1)
        options.quantization = QuantizationOptions(dtype: .int4, groupSize: 4, zeroPoints: true)
        options.quantizeDenseKernels = true
        let result = try Converter.convert(try model(), options: options)
        guard case let .factorizedDense(us, vt, _, _, _) = result.model.layers[0].operation,
              case let .dense(kernel, _, _) = result.model.layers[1].operation else { Issue.record("layers"); return }
        #expect(us.quantization?.zeroPoints?.shape == [6, 6] && us.quantization?.zeroPoints?.dtype == .int4)
        #expect(vt.quantization?.zeroPoints?.shape == [1, 20] && vt.quantization?.zeroPoints?.dtype == .int4)
        #expect(kernel.quantization?.zeroPoints?.shape == [5, 4])
        #expect(result.model.metadata[MetadataKey.conversionZeroPoints] == .bool(true))
        let directory = NSTemporaryDirectory() + "lrm-qz-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try ContainerWriter.write(result.model, to: directory + "/z.lrm")
        let file = try ContainerFile(path: directory + "/z.lrm")
        #expect(file.minorVersion == 3 && file.header.model.layers.map(\.kindCode) == [18, 17])
        #expect(try file.loadModel() == result.model)
        // Symmetric options write no zero points and no key (files as before).
        options.quantization?.zeroPoints = false
        let symmetric = try Converter.convert(try model(), options: options)
        #expect(symmetric.model.metadata[MetadataKey.conversionZeroPoints] == nil)
        try ContainerWriter.write(symmetric.model, to: directory + "/s.lrm")
        #expect(try ContainerFile(path: directory + "/s.lrm").minorVersion == 2)
    }

    @Test("a group size that does not divide a layer's inputs, and i4 factors of odd size, are refused by name")
    func badGroups() throws {
        var options = ConversionOptions(policy: .rank(6), parallelLayers: 1)
        options.quantization = QuantizationOptions(dtype: .int8, groupSize: 5)
        #expect { try Converter.convert(try model(), options: options) } throws: { error in
            guard let error = error as? ConversionError else { return false }
            return error.layer == "h" && error.message.contains("group size 5") && error.message.contains("24 inputs")
        }
        let odd = Model(name: "o", input: InputSpec(shape: [9]), layers: [
            Layer(name: "h", operation: .dense(kernel: try Tensor(shape: [9, 7], floats: SyntheticKernel.make(rows: 9, columns: 7, sigma: [3, 2, 1, 0.5, 0.2, 0.1, 0.05], seed: 3)),
                                               bias: nil, activation: .linear))])
        options.quantization = QuantizationOptions(dtype: .int4)
        options.policy = .rank(3)
        #expect { try Converter.convert(odd, options: options) } throws: { error in
            (error as? ConversionError)?.message.contains("even") == true
        }
    }
}

@Suite("Inverse Cholesky cache")
struct InverseCholeskyCacheTests {
    @Test("a cached factor is the factor of its own Gram matrix, never another's")
    func cachedFactor() throws {
        let n = InverseCholeskyCache.minimumSize
        func gram(seed: UInt64) -> [Double] {
            let x = QuantizedConversionTests.correlatedInputs(samples: n + 8, features: n, seed: seed)
            var g = [Double](repeating: 0, count: n * n)
            for s in 0..<(n + 8) { for i in 0..<n { let xi = Double(x[s * n + i]); for j in 0..<n { g[i * n + j] += xi * Double(x[s * n + j]) } } }
            return g
        }
        let (a, b) = (gram(seed: 1), gram(seed: 2))
        let cache = InverseCholeskyCache()
        let direct = try FactorQuantizer.inverseUpperCholesky(a, n: n)
        #expect(try cache.factor(a, n: n) == direct)
        #expect(try cache.factor(a, n: n) == direct)   // from the cache
        #expect(try cache.factor(b, n: n) == FactorQuantizer.inverseUpperCholesky(b, n: n))
        #expect(try cache.factor(b, n: n) != direct)
    }
}
