import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

@Suite("Activations with parameters (format 1.5) through the CLI: data-aware convert, fine-tuning, verify; bad files refused")
struct ActivationCLITests {
    static let mlp = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/activations/k3_act_mlp.keras"

    /// 60 seeded samples of the MLP's 7 inputs (σ = 2) and labels of its 4 classes, as own data.
    static func data(_ scratch: Scratch) throws -> [String] {
        var state: UInt64 = 777
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        try NPY.write(try NumPyArray(shape: [60, 7], float32: (0..<420).map { _ in (next() - 0.5) * 6 }), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [60], float32: (0..<60).map { _ in Float(Int(next() * 4) % 4) }), to: scratch.file("y.npy"))
        return ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
    }

    @Test("a whitened conversion (refitted) and a fine-tuned one of a model with LeakyReLU, ReLU, ELU, PReLU and the 1.5 codes are written as 1.5 and verify against the Keras file")
    func convertVerify() throws {
        let scratch = try Scratch()
        let data = try Self.data(scratch)
        for (name, options) in [("w.lrm", ["--policy", "whitened:0.9"]), ("f.lrm", ["--policy", "rank:2", "--finetune", "1"])] {
            let convert = try ChildProcess.run(["convert", Self.mlp, "-o", scratch.file(name)] + options + data)
            #expect(convert.status == 0, "\(convert.stderr)")
            #expect(try ContainerFile(path: scratch.file(name)).minorVersion == 5)
            let verify = try ChildProcess.run(["verify", scratch.file(name), "--reference", Self.mlp] + data)
            #expect(verify.status == 0, "\(name): \(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("prelu  parametric_activation"), "\(verify.stdout)")
        }
    }

    @Test("a file breaking a 1.5 rule (a NaN slope, alphas that do not broadcast, an unknown function) is refused in one line, exit 65, nothing written",
          arguments: ["relu_nan_slope", "prelu_alphas_shape", "unknown_parametric_function"])
    func badFiles(_ vector: String) throws {
        let scratch = try Scratch()
        let file = TestPackage.root + "/spec/vectors/invalid/\(vector).lrm"
        for command in [["inspect", file], ["convert", file, "--policy", "rank:1", "-o", scratch.file("out.lrm")]] {
            let run = try ChildProcess.run(command)
            #expect(run.status == 65, "\(command[0]) \(vector): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(file), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.file("out.lrm")))
        }
    }

    @Test("diff tells two files whose parametric activations differ only in a parameter (a LeakyReLU's slope), which it called the same")
    func diffParameters() throws {
        let scratch = try Scratch()
        func write(_ slope: Double, _ name: String) throws -> String {
            let model = Model(name: "m", input: InputSpec(shape: [2]), layers: [
                Layer(name: "fc", operation: .dense(kernel: Tensor(shape: [2, 2], floats: [1, 2, 3, 4]), bias: nil, activation: .linear)),
                Layer(name: "leaky", operation: .parametricActivation(.relu(negativeSlope: slope, threshold: 0, maxValue: .infinity), alphas: nil)),
            ])
            try ContainerWriter.write(model, to: scratch.file(name))
            return scratch.file(name)
        }
        let run = try ChildProcess.run(["diff", try write(0.1, "a.lrm"), try write(0.2, "b.lrm")])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("leaky: parametric_activation (relu(slope 0.1)), 0 parameters → parametric_activation (relu(slope 0.2))"),
                "\(run.stdout)")
        let same = try ChildProcess.run(["diff", scratch.file("a.lrm"), scratch.file("a.lrm")])
        #expect(same.status == 0, "\(same.stdout)")
    }
}
