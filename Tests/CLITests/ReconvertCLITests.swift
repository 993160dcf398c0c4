import Foundation
import LRMDatasets
import LRMFormat
import LRMTestSupport
import Testing

/// `lrm convert` on a `.lrm` whose layers are already factorized (review finding 7).
@Suite("Re-converting a .lrm")
struct ReconvertCLITests {
    let samples = TestPackage.root + "/samples/"

    /// The rank of every factorized layer of the file at `path`, by name.
    func ranks(_ path: String) throws -> [String: Int] {
        var ranks: [String: Int] = [:]
        for layer in try ContainerFile(path: path).header.model.layers {
            if case let .factorizedDense(_, _, _, _, f) = layer.operation { ranks[layer.name] = f.rank }
        }
        return ranks
    }

    @Test("--in-place truncates a rank-8 file to rank 4 and records the history; a policy asking for more keeps it, with a note (before: nothing changed, no word)")
    func inPlace() throws {
        let scratch = try Scratch()
        let model = scratch.file("real.lrm")
        #expect(try ChildProcess.run(["import", samples + "mnist_mlp.h5", "-o", model]).status == 0)
        let eight = try ChildProcess.run(["convert", model, "--in-place", "--policy", "rank:8"])
        #expect(eight.status == 0, "\(eight.stderr)")
        #expect(try ranks(model) == ["dense_1": 8, "dense_2": 8, "output": 8])
        #expect(!eight.stdout.contains("on the input"), "an input without factorized layers has one count: \(eight.stdout)")
        let four = try ChildProcess.run(["convert", model, "--in-place", "--policy", "rank:4"])
        #expect(four.status == 0, "\(four.stderr)")
        #expect(four.stdout.contains("dense_1: rank 4 chose k = 4 of 512: truncated from the stored rank 8"), "\(four.stdout)")
        // Compression is counted from the original layers, as inspect counts it, and on the input file beside it
        // (before: only from the original, while the bytes on disk were the input file's).
        #expect(four.stdout.contains("parameters 535,818 in the original layers (19,418 in the input) → 10,098, compression 53.06× (1.92× on the input)"),
                "\(four.stdout)")
        #expect(try ranks(model) == ["dense_1": 4, "dense_2": 4, "output": 4])
        let metadata = try ContainerFile(path: model).header.metadata
        #expect(metadata[MetadataKey.conversionHistory] == .string("rank 8 (plain, f32)"))
        #expect(metadata[MetadataKey.conversionPolicy] == .string("rank"))
        #expect(metadata[MetadataKey.sourceFile] == .string("mnist_mlp.h5"))
        let more = try ChildProcess.run(["convert", model, "--in-place", "--policy", "energy:0.99"])
        #expect(more.status == 0, "\(more.stderr)")
        #expect(more.stdout.contains("more than the 4 stored: kept at rank 4"), "\(more.stdout)")
        #expect(try ranks(model) == ["dense_1": 4, "dense_2": 4, "output": 4])
        let inspect = try ChildProcess.run(["inspect", model])
        #expect(inspect.stdout.contains("compression 53.06×"), "\(inspect.stdout)")
    }

    @Test("sweep --fine, a data-aware metric (a size search's too) and fine-tuning on a .lrm with factorized layers are refused up front, one line, exit 64 (before: identical points, or the layers left as they were)")
    func refusedWhereTheOriginalIsNeeded() throws {
        let scratch = try Scratch()
        let model = scratch.file("r8.lrm"), output = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "-o", model]).status == 0)
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        expectOneLineError(try ChildProcess.run(["sweep", model, "--fine"] + data), status: 64,
                           naming: "--fine's data-aware metrics (whitened, activation-scaled) are measured on the original layers' calibration inputs")
        for (request, reason) in [(["--target-ratio", "0.5", "--metric", "whitened"], "search in the plain metric (--metric plain)"),
                                  (["--target-accuracy-drop", "2", "--minimize", "bytes", "--metric", "whitened"],
                                   "search in the plain metric (--metric plain)"),
                                  (["--policy", "whitened:0.9"], "a data-aware metric (whitened)"),
                                  (["--target-accuracy-drop", "2", "--finetune", "1"], "fine-tuning moves the factors of every layer")] {
            let result = try ChildProcess.run(["convert", model] + request + data + ["-o", output])
            expectOneLineError(result.droppingWarnings, status: 64, naming: "already factorized here (dense_1, dense_2)", "\(request)")
            #expect(result.stderr.contains(reason), "\(request): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        // A rank search of such a file runs in the plain metric: --ridge, accepted for the searches' default (whitened), would
        // do nothing (before this check: accepted without a word).
        let ridge = try ChildProcess.run(["convert", model, "--target-ratio", "0.2", "--ridge", "0.001"] + data + ["-o", output])
        expectOneLineError(ridge.droppingWarnings, status: 64,
                           naming: "--ridge applies to the whitened metric, and a rank search of the layers already factorized here (dense_1, dense_2) runs in the plain metric")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("--finetune on a .lrm with a factorized layer is refused even when --exclude keeps that layer: fine-tuning trains it anyway and its record (the original's error) would no longer be true (before: written, exit 0, and verify against the Keras original failed on that record)")
    func finetuneRefusedWithExcludedStoredFactors() throws {
        let scratch = try Scratch()
        let model = scratch.file("mixed.lrm"), output = scratch.file("out.lrm")
        // dense_1 and output factorized, dense_2 kept whole; the conversion factorizes dense_2 and keeps dense_1 and output as they are.
        #expect(try ChildProcess.run(["convert", samples + "mnist_mlp.h5", "--policy", "energy:0.9", "--exclude", "dense_2", "-o", model]).status == 0)
        let data = try writeKerasLabelledImages(in: scratch).options
        let result = try ChildProcess.run(["convert", model, "--exclude", "dense_1", "--exclude", "output", "--policy", "rank:64",
                                           "--finetune", "1"] + data + ["-o", output], timeout: 300)
        expectOneLineError(result.droppingWarnings, status: 64, naming: "fine-tuning moves the factors of every layer (those --exclude keeps too)")
        #expect(result.stderr.contains("already factorized here (dense_1, output)") && result.stderr.contains("convert this file without --finetune"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        // Without --finetune the same conversion runs.
        let plain = try ChildProcess.run(["convert", model, "--exclude", "dense_1", "--exclude", "output", "--policy", "rank:64", "-o", output])
        #expect(plain.status == 0, "\(plain.stderr)")
    }

    @Test("a search of a .lrm that keeps every layer as stored says so on stderr and in --json (kept_as_stored), with what it wrote; one that truncates says nothing of it (before: a report of the original's compression, and a file a little larger than its input, without a word)")
    func keptAsStoredSaid() throws {
        let scratch = try Scratch()
        let model = scratch.file("r8.lrm"), output = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "-o", model]).status == 0)
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        // A ratio of 1 keeps the hidden layers' stored ranks (0.279 of their parameters).
        let kept = try ChildProcess.run(["convert", model] + data + ["--target-ratio", "1", "--json", "-o", output])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try jsonObject(kept.stdout)["search"].flatMap { ($0 as? [String: Any])?["kept_as_stored"] as? Bool } == true, "\(kept.stdout)")
        #expect(kept.stderr.contains("warning: the search kept every layer of \(model) as it stores it (dense_1, dense_2 at their stored rank and storage): "
                                     + "nothing was compressed further; \(output) holds the same weights ("), "\(kept.stderr)")
        #expect(kept.stderr.contains("only the metadata differ"), "\(kept.stderr)")
        #expect(try ranks(output) == ["dense_1": 8, "dense_2": 8])
        let dry = try ChildProcess.run(["convert", model] + data + ["--target-ratio", "1", "--dry-run"])
        #expect(dry.stderr.contains("nothing was compressed further (--dry-run: nothing written)"), "\(dry.stderr)")
        let truncated = try ChildProcess.run(["convert", model] + data + ["--target-ratio", "0.15", "--json", "-o", output])
        #expect(truncated.status == 0 && !truncated.stderr.contains("nothing was compressed further"), "\(truncated.stderr)")
        #expect(try jsonObject(truncated.stdout)["search"].flatMap { ($0 as? [String: Any])?["kept_as_stored"] as? Bool } == false)
    }

    @Test("a search of a .lrm whose searched layers were refitted after truncation is refused up front, one line, exit 64, naming them and --exclude; excluded, they stay as stored (before: the search read and calibrated its data, then failed on the first candidate below the stored rank)")
    func searchOfRefittedFactorsRefused() throws {
        let scratch = try Scratch()
        let model = scratch.file("w.lrm"), output = scratch.file("out.lrm")
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        // Whitened, so every factorized layer is refitted ('whitened gesdd-f32+refit').
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "whitened:0.9"] + data + ["-o", model]).status == 0)
        for search in [["--target-ratio", "0.2"], ["--target-accuracy-drop", "2"], ["--target-accuracy-drop", "2", "--minimize", "bytes"]] {
            let result = try ChildProcess.run(["convert", model] + data + search + ["-o", output])
            expectOneLineError(result.droppingWarnings, status: 64,
                               naming: "a search truncates the layers it searches below their stored rank, and dense_1, dense_2 had their factors refitted", "\(search)")
            #expect(result.stderr.contains("--exclude them (kept as stored)"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        let one = try ChildProcess.run(["convert", model] + data + ["--target-ratio", "0.2", "--exclude", "dense_1", "-o", output])
        expectOneLineError(one.droppingWarnings, status: 64, naming: "and dense_2 had its factors refitted")
        // Both excluded, a size search still chooses the output layer's storage and keeps them as stored.
        let kept = try ChildProcess.run(["convert", model] + data + ["--target-accuracy-drop", "2", "--minimize", "bytes", "--exclude", "dense_*", "-o", output])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try ranks(output) == ranks(model))
    }

    @Test("a rank search of a .lrm truncates its factorized layers further in the plain metric, never above their stored rank, with records relative to the original and the history (before: refused, exit 64)")
    func searchOfStoredFactors() throws {
        let scratch = try Scratch()
        let model = scratch.file("r8.lrm"), output = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "-o", model]).status == 0)
        // As stored the hidden layers keep 8·138 + 8·192 of 1,280 + 8,192 parameters (0.279).
        let result = try ChildProcess.run(["convert", model, "--inputs", samples + "churn.csv", "--label-column", "churned",
                                           "--target-ratio", "0.15", "--json", "-o", output])
        #expect(result.status == 0, "\(result.stderr)")
        let search = try #require(try jsonObject(result.stdout)["search"] as? [String: Any])
        #expect(try #require(search["hidden_fraction"] as? Double) <= 0.15)
        #expect(search["metric"] as? String == "plain")
        #expect(search["stored_factor_layers"] as? [String] == ["dense_1", "dense_2"], "\(search)")
        let ranks = try ranks(output)
        #expect(ranks.keys.sorted() == ["dense_1", "dense_2"] && ranks.values.allSatisfy { $0 <= 8 } && ranks.values.contains { $0 < 8 }, "\(ranks)")
        let file = try ContainerFile(path: output)
        for layer in file.header.model.layers {
            guard case let .factorizedDense(_, _, _, _, f) = layer.operation, f.rank < 8 else { continue }
            #expect(f.method.hasSuffix("+retruncated(8→\(f.rank))") && f.policy == "target-ratio", "\(layer.name): \(f)")
        }
        #expect(file.header.metadata[MetadataKey.conversionHistory] == .string("rank 8 (plain, f32)"))
        #expect(file.header.metadata[MetadataKey.conversionPolicy] == .string("target-ratio"))
        #expect(file.header.metadata[MetadataKey.conversionMetric] == .string("plain"))
        // The records stay relative to the original: verify against the Keras file agrees with them.
        let verify = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5", "--inputs", samples + "churn.csv",
                                           "--label-column", "churned", "--min-energy", "0.1", "--json"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let text = try ChildProcess.run(["convert", model, "--inputs", samples + "churn.csv", "--label-column", "churned",
                                         "--target-ratio", "0.15", "--dry-run"])
        #expect(text.stdout.contains("already factorized in the input (dense_1, dense_2): searched in the plain metric"), "\(text.stdout)")
    }

    @Test("--minimize bytes on a .lrm re-stores and truncates its factorized layers from their stored factors, in the plain metric, never above their stored rank, records relative to the original (before: refused, exit 64)")
    func byteMinimizationOfStoredFactors() throws {
        let scratch = try Scratch()
        let model = scratch.file("r8.lrm"), output = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "-o", model]).status == 0)
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        let result = try ChildProcess.run(["convert", model] + data + ["--target-accuracy-drop", "2", "--minimize", "bytes", "--json", "-o", output])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try jsonObject(result.stdout)
        let search = try #require(report["search"] as? [String: Any])
        #expect(search["metric"] as? String == "plain" && search["stored_factor_layers"] as? [String] == ["dense_1", "dense_2"], "\(search)")
        let inputBytes = try #require(try FileManager.default.attributesOfItem(atPath: model)[.size] as? Int)
        let outputBytes = try #require(try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int)
        #expect(outputBytes < inputBytes / 2 && report["output_bytes"] as? Int == outputBytes, "\(outputBytes) of \(inputBytes)")
        // A binary task's search has its size figures in --json too (before: file_bytes, storage and size_candidates were left out).
        #expect(search["file_bytes"] as? Int == outputBytes && search["storage"] is String, "\(search.keys.sorted())")
        #expect((search["size_candidates"] as? [[String: Any]])?.isEmpty == false, "\(search.keys.sorted())")
        let file = try ContainerFile(path: output)
        var factorized = 0
        for layer in try file.loadModel().layers {
            guard case let .factorizedDense(us, _, _, _, f) = layer.operation else { continue }
            factorized += 1
            #expect(f.rank <= 8 && !us.dtype.isFloatingPoint, "\(layer.name): \(f)")
            #expect(f.method.contains(f.rank < 8 ? "+retruncated(8→\(f.rank))" : "+restored(\(us.dtype.name))"), "\(layer.name): \(f.method)")
        }
        #expect(factorized == 2)
        #expect(file.header.metadata[MetadataKey.conversionHistory] == .string("rank 8 (plain, f32)"))
        #expect(file.header.metadata[MetadataKey.conversionPolicy] == .string("target-accuracy-drop-min-bytes"))
        #expect(file.header.metadata[MetadataKey.conversionMetric] == .string("plain"))
        // The records stay relative to the original: verify against the Keras file agrees with them.
        let verify = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + data + ["--min-energy", "0.1", "--json"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let rows = try #require(try jsonObject(verify.stdout)["layers"] as? [[String: Any]])
        #expect(rows.filter { $0["record_check"] as? String == "agrees" }.count == 2, "\(rows)")
        let text = try ChildProcess.run(["convert", model] + data + ["--target-accuracy-drop", "2", "--minimize", "bytes", "--dry-run"])
        #expect(text.stdout.contains("already factorized in the input (dense_1, dense_2): searched in the plain metric on their stored factors' "
                                     + "spectra, only truncated further (never above their stored rank) and re-stored in the storage chosen"), "\(text.stdout)")
        // --ridge would do nothing there either.
        let ridge = try ChildProcess.run(["convert", model] + data + ["--target-accuracy-drop", "2", "--minimize", "bytes", "--ridge", "0.001", "-o", output])
        expectOneLineError(ridge.droppingWarnings, status: 64, naming: "--ridge applies to the whitened metric, and a size search of the layers already factorized here")
    }

    @Test("a search of a .lrm refits the layers it truncates from a kernel the file stores whole (their records stay the original's), not the layers already factorized (before: the refit was skipped for the whole search)")
    func refitOfKernelLayers() throws {
        let scratch = try Scratch()
        let model = scratch.file("mixed.lrm"), output = scratch.file("out.lrm")
        // dense_1 factorized at rank 8, dense_2 kept whole (the original's kernel).
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "--exclude", "dense_2", "-o", model]).status == 0)
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        for search in [["--target-ratio", "0.3"], ["--target-accuracy-drop", "3", "--minimize", "bytes"]] {
            let result = try ChildProcess.run(["convert", model] + data + search + ["--json", "-o", output])
            #expect(result.status == 0, "\(search): \(result.stderr)")
            let file = try ContainerFile(path: output)
            var methods: [String: String] = [:]
            for layer in file.header.model.layers {
                if case let .factorizedDense(_, _, _, _, f) = layer.operation { methods[layer.name] = f.method }
            }
            #expect(methods["dense_2"]?.hasSuffix("+refit") == true, "\(search): \(methods)")
            #expect(methods["dense_1"].map { !$0.contains("+refit") } == true, "\(search): \(methods)")
            #expect(file.header.metadata[MetadataKey.conversionRefit] == .bool(true), "\(search)")
            // Both records are the Keras original's: verify against it checks and agrees with them.
            let verify = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + data + ["--max-accuracy-drop", "50", "--json"])
            let rows = try #require(try jsonObject(verify.stdout)["layers"] as? [[String: Any]])
            #expect(verify.status == 0 && rows.filter { $0["record_check"] as? String == "agrees" }.count == 2, "\(search): \(verify.stdout)\(verify.stderr)")
            let text = try ChildProcess.run(["convert", model] + data + search + ["--dry-run"])
            #expect(text.stdout.contains("already factorized in the input (dense_1): searched in the plain metric") && text.stdout.contains("not refitted (the layers searched from their kernels were)"),
                    "\(search): \(text.stdout)")
        }
        let unrefitted = try ChildProcess.run(["convert", model] + data + ["--target-ratio", "0.3", "--no-refit", "-o", output])
        #expect(unrefitted.status == 0, "\(unrefitted.stderr)")
        let layers = try ContainerFile(path: output).header.model.layers
        #expect(!layers.contains { if case let .factorizedDense(_, _, _, _, f) = $0.operation { f.method.contains("+refit") } else { false } })
    }

    @Test("real-data: --target-size on a converted MNIST sample .lrm writes a file within the size, every layer within its stored rank, records agreeing with the Keras original (before: refused, exit 64)",
          .enabled(if: datasets != nil))
    func sizeTargetOfStoredFactors() throws {
        let scratch = try Scratch()
        let sample = samples + "mnist_mlp.h5"
        let input = scratch.file("energy.lrm"), output = scratch.file("size.lrm")
        #expect(try ChildProcess.run(["convert", sample, "--input-scale", "1/255", "--policy", "energy:0.9", "-o", input]).status == 0)
        let before = try ranks(input)
        let result = try ChildProcess.run(["convert", input, "--dataset", "mnist", "--validation-samples", "2000", "--target-size", "300000",
                                           "--json", "-o", output], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let search = try #require(try jsonObject(result.stdout)["search"] as? [String: Any])
        #expect(search["stored_factor_layers"] as? [String] == ["dense_1", "dense_2", "output"], "\(search)")
        let outputBytes = try #require(try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int)
        #expect(outputBytes <= 300_000, "\(outputBytes)")
        let after = try ranks(output)
        #expect(after.keys.sorted() == before.keys.sorted() && after.allSatisfy { $0.value <= before[$0.key]! }, "\(before) → \(after)")
        let original = try ChildProcess.run(["verify", output, "--reference", sample, "--dataset", "mnist", "--min-energy", "0.3", "--json"])
        let rows = try #require(try jsonObject(original.stdout)["layers"] as? [[String: Any]])
        #expect(original.status == 0 && rows.filter { $0["record_check"] as? String == "agrees" }.count == 3, "\(original.stdout)\(original.stderr)")
        #expect(try ContainerFile(path: output).header.metadata[MetadataKey.conversionHistory] == .string("energy 0.9 (plain, f32)"))
    }

    @Test("sweep of a .lrm sweeps its factorized dense layers from their stored factors: no point above the stored rank, the loosest point the file as it is (before: refused, exit 64)")
    func sweepOfStoredFactors() throws {
        let scratch = try Scratch()
        let model = scratch.file("r8.lrm")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "-o", model]).status == 0)
        let result = try ChildProcess.run(["sweep", model, "--inputs", samples + "churn.csv", "--label-column", "churned", "--taus", "0.5,0.99", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try jsonObject(result.stdout)
        #expect(report["stored_factor_layers"] as? [String] == ["dense_1", "dense_2"], "\(report.keys)")
        let points = try #require(report["points"] as? [[String: Any]])
        #expect(points.count == 12)
        func ranks(_ point: [String: Any]) -> [String: Int] {
            var ranks: [String: Int] = [:]
            for entry in point["ranks"] as? [[String: Any]] ?? [] { if let rank = entry["rank"] as? Int { ranks[entry["layer"] as! String] = rank } }
            return ranks
        }
        for point in points {
            #expect(ranks(point).keys.sorted() == ["dense_1", "dense_2"] && ranks(point).values.allSatisfy { $0 <= 8 }, "\(point)")
        }
        let loosest = try #require(points.first { $0["method"] as? String == "energy" && $0["parameter"] as? Double == 0.99 })
        #expect(ranks(loosest) == ["dense_1": 8, "dense_2": 8] && loosest["agreement"] as? Double == 1, "\(loosest)")
        #expect(loosest["compression_ratio"] as? Double == 1, "counted from the file's model")
        let tight = try #require(points.first { $0["method"] as? String == "energy" && $0["parameter"] as? Double == 0.5 })
        #expect(try #require(ranks(tight)["dense_1"]) < 8, "\(tight)")
        // The fixed-rank baseline never goes past the stored rank either.
        #expect(points.filter { ($0["method"] as? String)?.hasPrefix("rank") == true }.allSatisfy { ($0["parameter"] as? Double ?? 99) <= 8 })
        let text = try ChildProcess.run(["sweep", model, "--inputs", samples + "churn.csv", "--label-column", "churned", "--taus", "0.9"])
        #expect(text.stdout.contains("already factorized here (dense_1, dense_2): swept in the plain metric"), "\(text.stdout)")
    }

    @Test("real-data: an accuracy search of a converted MNIST sample .lrm gives a smaller file within budget against the input on the test split, which nothing was selected on; its records still agree with the Keras original",
          .enabled(if: datasets != nil))
    func accuracySearchOfStoredFactors() throws {
        let scratch = try Scratch()
        let sample = samples + "mnist_mlp.h5"
        let input = scratch.file("energy.lrm"), output = scratch.file("search.lrm")
        #expect(try ChildProcess.run(["convert", sample, "--input-scale", "1/255", "--policy", "energy:0.9", "-o", input]).status == 0)
        let before = try ranks(input)
        let result = try ChildProcess.run(["convert", input, "--dataset", "mnist", "--target-accuracy-drop", "1.0", "--json", "-o", output],
                                          timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let search = try #require(try jsonObject(result.stdout)["search"] as? [String: Any])
        #expect(search["stored_factor_layers"] as? [String] == ["dense_1", "dense_2"], "\(search)")
        let inputBytes = try #require(try FileManager.default.attributesOfItem(atPath: input)[.size] as? Int)
        let outputBytes = try #require(try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int)
        #expect(outputBytes < inputBytes / 2, "\(outputBytes) of \(inputBytes)")
        let after = try ranks(output)
        #expect(after.allSatisfy { $0.value <= before[$0.key]! } && after["dense_1"]! < before["dense_1"]!, "\(before) → \(after)")
        // The test split: against the input model (the budget's reference), within the 1-point budget.
        let verify = try ChildProcess.run(["verify", output, "--reference", input, "--dataset", "mnist", "--max-accuracy-drop", "1.0", "--json"])
        let report = try jsonObject(verify.stdout)
        let checks = try #require(report["checks"] as? [[String: Any]])
        let drop = try #require(checks.first { $0["name"] as? String == "max-accuracy-drop" })
        #expect(drop["passed"] as? Bool == true, "\(drop)")
        let reference = try #require((report["reference"] as? [String: Any])?["accuracy"] as? Double)
        let compressed = try #require((report["compressed"] as? [String: Any])?["accuracy"] as? Double)
        #expect(reference - compressed <= 0.01, "\(reference) → \(compressed)")
        #expect(abs(compressed - (try #require(search["test_accuracy"] as? Double))) < 1e-12)
        // Against the input, the weight records (relative to the original) are not the input's: verify leaves them unchecked
        // (before: a metadata check failed for each, exit 1) and the budget decides.
        #expect(verify.status == 0 && report["result"] as? String == "pass", "\(verify.stdout)\(verify.stderr)")
        #expect(!checks.contains { ($0["name"] as? String)?.hasPrefix("metadata ") == true }, "\(checks)")
        // Against the Keras original they agree, and the history names the conversion before.
        let original = try ChildProcess.run(["verify", output, "--reference", sample, "--dataset", "mnist", "--min-energy", "0.3"])
        #expect(original.status == 0 && original.stdout.contains("result: PASS"), "\(original.stdout)")
        #expect(try ContainerFile(path: output).header.metadata[MetadataKey.conversionHistory] == .string("energy 0.9 (plain, f32)"))
    }

    @Test("real-data: verify of a re-converted .lrm against the .lrm it came from leaves the records (the original's) unchecked and passes on its threshold; against the Keras original it checks them, and a tampered record fails there (before: FAIL, exit 1, against the intermediate)",
          .enabled(if: datasets != nil))
    func verifyAgainstTheFileConvertedFrom() throws {
        let scratch = try Scratch()
        let sample = samples + "mnist_mlp.h5"
        let input = scratch.file("energy.lrm"), output = scratch.file("rank.lrm")
        #expect(try ChildProcess.run(["convert", sample, "--input-scale", "1/255", "--policy", "energy:0.9", "--exclude", "output",
                                      "-o", input]).status == 0)
        // dense_1 and dense_2 (ranks 267 and 139 in the input) truncated further; output, kept whole in the input (the
        // original's kernel), factorized. Accuracy 97.22% against the input's 97.93%.
        let convert = try ChildProcess.run(["convert", input, "--policy", "rank:128", "--layer", "output=rank:8", "-o", output])
        #expect(convert.status == 0, "\(convert.stderr)")
        let before = try ranks(input), after = try ranks(output)
        #expect(before["output"] == nil && after["output"] == 8 && after["dense_1"] == 128 && before["dense_1"]! > 128, "\(before) → \(after)")
        let threshold = ["--dataset", "mnist", "--max-accuracy-drop", "1"]

        // Against the intermediate .lrm: the layers it stores factorized are not checked, the layer it stores whole is.
        let intermediate = try ChildProcess.run(["verify", output, "--reference", input] + threshold + ["--json"])
        #expect(intermediate.status == 0, "\(intermediate.stdout)\(intermediate.stderr)")
        let report = try jsonObject(intermediate.stdout)
        #expect(report["result"] as? String == "pass", "\(report)")
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.map { $0["name"] as? String } == ["max-accuracy-drop"], "\(checks)")
        let layers = try #require(report["layers"] as? [[String: Any]])
        func layer(_ name: String, in layers: [[String: Any]]) -> [String: Any] { layers.first { $0["name"] as? String == name } ?? [:] }
        for name in ["dense_1", "dense_2"] {
            let row = layer(name, in: layers)
            #expect(row["record_check"] as? String == "not_checked" && row["agrees_with_record"] == nil, "\(row)")
            #expect((row["record_check_reason"] as? String)?.contains("the reference is itself compressed") == true, "\(row)")
            #expect(row["recorded_relative_error"] is Double, "\(row)")
        }
        #expect(layer("output", in: layers)["record_check"] as? String == "agrees", "\(layers)")
        let text = try ChildProcess.run(["verify", output, "--reference", input] + threshold)
        #expect(text.status == 0 && text.stdout.contains("result: PASS") && !text.stdout.contains("FAIL"), "\(text.stdout)")
        #expect(text.stdout.contains("dense_1: record not checked: the reference is itself compressed"), "\(text.stdout)")
        // Without a threshold nothing was checked: NO CHECKS, never PASS.
        let none = try ChildProcess.run(["verify", output, "--reference", input, "--dataset", "mnist", "--json"])
        let noneResult = try jsonObject(none.stdout)["result"] as? String
        #expect(none.status == 0 && noneResult == "no_checks", "\(none.stdout)\(none.stderr)")

        // Against the Keras original every record is checked and agrees.
        let original = try ChildProcess.run(["verify", output, "--reference", sample] + threshold + ["--json"])
        let originalResult = try jsonObject(original.stdout)["result"] as? String
        #expect(original.status == 0 && originalResult == "pass", "\(original.stdout)\(original.stderr)")
        let originalLayers = try #require(try jsonObject(original.stdout)["layers"] as? [[String: Any]])
        for name in ["dense_1", "dense_2", "output"] {
            #expect(layer(name, in: originalLayers)["record_check"] as? String == "agrees", "\(originalLayers)")
        }

        // dense_1's record with its error changed, its factors as they were: the original catches it (exit 1); the
        // intermediate cannot, and says it did not check.
        var model = try ContainerFile(path: output).loadModel()
        let index = try #require(model.layers.firstIndex { $0.name == "dense_1" })
        guard case let .factorizedDense(us, vt, bias, activation, f) = model.layers[index].operation else {
            Issue.record("dense_1 is not factorized"); return
        }
        var record = f
        record.relativeError *= 1.5
        model.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: record)
        let tampered = scratch.file("tampered.lrm")
        try ContainerWriter.write(model, to: tampered)
        let caught = try ChildProcess.run(["verify", tampered, "--reference", sample] + threshold + ["--json"])
        #expect(caught.status == 1, "\(caught.stdout)\(caught.stderr)")
        let caughtChecks = try jsonObject(caught.stdout)["checks"] as? [[String: Any]] ?? []
        #expect(caughtChecks.contains { $0["name"] as? String == "metadata dense_1" && $0["passed"] as? Bool == false }, "\(caughtChecks)")
        let unchecked = try ChildProcess.run(["verify", tampered, "--reference", input] + threshold + ["--json"])
        let uncheckedLayers = try jsonObject(unchecked.stdout)["layers"] as? [[String: Any]] ?? []
        #expect(layer("dense_1", in: uncheckedLayers)["record_check"] as? String == "not_checked", "\(unchecked.stdout)\(unchecked.stderr)")
    }
}

