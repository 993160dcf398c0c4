import CHDF5
import LRMFormat

/// The element types a dataset can be read from, all converted to `Float` by ``HDF5Dataset/readFloats()``.
package enum HDF5ElementType: Equatable {
    /// IEEE binary16 / binary32 / binary64, in either byte order.
    case float16(bigEndian: Bool), float32, float64
    /// bfloat16: a 2-byte opaque type with the dataset attribute `dtype = "bfloat16"` (how Keras 3 stores it),
    /// little-endian.
    case bfloat16
    /// Integers up to 8 bytes (converted by HDF5 to `Int64`, then rounded to `Float`).
    case integer(signed: Bool, byteCount: Int)

    /// Bytes per stored element.
    package var byteCount: Int {
        switch self {
        case .float16, .bfloat16: 2
        case .float32: 4
        case .float64: 8
        case .integer(_, let byteCount): byteCount
        }
    }
}

/// An HDF5 dataset whose shape and element type were checked when it was opened.
package final class HDF5Dataset: HDF5Object {
    /// Dimensions, outermost first (`[]` for a scalar); row-major, as HDF5 stores them.
    package let shape: [Int]
    /// The number of elements, at most ``HDF5Limits/maxElementCount``.
    package let count: Int
    /// The stored element type.
    package let elementType: HDF5ElementType
    private let fileType: HDF5Handle

    package init(opening handle: HDF5Handle, file: HDF5File, location: HDF5Location) throws(HDF5Error) {
        let space = try HDF5Library.open(.readFailed, at: location, "could not read the dataspace", close: H5Sclose) {
            H5Dget_space(handle.id)
        }
        (shape, count) = try HDF5Library.extent(of: space.id, at: location, limits: file.limits)
        fileType = try HDF5Library.open(.readFailed, at: location, "could not read the datatype", close: H5Tclose) {
            H5Dget_type(handle.id)
        }
        elementType = try HDF5Dataset.classify(fileType.id, dataset: handle, file: file, at: location)
        super.init(handle: handle, file: file, location: location)
        try checkStorage(space: space.id)
    }

    /// Reads every element, converted to `Float` (float64 and integers rounded to nearest; float16 and
    /// bfloat16 exactly), in row-major order. The corresponding C function is `H5Dread`.
    package func readFloats() throws(HDF5Error) -> [Float] {
        guard count > 0 else { return [] }
        switch elementType {
        case .float32:
            return try read(as: Float.self, memoryType: lrm_h5t_native_float())
        case .float64:
            return try read(as: Double.self, memoryType: lrm_h5t_native_double()).map { Float($0) }
        case .integer:
            return try read(as: Int64.self, memoryType: lrm_h5t_native_int64()).map { Float($0) }
        case .float16(let bigEndian):
            let raw = try read(as: UInt16.self, memoryType: fileType.id)  // no conversion: the stored bits
            return raw.map { HalfPrecision.float(fromHalf: bigEndian ? $0.byteSwapped : $0) }
        case .bfloat16:
            let raw = try read(as: UInt16.self, memoryType: fileType.id)
            return raw.map { Float(bitPattern: UInt32(UInt16(littleEndian: $0)) << 16) }
        }
    }

    /// The elements as `Double`, exactly, for float64 datasets (nil for other types).
    package func readDoubles() throws(HDF5Error) -> [Double]? {
        guard case .float64 = elementType else { return nil }
        guard count > 0 else { return [] }
        return try read(as: Double.self, memoryType: lrm_h5t_native_double())
    }

    private func read<T: Numeric>(as: T.Type, memoryType: hid_t) throws(HDF5Error) -> [T] {
        var values = [T](repeating: 0, count: count)
        HDF5Library.silenceErrorPrinting()
        let status = values.withUnsafeMutableBytes {
            H5Dread(handle.id, memoryType, lrm_h5s_all(), lrm_h5s_all(), lrm_h5p_default(), $0.baseAddress)
        }
        guard status < 0 else { return values }
        let entry = HDF5Library.innermostError()
        if let entry, let clause = HDF5Corruption.chunkDecodingDamage(description: entry.description, function: entry.function) {
            throw undecodableChunk(clause, memoryType: memoryType, into: &values)
        }
        let error = HDF5Library.failure(.readFailed, at: location, "could not read the dataset", entry: entry)
        guard error.kind == .outOfMemory else { throw error }
        // Every size the file claims was checked when the dataset was opened: this is the machine's memory.
        let chunk = chunkByteCount.map { ", in chunks of \($0) bytes" } ?? ""
        throw location.error(.outOfMemory, "could not read the dataset: out of memory: HDF5 could not allocate "
                             + "a buffer for its \(count * elementType.byteCount) bytes\(chunk)")
    }

    /// The most chunk positions read one at a time to find the chunk libhdf5's filters could not decode.
    static let maxSearchedChunks: UInt64 = 1 << 20

    /// The error for a dataset whose read failed in libhdf5's filter pipeline (a deflate stream or a Fletcher-32
    /// checksum that does not match): `its chunk at (16, 0) does not decompress: …`, found by reading the stored
    /// chunks one at a time into `values` (the chunks that decoded are in libhdf5's chunk cache by then), or
    /// `a chunk does not decompress: …` when that read does not fail the same way.
    private func undecodableChunk<T>(_ clause: String, memoryType: hid_t, into values: inout [T]) -> HDF5Error {
        let unlocated = location.error(.corrupt, "", libraryMessage: "a chunk \(clause)")
        guard let chunkShape, let grid = HDF5ChunkGrid(shape: shape.map(UInt64.init), chunkShape: chunkShape),
              let positions = grid.positionCount, positions <= HDF5Dataset.maxSearchedChunks else { return unlocated }
        HDF5Library.silenceErrorPrinting()
        let space = H5Dget_space(handle.id)
        guard space >= 0 else { _ = HDF5Library.innermostError(); return unlocated }
        defer { _ = H5Sclose(space) }
        for offset in grid {
            switch HDF5ChunkGrid.stored(handle.id, at: offset) {
            case .failed: _ = HDF5Library.innermostError(); return unlocated
            case .noRecord, .bytes(0): continue  // never written: read as the fill value
            case .bytes: break
            }
            let extent = zip(zip(offset, chunkShape), shape).map { position, size in min(position.1, UInt64(size) - position.0) }
            guard H5Sselect_hyperslab(space, H5S_SELECT_SET, offset, nil, extent, nil) >= 0 else {
                _ = HDF5Library.innermostError()
                return unlocated
            }
            // The file's dataspace with the chunk selected is the memory's too: the chunk lands where it belongs.
            let status = values.withUnsafeMutableBytes { H5Dread(handle.id, memoryType, space, space, lrm_h5p_default(), $0.baseAddress) }
            guard status < 0 else { continue }
            guard let entry = HDF5Library.innermostError(),
                  let found = HDF5Corruption.chunkDecodingDamage(description: entry.description, function: entry.function) else { return unlocated }
            return location.error(.corrupt, "", libraryMessage: "its chunk at (\(HDF5ChunkGrid.describe(offset))) \(found)")
        }
        return unlocated
    }

    /// The bytes of one chunk (chunk shape × element size) for a chunked dataset, `nil` for other layouts.
    private var chunkByteCount: Int?
    /// The chunk shape of a chunked dataset, `nil` for other layouts.
    private var chunkShape: [UInt64]?

    /// The most chunk records checked one by one, by number, when a chunked dataset is opened (libhdf5 1.10 looks
    /// each record up from the start of the chunk index, so checking n records that way costs n² steps); the stored
    /// sizes of all chunks are checked by position (``HDF5ChunkGrid``).
    package static let maxCheckedChunks = 1024

    /// deflate's largest possible expansion, the bound on a chunked dataset's size relative to what it stores.
    package static let maxCompressionRatio = 1032

    /// Refuses external and virtual storage, and checks that the data the shape needs is in the file:
    /// all of it for contiguous or compact layouts, at least 1/1032 of it (deflate's limit) for chunks.
    private func checkStorage(space: hid_t) throws(HDF5Error) {
        let plist = try HDF5Library.open(.readFailed, at: location, "could not read the creation properties", close: H5Pclose) {
            H5Dget_create_plist(handle.id)
        }
        let external = try HDF5Library.check(.readFailed, at: location, "could not read the external storage count") {
            H5Pget_external_count(plist.id)
        }
        guard external == 0 else {
            throw location.error(.refusedIndirection, "dataset keeps its data in \(external) external file(s); never read")
        }
        let layout = H5Pget_layout(plist.id)
        guard layout == H5D_COMPACT || layout == H5D_CONTIGUOUS || layout == H5D_CHUNKED else {
            throw location.error(.refusedIndirection, "dataset layout \(layout.rawValue) (virtual?) is not read")
        }
        guard let byteCount = HDF5Library.checkedProduct([count, elementType.byteCount]),
              byteCount <= file.limits.maxByteCount else {
            throw location.error(.tooLarge, "dataset needs more than \(file.limits.maxByteCount) bytes")
        }
        guard count > 0 else { return }
        // The sizes above come from the file's headers; nothing is allocated until the data they claim
        // is known to be in the file. The corresponding C function is `H5Dget_storage_size`.
        HDF5Library.silenceErrorPrinting()
        let stored = H5Dget_storage_size(handle.id)
        guard stored <= UInt64(file.byteCount) else {
            throw location.error(.truncatedData, "dataset claims to store \(stored) bytes in a file of \(file.byteCount) bytes")
        }
        if layout != H5D_CHUNKED {
            guard stored >= UInt64(byteCount) else {
                throw location.error(.truncatedData, "dataset stores \(stored) bytes, expected \(byteCount) for its shape")
            }
        } else {
            // Chunks may be compressed, at most by deflate's 1032:1; chunks never written (read as the
            // fill value) would let a few bytes stand for gigabytes, and Keras writes every chunk.
            let (capacity, overflow) = Int(stored).multipliedReportingOverflow(by: HDF5Dataset.maxCompressionRatio)
            guard overflow || byteCount <= capacity else {
                throw location.error(.tooLarge, "dataset's shape needs \(byteCount) bytes but its chunks store \(stored), "
                                     + "more than deflate's \(HDF5Dataset.maxCompressionRatio):1 can expand")
            }
            try checkChunks(plist: plist.id, space: space)
        }
    }

    /// Checks each chunk's record in the chunk index against the chunk's size and the file before anything is
    /// read: a chunk stored in 0 bytes, one that runs past the end of the file, an unfiltered chunk whose stored
    /// size is not the chunk's size, or a compressed one smaller than deflate's 1032:1 allows is damage. (libhdf5
    /// would allocate a buffer of the recorded size and fail with "memory allocation failed for raw data chunk",
    /// or read past the file's end.) The first ``maxCheckedChunks`` records are checked by number, with where they
    /// are and which filters they skipped; the stored sizes of all of them by position in a filtered dataset
    /// (``checkChunkSizes(_:chunkShape:records:)``); then what deflated chunks decompress to
    /// (``checkInflatedSizes(plist:chunkShape:chunkBytes:records:)``). The corresponding C functions are
    /// `H5Pget_chunk`, `H5Dget_num_chunks`, `H5Dget_chunk_info` and `H5Dget_chunk_storage_size`.
    private func checkChunks(plist: hid_t, space: hid_t) throws(HDF5Error) {
        var dimensions = [hsize_t](repeating: 0, count: 33)
        let rank = Int(try HDF5Library.check(.readFailed, at: location, "could not read the chunk shape") {
            dimensions.withUnsafeMutableBufferPointer { H5Pget_chunk(plist, 33, $0.baseAddress) }
        })
        let shape = dimensions.prefix(rank).map { $0 <= UInt64(Int.max) ? Int($0) : -1 }
        guard let chunkBytes = HDF5Library.checkedProduct(shape + [elementType.byteCount]), chunkBytes > 0 else {
            throw location.error(.corrupt, "", libraryMessage: "its storage layout records chunks of \(shape.map(String.init).joined(separator: "×")) elements")
        }
        chunkByteCount = chunkBytes
        chunkShape = Array(dimensions.prefix(rank))
        let filters = Int(try HDF5Library.check(.readFailed, at: location, "could not read the filter count") { H5Pget_nfilters(plist) })
        var chunkCount: hsize_t = 0
        _ = try HDF5Library.check(.readFailed, at: location, "could not count the chunks") { H5Dget_num_chunks(handle.id, space, &chunkCount) }
        let sizes = ChunkSizes(bytes: chunkBytes, shape: shape, elementBytes: elementType.byteCount)
        let missing = missingFilters(plist: plist, count: filters)
        for index in 0..<min(chunkCount, hsize_t(HDF5Dataset.maxCheckedChunks)) {
            var offset = [hsize_t](repeating: 0, count: max(rank, 1))
            var skippedFilters: UInt32 = 0
            var address: haddr_t = 0
            var stored: hsize_t = 0
            _ = try HDF5Library.check(.readFailed, at: location, "could not read the record of chunk \(index)") {
                offset.withUnsafeMutableBufferPointer {
                    H5Dget_chunk_info(handle.id, space, index, $0.baseAddress, &skippedFilters, &address, &stored)
                }
            }
            let chunk = "chunk \(index) (at \(HDF5ChunkGrid.describe(Array(offset.prefix(rank)))))"
            func damaged(_ what: String) -> HDF5Error { location.error(.corrupt, "", libraryMessage: "its \(chunk) \(what)") }
            // A record outside the dataset is never read, and the chunk it stood for reads as the fill value. (libhdf5
            // rounds a recorded offset down to the chunk grid: one off the grid reads where it belongs.)
            if zip(offset.prefix(rank), self.shape).contains(where: { $0 >= UInt64($1) }) {
                throw damaged("records a position outside the dataset's \(self.shape.map(String.init).joined(separator: "×")) elements")
            }
            guard stored > 0 else { throw damaged(sizes.zero) }
            let end = UInt64(address).addingReportingOverflow(stored)
            guard !end.overflow, end.partialValue <= UInt64(file.byteCount) else {
                throw damaged("claims \(stored) bytes at byte \(address), past the end of the file's \(file.byteCount) bytes")
            }
            // A set bit in the mask is a filter not applied to this chunk: with none applied, it is stored as is.
            let compressed = (0..<min(filters, 32)).contains { skippedFilters & (1 << UInt32($0)) == 0 }
            if let problem = sizes.problem(stored: stored, compressed: compressed) { throw damaged(problem) }
            // h5py marks every filter optional: a missing one matters only where a chunk was written through it.
            if let filter = missing.first(where: { skippedFilters & (1 << UInt32($0.index)) == 0 }) {
                throw location.error(.unsupportedType, "dataset is compressed with HDF5 filter \(filter.id)\(filter.name.map { " ('\($0)')" } ?? ""), "
                                     + "which this libhdf5 cannot decode (its chunk \(index) was written through it); save the model again "
                                     + "with gzip compression or none")
            }
        }
        if chunkCount > hsize_t(HDF5Dataset.maxCheckedChunks), filters > 0 {
            try checkChunkSizes(sizes, chunkShape: Array(dimensions.prefix(rank)), records: chunkCount)
        }
        if filters > 0 {
            try checkInflatedSizes(plist: plist, chunkShape: Array(dimensions.prefix(rank)), chunkBytes: chunkBytes, records: chunkCount)
        }
    }

    /// The filters of the pipeline that this libhdf5 does not have (h5py's lzf, blosc, …, whose plugins it would look
    /// for in its plugin folder and fail on with "can't open directory: …/plugins" when reading): their place in
    /// the pipeline, identifier and name. The corresponding C functions are `H5Pget_filter2` and `H5Zfilter_avail`.
    private func missingFilters(plist: hid_t, count: Int) -> [(index: Int, id: Int32, name: String?)] {
        var missing: [(index: Int, id: Int32, name: String?)] = []
        HDF5Library.silenceErrorPrinting()
        for index in 0..<min(count, 32) {
            var flags: UInt32 = 0, valueCount = 0, config: UInt32 = 0
            var name = [CChar](repeating: 0, count: 64)
            let filter = H5Pget_filter2(plist, UInt32(index), &flags, &valueCount, nil, name.count, &name, &config)
            guard filter >= 0 else { _ = HDF5Library.innermostError(); continue }
            guard H5Zfilter_avail(filter) <= 0 else { continue }
            _ = HDF5Library.innermostError()
            let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            missing.append((index, filter, text.isEmpty ? nil : text))
        }
        return missing
    }

    /// The stored size the chunk index records for the chunk at `offset` (``HDF5ChunkGrid/stored(_:at:)``), or `nil`
    /// for a position without a record in a dataset with fewer records than positions (a chunk never written, read
    /// as the fill value). Where there is a record for every position, one the index cannot find is damage (libhdf5
    /// would read the chunk as the fill value without a word).
    func recordedSize(at offset: [UInt64], positions: UInt64, records: hsize_t) throws(HDF5Error) -> UInt64? {
        switch HDF5ChunkGrid.stored(handle.id, at: offset) {
        case .bytes(let stored): return stored
        case .noRecord:
            guard positions == records else { return nil }
            throw location.error(.corrupt, "", libraryMessage: "its chunk at (\(HDF5ChunkGrid.describe(offset))) cannot be found in its chunk index, "
                                 + "which holds a record for each of its \(positions) chunks (the index is damaged)")
        case .failed:
            throw HDF5Library.failure(.readFailed, at: location, "could not read the stored size of the chunk at (\(HDF5ChunkGrid.describe(offset)))",
                                      entry: HDF5Library.innermostError())
        }
    }

    /// What a chunk's stored size may be, and the clauses that say it is not.
    private struct ChunkSizes {
        /// The chunk's bytes, uncompressed.
        var bytes: Int
        var shape: [Int]
        var elementBytes: Int

        var zero: String { "records 0 stored bytes for a chunk of \(bytes) bytes" }

        /// What is wrong with `stored` bytes for a chunk stored as is (`compressed` false) or through its filters,
        /// or `nil` when nothing is.
        func problem(stored: UInt64, compressed: Bool) -> String? {
            if !compressed {
                guard stored == UInt64(bytes) else {
                    return "records \(stored) stored bytes, expected \(bytes) for an uncompressed chunk of "
                        + "\(shape.map(String.init).joined(separator: "×")) elements of \(elementBytes) bytes"
                }
            } else {
                let (capacity, overflow) = Int(stored).multipliedReportingOverflow(by: HDF5Dataset.maxCompressionRatio)
                guard overflow || bytes <= capacity else {
                    return "records \(stored) stored bytes for a chunk of \(bytes), more than deflate's \(HDF5Dataset.maxCompressionRatio):1 can expand"
                }
            }
            return nil
        }
    }

    /// Checks the stored size of every chunk of a filtered (compressed) dataset with more than ``maxCheckedChunks``
    /// records, looked up by position (``HDF5ChunkGrid``: one index lookup each): none 0, none missing where every
    /// position has a record (``recordedSize(at:positions:records:)``), none more than the file, none under deflate's
    /// limit; and as many positions storing bytes as there are records. libhdf5 allocates a chunk's recorded size before decompressing it ("memory allocation failed for
    /// raw data chunk" for a record of 0 bytes). An unfiltered chunk is read in the chunk's size whatever its record
    /// says (and its size by position is the chunk's size): its records are checked among the first ones only.
    /// A dataset with fewer than half its positions recorded (chunks never written, read as the fill value) is not
    /// visited: its grid may be far larger than the file. The corresponding C function is `H5Dget_chunk_storage_size`.
    private func checkChunkSizes(_ sizes: ChunkSizes, chunkShape: [UInt64], records: hsize_t) throws(HDF5Error) {
        guard let grid = HDF5ChunkGrid(shape: shape.map(UInt64.init), chunkShape: chunkShape),
              let positions = grid.positionCount, positions / 2 <= records else { return }
        var storing: hsize_t = 0
        for offset in grid {
            func damaged(_ what: String) -> HDF5Error {
                location.error(.corrupt, "", libraryMessage: "its chunk at (\(HDF5ChunkGrid.describe(offset))) \(what)")
            }
            guard let stored = try recordedSize(at: offset, positions: positions, records: records) else { continue }
            guard stored > 0 else { throw damaged(sizes.zero) }
            storing += 1
            guard stored <= UInt64(file.byteCount) else { throw damaged("claims \(stored) bytes, more than the file's \(file.byteCount)") }
            // Filters may be skipped for a chunk (a bit of its record's mask, read above for the first records only):
            // an uncompressed chunk is within deflate's limit too.
            if let problem = sizes.problem(stored: stored, compressed: true) { throw damaged(problem) }
        }
        guard storing >= records else {
            throw location.error(.corrupt, "", libraryMessage: "its chunk index holds \(records) records, but only \(storing) of its chunks store any bytes")
        }
    }

    /// Maps the stored datatype to an ``HDF5ElementType``, checking float layouts field by field.
    private static func classify(_ type: hid_t, dataset: HDF5Handle, file: HDF5File,
                                 at location: HDF5Location) throws(HDF5Error) -> HDF5ElementType {
        HDF5Library.silenceErrorPrinting()
        let typeClass = H5Tget_class(type)
        let size = H5Tget_size(type)
        switch typeClass {
        case H5T_FLOAT:
            var signPosition = 0, exponentPosition = 0, exponentSize = 0, mantissaPosition = 0, mantissaSize = 0
            _ = try HDF5Library.check(.readFailed, at: location, "could not read the float layout") {
                H5Tget_fields(type, &signPosition, &exponentPosition, &exponentSize, &mantissaPosition, &mantissaSize)
            }
            let fields = [signPosition, exponentPosition, exponentSize, mantissaPosition, mantissaSize]
            let bigEndian = H5Tget_order(type) == H5T_ORDER_BE
            switch (size, fields) {
            case (2, [15, 10, 5, 0, 10]): return .float16(bigEndian: bigEndian)
            case (4, [31, 23, 8, 0, 23]): return .float32
            case (8, [63, 52, 11, 0, 52]): return .float64
            default:
                throw location.error(.unsupportedType, "float of \(size) bytes with fields \(fields) is not IEEE binary16/32/64")
            }
        case H5T_INTEGER where size >= 1 && size <= 8:
            return .integer(signed: H5Tget_sign(type) != H5T_SGN_NONE, byteCount: size)
        case H5T_OPAQUE where size == 2:
            let probe = HDF5Object(handle: dataset, file: file, location: location)
            if try probe.hasAttribute("dtype"), case .strings(let tags, _) = try probe.readAttribute("dtype"), tags == ["bfloat16"] {
                return .bfloat16
            }
            throw location.error(.unsupportedType, "2-byte opaque type without the attribute dtype=\"bfloat16\"")
        default:
            throw location.error(.unsupportedType, "HDF5 type class \(typeClass.rawValue) of \(size) bytes, expected a float or an integer")
        }
    }
}
