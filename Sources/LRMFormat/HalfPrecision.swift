/// Software conversions between float32 and the 16-bit formats, so the format library needs no
/// platform `Float16`. Rounding is to nearest, ties to even; NaN stays NaN, ±∞ stays ±∞.
public enum HalfPrecision {
    /// IEEE 754 binary16 bits → Float.
    @inlinable
    public static func float(fromHalf bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa · 2⁻²⁴.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// Float → IEEE 754 binary16 bits (overflow gives ±∞).
    @inlinable
    public static func half(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {
            return sign | 0x7C00 | (mantissa != 0 ? UInt16(0x200 | (mantissa >> 13)) : 0)
        }
        let unbiased = exponent - 127
        if unbiased > 15 { return sign | 0x7C00 }
        if unbiased >= -14 {
            // Normal half: keep 10 mantissa bits, round the 13 dropped ones.
            var halfBits = UInt32(unbiased + 15) << 10 | (mantissa >> 13)
            let dropped = mantissa & 0x1FFF
            if dropped > 0x1000 || (dropped == 0x1000 && (halfBits & 1) != 0) { halfBits += 1 }
            return sign | UInt16(halfBits)  // a carry into the exponent is the correct rounding
        }
        if unbiased < -25 { return sign }
        // Subnormal half: value = m · 2⁻²⁴ with m < 1024.
        let full = mantissa | 0x80_0000  // implicit bit; value = full · 2^(unbiased − 23)
        let shift = UInt32(-unbiased - 14 + 13)  // 14..24 bits dropped
        var halfBits = full >> shift
        let dropped = full & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        if dropped > halfway || (dropped == halfway && (halfBits & 1) != 0) { halfBits += 1 }
        return sign | UInt16(halfBits)
    }

    /// bfloat16 bits → Float (exact).
    @inlinable
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Float → bfloat16 bits, rounding to nearest even (NaN stays a quiet NaN).
    @inlinable
    public static func bfloat16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
