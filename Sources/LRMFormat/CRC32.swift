/// CRC-32 as used by zlib, gzip and PNG (IEEE 802.3 polynomial 0x04C11DB7, reflected as
/// 0xEDB88320, initial value and final XOR 0xFFFFFFFF). `CRC32.checksum("123456789")` is 0xCBF43926.
///
/// Implemented in Swift with slicing-by-8 (three lanes at once for large inputs) so that the format
/// library needs no C. The same
/// value is `zlib.crc32(data)` in Python.
public struct CRC32: Sendable {
    /// The running (not yet finalised) register.
    private var register: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// The checksum of everything passed to `update` so far.
    public var value: UInt32 { register ^ 0xFFFF_FFFF }

    /// Feeds `bytes` into the checksum.
    ///
    /// From `laneThreshold` bytes on, the bulk is cut into three lanes of equal length whose CRCs are
    /// computed together (three independent chains of table look-ups instead of one, so the processor
    /// overlaps them) and then joined: feeding n bytes after a register r gives the register of those
    /// bytes alone XOR r·x^(8n) mod P (the CRC is linear over GF(2)). The value is the same as
    /// byte-at-a-time; only the speed differs.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var crc = register
        var index = 0
        let count = bytes.count
        CRC32.tables.withUnsafeBufferPointer { table in
            // Bytes until 8-byte alignment of the pointer, then 8 at a time.
            while index < count && (Int(bitPattern: base + index) & 7) != 0 {
                crc = table[Int((crc ^ UInt32(base.load(fromByteOffset: index, as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
            if count - index >= CRC32.laneThreshold {
                let lane = ((count - index) / 3) & ~7
                var (a, b, c): (UInt32, UInt32, UInt32) = (crc, 0, 0)
                var offset = index
                let end = index + lane
                while offset < end {
                    a = CRC32.step(a, base.load(fromByteOffset: offset, as: UInt64.self), table)
                    b = CRC32.step(b, base.load(fromByteOffset: offset + lane, as: UInt64.self), table)
                    c = CRC32.step(c, base.load(fromByteOffset: offset + 2 * lane, as: UInt64.self), table)
                    offset += 8
                }
                let shift = CRC32.zeroBytesOperator(lane)
                crc = CRC32.multiply(CRC32.multiply(a, shift) ^ b, shift) ^ c
                index += 3 * lane
            }
            while count - index >= 8 {
                crc = CRC32.step(crc, base.load(fromByteOffset: index, as: UInt64.self), table)
                index += 8
            }
            while index < count {
                crc = table[Int((crc ^ UInt32(base.load(fromByteOffset: index, as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        register = crc
    }

    /// Inputs from this many bytes on are checksummed in three lanes.
    static let laneThreshold = 1 << 14

    /// The register after 8 more bytes (`word`, little-endian) from register `crc`: slicing-by-8.
    @inline(__always)
    private static func step(_ crc: UInt32, _ word: UInt64, _ table: UnsafeBufferPointer<UInt32>) -> UInt32 {
        let word = UInt64(littleEndian: word)
        let low = UInt32(truncatingIfNeeded: word) ^ crc
        let high = UInt32(truncatingIfNeeded: word >> 32)
        return table[7 * 256 + Int(low & 0xFF)]
            ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
            ^ table[5 * 256 + Int((low >> 16) & 0xFF)]
            ^ table[4 * 256 + Int(low >> 24)]
            ^ table[3 * 256 + Int(high & 0xFF)]
            ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
            ^ table[1 * 256 + Int((high >> 16) & 0xFF)]
            ^ table[Int(high >> 24)]
    }

    /// a·b mod P for polynomials over GF(2) in the register's reflected form (bit 31 is x⁰, bit 0 is x³¹).
    static func multiply(_ a: UInt32, _ b: UInt32) -> UInt32 {
        var product: UInt32 = 0
        var b = b  // b·xⁱ mod P at step i
        for i in 0..<32 {
            if a & (0x8000_0000 >> UInt32(i)) != 0 { product ^= b }
            b = (b & 1) != 0 ? (b >> 1) ^ 0xEDB8_8320 : b >> 1
        }
        return product
    }

    /// x^(8·n) mod P: multiplying a register by it feeds it n zero bytes.
    static func zeroBytesOperator(_ n: Int) -> UInt32 {
        var result: UInt32 = 0x8000_0000  // x⁰
        var power: UInt32 = 0x0080_0000  // x⁸, then x^(8·2ᵏ)
        var n = n
        while n > 0 {
            if n & 1 != 0 { result = multiply(result, power) }
            power = multiply(power, power)
            n >>= 1
        }
        return result
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    /// 8 tables of 256 entries: table k advances the register over a byte followed by k zero bytes.
    private static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = (c & 1) != 0 ? (0xEDB8_8320 ^ (c >> 1)) : (c >> 1) }
            table[n] = c
        }
        for n in 0..<256 {
            var c = table[n]
            for k in 1..<8 {
                c = table[Int(c & 0xFF)] ^ (c >> 8)
                table[k * 256 + n] = c
            }
        }
        return table
    }()
}
