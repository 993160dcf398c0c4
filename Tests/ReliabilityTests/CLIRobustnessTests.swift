import Foundation
import LRMTestSupport
import LRMFormat
import LRMNumPy
import Testing

/// Every command given missing files, directories, unreadable files, wrong formats and bad option values:
/// one line `lrm: error: …` naming the file or the option, the documented exit code, nothing written.
@Suite("CLI robustness: every command, every kind of bad input")
struct CLIRobustnessTests {
    /// One row of the table: arguments (with placeholders), the exit status, what stderr must name.
    struct Case: CustomStringConvertible, Sendable {
        var command: String
        var situation: String
        var arguments: [String]
        var status: Int32
        var naming: String
        /// Rows that need a non-root user (chmod 000 does not stop root from reading).
        var needsNonRoot = false
        var description: String { "\(command): \(situation)" }
    }

    // Placeholders, replaced in each run's scratch folder.
    static let model = "{model}", keras = "{keras}", npy = "{npy}", missing = "{missing}", directory = "{dir}"
    static let png = "{png}", text = "{text}", empty = "{empty}", unreadable = "{unreadable}", out = "{out}"
    static let data = "{data}"

    /// Input situations that apply to a command's main input file.
    static func inputRows(_ command: String, _ build: (String) -> [String], wrongFormatStatus: Int32 = 65) -> [Case] {
        [
            Case(command: command, situation: "missing file", arguments: build(missing), status: 66, naming: "missing.lrm"),
            Case(command: command, situation: "directory", arguments: build(directory), status: 66, naming: "folder"),
            Case(command: command, situation: "unreadable file", arguments: build(unreadable), status: 66, naming: "unreadable.lrm",
                 needsNonRoot: true),
            Case(command: command, situation: "a PNG image", arguments: build(png), status: wrongFormatStatus, naming: "image.png"),
            Case(command: command, situation: "a text file", arguments: build(text), status: wrongFormatStatus, naming: "notes.txt"),
            Case(command: command, situation: "an empty file", arguments: build(empty), status: wrongFormatStatus, naming: "empty.lrm"),
        ]
    }