extension RunResult {
    /// The result with `lrm: warning:` lines left out of stderr.
    var droppingWarnings: RunResult {
        var copy = self
        copy.stderr = stderr.split(separator: "\n").filter { !$0.hasPrefix("lrm: warning:") }.map { $0 + "\n" }.joined()
        return copy
    }
}

/// A layer an intermediate `.lrm` keeps whole but changes (integer codes here), factorized by a later conversion of it.
@Suite("verify of a layer factorized from a .lrm's changed kernel")
struct StoredKernelVerifyCLITests {
    let samples = TestPackage.root + "/samples/"

    @Test("a layer kept whole as i4 codes (rounded with calibration data) in the input and factorized by its re-conversion: its record is marked +from-stored(i4); verify against the original says not checked (was: FAIL, exit 1, 'metadata dense_2'), against the input checks and agrees")
    func layerFactorizedFromCodes() throws {
        let scratch = try Scratch()
        let codes = scratch.file("i4.lrm"), output = scratch.file("re.lrm")
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        // dense_2 (128→64) at rank 64 does not pay: kept whole, and with --all-kernels stored as i4 codes, rounded with error
        // feedback on the calibration records (which verify does not have).
        let first = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "--layer", "dense_2=rank:64",
                                          "--factor-dtype", "i4", "--all-kernels", "-o", codes] + data)
        #expect(first.status == 0, "\(first.stderr)")
        guard case .dense(let kernel, _, _)? = try ContainerFile(path: codes).loadModel().layers.first(where: { $0.name == "dense_2" })?.operation else {
            Issue.record("dense_2 is not stored whole in the intermediate"); return
        }
        #expect(kernel.dtype == .int4)
        let second = try ChildProcess.run(["convert", codes, "--policy", "rank:16", "-o", output])
        #expect(second.status == 0, "\(second.stderr)")
        let record = try ContainerFile(path: output).header.model.layers.first { $0.name == "dense_2" }?.operation.factorizationRecord
        #expect(record?.method.hasSuffix("+from-stored(i4)") == true && record?.rank == 16, "\(String(describing: record))")
        #expect(record?.fromStoredKernel == "i4")
        let threshold = data + ["--max-accuracy-drop", "100", "--json"]
        func layer(_ name: String, _ stdout: String) throws -> [String: Any] {
            try #require(try jsonObject(stdout)["layers"] as? [[String: Any]]).first { $0["name"] as? String == name } ?? [:]
        }

        // Against the original: dense_2's record is relative to the i4 kernel, not to the original's, so it is not checked.
        let original = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + threshold)
        let originalResult = try jsonObject(original.stdout)["result"] as? String
        #expect(original.status == 0 && originalResult == "pass", "\(original.stdout)\(original.stderr)")
        let row = try layer("dense_2", original.stdout)
        #expect(row["record_check"] as? String == "not_checked" && row["agrees_with_record"] == nil, "\(row)")
        #expect((row["record_check_reason"] as? String)?.contains("stored whole (i4)") == true, "\(row)")
        #expect((row["record_check_reason"] as? String)?.contains("nor is it once rounded to i4 codes (one f16 scale per column, symmetric, the layout "
                                                                  + "the file records) as a conversion without data rounds them; "
                                                                  + "codes rounded with calibration data") == true, "\(row)")
        #expect(try layer("dense_1", original.stdout)["record_check"] as? String == "agrees", "\(original.stdout)")
        let text = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + data + ["--max-accuracy-drop", "100"])
        #expect(text.status == 0 && text.stdout.contains("dense_2: record not checked: this layer was factorized from the kernel"), "\(text.stdout)")

        // Against the input, whose dense_2 is that kernel: checked, and it agrees.
        let input = try ChildProcess.run(["verify", output, "--reference", codes] + threshold)
        #expect(input.status == 0, "\(input.stdout)\(input.stderr)")
        #expect(try layer("dense_2", input.stdout)["record_check"] as? String == "agrees", "\(input.stdout)")

        // dense_1 is factorized in the input too: its measured error and energy there are against that truncation, not the
        // original's kernel, and say so (JSON reference_layer_factorized; "*" and a note in the table and the report).
        // Before: the same columns, unmarked (0.0000 and 1.0000, read as a perfect layer).
        let dense1 = try layer("dense_1", input.stdout)
        #expect(dense1["reference_layer_factorized"] as? Bool == true && dense1["record_check"] as? String == "not_checked", "\(dense1)")
        #expect(try layer("dense_2", input.stdout)["reference_layer_factorized"] == nil, "\(input.stdout)")
        #expect(try layer("dense_1", original.stdout)["reference_layer_factorized"] == nil, "\(original.stdout)")
        let inputText = try ChildProcess.run(["verify", output, "--reference", codes] + data + ["--max-accuracy-drop", "100"])
        let tableRow = inputText.stdout.split(separator: "\n").first { $0.hasPrefix("  dense_1 ") }.map(String.init) ?? ""
        #expect(tableRow.contains("0.0000*") && tableRow.contains("1.0000*"), "\(inputText.stdout)")
        #expect(inputText.stdout.contains("* measured against the reference's own layer, which is itself factorized"), "\(inputText.stdout)")
        #expect(!text.stdout.contains("*"), "against the original nothing is marked: \(text.stdout)")
        let page = scratch.file("r.html")
        let report = try ChildProcess.run(["report", output, "--reference", codes, "-o", page] + data)
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("<td>0.0000*</td>") && html.contains("* measured against the reference's own layer"), "report")
    }
}

