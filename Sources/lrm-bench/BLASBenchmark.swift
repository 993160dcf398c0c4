import Foundation
import LRMLinearAlgebra

/// `lrm-bench blas …`: the BLAS kernel report and sgemm/sgesdd timings.
///
///     lrm-bench blas report
///     lrm-bench blas run [--gemm-size N] [--svd SHAPE,…] [--large] [--repeats N]
///
/// `report` prints the kernel selection (``KernelReport``) and a numerical check of the
/// kernels in use. `run` prints the report, then one `result` line per measurement, e.g.
/// `result sgemm 2048x2048x2048 gflops 212.5` and `result sgesdd 784x512 seconds 0.048`,
/// which `tools/bench_blas.sh` collects across alternating runs. The kernel choice comes
/// from the environment (`LRM_BLAS_KERNELS`), read once per process.
enum BLASBenchmark {
    static let usage = """
        usage: lrm-bench blas report
               lrm-bench blas run [--gemm-size N] [--svd MxN,…] [--large] [--repeats N]
          report        print the BLAS kernel selection and check the kernels numerically
          run           time sgemm (N×N×N, default 2048) and sgesdd (default 784x512,3072x1024;
                        --large adds 4096x4096); --repeats timings per size, median printed
        environment: LRM_BLAS_KERNELS=auto|library|generic|generic-only (see BLASRuntime)
        """

    struct Options {
        var gemmSize = 2048
        var svdShapes = [MatrixShape(rows: 784, columns: 512), MatrixShape(rows: 3072, columns: 1024)]
        var repeats = 3
    }

    /// Runs a `blas` subcommand; returns the process exit code (64 for usage errors).
    static func run(_ arguments: [String]) -> Int32 {
        do {
            switch arguments.first {
            case "report":
                guard arguments.count == 1 else { throw UsageError("report takes no options") }
                printReport()
                return try check() ? 0 : 1
            case "run":
                let options = try parse(Array(arguments.dropFirst()))
                printReport()
                guard try check() else { return 1 }
                try measure(options)
                return 0
            default:
                throw UsageError(arguments.first.map { "unknown blas subcommand '\($0)'" } ?? "missing blas subcommand")
            }
        } catch let error as UsageError {
            FileHandle.standardError.write(Data("lrm-bench blas: \(error.message)\n\(usage)\n".utf8))
            return 64
        } catch {
            FileHandle.standardError.write(Data("lrm-bench blas: \(error)\n".utf8))
            return 1
        }
    }

