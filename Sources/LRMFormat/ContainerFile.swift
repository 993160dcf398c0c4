import Synchronization

/// An open, validated `.lrm` file, memory-mapped.
///
/// Opening reads and checks the preamble, the header (its checksum and every structural rule of
/// `spec/FORMAT.md`) and the padding, in time that depends on the header, not on the data size.
/// Tensor data is read in place, without copying; tensor checksums are verified on demand.
public final class ContainerFile: Sendable {
    public let path: String
    public let majorVersion: UInt16
    public let minorVersion: UInt16
    public let header: ContainerHeader
    /// Size of the whole file in bytes.
    public let fileByteCount: Int
    /// Absolute offset of the data section (the header's end rounded up to the alignment).
    public let dataOffset: Int
    /// Bytes of the header proper (after the 32-byte preamble).
    public let headerByteCount: Int
    private let mapping: MappedFile

    /// Opens and maps `path`. `displayPath` (default `path`) is the name errors give the file: the
    /// input a temporary file was made from.
    public convenience init(path: String, displayPath: String? = nil) throws {
        let mapping: MappedFile
        do {
            mapping = try MappedFile(path: path)
        } catch let error as ContainerError {
            throw error.at(path: displayPath ?? path)
        }
        try self.init(mapping: mapping, displayPath: displayPath)
    }

    /// Opens a copy of `bytes` as if it were the file `path` (which is only used in messages).
    /// Validation is the same as for a file on disk; this is the entry point of the fuzz target.
    package convenience init(bytes: UnsafeRawBufferPointer, path: String) throws {
        try self.init(mapping: MappedFile(copying: bytes, path: path))
    }