extension StoredKernelVerifyCLITests {
    /// `model` with `layer`'s whole kernel replaced by `change` of it (its codes, for a kernel stored as integer codes).
    static func changingKernel(of model: Model, _ layer: String, _ change: (Tensor) -> Tensor) throws -> Model {
        var model = model
        let index = try #require(model.layers.firstIndex { $0.name == layer })
        guard case let .dense(kernel, bias, activation) = model.layers[index].operation else {
            Issue.record("\(layer) is not stored whole"); return model
        }
        model.layers[index].operation = .dense(kernel: change(kernel), bias: bias, activation: activation)
        return model
    }

    /// The SHA-256 of `values` as spec/FORMAT.md section 3.1 defines it for `conversion.from_stored_sha256`: of the
    /// values as little-endian binary32, in order (written here from that definition).
    static func kernelSHA256(_ values: [Float]) -> String {
        var bytes: [UInt8] = []
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        return SHA256.hex(SHA256.hash(bytes))
    }

    @Test("a +from-stored(i8) record is checked only against the kernel it was factorized from, known by the SHA-256 the file records (conversion.from_stored_sha256); another reference whose layer is stored as i8 codes too is not it, and the record is not checked (was: checked, FAIL exit 1 against an unrelated i8 kernel, 'agrees' against the same kernel's codes at another group size); a file without the SHA-256 says so")
    func unrelatedReferenceStoredAlike() throws {
        let scratch = try Scratch()
        let intermediate = scratch.file("a.lrm"), output = scratch.file("re.lrm"), regrouped = scratch.file("b.lrm")
        let unrelated = scratch.file("x.lrm"), older = scratch.file("old.lrm")
        // dense_2 (128→64) kept whole at rank 64, stored as i8 codes; re-converted at rank 16 from those codes.
        let convert = ["--policy", "rank:8", "--layer", "dense_2=rank:64", "--factor-dtype", "i8", "--all-kernels"]
        for (file, extra) in [(intermediate, [String]()), (regrouped, ["--group-size", "2"])] {
            let run = try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + convert + extra + ["-o", file])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let second = try ChildProcess.run(["convert", intermediate, "--policy", "rank:16", "-o", output])
        #expect(second.status == 0, "\(second.stderr)")
        let converted = try ContainerFile(path: output).loadModel()
        #expect(converted.layers.first { $0.name == "dense_2" }?.operation.factorizationRecord?.fromStoredKernel == "i8")
        let stored = try ContainerFile(path: intermediate).loadModel()
        guard case let .dense(kernel, _, _)? = stored.layers.first(where: { $0.name == "dense_2" })?.operation else {
            Issue.record("dense_2 is not stored whole in the intermediate"); return
        }
        #expect(Factorization.fromStoredDigests(in: converted.metadata) == ["dense_2": Self.kernelSHA256(kernel.floats())])
        // An unrelated kernel stored as i8 codes of the same shape: the intermediate's codes negated.
        try ContainerWriter.write(try Self.changingKernel(of: stored, "dense_2") { kernel in
            guard var codes = kernel.quantization else { return kernel }
            codes.codes = codes.codes.map { Int8(clamping: -Int($0)) }
            return Tensor(quantized: codes)
        }, to: unrelated)
        // The same file as written before the SHA-256 was recorded.
        var withoutDigest = converted
        withoutDigest.metadata[MetadataKey.conversionFromStoredSHA256] = nil
        try ContainerWriter.write(withoutDigest, to: older)

        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned", "--max-accuracy-drop", "100", "--json"]
        func dense2(_ file: String, _ reference: String) throws -> (status: Int32?, row: [String: Any]) {
            let run = try ChildProcess.run(["verify", file, "--reference", reference] + data)
            let layers = try #require(try jsonObject(run.stdout)["layers"] as? [[String: Any]], "\(run.stdout)\(run.stderr)")
            return (run.status, layers.first { $0["name"] as? String == "dense_2" } ?? [:])
        }
        let against = try dense2(output, intermediate)
        #expect(against.status == 0 && against.row["record_check"] as? String == "agrees", "\(against.row)")
        for reference in [unrelated, regrouped] {
            let (status, row) = try dense2(output, reference)
            #expect(status == 0 && row["record_check"] as? String == "not_checked" && row["agrees_with_record"] == nil, "\(reference): \(row)")
            #expect((row["record_check_reason"] as? String)?.contains("the reference's kernel is not it (its SHA-256 is not the one the file records, "
                                                                      + "nor is it once rounded to i8 codes") == true, "\(reference): \(row)")
        }
        let old = try dense2(older, intermediate)
        #expect(old.status == 0 && old.row["record_check"] as? String == "not_checked", "\(old.row)")
        #expect((old.row["record_check_reason"] as? String)?.contains("does not record that kernel's SHA-256") == true, "\(old.row)")
    }
}

