import CHDF5
import Foundation

/// The value of an HDF5 attribute, converted to Swift types.
package enum HDF5AttributeValue: Equatable {
    /// Strings of any HDF5 encoding: variable-length or fixed-length (NUL-terminated, NUL-padded or
    /// space-padded; a name filling the whole width has no terminator), ASCII or UTF-8 (both decoded as
    /// UTF-8, since h5py stores UTF-8 bytes under the ASCII tag). `isScalar` is true for a scalar dataspace.
    case strings([String], isScalar: Bool)
    /// Floating-point values of any width, converted to `Double`, with their shape (`[]` for a scalar).
    case floats([Double], shape: [Int])
    /// Integers of any width up to 64 bits, converted to `Int64`, with their shape.
    case integers([Int64], shape: [Int])
}

extension HDF5Object {
    /// Whether the object has an attribute called `name`. The corresponding C function is `H5Aexists`.
    package func hasAttribute(_ name: String) throws(HDF5Error) -> Bool {
        try HDF5Library.check(.readFailed, at: location, "could not look up the attribute '\(name)'") {
            H5Aexists(handle.id, name)
        } > 0
    }

    /// Reads the attribute `name`, checking its size against the file's limits before allocating.
    /// The corresponding C function is `H5Aread`.
    package func readAttribute(_ name: String) throws(HDF5Error) -> HDF5AttributeValue {
        let where_ = HDF5Location(file: location.file, objectPath: "\(location.objectPath)@\(name)")
        guard try hasAttribute(name) else { throw where_.error(.notFound, "no such attribute") }
        let attribute = try HDF5Library.open(.readFailed, at: where_, "could not open the attribute", close: H5Aclose) {
            H5Aopen(handle.id, name, lrm_h5p_default())
        }
        let type = try HDF5Library.open(.readFailed, at: where_, "could not read the attribute's type", close: H5Tclose) {
            H5Aget_type(attribute.id)
        }
        let space = try HDF5Library.open(.readFailed, at: where_, "could not read the attribute's dataspace", close: H5Sclose) {
            H5Aget_space(attribute.id)
        }
        let (shape, count) = try HDF5Library.extent(of: space.id, at: where_, limits: file.limits)
        let isScalar = shape.isEmpty
        let typeClass = H5Tget_class(type.id)
        // An attribute's values are stored in the file (in its object header or dense storage), at least
        // one byte each and the type's size for fixed-size types: a larger claim is refused before anything
        // is allocated.
        let elementBytes = max(1, H5Tget_size(type.id))
        guard let claimed = HDF5Library.checkedProduct([count, elementBytes]), claimed <= file.byteCount else {
            throw where_.error(.tooLarge, "attribute claims \(count) values of \(elementBytes) bytes, more than the file's \(file.byteCount) bytes")
        }
        switch typeClass {
        case H5T_STRING:
            let strings = try readStrings(attribute: attribute.id, type: type.id, space: space.id, count: count, at: where_)
            return .strings(strings, isScalar: isScalar)
        case H5T_FLOAT:
            var values = [Double](repeating: 0, count: count)
            if count > 0 {
                do {
                    _ = try HDF5Library.check(.readFailed, at: where_, "could not read the attribute") {
                        values.withUnsafeMutableBytes { H5Aread(attribute.id, lrm_h5t_native_double(), $0.baseAddress) }
                    }
                } catch where error.kind == .outOfMemory {
                    throw where_.error(.outOfMemory, "could not read the attribute: out of memory: HDF5 could not allocate a buffer "
                                       + "for its \(count) values of \(elementBytes) bytes")
                }
            }
            return .floats(values, shape: shape)
        case H5T_INTEGER:
            var values = [Int64](repeating: 0, count: count)
            if count > 0 {
                do {
                    _ = try HDF5Library.check(.readFailed, at: where_, "could not read the attribute") {
                        values.withUnsafeMutableBytes { H5Aread(attribute.id, lrm_h5t_native_int64(), $0.baseAddress) }
                    }
                } catch where error.kind == .outOfMemory {
                    throw where_.error(.outOfMemory, "could not read the attribute: out of memory: HDF5 could not allocate a buffer "
                                       + "for its \(count) values of \(elementBytes) bytes")
                }
            }
            return .integers(values, shape: shape)
        default:
            throw where_.error(.unsupportedType, "attribute has HDF5 type class \(typeClass.rawValue), expected a string or a number")
        }
    }

