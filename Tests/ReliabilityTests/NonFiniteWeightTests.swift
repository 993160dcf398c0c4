import Foundation
import LRMTestSupport
import LRMFormat
import Testing

/// NaN and infinite weights: `lrm import` and `lrm convert` refuse them naming the layer (exit 65);
/// `lrm import --allow-non-finite` stores them.
@Suite("Bad numbers: non-finite weights are reported with the layer named")
struct NonFiniteWeightTests {
    /// A 6 → 5 → 3 model with a NaN in `dense_0`'s kernel at [1, 2] and +∞ in `dense_1`'s bias at [0],
    /// as a .lrm and (through `lrm export --to keras`) as a legacy Keras .h5.
    static func files(in scratch: Scratch) throws -> (lrm: String, keras: String) {
        var model = denseModel(widths: [6, 5, 3])
        guard case let .dense(kernel, bias, activation) = model.layers[0].operation,
              case let .dense(kernel1, bias1, activation1) = model.layers[1].operation else { throw CancellationError() }
        var values = kernel.floats()
        values[1 * 5 + 2] = .nan
        model.layers[0].operation = .dense(kernel: Tensor(shape: kernel.shape, floats: values), bias: bias, activation: activation)
        var biasValues = try #require(bias1).floats()
        biasValues[0] = .infinity
        model.layers[1].operation = .dense(kernel: kernel1, bias: Tensor(shape: [3], floats: biasValues), activation: activation1)
        let lrm = scratch.file("nan.lrm")
        try ContainerWriter.write(model, to: lrm)
        let keras = scratch.file("nan.h5")
        let export = try ChildProcess.run(["export", lrm, "--to", "keras", "-o", keras])
        #expect(export.status == 0, "\(export)")
        return (lrm, keras)
    }

    @Test("import refuses NaN weights naming the layer, the tensor and the position; exit 65, nothing written")
    func importRefuses() throws {
        let scratch = try Scratch()
        let (_, keras) = try Self.files(in: scratch)
        let result = try ChildProcess.run(["import", keras, "-o", scratch.file("out.lrm")])
        #expect(result.isCleanError && result.status == 65, "\(result)")
        for part in ["nan.h5", "layer 'dense_0'", "kernel", "[1, 2]", "nan", "and 1 more tensor", "--allow-non-finite"] {
            #expect(result.stderr.contains(part), "\(part): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("out.lrm")))
        #expect(!scratch.contents().contains { $0.contains(".tmp-") })
    }

    @Test("import --allow-non-finite stores them as they are")
    func importAllows() throws {
        let scratch = try Scratch()
        let (_, keras) = try Self.files(in: scratch)
        let result = try ChildProcess.run(["import", keras, "-o", scratch.file("out.lrm"), "--allow-non-finite"])
        #expect(result.status == 0, "\(result)")
        let stored = try ContainerFile(path: scratch.file("out.lrm")).loadModel().nonFiniteWeights
        #expect(stored.map(\.layer) == ["dense_0", "dense_1"])
        #expect(stored.first?.firstIndex == [1, 2] && stored.first?.firstValue.isNaN == true)
        #expect(stored.last?.role == "bias" && stored.last?.firstValue == .infinity)
    }

    @Test("convert refuses them from a Keras file or a .lrm, saying it cannot factorize them", arguments: ["keras", "lrm"])
    func convertRefuses(_ source: String) throws {
        let scratch = try Scratch()
        let files = try Self.files(in: scratch)
        let input = source == "keras" ? files.keras : files.lrm
        let result = try ChildProcess.run(["convert", input, "-o", scratch.file("out.lrm"), "--policy", "rank:2"])
        #expect(result.isCleanError && result.status == 65, "\(result)")
        for part in [(input as NSString).lastPathComponent, "layer 'dense_0'", "kernel", "cannot factorize"] {
            #expect(result.stderr.contains(part), "\(part): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("out.lrm")))
    }

    @Test("the report names every kind: NaN, +∞ and −∞, in any storage precision")
    func library() throws {
        for dtype in DType.floatingPoint {
            let values: [Float] = [1, -.infinity, 2, .nan, .infinity, 3]
            let model = Model(name: "m", input: InputSpec(shape: [2]), layers: [
                Layer(name: "d", operation: .dense(kernel: Tensor(shape: [2, 3], floats: values, dtype: dtype), bias: nil, activation: .linear)),
            ])
            let found = model.nonFiniteWeights
            #expect(found.count == 1 && found[0].count == 3 && found[0].total == 6 && found[0].firstIndex == [0, 1], "\(dtype)")
            #expect(found[0].firstValue == -.infinity, "\(dtype)")
        }
        #expect(denseModel(widths: [4, 3]).nonFiniteWeights.isEmpty)
    }
}
