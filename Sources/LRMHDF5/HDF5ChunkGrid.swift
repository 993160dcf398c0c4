internal import CHDF5

/// The positions of a chunked dataset's chunks: the grid of chunk offsets (in elements, each a multiple of the chunk
/// shape) that covers the dataset's shape, visited row-major.
///
/// libhdf5 1.10 finds a chunk's record by number (`H5Dget_chunk_info`) or by position (`H5Dget_chunk_info_by_coord`)
/// by walking the chunk index from its start, so visiting n records that way costs n² steps (4.5 s for 20,000
/// records). A chunk's stored size by position (`H5Dget_chunk_storage_size`) is one index lookup (about 1 µs), and
/// its raw bytes by position (`H5Dread_chunk`) too: visiting the grid with those costs n steps. A position the index
/// has no record for is an error to `H5Dget_chunk_storage_size` ("chunk storage is not allocated"), not 0 bytes.
struct HDF5ChunkGrid: Sequence, IteratorProtocol {
    /// The chunk shape, in elements.
    let chunkShape: [UInt64]
    /// How many chunks cover the shape along each dimension.
    let counts: [UInt64]
    /// The number of positions in the grid, or `nil` when it does not fit in 64 bits.
    let positionCount: UInt64?
    private var position: [UInt64]?

    /// The grid of `chunkShape` chunks over `shape`, or `nil` when the ranks differ or a chunk dimension is 0.
    init?(shape: [UInt64], chunkShape: [UInt64]) {
        guard shape.count == chunkShape.count, !chunkShape.contains(0) else { return nil }
        self.chunkShape = chunkShape
        counts = zip(shape, chunkShape).map { $0 / $1 + ($0 % $1 == 0 ? 0 : 1) }
        var product: UInt64? = 1
        for count in counts {
            guard let current = product else { break }
            let (next, overflow) = current.multipliedReportingOverflow(by: count)
            product = overflow ? nil : next
        }
        positionCount = product
        position = counts.contains(0) ? nil : [UInt64](repeating: 0, count: shape.count)
    }

    /// The next chunk's offset, in elements.
    mutating func next() -> [UInt64]? {
        guard let current = position else { return nil }
        var following = current
        var dimension = counts.count - 1
        while dimension >= 0 {
            following[dimension] += 1
            if following[dimension] < counts[dimension] { break }
            following[dimension] = 0
            dimension -= 1
        }
        position = dimension < 0 ? nil : following
        return zip(current, chunkShape).map { $0 * $1 }
    }

    /// What the chunk index records for a position.
    enum Stored: Equatable {
        /// A record of this many stored bytes.
        case bytes(UInt64)
        /// No record: a chunk never written (read as the fill value), or one the index cannot find.
        case noRecord
        /// libhdf5 failed otherwise; its error stack says why.
        case failed
    }

    /// The stored size the chunk index of `dataset` records for the chunk at `offset`. The corresponding C function is
    /// `H5Dget_chunk_storage_size`.
    static func stored(_ dataset: hid_t, at offset: [UInt64]) -> Stored {
        var stored: hsize_t = 0
        guard H5Dget_chunk_storage_size(dataset, offset, &stored) < 0 else { return .bytes(stored) }
        // libhdf5 1.10 says "chunk storage is not allocated" for a position without a record; anything else stays on
        // the error stack for the caller.
        var unrecorded = false
        _ = H5Ewalk2(lrm_h5e_default(), H5E_WALK_UPWARD, { position, entry, data in
            guard position == 0, let entry, let data, let text = entry.pointee.desc else { return 0 }
            data.assumingMemoryBound(to: Bool.self).pointee = String(cString: text).contains("not allocated")
            return 0
        }, &unrecorded)
        guard unrecorded else { return .failed }
        _ = H5Eclear2(lrm_h5e_default())
        return .noRecord
    }

    /// An offset as the chunk messages write it: `16, 0`.
    static func describe(_ offset: [UInt64]) -> String {
        offset.map(String.init).joined(separator: ", ")
    }
}