extension StoredKernelVerifyCLITests {
    @Test("a layer kept whole in f16 or bf16 (--all-kernels) and factorized by a re-conversion: against the original its +from-stored record is checked against the original's kernel rounded to that dtype, which is the kernel it started from (its SHA-256 is the recorded one), and agrees (was: not checked); the note says so in verify's text and the report, JSON record_check_rounding", arguments: ["f16", "bf16"])
    func halfPrecisionKernelAgainstOriginal(_ dtype: String) throws {
        let scratch = try Scratch()
        let intermediate = scratch.file("half.lrm"), output = scratch.file("re.lrm"), page = scratch.file("r.html")
        let first = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "--layer", "dense_2=rank:64",
                                          "--factor-dtype", dtype, "--all-kernels", "-o", intermediate])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try ChildProcess.run(["convert", intermediate, "--policy", "rank:16", "-o", output])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try ContainerFile(path: output).header.model.layers.first { $0.name == "dense_2" }?.operation.factorizationRecord?.fromStoredKernel == dtype)
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned", "--max-accuracy-drop", "100"]
        func dense2(_ reference: String) throws -> [String: Any] {
            let run = try ChildProcess.run(["verify", output, "--reference", reference, "--json"] + data)
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            let layers = try #require(try jsonObject(run.stdout)["layers"] as? [[String: Any]], "\(run.stdout)\(run.stderr)")
            return layers.first { $0["name"] as? String == "dense_2" } ?? [:]
        }
        let original = try dense2(samples + "churn_mlp.h5")
        #expect(original["record_check"] as? String == "agrees" && original["record_check_rounding"] as? String == dtype, "\(original)")
        let input = try dense2(intermediate)
        #expect(input["record_check"] as? String == "agrees" && input["record_check_rounding"] == nil, "\(input)")
        let note = "dense_2: record checked against the reference's kernel rounded to \(dtype), which is the kernel this layer was factorized from"
        let text = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + data)
        #expect(text.status == 0 && text.stdout.contains(note), "\(text.stdout)")
        let report = try ChildProcess.run(["report", output, "--reference", samples + "churn_mlp.h5", "-o", page] + data.dropLast(2))
        #expect(report.status == 0, "\(report.stderr)")
        #expect(try String(contentsOfFile: page, encoding: .utf8).contains(note), "report")
    }
}

