import CHDF5
import Foundation
import LRMFormat

/// An HDF5 file being created, in memory. Write it through ``HDF5FileWriter/writeAtomically(to:_:)``,
/// which is the only way this module makes one: the target path never holds a partial file.
///
/// The file is built with HDF5's in-memory ("core") driver without a backing store, so libhdf5 never
/// writes to disk: its finished image is written by ``AtomicFileWriter``. A full disk or any other
/// failure to write is then an error of our own writer (a temporary file removed, the target untouched),
/// and no HDF5 file is ever left open on an error path (libhdf5 1.10 flushed a file left open after a
/// failed write again at exit, and crashed: `lrm export` onto a full disk ended in SIGSEGV).
///
/// Files are created with HDF5's default (earliest) format bounds, as h5py does, so any HDF5 1.8+
/// reader opens them; the close degree is `H5F_CLOSE_STRONG`, so closing the file closes anything
/// still open in it.
package final class HDF5FileWriter {
    /// The name used in error messages: the target path.
    package let name: String
    private var id: hid_t?
    /// How much the in-memory file grows at a time (1 MiB).
    package static let memoryIncrement = 1 << 20

    /// Creates an empty file in memory. The corresponding C functions are `H5Pset_fapl_core` (no backing
    /// store) and `H5Fcreate` with `H5F_ACC_TRUNC`.
    private init(displayName: String) throws(HDF5WriteError) {
        name = displayName
        let location = HDF5Location(file: displayName, objectPath: "")
        let accessList = try HDF5Library.create(at: location, "could not make the file access properties", close: H5Pclose) {
            H5Pcreate(lrm_h5p_file_access())
        }
        _ = try HDF5Library.checkWrite(at: location, "could not set the file close degree") {
            H5Pset_fclose_degree(accessList.id, H5F_CLOSE_STRONG)
        }
        _ = try HDF5Library.checkWrite(at: location, "could not choose HDF5's in-memory driver") {
            H5Pset_fapl_core(accessList.id, HDF5FileWriter.memoryIncrement, false)
        }
        // The name only identifies the in-memory file within libhdf5; nothing is created under it.
        id = try HDF5Library.checkWrite(at: location, "HDF5 could not create the file in memory") {
            H5Fcreate("lrm-export-\(getpid())-\(UInt64.random(in: 0...UInt64.max))", lrm_h5f_acc_trunc(), lrm_h5p_default(), accessList.id)
        }
    }

    deinit {
        if let id {
            HDF5Library.silenceErrorPrinting()
            _ = H5Fclose(id)
        }
    }

    /// The root group `/`. The corresponding C function is `H5Gopen2`.
    package func rootGroup() throws(HDF5WriteError) -> HDF5GroupWriter {
        let location = HDF5Location(file: name, objectPath: "/")
        guard let id else { throw location.writeError("the file is already closed") }
        let group = try HDF5Library.create(at: location, "could not open the root group", close: H5Gclose) {
            H5Gopen2(id, "/", lrm_h5p_default())
        }
        return HDF5GroupWriter(handle: group, location: location)
    }

    /// Flushes the file and returns its bytes, then closes it (in memory: nothing can fail for lack of disk).
    /// The corresponding C functions are `H5Fflush`, `H5Fget_file_image` and `H5Fclose`.
    package func finish() throws(HDF5WriteError) -> [UInt8] {
        let location = HDF5Location(file: name, objectPath: "")
        guard let id else { throw location.writeError("the file is already closed") }
        defer {
            self.id = nil
            HDF5Library.silenceErrorPrinting()
            _ = H5Fclose(id)
        }
        _ = try HDF5Library.checkWrite(at: location, "could not finish the file") { H5Fflush(id, H5F_SCOPE_GLOBAL) }
        let size = try HDF5Library.checkWrite(at: location, "could not measure the finished file") { H5Fget_file_image(id, nil, 0) }
        var image = [UInt8](repeating: 0, count: Int(size))
        let copied = try HDF5Library.checkWrite(at: location, "could not copy the finished file") {
            image.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, $0.count) }
        }
        guard copied == size else { throw location.writeError("the finished file has \(copied) bytes, expected \(size)") }
        return image
    }

    /// Writes an HDF5 file at `path` so that `path` never holds a partial file.
    ///
    /// `body` fills the root group of a new file built in memory; its image is then written with
    /// ``AtomicFileWriter`` (a temporary file `.<name>.tmp-XXXXXX` in the same directory, synced and
    /// renamed over `path`, the directory synced). If anything fails, `body` included, no temporary file
    /// remains and `path` is left as it was; every HDF5 handle is closed before this returns or throws.
    /// The bytes of a new file whose root group `body` fills, built in memory (nothing is written to
    /// disk); `displayName` names it in errors. Every HDF5 handle is closed before this returns or throws.
    package static func image(displayName: String,
                              _ body: (HDF5GroupWriter) throws(HDF5WriteError) -> Void) throws(HDF5WriteError) -> [UInt8] {
        let file = try HDF5FileWriter(displayName: displayName)
        do {
            let root = try file.rootGroup()
            try body(root)
        }
        return try file.finish()
    }

    package static func writeAtomically(to path: String,
                                _ body: (HDF5GroupWriter) throws(HDF5WriteError) -> Void) throws(HDF5WriteError) {
        let base = path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
        guard !base.isEmpty else { throw HDF5WriteError(file: path, "the output path names a directory, expected a file") }
        let image = try self.image(displayName: path, body)
        do {
            try AtomicFileWriter.write(image, to: path)
        } catch let error as ContainerError {
            throw HDF5WriteError(file: path, error.message)
        } catch {
            throw HDF5WriteError(file: path, "\(error)")
        }
    }
}

