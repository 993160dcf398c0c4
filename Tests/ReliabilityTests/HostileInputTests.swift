import Foundation
import LRMFormat
import LRMTestSupport
import Testing
import ZIPFoundation

/// Runs `lrm arguments…` through /bin/sh in `directory` (so that a bare file name is passed as it is),
/// with `prefix` run first (e.g. `ulimit -f 64; trap '' XFSZ`). A crash shows as 128 + signal.
func runInShell(_ arguments: [String], in directory: String, prefix: String = "true") throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "cd \"$1\" && \(prefix) && shift && exec \"$0\" \"$@\"", TestPackage.lrm, directory] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_BACKTRACE"] = "enable=no"
    process.environment = environment
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    try process.run()
    nonisolated(unsafe) var outData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { outData = output.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let errData = errors.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return (status, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Issue 19, items 5 and 8: crafted Keras files, names and option values.
@Suite("Hostile inputs: duplicate archive members, names, options")
struct HostileInputTests {
    /// A copy of `mlp.keras` with a second `config.json` (its first Dense's activation replaced by sigmoid)
    /// or a second `model.weights.h5` appended: Keras (Python's zipfile) reads the last of two members.
    static func duplicateMemberArchive(at path: String, duplicating member: String) throws {
        let source = try Archive(url: URL(fileURLWithPath: Fixtures.path("mlp.keras")), accessMode: .read)
        let target = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        var members: [(String, Data)] = []
        for entry in source {
            var data = Data()
            _ = try source.extract(entry) { data.append($0) }
            members.append((entry.path, data))
        }
        let original = try #require(members.first { $0.0 == member }).1
        var duplicate = original
        if member == "config.json" {
            let text = String(decoding: original, as: UTF8.self)
            #expect(text.contains("\"relu\""))
            duplicate = Data(text.replacingOccurrences(of: "\"relu\"", with: "\"sigmoid\"").utf8)
        }
        for (name, data) in members + [(member, duplicate)] {
            try target.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count)) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
    }

    @Test(".keras with two config.json or two model.weights.h5 is refused (exit 65) naming the member", arguments: ["config.json", "model.weights.h5"])
    func duplicateMembers(member: String) throws {
        let scratch = try Scratch()
        let path = scratch.file("twice.keras")
        try Self.duplicateMemberArchive(at: path, duplicating: member)
        for arguments in [["inspect", path], ["import", path, "-o", scratch.file("o.lrm")]] {
            let result = try ChildProcess.run(arguments, timeout: 60)
            #expect(result.isCleanError && result.status == 65, "\(arguments): \(result)")
            #expect(result.stderr.contains(member) && result.stderr.contains("2 members"), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o.lrm")))
    }

    @Test(".keras whose weights member expands past 64 times the archive (and past 64 MiB) is refused before extraction, exit 65")
    func expansionCap() throws {
        let scratch = try Scratch()
        let path = scratch.file("inflating.keras")
        let source = try Archive(url: URL(fileURLWithPath: Fixtures.path("mlp.keras")), accessMode: .read)
        let target = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        for entry in source where entry.path != "model.weights.h5" {
            var data = Data()
            _ = try source.extract(entry) { data.append($0) }
            try target.addEntry(with: entry.path, type: .file, uncompressedSize: Int64(data.count)) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        // 65 MiB of zeros with a pseudo-random byte every 4 KiB: deflate shrinks it about 200:1, well within the
        // per-member ratio limit (1032:1), so only the cap against the archive's size stops it.
        let size = 65 << 20
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        try target.addEntry(with: "model.weights.h5", type: .file, uncompressedSize: Int64(size), compressionMethod: .deflate) { position, chunk in
            var data = Data(count: chunk)
            var offset = (4096 - Int(position) % 4096) % 4096
            while offset < chunk {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                data[offset] = UInt8(truncatingIfNeeded: state >> 56)
                offset += 4096
            }
            return data
        }
        let archiveBytes = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(archiveBytes * 64 < size && archiveBytes * 1032 > size, "\(archiveBytes) bytes")
        let temporary = try Scratch()
        let result = try ChildProcess.run(["inspect", path], environment: ["TMPDIR": temporary.path], timeout: 60)
        #expect(result.isCleanError && result.status == 65, "\(result)")
        #expect(result.stderr.contains("more than 64 times its size"), "\(result.stderr)")
        #expect(temporary.contents().isEmpty, "\(temporary.contents())")
    }

    @Test("a Keras file whose name starts with '-' is read like any other")
    func dashFileName() throws {
        let scratch = try Scratch()
        try FileManager.default.copyItem(atPath: Fixtures.path("mlp.h5"), toPath: scratch.file("-mlp.h5"))
        let inspected = try runInShell(["inspect", "--", "-mlp.h5"], in: scratch.path)
        #expect(inspected.status == 0 && inspected.stdout.contains("dense"), "\(inspected)")
        let imported = try runInShell(["import", "-o", "m.lrm", "--", "-mlp.h5"], in: scratch.path)
        #expect(imported.status == 0, "\(imported)")
        #expect(try ContainerFile(path: scratch.file("m.lrm")).loadModel().layers.count > 0)
    }

    @Test("--config given for a full Keras model or a .lrm is refused (64), and a missing one (66), instead of being ignored")
    func configForFullModel() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 2), to: model)
        let config = Fixtures.path("mlp.keras")
        let cases: [([String], Int32, String)] = [
            (["inspect", Fixtures.path("mlp.h5"), "--config", config], 64, "would be ignored"),
            (["import", Fixtures.path("mlp.keras"), "--config", config, "-o", scratch.file("o.lrm")], 64, "would be ignored"),
            (["import", Fixtures.path("mlp.h5"), "--config", scratch.file("missing.json"), "-o", scratch.file("o.lrm")], 66, "missing.json"),
            (["convert", model, "--config", config, "--dry-run"], 64, "records its own architecture"),
        ]
        for (arguments, status, text) in cases {
            let result = try ChildProcess.run(arguments, timeout: 60)
            #expect(result.status == status && result.stderr.contains(text), "\(arguments): \(result)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
        // A weights-only file still takes it.
        let weights = try ChildProcess.run(["inspect", Fixtures.path("mlp.weights.h5"), "--config", config], timeout: 60)
        #expect(weights.status == 0, "\(weights)")
    }

    @Test("ESC and other control characters from a Keras config never reach the terminal raw")
    func escapeSequencesInNames() throws {
        let scratch = try Scratch()
        let config = scratch.file("esc.json")
        let text = #"{"class_name": "Sequential", "config": {"name": "m\u001b]0;title\u0007", "layers": ["#
            + #"{"class_name": "InputLayer", "config": {"name": "input", "batch_shape": [null, 4]}}, "#
            + #"{"class_name": "Dense", "config": {"name": "d\u001b[31m", "units": 3, "activation": "\u001b[2Jx", "use_bias": true}}]}}"#
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try ChildProcess.run(["import", Fixtures.path("mlp.weights.h5"), "--config", config, "-o", scratch.file("o.lrm")], timeout: 60)
        #expect(result.isCleanError, "\(result)")
        #expect(!result.stderr.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "raw control characters: \(result.stderr.debugDescription)")
        #expect(result.stderr.contains("\\u{1b}[2Jx"), "\(result.stderr)")
    }

    @Test("convert's numeric options out of range are a bad command line (64): NaN, 1e308, a rank past 2³¹−1")
    func optionRanges() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 2), to: model)
        for (option, value) in [("--confidence", "nan"), ("--confidence", "-1"), ("--alpha", "1e308"), ("--alpha", "nan"),
                                ("--ridge", "inf"), ("--round-rank", "9223372036854775807")] {
            let result = try ChildProcess.run(["convert", model, "--dry-run", option, value], timeout: 60)
            #expect(result.status == 64 && result.stderr.contains(option), "\(option) \(value): \(result)")
        }
    }

    @Test("a --policy given with a search, which chooses every rank itself, is a warning saying what is used of it")
    func policyWithSearch() throws {
        let samples = TestPackage.root + "/samples/"
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned", "--dry-run", "--target-ratio", "0.5"]
        for (policy, expected) in [("rank:4", "is not used by the search"), ("whitened:0.8", "only its metric, whitened, is used")] {
            let result = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", policy] + data, timeout: 120)
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("lrm: warning: --policy \(policy) is not used by the search") && result.stderr.contains(expected),
                    "\(policy): \(result.stderr)")
        }
        let plain = try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + data, timeout: 120)
        #expect(plain.status == 0 && !plain.stderr.contains("--policy"), "\(plain)")
    }

    @Test("a negative number after an option is reported as the value given (not \"Missing value\"), exit 64, one line")
    func negativeOptionValues() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 2), to: model)
        let cases: [[String]] = [
            ["convert", model, "--dry-run", "--round-rank", "-1"], ["convert", model, "--dry-run", "--seed", "-1"],
            ["convert", model, "--dry-run", "--target-ratio", "-0.2"], ["verify", model, "--dataset", "mnist", "--limit", "-5"],
            ["example", "-o", scratch.file("e.lrm"), "--seed", "-3"],
        ]
        for arguments in cases {
            let result = try ChildProcess.run(arguments, timeout: 60)
            let (option, value) = (arguments[arguments.count - 2], arguments[arguments.count - 1])
            #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result)")
            #expect(result.stderr.contains("\(option) takes no negative value, found '\(value)'") && !result.stderr.contains("Missing value"),
                    "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("e.lrm")))
    }
}
