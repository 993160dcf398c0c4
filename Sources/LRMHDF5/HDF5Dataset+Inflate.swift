internal import CHDF5
internal import LRMZlib

/// What deflate-compressed chunks decompress to, checked before libhdf5 decompresses them.
///
/// libhdf5 1.10's deflate filter takes whatever a chunk's stream produces: a stream that ends short of the chunk's
/// size leaves the rest of the chunk's buffer as it was (uninitialized memory read as weights, without a word), and
/// one that goes on past it grows the buffer by doubling for as long as it does (up to 1032 times the chunk's stored
/// bytes) and keeps the first chunk's worth. Neither is an error to libhdf5; both are damage (or a crafted file).
extension HDF5Dataset {
    /// libhdf5's filter identifiers (`H5Z_FILTER_DEFLATE`, `…_SHUFFLE`, `…_FLETCHER32`).
    private static let deflate: Int32 = 1, shuffle: Int32 = 2, fletcher32: Int32 = 3

    /// The most bytes decompressed at a time while counting what a chunk's stream produces.
    static let inflatePiece = 1 << 20

    /// Checks that each stored chunk of a dataset whose filter pipeline is deflate, with shuffle and Fletcher-32 at
    /// most (what h5py and Keras write), decompresses to exactly the chunk's bytes (plus the 4 of a Fletcher-32
    /// checksum applied before deflate): a stream that libhdf5 would reject is `does not decompress: its deflate
    /// stream is damaged` here too. A chunk whose record says deflate was skipped must store the chunk's bytes.
    /// Other pipelines, and datasets with under half their chunk positions recorded, are not checked. Each chunk's
    /// raw bytes are read by position (``HDF5ChunkGrid``) and decompressed in pieces of ``inflatePiece`` bytes,
    /// counted, not kept. The corresponding C functions are `H5Pget_filter2`, `H5Dget_chunk_storage_size`,
    /// `H5Dread_chunk` and zlib's `inflate`.
    func checkInflatedSizes(plist: hid_t, chunkShape: [UInt64], chunkBytes: Int, records: hsize_t) throws(HDF5Error) {
        HDF5Library.silenceErrorPrinting()
        let count = H5Pget_nfilters(plist)
        guard count > 0, count <= 32 else { _ = HDF5Library.innermostError(); return }
        var pipeline: [Int32] = []
        for index in 0..<UInt32(count) {
            var flags: UInt32 = 0, valueCount = 16, config: UInt32 = 0
            var values = [UInt32](repeating: 0, count: 16)
            let filter = H5Pget_filter2(plist, index, &flags, &valueCount, &values, 0, nil, &config)
            guard filter >= 0 else { _ = HDF5Library.innermostError(); return }
            pipeline.append(filter)
        }
        guard let deflateAt = pipeline.firstIndex(of: HDF5Dataset.deflate),
              pipeline.allSatisfy([HDF5Dataset.deflate, HDF5Dataset.shuffle, HDF5Dataset.fletcher32].contains),
              let grid = HDF5ChunkGrid(shape: shape.map(UInt64.init), chunkShape: chunkShape),
              let positions = grid.positionCount, positions / 2 <= records else { return }
        let fletcherAt = pipeline.firstIndex(of: HDF5Dataset.fletcher32)
        var raw: [UInt8] = []
        var piece = [UInt8](repeating: 0, count: min(HDF5Dataset.inflatePiece, chunkBytes + 5))
        // One zlib stream for every chunk, reset between them (inflateInit allocates its state and window).
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw location.error(.outOfMemory, "could not check the dataset's compressed chunks: out of memory: zlib could not start")
        }
        defer { inflateEnd(&stream) }
        for offset in grid {
            guard let stored = try recordedSize(at: offset, positions: positions, records: records), stored > 0 else { continue }
            func damaged(_ what: String) -> HDF5Error {
                location.error(.corrupt, "", libraryMessage: "its chunk at (\(HDF5ChunkGrid.describe(offset))) \(what)")
            }
            // The chunk records were checked first: no stored size is more than the file.
            guard stored <= UInt64(file.byteCount) else { throw damaged("claims \(stored) bytes, more than the file's \(file.byteCount)") }
            if raw.count < Int(stored) { raw = [UInt8](repeating: 0, count: Int(stored)) }
            var skipped: UInt32 = 0
            _ = try HDF5Library.check(.readFailed, at: location, "could not read the chunk at (\(HDF5ChunkGrid.describe(offset)))") {
                raw.withUnsafeMutableBytes { H5Dread_chunk(handle.id, lrm_h5p_default(), offset, &skipped, $0.baseAddress) }
            }
            func applied(_ index: Int?) -> Bool { index.map { skipped & (1 << UInt32($0)) == 0 } ?? false }
            // Fletcher-32 after deflate appends its 4 bytes to the stream; before it, to what the stream holds.
            let outerChecksum = applied(fletcherAt) && fletcherAt! > deflateAt ? 4 : 0
            let expected = chunkBytes + (applied(fletcherAt) && fletcherAt! < deflateAt ? 4 : 0)
            let streamBytes = Int(stored) - outerChecksum
            guard applied(deflateAt) else {
                guard streamBytes == expected else {
                    throw damaged("records \(stored) stored bytes, expected \(expected + outerChecksum) for a chunk stored without deflate")
                }
                continue
            }
            guard streamBytes > 0 else { throw damaged("does not decompress: its deflate stream is damaged") }
            switch HDF5Dataset.inflatedSize(of: raw, count: streamBytes, limit: expected, stream: &stream, piece: &piece) {
            case .damaged: throw damaged("does not decompress: its deflate stream is damaged")
            case .longer: throw damaged("decompresses to more than its \(expected) bytes")
            case .size(let size) where size != expected: throw damaged("decompresses to \(size) bytes, expected \(expected)")
            case .size: continue
            }
        }
    }

    private enum Inflated { case size(Int), longer, damaged }

    /// How many bytes the zlib stream in the first `count` bytes of `input` decompresses to, or `longer` once that
    /// passes `limit`, or `damaged` when it is not a whole, valid zlib stream (its Adler-32 sum included). `stream` is
    /// an initialized zlib stream, reset here.
    private static func inflatedSize(of input: [UInt8], count: Int, limit: Int, stream: inout z_stream, piece: inout [UInt8]) -> Inflated {
        guard inflateReset(&stream) == Z_OK else { return .damaged }
        return input.withUnsafeBytes { source -> Inflated in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress!.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(count)
            defer { stream.next_in = nil; stream.avail_in = 0; stream.next_out = nil; stream.avail_out = 0 }
            var total = 0
            var code = Z_OK
            while code == Z_OK {
                code = piece.withUnsafeMutableBytes { target -> Int32 in
                    stream.next_out = target.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(target.count)
                    let result = inflate(&stream, Z_NO_FLUSH)
                    total += target.count - Int(stream.avail_out)
                    return result
                }
                if total > limit { return .longer }
            }
            return code == Z_STREAM_END ? .size(total) : .damaged
        }
    }
}
