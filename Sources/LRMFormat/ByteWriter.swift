/// Appends little-endian values to a byte array: the one encoder of the header, so the same
/// model always gives the same bytes.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write(_ value: UInt8) { bytes.append(value) }
    mutating func write(_ value: UInt16) { for k in 0..<2 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * k))) } }
    mutating func write(_ value: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * k))) } }
    mutating func write(_ value: UInt64) { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * k))) } }
    mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }
    mutating func write(_ value: Double) { write(value.bitPattern) }
    mutating func writeSize(_ value: Int) { write(UInt64(value)) }
    mutating func writeCount(_ value: Int) { write(UInt32(value)) }
    mutating func write(_ value: String) {
        let utf8 = Array(value.utf8)
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func write(_ values: [Double]) {
        writeCount(values.count)
        for value in values { write(value) }
    }
    mutating func writeDimensions(_ dims: [Int]) {
        write(UInt8(dims.count))
        for dim in dims { writeSize(dim) }
    }
    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }
}