    static let cases: [Case] = {
        var rows: [Case] = []
        rows += inputRows("inspect") { ["inspect", $0] }
        rows.append(Case(command: "inspect", situation: "a device", arguments: ["inspect", "/dev/null"], status: 66, naming: "/dev/null"))
        rows += inputRows("convert") { ["convert", $0, "-o", out] }
        rows += inputRows("import") { ["import", $0, "-o", out] }
        rows += inputRows("export") { ["export", $0, "--to", "keras", "-o", out + ".h5"] }
        rows += inputRows("predict (model)") { ["predict", $0, "--input", npy, "-o", out + ".npy"] }
        rows += inputRows("predict (inputs)") { ["predict", model, "--input", $0, "-o", out + ".npy"] }
        rows += inputRows("verify") { ["verify", $0, "--dataset", "mnist", "--data", data] }
        rows += inputRows("verify (reference)") { ["verify", model, "--reference", $0, "--dataset", "mnist", "--data", data] }
        rows += inputRows("sweep") { ["sweep", $0, "--dataset", "mnist", "--data", data] }
        rows += inputRows("report") { ["report", $0, "-o", out + ".html"] }
        rows += inputRows("report (sweep JSON)") { ["report", model, "-o", out + ".html", "--sweep", $0] }
        rows += inputRows("convert (--config)") { ["convert", Fixtures.path("mlp.weights.h5"), "-o", out, "--config", $0] }
        // Bad option values: exit 64, the option named.
        let bad: [(String, [String], String)] = [
            ("convert", ["convert", model, "-o", out, "--policy", "energy:2"], "policy"),
            ("convert", ["convert", model, "-o", out, "--policy", "rank:0"], "rank"),
            ("convert", ["convert", model, "-o", out, "--svd", "fastest"], "--svd"),
            ("convert", ["convert", model, "-o", out, "--round-rank", "-3"], "--round-rank"),
            ("convert", ["convert", model, "-o", out, "--input-scale", "abc"], "--input-scale"),
            ("convert", ["convert", model, "-o", out, "--input-shape", "0,3"], "--input-shape"),
            ("convert", ["convert", model, "-o", out, "--input-scale", "1,2,3"], "--input"),
            ("convert", ["convert", model, "-o", out, "--seed", "-1"], "--seed"),
            ("convert", ["convert", model, "-o", out, "--no-such-flag"], "--no-such-flag"),
            ("import", ["import", keras, "-o", out, "--input-layout", "nchw"], "--input-layout"),
            ("export", ["export", model, "--to", "onnx", "-o", out + ".h5"], "--to"),
            ("export", ["export", model, "--to", "keras", "-o", out + ".onnx"], "--output"),
            ("predict", ["predict", model, "--input", npy, "-o", out + ".npy", "--input-shape", "x"], "--input-shape"),
            ("verify", ["verify", model, "--dataset", "imagenet"], "imagenet"),
            ("verify", ["verify", model, "--dataset", "mnist", "--batch-size", "0"], "--batch-size"),
            ("verify", ["verify", model, "--dataset", "mnist", "--min-agreement", "2"], "--min-agreement"),
            ("sweep", ["sweep", model, "--dataset", "mnist", "--taus", "0.9,abc"], "--taus"),
            ("report", ["report", model, "-o", out + ".html", "--dataset", "svhn"], "svhn"),
            ("inspect", ["inspect"], "<file>"),
            ("example", ["example", "-o", out, "--seed", "many"], "--seed"),
        ]
        rows += bad.map { Case(command: $0.0, situation: "bad option \($0.1.dropFirst().joined(separator: " "))", arguments: $0.1, status: 64, naming: $0.2) }
        // Outputs that cannot be written: exit 73, the output named.
        for (command, arguments) in [("convert", ["convert", model, "--policy", "rank:4", "-o"]), ("import", ["import", keras, "-o"]),
                                     ("example", ["example", "-o"]), ("predict", ["predict", model, "--input", npy, "-o"]),
                                     ("export", ["export", model, "--to", "keras", "-o"]), ("report", ["report", model, "-o"])] {
            let suffix = command == "predict" ? ".npy" : command == "export" ? ".h5" : command == "report" ? ".html" : ".lrm"
            rows.append(Case(command: command, situation: "output folder missing", arguments: arguments + ["{scratch}/no/such/out" + suffix],
                             status: 73, naming: "no/such/out"))
            rows.append(Case(command: command, situation: "output is a directory", arguments: arguments + ["{scratch}/taken" + suffix],
                             status: 73, naming: "taken"))
        }
        return rows
    }()

