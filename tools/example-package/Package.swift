// swift-tools-version: 6.1
// A package outside lrm that depends on it by path and converts a model through the library:
// proof that LRMFormat, LRMRuntime, LRMKeras and LRMPipeline can be depended on (tools/test.sh builds and runs it).
import PackageDescription

let package = Package(
    name: "lrm-example",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "lrm", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "convert-example", dependencies: [
            .product(name: "LRMFormat", package: "lrm"),
            .product(name: "LRMRuntime", package: "lrm"),
            .product(name: "LRMKeras", package: "lrm"),
            .product(name: "LRMPipeline", package: "lrm"),
        ]),
    ]
)