    struct UsageError: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var remaining = arguments[...]
        func value(for flag: String) throws -> String {
            guard let next = remaining.popFirst() else { throw UsageError("\(flag) needs a value") }
            return next
        }
        while let flag = remaining.popFirst() {
            switch flag {
            case "--gemm-size":
                guard let size = Int(try value(for: flag)), size > 0 else { throw UsageError("--gemm-size needs a positive integer") }
                options.gemmSize = size
            case "--svd":
                options.svdShapes = try value(for: flag).split(separator: ",").map { text in
                    let parts = text.split(separator: "x").compactMap { Int($0) }
                    guard parts.count == 2, parts.allSatisfy({ $0 > 0 }) else {
                        throw UsageError("--svd expects shapes like 784x512, found '\(text)'")
                    }
                    return MatrixShape(rows: parts[0], columns: parts[1])
                }
            case "--large":
                options.svdShapes.append(MatrixShape(rows: 4096, columns: 4096))
            case "--repeats":
                guard let count = Int(try value(for: flag)), count > 0 else { throw UsageError("--repeats needs a positive integer") }
                options.repeats = count
            default:
                throw UsageError("unknown option '\(flag)'")
            }
        }
        return options
    }

    static func printReport() {
        for field in BLASRuntime.report.fields { print("report \(field.label): \(field.value)") }
        print("report threads: \(BLASRuntime.threadCount.map(String.init) ?? "(unknown)")")
        // The selection sets OPENBLAS_CORETYPE only while it switches; children must inherit the user's value.
        print("report OPENBLAS_CORETYPE after selection: \(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")")
    }

    /// Checks the kernels in use: an integer-valued sgemm against a naive loop (exact) and
    /// an SVD reconstruction (relative Frobenius error below 1e-5).
    static func check() throws -> Bool {
        let (m, k, n) = (123, 77, 95)
        var a = Matrix(rows: m, columns: k), b = Matrix(rows: k, columns: n)
        for i in 0..<m { for j in 0..<k { a[i, j] = Float((i * 31 + j * 7) % 17 - 8) } }
        for i in 0..<k { for j in 0..<n { b[i, j] = Float((i * 13 + j * 5) % 19 - 9) } }
        let c = try Matrix.product(a, b)
        var exact = true
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k { sum += a[i, p] * b[p, j] }
                exact = exact && sum == c[i, j]
            }
        }
        let x = Matrix.gaussian(rows: 300, columns: 200, seed: 7)
        let svd = try SVD.compute(x)
        let squaredError = zip(try svd.reconstructed().values, x.values).reduce(0.0) {
            $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1)
        }
        let relativeError = squaredError.squareRoot() / x.frobeniusNorm
        let passed = exact && relativeError < 1e-5
        print("check: \(passed ? "ok" : "FAILED") (sgemm \(m)x\(k)x\(n) \(exact ? "exact" : "WRONG"), "
              + "sgesdd 300x200 reconstruction error \(String(format: "%.1e", relativeError)))")
        return passed
    }

    static func measure(_ options: Options) throws {
        let size = options.gemmSize
        let a = Matrix.gaussian(rows: size, columns: size, seed: 1)
        let b = Matrix.gaussian(rows: size, columns: size, seed: 2)
        var c = Matrix(rows: size, columns: size)
        try c.addProduct(a, b, beta: 0)  // warm-up: thread pool, buffers
        var gemmTimes: [Double] = []
        for _ in 0..<options.repeats {
            gemmTimes.append(try seconds { try c.addProduct(a, b, beta: 0) })
        }
        let flops = 2 * Double(size) * Double(size) * Double(size)
        print("result sgemm \(size)x\(size)x\(size) gflops \(String(format: "%.1f", flops / median(gemmTimes) / 1e9))")

        for shape in options.svdShapes {
            let matrix = Matrix.gaussian(rows: shape.rows, columns: shape.columns, seed: 3)
            let repeats = shape.rows * shape.columns <= 1_000_000 ? options.repeats : 1
            // What `lrm convert` does for a layer it factorizes: the singular values (to choose k and
            // decide), then the vectors. gesdd: jobz 'N' then 'S'; Gram: dsyrk + dsytrd, dsterf, then
            // dstedc + dormtr + one product. Alternating, medians.
            var times: [Double] = [], valuesThenVectors: [Double] = [], gram: [Double] = []
            for _ in 0..<repeats {
                times.append(try seconds { _ = try SVD.compute(matrix, precision: .single) })
                valuesThenVectors.append(try seconds {
                    _ = try SVD.singularValues(of: matrix, precision: .single)
                    _ = try SVD.compute(matrix, precision: .single)
                })
                gram.append(try seconds {
                    let decomposition = try GramDecomposition(matrix)
                    _ = try decomposition.singularValues()
                    _ = try decomposition.svd()
                })
            }
            print("result sgesdd \(shape.rows)x\(shape.columns) seconds \(String(format: "%.4f", median(times)))")
            print("result values+vectors sgesdd \(shape.rows)x\(shape.columns) seconds \(String(format: "%.4f", median(valuesThenVectors)))"
                  + " gram-f64 seconds \(String(format: "%.4f", median(gram)))")
        }
    }

    static func seconds(_ body: () throws -> Void) throws -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2]
            : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