extension StoredKernelVerifyCLITests {
    @Test("a layer kept whole as i8 or i4 codes by a conversion without data (--all-kernels) and factorized by a re-conversion: against the original its +from-stored record is checked against the original's kernel rounded to codes in the layout the file records (conversion.from_stored_rounding), which is the kernel it started from, and agrees (was: not checked); a record changed since disagrees, FAIL exit 1", arguments: [
        ["--factor-dtype", "i8"], ["--factor-dtype", "i4", "--group-size", "16"], ["--factor-dtype", "i8", "--group-size", "32", "--scale-dtype", "f32", "--quant-scheme", "asymmetric"],
    ])
    func codesKernelAgainstOriginal(_ storage: [String]) throws {
        let scratch = try Scratch()
        let intermediate = scratch.file("codes.lrm"), output = scratch.file("re.lrm"), changed = scratch.file("changed.lrm")
        let first = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "--layer", "dense_2=rank:64", "--all-kernels",
                                          "-o", intermediate] + storage)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try ChildProcess.run(["convert", intermediate, "--policy", "rank:16", "-o", output])
        #expect(second.status == 0, "\(second.stderr)")
        let dtype = storage[1], group = storage.count > 2 ? storage[3] : "128"
        let scale = storage.contains("f32") ? "f32" : "f16", scheme = storage.contains("asymmetric") ? "asymmetric" : "symmetric"
        let model = try ContainerFile(path: output).loadModel()
        #expect(model.metadata[MetadataKey.conversionFromStoredRounding] == .strings(["\(group) \(scale) \(scheme) dense_2"]), "\(model.metadata)")
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned", "--max-accuracy-drop", "100"]
        func dense2(_ file: String, _ reference: String) throws -> (status: Int32?, row: [String: Any]) {
            let run = try ChildProcess.run(["verify", file, "--reference", reference, "--json"] + data)
            let layers = try #require(try jsonObject(run.stdout)["layers"] as? [[String: Any]], "\(run.stdout)\(run.stderr)")
            return (run.status, layers.first { $0["name"] as? String == "dense_2" } ?? [:])
        }
        let original = try dense2(output, samples + "churn_mlp.h5")
        let layout = (group == "128" ? "one \(scale) scale per column" : "one \(scale) scale per \(group) rows of a column")
            + (scheme == "asymmetric" ? ", with zero points" : ", symmetric")
        #expect(original.status == 0 && original.row["record_check"] as? String == "agrees" && original.row["record_check_rounding"] as? String == dtype
                && original.row["record_check_rounding_layout"] as? String == layout, "\(original.row)")
        let text = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + data)
        #expect(text.status == 0 && text.stdout.contains("dense_2: record checked against the reference's kernel rounded to \(dtype) codes (\(layout)) "
                                                          + "as a conversion without data rounds it, which is the kernel this layer was factorized from"),
                "\(text.stdout)")
        // The record's error changed: checked against the same rounded kernel, it disagrees.
        var altered = model
        let index = try #require(altered.layers.firstIndex { $0.name == "dense_2" })
        guard case let .factorizedDense(us, vt, bias, activation, f) = altered.layers[index].operation else { Issue.record("dense_2 not factorized"); return }
        var record = f
        record.relativeError = f.relativeError * 0.9
        altered.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: record)
        try ContainerWriter.write(altered, to: changed)
        let failed = try dense2(changed, samples + "churn_mlp.h5")
        #expect(failed.status == 1 && failed.row["record_check"] as? String == "disagrees" && failed.row["record_check_rounding"] as? String == dtype,
                "\(failed.row)")
    }
}

