import Foundation
import LRMFormat
import LRMRuntime

/// `lrm-bench quant [--batch N] [--repeats N]`: the product x·W of an i8-coded weight computed the
/// way lrm's runtime does it (dequantize blocks of rows to float32, then sgemm) against an integer
/// product (issue 15: "or multiplies in integers where that is faster: measure").
///
/// The integer path quantizes each row of x to i8 (one scale per row, symmetric), accumulates
/// i8·i8 products in Int32 (a loop the compiler vectorizes) (the codes of W transposed once, outside the timing),
/// and scales the sums by the row's and the column's scales. It is plain Swift on one thread; the
/// runtime path is `InferenceModel` on a one-layer model (sgemm with the process's BLAS threads, so
/// run with `OPENBLAS_NUM_THREADS=1` to compare one core with one core). Prints the median process CPU
/// time per call of each path for each shape and the largest relative difference between their outputs
/// (the integer path also rounds x).
enum QuantBenchmark {
    static let usage = "lrm-bench quant [--batch N] [--repeats N]      i8 weights: block dequantization + sgemm against integer products"

    static let shapes: [(Int, Int)] = [(784, 64), (64, 512), (512, 256), (3072, 512), (3072, 128)]

    static func run(_ arguments: [String]) -> Int32 {
        var batch = 256, repeats = 7
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--batch" where index + 1 < arguments.count: batch = max(1, Int(arguments[index + 1]) ?? batch); index += 2
            case "--repeats" where index + 1 < arguments.count: repeats = max(1, Int(arguments[index + 1]) ?? repeats); index += 2
            default:
                FileHandle.standardError.write(Data("usage: \(usage)\n".utf8))
                return 64
            }
        }
        var rng = SeededGenerator(seed: 15)
        print("i8 weight product, batch \(batch), process CPU time, median of \(repeats) (BLAS threads from the environment; integer path one thread)")
        print("shape        dequant+sgemm ms   integer ms   integer/dequant   max rel. difference")
        for (n, m) in shapes {
            let w = (0..<(n * m)).map { _ in rng.nextSymmetricFloat() }
            let x = (0..<(batch * n)).map { _ in max(0, rng.nextSymmetricFloat()) }   // ReLU-like inputs
            let q = QuantizedValues.rounding(w, shape: [n, m], dtype: .int8, scaleDType: .float16)
            do {
                let model = Model(name: "bench", input: InputSpec(shape: [n]),
                                  layers: [Layer(name: "d", operation: .dense(kernel: Tensor(quantized: q), bias: nil, activation: .linear))])
                let runner = try InferenceModel(model)
                var reference: [Float] = []
                let dequantTimes = try (0..<repeats).map { _ in
                    try timeThrowing { reference = try runner.run(x, sampleCount: batch, preprocess: false) }
                }
                let kernel = IntegerKernel(q)
                var integer: [Float] = []
                let integerTimes = (0..<repeats).map { _ in time { integer = kernel.multiply(x, rows: batch) } }
                var worst: Float = 0
                let norm = reference.reduce(Float(0)) { max($0, abs($1)) }
                for (a, b) in zip(reference, integer) { worst = max(worst, abs(a - b) / max(norm, 1e-30)) }
                let (d, i) = (median(dequantTimes), median(integerTimes))
                print(String(format: "%4d×%-4d    %14.3f   %10.3f   %15.2f   %.2e", n, m, d * 1e3, i * 1e3, i / d, worst))
            } catch {
                FileHandle.standardError.write(Data("lrm-bench: \(error)\n".utf8))
                return 1
            }
        }
        return 0
    }

    /// W's codes transposed (out × in, rows padded to 16) and its per-column scales.
    struct IntegerKernel {
        let inFeatures: Int, outFeatures: Int, padded: Int
        let codes: [Int8]
        let scales: [Float]

        init(_ q: QuantizedValues) {
            inFeatures = q.rows
            outFeatures = q.columns
            padded = (q.rows + 15) / 16 * 16
            var t = [Int8](repeating: 0, count: padded * q.columns)
            for i in 0..<q.rows { for j in 0..<q.columns { t[j * padded + i] = q.codes[i * q.columns + j] } }
            codes = t
            precondition(q.groupSize == q.rows, "one scale per column")
            scales = q.scales.floats()
        }

        func multiply(_ x: [Float], rows: Int) -> [Float] {
            var y = [Float](repeating: 0, count: rows * outFeatures)
            var xq = [Int8](repeating: 0, count: padded)
            let (n, m, p) = (inFeatures, outFeatures, padded)
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    xq.withUnsafeMutableBufferPointer { qb in
                        codes.withUnsafeBufferPointer { wb in
                            scales.withUnsafeBufferPointer { sb in
                                let (xp, yp, a, w, s) = (xb.baseAddress!, yb.baseAddress!, qb.baseAddress!, wb.baseAddress!, sb.baseAddress!)
                                for r in 0..<rows {
                                    let row = xp + r * n
                                    var amax: Float = 0
                                    for i in 0..<n { amax = max(amax, abs(row[i])) }
                                    let xs = amax > 0 ? amax / 127 : 1
                                    for i in 0..<n { a[i] = Int8((row[i] / xs).rounded()) }
                                    for c in 0..<m {
                                        yp[r * m + c] = Float(dot(a, w + c * p, count: p)) * xs * s[c]
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return y
        }
    }

    /// Σ a[k]·b[k] in Int32.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, count: Int) -> Int32 {
        var acc: Int32 = 0
        for k in 0..<count { acc &+= Int32(a[k]) &* Int32(b[k]) }
        return acc
    }

    /// CPU seconds of the process (all threads) spent in `body`: on a shared machine wall time counts the
    /// time other processes hold the cores, which grows with the length of the call.
    static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func time(_ body: () -> Void) -> Double {
        let start = cpuSeconds()
        body()
        return cpuSeconds() - start
    }

    static func timeThrowing(_ body: () throws -> Void) throws -> Double {
        let start = cpuSeconds()
        try body()
        return cpuSeconds() - start
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
