/// The positions of a chunked dataset's chunks: the grid of chunk offsets (in elements, each a multiple of the chunk
/// shape) that covers the dataset's shape, visited row-major.
///
/// libhdf5 1.10 finds a chunk's record by number (`H5Dget_chunk_info`) or by position (`H5Dget_chunk_info_by_coord`)
/// by walking the chunk index from its start, so visiting n records that way costs n² steps (4.5 s for 20,000
/// records). A chunk's stored size by position (`H5Dget_chunk_storage_size`) is one index lookup (about 1 µs), and
/// its raw bytes by position (`H5Dread_chunk`) too: visiting the grid with those costs n steps.
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

    /// An offset as the chunk messages write it: `16, 0`.
    static func describe(_ offset: [UInt64]) -> String {
        offset.map(String.init).joined(separator: ", ")
    }
}
