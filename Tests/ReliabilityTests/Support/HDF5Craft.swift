import CHDF5
import Foundation
import LRMHDF5

/// Writes small HDF5 files whose headers claim more than they hold, with the C API directly (the
/// package's writer only makes well-formed files).
enum HDF5Craft {
    struct Failure: Error, CustomStringConvertible {
        var what: String
        var description: String { "HDF5 could not \(what)" }
    }

    @discardableResult
    static func check(_ value: Int64, _ what: String) throws -> Int64 {
        guard value >= 0 else { throw Failure(what: what) }
        return value
    }

    /// A legacy (tf-keras `save_weights`) weights-only file: root attribute `layer_names` = [layer], a group
    /// `layer` with `weight_names` = [layer/kernel:0, layer/bias:0], a float32 `kernel:0` of `kernelShape`
    /// stored as `layout` says and never written, and a written `bias:0` of `kernelShape[1]` values.
    /// `contiguousAllocated`: contiguous, its storage allocated in the file when the dataset is made but never
    /// written (a hole: the file is as large as the kernel, its blocks are not).
    enum KernelLayout { case chunked, contiguous, contiguousAllocated }

    /// Creates `path` without taking HDF5's file lock: the tests run in parallel with others that start child
    /// processes, which inherit the open file (and so its lock) and would make the test's own reader fail to lock it.
    static func create(_ path: String) throws -> hid_t {
        let access = try check(H5Pcreate(lrm_h5p_file_access()), "make file access properties")
        defer { _ = H5Pclose(access) }
        try check(Int64(H5Pset_file_locking(access, false, true)), "turn file locking off")
        return try check(H5Fcreate(path, lrm_h5f_acc_trunc(), lrm_h5p_default(), access), "create \(path)")
    }

    static func legacyWeights(at path: String, layer: String, kernelShape: [UInt64], layout: KernelLayout) throws {
        HDF5Library.prepare()  // before libhdf5 initializes: no teardown at exit, as in lrm
        _ = H5open()
        _ = lrm_h5e_silence()
        let file = try create(path)
        defer { _ = H5Fclose(file) }
        try writeStrings(file, "layer_names", [layer])
        let group = try check(H5Gcreate2(file, layer, lrm_h5p_default(), lrm_h5p_default(), lrm_h5p_default()), "create a group")
        defer { _ = H5Gclose(group) }
        try writeStrings(group, "weight_names", ["\(layer)/kernel:0", "\(layer)/bias:0"])
        let inner = try check(H5Gcreate2(group, layer, lrm_h5p_default(), lrm_h5p_default(), lrm_h5p_default()), "create a group")
        defer { _ = H5Gclose(inner) }

        let space = try check(H5Screate_simple(Int32(kernelShape.count), kernelShape, nil), "make a dataspace")
        defer { _ = H5Sclose(space) }
        let properties = try datasetCreationProperties(in: file)
        defer { _ = H5Pclose(properties) }
        if layout == .chunked {
            let chunk = kernelShape.map { min($0, 1024) }
            try check(Int64(H5Pset_chunk(properties, Int32(chunk.count), chunk)), "set the chunk size")
        }
        if layout == .contiguousAllocated {
            try check(Int64(H5Pset_alloc_time(properties, H5D_ALLOC_TIME_EARLY)), "allocate the storage early")
            try check(Int64(H5Pset_fill_time(properties, H5D_FILL_TIME_NEVER)), "never write a fill value")
        }
        let kernel = try check(H5Dcreate2(inner, "kernel:0", lrm_h5t_ieee_f32le(), space, lrm_h5p_default(), properties,
                                          lrm_h5p_default()), "create the kernel")
        _ = H5Dclose(kernel)

        var biasLength = [kernelShape[1]]
        let biasSpace = try check(H5Screate_simple(1, &biasLength, nil), "make a dataspace")
        defer { _ = H5Sclose(biasSpace) }
        let bias = try check(H5Dcreate2(inner, "bias:0", lrm_h5t_ieee_f32le(), biasSpace, lrm_h5p_default(), lrm_h5p_default(),
                                        lrm_h5p_default()), "create the bias")
        defer { _ = H5Dclose(bias) }
        if kernelShape[1] <= 1 << 16 {
            let values = [Float](repeating: 0.5, count: Int(kernelShape[1]))
            try check(Int64(values.withUnsafeBytes { H5Dwrite(bias, lrm_h5t_native_float(), lrm_h5s_all(), lrm_h5s_all(), lrm_h5p_default(), $0.baseAddress) }),
                      "write the bias")
        }
    }

