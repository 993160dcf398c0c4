internal import CHDF5
import Foundation

extension HDF5Truncation {
    /// Whether what a file's objects need lies within its bytes, for a file whose superblock records an end past
    /// its size: a file cut short lacks something its objects point at; one whose recorded end is damaged (a
    /// flipped byte in the address) has all of it.
    package enum Contents: Equatable, Sendable {
        /// Every object header, group index and name heap, and every dataset's stored data, lies within the file.
        case within
        /// Something the file's objects need lies past its end.
        case missing
    }

    /// Files up to this size (256 MiB) are judged by ``contents(path:size:endFieldOffset:width:base:)``, which
    /// holds up to three copies of the file in memory while libhdf5 reads it; larger ones are not judged.
    package static let maxJudgedByteCount: UInt64 = 256 << 20


    /// Whether the objects of the file at `path` (of `size` bytes) lie within it, or `nil` when that cannot be
    /// told (the file is larger than ``maxJudgedByteCount``, unreadable, or damaged in another way).
    ///
    /// libhdf5 refuses a file shorter than its superblock's end-of-file address, and reading such a file with that
    /// check skipped reads zeros past the real end, so neither tells a cut from a damaged address. Here libhdf5 reads
    /// a copy in memory whose recorded end is set to the file's real size (the superblock's only change): every read
    /// past it then fails. Opening the copy and visiting every object (their headers, and each group's index and
    /// name heap) succeeds when nothing was cut, and each dataset's stored data must end within the file too.
    /// Attributes of variable-length strings are read too: their characters are in the global heap.
    /// - Parameters:
    ///   - endFieldOffset: where the superblock's end-of-file address is, from the start of the file.
    ///   - width: the superblock's size of offsets (2, 4 or 8 bytes).
    ///   - base: the superblock's base address (addresses in the file are relative to it).
    /// The corresponding C functions are `H5Pset_fapl_core`, `H5Pset_file_image`, `H5Fopen` and `H5Ovisit2`.
    package static func contents(path: String, size: UInt64, endFieldOffset: Int, width: Int, base: UInt64) -> Contents? {
        guard size <= maxJudgedByteCount, size > base, var image = FileManager.default.contents(atPath: path),
              UInt64(image.count) == size, endFieldOffset + width <= image.count else { return nil }
        let relativeEnd = size - base
        for index in 0..<width { image[endFieldOffset + index] = UInt8(truncatingIfNeeded: relativeEnd >> (8 * UInt64(index))) }

        HDF5Library.silenceErrorPrinting()
        let access = H5Pcreate(lrm_h5p_file_access())
        guard access >= 0 else { _ = HDF5Library.innermostError(); return nil }
        defer { _ = H5Pclose(access) }
        let prepared = image.withUnsafeBytes { bytes -> Bool in
            H5Pset_fapl_core(access, 1 << 20, false) >= 0 && H5Pset_file_image(access, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) >= 0
        }
        image = Data()
        guard prepared else { _ = HDF5Library.innermostError(); return nil }
        // A name that names no file: given an existing one, the core driver would read that file, not the image.
        let file = H5Fopen("\(path).lrm-image-\(UUID().uuidString)", lrm_h5f_acc_rdonly(), access)
        guard file >= 0 else { return verdict(of: HDF5Library.innermostError()) }
        defer { _ = H5Fclose(file) }

        final class Visit {
            let size: UInt64
            var pastEnd = false
            init(size: UInt64) { self.size = size }
        }
        let visit = Visit(size: size)
        let visitor: H5O_iterate_t = { object, name, info, context in
            guard let name, let info, let context else { return -1 }
            guard HDF5Truncation.readVariableLengthStrings(of: object, name: name) else { return -1 }
            guard info.pointee.type == H5O_TYPE_DATASET else { return 0 }
            let visit = Unmanaged<Visit>.fromOpaque(context).takeUnretainedValue()
            let dataset = H5Dopen2(object, name, lrm_h5p_default())
            guard dataset >= 0 else { return -1 }
            defer { _ = H5Dclose(dataset) }
            guard let end = HDF5Truncation.storageEnd(of: dataset) else { return -1 }
            if end > visit.size { visit.pastEnd = true; return -1 }
            return 0
        }
        let visited = withExtendedLifetime(visit) {
            H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, visitor, Unmanaged.passUnretained(visit).toOpaque(), UInt32(H5O_INFO_BASIC))
        }
        let failure = HDF5Library.innermostError()
        if visit.pastEnd { return .missing }
        return visited >= 0 ? .within : verdict(of: failure)
    }

    /// Reads every attribute of the object `name` (relative to `location`) whose values are variable-length strings,
    /// and so reads the global heap collections that hold their characters; `false` when a read fails (the error
    /// stack says why). Attributes of other types are not read: their values are in the object's header, which
    /// libhdf5 read to list them. The corresponding C functions are `H5Oopen`, `H5Aiterate2` and `H5Aread`.
    private static func readVariableLengthStrings(of location: hid_t, name: UnsafePointer<CChar>) -> Bool {
        let object = H5Oopen(location, name, lrm_h5p_default())
        guard object >= 0 else { return false }
        defer { _ = H5Oclose(object) }
        let reader: H5A_operator2_t = { object, name, _, _ in
            guard let name else { return -1 }
            return HDF5Truncation.readIfVariableLengthStrings(object: object, attribute: name) ? 0 : -1
        }
        var position: hsize_t = 0
        return H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_NATIVE, &position, reader, nil) >= 0
    }

    /// Reads the attribute `attribute` of `object` when it holds variable-length strings of 1-byte characters (as
    /// the reader does, ``HDF5Object/readAttribute(_:)``), and frees what libhdf5 allocated; `false` when it fails.
    private static func readIfVariableLengthStrings(object: hid_t, attribute name: UnsafePointer<CChar>) -> Bool {
        let attribute = H5Aopen(object, name, lrm_h5p_default())
        guard attribute >= 0 else { return false }
        defer { _ = H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        guard type >= 0 else { return false }
        defer { _ = H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING, H5Tis_variable_str(type) > 0 else { return true }
        let character = H5Tget_super(type)
        if character >= 0 {
            defer { _ = H5Tclose(character) }
            guard H5Tget_size(character) == 1 else { return true }  // damage the reader reports itself
        } else {
            _ = H5Eclear2(lrm_h5e_default())
        }
        let space = H5Aget_space(attribute)
        guard space >= 0 else { return false }
        defer { _ = H5Sclose(space) }
        let count = H5Sget_simple_extent_npoints(space)
        // Each value takes at least 16 bytes in the header (a length and a global heap ID).
        guard count >= 0, count <= Int64(maxJudgedByteCount / 16) else { return count >= 0 }
        guard count > 0 else { return true }
        let memoryType = H5Tcopy(lrm_h5t_c_s1())
        guard memoryType >= 0 else { return false }
        defer { _ = H5Tclose(memoryType) }
        guard H5Tset_size(memoryType, lrm_h5t_variable()) >= 0, H5Tset_cset(memoryType, H5Tget_cset(type)) >= 0 else { return false }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: Int(count))
        return pointers.withUnsafeMutableBytes { buffer in
            guard H5Aread(attribute, memoryType, buffer.baseAddress) >= 0 else { return false }
            _ = lrm_h5_reclaim_vlen(memoryType, space, buffer.baseAddress)
            return true
        }
    }

    /// `.missing` when libhdf5 failed because a read went past the (real) end of the file ("addr overflow, addr = …",
    /// "actual len exceeds EOA", "len not positive after adjustment for EOA"), `nil` for any other failure.
    private static func verdict(of failure: (description: String, function: String)?) -> Contents? {
        guard let text = failure?.description.lowercased() else { return nil }
        return ["addr overflow", "eoa", "past end of allocation", "truncated file"].contains(where: text.contains) ? .missing : nil
    }

    /// Where a dataset's stored data ends in the file (0 for none stored), or `nil` when libhdf5 cannot say (its
    /// error stack then says why): contiguous data ends at its address plus its size, chunked data at its farthest
    /// chunk (the first ``HDF5Dataset/maxCheckedChunks`` records, by number, with their addresses; past those, every chunk's raw
    /// bytes are read by position, and a read past the file's end fails).
    private static func storageEnd(of dataset: hid_t) -> UInt64? {
        let plist = H5Dget_create_plist(dataset)
        guard plist >= 0 else { return nil }
        defer { _ = H5Pclose(plist) }
        switch H5Pget_layout(plist) {
        case H5D_CONTIGUOUS:
            let address = H5Dget_offset(dataset)
            guard address != haddr_t.max else { return 0 }  // HADDR_UNDEF: nothing stored
            let end = UInt64(address).addingReportingOverflow(H5Dget_storage_size(dataset))
            return end.overflow ? .max : end.partialValue
        case H5D_CHUNKED:
            let space = H5Dget_space(dataset)
            guard space >= 0 else { return nil }
            defer { _ = H5Sclose(space) }
            var count: hsize_t = 0
            guard H5Dget_num_chunks(dataset, space, &count) >= 0 else { return nil }
            var farthest: UInt64 = 0
            var offset = [hsize_t](repeating: 0, count: 33)
            for index in 0..<min(count, hsize_t(HDF5Dataset.maxCheckedChunks)) {
                var mask: UInt32 = 0, address: haddr_t = 0, stored: hsize_t = 0
                let read = offset.withUnsafeMutableBufferPointer {
                    H5Dget_chunk_info(dataset, space, index, $0.baseAddress, &mask, &address, &stored)
                }
                guard read >= 0 else { return nil }
                let end = UInt64(address).addingReportingOverflow(stored)
                farthest = max(farthest, end.overflow ? .max : end.partialValue)
            }
            guard count > hsize_t(HDF5Dataset.maxCheckedChunks) else { return farthest }
            return readEveryChunk(of: dataset, plist: plist, space: space, records: count).map { max(farthest, $0) }
        default:
            return 0  // compact data is inside the object header, which was read
        }
    }

    /// Reads the raw bytes of every chunk of `dataset`, looked up by position (``HDF5ChunkGrid``): in the image whose
    /// end is the file's real size, a chunk past it fails ("addr overflow") and the error stack says so (`nil`).
    /// Returns 0 when every chunk was read, `UInt64.max` when one claims more bytes than any judged file has. A dataset
    /// with fewer than half its chunk positions recorded is not read (its grid may be far larger than the file).
    /// The corresponding C functions are `H5Dget_chunk_storage_size` and `H5Dread_chunk`.
    private static func readEveryChunk(of dataset: hid_t, plist: hid_t, space: hid_t, records: hsize_t) -> UInt64? {
        var dimensions = [hsize_t](repeating: 0, count: 33)
        let rank = dimensions.withUnsafeMutableBufferPointer { H5Pget_chunk(plist, 33, $0.baseAddress) }
        var shape = [hsize_t](repeating: 0, count: 33)
        let spaceRank = shape.withUnsafeMutableBufferPointer { H5Sget_simple_extent_dims(space, $0.baseAddress, nil) }
        guard rank > 0, rank == spaceRank,
              let grid = HDF5ChunkGrid(shape: Array(shape.prefix(Int(rank))), chunkShape: Array(dimensions.prefix(Int(rank)))),
              let positions = grid.positionCount else { return nil }
        guard positions / 2 <= records else { return 0 }
        var buffer: [UInt8] = []
        for position in grid {
            let stored: UInt64
            switch HDF5ChunkGrid.stored(dataset, at: position) {
            case .failed: return nil
            case .noRecord, .bytes(0): continue
            case .bytes(let bytes): stored = bytes
            }
            guard stored <= maxJudgedByteCount else { return .max }
            if buffer.count < Int(stored) { buffer = [UInt8](repeating: 0, count: Int(stored)) }
            var filters: UInt32 = 0
            guard buffer.withUnsafeMutableBytes({ H5Dread_chunk(dataset, lrm_h5p_default(), position, &filters, $0.baseAddress) }) >= 0 else {
                return nil
            }
        }
        return 0
    }
}
