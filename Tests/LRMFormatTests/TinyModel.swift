@testable import LRMFormat
import Testing

/// The tiny model of `spec/TINY.md` and the base of the corruption catalogue: a 2 → 3 dense
/// layer with bias and ReLU, then a 3 → 2 layer factorized at rank 1 of 2, with softmax.
///
/// W₂ = 2·e₁·e₁ᵀ + 1·e₂·e₂ᵀ (3 × 2), so rank 1 keeps σ₁² / (σ₁² + σ₂²) = 4/5 of the energy and the
/// relative error is √(1/5).
enum TinyModel {
    static func make() -> Model {
        let fc1 = Layer<Tensor>(name: "fc1", operation: .dense(
            kernel: Tensor(shape: [2, 3], floats: [0.5, -1, 2, 0.25, 3, -0.125]),
            bias: Tensor(shape: [3], floats: [0.1, 0.2, -0.3]), activation: .relu))
        let factorization = Factorization(inFeatures: 3, outFeatures: 2, rank: 1, retainedEnergy: 0.8,
                                          relativeError: (0.2 as Double).squareRoot(), policy: "energy",
                                          policyParameter: 0.75, method: "gesdd-f32", singularValues: [2, 1])
        let fc2 = Layer<Tensor>(name: "fc2", operation: .factorizedDense(
            us: Tensor(shape: [3, 1], floats: [2, 0, 0]), vt: Tensor(shape: [1, 2], floats: [1, 0]),
            bias: Tensor(shape: [2], floats: [0, 0.5]), activation: .softmax, factorization: factorization))
        return Model(name: "tiny", input: InputSpec(shape: [2], scale: [0.5]), classNames: ["no", "yes"],
                     layers: [fc1, fc2], metadata: [MetadataKey.writer: .string("lrm 0.1.0"), MetadataKey.sourceFormat: .string("random")])
    }
}

/// A file split into the parts that defects edit; `assemble()` recomputes H, both CRCs and the
/// padding, so that a header edit reaches the check it is aimed at.
struct FileParts {
    var magic = Container.magic
    var major = Container.majorVersion
    var minor: UInt16 = 0
    var alignment: UInt32
    var header: [UInt8]
    /// The data section: from D to the end of the file.
    var data: [UInt8]
    /// Overrides for the stored header byte count / checksums (nil: computed).
    var headerByteCount: UInt64? = nil
    var headerCRC: UInt32? = nil

    init(_ bytes: [UInt8]) throws {
        let file = try bytes.withUnsafeBytes { raw -> (Int, Int, Int) in
            var r = ByteReader(raw, baseOffset: 0)
            _ = try r.readUInt64("magic"); _ = try r.readUInt32("version")
            let alignment = Int(try r.readUInt32("alignment"))
            let h = Int(try r.readUInt64("h"))
            return (alignment, h, alignUp(32 + h, to: alignment)!)
        }
        alignment = UInt32(file.0)
        header = Array(bytes[32..<(32 + file.1)])
        data = Array(bytes[file.2...])
    }

    /// `model`'s file with its header edited by `edit` and re-encoded without validation (the tensors' checksums kept),
    /// written as format 1.`minor`: the bytes a hostile writer would give a reader.
    static func hostile(_ model: Model, minor: UInt16, _ edit: (inout ContainerHeader) -> Void) throws -> [UInt8] {
        let base = try ContainerWriter.encode(model)
        var parts = try FileParts(base)
        var header = try model.plan().header
        let decoded = try ContainerFile.decodeForTests(base).header
        for index in header.tensors.indices { header.tensors[index].crc32 = decoded.tensors[index].crc32 }
        edit(&header)
        parts.header = header.encode()
        parts.minor = minor
        return parts.assemble()
    }

    func assemble() -> [UInt8] {
        var w = ByteWriter()
        w.append(magic)
        w.write(major)
        w.write(minor)
        w.write(alignment)
        w.write(headerByteCount ?? UInt64(header.count))
        w.write(headerCRC ?? CRC32.checksum(header))
        w.write(CRC32.checksum(w.bytes))
        var bytes = w.bytes + header
        let a = Int(max(alignment, 1))
        bytes += [UInt8](repeating: 0, count: (a - bytes.count % a) % a)
        return bytes + data
    }

    /// The index in `header` just after the length-prefixed string `text` (first occurrence).
    func after(string text: String, occurrence: Int = 0) -> Int {
        var w = ByteWriter()
        w.write(text)
        let needle = w.bytes
        var found = 0
        for start in 0...(header.count - needle.count) where Array(header[start..<(start + needle.count)]) == needle {
            if found == occurrence { return start + needle.count }
            found += 1
        }
        preconditionFailure("string \(text) not in header")
    }

    mutating func replace(string old: String, with new: [UInt8]) {
        let end = after(string: old)
        let start = end - old.utf8.count - 4
        var w = ByteWriter()
        w.write(UInt32(new.count))
        header.replaceSubrange(start..<end, with: w.bytes + new)
    }

    mutating func setUInt32(_ value: UInt32, at index: Int) {
        for k in 0..<4 { header[index + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
    }

    mutating func setUInt64(_ value: UInt64, at index: Int) {
        for k in 0..<8 { header[index + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
    }

    func uint64(at index: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[index + $1]) << (8 * $1) }
    }
}

/// Expects `bytes` to be refused as `bad_model` in one line that contains `message` (`what` names the case).
func expectOneLineBadModel(_ bytes: [UInt8], containing message: String, _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
    let error = try #require(throws: ContainerError.self, "\(what)", sourceLocation: sourceLocation) {
        try ContainerFile.decodeForTests(bytes)
    }
    #expect(error.kind == .badModel, "\(what)", sourceLocation: sourceLocation)
    #expect(error.description.contains(message), "\(what): \(error.description)", sourceLocation: sourceLocation)
    #expect(!error.description.contains("\n"), "\(what)", sourceLocation: sourceLocation)
}
