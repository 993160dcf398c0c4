/// One entry of the tensor table: where a tensor's bytes are and how to read them.
public struct TensorInfo: Sendable, Equatable {
    /// Unique name, by convention `<layer name>/<role>` (role: kernel, bias, us, vt, scale, shift).
    public var name: String
    public var dtype: DType
    /// Dimensions in row-major order (the last index varies fastest).
    public var shape: [Int]
    /// Offset of the first byte, relative to the start of the data section.
    public var byteOffset: Int
    /// Number of bytes: the product of `shape` times `dtype.byteCount`.
    public var byteCount: Int
    /// CRC-32 (zlib) of the tensor's bytes.
    public var crc32: UInt32

    public init(name: String, dtype: DType, shape: [Int], byteOffset: Int = 0, byteCount: Int = 0, crc32: UInt32 = 0) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteOffset = byteOffset
        self.byteCount = byteCount
        self.crc32 = crc32
    }

    /// Number of elements, or nil if the product overflows.
    public var elementCount: Int? { TensorInfo.elementCount(shape) }

    static func elementCount(_ shape: [Int]) -> Int? {
        var product = 1
        for dim in shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            product = next
        }
        return product
    }
}
