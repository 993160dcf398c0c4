/// The element types this package reads from and writes to `.npy` files, all little-endian.
///
/// The raw value is NumPy's `descr` string as written in the header.
public enum NumPyDType: String, Sendable, Equatable, CaseIterable {
    /// IEEE 754 binary16, `<f2`.
    case float16 = "<f2"
    /// IEEE 754 binary32, `<f4`.
    case float32 = "<f4"
    /// IEEE 754 binary64, `<f8`.
    case float64 = "<f8"
    /// Two's complement 32-bit integer, `<i4`.
    case int32 = "<i4"
    /// Two's complement 64-bit integer, `<i8`.
    case int64 = "<i8"
    /// Unsigned byte, `|u1`.
    case uint8 = "|u1"
    /// Boolean stored as one byte (0 or 1), `|b1`.
    case bool = "|b1"

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float16: 2
        case .float32, .int32: 4
        case .float64, .int64: 8
        case .uint8, .bool: 1
        }
    }

    /// Whether a `Float` holds every value of this type exactly (float16, float32, uint8, bool); a `Double` holds every
    /// value of the others but int64's beyond 2⁵³.
    public var fitsFloat: Bool {
        switch self {
        case .float16, .float32, .uint8, .bool: true
        case .float64, .int32, .int64: false
        }
    }

    /// Parses a header `descr`, accepting the spellings NumPy uses for one-byte types (`|u1`, `<u1`).
    ///
    /// Returns `nil` for types this package does not support; big-endian types are recognised by
    /// ``isBigEndianDescr(_:)`` so that the error can say so.
    init?(descr: String) {
        switch descr {
        case "<u1", "u1", "B": self = .uint8
        case "<b1", "b1", "?": self = .bool
        case "<f2", "<f4", "<f8", "<i4", "<i8", "|u1", "|b1":
            self.init(rawValue: descr)
        default:
            return nil
        }
    }

    /// Whether a `descr` names a multi-byte big-endian type such as `>f4`.
    static func isBigEndianDescr(_ descr: String) -> Bool {
        guard let first = descr.first, first == ">" else { return false }
        return !descr.hasSuffix("1")
    }
}