    /// The filters of ``chunkedWeights(at:chunk:filters:)``'s kernel, in the order they are applied when writing.
    enum Filter { case shuffle, deflate, fletcher32 }

    /// A well-formed legacy weights-only file like ``legacyWeights(at:layer:kernelShape:layout:)`` with its data
    /// written: a contiguous `dense/dense/bias:0` of 48 and, written after it (its last chunk last in the file), a
    /// 64×48 float32 `dense/dense/kernel:0` in chunks of `chunk` through `filters` (by default four deflated 16×48
    /// chunks of 3,072 bytes each); ``denseConfig(layer:features:units:)`` with 64 features and 48 units describes it.
    static func chunkedWeights(at path: String, chunk: [UInt64] = [16, 48], filters: [Filter] = [.deflate]) throws {
        HDF5Library.prepare()  // before libhdf5 initializes: no teardown at exit, as in lrm
        _ = H5open()
        _ = lrm_h5e_silence()
        let file = try create(path)
        defer { _ = H5Fclose(file) }
        try writeStrings(file, "layer_names", ["dense"])
        let group = try check(H5Gcreate2(file, "dense", lrm_h5p_default(), lrm_h5p_default(), lrm_h5p_default()), "create a group")
        defer { _ = H5Gclose(group) }
        try writeStrings(group, "weight_names", ["dense/kernel:0", "dense/bias:0"])
        let inner = try check(H5Gcreate2(group, "dense", lrm_h5p_default(), lrm_h5p_default(), lrm_h5p_default()), "create a group")
        defer { _ = H5Gclose(inner) }
        let properties = try datasetCreationProperties(in: file)
        defer { _ = H5Pclose(properties) }
        try check(Int64(H5Pset_chunk(properties, Int32(chunk.count), chunk)), "set the chunk size")
        for filter in filters {
            switch filter {
            case .shuffle: try check(Int64(H5Pset_shuffle(properties)), "set shuffle")
            case .deflate: try check(Int64(H5Pset_deflate(properties, 4)), "set deflate")
            case .fletcher32: try check(Int64(H5Pset_fletcher32(properties)), "set Fletcher-32")
            }
        }
        for (name, shape, layout) in [("bias:0", [UInt64(48)], lrm_h5p_default()), ("kernel:0", [UInt64(64), 48], properties)] {
            let space = try check(H5Screate_simple(Int32(shape.count), shape, nil), "make a dataspace")
            defer { _ = H5Sclose(space) }
            let dataset = try check(H5Dcreate2(inner, name, lrm_h5t_ieee_f32le(), space, lrm_h5p_default(), layout, lrm_h5p_default()),
                                    "create \(name)")
            defer { _ = H5Dclose(dataset) }
            let values = (0..<Int(shape.reduce(1, *))).map { Float($0 % 97) / 97 }
            try check(Int64(values.withUnsafeBytes { H5Dwrite(dataset, lrm_h5t_native_float(), lrm_h5s_all(), lrm_h5s_all(), lrm_h5p_default(), $0.baseAddress) }),
                      "write \(name)")
        }
    }

    /// Replaces the stored bytes of the chunk at `offset` of the dataset `name` in the file at `path` with `bytes`, as
    /// if every filter had been applied to make them (`H5Dwrite_chunk`, which writes them as they are).
    static func replaceChunk(in path: String, dataset name: String, offset: [UInt64], with bytes: [UInt8]) throws {
        HDF5Library.prepare()  // before libhdf5 initializes: no teardown at exit, as in lrm
        _ = H5open()
        _ = lrm_h5e_silence()
        let access = try check(H5Pcreate(lrm_h5p_file_access()), "make file access properties")
        defer { _ = H5Pclose(access) }
        try check(Int64(H5Pset_file_locking(access, false, true)), "turn file locking off")
        let file = try check(H5Fopen(path, 1, access), "open \(path)")  // 1: H5F_ACC_RDWR, a macro Swift cannot import
        defer { _ = H5Fclose(file) }
        let dataset = try check(H5Dopen2(file, name, lrm_h5p_default()), "open \(name)")
        defer { _ = H5Dclose(dataset) }
        try check(Int64(bytes.withUnsafeBytes { H5Dwrite_chunk(dataset, lrm_h5p_default(), 0, offset, bytes.count, $0.baseAddress) }),
                  "write the chunk at \(offset)")
    }

