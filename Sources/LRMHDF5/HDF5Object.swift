import CHDF5

/// A group or dataset in an open ``HDF5File``. Keeps the file alive and closes its own handle when released.
package class HDF5Object {
    package let handle: HDF5Handle
    package let file: HDF5File
    /// The file and object path, for error messages.
    package let location: HDF5Location

    package init(handle: HDF5Handle, file: HDF5File, location: HDF5Location) {
        self.handle = handle
        self.file = file
        self.location = location
    }

    /// The object's path inside the file, e.g. `/model_weights/dense`.
    package var path: String { location.objectPath }
}

/// An HDF5 group: named links to groups and datasets, plus attributes.
///
/// Names are resolved relative to the group and may contain `/` (nested groups, as tf-keras writes for a
/// layer named `hidden/one`). Only hard links are followed: soft and external links, which Keras never
/// writes, are refused, so nothing is ever read from outside the file.
package final class HDF5Group: HDF5Object {
    /// The names of the group's direct children, in no particular order.
    ///
    /// HDF5 lists links alphabetically (`dense_10` before `dense_2`), which says nothing about model order,
    /// so this returns a set; take order from attributes or the model config.
    /// The corresponding C function is `H5Lget_name_by_idx`.
    package func childNames() throws(HDF5Error) -> Set<String> {
        let count = try HDF5Library.check(.readFailed, at: location, "could not count the group's links") {
            lrm_h5g_link_count(handle.id)
        }
        guard count <= Int64(file.limits.maxElementCount) else {
            throw location.error(.tooLarge, "group has \(count) links, expected at most \(file.limits.maxElementCount)")
        }
        var names: Set<String> = []
        for index in 0..<hsize_t(count) {
            let length = try HDF5Library.check(.readFailed, at: location, "could not read link name \(index)") {
                H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, lrm_h5p_default())
            }
            guard length < file.limits.maxStringByteCount else {
                throw location.error(.tooLarge, "link name \(index) is \(length) bytes long")
            }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = try HDF5Library.check(.readFailed, at: location, "could not read link name \(index)") {
                buffer.withUnsafeMutableBufferPointer {
                    H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, index, $0.baseAddress, length + 1,
                                       lrm_h5p_default())
                }
            }
            guard let name = HDF5Library.utf8(buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }) else {
                throw location.error(.invalidString, "link name \(index) is not valid UTF-8")
            }
            names.insert(name)
        }
        return names
    }

    /// Whether `name` (a relative path, possibly with `/`) exists below this group.
    /// The corresponding C function is `H5Lexists`, called for each prefix of the path.
    package func contains(_ name: String) throws(HDF5Error) -> Bool {
        try resolve(name) != nil
    }

    /// Opens the group at the relative path `name`.
    package func openGroup(_ name: String) throws(HDF5Error) -> HDF5Group {
        let (handle, location) = try openObject(name)
        let type = H5Iget_type(handle.id)
        guard type == H5I_GROUP else {
            throw location.error(.wrongObjectType, "expected a group, found \(describe(type))")
        }
        return HDF5Group(handle: handle, file: file, location: location)
    }

    /// Opens the dataset at the relative path `name`, checking its shape and element type against the
    /// file's limits (nothing is read or allocated yet).
    package func openDataset(_ name: String) throws(HDF5Error) -> HDF5Dataset {
        let (handle, location) = try openObject(name)
        let type = H5Iget_type(handle.id)
        guard type == H5I_DATASET else {
            throw location.error(.wrongObjectType, "expected a dataset, found \(describe(type))")
        }
        return try HDF5Dataset(opening: handle, file: file, location: location)
    }

    private func describe(_ type: H5I_type_t) -> String {
        switch type {
        case H5I_GROUP: "a group"
        case H5I_DATASET: "a dataset"
        case H5I_DATATYPE: "a named datatype"
        default: "an object of HDF5 identifier type \(type.rawValue)"
        }
    }

    /// Checks `name` and opens the object it names. The corresponding C function is `H5Oopen`.
    private func openObject(_ name: String) throws(HDF5Error) -> (HDF5Handle, HDF5Location) {
        guard let location = try resolve(name) else {
            throw self.location.appending(name).error(.notFound, "no such object")
        }
        let handle = try HDF5Library.open(.readFailed, at: location, "could not open the object", close: H5Oclose) {
            H5Oopen(self.handle.id, name, lrm_h5p_default())
        }
        return (handle, location)
    }

    /// Validates `name` and walks its components with `H5Lexists`, refusing soft, external and user-defined links.
    /// Returns the object's location, or `nil` if some component does not exist.
    private func resolve(_ name: String) throws(HDF5Error) -> HDF5Location? {
        let target = location.appending(name)
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw target.error(.invalidName, "object name '\(name)' is empty, absolute or has empty, '.' or '..' components")
        }
        var prefix = ""
        for component in components {
            prefix = prefix.isEmpty ? String(component) : prefix + "/" + component
            let exists = try HDF5Library.check(.readFailed, at: target, "could not look up '\(prefix)'") {
                H5Lexists(handle.id, prefix, lrm_h5p_default())
            }
            guard exists > 0 else { return nil }
            let linkType = try HDF5Library.check(.readFailed, at: target, "could not read the link '\(prefix)'") {
                lrm_h5l_link_type(handle.id, prefix)
            }
            guard linkType == Int32(H5L_TYPE_HARD.rawValue) else {
                throw target.error(.refusedIndirection, "'\(prefix)' is a soft, external or user-defined link; only hard links are followed")
            }
        }
        return target
    }
}
