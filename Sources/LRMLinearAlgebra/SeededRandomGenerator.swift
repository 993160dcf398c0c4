public import LRMFormat

/// The seeded generator under the name this module has always used: the one implementation is
/// ``LRMFormat/SeededGenerator`` (SplitMix64, Box–Muller Gaussians).
public typealias SeededRandomGenerator = SeededGenerator

extension Matrix {
    /// A `rows`×`columns` matrix of independent standard normal samples, filled in row-major
    /// order from ``SeededGenerator`` with `seed`: deterministic for a given seed.
    public static func gaussian(rows: Int, columns: Int, seed: UInt64) -> Matrix {
        var generator = SeededGenerator(seed: seed)
        var matrix = Matrix(rows: rows, columns: columns)
        matrix.withUnsafeMutableBufferPointer { buffer in
            for index in buffer.indices { buffer[index] = generator.nextGaussian() }
        }
        return matrix
    }
}
