import LRMFormat

/// An n-dimensional array as stored in a `.npy` file: a shape, an element type and the elements in
/// C (row-major) order, last index fastest.
///
/// Values are decoded from little-endian bytes when read; ``floatValues()`` and ``doubleValues()`` convert
/// any numeric type for the caller.
public struct NumPyArray: Sendable, Equatable {
    /// The elements, typed by their stored `dtype`, in C order.
    public enum Storage: Sendable, Equatable {
        /// binary16 elements kept as their raw bit patterns (`UInt16`), so that no precision is lost.
        case float16(bits: [UInt16])
        case float32([Float])
        case float64([Double])
        case int32([Int32])
        case int64([Int64])
        case uint8([UInt8])
        case bool([Bool])

        var count: Int {
            switch self {
            case .float16(let v): v.count
            case .float32(let v): v.count
            case .float64(let v): v.count
            case .int32(let v): v.count
            case .int64(let v): v.count
            case .uint8(let v): v.count
            case .bool(let v): v.count
            }
        }

        var dtype: NumPyDType {
            switch self {
            case .float16: .float16
            case .float32: .float32
            case .float64: .float64
            case .int32: .int32
            case .int64: .int64
            case .uint8: .uint8
            case .bool: .bool
            }
        }
    }

    /// The dimensions, outermost first; `[]` for a scalar (one element).
    public let shape: [Int]
    /// The elements.
    public let storage: Storage

    /// The stored element type.
    public var dtype: NumPyDType { storage.dtype }

    /// The number of elements: the product of ``shape`` (1 for a scalar).
    public var count: Int { storage.count }

    /// Creates an array, checking that the shape's element count matches the number of values.
    ///
    /// - Throws: ``NumPyError`` of kind `dataSizeMismatch` when the counts differ, `tooLarge` when the
    ///   shape's product overflows or a dimension is negative.
    public init(shape: [Int], storage: Storage) throws(NumPyError) {
        let expected = try NumPyArray.elementCount(of: shape, file: "<memory>")
        guard expected == storage.count else {
            throw NumPyError(.dataSizeMismatch, file: "<memory>",
                             "shape \(NPYHeader.formatShape(shape)) needs \(expected) values, found \(storage.count)")
        }
        self.shape = shape
        self.storage = storage
    }

    /// Creates a float32 array.
    public init(shape: [Int], float32 values: [Float]) throws(NumPyError) {
        try self.init(shape: shape, storage: .float32(values))
    }

    /// Creates a float64 array.
    public init(shape: [Int], float64 values: [Double]) throws(NumPyError) {
        try self.init(shape: shape, storage: .float64(values))
    }

    /// The elements converted to `Float` (float64 and integers are rounded to nearest; booleans are 0 or 1).
    public func floatValues() -> [Float] {
        switch storage {
        case .float16(let bits): bits.map(HalfPrecision.float(fromHalf:))
        case .float32(let v): v
        case .float64(let v): v.map { Float($0) }
        case .int32(let v): v.map { Float($0) }
        case .int64(let v): v.map { Float($0) }
        case .uint8(let v): v.map { Float($0) }
        case .bool(let v): v.map { $0 ? 1 : 0 }
        }
    }

    /// The elements converted to `Double` (exact for every type except int64 beyond 2⁵³).
    public func doubleValues() -> [Double] {
        switch storage {
        case .float16(let bits): bits.map { Double(HalfPrecision.float(fromHalf: $0)) }
        case .float32(let v): v.map { Double($0) }
        case .float64(let v): v
        case .int32(let v): v.map { Double($0) }
        case .int64(let v): v.map { Double($0) }
        case .uint8(let v): v.map { Double($0) }
        case .bool(let v): v.map { $0 ? 1 : 0 }
        }
    }

    /// The elements converted to `Float` where its type ``NumPyDType/fitsFloat`` (nothing is rounded), else to `Double`.
    public func exactValues() -> ExactValues {
        dtype.fitsFloat ? .float(floatValues()) : .double(doubleValues())
    }

    /// The elements as `Int64`, for integer and boolean arrays.
    ///
    /// - Throws: ``NumPyError`` of kind `wrongType` for floating-point arrays.
    public func int64Values() throws(NumPyError) -> [Int64] {
        switch storage {
        case .int32(let v): return v.map { Int64($0) }
        case .int64(let v): return v
        case .uint8(let v): return v.map { Int64($0) }
        case .bool(let v): return v.map { $0 ? 1 : 0 }
        case .float16, .float32, .float64:
            throw NumPyError(.wrongType, file: "<memory>", "asked for integers, expected an integer dtype, found \(dtype.rawValue)")
        }
    }

    /// The product of `shape` with overflow checks; every dimension must be ≥ 0.
    static func elementCount(of shape: [Int], file: String) throws(NumPyError) -> Int {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else {
                throw NumPyError(.tooLarge, file: file, location: "header", "shape \(NPYHeader.formatShape(shape)) has a negative dimension")
            }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw NumPyError(.tooLarge, file: file, location: "header", "shape \(NPYHeader.formatShape(shape)) overflows the element count")
            }
            product = next
        }
        return product
    }
}

/// An array's values in the narrower of `Float` and `Double` that holds its stored type exactly
/// (``NumPyDType/fitsFloat``): 4 bytes a value for float16, float32, uint8 and bool, 8 for the others.
public enum ExactValues: Sendable, Equatable {
    case float([Float])
    case double([Double])
}
