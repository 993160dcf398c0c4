/// A small seeded random model, for demonstrations and tests before a real model is at hand.
///
/// Its factorized layer is honest: the kernel W = U·diag(σ)·Vᵀ is built from orthonormal U, V
/// (Gram–Schmidt) and a chosen spectrum, so the stored factors, retained energy, relative error and
/// singular values are exactly those of truncating W.
public enum ExampleModel {
    /// A 784 → 64 (factorized, rank 16 of 64) → 10 MLP-shaped model with ReLU and softmax, pixels scaled by 1/255.
    public static func make(seed: UInt64 = 1, inputFeatures: Int = 784, hidden: Int = 64, rank: Int = 16,
                            classes: Int = 10) -> Model {
        var rng = SeededGenerator(seed: seed)
        let n = min(inputFeatures, hidden)
        let sigma = (0..<n).map { 4.0 * pow09($0) }
        let u = orthonormalColumns(rows: inputFeatures, columns: n, rng: &rng)
        let v = orthonormalColumns(rows: hidden, columns: n, rng: &rng)
        var us = [Float](repeating: 0, count: inputFeatures * rank)
        for i in 0..<inputFeatures { for j in 0..<rank { us[i * rank + j] = Float(u[i * n + j] * sigma[j]) } }
        var vt = [Float](repeating: 0, count: rank * hidden)
        for j in 0..<rank { for c in 0..<hidden { vt[j * hidden + c] = Float(v[c * n + j]) } }
        let total = sigma.reduce(0) { $0 + $1 * $1 }
        let kept = sigma.prefix(rank).reduce(0) { $0 + $1 * $1 }
        let energy = kept / total
        let factorization = Factorization(inFeatures: inputFeatures, outFeatures: hidden, rank: rank,
                                          retainedEnergy: energy, relativeError: (1 - energy).squareRoot(),
                                          policy: "rank", policyParameter: Double(rank), method: "synthetic",
                                          singularValues: sigma)
        let bias1 = (0..<hidden).map { _ in 0.1 * rng.nextSymmetricFloat() }
        let kernel2 = (0..<(hidden * classes)).map { _ in 0.3 * rng.nextSymmetricFloat() }
        let bias2 = (0..<classes).map { _ in 0.1 * rng.nextSymmetricFloat() }
        let layers: [Layer<Tensor>] = [
            Layer(name: "hidden", operation: .factorizedDense(
                us: Tensor(shape: [inputFeatures, rank], floats: us), vt: Tensor(shape: [rank, hidden], floats: vt),
                bias: Tensor(shape: [hidden], floats: bias1), activation: .relu, factorization: factorization)),
            Layer(name: "output", operation: .dense(
                kernel: Tensor(shape: [hidden, classes], floats: kernel2), bias: Tensor(shape: [classes], floats: bias2),
                activation: .softmax)),
        ]
        return Model(name: "example", input: InputSpec(shape: [inputFeatures], scale: [1.0 / 255.0]),
                     classNames: (0..<classes).map { "class \($0)" }, layers: layers,
                     metadata: [MetadataKey.sourceFormat: .string("random"), MetadataKey.conversionSeed: .int(Int64(bitPattern: seed))])
    }

    /// 0.9^i without Foundation.
    private static func pow09(_ i: Int) -> Double {
        var value = 1.0
        for _ in 0..<i { value *= 0.9 }
        return value
    }

    /// A rows × columns matrix (row-major, Double) with orthonormal columns, by modified Gram–Schmidt.
    static func orthonormalColumns(rows: Int, columns: Int, rng: inout SeededGenerator) -> [Double] {
        var m = (0..<(rows * columns)).map { _ in Double(rng.nextSymmetricFloat()) }
        for j in 0..<columns {
            for p in 0..<j {
                var dot = 0.0
                for i in 0..<rows { dot += m[i * columns + j] * m[i * columns + p] }
                for i in 0..<rows { m[i * columns + j] -= dot * m[i * columns + p] }
            }
            var norm = 0.0
            for i in 0..<rows { norm += m[i * columns + j] * m[i * columns + j] }
            norm = norm.squareRoot()
            for i in 0..<rows { m[i * columns + j] /= norm }
        }
        return m
    }
}
