/// Whether values are all finite, fast: what a conversion checks on every kernel before decomposing it.
public enum FiniteValues {
    /// Whether no value is NaN or ±∞. A value is not finite exactly when its exponent bits are all ones,
    /// and then (and only then) adding 1 to the exponent field carries into the sign bit:
    /// (bits & 0x7F80_0000) + 0x0080_0000 ≥ 0x8000_0000. Those sums are OR-ed over blocks of values without
    /// a branch per value (a loop the compiler vectorizes), instead of testing value by value.
    public static func all(_ values: UnsafeBufferPointer<Float>) -> Bool {
        values.withMemoryRebound(to: UInt32.self) { bits in
            let block = 1 << 14
            var start = 0
            while start < bits.count {
                let end = min(start + block, bits.count)
                var carried: UInt32 = 0
                for index in start..<end { carried |= (bits[index] & 0x7F80_0000) &+ 0x0080_0000 }
                if carried & 0x8000_0000 != 0 { return false }
                start = end
            }
            return true
        }
    }

    /// Whether no value is NaN or ±∞ (``all(_:)-(UnsafeBufferPointer<Float>)``).
    public static func all(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { all($0) }
    }
}
