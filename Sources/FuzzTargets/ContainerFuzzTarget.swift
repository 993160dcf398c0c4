import LRMFormat

/// The container reader under fuzzing: `ContainerFile` on bytes, then everything `lrm inspect`,
/// `lrm inspect --verify` and a model load do with an opened file.
///
/// A mutated file almost always fails its preamble or header CRC-32 first, which would keep the fuzzer
/// out of the header decoder; so each input is tried twice: as it is, and with both CRCs recomputed
/// (when the header length it claims fits in the input).
///
/// Properties checked (a violation traps): a file that opens loads (unless its quantization scales are
/// invalid, and then it does not); its model re-encodes to a file that
/// opens again; and re-encoding that file's model gives the same bytes (the encoding is canonical).
public enum ContainerFuzzTarget {
    /// Runs one input; returns the violated properties (empty when all hold).
    public static func run(_ bytes: UnsafeRawBufferPointer) -> [String] {
        var violations = check(bytes)
        if let fixed = withHeaderChecksumsFixed(bytes) {
            violations += fixed.withUnsafeBytes { check($0) }
        }
        return violations
    }

    static func check(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard let file = try? ContainerFile(bytes: bytes, path: "fuzz.lrm") else { return [] }
        let summary = ModelSummary(header: file.header)
        _ = (summary.parametersBefore, summary.parametersAfter, summary.compressionRatio)
        _ = file.contentJSON(includeValues: true).serialized(indent: 2)
        _ = try? file.verifyAllChecksums()
        for index in file.header.tensors.indices {
            _ = file.withFloat32Values(index) { $0.reduce(0, +) }
        }
        // Quantization scales are data (format 1.2): a file whose scales are zero or not finite opens but
        // does not load, and must not load.
        let scalesValid = (try? file.verifyScales()) != nil
        let model: Model
        do {
            model = try file.loadModel(verifyChecksums: false)
        } catch {
            return scalesValid ? ["an opened file does not load: \(error)"] : []
        }
        if !scalesValid { return ["a file with invalid quantization scales loads"] }
        do {
            let first = try ContainerWriter.encode(model, alignment: file.header.alignment)
            let reopened = try first.withUnsafeBytes { try ContainerFile(bytes: $0, path: "reencoded.lrm") }
            try reopened.verifyAllChecksums()
            let second = try ContainerWriter.encode(try reopened.loadModel(), alignment: reopened.header.alignment)
            return first == second ? [] : ["re-encoding is not stable: \(first.count) bytes, then \(second.count)"]
        } catch {
            return ["an opened file's model does not round-trip: \(error)"]
        }
    }

    /// `bytes` with the header CRC (offset 24) and the preamble CRC (offset 28) recomputed, or nil when
    /// the input is shorter than a preamble or its header length runs past the end.
    static func withHeaderChecksumsFixed(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        guard bytes.count >= Container.preambleByteCount else { return nil }
        var copy = [UInt8](bytes)
        let headerLength = (0..<8).reduce(UInt64(0)) { $0 | UInt64(copy[16 + $1]) << (8 * $1) }
        guard headerLength <= UInt64(copy.count - Container.preambleByteCount) else { return nil }
        let end = Container.preambleByteCount + Int(headerLength)
        store(CRC32.checksum(copy[Container.preambleByteCount..<end]), into: &copy, at: 24)
        store(CRC32.checksum(copy[0..<28]), into: &copy, at: 28)
        return copy
    }

    private static func store(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for k in 0..<4 { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
    }
}
