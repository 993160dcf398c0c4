import Foundation

/// Writes `.lrm` files. The tensor table is computed from shapes first, then tensors are
/// streamed one by one with their checksums computed on the way, then the header is rewritten
/// in place with the checksums (its length does not change). The file appears at its path only
/// when complete (see `AtomicFileWriter`).
public enum ContainerWriter {
    /// Writes `model` to `path`. `durable: false` skips the syncs (for a scratch file).
    public static func write(_ model: Model, to path: String, alignment: Int = Container.defaultAlignment, durable: Bool = true) throws {
        let (tensors, header) = try model.plan(alignment: alignment)
        for (tensor, info) in zip(tensors, header.tensors) where tensor.elementCount != info.elementCount {
            throw ContainerError(.badTensor, "tensor '\(escaped(info.name))' has \(tensor.elementCount) values for shape \(info.shape)", path: path)
        }
        // From a few MiB up, the checksums are computed on a thread of their own while the bytes are
        // written: the same CRC-32 of the same bytes, no longer one after the other.
        let checksums = header.tensors.reduce(0) { $0 + $1.byteCount } >= parallelChecksumBytes ? TensorChecksums(tensors) : nil
        try write(header: header, to: path, durable: durable, checksums: checksums.map { checksums in { checksums.values() } }) { index, emit in
            try tensors[index].withLittleEndianBytes { try emit($0) }
        }
    }

    /// The size from which ``write(_:to:alignment:durable:)`` computes checksums beside the writing.
    static let parallelChecksumBytes = 4 << 20

    /// Writes a file from a planned header (offsets set, checksums ignored) and a provider that
    /// emits each tensor's little-endian bytes, in one or more pieces, when asked.
    public static func write(header planned: ContainerHeader, to path: String, durable: Bool = true,
                             tensorData: (_ index: Int, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try write(header: planned, to: path, durable: durable, checksums: nil, tensorData: tensorData)
    }

    /// As ``write(header:to:durable:tensorData:)``; `checksums`, when given, gives every tensor's CRC-32
    /// once all are written (computed elsewhere from the same bytes), instead of computing them here.
    static func write(header planned: ContainerHeader, to path: String, durable: Bool, checksums: (() -> [UInt32])?,
                      tensorData: (_ index: Int, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        do {
            try planned.validate()
            var header = planned
            let file = try AtomicFileWriter(path: path, durable: durable)
            let headerBytes = header.encode()
            guard headerBytes.count <= Container.Limits.maxHeaderByteCount else {
                throw ContainerError(.limitExceeded, "header would be \(headerBytes.count) bytes, more than the limit \(Container.Limits.maxHeaderByteCount)")
            }
            try file.write(preamble(header: header, headerBytes: headerBytes))
            try file.write(headerBytes)
            let headerEnd = Container.preambleByteCount + headerBytes.count
            guard let dataStart = alignUp(headerEnd, to: header.alignment) else {
                throw ContainerError(.limitExceeded, "header end overflows")
            }
            try file.writeZeros(dataStart - headerEnd)
            for index in header.tensors.indices {
                let info = header.tensors[index]
                try file.writeZeros(dataStart + info.byteOffset - file.byteCount)
                var crc = CRC32()
                var written = 0
                try tensorData(index) { bytes in
                    if checksums == nil { crc.update(bytes) }
                    written += bytes.count
                    guard written <= info.byteCount else {
                        throw ContainerError(.badTensor, "tensor '\(escaped(info.name))' was given more than its \(info.byteCount) bytes")
                    }
                    try file.write(bytes)
                }
                guard written == info.byteCount else {
                    throw ContainerError(.badTensor, "tensor '\(escaped(info.name))' was given \(written) bytes, expected \(info.byteCount)")
                }
                header.tensors[index].crc32 = crc.value
            }
            if let values = checksums?() {
                for index in header.tensors.indices { header.tensors[index].crc32 = values[index] }
            }
            let finalHeader = header.encode()
            try file.overwrite(preamble(header: header, headerBytes: finalHeader) + finalHeader, at: 0)
            try file.commit()
        } catch let error as ContainerError {
            throw error.at(path: path)
        }
    }

    /// The 32-byte preamble for `headerBytes`.
    static func preamble(header: ContainerHeader, headerBytes: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.append(Container.magic)
        w.write(Container.majorVersion)
        w.write(header.minorVersion)
        w.write(UInt32(header.alignment))
        w.write(UInt64(headerBytes.count))
        w.write(CRC32.checksum(headerBytes))
        w.write(CRC32.checksum(w.bytes))
        return w.bytes
    }

    /// The complete file bytes for `model`, in memory (for tests and small files).
    public static func encode(_ model: Model, alignment: Int = Container.defaultAlignment) throws -> [UInt8] {
        var (tensors, header) = try model.plan(alignment: alignment)
        for index in tensors.indices {
            header.tensors[index].crc32 = tensors[index].withLittleEndianBytes { CRC32.checksum($0) }
        }
        let headerBytes = header.encode()
        var bytes = preamble(header: header, headerBytes: headerBytes) + headerBytes
        let dataStart = alignUp(bytes.count, to: alignment) ?? bytes.count
        bytes += [UInt8](repeating: 0, count: dataStart - bytes.count)
        for (tensor, info) in zip(tensors, header.tensors) {
            bytes += [UInt8](repeating: 0, count: dataStart + info.byteOffset - bytes.count)
            tensor.withLittleEndianBytes { bytes.append(contentsOf: $0) }
        }
        return bytes
    }
}

/// The CRC-32 of each tensor's little-endian bytes, computed on a thread of its own from the moment this
/// is made; ``values()`` waits for them.
private final class TensorChecksums: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    /// Written by the thread before it signals `finished`; read only after waiting for it.
    private var checksums: [UInt32] = []

    init(_ tensors: [Tensor]) {
        let thread = Thread { [self] in
            checksums = tensors.map { tensor in tensor.withLittleEndianBytes { CRC32.checksum($0) } }
            finished.signal()
        }
        thread.start()
    }

    func values() -> [UInt32] {
        finished.wait()
        finished.signal()
        return checksums
    }
}