    /// Makes the inputs in `scratch` and substitutes the placeholders.
    static func prepare(_ row: Case, in scratch: Scratch) throws -> [String] {
        try ContainerWriter.write(ExampleModel.make(seed: 2), to: scratch.file("model.lrm"))
        try NPY.write(try NumPyArray(shape: [2, 784], float32: [Float](repeating: 0.5, count: 1568)), to: scratch.file("x.npy"))
        try FileManager.default.createDirectory(atPath: scratch.file("folder"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch.file("data"), withIntermediateDirectories: true)
        for name in ["taken.lrm", "taken.npy", "taken.h5", "taken.html"] {
            try FileManager.default.createDirectory(atPath: scratch.file(name), withIntermediateDirectories: true)
        }
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 1, count: 64)).write(to: URL(fileURLWithPath: scratch.file("image.png")))
        try Data("these are notes, not a model\n".utf8).write(to: URL(fileURLWithPath: scratch.file("notes.txt")))
        _ = FileManager.default.createFile(atPath: scratch.file("empty.lrm"), contents: Data())
        try ContainerWriter.write(ExampleModel.make(seed: 4), to: scratch.file("unreadable.lrm"))
        chmod(scratch.file("unreadable.lrm"), 0)
        let substitutions = [
            model: scratch.file("model.lrm"), keras: Fixtures.path("mlp.h5"), npy: scratch.file("x.npy"),
            missing: scratch.file("missing.lrm"), directory: scratch.file("folder"), png: scratch.file("image.png"),
            text: scratch.file("notes.txt"), empty: scratch.file("empty.lrm"), unreadable: scratch.file("unreadable.lrm"),
            // Ends in .lrm, the extension convert, import and example check; other commands append theirs.
            out: scratch.file("out.lrm"), data: scratch.file("data"),
        ]
        return row.arguments.map { argument in
            var value = substitutions[argument] ?? argument
            for (key, replacement) in substitutions where value.hasPrefix(key) { value = replacement + value.dropFirst(key.count) }
            return value.replacingOccurrences(of: "{scratch}", with: scratch.path)
        }
    }

    @Test("a file shorter than its format's signature, and a folder named like a Keras file: what is wrong, for that format")
    func shortFilesAndKerasNamedFolders() throws {
        let scratch = try Scratch()
        try ContainerWriter.write(ExampleModel.make(seed: 2), to: scratch.file("model.lrm"))
        try NPY.write(try NumPyArray(shape: [1, 784], float32: [Float](repeating: 0.5, count: 784)), to: scratch.file("x.npy"))
        let lrm = try scratch.write([0x89], to: "cut.lrm")        // the first byte of the .lrm magic (and of HDF5's)
        let lrm3 = try scratch.write([0x89, 0x4C, 0x52], to: "cut3.bin")
        let h5 = try scratch.write([0x89], to: "cut.h5")
        let keras = try scratch.write([0x50], to: "cut.keras")   // "P", the first byte of a ZIP archive
        let folder = scratch.file("folder.h5")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let out = scratch.file("out.lrm")
        let cases: [([String], Int32, [String])] = [
            (["predict", lrm, "--input", scratch.file("x.npy"), "-o", scratch.file("y.npy")], 65, ["cut.lrm", "shorter than the 32-byte preamble"]),
            (["convert", lrm, "--policy", "rank:4", "-o", out], 65, ["cut.lrm", "shorter than the 32-byte preamble"]),
            (["export", lrm3, "--to", "keras", "-o", scratch.file("e.h5")], 65, ["cut3.bin", "shorter than the 32-byte preamble"]),
            (["import", h5, "-o", out], 65, ["cut.h5", "the start of an HDF5 signature: the file is truncated"]),
            (["inspect", h5], 65, ["cut.h5", "the start of an HDF5 signature: the file is truncated"]),
            (["inspect", h5, "--config", Fixtures.path("mlp.keras")], 65, ["cut.h5", "truncated"]),
            (["inspect", keras], 65, ["cut.keras", "the start of a ZIP archive's signature: the file is truncated"]),
            (["import", folder, "-o", out], 66, ["folder.h5", "is a directory, expected a .h5"]),
        ]
        let before = Set(scratch.contents())
        for (arguments, status, naming) in cases {
            let result = try ChildProcess.run(arguments, timeout: 60)
            #expect(result.status == status && result.isCleanError, "\(arguments): \(result)")
            for text in naming { #expect(result.stderr.contains(text), "\(arguments) should say \(text): \(result.stderr)") }
            #expect(!result.stderr.contains("not a .lrm file"), "\(arguments): \(result.stderr)")
        }
        #expect(Set(scratch.contents()) == before)
    }

    @Test("one line naming the file or option, the documented exit status, nothing written", arguments: cases)
    func row(_ row: Case) throws {
        if row.needsNonRoot && runningAsRoot {
            print("skipped '\(row)': running as root, chmod 000 does not stop reading")
            return
        }
        let scratch = try Scratch()
        let arguments = try Self.prepare(row, in: scratch)
        let before = Set(scratch.contents())
        let result = try ChildProcess.run(arguments, timeout: 60)
        #expect(result.status == row.status, "\(row): \(result)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && result.stderr.hasPrefix("lrm: error: "), "\(row): \(result.stderr)")
        #expect(result.stderr.contains(row.naming), "\(row) should name \(row.naming): \(result.stderr)")
        #expect(Set(scratch.contents()) == before, "\(row) wrote \(Set(scratch.contents()).subtracting(before))")
    }
}
