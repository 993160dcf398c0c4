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
        }
    }

    public var dtype: DType {
        switch storage {
        case .float32: .float32
        case .float64: .float64
        case .float16: .float16
        case .bfloat16: .bfloat16
        }
    }

    public var elementCount: Int {
        switch storage {
        case .float32(let values): values.count
        case .float64(let values): values.count
        case .float16(let values), .bfloat16(let values): values.count
        }
    }

    public var byteCount: Int { elementCount * dtype.byteCount }

    /// The values converted to float32.
    public func floats() -> [Float] {
        switch storage {
        case .float32(let values): values
        case .float64(let values): values.map(Float.init)
        case .float16(let values): values.map(HalfPrecision.float(fromHalf:))
        case .bfloat16(let values): values.map(HalfPrecision.float(fromBFloat16:))
        }
    }

    /// The same values stored as `dtype`.
    public func converted(to dtype: DType) -> Tensor {
        if dtype == self.dtype { return self }
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
        }
        #else
        var writer = ByteWriter()
        switch storage {
        case .float32(let values): for v in values { writer.write(v.bitPattern) }
        case .float64(let values): for v in values { writer.write(v.bitPattern) }
        case .float16(let values), .bfloat16(let values): for v in values { writer.write(v) }
        }
        return try writer.bytes.withUnsafeBytes(body)
        #endif
    }

    /// Decodes `count` little-endian elements of `dtype` from `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) -> Tensor {
        let count = bytes.count / dtype.byteCount
        switch dtype {
        case .float32:
            let values = (0..<count).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            return Tensor(shape: shape, storage: .float32(values))
        case .float64:
            let values = (0..<count).map { Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
            return Tensor(shape: shape, storage: .float64(values))
        case .float16, .bfloat16:
            let values = (0..<count).map { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
            return Tensor(shape: shape, storage: dtype == .float16 ? .float16(values) : .bfloat16(values))
        }
    }
}
