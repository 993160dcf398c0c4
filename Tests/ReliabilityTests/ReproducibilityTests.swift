import Foundation
import LRMTestSupport
import LRMFormat
import Testing

/// The same input and options give byte-identical `.lrm` files across runs and BLAS thread counts.
@Suite("Reproducible: the same input gives the same bytes, whatever the BLAS thread count")
struct ReproducibilityTests {
    static let sample = TestPackage.root + "/samples/mnist_mlp.h5"
    static let datasets = TestPackage.shared + "/datasets"
    static let hasMNIST = FileManager.default.fileExists(atPath: datasets + "/mnist")

    /// Runs `lrm convert` under each environment; returns each output's bytes.
    static func outputs(_ arguments: [String], environments: [[String: String]], in scratch: Scratch) throws -> [Data] {
        try environments.enumerated().map { index, environment in
            let output = scratch.file("out\(index).lrm")
            let result = try ChildProcess.run(["convert", sample, "-o", output] + arguments, environment: environment, timeout: 300)
            #expect(result.status == 0, "\(environment): \(result)")
            return try Data(contentsOf: URL(fileURLWithPath: output))
        }
    }

    @Test("real sample: mnist_mlp.h5 at rank 64 is the same file with 1 or 2 BLAS threads, and run to run")
    func sample() throws {
        let scratch = try Scratch()
        let files = try Self.outputs(["--input-scale", "1/255", "--policy", "rank:64"],
                                     environments: [["OPENBLAS_NUM_THREADS": "1"], ["OPENBLAS_NUM_THREADS": "2"], ["OPENBLAS_NUM_THREADS": "2"]],
                                     in: scratch)
        #expect(files[0] == files[1], "1 and 2 BLAS threads differ")
        #expect(files[1] == files[2], "two runs differ")
        let model = try ContainerFile(path: scratch.file("out0.lrm"))
        #expect(model.header.model.layers.contains { if case .factorizedDense = $0.operation { true } else { false } })
    }

    @Test("real sample through the Gram matrix (--svd gram: its products and back-transform in two halves at once) is the same file with 1 or 2 BLAS threads, and run to run")
    func sampleThroughGram() throws {
        let scratch = try Scratch()
        let files = try Self.outputs(["--input-scale", "1/255", "--policy", "energy:0.95", "--svd", "gram"],
                                     environments: [["OPENBLAS_NUM_THREADS": "1"], ["OPENBLAS_NUM_THREADS": "2"], ["OPENBLAS_NUM_THREADS": "2"]],
                                     in: scratch)
        #expect(files[0] == files[1], "1 and 2 BLAS threads differ")
        #expect(files[1] == files[2], "two runs differ")
        let model = try ContainerFile(path: scratch.file("out0.lrm"))
        #expect(model.header.model.layers.contains {
            if case let .factorizedDense(_, _, _, _, factorization) = $0.operation { factorization.method == "gram-f64" } else { false }
        })
    }

    @Test("real data: the whitened (data-aware) conversion is the same file with 1 or 2 BLAS threads", .enabled(if: hasMNIST))
    func dataAware() throws {
        let scratch = try Scratch()
        let files = try Self.outputs(["--input-scale", "1/255", "--policy", "whitened:0.95", "--dataset", "mnist", "--data", Self.datasets,
                                      "--calibration-samples", "500"],
                                     environments: [["OPENBLAS_NUM_THREADS": "1"], ["OPENBLAS_NUM_THREADS": "2"]], in: scratch)
        #expect(files[0] == files[1], "1 and 2 BLAS threads differ")
    }

    @Test("import is byte-identical run to run")
    func importTwice() throws {
        let scratch = try Scratch()
        for name in ["a.lrm", "b.lrm"] {
            #expect(try ChildProcess.run(["import", Self.sample, "-o", scratch.file(name), "--input-scale", "1/255"]).status == 0)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file("a.lrm"))) == Data(contentsOf: URL(fileURLWithPath: scratch.file("b.lrm"))))
    }
}
