/// A tensor of a model that holds NaN or infinite values.
public struct NonFiniteWeights: Sendable, Equatable, CustomStringConvertible {
    /// The layer's name.
    public var layer: String
    /// The tensor's role in the layer: `kernel`, `bias`, `us`, `vt`, `scale` or `shift`.
    public var role: String
    /// How many of its values are NaN or ±∞.
    public var count: Int
    /// How many values it has.
    public var total: Int
    /// The row-major index of the first one, as coordinates in the tensor's shape.
    public var firstIndex: [Int]
    /// The first one (NaN, +∞ or −∞).
    public var firstValue: Float

    /// `layer 'fc1': kernel holds 3 of 6 values that are NaN or infinite (the first, at [0, 2], is nan)`.
    public var description: String {
        let position = "[" + firstIndex.map(String.init).joined(separator: ", ") + "]"
        return "layer '\(escaped(layer))': \(role) holds \(count) of \(total) values that are NaN or infinite "
            + "(the first, at \(position), is \(firstValue))"
    }
}

extension Model {
    /// Every tensor that holds a NaN or an infinity, in layer order (empty when all weights are finite).
    /// Half-precision values are checked as stored; float64 values as they are (not rounded to float32).
    public var nonFiniteWeights: [NonFiniteWeights] {
        var found: [NonFiniteWeights] = []
        for layer in layers {
            for (role, tensor) in layer.operation.tensors {
                let values: [Float]
                var count = 0
                var first: Int?
                var firstValue: Float = .nan
                switch tensor.storage {
                case .float64(let doubles):
                    for (index, value) in doubles.enumerated() where !value.isFinite {
                        count += 1
                        if first == nil { first = index; firstValue = Float(value) }
                    }
                    values = []
                default:
                    values = tensor.floats()
                    if FiniteValues.all(values) { continue }
                }
                for (index, value) in values.enumerated() where !value.isFinite {
                    count += 1
                    if first == nil { first = index; firstValue = value }
                }
                guard let first else { continue }
                found.append(NonFiniteWeights(layer: layer.name, role: role, count: count, total: tensor.elementCount,
                                              firstIndex: Self.coordinates(of: first, in: tensor.shape), firstValue: firstValue))
            }
        }
        return found
    }

    /// The coordinates of row-major index `index` in `shape`.
    static func coordinates(of index: Int, in shape: [Int]) -> [Int] {
        var rest = index
        var result = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() where shape[axis] > 0 {
            result[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return result
    }
}