extension StoredKernelVerifyCLITests {
    @Test("a +from-stored(i4) record not checked against the original says which layout of codes verify tried: the defaults when the file records none it reads (its conversion.from_stored_rounding removed, or an entry of group 0), or that the recorded group size does not divide the kernel's rows (it said only 'nor is it once rounded to i4 codes')")
    func codesLayoutTriedSaid() throws {
        let scratch = try Scratch()
        let codes = scratch.file("codes.lrm"), output = scratch.file("re.lrm")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "--layer", "dense_2=rank:64", "--all-kernels",
                                      "--factor-dtype", "i4", "--group-size", "16", "-o", codes]).status == 0)
        #expect(try ChildProcess.run(["convert", codes, "--policy", "rank:16", "-o", output]).status == 0)
        let model = try ContainerFile(path: output).loadModel()
        let defaults = "i4 codes (one f16 scale per column, symmetric, the defaults: the file records no layout for this layer that lrm reads, "
            + "in conversion.from_stored_rounding) as a conversion without data rounds them"
        let cases: [(MetadataValue?, String)] = [
            (nil, defaults),
            (.strings(["0 f16 symmetric dense_2"]), defaults),
            (.strings(["3 f16 symmetric dense_2"]), "i4 codes (the layout the file records, 3 rows per scale, does not divide the kernel's 128 rows) as a conversion"),
        ]
        for (index, (value, expected)) in cases.enumerated() {
            var changed = model
            changed.metadata[MetadataKey.conversionFromStoredRounding] = value
            let file = scratch.file("c\(index).lrm")
            try ContainerWriter.write(changed, to: file)
            let run = try ChildProcess.run(["verify", file, "--reference", samples + "churn_mlp.h5", "--json", "--inputs", samples + "churn.csv",
                                            "--label-column", "churned"])
            let layers = try #require(try jsonObject(run.stdout)["layers"] as? [[String: Any]], "\(run.stdout)\(run.stderr)")
            let row = layers.first { $0["name"] as? String == "dense_2" } ?? [:]
            #expect(run.status == 0 && row["record_check"] as? String == "not_checked", "\(row)")
            #expect((row["record_check_reason"] as? String)?.contains("nor is it once rounded to " + expected) == true, "\(index): \(row)")
        }
    }
}

