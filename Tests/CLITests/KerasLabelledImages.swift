import LRMNumPy
import LRMTestSupport
import Testing

/// Writes samples/`sample`.pred.npz's 64 MNIST test images (raw 0–255; [64, 28, 28] for the MLP, [64, 28, 28, 1] for the
/// CNN) to `x.npy` in `scratch`, and the classes Keras predicts for them, as float32 labels, to `y.npy`: own data a softmax
/// classifier can be fine-tuned on. Returns the options that pass them, `--inputs x.npy --labels y.npy`, and the images.
func writeKerasLabelledImages(in scratch: Scratch, sample: String = "mnist_mlp") throws -> (options: [String], images: NumPyArray) {
    let pred = try NPZ.read(path: TestPackage.root + "/samples/\(sample).pred.npz")
    let x = try #require(pred["x"]), y = try #require(pred["y"])
    let outputs = y.floatValues(), classes = y.shape[1]
    let labels = (0..<y.shape[0]).map { row in Float((0..<classes).max { outputs[row * classes + $0] < outputs[row * classes + $1] } ?? 0) }
    try NPY.write(x, to: scratch.file("x.npy"))
    try NPY.write(try NumPyArray(shape: [labels.count], float32: labels), to: scratch.file("y.npy"))
    return (["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")], x)
}
