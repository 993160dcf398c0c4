import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// Preprocessing is never invisible: verify says what it applied, warns about raw pixels fed to a model
/// that scales nothing and about a reference at chance level; an option replacing a model's own
/// Rescaling says so.
@Suite("Preprocessing you can see")
struct PreprocessingVisibilityCLITests {
    let mnist = TestPackage.root + "/samples/mnist_mlp.h5"

    @Test("real-data: verify shows the preprocessing; forgetting --input-scale on raw pixels is a warning, in text and JSON",
          .enabled(if: datasets != nil))
    func unscaledPixels() throws {
        let data = ["--dataset", "mnist", "--data", datasets ?? "", "--limit", "500"]
        let forgot = try ChildProcess.run(["verify", mnist] + data)
        #expect(forgot.status == 0, "\(forgot.stderr)")
        #expect(forgot.stdout.contains("preprocessing: inputs × 1 + 0, layout features (from the model file)"), "\(forgot.stdout)")
        #expect(forgot.stdout.contains("warning: the images are fed as raw pixels 0–255 and the model scales nothing"))
        let json = try jsonObject(try ChildProcess.run(["verify", mnist] + data + ["--json"]).stdout)
        #expect((json["warnings"] as? [String])?.count == 1)
        let given = try ChildProcess.run(["verify", mnist, "--input-scale", "1/255"] + data + ["--json"])
        let object = try jsonObject(given.stdout)
        #expect((object["warnings"] as? [String])?.isEmpty == true, "\(given.stdout)")
        let preprocessing = try #require(object["preprocessing"] as? [String: Any])
        #expect(preprocessing["source"] as? String == "--input-scale")
        #expect(abs(((preprocessing["scale"] as? [Double])?.first ?? 0) - 1.0 / 255) < 1e-9)
    }

    @Test("real-data: convert and sweep on a bundled data set warn, as verify does, when a model that scales nothing meets raw pixels; --input-scale silences it",
          .enabled(if: datasets != nil))
    func unscaledPixelsConvertAndSweep() throws {
        let scratch = try Scratch()
        let data = ["--dataset", "mnist", "--data", datasets ?? ""]
        for command in [["convert", mnist, "--policy", "rank:64", "-o", scratch.file("c.lrm")], ["sweep", mnist, "--taus", "0.8"]] {
            let forgot = try ChildProcess.run(command + data)
            #expect(forgot.status == 0, "\(command): \(forgot.stderr)")
            #expect(forgot.stderr.contains("lrm: warning: the images are fed as raw pixels 0–255 and the model scales nothing")
                    && forgot.stderr.contains("--input-scale 1/255"), "\(command): \(forgot.stderr)")
            let given = try ChildProcess.run(command + ["--input-scale", "1/255"] + data)
            #expect(given.status == 0 && !given.stderr.contains("raw pixels"), "\(command): \(given.stderr)")
        }
    }

    @Test("real-data: a reference at chance level is flagged", .enabled(if: datasets != nil))
    func chanceLevel() throws {
        // An offset that pushes every pixel far negative: every image looks alike, the model answers one class.
        let run = try ChildProcess.run(["verify", mnist, "--reference", mnist, "--input-scale", "1/255", "--input-offset", "-1000",
                                        "--dataset", "mnist", "--data", datasets ?? "", "--limit", "500", "--min-agreement", "0.9"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("warning: the reference scores") && run.stdout.contains("chance level for 10 classes"), "\(run.stdout)")
    }

    @Test("--input-scale replacing a model's own Rescaling says so; matching it says nothing")
    func replacingRescaling() throws {
        let fixture = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/mlp.h5"   // Rescaling(0.5, offset=0.25)
        let replaced = try ChildProcess.run(["convert", fixture, "--input-scale", "1", "--dry-run"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(replaced.stderr.contains("--input-scale 1 replaces the model's own input scale 1/2"), "\(replaced.stderr)")
        let same = try ChildProcess.run(["convert", fixture, "--input-scale", "0.5", "--dry-run"])
        #expect(same.status == 0 && !same.stderr.contains("replaces"), "\(same.stderr)")
        // import applies the options in the Keras reader's child process: its warning reaches the user too,
        // and the file records the scale given.
        let scratch = try Scratch()
        let imported = try ChildProcess.run(["import", fixture, "--input-scale", "1", "-o", scratch.file("m.lrm")])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("--input-scale 1 replaces the model's own input scale 1/2"), "\(imported.stderr)")
        #expect(try ContainerFile(path: scratch.file("m.lrm")).header.model.input.scale == [1])
    }

    @Test("verify's preprocessing line names where the scale came from: the model's own record wins over --input-scale and says so")
    func preprocessingSource() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        let data = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        let recorded = scratch.file("half.lrm")
        let convert = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--input-scale", "0.5", "--policy", "energy:0.99", "-o", recorded])
        #expect(convert.status == 0, "\(convert.stderr)")
        func source(_ arguments: [String]) throws -> (text: String, json: String?) {
            let text = try ChildProcess.run(["verify"] + arguments + data)
            #expect(text.status == 0, "\(text.stderr)")
            let line = text.stdout.split(separator: "\n").first { $0.hasPrefix("preprocessing: ") }.map(String.init) ?? ""
            let json = try jsonObject(try ChildProcess.run(["verify"] + arguments + data + ["--json"]).stdout)
            return (line, (json["preprocessing"] as? [String: Any])?["source"] as? String)
        }
        // The file records scale 1/2; --input-scale 2 does not replace it, and the line must not claim it did.
        let own = try source([recorded, "--input-scale", "2"])
        #expect(own.text.hasPrefix("preprocessing: inputs × 1/2 + 0") && own.text.hasSuffix("(from the model file)"), "\(own.text)")
        #expect(own.json == "the model file")
        // A Keras file records none: the option applies, and the line says so.
        let option = try source([samples + "housing_mlp.h5", "--input-scale", "2"])
        #expect(option.text.hasPrefix("preprocessing: inputs × 2 + 0") && option.text.hasSuffix("(from --input-scale)"), "\(option.text)")
        // A Keras candidate beside a reference that records its scale takes the reference's.
        let borrowed = try source([samples + "housing_mlp.h5", "--reference", recorded])
        #expect(borrowed.text.hasSuffix("(from the reference)") && borrowed.json == "the reference", "\(borrowed.text)")
    }
}
