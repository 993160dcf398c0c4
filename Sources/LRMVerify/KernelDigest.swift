public import LRMFormat
import LRMDatasets

/// The fingerprint by which `lrm verify` knows a reference's kernel as the one a `+from-stored(WHAT)` record was
/// factorized from (metadata `conversion.from_stored_sha256`, `spec/FORMAT.md` section 3.1): the SHA-256 of the
/// kernel's values as the conversion read them (dequantized, as ``Tensor/floats()`` gives them), in the tensor's own
/// element order (dense in × out, convolution [kh, kw, cin, cout]), each as little-endian IEEE 754 binary32.
public enum KernelDigest {
    /// The lowercase hex SHA-256 of `values` as little-endian binary32.
    public static func sha256(_ values: [Float]) -> String {
        var hash = SHA256()
        let chunk = 16_384
        var bytes = [UInt8](repeating: 0, count: 4 * min(chunk, values.count))
        var start = 0
        while start < values.count {
            let end = min(start + chunk, values.count)
            for index in start..<end {
                let bits = values[index].bitPattern, at = 4 * (index - start)
                bytes[at] = UInt8(truncatingIfNeeded: bits)
                bytes[at + 1] = UInt8(truncatingIfNeeded: bits >> 8)
                bytes[at + 2] = UInt8(truncatingIfNeeded: bits >> 16)
                bytes[at + 3] = UInt8(truncatingIfNeeded: bits >> 24)
            }
            bytes.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[..<(4 * (end - start))])) }
            start = end
        }
        return SHA256.hex(hash.finalize())
    }

    /// The same of `tensor`'s values.
    public static func sha256(_ tensor: Tensor) -> String { sha256(tensor.floats()) }
}
