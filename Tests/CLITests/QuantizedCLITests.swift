import Foundation
import LRMTestSupport
import LRMFormat
import LRMNumPy
import Testing

@Suite("Quantized factors on the command line")
struct QuantizedCLITests {
    @Test("--factor-dtype i8/i4: the file holds codes and scales, inspect shows bytes and bits per parameter, predict runs it")
    func convertsAndInspects() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm"), quantized = scratch.file("q.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        // rank:3 is made even for i4 (--round-rank 2), so every factor has an even count.
        let convert = try ChildProcess.run(["convert", model, "--policy", "rank:3", "--factor-dtype", "i4", "--group-size", "16",
                                            "--all-kernels", "-o", quantized])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stdout.contains("bits/param"))
        let file = try ContainerFile(path: quantized)
        #expect(file.minorVersion == 2)
        #expect(file.header.model.layers.contains { $0.kindName == "quantized_factorized_dense" })
        #expect(file.header.tensors.contains { $0.dtype == .int4 } && file.header.tensors.contains { $0.name.hasSuffix("/us_scales") })
        let inspect = try ChildProcess.run(["inspect", quantized])
        #expect(inspect.status == 0 && inspect.stdout.contains("bits/param") && inspect.stdout.contains("quantized_factorized_dense"),
                "\(inspect.stdout)")
        let json = try ChildProcess.run(["inspect", quantized, "--json"])
        #expect(json.stdout.contains("\"bits_per_parameter\"") && json.stdout.contains("\"stored_bytes\""))
        let i8 = try ChildProcess.run(["convert", model, "--policy", "rank:3", "--factor-dtype", "i8", "-o", scratch.file("q8.lrm")])
        #expect(i8.status == 0, "\(i8.stderr)")

        // export --to keras writes the dequantized weights: importing them back gives codes × scales as floats.
        let keras = scratch.file("q.h5"), back = scratch.file("back.lrm")
        let export = try ChildProcess.run(["export", quantized, "--to", "keras", "-o", keras])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try ChildProcess.run(["import", keras, "-o", back]).status == 0)
        let original = try file.loadModel(), imported = try ContainerFile(path: back).loadModel()
        guard let layer = original.layers.first(where: { if case .factorizedDense(let us, _, _, _, _) = $0.operation { return us.quantization != nil }; return false }),
              case let .factorizedDense(us, vt, _, _, _) = layer.operation else { Issue.record("no quantized layer"); return }
        let dense = imported.layers.compactMap { layer -> [Float]? in
            if case let .dense(kernel, _, _) = layer.operation { return kernel.floats() }
            return nil
        }
        #expect(dense.contains(us.floats()) && dense.contains(vt.floats()), "the exported kernels are the dequantized factors")
    }

    @Test("bad quantization requests: one-line errors, exit 64 or 65, nothing written")
    func badRequests() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm"), out = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        expectOneLineError(try ChildProcess.run(["convert", model, "--policy", "rank:3", "--factor-dtype", "i8", "--group-size", "5", "-o", out]),
                           status: 65, naming: "group size 5")
        expectOneLineError(try ChildProcess.run(["convert", model, "--group-size", "4", "-o", out]), status: 64, naming: "--group-size")
        expectOneLineError(try ChildProcess.run(["convert", model, "--factor-dtype", "i8", "--group-size", "0", "-o", out]),
                           status: 64, naming: "--group-size")
        expectOneLineError(try ChildProcess.run(["convert", model, "--target-size", "40KiB", "-o", out]), status: 64, naming: "--dataset")
        expectOneLineError(try ChildProcess.run(["convert", model, "--target-size", "forty", "--dataset", "mnist", "-o", out]),
                           status: 64, naming: "forty")
        expectOneLineError(try ChildProcess.run(["convert", model, "--minimize", "bytes", "-o", out]), status: 64, naming: "--target-accuracy-drop")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("--quant-scheme asymmetric: zero points (format 1.3), inspect shows the kinds and bits per parameter, predict runs it")
    func asymmetric() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm"), symmetric = scratch.file("s.lrm"), asymmetric = scratch.file("a.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let common = ["convert", model, "--policy", "rank:4", "--factor-dtype", "i4", "--group-size", "16", "--all-kernels"]
        #expect(try ChildProcess.run(common + ["-o", symmetric]).status == 0)
        let convert = try ChildProcess.run(common + ["--quant-scheme", "asymmetric", "-o", asymmetric])
        #expect(convert.status == 0, "\(convert.stderr)")
        let file = try ContainerFile(path: asymmetric)
        #expect(file.minorVersion == 3)
        #expect(file.header.model.layers.contains { $0.kindName == "quantized_factorized_dense_zp" })
        #expect(file.header.tensors.contains { $0.name.hasSuffix("/us_zero_points") })
        #expect(file.header.metadata[MetadataKey.conversionZeroPoints] == .bool(true))
        // The default stays symmetric (format 1.2).
        #expect(try ContainerFile(path: symmetric).minorVersion == 2)
        let inspect = try ChildProcess.run(["inspect", asymmetric, "--verify"])
        #expect(inspect.status == 0 && inspect.stdout.contains("quantized_factorized_dense_zp") && inspect.stdout.contains("bits/param"),
                "\(inspect.stdout)")
        // predict and verify run it (the example model takes 784 features; labels 0…9).
        let x = (0..<(32 * 784)).map { Float(($0 * 7919) % 256) / 255 }
        try NPY.write(try NumPyArray(shape: [32, 784], float32: x), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [32], float32: (0..<32).map { Float($0 % 10) }), to: scratch.file("y.npy"))
        let predict = try ChildProcess.run(["predict", asymmetric, "--input", scratch.file("x.npy"), "--output", scratch.file("p.npy")])
        #expect(predict.status == 0, "\(predict.stderr)")
        let verify = try ChildProcess.run(["verify", asymmetric, "--reference", model, "--inputs", scratch.file("x.npy"),
                                           "--labels", scratch.file("y.npy")])
        #expect(verify.status == 0 || verify.status == 1, "\(verify.stderr)")
        #expect(verify.stdout.contains("quantized_factorized_dense_zp"), "\(verify.stdout)")

        // export --to keras writes (codes − zero points) × scales.
        let keras = scratch.file("a.h5"), back = scratch.file("back.lrm")
        let export = try ChildProcess.run(["export", asymmetric, "--to", "keras", "-o", keras])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try ChildProcess.run(["import", keras, "-o", back]).status == 0)
        let original = try file.loadModel(), imported = try ContainerFile(path: back).loadModel()
        let dense = imported.layers.compactMap { layer -> [Float]? in
            if case let .dense(kernel, _, _) = layer.operation { return kernel.floats() }
            return nil
        }
        // (The example's hidden layer is already factorized: --factor-dtype given, it is truncated further and stored with zero points
        // too; its output layer is factorized here, with zero points.)
        let quantizedLayers = original.layers.filter { layer in
            if case .factorizedDense(let us, _, _, _, _) = layer.operation { return us.quantization?.zeroPoints != nil }
            return false
        }
        #expect(quantizedLayers.count == 2)
        for layer in quantizedLayers {
            guard case let .factorizedDense(us, vt, _, _, _) = layer.operation else { continue }
            #expect(dense.contains(us.floats()) && dense.contains(vt.floats()), "the exported kernels are the dequantized factors")
        }
    }

    @Test("a plain i4 conversion passes verify --reference, symmetric or asymmetric: the record's energy is the truncation's, and rounding only lowers 1 − e² (was: every such file failed, exit 1)",
          arguments: ["symmetric", "asymmetric"])
    func roundedFactorsAgreeWithTheirRecord(scheme: String) throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/", converted = scratch.file("c.lrm")
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        let convert = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "energy:0.9", "--factor-dtype", "i4",
                                            "--quant-scheme", scheme, "-o", converted])
        #expect(convert.status == 0, "\(convert.stderr)")
        let run = try ChildProcess.run(["verify", converted, "--reference", samples + "churn_mlp.h5"] + data + ["--max-accuracy-drop", "100", "--json"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let json = try jsonObject(run.stdout)
        let layers = try #require(json["layers"] as? [[String: Any]])
        let factorized = layers.filter { $0["agrees_with_record"] != nil }
        #expect(!factorized.isEmpty && factorized.allSatisfy { $0["agrees_with_record"] as? Bool == true }, "\(layers)")
        // The rounding does lower 1 − e² below the recorded (truncation's) energy, by more than the float tolerance.
        #expect(factorized.contains { (($0["recorded_retained_energy"] as? Double) ?? 0) - (($0["retained_energy"] as? Double) ?? 1) > 0.005 },
                "\(factorized)")
        #expect(json["result"] as? String == "pass")
    }

    @Test("bad zero-point requests and files: one-line errors, exit 64 or 65, nothing written")
    func badZeroPoints() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm"), out = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        expectOneLineError(try ChildProcess.run(["convert", model, "--quant-scheme", "asymmetric", "-o", out]), status: 64, naming: "--quant-scheme")
        expectOneLineError(try ChildProcess.run(["convert", model, "--factor-dtype", "i8", "--quant-scheme", "sideways", "-o", out]),
                           status: 64, naming: "sideways")
        for vector in ["zero_points_out_of_range", "zero_points_wrong_shape", "zero_points_missing"] {
            let path = TestPackage.root + "/spec/vectors/invalid/\(vector).lrm"
            expectOneLineError(try ChildProcess.run(["convert", path, "--policy", "rank:1", "-o", out]), status: 65, naming: vector)
            expectOneLineError(try ChildProcess.run(["export", path, "--to", "keras", "-o", scratch.file("out.h5")]), status: 65, naming: vector)
        }
        expectOneLineError(try ChildProcess.run(["inspect", TestPackage.root + "/spec/vectors/invalid/zero_points_out_of_range.lrm", "--verify"]),
                           status: 65, naming: "zero point")
        #expect(!FileManager.default.fileExists(atPath: out) && !FileManager.default.fileExists(atPath: scratch.file("out.h5")))
    }

    @Test("--factor-dtype i8/i4 with own data (--inputs) rounds against the layers' inputs on its training records, as with --dataset (was: rounded as without data, the data only tested on)")
    func ownDataRoundsTheCodes() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        /// Every quantized factor's dequantized values, layer by layer (the 10 codes a column of dense_1's U·Σ come out
        /// alike either way; its Vᵀ and dense_2's U·Σ do not).
        func codes(_ path: String) throws -> [Float] {
            let factors = try ContainerFile(path: path).loadModel().layers.flatMap { layer -> [Float] in
                guard case let .factorizedDense(us, vt, _, _, _) = layer.operation, us.quantization != nil else { return [] }
                return us.floats() + vt.floats()
            }
            #expect(!factors.isEmpty, "\(path): no quantized layer")
            return factors
        }
        for dtype in ["i8", "i4"] {
            let own = scratch.file("own-\(dtype).lrm"), plain = scratch.file("plain-\(dtype).lrm")
            let common = ["convert", samples + "churn_mlp.h5", "--policy", "rank:4", "--factor-dtype", dtype]
            let convert = try ChildProcess.run(common + data + ["-o", own], timeout: 120)
            #expect(convert.status == 0, "\(dtype): \(convert.stderr)")
            #expect(try ChildProcess.run(common + ["-o", plain], timeout: 120).status == 0)
            let metadata = try ContainerFile(path: own).header.metadata
            #expect(metadata["calibration.dataset"] == .string("own data"), "\(dtype): \(metadata)")
            // The training records only: 2,000 records, the last 400 held out for the test, a fifth of the rest for validation.
            #expect(metadata["calibration.count"] == .int(1280), "\(dtype): \(metadata)")
            #expect(try codes(own) != codes(plain), "\(dtype): the codes were rounded as without data")
        }
        // --calibration-samples now chooses records that are read: the file records that many.
        let sizedFile = scratch.file("sized.lrm")
        let sized = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:4", "--factor-dtype", "i8", "--calibration-samples", "500",
                                          "--validation-samples", "300", "-o", sizedFile] + data, timeout: 120)
        #expect(sized.status == 0, "\(sized.stderr)")
        #expect(try ContainerFile(path: sizedFile).header.metadata["calibration.count"] == .int(500))
    }

    @Test("--finetune of integer factors records that it trained through their rounding (finetune.rounding straight-through), inspect lists it; float factors do not")
    func finetuneRoundingRecorded() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        // 64 MNIST test images; the classes Keras predicts for them are the labels.
        let data = try writeKerasLabelledImages(in: scratch).options
        let base = ["convert", samples + "mnist_mlp.h5", "--input-scale", "1/255"] + data + ["--policy", "energy:0.5", "--finetune", "1"]
        for (dtype, recorded) in [("i8", true), ("f32", false)] {
            let out = scratch.file("\(dtype).lrm")
            let convert = try ChildProcess.run(base + ["--factor-dtype", dtype, "-o", out], timeout: 300)
            #expect(convert.status == 0, "\(convert.stderr)")
            let metadata = try ContainerFile(path: out).header.metadata
            #expect(metadata[MetadataKey.finetuneEpochs] != nil)
            #expect(metadata[MetadataKey.finetuneRounding] == (recorded ? .string("straight-through") : nil), "\(dtype): \(metadata)")
            let inspect = try ChildProcess.run(["inspect", out])
            #expect(inspect.status == 0)
            let row = inspect.stdout.split(separator: "\n").first { $0.contains("finetune.rounding") }
            #expect((row?.contains("straight-through") ?? false) == recorded, "\(dtype): \(inspect.stdout)")
        }
    }
}
