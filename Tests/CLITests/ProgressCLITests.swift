import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// Long work reports itself: per phase, calibration batch, search candidate and evaluation batch, as text
/// or JSON lines on stderr; nothing when stderr is not a terminal unless asked, nothing with --quiet.
@Suite("Progress output")
struct ProgressCLITests {
    let samples = TestPackage.root + "/samples/"
    var churn: [String] { ["--inputs", samples + "churn.csv", "--label-column", "churned"] }

    @Test("--progress json: one JSON object a line for every phase of a search; stdout stays the report")
    func jsonLines() throws {
        let run = try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + churn + ["--target-accuracy-drop", "1", "--dry-run", "--progress", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("{") }
        var phases: [String] = []
        var candidates = 0
        for line in lines {
            // Warnings and notes are JSON objects in this mode too; the progress events are the "progress" ones.
            guard let progress = try jsonObject(line)["progress"] as? [String: Any] else { continue }
            let phase = try #require(progress["phase"] as? String)
            if phases.last != phase { phases.append(phase) }
            if phase == "search" { candidates += 1 }
        }
        #expect(phases == ["read", "calibration", "spectra", "search", "confirm", "evaluation"], "\(phases)")
        #expect(candidates >= 2)
        #expect(run.stdout.contains("search (whitened spectra, \(candidates) candidates"), "one progress line per candidate: \(run.stdout)")
    }

