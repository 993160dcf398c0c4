/// Element types of stored tensors. All are little-endian IEEE 754 (bfloat16: the upper 16 bits
/// of a float32). The raw value is the code stored in the file.
public enum DType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 1
    case float16 = 2
    case bfloat16 = 3
    case float64 = 4

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float32: 4
        case .float16, .bfloat16: 2
        case .float64: 8
        }
    }

    /// The name used in the spec, JSON output and on the command line: `f32`, `f16`, `bf16`, `f64`.
    public var name: String {
        switch self {
        case .float32: "f32"
        case .float16: "f16"
        case .bfloat16: "bf16"
        case .float64: "f64"
        }
    }

    public init?(name: String) {
        guard let match = DType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }
}
