import Foundation
import LRMTestSupport
import LRMFormat
import LRMNumPy
import Testing

/// Valid but unusual models (every layer kind and dtype, image inputs, reshapes, no bias, tiny widths)
/// through every command that reads a `.lrm` file: each succeeds or fails cleanly, never crashes.
/// The container fuzzer covers the reader; this covers what the commands do with what it accepts.
@Suite("Unusual valid models through every command")
struct UnusualModelTests {
    /// A seeded random model that passes the container's validation.
    static func model(seed: UInt64) -> Model {
        var rng = SeededGenerator(seed: seed)
        func int(_ range: ClosedRange<Int>) -> Int { Int(rng.next() % UInt64(range.count)) + range.lowerBound }
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in rng.nextSymmetricFloat() } }
        let dtypes = DType.floatingPoint
        func tensor(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, floats: values(shape.reduce(1, *)), dtype: dtypes[int(0...(dtypes.count - 1))])
        }
        let image = int(0...1) == 0
        let layout: InputLayout = image ? [.hwc, .chw][int(0...1)] : .features
        let inputShape = image ? [int(1...4), int(1...4), int(1...3)] : [int(1...12)]
        var layers: [Layer<Tensor>] = []
        var shape = inputShape
        for index in 0..<int(0...6) {
            let features = shape.last!
            let name = "layer \(index)"
            switch int(0...6) {
            case 0, 1:
                let out = int(1...9)
                layers.append(Layer(name: name, operation: .dense(kernel: tensor([features, out]), bias: int(0...1) == 0 ? nil : tensor([out]),
                                                                  activation: Activation.allCases[int(0...(Activation.allCases.count - 1))])))
                shape = shape.dropLast() + [out]
            case 2 where min(features, 9) >= 2:
                let out = int(2...9), rank = int(1...min(features, out))
                let sigma = (0..<min(features, out)).map { Double(min(features, out) - $0) }
                let f = Factorization(inFeatures: features, outFeatures: out, rank: rank, retainedEnergy: 0.5, relativeError: 0.5,
                                      policy: "rank", policyParameter: Double(rank), method: "synthetic", singularValues: sigma)
                layers.append(Layer(name: name, operation: .factorizedDense(us: tensor([features, rank]), vt: tensor([rank, out]),
                                                                            bias: tensor([out]), activation: .relu, factorization: f)))
                shape = shape.dropLast() + [out]
            case 3:
                layers.append(Layer(name: name, operation: .flatten))
                shape = [shape.reduce(1, *)]
            case 4:
                let count = shape.reduce(1, *)
                let target = count % 2 == 0 ? [2, count / 2] : [count, 1]
                layers.append(Layer(name: name, operation: .reshape(target)))
                shape = target
            case 5:
                layers.append(Layer(name: name, operation: .scaleShift(scale: tensor([features]), shift: int(0...1) == 0 ? nil : tensor([features]))))
            default:
                layers.append(Layer(name: name, operation: .activation(Activation.allCases[int(0...(Activation.allCases.count - 1))])))
            }
        }
        let outputs = shape.reduce(1, *)
        let scale: [Double] = [[], [1.0 / 255], image ? Array(repeating: 0.5, count: layout == .hwc ? inputShape[2] : inputShape[0]) : [2]][int(0...2)]
        return Model(name: "unusual \(seed)", input: InputSpec(shape: inputShape, layout: layout, scale: scale),
                     classNames: int(0...1) == 0 ? [] : (0..<outputs).map { "c\($0)" }, layers: layers)
    }

    @Test("inspect, report, export, predict, convert and verify's model checks succeed or fail cleanly", arguments: 0..<16)
    func commands(_ seed: Int) throws {
        let scratch = try Scratch()
        let model = Self.model(seed: UInt64(seed) + 100)
        let path = scratch.file("m.lrm")
        try ContainerWriter.write(model, to: path)
        let samples = model.input.shape.reduce(1, *)
        try NPY.write(try NumPyArray(shape: [2] + model.input.shape, float32: (0..<(2 * samples)).map { Float($0 % 7) }), to: scratch.file("x.npy"))
        let runs: [[String]] = [
            ["inspect", path], ["inspect", "--json", "--verify", path], ["report", path, "-o", scratch.file("r.html")],
            ["export", path, "--to", "keras", "-o", scratch.file("e.h5")],
            ["predict", path, "--input", scratch.file("x.npy"), "-o", scratch.file("y.npy")],
            ["convert", path, "-o", scratch.file("c.lrm"), "--policy", "rank:1"],
            ["convert", path, "--dry-run", "--json", "--policy", "energy:0.5", "--factor-dtype", "f16"],
        ]
        for arguments in runs {
            let result = try ChildProcess.run(arguments, timeout: 60)
            // --factor-dtype on a model with nothing to factorize is a usage error (it would change nothing).
            let nothingToFactorize = arguments.contains("--factor-dtype") && result.status == 64
                && result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1 && result.stderr.contains("nothing is factorized")
            #expect(result.status == 0 || result.isCleanError || nothingToFactorize, "seed \(seed), lrm \(arguments.first!): \(result)")
        }
        // What export wrote, lrm reads back (in its child process) with the same outputs.
        if FileManager.default.fileExists(atPath: scratch.file("e.h5")) {
            let back = try ChildProcess.run(["predict", scratch.file("e.h5"), "--input", scratch.file("x.npy"), "-o", scratch.file("z.npy"),
                                    "--no-preprocess"], timeout: 60)
            #expect(back.status == 0 || back.isCleanError, "seed \(seed), predict on the export: \(back)")
        }
    }
}
