import Foundation
import Testing
@testable import LRMFormat

@Suite("Quantized weights (format 1.2)")
struct QuantizationTests {
    @Test("i4 packing: two codes per byte, the even one low, sign-extended back", arguments: [0, 2, 8, 130])
    func int4Packing(count: Int) {
        var rng = SeededGenerator(seed: UInt64(count) + 1)
        let codes = (0..<count).map { _ in Int8(Int(rng.next() % 16) - 8) }
        let packed = QuantizedValues.packInt4(codes)
        #expect(packed.count == count / 2)
        #expect(packed.withUnsafeBytes { QuantizedValues.unpackInt4($0) } == codes)
        if count >= 2 {
            #expect(QuantizedValues.packInt4([-1, 3]) == [0x3F])
            #expect(QuantizedValues.packInt4([-8, 7]) == [0x78])
        }
    }

    @Test("round to nearest: every value within half a step of its group's scale", arguments: [DType.int8, .int4])
    func roundingError(dtype: DType) {
        var rng = SeededGenerator(seed: 3)
        let values = (0..<(12 * 5)).map { _ in rng.nextSymmetricFloat() * 3 }
        for group in [1, 3, 4, 12] {
            let q = QuantizedValues.rounding(values, shape: [12, 5], dtype: dtype, groupSize: group)
            #expect(q.scales.shape == [12 / group, 5] && q.groupSize == group)
            let scales = q.scales.floats()
            let restored = q.dequantized()
            for i in 0..<12 {
                for j in 0..<5 {
                    let step = scales[(i / group) * 5 + j]
                    #expect(abs(restored[i * 5 + j] - values[i * 5 + j]) <= step / 2 * 1.0001)
                    #expect(abs(Int(q.codes[i * 5 + j])) <= QuantizedValues.maxCode(dtype))
                }
            }
        }
    }

