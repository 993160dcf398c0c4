import Testing
@testable import LRMFormat

@Suite("CRC-32")
struct CRC32Tests {
    @Test("matches the published check value and zlib's values")
    func knownValues() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        // zlib.crc32(b"The quick brown fox jumps over the lazy dog") == 0x414FA339
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
    }

    @Test("gives the same value however the input is split", arguments: [1, 3, 7, 8, 9, 64, 1000])
    func incremental(chunk: Int) {
        var rng = SeededGenerator(seed: 42)
        let bytes = (0..<4099).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let whole = CRC32.checksum(bytes)
        var crc = CRC32()
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            bytes[start..<end].withUnsafeBytes { crc.update($0) }
            start = end
        }
        #expect(crc.value == whole)
        // A bytewise reference implementation agrees.
        var reference: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            reference ^= UInt32(byte)
            for _ in 0..<8 { reference = (reference & 1) != 0 ? (reference >> 1) ^ 0xEDB8_8320 : reference >> 1 }
        }
        #expect(whole == reference ^ 0xFFFF_FFFF)
    }

    @Test("large inputs, checksummed in three lanes, give the bytewise value at any length and start",
          arguments: [(0, CRC32.laneThreshold - 1), (0, CRC32.laneThreshold), (3, CRC32.laneThreshold + 5), (5, 100_003), (1, 3 << 16)])
    func lanes(start: Int, count: Int) {
        var rng = SeededGenerator(seed: UInt64(count))
        let bytes = (0..<(start + count)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var reference: UInt32 = 0xFFFF_FFFF
        for byte in bytes[start...] {
            reference ^= UInt32(byte)
            for _ in 0..<8 { reference = (reference & 1) != 0 ? (reference >> 1) ^ 0xEDB8_8320 : reference >> 1 }
        }
        #expect(bytes[start...].withUnsafeBytes { CRC32.checksum($0) } == reference ^ 0xFFFF_FFFF)
        // Continuing from a register that is not the initial one (a small piece first) joins the lanes right too.
        var crc = CRC32()
        bytes[start..<(start + 3)].withUnsafeBytes { crc.update($0) }
        bytes[(start + 3)...].withUnsafeBytes { crc.update($0) }
        #expect(crc.value == reference ^ 0xFFFF_FFFF)
    }

    @Test("x^(8n) mod P feeds n zero bytes")
    func zeroBytes() {
        for (register, n) in [(UInt32(0x1234_5678), 1), (0xFFFF_FFFF, 7), (0x8000_0001, 1000)] {
            var fed = register
            for _ in 0..<(8 * n) { fed = (fed & 1) != 0 ? (fed >> 1) ^ 0xEDB8_8320 : fed >> 1 }
            #expect(CRC32.multiply(register, CRC32.zeroBytesOperator(n)) == fed)
        }
        #expect(CRC32.zeroBytesOperator(0) == 0x8000_0000)
    }
}

@Suite("Half precision")
struct HalfPrecisionTests {
    @Test("every float16 bit pattern survives float16 → float32 → float16")
    func float16RoundTrip() {
        for bits in 0...UInt16.max {
            let value = HalfPrecision.float(fromHalf: bits)
            if value.isNaN { continue }
            #expect(HalfPrecision.half(from: value) == bits, "bits \(bits)")
        }
    }

    @Test("float16 conversion rounds to nearest even and saturates to infinity")
    func float16Rounding() {
        #expect(HalfPrecision.half(from: 1.0) == 0x3C00)
        #expect(HalfPrecision.half(from: -2.0) == 0xC000)
        #expect(HalfPrecision.half(from: 65504) == 0x7BFF)
        #expect(HalfPrecision.half(from: 70000) == 0x7C00)
        #expect(HalfPrecision.half(from: 1 + 0x1p-11) == 0x3C00)  // halfway, ties to even (down)
        #expect(HalfPrecision.half(from: 1 + 3 * 0x1p-11) == 0x3C02)  // halfway, ties to even (up)
        #expect(HalfPrecision.half(from: 0x1p-24) == 0x0001)  // smallest subnormal
        #expect(HalfPrecision.half(from: 0x1p-26) == 0x0000)  // rounds to zero
        #expect(HalfPrecision.float(fromHalf: 0x0001) == 0x1p-24)
        #expect(HalfPrecision.half(from: .nan) & 0x7C00 == 0x7C00)
    }

    @Test("bfloat16 keeps the upper half of a float32, rounded to nearest even")
    func bfloat16() {
        #expect(HalfPrecision.bfloat16(from: 1.0) == 0x3F80)
        #expect(HalfPrecision.float(fromBFloat16: 0x3F80) == 1.0)
        #expect(HalfPrecision.bfloat16(from: Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie, even stays
        #expect(HalfPrecision.bfloat16(from: Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie, odd rounds up
        #expect(HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16(from: .nan)).isNaN)
    }
}
