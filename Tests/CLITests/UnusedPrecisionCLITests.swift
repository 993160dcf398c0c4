import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// `--precision` sets LAPACK's `gesdd`, the exact SVD: where no layer gets it, it would change nothing.
@Suite("--precision where no layer gets the exact SVD by gesdd")
struct UnusedPrecisionCLITests {
    let samples = TestPackage.root + "/samples/"

    /// The warnings (`lrm: warning: …` lines) on `stderr`.
    func warnings(_ stderr: String) -> [Substring] { stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: warning: ") } }

    @Test("refused, at any value, with --svd gram (a policy conversion or a search), which never runs gesdd")
    func refusedWithGram() throws {
        let scratch = try Scratch()
        let model = scratch.file("example.lrm"), output = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for arguments in [["--svd", "gram"], ["--svd", "gram", "--policy", "erank"],
                          ["--svd", "gram", "--dataset", "mnist", "--data", empty, "--target-ratio", "0.5"]] {
            for precision in ["single", "double"] {
                let result = try ChildProcess.run(["convert", model, "-o", output, "--precision", precision] + arguments)
                expectOneLineError(result, status: 64, naming: "--precision sets the LAPACK precision of the exact SVD", "\(precision) \(arguments)")
                #expect(result.stderr.contains("--svd gram never runs it"), "\(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
            }
        }
    }

    @Test("a policy conversion none of whose layers got gesdd says it was not used; where one did, no word")
    func policyWarnings() throws {
        let scratch = try Scratch()
        let model = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        // rank:2 lets --svd randomized sketch the example's one dense layer (64×10).
        let sketched = try ChildProcess.run(["convert", model, "--svd", "randomized", "--policy", "rank:2", "--precision", "double", "--dry-run"])
        #expect(sketched.status == 0, "\(sketched.stderr)")
        #expect(warnings(sketched.stderr).count == 1 && warnings(sketched.stderr)[0].contains("--precision double is not used")
                && warnings(sketched.stderr)[0].contains("--svd randomized sketched every layer"), "\(sketched.stderr)")
        // erank needs every singular value: gesdd, in double, whatever --svd randomized asked (that is the one warning).
        let erank = try ChildProcess.run(["convert", model, "--svd", "randomized", "--policy", "erank", "--precision", "double", "--dry-run", "--json"])
        #expect(erank.status == 0 && erank.stdout.contains("gesdd-f64"), "\(erank.stderr)")
        #expect(warnings(erank.stderr).count == 1 && !erank.stderr.contains("--precision"), "\(erank.stderr)")
        for svd in ["auto", "exact"] {
            let used = try ChildProcess.run(["convert", model, "--svd", svd, "--precision", "double", "--dry-run", "--json"])
            #expect(used.status == 0 && used.stdout.contains("gesdd-f64") && warnings(used.stderr).isEmpty, "\(svd): \(used.stderr)")
        }
    }

    /// A model for MNIST (784 inputs, 10 classes) whose second hidden layer is 1024×1024: under --svd auto the one
    /// kernel of a sample-sized model that goes through the Gram matrix, not gesdd (its first is 784×1024, gesdd's).
    func wideModel(_ scratch: Scratch) throws -> String {
        var rng = SeededGenerator(seed: 3)
        func dense(_ name: String, _ inputs: Int, _ outputs: Int, _ activation: Activation) -> Layer<Tensor> {
            Layer(name: name, operation: .dense(kernel: Tensor(shape: [inputs, outputs], floats: (0..<(inputs * outputs)).map { _ in rng.nextSymmetricFloat() * 0.05 }),
                                                bias: Tensor(shape: [outputs], floats: Array(repeating: 0, count: outputs)), activation: activation))
        }
        let model = Model(name: "wide", input: InputSpec(shape: [28, 28], layout: .features),
                          layers: [Layer(name: "flatten", operation: .flatten), dense("dense_0", 784, 1024, .relu), dense("dense_1", 1024, 1024, .relu),
                                   dense("output", 1024, 10, .softmax)])
        let path = scratch.file("wide.lrm")
        try ContainerWriter.write(model, to: path)
        return path
    }

    @Test("a search says so before it starts when no layer it decomposes is small enough for gesdd under --svd auto; else no word")
    func searchWarnings() throws {
        let scratch = try Scratch()
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let mnist = ["--dataset", "mnist", "--data", empty, "--precision", "double", "-o", scratch.file("out.lrm")]
        let wide = try wideModel(scratch)
        // (model, arguments, warned): the output layer is never searched; the convolutions only by an accuracy or metric budget.
        // (A search with every layer it would search excluded is refused: NothingToFactorizeCLITests.)
        let cases: [(String, [String], Bool)] = [
            (samples + "mnist_mlp.h5", ["--target-ratio", "0.5"], false),
            (samples + "mnist_mlp.h5", ["--target-size", "4MB", "--exclude", "dense_*"], true),
            (samples + "mnist_cnn.h5", ["--target-accuracy-drop", "1", "--exclude", "dense_1"], false),
            (wide, ["--target-ratio", "0.5"], false),
            (wide, ["--target-ratio", "0.5", "--exclude", "dense_0"], true),
            (wide, ["--target-accuracy-drop", "1", "--exclude", "dense_0"], true),
            (wide, ["--target-ratio", "0.5", "--exclude", "dense_0", "--svd", "exact"], false),
        ]
        for (model, arguments, warned) in cases {
            let result = try ChildProcess.run(["convert", model] + (model == wide ? [] : ["--input-scale", "1/255"]) + mnist + arguments)
            // Past the command line to the (missing) data.
            #expect(result.status == 66, "\(model) \(arguments): \(result.stderr)")
            let said = warnings(result.stderr).contains { $0.contains("--precision double is not used: no layer the search decomposes") }
            #expect(said == warned, "\(model) \(arguments): \(result.stderr)")
        }
    }
}