    private init(mapping: MappedFile, displayPath: String? = nil) throws {
        let path = displayPath ?? mapping.path
        self.path = path
        self.mapping = mapping
        do {
            let bytes = mapping.bytes
            let preamble = try Self.readPreamble(bytes)
            majorVersion = preamble.major
            minorVersion = preamble.minor
            headerByteCount = preamble.headerByteCount
            fileByteCount = bytes.count
            let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[Container.preambleByteCount..<(Container.preambleByteCount + preamble.headerByteCount)])
            let crc = CRC32.checksum(headerBytes)
            guard crc == preamble.headerCRC else {
                throw ContainerError(.headerChecksum, "header checksum is \(hex(crc)), the preamble says \(hex(preamble.headerCRC))",
                                     byteOffset: Container.preambleByteCount)
            }
            header = try ContainerHeader.decode(headerBytes, baseOffset: Container.preambleByteCount, alignment: preamble.alignment,
                                                minorVersion: preamble.minor)
            let headerEnd = Container.preambleByteCount + preamble.headerByteCount
            guard let dataStart = alignUp(headerEnd, to: preamble.alignment) else {
                throw ContainerError(.limitExceeded, "header end overflows")
            }
            dataOffset = dataStart
            let (expectedSize, overflow) = dataStart.addingReportingOverflow(header.dataByteCount)
            guard !overflow, expectedSize == bytes.count else {
                let kind: ContainerError.Kind = (!overflow && bytes.count < expectedSize) ? .truncated : .fileSize
                throw ContainerError(kind, "file is \(bytes.count) bytes, its header describes \(overflow ? "more than 2⁶³" : String(expectedSize))")
            }
            try Self.checkZero(bytes, from: headerEnd, to: dataStart, what: "padding after the header")
            for (index, tensor) in header.tensors.enumerated() {
                let end = dataStart + tensor.byteOffset + tensor.byteCount
                let next = index + 1 < header.tensors.count ? dataStart + header.tensors[index + 1].byteOffset : end
                try Self.checkZero(bytes, from: end, to: next, what: "padding after tensor '\(escaped(tensor.name))'")
            }
        } catch let error as ContainerError {
            throw error.at(path: path)
        }
    }

    private struct Preamble {
        var major: UInt16, minor: UInt16, alignment: Int, headerByteCount: Int, headerCRC: UInt32
    }

    private static func readPreamble(_ bytes: UnsafeRawBufferPointer) throws -> Preamble {
        let magic = Container.magic
        let shown = min(bytes.count, magic.count)
        guard zip(bytes.prefix(shown), magic).allSatisfy({ $0 == $1 }) else {
            let found = bytes.prefix(shown).map { hex2($0) }.joined(separator: " ")
            throw ContainerError(.badMagic, "not a .lrm file: starts with \(found.isEmpty ? "nothing" : found), expected 89 4C 52 4D 0D 0A 1A 0A",
                                 byteOffset: 0)
        }
        guard bytes.count >= Container.preambleByteCount else {
            throw ContainerError(.truncated, bytes.count == 0 ? "file is empty" :
                                    "file is \(bytes.count) bytes, shorter than the \(Container.preambleByteCount)-byte preamble")
        }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[0..<Container.preambleByteCount]), baseOffset: 0)
        _ = try r.readUInt64("magic")
        let major = try r.readUInt16("major version")
        let minor = try r.readUInt16("minor version")
        let alignment = try r.readUInt32("alignment")
        let headerByteCount = try r.readUInt64("header byte count")
        let headerCRC = try r.readUInt32("header checksum")
        let preambleCRC = try r.readUInt32("preamble checksum")
        let actual = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<28]))
        guard actual == preambleCRC else {
            throw ContainerError(.preambleChecksum, "preamble checksum is \(hex(actual)), the file says \(hex(preambleCRC))", byteOffset: 28)
        }
        guard major == Container.majorVersion else {
            throw ContainerError(.unsupportedVersion, "format version \(major).\(minor) is not supported; this reader reads \(Container.majorVersion).x",
                                 byteOffset: 8)
        }
        guard alignment >= Container.Limits.minAlignment, alignment <= Container.Limits.maxAlignment,
              alignment & (alignment - 1) == 0 else {
            throw ContainerError(.badPreamble, "alignment is \(alignment), expected a power of two from \(Container.Limits.minAlignment) to \(Container.Limits.maxAlignment)",
                                 byteOffset: 12)
        }
        guard headerByteCount <= UInt64(Container.Limits.maxHeaderByteCount) else {
            throw ContainerError(.limitExceeded, "header is \(headerByteCount) bytes, more than the limit \(Container.Limits.maxHeaderByteCount)", byteOffset: 16)
        }
        guard Int(headerByteCount) <= bytes.count - Container.preambleByteCount else {
            throw ContainerError(.truncated, "header is \(headerByteCount) bytes but the file has only \(bytes.count - Container.preambleByteCount) after the preamble",
                                 byteOffset: 16)
        }
        return Preamble(major: major, minor: minor, alignment: Int(alignment), headerByteCount: Int(headerByteCount), headerCRC: headerCRC)
    }

    private static func checkZero(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, what: String) throws {
        guard start < end else { return }
        for offset in start..<end where bytes[offset] != 0 {
            throw ContainerError(.nonZeroPadding, "\(what) holds byte \(hex2(bytes[offset])), expected 0", byteOffset: offset)
        }
    }

    // MARK: Tensor data

    /// Index of the tensor called `name`, if any.
    public func tensorIndex(named name: String) -> Int? {
        header.tensors.firstIndex { $0.name == name }
    }

    /// Calls `body` with the stored (little-endian) bytes of tensor `index`, in place in the
    /// mapping: no copy. The pointer must not escape `body`.
    public func withTensorBytes<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let info = header.tensors[index]
        let start = dataOffset + info.byteOffset
        return try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + info.byteCount)]))
    }

    /// Calls `body` with tensor `index` as float32 values in place, when it is stored as f32 on a
    /// little-endian machine (the data section is aligned, so the pointer is too); nil otherwise.
    public func withFloat32Values<R>(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R? {
        #if _endian(little)
        guard header.tensors[index].dtype == .float32 else { return nil }
        return try withTensorBytes(index) { raw in
            guard let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
            // The mapping is read-only and outlives `body`; binding the whole tensor as Float is
            // valid because f32 tensors are 4-aligned by construction of the layout.
            return try body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: raw.count / 4))
        }
        #else
        return nil
        #endif
    }

    /// Tensor `index` as float32 values in place in the mapping (see ``withFloat32Values(_:_:)``), for a
    /// caller that keeps this file alive as long as it uses the pointer: the mapping lives as long as
    /// the `ContainerFile` does. Nil unless the tensor is f32 on a little-endian machine.
    public func float32Values(inPlace index: Int) -> UnsafeBufferPointer<Float>? {
        withFloat32Values(index) { $0 }
    }

    /// Tensor `index` decoded into memory, in its stored dtype.
    public func tensor(_ index: Int) -> Tensor {
        let info = header.tensors[index]
        return withTensorBytes(index) { Tensor.decode($0, dtype: info.dtype, shape: info.shape) }
    }

    /// How many tensor checksums this process has computed (``verifyChecksum(_:)``): lets a test see that a
    /// command checks each tensor once (`LRM_TEST_COUNT_CHECKSUMS=1` makes lrm print it at exit).
    package static var computedChecksumCount: Int { checksumCounter.load(ordering: .relaxed) }
    private static let checksumCounter = Atomic<Int>(0)

    /// Checks tensor `index`'s bytes against its CRC-32.
    public func verifyChecksum(_ index: Int) throws {
        ContainerFile.checksumCounter.add(1, ordering: .relaxed)
        let info = header.tensors[index]
        let crc = withTensorBytes(index) { CRC32.checksum($0) }
        guard crc == info.crc32 else {
            throw ContainerError(.tensorChecksum, "tensor '\(escaped(info.name))' has checksum \(hex(crc)), the header says \(hex(info.crc32))",
                                 path: path, byteOffset: dataOffset + info.byteOffset)
        }
    }

    /// Checks every tensor's checksum, then every quantization scale's and zero point's value; throws
    /// at the first problem.
    public func verifyAllChecksums() throws {
        for index in header.tensors.indices { try verifyChecksum(index) }
        try verifyScales()
    }

    /// Checks that every scale of every quantized weight is finite and non-zero (format 1.2), and
    /// (1.3) that every zero point lies in the range of its weight's codes: [`bad_tensor`] naming the
    /// tensor and the first bad position otherwise. Weights in record order, scales before zero points.
    public func verifyScales() throws {
        var checked = Set<Int>()
        for layer in header.model.layers {
            for role in layer.quantizableRoles {
                guard let q = layer.quantization[role] else { continue }
                if checked.insert(q.scales).inserted { try checkScales(q.scales) }
            }
            for (role, index) in layer.operation.tensors {
                guard let q = layer.quantization[role], let zeroPoints = q.zeroPoints else { continue }
                try checkZeroPoints(zeroPoints, codes: header.tensors[index].dtype)
            }
        }
    }

    private func checkZeroPoints(_ index: Int, codes dtype: DType) throws {
        let info = header.tensors[index]
        let range = QuantizedValues.codeRange(dtype)
        guard case .int8(let values) = tensor(index).storage else { return }   // an i4 zero point is always in range
        if let bad = values.firstIndex(where: { !range.contains(Int($0)) }) {
            let columns = info.shape.last ?? 1
            throw ContainerError(.badTensor, "zero-point tensor '\(escaped(info.name))' holds \(values[bad]) at [\(bad / columns), \(bad % columns)]; "
                                 + "zero points of \(dtype.name) codes must lie in \(range.lowerBound)…\(range.upperBound)",
                                 path: path, byteOffset: dataOffset + info.byteOffset)
        }
    }

    private func checkScales(_ index: Int) throws {
        let info = header.tensors[index]
        let values = tensor(index).floats()
        if let bad = values.firstIndex(where: { !$0.isFinite || $0 == 0 }) {
            let columns = info.shape.last ?? 1
            throw ContainerError(.badTensor, "scale tensor '\(escaped(info.name))' holds \(values[bad]) at [\(bad / columns), \(bad % columns)]; "
                                 + "scales must be finite and non-zero", path: path, byteOffset: dataOffset + info.byteOffset)
        }
    }

    /// The codes of tensor `codes` with the scales of `quantization`, after checking the scales' values.
    public func quantizedValues(codes index: Int, quantization q: WeightQuantization) throws -> QuantizedValues {
        try checkScales(q.scales)
        let info = header.tensors[index]
        if let zeroPoints = q.zeroPoints { try checkZeroPoints(zeroPoints, codes: info.dtype) }
        let codes: [Int8]
        switch tensor(index).storage {
        case .int8(let values), .int4(let values): codes = values
        default:
            throw ContainerError(.badModel, "tensor '\(escaped(info.name))' is \(info.dtype.name), not the codes of a quantized weight", path: path)
        }
        return QuantizedValues(dtype: info.dtype, rows: info.shape[0], columns: info.shape[1], codes: codes,
                               scales: tensor(q.scales), groupSize: q.groupSize, zeroPoints: q.zeroPoints.map { tensor($0) })
    }

    /// Layer `index` of the model in memory: a quantized weight with its scales, every other tensor
    /// decoded once per `cache` (a tensor several layers use is shared); the mapping's pages of each
    /// tensor are released once it is copied. Checksums are not checked here.
    public func loadLayer(_ index: Int, cache: inout [Int: Tensor]) throws -> Layer<Tensor> {
        let layer = header.model.layers[index]
        var decoded = cache
        defer { cache = decoded }
        return Layer(name: layer.name, operation: try layer.operation.map { tensorIndex, role -> Tensor in
            if let q = layer.quantization[role] {
                let value = Tensor(quantized: try quantizedValues(codes: tensorIndex, quantization: q))
                releasePages(ofTensor: tensorIndex)
                releasePages(ofTensor: q.scales)
                if let zeroPoints = q.zeroPoints { releasePages(ofTensor: zeroPoints) }
                return value
            }
            if let known = decoded[tensorIndex] { return known }
            let value = tensor(tensorIndex)
            releasePages(ofTensor: tensorIndex)
            decoded[tensorIndex] = value
            return value
        })
    }

    /// Drops the mapping's resident pages of tensor `index` (a file's pages are read again if they
    /// are touched again): after a tensor is copied out, resident memory holds it once, not twice.
    public func releasePages(ofTensor index: Int) {
        let info = header.tensors[index]
        mapping.release(offset: dataOffset + info.byteOffset, count: info.byteCount)
    }

    /// The whole model in memory (tensors copied out of the mapping), checksums verified first
    /// unless `verifyChecksums` is false. A tensor several layers use is decoded once and shared;
    /// each tensor's pages of the mapping are released once it is copied, so the peak is about one
    /// copy of the model.
    public func loadModel(verifyChecksums: Bool = true) throws -> Model {
        if verifyChecksums {
            for index in header.tensors.indices {
                try verifyChecksum(index)
                releasePages(ofTensor: index)
            }
        }
        let description = header.model
        var decoded: [Int: Tensor] = [:]
        let layers = try description.layers.indices.map { try loadLayer($0, cache: &decoded) }
        return Model(name: description.name, input: description.input, classNames: description.classNames,
                     layers: layers, metadata: header.metadata, userMetadata: header.userMetadata)
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: false)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

func hex2(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16, uppercase: true)
    return digits.count == 1 ? "0" + digits : digits
}