    @Test("the clip search never does worse than the absolute maximum")
    func clipSearch() {
        var rng = SeededGenerator(seed: 9)
        // Heavy-tailed columns: one outlier per column, where clipping helps.
        var values = (0..<(256 * 4)).map { _ in rng.nextSymmetricFloat() }
        for j in 0..<4 { values[j] = 2.5 }
        func error(_ q: QuantizedValues) -> Float { zip(q.dequantized(), values).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
        let plain = QuantizedValues.rounding(values, shape: [256, 4], dtype: .int4)
        let searched = QuantizedValues.rounding(values, shape: [256, 4], dtype: .int4, clipSearch: true)
        #expect(error(searched) < error(plain))
    }

    @Test("a quantized model round-trips: codes, scales and group sizes, with the same bytes written twice")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        let model = QuantModel.make()
        let path = directory.file("q.lrm")
        try ContainerWriter.write(model, to: path)
        let file = try ContainerFile(path: path)
        try file.verifyAllChecksums()
        #expect(file.minorVersion == 2)
        let loaded = try file.loadModel()
        #expect(loaded == model)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == (try ContainerWriter.encode(loaded)))
        guard case let .factorizedDense(us, _, _, _, _) = loaded.layers[1].operation else { Issue.record("kind"); return }
        #expect(us.dtype == .int4 && us.quantization?.scales.dtype == .float16 && us.byteCount == 4)
        let layer = file.header.model.layers[1]
        #expect(layer.kindCode == 16 && layer.kindName == "quantized_factorized_dense")
        #expect(layer.quantization["us"]?.groupSize == 2 && layer.quantization["vt"]?.groupSize == 2)
        #expect(file.header.tensors.map(\.name) == ["q8/kernel", "q8/kernel_scales", "q8/bias", "q4/us", "q4/us_scales",
                                                    "q4/vt", "q4/vt_scales", "plain/kernel", "plain/bias"])
    }

    @Test("the writer refuses what the reader would reject: a group that does not divide, odd i4, half-quantized factors")
    func writerChecks() throws {
        var model = QuantModel.make()
        guard case let .dense(kernel, bias, act) = model.layers[0].operation, var q = kernel.quantization else { return }
        q.groupSize = 4
        model.layers[0].operation = .dense(kernel: Tensor(quantized: q), bias: bias, activation: act)
        #expect(throws: ContainerError.self) { try ContainerWriter.encode(model) }

        var odd = QuantModel.make()
        odd.layers[2].operation = .dense(kernel: Tensor(shape: [3, 2], floats: [1, 2, 3, 4, 5, 6]),
                                         bias: nil, activation: .softmax)
        odd.layers.append(Layer(name: "odd", operation: .dense(
            kernel: Tensor(quantized: QuantizedValues.rounding([1, 2, 3, 4, 5, 6], shape: [2, 3], dtype: .int4)),
            bias: nil, activation: .linear)))
        odd.layers.append(Layer(name: "odd2", operation: .dense(
            kernel: Tensor(quantized: QuantizedValues.rounding([1, 2, 3], shape: [3, 1], dtype: .int4)),
            bias: nil, activation: .linear)))
        #expect(throws: ContainerError.self) { try ContainerWriter.encode(odd) }

        var half = QuantModel.make()
        guard case let .factorizedDense(us, vt, b, a, f) = half.layers[1].operation else { return }
        half.layers[1].operation = .factorizedDense(us: us, vt: Tensor(shape: vt.shape, floats: vt.floats()), bias: b, activation: a, factorization: f)
        #expect(throws: ContainerError.self) { try ContainerWriter.encode(half) }
    }

    @Test("zero points (1.3): W = (code − zero) · scale exactly, codes in range, each value within half a step", arguments: [DType.int8, .int4])
    func zeroPointRounding(dtype: DType) {
        var rng = SeededGenerator(seed: 5)
        // Skewed columns: mostly positive, where a zero point helps.
        let values = (0..<(12 * 5)).map { _ in rng.nextSymmetricFloat() + 0.8 }
        let range = QuantizedValues.codeRange(dtype)
        for group in [1, 3, 12] {
            let q = QuantizedValues.rounding(values, shape: [12, 5], dtype: dtype, groupSize: group, zeroPoints: true)
            guard let zero = q.zeroPointValues else { Issue.record("no zero points"); return }
            #expect(q.zeroPoints?.shape == [12 / group, 5] && zero.count == 12 / group * 5)
            let scales = q.scales.floats()
            let restored = q.dequantized()
            for i in 0..<12 {
                for j in 0..<5 {
                    let g = (i / group) * 5 + j
                    #expect(range.contains(Int(q.codes[i * 5 + j])) && range.contains(Int(zero[g])))
                    // The spec's formula, bit for bit: an exact integer difference, one float32 product.
                    #expect(restored[i * 5 + j].bitPattern == (Float(Int(q.codes[i * 5 + j]) - Int(zero[g])) * scales[g]).bitPattern)
                    #expect(abs(restored[i * 5 + j] - values[i * 5 + j]) <= scales[g] / 2 * 1.0001)
                }
            }
        }
    }

    @Test("zero points lower the rounding error of one-sided values, for the same codes and scales")
    func zeroPointsHelpSkewedValues() {
        var rng = SeededGenerator(seed: 8)
        let values = (0..<(64 * 6)).map { _ in abs(rng.nextSymmetricFloat()) }
        func error(_ q: QuantizedValues) -> Float { zip(q.dequantized(), values).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
        for dtype in [DType.int8, .int4] {
            let symmetric = QuantizedValues.rounding(values, shape: [64, 6], dtype: dtype, clipSearch: true)
            let asymmetric = QuantizedValues.rounding(values, shape: [64, 6], dtype: dtype, clipSearch: true, zeroPoints: true)
            // All values ≥ 0: symmetric codes use half their levels, zero points all of them (about 4× less squared error).
            #expect(error(asymmetric) < error(symmetric) / 2)
        }
    }

    @Test("zero points are stored as i4 beside i4 codes when their count is even, else as i8")
    func zeroPointStorage() {
        let values: [Float] = (0..<12).map { Float($0) / 4 }
        #expect(QuantizedValues.rounding(values, shape: [3, 4], dtype: .int4, zeroPoints: true).zeroPoints?.dtype == .int4)
        #expect(QuantizedValues.rounding(values, shape: [4, 3], dtype: .int4, zeroPoints: true).zeroPoints?.dtype == .int8)
        #expect(QuantizedValues.rounding(values, shape: [3, 4], dtype: .int8, zeroPoints: true).zeroPoints?.dtype == .int8)
        #expect(QuantizedValues.rounding(values, shape: [3, 4], dtype: .int4).zeroPoints == nil)
        // An all-zero group: scale 1, zero point 0, codes 0.
        let zeros = QuantizedValues.rounding([Float](repeating: 0, count: 8), shape: [4, 2], dtype: .int4, zeroPoints: true)
        #expect(zeros.dequantized() == [Float](repeating: 0, count: 8) && zeros.zeroPointValues == [0, 0])
    }

    @Test("a model with zero points round-trips as format 1.3: kinds 17 and 18 beside 15, zero points after the scales")
    func zeroPointRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let model = ZeroPointModel.make()
        let path = directory.file("z.lrm")
        try ContainerWriter.write(model, to: path)
        let file = try ContainerFile(path: path)
        try file.verifyAllChecksums()
        #expect(file.minorVersion == 3)
        let loaded = try file.loadModel()
        #expect(loaded == model)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == (try ContainerWriter.encode(loaded)))
        #expect(file.header.model.layers.map(\.kindCode) == [17, 18, 15])
        #expect(file.header.model.layers.map(\.kindName) == ["quantized_dense_zp", "quantized_factorized_dense_zp", "quantized_dense"])
        #expect(file.header.tensors.map(\.name) == ["z8/kernel", "z8/kernel_scales", "z8/kernel_zero_points", "z8/bias",
                                                    "z4/us", "z4/us_scales", "z4/us_zero_points",
                                                    "z4/vt", "z4/vt_scales", "z4/vt_zero_points", "s8/kernel", "s8/kernel_scales", "s8/bias"])
        #expect(file.header.tensors.map(\.dtype.name)[2] == "i8" && file.header.tensors[6].dtype == .int4 && file.header.tensors[9].dtype == .int8)
        // Bytes per layer count the zero points (the summary's bits per parameter come from these).
        let summary = ModelSummary(header: file.header)
        #expect(summary.layers[0].storedBytes == 24 + 32 + 8 + 16)
    }

    @Test("the writer refuses zero points for only some of a layer's weights, or of the wrong shape")
    func zeroPointWriterChecks() throws {
        var model = ZeroPointModel.make()
        guard case let .factorizedDense(us, vt, b, a, f) = model.layers[1].operation, var vq = vt.quantization else { return }
        vq.zeroPoints = nil
        model.layers[1].operation = .factorizedDense(us: us, vt: Tensor(quantized: vq), bias: b, activation: a, factorization: f)
        #expect(throws: ContainerError.self) { try ContainerWriter.encode(model) }

        var shape = ZeroPointModel.make()
        guard case let .dense(kernel, bias, act) = shape.layers[0].operation, var kq = kernel.quantization else { return }
        kq.zeroPoints = Tensor(shape: [1, 4], storage: .int8([0, 0, 0, 0]))
        shape.layers[0].operation = .dense(kernel: Tensor(quantized: kq), bias: bias, activation: act)
        #expect(throws: ContainerError.self) { try ContainerWriter.encode(shape) }
    }
}
