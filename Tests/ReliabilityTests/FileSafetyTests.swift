import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// "Your files are safe" (docs/RELIABILITY.md): an output never replaces one of the command's inputs by
/// accident, its name says what it holds, and writing it respects the file it replaces and the user's umask.
@Suite("File safety: inputs protected, outputs typed")
struct FileSafetyTests {
    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    private func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    /// Exit 64 with one line naming both files; `path` byte-identical afterwards.
    private func expectRefusal(_ arguments: [String], protecting path: String, naming names: [String]) throws {
        let before = try bytes(path)
        let result = try ChildProcess.run(arguments, timeout: 60)
        #expect(result.status == 64, "\(arguments): \(result)")
        #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        for name in names { #expect(result.stderr.contains(name), "should name \(name): \(result.stderr)") }
        #expect(try bytes(path) == before, "\(path) changed")
    }

    @Test("import X.h5 -o X.h5 leaves X.h5 byte-identical (also with --force-extension), exit 64 naming it")
    func importOverItsInput() throws {
        let scratch = try Scratch()
        let keras = scratch.file("model.h5")
        try FileManager.default.copyItem(atPath: Fixtures.path("mlp.h5"), toPath: keras)
        try expectRefusal(["import", keras, "-o", keras], protecting: keras, naming: ["model.h5"])
        try expectRefusal(["import", keras, "-o", keras, "--force-extension"], protecting: keras, naming: ["model.h5", "the same file"])
    }

    @Test("convert refuses an output that is its input: same path, hard link, symbolic link, --config file")
    func convertOverItsInput() throws {
        let scratch = try Scratch()
        let model = scratch.file("model.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 3), to: model)
        try FileManager.default.linkItem(atPath: model, toPath: scratch.file("hard.lrm"))
        try FileManager.default.createSymbolicLink(atPath: scratch.file("soft.lrm"), withDestinationPath: "model.lrm")
        let rank = ["--policy", "rank:4"]
        try expectRefusal(["convert", model, "-o", model] + rank, protecting: model, naming: ["model.lrm", "--in-place"])
        try expectRefusal(["convert", model, "-o", scratch.file("hard.lrm")] + rank, protecting: model, naming: ["model.lrm", "hard.lrm"])
        try expectRefusal(["convert", scratch.file("soft.lrm"), "-o", model] + rank, protecting: model, naming: ["model.lrm", "soft.lrm"])
        // Through a path that is spelt differently but resolves to the same file.
        try expectRefusal(["convert", model, "-o", scratch.path + "/./model.lrm"] + rank, protecting: model, naming: ["model.lrm"])
        // A weights-only file whose --config is the output.
        let config = scratch.file("architecture.keras")
        try FileManager.default.copyItem(atPath: Fixtures.path("mlp.keras"), toPath: config)
        try expectRefusal(["convert", Fixtures.path("mlp.weights.h5"), "--config", config, "-o", config, "--force-extension"] + rank,
                          protecting: config, naming: ["architecture.keras", "--config"])
    }

    @Test("predict and export refuse an output that is the model or the input array")
    func otherCommandsOverTheirInputs() throws {
        let scratch = try Scratch()
        let model = scratch.file("model.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 3), to: model)
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [1, 784], float32: [Float](repeating: 0.5, count: 784)), to: inputs)
        try expectRefusal(["predict", model, "--input", inputs, "-o", inputs], protecting: inputs, naming: ["x.npy"])
        try expectRefusal(["predict", model, "--input", inputs, "-o", model, "--force-extension"], protecting: model, naming: ["model.lrm"])
        let keras = scratch.file("model.h5")
        try FileManager.default.copyItem(atPath: Fixtures.path("mlp.h5"), toPath: keras)
        try expectRefusal(["export", keras, "--to", "keras", "-o", keras], protecting: keras, naming: ["model.h5"])
    }

