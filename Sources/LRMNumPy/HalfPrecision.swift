/// IEEE 754 binary16 conversion done on bit patterns, so it works on every platform whether or not
/// Swift's `Float16` is available there.
enum HalfPrecision {
    /// The `Float` with the same value as the binary16 bit pattern `bits` (exact: every binary16 value,
    /// subnormals, infinities and NaN included, is representable as binary32).
    static func float(fromBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2⁻²⁴, exact in binary32.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
