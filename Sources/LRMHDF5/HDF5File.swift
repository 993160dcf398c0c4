import CHDF5
import Foundation

/// An HDF5 file opened read-only. Closed when the last reference to it (or to an object in it) goes away.
///
/// Before HDF5 sees the file, its existence, kind and signature are checked so that the common mistakes
/// (missing file, directory, empty file, another format) get a precise error instead of a library trace.
package final class HDF5File {
    /// The path opened.
    package let path: String
    /// The name used in error messages (the path, or e.g. `model.keras: model.weights.h5` for an extracted member).
    package let name: String
    /// Caps applied to every dataset and attribute read from this file.
    package let limits: HDF5Limits
    /// The file's size in bytes when it was opened: no dataset or attribute can hold more than this
    /// (compressed chunks aside, see ``HDF5Dataset``), whatever sizes its headers claim.
    package let byteCount: Int
    package let handle: HDF5Handle

    /// Opens `path` read-only.
    ///
    /// The corresponding C function is `H5Fopen` with `H5F_ACC_RDONLY`.
    /// - Throws: ``HDF5Error`` of kind `fileNotFound`, `notAFile`, `emptyFile`, `notHDF5`, `openFailed` (a file
    ///   shorter than its superblock says is described by ``HDF5Truncation``) or `corrupt`.
    package init(path: String, limits: HDF5Limits = .standard, displayName: String? = nil) throws(HDF5Error) {
        self.path = path
        let name = displayName ?? path
        self.name = name
        self.limits = limits
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw HDF5Error(.fileNotFound, file: name, "no such file")
        }
        guard !isDirectory.boolValue else { throw HDF5Error(.notAFile, file: name, "is a directory, expected an HDF5 file") }
        byteCount = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
        switch try FileSignature.sniff(path: path) {
        case .hdf5: break
        case .empty: throw HDF5Error(.emptyFile, file: name, "the file is empty, expected an HDF5 file")
        case .zip: throw HDF5Error(.notHDF5, file: name, "not an HDF5 file, found a ZIP archive")
        case .other(let found): throw HDF5Error(.notHDF5, file: name, "not an HDF5 file (no HDF5 signature), found \(found)")
        }
        let location = HDF5Location(file: name, objectPath: "")
        do {
            handle = try HDF5Library.open(.openFailed, at: location, "HDF5 could not open the file", close: H5Fclose) {
                H5Fopen(path, lrm_h5f_acc_rdonly(), lrm_h5p_default())
            }
        } catch {
            // A file cut short, or whose superblock records an impossible end or base, is said so in the
            // user's terms, not libhdf5's.
            if let problem = HDF5Truncation.describe(path: path) {
                throw problem.corrupt ? HDF5Error(.corrupt, file: name, "", libraryMessage: problem.text)
                                      : HDF5Error(.openFailed, file: name, problem.text)
            }
            // Damage found while opening: `x.h5: corrupt HDF5 file: its superblock is damaged`.
            if error.kind == .corrupt { throw HDF5Error(.corrupt, file: name, "", libraryMessage: error.libraryMessage) }
            throw error
        }
    }

    /// The root group `/`.
    package func rootGroup() throws(HDF5Error) -> HDF5Group {
        let location = HDF5Location(file: name, objectPath: "/")
        let group: HDF5Handle
        do {
            group = try HDF5Library.open(.openFailed, at: location, "could not open the root group", close: H5Gclose) {
                H5Gopen2(handle.id, "/", lrm_h5p_default())
            }
        } catch where error.kind == .openFailed && error.libraryMessage == "not a group" {
            // Every HDF5 file's root object is a group: one that is not is damage.
            throw HDF5Error(.corrupt, file: name, "", libraryMessage: "its root object is not a group")
        }
        return HDF5Group(handle: group, file: self, location: location)
    }
}
