/// A tensor held in memory: a row-major shape and its values in their storage type.
///
/// Computation in lrm is float32; `floats()` converts. A float64 or float16 model stays in its
/// own precision when stored, so importing is lossless.
public struct Tensor: Sendable, Equatable {
    /// Values in storage precision. Half-precision values are kept as their bit patterns.
    public enum Storage: Sendable, Equatable {
        case float32([Float])
        case float64([Double])
        case float16([UInt16])
        case bfloat16([UInt16])
        /// Raw `i8` codes, as a tensor of that dtype is stored (without its scales).
        case int8([Int8])
        /// Raw `i4` codes (−8…7), one per element, unpacked.
        case int4([Int8])
        /// A quantized weight: codes with their scales. `floats()` gives the dequantized values.
        indirect case quantized(QuantizedValues)
    }

    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
    }

    /// A tensor from float32 values, stored as `dtype` (rounded to nearest even if narrower).
    public init(shape: [Int], floats: [Float], dtype: DType = .float32) {
        self.shape = shape
        switch dtype {
        case .float32: storage = .float32(floats)
        case .float64: storage = .float64(floats.map(Double.init))
        case .float16: storage = .float16(floats.map(HalfPrecision.half(from:)))
        case .bfloat16: storage = .bfloat16(floats.map(HalfPrecision.bfloat16(from:)))
        case .int8, .int4:
            storage = .quantized(QuantizedValues.rounding(floats, shape: shape, dtype: dtype))
        }
    }

    /// A quantized tensor: `values`'s codes with its scales; the shape is the codes' `[rows, columns]`.
    public init(quantized values: QuantizedValues) {
        shape = [values.rows, values.columns]
        storage = .quantized(values)
    }

    public var dtype: DType {
        switch storage {
        case .float32: .float32
        case .float64: .float64
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .int8: .int8
        case .int4: .int4
        case .quantized(let values): values.dtype
        }
    }

    /// The codes and scales, if this tensor is a quantized weight.
    public var quantization: QuantizedValues? {
        if case .quantized(let values) = storage { return values }
        return nil
    }

    public var elementCount: Int {
        switch storage {
        case .float32(let values): values.count
        case .float64(let values): values.count
        case .float16(let values), .bfloat16(let values): values.count
        case .int8(let codes), .int4(let codes): codes.count
        case .quantized(let values): values.codes.count
        }
    }

    /// Bytes of the stored values (for a quantized weight: its codes, without the scales; an odd
    /// number of `i4` codes counts the half byte as a whole one).
    public var byteCount: Int { dtype == .int4 ? (elementCount + 1) / 2 : elementCount * dtype.byteCount }

    /// Bytes this tensor takes in a file's data section before alignment: ``byteCount`` plus, for a
    /// quantized weight, its scales (and zero points).
    public var storedByteCount: Int {
        byteCount + (quantization?.scales.byteCount ?? 0) + (quantization?.zeroPoints?.byteCount ?? 0)
    }

    /// The values converted to float32.
    public func floats() -> [Float] {
        switch storage {
        case .float32(let values): values
        case .float64(let values): values.map(Float.init)
        case .float16(let values): values.map(HalfPrecision.float(fromHalf:))
        case .bfloat16(let values): values.map(HalfPrecision.float(fromBFloat16:))
        case .int8(let codes), .int4(let codes): codes.map(Float.init)
        case .quantized(let values): values.dequantized()
        }
    }

    /// The same values stored as `dtype`.
    public func converted(to dtype: DType) -> Tensor {
        if dtype == self.dtype { return self }
        if quantization != nil || !dtype.isFloatingPoint {
            return Tensor(shape: shape, floats: floats(), dtype: dtype)
        }
        if case .float64(let values) = storage, dtype != .float64 {
            // Narrow from double directly to float32 first; f16/bf16 from that float.
            return Tensor(shape: shape, floats: values.map(Float.init), dtype: dtype)
        }
        return Tensor(shape: shape, floats: floats(), dtype: dtype)
    }

    /// Calls `body` with the little-endian bytes of the values, as stored in a file.
    public func withLittleEndianBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        #if _endian(little)
        switch storage {
        case .float32(let values): return try values.withUnsafeBytes(body)
        case .float64(let values): return try values.withUnsafeBytes(body)
        case .float16(let values), .bfloat16(let values): return try values.withUnsafeBytes(body)
        case .int8(let codes): return try codes.withUnsafeBytes(body)
        case .int4(let codes): return try QuantizedValues.packInt4(codes).withUnsafeBytes(body)
        case .quantized(let values):
            return values.dtype == .int8 ? try values.codes.withUnsafeBytes(body)
                : try QuantizedValues.packInt4(values.codes).withUnsafeBytes(body)
        }
        #else
        var writer = ByteWriter()
        switch storage {
        case .float32(let values): for v in values { writer.write(v.bitPattern) }
        case .float64(let values): for v in values { writer.write(v.bitPattern) }
        case .float16(let values), .bfloat16(let values): for v in values { writer.write(v) }
        case .int8(let codes): for v in codes { writer.write(UInt8(bitPattern: v)) }
        case .int4(let codes): writer.append(QuantizedValues.packInt4(codes))
        case .quantized(let values):
            if values.dtype == .int8 { for v in values.codes { writer.write(UInt8(bitPattern: v)) } }
            else { writer.append(QuantizedValues.packInt4(values.codes)) }
        }
        return try writer.bytes.withUnsafeBytes(body)
        #endif
    }

    /// Decodes `count` little-endian elements of `dtype` from `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) -> Tensor {
        let count = bytes.count / dtype.byteCount
        switch dtype {
        case .float32:
            #if _endian(little)
            // The file's little-endian bytes are the values' own: one copy.
            let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0, let source = bytes.baseAddress {
                    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: source, byteCount: count * 4)
                }
                initialized = count
            }
            #else
            let values = (0..<count).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            #endif
            return Tensor(shape: shape, storage: .float32(values))
        case .float64:
            let values = (0..<count).map { Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
            return Tensor(shape: shape, storage: .float64(values))
        case .float16, .bfloat16:
            let values = (0..<count).map { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
            return Tensor(shape: shape, storage: dtype == .float16 ? .float16(values) : .bfloat16(values))
        case .int8:
            return Tensor(shape: shape, storage: .int8(bytes.map { Int8(bitPattern: $0) }))
        case .int4:
            return Tensor(shape: shape, storage: .int4(QuantizedValues.unpackInt4(bytes)))
        }
    }
}