    @Test("verify --junit, sweep --csv, report -o and convert -o refuse the model, the reference and your own data files")
    func outputsOverModelsAndOwnData() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        for name in ["churn_mlp.h5", "churn.csv", "housing_mlp.h5", "housing_x.npy", "housing_y.npy"] {
            try FileManager.default.copyItem(atPath: samples + name, toPath: scratch.file(name))
        }
        let (model, data) = (scratch.file("churn_mlp.h5"), scratch.file("churn.csv"))
        let compressed = scratch.file("churn.lrm")
        let made = try ChildProcess.run(["convert", model, "--policy", "rank:4", "-o", compressed], timeout: 60)
        try #require(made.status == 0, "\(made)")
        let own = ["--inputs", data, "--label-column", "churned"]
        try expectRefusal(["verify", compressed, "--reference", model, "--junit", compressed] + own, protecting: compressed, naming: ["churn.lrm", "model"])
        try expectRefusal(["verify", compressed, "--reference", model, "--junit", model] + own, protecting: model, naming: ["churn_mlp.h5", "--reference"])
        try expectRefusal(["verify", compressed, "--reference", model, "--junit", data] + own, protecting: data, naming: ["churn.csv", "--inputs"])
        // A run stopped by an error writes it to the JUnit file, never over an input.
        try expectRefusal(["verify", compressed, "--reference", model, "--junit", data, "--inputs", data, "--label-column", "nosuch"],
                          protecting: data, naming: ["churn.csv"])
        try expectRefusal(["sweep", model, "--taus", "0.9", "--csv", model] + own, protecting: model, naming: ["churn_mlp.h5", "model"])
        try expectRefusal(["sweep", model, "--taus", "0.9", "--csv", data] + own, protecting: data, naming: ["churn.csv", "--inputs"])
        try expectRefusal(["report", compressed, "--reference", model, "-o", data] + own, protecting: data, naming: ["churn.csv", "--inputs"])
        try expectRefusal(["convert", model, "--policy", "whitened:0.9", "-o", data, "--force-extension"] + own,
                          protecting: data, naming: ["churn.csv", "--inputs"])
        let (regressor, x, y) = (scratch.file("housing_mlp.h5"), scratch.file("housing_x.npy"), scratch.file("housing_y.npy"))
        let pairs = ["--inputs", x, "--labels", y]
        try expectRefusal(["convert", regressor, "--policy", "whitened:0.9", "-o", y, "--force-extension"] + pairs, protecting: y, naming: ["housing_y.npy", "--labels"])
        try expectRefusal(["sweep", regressor, "--taus", "0.9", "--csv", x] + pairs, protecting: x, naming: ["housing_x.npy", "--inputs"])
        // (A test split of its own: --test-inputs or --test-labels naming the --inputs or --labels file is refused for that before this check.)
        let (testX, testY) = (scratch.file("test_x.npy"), scratch.file("test_y.npy"))
        try FileManager.default.copyItem(atPath: x, toPath: testX)
        try FileManager.default.copyItem(atPath: y, toPath: testY)
        try expectRefusal(["verify", regressor, "--junit", y, "--test-inputs", testX, "--test-labels", testY, "--inputs", x, "--labels", y],
                          protecting: y, naming: ["housing_y.npy", "--labels"])
    }

    @Test("an output that is a FIFO, a device or a link to one is refused (exit 73) and left as it was, never replaced by a file")
    func specialFileOutputs() throws {
        let scratch = try Scratch()
        let model = scratch.file("model.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 3), to: model)
        try #require(mkfifo(scratch.file("fifo.lrm"), 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("link.lrm"), withDestinationPath: "fifo.lrm")
        var nodes = [(scratch.file("fifo.lrm"), S_IFIFO), (scratch.file("link.lrm"), S_IFLNK)]
        // A copy of /dev/null (character device 1, 3), made where only root can: `-o /dev/null` replaced it.
        if runningAsRoot, mknod(scratch.file("null.lrm"), S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0 {
            nodes.append((scratch.file("null.lrm"), S_IFCHR))
        } else {
            print("specialFileOutputs: no device node made (not root); the FIFO and the link are checked")
        }
        for (node, type) in nodes {
            // report's output is named .html (a report named like a model is refused by name): a link to the node.
            try FileManager.default.createSymbolicLink(atPath: node + ".html", withDestinationPath: node)
            for arguments in [["example", "-o", node], ["report", model, "-o", node + ".html"], ["convert", model, "--policy", "rank:4", "-o", node],
                              ["extract", model, "hidden/us", "-o", node, "--force-extension"]] {
                let result = try ChildProcess.run(arguments, timeout: 60)
                #expect(result.status == 73, "\(arguments): \(result)")
                #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1
                        && result.stderr.contains("not a regular file"), "\(arguments): \(result.stderr)")
                var info = stat()
                #expect(lstat(node, &info) == 0 && info.st_mode & S_IFMT == type, "\(node) was replaced: \(arguments)")
            }
        }
        #expect(scratch.contents().filter { $0.contains(".tmp-") }.isEmpty, "\(scratch.contents())")
    }

    @Test("convert --in-place replaces a .lrm input atomically and keeps its mode; refused for a Keras input and with -o")
    func inPlace() throws {
        let scratch = try Scratch()
        let model = scratch.file("model.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 3), to: model)
        chmod(model, 0o600)
        let before = try bytes(model)
        let result = try ChildProcess.run(["convert", model, "--in-place", "--policy", "rank:2"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        #expect(try bytes(model) != before)
        let converted = try ContainerFile(path: model).loadModel()
        let ranks = converted.layers.compactMap { layer -> Int? in
            if case let .factorizedDense(_, _, _, _, f) = layer.operation { return f.rank }
            return nil
        }
        #expect(ranks.contains(2), "\(ranks)")
        #expect(try mode(model) == 0o600)
        #expect(scratch.contents() == ["model.lrm"], "temporary files left: \(scratch.contents())")

        let keras = scratch.file("model.h5")
        try FileManager.default.copyItem(atPath: Fixtures.path("mlp.h5"), toPath: keras)
        try expectRefusal(["convert", keras, "--in-place"], protecting: keras, naming: ["model.h5", "--in-place"])
        try expectRefusal(["convert", model, "--in-place", "-o", scratch.file("other.lrm")], protecting: model, naming: ["--in-place"])
    }

    @Test("an output name that does not match what is written is refused naming the extension; --force-extension writes it")
    func extensions() throws {
        let scratch = try Scratch()
        let model = scratch.file("model.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 3), to: model)
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [1, 784], float32: [Float](repeating: 0.5, count: 784)), to: inputs)
        let cases: [([String], String)] = [
            (["import", Fixtures.path("mlp.h5"), "-o", scratch.file("copy.h5")], ".lrm"),
            (["convert", model, "--policy", "rank:4", "-o", scratch.file("small.keras")], ".lrm"),
            (["example", "-o", scratch.file("example.npy")], ".lrm"),
            (["export", model, "--to", "keras", "-o", scratch.file("model.onnx")], ".keras"),
            (["export", model, "--to", "keras", "-o", scratch.file("exported.lrm")], ".h5"),
            (["predict", model, "--input", inputs, "-o", scratch.file("y.csv")], ".npy"),
        ]
        for (arguments, expected) in cases {
            let before = scratch.contents()
            let refused = try ChildProcess.run(arguments, timeout: 60)
            #expect(refused.status == 64 && refused.stderr.contains(expected) && refused.stderr.contains("--force-extension"),
                    "\(arguments): \(refused)")
            #expect(scratch.contents() == before)
            let forced = try ChildProcess.run(arguments + ["--force-extension"], timeout: 60)
            #expect(forced.status == 0, "\(arguments) --force-extension: \(forced)")
            #expect(scratch.contents().count == before.count + 1, "\(arguments) --force-extension wrote nothing")
        }
    }

    @Test("report -o, verify --junit and sweep --csv named like a model or data file lrm reads are refused (exit 64, nothing written); other names are not")
    func reportsNamedLikeInputs() throws {
        let scratch = try Scratch()
        let model = scratch.file("model.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 3), to: model)
        try NPY.write(try NumPyArray(shape: [20, 784], float32: (0..<(20 * 784)).map { Float($0 % 256) }), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [20], float32: (0..<20).map { Float($0 % 10) }), to: scratch.file("y.npy"))
        let own = ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
        // The sweep truncates original kernels: a dense model of the same 784 → 10 shape (the example's layer is factorized).
        let dense = scratch.file("dense.lrm")
        #expect(try ChildProcess.run(["import", TestPackage.root + "/samples/mnist_mlp.h5", "-o", dense]).status == 0)
        let models = ["lrm", "h5", "hdf5", "keras", "weights.h5", "H5"], data = ["npy", "npz"]
        var refused: [([String], String)] = []
        for ext in models + data + ["csv"] {
            refused.append((["report", model, "-o", scratch.file("report.\(ext)")], ext))
            refused.append((["verify", model, "--junit", scratch.file("verify.\(ext)")] + own, ext))
        }
        for ext in models + data { refused.append((["sweep", dense, "--taus", "0.9", "--csv", scratch.file("sweep.\(ext)")] + own, ext)) }
        // A run stopped by an error writes it to the JUnit file, but not to one named like a model.
        refused.append((["verify", scratch.file("missing.lrm"), "--junit", scratch.file("verify.h5")] + own, "h5"))
        let before = scratch.contents()
        for (arguments, ext) in refused {
            let result = try ChildProcess.run(arguments, timeout: 60)
            let output = try #require(arguments.first { $0.hasPrefix(scratch.path + "/") && $0.hasSuffix("." + ext) && $0 != model && $0 != dense })
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stderr.hasPrefix("lrm: error: \(output): the ") && result.stderr.split(separator: "\n").count == 1
                    && result.stderr.contains("." + ext.split(separator: ".").last!.lowercased() + " is the extension of a"), "\(arguments): \(result.stderr)")
            #expect(scratch.contents() == before, "\(arguments) wrote \(Set(scratch.contents()).subtracting(before))")
        }
        // Any other name: the report is written.
        for arguments in [["report", model, "-o", scratch.file("report.html")], ["report", model, "-o", scratch.file("report.txt")],
                          ["report", model, "-o", scratch.file("report")], ["report", model, "-o", scratch.file("model.lrm.html")],
                          ["verify", model, "--junit", scratch.file("verify.xml")] + own, ["verify", model, "--junit", scratch.file("verify.junit")] + own,
                          ["sweep", dense, "--taus", "0.9", "--csv", scratch.file("sweep.csv")] + own,
                          ["sweep", dense, "--taus", "0.9", "--csv", scratch.file("sweep.tsv")] + own] {
            let result = try ChildProcess.run(arguments, timeout: 120)
            #expect(result.status == 0, "\(arguments): \(result)")
            let output = try #require(arguments.first { $0.hasPrefix(scratch.path + "/") && $0 != model && $0 != dense && !$0.hasSuffix(".npy") })
            #expect(FileManager.default.fileExists(atPath: output), "\(arguments) wrote nothing")
        }
    }

    @Test("a new output follows the umask; a replaced one keeps its mode (0600 stays 0600)")
    func permissions() throws {
        let scratch = try Scratch()
        let output = scratch.file("private.lrm")
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "umask 077 && exec \"$0\" example -o \"$1\" >/dev/null", TestPackage.lrm, output]
        try shell.run()
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0)
        let created = try mode(output)
        #expect(created == 0o600, "umask 077 should give 0600, got \(String(created, radix: 8))")

        let shared = scratch.file("shared.npy")
        try NPY.write(try NumPyArray(shape: [1], float32: [1]), to: shared)
        chmod(shared, 0o640)
        let model = scratch.file("model.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        chmod(model, 0o600)
        #expect(try ChildProcess.run(["example", "-o", model, "--seed", "9"]).status == 0)
        #expect(try mode(model) == 0o600)
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [1, 784], float32: [Float](repeating: 0.5, count: 784)), to: inputs)
        #expect(try ChildProcess.run(["predict", model, "--input", inputs, "-o", shared]).status == 0)
        #expect(try mode(shared) == 0o640)
    }

    @Test("output names of 244 to 255 bytes are written (the temporary name stays short)")
    func longNames() throws {
        let scratch = try Scratch()
        for length in [244, 250, 255] {
            let name = String(repeating: "n", count: length - 4) + ".lrm"
            let result = try ChildProcess.run(["example", "-o", scratch.file(name)], timeout: 60)
            #expect(result.status == 0, "\(length) bytes: \(result)")
            #expect(FileManager.default.fileExists(atPath: scratch.file(name)))
        }
        let npyName = String(repeating: "p", count: 251) + ".npy"
        let model = scratch.file(String(repeating: "n", count: 251) + ".lrm")
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [1, 784], float32: [Float](repeating: 0.5, count: 784)), to: inputs)
        let predicted = try ChildProcess.run(["predict", model, "--input", inputs, "-o", scratch.file(npyName)], timeout: 60)
        #expect(predicted.status == 0, "\(predicted)")
        let h5Name = String(repeating: "k", count: 252) + ".h5"
        let exported = try ChildProcess.run(["export", model, "--to", "keras", "-o", scratch.file(h5Name)], timeout: 60)
        #expect(exported.status == 0, "\(exported)")
    }

    @Test("an -o symbolic link to a directory is refused (exit 73) and left as it was; a link to a file is written through")
    func symbolicLinkOutputs() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.file("folder"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("link.lrm"), withDestinationPath: "folder")
        let refused = try ChildProcess.run(["example", "-o", scratch.file("link.lrm")], timeout: 60)
        #expect(refused.status == 73 && refused.stderr.contains("link.lrm") && refused.stderr.contains("directory"), "\(refused)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.file("link.lrm")) == "folder")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("folder")).isEmpty)
        #expect(scratch.contents() == ["folder", "link.lrm"])

        try FileManager.default.createSymbolicLink(atPath: scratch.file("to-file.lrm"), withDestinationPath: "real.lrm")
        try Data("old".utf8).write(to: URL(fileURLWithPath: scratch.file("real.lrm")))
        #expect(try ChildProcess.run(["example", "-o", scratch.file("to-file.lrm")]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.file("to-file.lrm")) == "real.lrm")
        #expect(try ContainerFile(path: scratch.file("real.lrm")).loadModel().layers.count > 0)
    }

    @Test("a FIFO given as an input is refused at once (exit 66), not waited on")
    func fifoInputs() throws {
        let scratch = try Scratch()
        let fifo = scratch.file("pipe.lrm")
        #expect(mkfifo(fifo, 0o600) == 0)
        let model = scratch.file("model.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 3), to: model)
        for arguments in [["inspect", fifo], ["convert", fifo, "-o", scratch.file("o.lrm")], ["export", fifo, "--to", "keras", "-o", scratch.file("o.h5")],
                          ["predict", model, "--input", fifo, "-o", scratch.file("o.npy")], ["import", fifo, "-o", scratch.file("o.lrm")],
                          ["verify", model, "--reference", fifo, "--dataset", "mnist"], ["report", fifo, "-o", scratch.file("o.html")]] {
            let result = try ChildProcess.run(arguments, timeout: 20)
            #expect(result.status == 66 && result.stderr.contains("pipe.lrm") && result.stderr.contains("FIFO"), "\(arguments): \(result)")
        }
    }
}