    /// A zlib stream (as the deflate filter writes) holding `data` in one stored, uncompressed block.
    static func storedZlibStream(_ data: [UInt8]) -> [UInt8] {
        precondition(data.count <= 0xFFFF)
        var (low, high): (UInt32, UInt32) = (1, 0)  // Adler-32
        for byte in data { low = (low + UInt32(byte)) % 65521; high = (high + low) % 65521 }
        let adler = high << 16 | low
        let length = UInt16(data.count)
        return [0x78, 0x01, 0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)] + data
            + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: adler >> $0) }
    }

    /// The record of chunk `index` of the dataset `dataset` in the file at `path`, as libhdf5 reads it.
    static func chunkRecord(in path: String, dataset name: String, index: UInt64) throws -> (offset: [UInt64], address: UInt64, stored: UInt64) {
        HDF5Library.prepare()  // before libhdf5 initializes: no teardown at exit, as in lrm
        _ = H5open()
        _ = lrm_h5e_silence()
        let access = try check(H5Pcreate(lrm_h5p_file_access()), "make file access properties")
        defer { _ = H5Pclose(access) }
        try check(Int64(H5Pset_file_locking(access, false, true)), "turn file locking off")
        let file = try check(H5Fopen(path, lrm_h5f_acc_rdonly(), access), "open \(path)")
        defer { _ = H5Fclose(file) }
        let dataset = try check(H5Dopen2(file, name, lrm_h5p_default()), "open \(name)")
        defer { _ = H5Dclose(dataset) }
        let space = try check(H5Dget_space(dataset), "read the dataspace")
        defer { _ = H5Sclose(space) }
        var offset = [UInt64](repeating: 0, count: 32)
        var mask: UInt32 = 0, address: haddr_t = 0, stored: UInt64 = 0
        try check(Int64(H5Dget_chunk_info(dataset, space, index, &offset, &mask, &address, &stored)), "read chunk \(index)")
        return (Array(offset.prefix(Int(H5Sget_simple_extent_ndims(space)))), UInt64(address), stored)
    }

    /// A file whose global heap (where variable-length strings are kept) ends it: a contiguous float32 dataset `x` of
    /// 1,000 values, then the root attribute `model_config`, a variable-length UTF-8 string of `characters` bytes.
    static func stringAttributeLast(at path: String, characters: Int) throws {
        HDF5Library.prepare()  // before libhdf5 initializes: no teardown at exit, as in lrm
        _ = H5open()
        _ = lrm_h5e_silence()
        let file = try create(path)
        defer { _ = H5Fclose(file) }
        var length = [UInt64(1000)]
        let space = try check(H5Screate_simple(1, &length, nil), "make a dataspace")
        defer { _ = H5Sclose(space) }
        let dataset = try check(H5Dcreate2(file, "x", lrm_h5t_ieee_f32le(), space, lrm_h5p_default(), lrm_h5p_default(), lrm_h5p_default()),
                                "create x")
        defer { _ = H5Dclose(dataset) }
        let values = (0..<1000).map(Float.init)
        try check(Int64(values.withUnsafeBytes { H5Dwrite(dataset, lrm_h5t_native_float(), lrm_h5s_all(), lrm_h5s_all(), lrm_h5p_default(), $0.baseAddress) }),
                  "write x")
        let type = try check(H5Tcopy(lrm_h5t_c_s1()), "copy the string type")
        defer { _ = H5Tclose(type) }
        try check(Int64(H5Tset_size(type, lrm_h5t_variable())), "make the string type variable-length")
        try check(Int64(H5Tset_cset(type, H5T_CSET_UTF8)), "make the string type UTF-8")
        let scalar = try check(H5Screate(H5S_SCALAR), "make a scalar dataspace")
        defer { _ = H5Sclose(scalar) }
        let attribute = try check(H5Acreate2(file, "model_config", type, scalar, lrm_h5p_default(), lrm_h5p_default()), "create model_config")
        defer { _ = H5Aclose(attribute) }
        let text = String(repeating: "x", count: characters)
        try check(Int64(text.withCString { characters in
            var pointer: UnsafePointer<CChar>? = characters
            return withUnsafePointer(to: &pointer) { H5Awrite(attribute, type, $0) }
        }), "write model_config")
    }

    /// A file with one float64 attribute `values` of `count` elements on the root group.
    static func float64Attribute(at path: String, count: Int) throws {
        HDF5Library.prepare()  // before libhdf5 initializes: no teardown at exit, as in lrm
        _ = H5open()
        _ = lrm_h5e_silence()
        let file = try create(path)
        defer { _ = H5Fclose(file) }
        var dims = [UInt64(count)]
        let space = try check(H5Screate_simple(1, &dims, nil), "make a dataspace")
        defer { _ = H5Sclose(space) }
        let attribute = try check(H5Acreate2(file, "values", lrm_h5t_ieee_f64le(), space, lrm_h5p_default(), lrm_h5p_default()),
                                  "create the attribute")
        defer { _ = H5Aclose(attribute) }
        let values = (0..<count).map(Double.init)
        try check(Int64(values.withUnsafeBytes { H5Awrite(attribute, lrm_h5t_native_double(), $0.baseAddress) }), "write the attribute")
    }

    /// A fixed-length string array attribute.
    /// A new dataset creation property list (close it with `H5Pclose`), taken from a throwaway dataset made and
    /// deleted in `file`: the class id is a C global that Swift 6 will not read outside an actor.
    private static func datasetCreationProperties(in file: hid_t) throws -> hid_t {
        var one: UInt64 = 1
        let scratchSpace = try check(H5Screate_simple(1, &one, nil), "make a dataspace")
        defer { _ = H5Sclose(scratchSpace) }
        let scratch = try check(H5Dcreate2(file, "scratch", lrm_h5t_ieee_f32le(), scratchSpace, lrm_h5p_default(), lrm_h5p_default(),
                                           lrm_h5p_default()), "create a dataset")
        defer {
            _ = H5Dclose(scratch)
            _ = H5Ldelete(file, "scratch", lrm_h5p_default())
        }
        return try check(H5Dget_create_plist(scratch), "make dataset properties")
    }

    private static func writeStrings(_ object: Int64, _ name: String, _ values: [String]) throws {
        let width = max(1, values.map(\.utf8.count).max() ?? 1)
        let type = try check(H5Tcopy(lrm_h5t_c_s1()), "copy the string type")
        defer { _ = H5Tclose(type) }
        try check(Int64(H5Tset_size(type, width)), "size the string type")
        var dims = [UInt64(values.count)]
        let space = try check(H5Screate_simple(1, &dims, nil), "make a dataspace")
        defer { _ = H5Sclose(space) }
        let attribute = try check(H5Acreate2(object, name, type, space, lrm_h5p_default(), lrm_h5p_default()), "create \(name)")
        defer { _ = H5Aclose(attribute) }
        var bytes = [UInt8](repeating: 0, count: width * values.count)
        for (index, value) in values.enumerated() { for (k, byte) in value.utf8.enumerated() { bytes[index * width + k] = byte } }
        try check(Int64(bytes.withUnsafeBytes { H5Awrite(attribute, type, $0.baseAddress) }), "write \(name)")
    }

    /// A Keras config JSON for one Dense layer of `units` on `features` inputs.
    static func denseConfig(layer: String, features: Int, units: Int) -> String {
        """
        {"class_name": "Sequential", "config": {"name": "claims", "layers": [
          {"class_name": "InputLayer", "config": {"name": "input", "batch_shape": [null, \(features)]}},
          {"class_name": "Dense", "config": {"name": "\(layer)", "units": \(units), "activation": "linear", "use_bias": true}}]}}
        """
    }
}
