/// Element types of stored tensors. Floats are little-endian IEEE 754 (bfloat16: the upper 16 bits
/// of a float32); `i8` and `i4` are the integer codes of a quantized weight (format 1.2), which mean
/// something only with the weight's scales (see ``QuantizedValues``), or (1.3) its zero points. The raw value is the code stored
/// in the file.
public enum DType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 1
    case float16 = 2
    case bfloat16 = 3
    case float64 = 4
    /// Signed 8-bit two's complement codes, one byte each (format 1.2).
    case int8 = 5
    /// Signed 4-bit two's complement codes (−8…7), two per byte, the even element in the low nibble (format 1.2).
    case int4 = 6

    /// The floating-point dtypes (every dtype of format 1.0).
    public static let floatingPoint: [DType] = [.float32, .float16, .bfloat16, .float64]

    /// Whether values of this dtype are floats (as opposed to quantization codes).
    public var isFloatingPoint: Bool { self != .int8 && self != .int4 }

    /// Bits per element.
    public var bitCount: Int {
        switch self {
        case .float32: 32
        case .float16, .bfloat16: 16
        case .float64: 64
        case .int8: 8
        case .int4: 4
        }
    }

    /// Bytes per element for the whole-byte dtypes; `i4` (half a byte) reports 1: use
    /// ``byteCount(elements:)`` for sizes.
    public var byteCount: Int { max(1, bitCount / 8) }

    /// Bytes of `elements` values, or nil if the product overflows or `elements` cannot be stored
    /// (an odd count of `i4` values).
    public func byteCount(elements: Int) -> Int? {
        if self == .int4 { return elements % 2 == 0 ? elements / 2 : nil }
        let (product, overflow) = elements.multipliedReportingOverflow(by: byteCount)
        return overflow ? nil : product
    }

    /// The name used in the spec, JSON output and on the command line: `f32`, `f16`, `bf16`, `f64`, `i8`, `i4`.
    public var name: String {
        switch self {
        case .float32: "f32"
        case .float16: "f16"
        case .bfloat16: "bf16"
        case .float64: "f64"
        case .int8: "i8"
        case .int4: "i4"
        }
    }

    public init?(name: String) {
        guard let match = DType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }
}