    @Test("--progress json: --minimize bytes tells each candidate it scores (it told none) and each its confirmation re-judges (bytes, storage, score)")
    func bytesSearchConfirmation() throws {
        let run = try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + churn
                                       + ["--target-accuracy-drop", "1", "--minimize", "bytes", "--dry-run", "--progress", "json"], timeout: 120)
        #expect(run.status == 0, "\(run.stderr)")
        let scored = try run.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
            .compactMap { try jsonObject(String($0))["progress"] as? [String: Any] }.filter { $0["phase"] as? String == "search" }
        #expect(!scored.isEmpty && scored.map { $0["done"] as? Int ?? 0 } == Array(1...max(1, scored.count)), "\(run.stderr)")
        #expect(scored.allSatisfy { ($0["message"] as? String ?? "").hasPrefix("candidate of ") && ($0["message"] as? String ?? "").contains(": validation score ") },
                "\(scored)")
        let confirm = try run.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
            .compactMap { try jsonObject(String($0))["progress"] as? [String: Any] }.filter { $0["phase"] as? String == "confirm" }
        #expect(!confirm.isEmpty, "\(run.stderr)")
        #expect(confirm.map { $0["done"] as? Int ?? 0 } == Array(1...confirm.count), "\(confirm)")
        #expect(confirm.allSatisfy { ($0["message"] as? String ?? "").contains(" bytes (") && ($0["message"] as? String ?? "").contains("confirmation score") },
                "\(confirm)")
    }

    @Test("not a terminal: no progress unless asked; --progress text gives lines; --quiet silences")
    func textAndQuiet() throws {
        let base = ["verify", samples + "churn_mlp.h5"] + churn
        let silent = try ChildProcess.run(base)
        #expect(silent.status == 0 && silent.stderr.isEmpty, "\(silent.stderr)")
        let text = try ChildProcess.run(base + ["--progress", "text"])
        #expect(text.stderr.contains("lrm: evaluation 400/400 (100%): own data test"), "\(text.stderr)")
        let quiet = try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + churn + ["--target-accuracy-drop", "1", "--dry-run", "--quiet"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("lrm: search"), "\(quiet.stderr)")
        // With --progress json the error is a JSON object too, like every line on stderr in that mode.
        let both = try ChildProcess.run(base + ["--quiet", "--progress", "json"])
        #expect(both.status == 64 && both.stderr.split(separator: "\n").count == 1, "\(both.stderr)")
        let error = try #require(try jsonObject(both.stderr)["error"] as? [String: Any], "\(both.stderr)")
        #expect(error["exit_status"] as? Int == 64 && (error["message"] as? String ?? "").contains("--quiet"), "\(error)")
    }

    @Test("--progress json: a factorize event per layer as it finishes (name, shape, outcome), and a spectra event per layer of a search")
    func perLayer() throws {
        func events(_ arguments: [String], phase: String) throws -> [[String: Any]] {
            let run = try ChildProcess.run(arguments + ["--dry-run", "--progress", "json"])
            #expect(run.status == 0, "\(run.stderr)")
            return try run.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
                .compactMap { try jsonObject(String($0))["progress"] as? [String: Any] }.filter { $0["phase"] as? String == phase }
        }
        let factorize = try events(["convert", samples + "mnist_mlp.h5", "--policy", "energy:0.95"], phase: "factorize")
        let perLayer = factorize.filter { ($0["message"] as? String)?.contains(": ") == true }
        #expect(perLayer.map { $0["done"] as? Int ?? 0 } == [1, 2, 3], "\(factorize)")
        #expect(perLayer.allSatisfy { $0["total"] as? Int == 3 })
        let messages = perLayer.compactMap { $0["message"] as? String }
        for expected in ["dense_1 784×512: ", "dense_2 512×256: ", "output 256×10: "] {
            #expect(messages.contains { $0.hasPrefix(expected) }, "\(expected) missing: \(messages)")
        }
        #expect(messages.allSatisfy { $0.contains("rank ") || $0.contains("kept dense") }, "\(messages)")
        let spectra = try events(["convert", samples + "churn_mlp.h5"] + churn + ["--target-accuracy-drop", "1"], phase: "spectra")
        let layers = spectra.compactMap { $0["message"] as? String }.filter { $0.hasSuffix("(whitened)") && !$0.hasPrefix("singular") }
        // A rank search never factorizes the output layer: its spectrum is not computed (before: it was, and never used).
        #expect(layers == ["dense_1 10×128 (whitened)", "dense_2 128×64 (whitened)"], "\(spectra)")
        #expect(spectra.first { ($0["message"] as? String)?.hasPrefix("singular") == true }?["message"] as? String
                == "singular values of every searched hidden dense layer (whitened)", "\(spectra)")
    }

    @Test("--progress json on sweep: a spectra event per dense layer before the points")
    func sweepSpectra() throws {
        let run = try ChildProcess.run(["sweep", samples + "churn_mlp.h5"] + churn + ["--taus", "0.9", "--progress", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let events = try run.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
            .compactMap { try jsonObject(String($0))["progress"] as? [String: Any] }
        let spectra = events.filter { $0["phase"] as? String == "spectra" }
        #expect(spectra.compactMap { $0["message"] as? String } == ["dense_1 10×128 (plain)", "dense_2 128×64 (plain)", "output 64×1 (plain)"],
                "\(events)")
        #expect(spectra.map { $0["done"] as? Int ?? 0 } == [1, 2, 3] && spectra.allSatisfy { $0["total"] as? Int == 3 })
    }

    /// Before: the epoch lines were written straight to stderr whatever the progress setting (only --progress json
    /// turned them into events), so --quiet, --progress off and a log that is not a terminal still got them.
    @Test("--finetune's epoch lines obey the progress setting: none with --quiet, --progress off or by default off a terminal; lines with text; events with json")
    func finetuneEpochs() throws {
        // Fine-tuning needs a softmax classifier: 64 MNIST test images labelled with the classes Keras predicts.
        let scratch = try Scratch()
        let data = try writeKerasLabelledImages(in: scratch).options
        let base = ["convert", samples + "mnist_mlp.h5", "--input-scale", "1/255", "--policy", "rank:16", "--finetune", "2", "--dry-run"] + data
        for quiet in [["--quiet"], ["--progress", "off"], []] {
            let run = try ChildProcess.run(base + quiet, timeout: 120)
            #expect(run.status == 0, "\(quiet): \(run.stderr)")
            #expect(!run.stderr.contains("fine-tuning"), "\(quiet): \(run.stderr)")
        }
        let text = try ChildProcess.run(base + ["--progress", "text"], timeout: 120)
        #expect(text.status == 0, "\(text.stderr)")
        let epochs = text.stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: fine-tuning epoch ") }
        #expect(epochs.count == 2 && epochs[0].hasPrefix("lrm: fine-tuning epoch 1/2: loss ") && epochs[1].hasPrefix("lrm: fine-tuning epoch 2/2: loss "),
                "\(text.stderr)")
        let json = try ChildProcess.run(base + ["--progress", "json"], timeout: 120)
        #expect(json.status == 0, "\(json.stderr)")
        let objects = try json.stderr.split(separator: "\n").map { try jsonObject(String($0)) }
        let finetune = objects.compactMap { $0["progress"] as? [String: Any] }.filter { $0["phase"] as? String == "fine-tuning" }
        #expect(finetune.map { $0["done"] as? Int ?? 0 } == [1, 2] && finetune.allSatisfy { $0["total"] as? Int == 2 }, "\(json.stderr)")
        #expect(finetune.allSatisfy { ($0["message"] as? String ?? "").hasPrefix("fine-tuning epoch ") }, "\(finetune)")
    }
}
