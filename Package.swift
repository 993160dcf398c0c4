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
        // The pipeline with what its API is made of: options and decisions (LRMCompress), data sets
        // (LRMDatasets) and metrics (LRMVerify).
        .library(name: "LRMPipeline", targets: ["LRMPipeline", "LRMCompress", "LRMDatasets", "LRMVerify"]),
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
        // BLAS and LAPACKE through pkg-config (`openblas.pc`, `lapacke.pc`), so the library products carry no
        // unsafe flags and other packages can depend on them. Where pkg-config does not know them, SwiftPM
        // warns and the compiler's default paths are tried: see Sources/LRMLinearAlgebra/README.md.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE", pkgConfig: "lapacke",
                       providers: [.apt(["liblapacke-dev"])]),
        .target(name: "CLinearAlgebra", dependencies: ["COpenBLAS", "CLAPACKE"], path: "Sources/CLinearAlgebra",
                linkerSettings: [.linkedLibrary("dl")]),
        // OpenBLAS kernel selection at load time, for lrm's executables only (libraries never run it on
        // their own; a program embedding them calls BLASRuntime.prepare()). Imports CLinearAlgebra.
        .target(name: "CKernelSelectionAtLoad", dependencies: ["CLinearAlgebra"], path: "Sources/CKernelSelectionAtLoad"),
        // lrm's malloc: a failed allocation in the Swift runtime is one line `lrm: error: out of memory: …`, exit 71.
        .target(name: "CAllocationFailure", dependencies: ["CLinearAlgebra"], path: "Sources/CAllocationFailure"),

        // Each module's README says what it owns and what it may import; the comments here say the same.
        // The container format and the in-memory model: pure Swift, imports no other lrm module.
        .target(name: "LRMFormat", exclude: ["README.md"], swiftSettings: swiftSettings),
        // BLAS/LAPACK wrappers: matrix products, SVD, QR, Cholesky; the kernel selection on request.
        // Imports CLinearAlgebra, and LRMFormat for the one seeded generator.
        .target(name: "LRMLinearAlgebra", dependencies: ["CLinearAlgebra", "LRMFormat"], exclude: ["README.md"],
                swiftSettings: swiftSettings),
        // Running a model: the forward pass over a container model. Imports LRMFormat, LRMLinearAlgebra.
        .target(name: "LRMRuntime", dependencies: ["LRMFormat", "LRMLinearAlgebra"], exclude: ["README.md"], swiftSettings: swiftSettings),
        // NumPy .npy / .npz reading and writing (pure Swift, .npz through ZIPFoundation). Imports LRMFormat.
        .target(name: "LRMNumPy", dependencies: ["LRMFormat", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                exclude: ["README.md"], swiftSettings: swiftSettings),
        // HDF5 reading and writing through libhdf5 (files, groups, datasets, attributes; limits against crafted
        // files; atomic writing), knowing nothing of Keras; its API is package-wide. Imports CHDF5, LRMZlib, LRMFormat.
        .target(name: "LRMHDF5", dependencies: ["CHDF5", "LRMZlib", "LRMFormat"], exclude: ["README.md"], swiftSettings: swiftSettings),
        // Keras HDF5 import (legacy .h5, .weights.h5, .keras) and export. Imports LRMFormat, LRMNumPy, LRMHDF5, CHDF5,
        // ZIPFoundation.
        .target(name: "LRMKeras", dependencies: ["LRMFormat", "LRMHDF5", "CHDF5", "LRMNumPy",
                                                 .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                exclude: ["README.md"], swiftSettings: swiftSettings),
        // The converter: rank policies, spectra, factorization, the rank search, provenance.
        // Imports LRMFormat, LRMLinearAlgebra, LRMRuntime; never data sets or metrics.
        .target(name: "LRMCompress", dependencies: ["LRMFormat", "LRMLinearAlgebra", "LRMRuntime"], exclude: ["README.md"],
                swiftSettings: swiftSettings),
        // Data sets (MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100) and the data folder. Imports LRMZlib only.
        .target(name: "LRMDatasets", dependencies: ["LRMZlib"], exclude: ["README.md"], swiftSettings: swiftSettings),
        // Fidelity metrics and the verifier. Imports LRMFormat, LRMRuntime, LRMLinearAlgebra, LRMDatasets; not the converter.
        .target(name: "LRMVerify", dependencies: ["LRMDatasets", "LRMRuntime", "LRMFormat", "LRMLinearAlgebra"],
                exclude: ["README.md"], swiftSettings: swiftSettings),
        // The conversion pipeline: a model and a request in, a converted model with its decisions,
        // provenance and (for a search) validation and test figures out; the sweep. Above the converter
        // and the verifier; what `lrm convert` and `lrm sweep` run, and what other packages call.
        // Imports LRMFormat, LRMCompress, LRMDatasets, LRMVerify, LRMRuntime (scoring own-data tasks) and LRMNumPy
        // (reading --inputs); never ArgumentParser.
        .target(name: "LRMPipeline", dependencies: ["LRMFormat", "LRMCompress", "LRMDatasets", "LRMVerify", "LRMRuntime", "LRMNumPy"],
                exclude: ["README.md"], swiftSettings: swiftSettings),
        // The command line: parsing options and printing reports; no pipeline logic. Imports everything.
        .executableTarget(name: "lrm", dependencies: [
            "LRMFormat", "LRMRuntime", "LRMLinearAlgebra", "LRMKeras", "LRMNumPy", "LRMCompress", "LRMDatasets", "LRMVerify", "LRMPipeline",
            "CKernelSelectionAtLoad", "CAllocationFailure",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], exclude: ["README.md"], swiftSettings: swiftSettings),

        // Benchmarks: scripts in tools/ run this and print figures (never timed unit tests).
        .executableTarget(name: "lrm-bench", dependencies: ["LRMFormat", "LRMLinearAlgebra", "LRMRuntime", "CKernelSelectionAtLoad"],
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
        .testTarget(name: "LRMPipelineTests", dependencies: ["LRMPipeline", "LRMCompress", "LRMFormat", "LRMNumPy", "LRMVerify", "LRMDatasets", "LRMKeras", "LRMRuntime"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMDatasetsTests", dependencies: ["LRMDatasets"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMVerifyTests", dependencies: ["LRMVerify", "LRMDatasets", "LRMRuntime", "LRMFormat", "LRMLinearAlgebra"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "LRMRuntimeTests", dependencies: ["LRMRuntime", "LRMFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMNumPyTests", dependencies: ["LRMNumPy"], swiftSettings: swiftSettings),
        .testTarget(name: "LRMKerasTests", dependencies: ["LRMKeras", "LRMHDF5", "LRMNumPy", "LRMRuntime", "LRMFormat", "CHDF5"],
                    exclude: ["Fixtures"], swiftSettings: swiftSettings),
        // What the CLI and reliability tests share: running the built lrm as a child process, scratch folders.
        .target(name: "LRMTestSupport", path: "Tests/LRMTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["lrm", "LRMTestSupport", "LRMFormat", "LRMNumPy", "LRMDatasets"], swiftSettings: swiftSettings),
        // Issue 8: fuzz crashers replayed, hostile HDF5, resource limits, NaN weights, kills, reproducibility, CLI robustness.
        .testTarget(name: "ReliabilityTests", dependencies: ["lrm", "LRMTestSupport", "FuzzTargets", "LRMFormat", "LRMKeras", "LRMHDF5", "LRMNumPy", "LRMDatasets", "CHDF5",
                                                     "LRMLinearAlgebra",
                                                     .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                    exclude: ["Crashers", "Crafted"], swiftSettings: swiftSettings),
    ]
)

var swiftSettings: [SwiftSetting] {
    [.enableUpcomingFeature("InternalImportsByDefault")]
}
