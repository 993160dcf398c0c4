import LRMHDF5
/// Reading attributes and datasets the way Keras writes them.
extension HDF5Object {
    /// A list of strings stored by Keras under `name`: a string array, a scalar string, an empty float64
    /// array of shape (0,) (how h5py stores an empty list), or — when the list exceeded HDF5's 64 KiB
    /// object-header limit — split over `name0`, `name1`, … Returns `nil` when none of these exist.
    func kerasStringList(_ name: String) throws(HDF5Error) -> [String]? {
        if try hasAttribute(name) { return try stringList(name) }
        var chunks: [String] = []
        var index = 0
        while try hasAttribute("\(name)\(index)") {
            chunks += try stringList("\(name)\(index)")
            index += 1
        }
        return index == 0 ? nil : chunks
    }

    /// A scalar (or one-element) string attribute, or `nil` when absent.
    func kerasString(_ name: String) throws(HDF5Error) -> String? {
        guard try hasAttribute(name) else { return nil }
        guard case .strings(let values, _) = try readAttribute(name), values.count == 1 else {
            throw HDF5Location(file: location.file, objectPath: "\(path)@\(name)")
                .error(.unsupportedType, "expected a single string")
        }
        return values[0]
    }

    private func stringList(_ name: String) throws(HDF5Error) -> [String] {
        switch try readAttribute(name) {
        case .strings(let values, _):
            return values
        case .floats(let values, _) where values.isEmpty:
            return []
        case .integers(let values, _) where values.isEmpty:
            return []
        default:
            throw HDF5Location(file: location.file, objectPath: "\(path)@\(name)")
                .error(.unsupportedType, "expected a list of strings, found numbers")
        }
    }
}

extension HDF5Dataset {
    /// Reads the dataset as the Keras variable `name`, converted to `Float32`.
    func kerasWeight(named name: String) throws(HDF5Error) -> KerasWeight {
        let dtype: KerasDType = switch elementType {
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .float32: .float32
        case .float64: .float64
        case .integer(let signed, let byteCount):
            switch (signed, byteCount) {
            case (true, 1): .int8
            case (true, 2): .int16
            case (true, 4): .int32
            case (true, _): .int64
            case (false, 1): .uint8
            case (false, 2): .uint16
            case (false, 4): .uint32
            case (false, _): .uint64
            }
        }
        var weight = KerasWeight(name: name, shape: shape, values: try readFloats(), sourceDType: dtype, sourcePath: path)
        weight.doubleValues = try readDoubles()
        return weight
    }
}