    private func readStrings(attribute: hid_t, type: hid_t, space: hid_t, count: Int,
                             at where_: HDF5Location) throws(HDF5Error) -> [String] {
        guard count > 0 else { return [] }
        let isVariable = try HDF5Library.check(.readFailed, at: where_, "could not read the string type") {
            H5Tis_variable_str(type)
        } > 0
        let charset = H5Tget_cset(type)
        // libhdf5 decodes any value; only ASCII and UTF-8 are defined (the rest are reserved), so another is damage.
        guard charset == H5T_CSET_ASCII || charset == H5T_CSET_UTF8 else {
            throw where_.error(.corrupt, "", libraryMessage: "its string type records character set \(charset.rawValue), expected 0 (ASCII) or 1 (UTF-8)")
        }
        if isVariable {
            // A variable-length string is a sequence of 1-byte characters: libhdf5 takes the recorded size as it
            // is and allocates (string length × character size) bytes per string ("memory allocation failed for
            // chunk" when a damaged size makes that terabytes). The corresponding C function is `H5Tget_super`.
            HDF5Library.silenceErrorPrinting()
            let character = H5Tget_super(type)
            if character >= 0 {
                let characterBytes = H5Tget_size(character)
                _ = H5Tclose(character)
                guard characterBytes == 1 else {
                    throw where_.error(.corrupt, "", libraryMessage: "its variable-length string type records characters of \(characterBytes) bytes, expected 1")
                }
            } else {
                _ = HDF5Library.innermostError()  // not a derived type in this libhdf5: nothing to check
            }
            let memoryType = try HDF5Library.open(.readFailed, at: where_, "could not make a string type", close: H5Tclose) {
                H5Tcopy(lrm_h5t_c_s1())
            }
            _ = try HDF5Library.check(.readFailed, at: where_, "could not make a string type") {
                H5Tset_size(memoryType.id, lrm_h5t_variable())
            }
            _ = try HDF5Library.check(.readFailed, at: where_, "could not make a string type") {
                H5Tset_cset(memoryType.id, charset)
            }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            do {
                _ = try HDF5Library.check(.readFailed, at: where_, "could not read the strings") {
                    pointers.withUnsafeMutableBytes { H5Aread(attribute, memoryType.id, $0.baseAddress) }
                }
            } catch where error.kind == .outOfMemory {
                // The strings' bytes are in the file's global heap: at most the file's size in all.
                throw where_.error(.outOfMemory, "could not read the strings: out of memory: HDF5 could not allocate the buffers "
                                   + "for \(count) variable-length strings (at most \(file.byteCount) bytes, the file's size)")
            }
            defer {
                pointers.withUnsafeMutableBytes { _ = lrm_h5_reclaim_vlen(memoryType.id, space, $0.baseAddress) }
            }
            var strings: [String] = []
            strings.reserveCapacity(count)
            for (index, pointer) in pointers.enumerated() {
                guard let pointer else { strings.append(""); continue }
                guard let text = HDF5Library.utf8(UnsafeBufferPointer(start: pointer, count: strlen(pointer)).map { UInt8(bitPattern: $0) }) else {
                    throw where_.error(.invalidString, "string \(index) is not valid UTF-8")
                }
                strings.append(text)
            }
            return strings
        }
        let width = H5Tget_size(type)
        guard width > 0, width <= file.limits.maxStringByteCount,
              let total = HDF5Library.checkedProduct([width, count]), total <= file.limits.maxByteCount else {
            throw where_.error(.tooLarge, "\(count) strings of \(width) bytes exceed the limits")
        }
        let padding = H5Tget_strpad(type)
        let memoryType = try HDF5Library.open(.readFailed, at: where_, "could not copy the string type", close: H5Tclose) {
            H5Tcopy(type)
        }
        var bytes = [UInt8](repeating: 0, count: total)
        do {
            _ = try HDF5Library.check(.readFailed, at: where_, "could not read the strings") {
                bytes.withUnsafeMutableBytes { H5Aread(attribute, memoryType.id, $0.baseAddress) }
            }
        } catch where error.kind == .outOfMemory {
            throw where_.error(.outOfMemory, "could not read the strings: out of memory: HDF5 could not allocate a buffer for their \(total) bytes")
        }
        var strings: [String] = []
        strings.reserveCapacity(count)
        for index in 0..<count {
            var field = bytes[(index * width)..<((index + 1) * width)]
            if let end = field.firstIndex(of: 0) { field = field[..<end] }  // a full-width name has no NUL
            if padding == H5T_STR_SPACEPAD {
                while let last = field.last, last == 0x20 { field = field.dropLast() }
            }
            guard let text = HDF5Library.utf8(field) else {
                throw where_.error(.invalidString, "string \(index) is not valid UTF-8")
            }
            strings.append(text)
        }
        return strings
    }
}
