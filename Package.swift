// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "lrm",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lrm", targets: ["lrm"]),
        .library(name: "LRMFormat", targets: ["LRMFormat"]),
        .library(name: "LRMRuntime", targets: ["LRMRuntime"]),
        .library(name: "LRMKeras", targets: ["LRMKeras"]),
        .library(name: "LRMPipeline", targets: ["LRMPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // C shims: every raw C call of the package goes through one of these.
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "LRMZlib", path: "Sources/LRMZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CLinearAlgebra", path: "Sources/CLinearAlgebra",
                cSettings: [.unsafeFlags(["-I/usr/include/x86_64-linux-gnu/openblas-pthread", "-I/usr/include/x86_64-linux-gnu", "-I/usr/include/aarch64-linux-gnu/openblas-pthread", "-I/usr/include/aarch64-linux-gnu"])],
                linkerSettings: [.linkedLibrary("openblas"), .linkedLibrary("lapacke"), .linkedLibrary("dl"),
                                 .unsafeFlags(["-L/usr/lib/x86_64-linux-gnu/openblas-pthread", "-L/usr/lib/aarch64-linux-gnu/openblas-pthread"])]),

        // Pure Swift: the container format and the in-memory model. No C.
        .target(name: "LRMFormat", swiftSettings: swiftSettings),
        // BLAS/LAPACK wrappers: matrix products, SVD, QR.
        .target(name: "LRMLinearAlgebra", dependencies: ["CLinearAlgebra"], exclude: ["README.md"],
                swiftSettings: swiftSettings),
        // Running a model: the forward pass over a container model.
        .target(name: "LRMRuntime", dependencies: ["LRMFormat", "LRMLinearAlgebra"], swiftSettings: swiftSettings),
        // Keras HDF5 import (legacy .h5, .weights.h5, .keras).
        // NumPy .npy / .npz reading and writing (pure Swift, .npz through ZIPFoundation).
        .target(name: "LRMNumPy", dependencies: ["LRMFormat", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "LRMKeras", dependencies: ["LRMFormat", "CHDF5", "LRMNumPy",
                                                 .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                exclude: ["README.md"], swiftSettings: swiftSettings),
        // The converter: rank policies, SVD factorization, the conversion report.
        .target(name: "LRMCompress", dependencies: ["LRMFormat", "LRMLinearAlgebra", "LRMRuntime"], swiftSettings: swiftSettings),
        // Data sets (MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100) and the data folder.
        .target(name: "LRMDatasets", dependencies: ["LRMZlib"], swiftSettings: swiftSettings),
        // Fidelity metrics and the verifier.
        .target(name: "LRMVerify", dependencies: ["LRMDatasets", "LRMRuntime", "LRMFormat", "LRMLinearAlgebra"],
                swiftSettings: swiftSettings),
        // The conversion pipeline: a model and a request in, a converted model with its decisions,
        // provenance and (for a search) validation and test figures out; the sweep. Above the converter
        // and the verifier; what `lrm convert` and `lrm sweep` run, and what other packages call.
        .target(name: "LRMPipeline", dependencies: ["LRMFormat", "LRMCompress", "LRMDatasets", "LRMVerify"],
                exclude: ["README.md"], swiftSettings: swiftSettings),
        // The command line: parsing options and printing reports; no pipeline logic.
        .executableTarget(name: "lrm", dependencies: [
            "LRMFormat", "LRMRuntime", "LRMLinearAlgebra", "LRMKeras", "LRMNumPy", "LRMCompress", "LRMDatasets", "LRMVerify", "LRMPipeline",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swiftSettings),

        // Benchmarks: scripts in tools/ run this and print figures (never timed unit tests).
        .executableTarget(name: "lrm-bench", dependencies: ["LRMFormat", "LRMLinearAlgebra", "LRMRuntime"],
                          swiftSettings: swiftSettings),

        // Fuzzing (issue 8): tools/fuzz.sh builds one of the Fuzz* executables with -DLRM_FUZZING and
        // -sanitize=fuzzer,address; a normal build makes them replay the input files they are given.
        .systemLibrary(name: "FuzzEngine", path: "Sources/FuzzEngine"),
        .target(name: "FuzzTargets", dependencies: ["FuzzEngine", "LRMFormat", "LRMKeras", "LRMNumPy", "LRMDatasets"],
                swiftSettings: swiftSettings),
        .executableTarget(name: "FuzzContainer", dependencies: ["FuzzTargets"], swiftSettings: swiftSettings),
        .executableTarget(name: "FuzzKerasConfig", dependencies: ["FuzzTargets"], swiftSettings: swiftSettings),
        .executableTarget(name: "FuzzNPY", dependencies: ["FuzzTargets"], swiftSettings: swiftSettings),
        .executableTarget(name: "FuzzDatasets", dependencies: ["FuzzTargets"], swiftSettings: swiftSettings),

        .testTarget(name: "LRMFormatTests", dependencies: ["LRMFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMLinearAlgebraTests", dependencies: ["LRMLinearAlgebra"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMCompressTests", dependencies: ["LRMCompress", "LRMFormat", "LRMLinearAlgebra", "LRMRuntime"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "LRMPipelineTests", dependencies: ["LRMPipeline", "LRMCompress", "LRMFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMDatasetsTests", dependencies: ["LRMDatasets"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMVerifyTests", dependencies: ["LRMVerify", "LRMDatasets", "LRMRuntime", "LRMFormat"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "LRMRuntimeTests", dependencies: ["LRMRuntime", "LRMFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMNumPyTests", dependencies: ["LRMNumPy"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMKerasTests", dependencies: ["LRMKeras", "LRMNumPy", "LRMRuntime", "LRMFormat"],
                    exclude: ["Fixtures"], swiftSettings: swiftSettings),
        // What the CLI and reliability tests share: running the built lrm as a child process, scratch folders.
        .target(name: "LRMTestSupport", path: "Tests/LRMTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["lrm", "LRMTestSupport", "LRMFormat", "LRMNumPy", "LRMDatasets"], swiftSettings: swiftSettings),
        // Issue 8: fuzz crashers replayed, hostile HDF5, resource limits, NaN weights, kills, reproducibility, CLI robustness.
        .testTarget(name: "ReliabilityTests", dependencies: ["lrm", "LRMTestSupport", "FuzzTargets", "LRMFormat", "LRMKeras", "LRMNumPy", "LRMDatasets", "CHDF5"],
                    exclude: ["Crashers"], swiftSettings: swiftSettings),
    ]
)

var swiftSettings: [SwiftSetting] {
    [.enableUpcomingFeature("InternalImportsByDefault")]
}