extension LayerOperation {
    /// The factorization record of a factorized layer, nil otherwise.
    var factorizationRecord: Factorization? {
        switch self {
        case let .factorizedDense(_, _, _, _, f), let .factorizedConv2D(_, _, _, _, _, _, f): f
        default: nil
        }
    }
}

/// Factors stored as integer codes, re-stored or re-truncated in float by a later conversion.
@Suite("verify of factors that were integer codes")
struct RoundedFactorsVerifyCLITests {
    let samples = TestPackage.root + "/samples/"

    @Test("an i4 file re-truncated (rank 8 → 4) or re-stored in f32: the records say +rounded(i4) and verify against the original passes, the re-truncated error marked an estimate (was: FAIL, exit 1, 'metadata dense_1' on the error or the energy)")
    func reconvertedCodes() throws {
        let scratch = try Scratch()
        let codes = scratch.file("i4.lrm"), truncated = scratch.file("r4.lrm"), restored = scratch.file("f32.lrm")
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "--factor-dtype", "i4", "-o", codes]).status == 0)
        let first = try ChildProcess.run(["convert", codes, "--policy", "rank:4", "-o", truncated])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try ChildProcess.run(["convert", codes, "--policy", "rank:8", "--factor-dtype", "f32", "-o", restored])
        #expect(second.status == 0, "\(second.stderr)")
        for (file, step, estimate) in [(truncated, "+rounded(i4)+retruncated(8→4)", true), (restored, "+rounded(i4)+restored(f32)", false)] {
            let records = try ContainerFile(path: file).header.model.layers.compactMap { $0.operation.factorizationRecord }
            #expect(records.count == 2 && records.allSatisfy { $0.method.hasSuffix(step) && $0.relativeErrorIsEstimate == estimate }, "\(records.map(\.method))")
            let verify = try ChildProcess.run(["verify", file, "--reference", samples + "churn_mlp.h5"] + data + ["--max-accuracy-drop", "100", "--json"])
            #expect(verify.status == 0, "\(step): \(verify.stdout)\(verify.stderr)")
            let layers = try #require(try jsonObject(verify.stdout)["layers"] as? [[String: Any]]).filter { $0["record_check"] != nil }
            #expect(layers.count == 2 && layers.allSatisfy {
                $0["record_check"] as? String == "agrees" && $0["recorded_energy_is_truncations"] as? Bool == true
                    && ($0["recorded_error_is_estimate"] as? Bool ?? false) == estimate
            }, "\(step): \(layers)")
        }
        // The spectrum is still checked: a re-truncated record with its singular values scaled fails.
        var model = try ContainerFile(path: truncated).loadModel()
        let index = try #require(model.layers.firstIndex { $0.name == "dense_2" })
        guard case let .factorizedDense(us, vt, bias, activation, f) = model.layers[index].operation else { return }
        var record = f
        record.singularValues = f.singularValues.map { $0 * 1.05 }
        model.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: record)
        let tampered = scratch.file("tampered.lrm")
        try ContainerWriter.write(model, to: tampered)
        let caught = try ChildProcess.run(["verify", tampered, "--reference", samples + "churn_mlp.h5"] + data + ["--max-accuracy-drop", "100"])
        #expect(caught.status == 1 && caught.stdout.contains("FAIL  metadata dense_2"), "\(caught.stdout)")
        let text = try ChildProcess.run(["verify", truncated, "--reference", samples + "churn_mlp.h5"] + data + ["--max-accuracy-drop", "100"])
        #expect(text.stdout.contains("e ≈") && text.stdout.contains("≈ the file's error is its re-truncation's estimate"), "\(text.stdout)")
    }
}
