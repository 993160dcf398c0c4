import Foundation
import LRMFormat
import Testing
import LRMTestSupport

/// The fixtures of the Keras tests.
enum Fixtures {
    static let directory = TestPackage.root + "/Tests/LRMKerasTests/Fixtures"
    static func path(_ name: String) -> String { directory + "/" + name }
}

/// Whether the tests run as root (where chmod 000 does not stop reading).
let runningAsRoot = geteuid() == 0

/// A dense model for the tests: `layers` dense layers of the given widths (`widths[0]` inputs),
/// seeded random weights, ReLU between and softmax at the end.
func denseModel(widths: [Int], seed: UInt64 = 7, name: String = "dense-model") -> Model {
    var rng = SeededGenerator(seed: seed)
    var layers: [Layer<Tensor>] = []
    for index in 0..<(widths.count - 1) {
        let (rows, columns) = (widths[index], widths[index + 1])
        let scale = 1 / Float(rows).squareRoot()
        let kernel = (0..<(rows * columns)).map { _ in rng.nextSymmetricFloat() * scale }
        let bias = (0..<columns).map { _ in 0.1 * rng.nextSymmetricFloat() }
        layers.append(Layer(name: "dense_\(index)", operation: .dense(
            kernel: Tensor(shape: [rows, columns], floats: kernel), bias: Tensor(shape: [columns], floats: bias),
            activation: index == widths.count - 2 ? .softmax : .relu)))
    }
    return Model(name: name, input: InputSpec(shape: [widths[0]]), layers: layers)
}

/// Runs `action` after `seconds` on a thread of its own. Not on a dispatch queue: under load, tests running
/// beside each other can hold every thread of the global pool, and a signal meant for the second second then
/// arrived after the child's timeout (the SIGINT/SIGTERM tests failed that way at load 10).
func afterDelay(_ seconds: Double, _ action: @escaping @Sendable () -> Void) {
    Thread.detachNewThread {
        Thread.sleep(forTimeInterval: seconds)
        action()
    }
}
