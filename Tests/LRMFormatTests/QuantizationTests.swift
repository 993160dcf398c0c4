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
}