/// A group of a file being written: creates child groups, datasets and attributes.
///
/// Names are single link names: not empty, not `.` or `..`, without `/` or NUL (a `/` would create
/// nested groups, which callers must ask for explicitly).
package final class HDF5GroupWriter {
    package let handle: HDF5Handle
    /// The file and object path, for error messages.
    package let location: HDF5Location

    package init(handle: HDF5Handle, location: HDF5Location) {
        self.handle = handle
        self.location = location
    }

    /// Creates the child group `name`. The corresponding C function is `H5Gcreate2`.
    package func createGroup(_ name: String) throws(HDF5WriteError) -> HDF5GroupWriter {
        let target = try childLocation(name)
        let group = try HDF5Library.create(at: target, "could not create the group", close: H5Gclose) {
            H5Gcreate2(handle.id, name, lrm_h5p_default(), lrm_h5p_default(), lrm_h5p_default())
        }
        return HDF5GroupWriter(handle: group, location: target)
    }

    /// Creates the dataset `name`, stored as little-endian IEEE binary32 (contiguous, uncompressed, as
    /// Keras writes weights), and writes `values`, row-major, into it.
    /// The corresponding C functions are `H5Screate_simple`, `H5Dcreate2` and `H5Dwrite`.
    package func writeFloat32Dataset(_ name: String, shape: [Int], values: [Float]) throws(HDF5WriteError) {
        let target = try childLocation(name)
        guard let count = HDF5Library.checkedProduct(shape), count == values.count else {
            throw target.writeError("shape \(shape) does not hold \(values.count) values")
        }
        let dimensions = shape.map { hsize_t($0) }
        let space = try HDF5Library.create(at: target, "could not make the dataspace", close: H5Sclose) {
            dimensions.withUnsafeBufferPointer { H5Screate_simple(Int32(dimensions.count), $0.baseAddress, nil) }
        }
        let dataset = try HDF5Library.create(at: target, "could not create the dataset", close: H5Dclose) {
            H5Dcreate2(handle.id, name, lrm_h5t_ieee_f32le(), space.id, lrm_h5p_default(), lrm_h5p_default(), lrm_h5p_default())
        }
        guard count > 0 else { return }
        _ = try HDF5Library.checkWrite(at: target, "could not write the dataset") {
            values.withUnsafeBytes {
                H5Dwrite(dataset.id, lrm_h5t_native_float(), lrm_h5s_all(), lrm_h5s_all(), lrm_h5p_default(), $0.baseAddress)
            }
        }
    }

    /// Writes the attribute `name` as one variable-length UTF-8 string in a scalar dataspace (how h5py
    /// stores a Python `str`). The corresponding C functions are `H5Acreate2` and `H5Awrite`.
    package func writeStringAttribute(_ name: String, _ value: String) throws(HDF5WriteError) {
        try writeStrings(name, [value], scalar: true)
    }

    /// Writes the attribute `name` as a one-dimensional array of variable-length UTF-8 strings.
    package func writeStringArrayAttribute(_ name: String, _ values: [String]) throws(HDF5WriteError) {
        try writeStrings(name, values, scalar: false)
    }

    /// Writes the attribute `name` as float64 values of shape `[values.count]` (`[]`, shape (0,), is
    /// how h5py stores an empty Python list).
    package func writeFloat64ArrayAttribute(_ name: String, _ values: [Double]) throws(HDF5WriteError) {
        let target = attributeLocation(name)
        try checkName(name, at: target)
        var dimension = hsize_t(values.count)
        let space = try HDF5Library.create(at: target, "could not make the dataspace", close: H5Sclose) {
            H5Screate_simple(1, &dimension, nil)
        }
        let attribute = try HDF5Library.create(at: target, "could not create the attribute", close: H5Aclose) {
            H5Acreate2(handle.id, name, lrm_h5t_ieee_f64le(), space.id, lrm_h5p_default(), lrm_h5p_default())
        }
        guard !values.isEmpty else { return }
        _ = try HDF5Library.checkWrite(at: target, "could not write the attribute") {
            values.withUnsafeBytes { H5Awrite(attribute.id, lrm_h5t_native_double(), $0.baseAddress) }
        }
    }

    private func writeStrings(_ name: String, _ values: [String], scalar: Bool) throws(HDF5WriteError) {
        let target = attributeLocation(name)
        try checkName(name, at: target)
        if let index = values.firstIndex(where: { $0.utf8.contains(0) }) {
            throw target.writeError("string \(index) contains a NUL character, which HDF5 strings cannot hold")
        }
        let type = try HDF5Library.create(at: target, "could not make a string type", close: H5Tclose) {
            H5Tcopy(lrm_h5t_c_s1())
        }
        _ = try HDF5Library.checkWrite(at: target, "could not make a string type") {
            H5Tset_size(type.id, lrm_h5t_variable())
        }
        _ = try HDF5Library.checkWrite(at: target, "could not make a string type") {
            H5Tset_cset(type.id, H5T_CSET_UTF8)
        }
        var dimension = hsize_t(values.count)
        let space = try HDF5Library.create(at: target, "could not make the dataspace", close: H5Sclose) {
            scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dimension, nil)
        }
        let attribute = try HDF5Library.create(at: target, "could not create the attribute", close: H5Aclose) {
            H5Acreate2(handle.id, name, type.id, space.id, lrm_h5p_default(), lrm_h5p_default())
        }
        guard !values.isEmpty else { return }
        // HDF5 reads one `char *` per element; the copies live until the write has returned.
        let copies: [UnsafeMutablePointer<CChar>?] = values.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        guard !copies.contains(nil) else { throw target.writeError("out of memory copying the strings") }
        _ = try HDF5Library.checkWrite(at: target, "could not write the attribute") {
            copies.withUnsafeBytes { H5Awrite(attribute.id, type.id, $0.baseAddress) }
        }
    }

    private func childLocation(_ name: String) throws(HDF5WriteError) -> HDF5Location {
        let target = location.appending(name)
        try checkName(name, at: target)
        return target
    }

    private func attributeLocation(_ name: String) -> HDF5Location {
        HDF5Location(file: location.file, objectPath: "\(location.objectPath)@\(name)")
    }

    private func checkName(_ name: String, at target: HDF5Location) throws(HDF5WriteError) {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0) else {
            throw target.writeError("the name '\(name)' is empty, '.', '..', or contains '/' or NUL; expected a single link name")
        }
    }
}
