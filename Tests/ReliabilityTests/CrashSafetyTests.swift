import Foundation
import LRMTestSupport
import LRMFormat
import Testing

/// `lrm convert` killed with SIGKILL at seeded random moments: the target path holds the old file or the
/// complete new one, never a partial file. And after a clean error no temporary file is left.
@Suite("Crash safety: kills during convert never leave a partial target", .serialized)
struct CrashSafetyTests {
    /// The temporary files `AtomicFileWriter` makes for `name`: `.NAME.tmp-XXXXXX`.
    static func temporaries(_ scratch: Scratch, _ name: String) -> [String] {
        scratch.contents().filter { $0.hasPrefix(".\(name).tmp-") }
    }

    /// Polls `scratch` every 0.2 ms until a temporary file for `name` appears (or `deadline` passes);
    /// returns whether it did.
    static func waitForTemporary(_ scratch: Scratch, _ name: String, until deadline: Date) -> Bool {
        while Date() < deadline {
            if !temporaries(scratch, name).isEmpty { return true }
            usleep(200)
        }
        return false
    }

    struct Counts: CustomStringConvertible {
        var kills = 0, old = 0, new = 0, midWrite = 0, finishedFirst = 0
        var description: String {
            "\(kills) SIGKILLs: target held the old file \(old) times and the complete new file \(new) times "
                + "(never anything else); \(midWrite) kills landed while the temporary file was being written, "
                + "\(finishedFirst) runs finished before their kill"
        }
    }

    /// The CI run: a 1024 × 1024 layer kept dense (`--exclude`) and the small output layer factorized, so
    /// that each run writes 4 MB in about a second of a debug build. `LRM_KILL_FULL=1` runs the full recipe:
    /// a 2048 × 2048 layer (16 MB) converted with `--policy energy:0.9999 --svd exact` (45 s in a debug
    /// build; give `LRM_BINARY` a release build). `LRM_KILL_COUNT` and `LRM_KILL_SEED` set the rounds and the seed.
    @Test("SIGKILL at random moments: the target is always the old file or the complete new one")
    func killsDuringConvert() throws {
        let environment = ProcessInfo.processInfo.environment
        let full = environment["LRM_KILL_FULL"] == "1"
        let scratch = try Scratch()
        let input = scratch.file("big.lrm")
        let width = full ? 2048 : 1024
        try ContainerWriter.write(denseModel(widths: [width, width, 10], seed: 11), to: input)
        let target = "out.lrm"
        let options = full ? ["--policy", "energy:0.9999", "--svd", "exact"] : ["--policy", "rank:4", "--exclude", "dense_0"]
        let arguments = ["convert", input, "-o", scratch.file(target)] + options

        // The uncut run: its output, how long it takes, and how long its temporary file exists.
        let reference = scratch.file("reference.lrm")
        nonisolated(unsafe) var writeStart: Date?, writeEnd: Date?
        let watcher = Thread {
            if Self.waitForTemporary(scratch, "reference.lrm", until: Date() + 120) { writeStart = Date() }
            while !Self.temporaries(scratch, "reference.lrm").isEmpty { usleep(200) }
            writeEnd = Date()
        }
        watcher.start()
        let uncut = try ChildProcess.run(["convert", input, "-o", reference] + options, timeout: 600)
        #expect(uncut.status == 0, "\(uncut)")
        while writeEnd == nil { usleep(1000) }
        let expected = try Data(contentsOf: URL(fileURLWithPath: reference))
        let writeSeconds = max(0.001, (writeEnd ?? Date()).timeIntervalSince(writeStart ?? Date()))
        print("convert of a \(width)×\(width) layer (\(options.joined(separator: " "))): \(String(format: "%.2f", uncut.seconds)) s, of which ~\(String(format: "%.3f", writeSeconds)) s "
              + "with the temporary file present; output \(expected.count) bytes")

        // The old file at the target.
        let old = try ContainerWriter.encode(ExampleModel.make(seed: 3))
        var rng = SeededGenerator(seed: environment["LRM_KILL_SEED"].flatMap(UInt64.init) ?? 20)
        let rounds = environment["LRM_KILL_COUNT"].flatMap(Int.init) ?? 10
        var counts = Counts()
        for round in 0..<rounds {
            try Data(old).write(to: URL(fileURLWithPath: scratch.file(target)))
            let targeted = round % 2 == 1
            let fraction = Double(rng.next() % 1000) / 1000
            let result = try ChildProcess.run(arguments, timeout: 600) { pid in
                if targeted {
                    // Wait for the temporary file, then kill somewhere inside the write.
                    DispatchQueue.global().async {
                        _ = Self.waitForTemporary(scratch, target, until: Date() + 120)
                        usleep(UInt32(fraction * writeSeconds * 1_000_000))
                        kill(pid, SIGKILL)
                    }
                } else {
                    let delay = fraction * uncut.seconds * 1.1
                    afterDelay(delay) { kill(pid, SIGKILL) }
                }
            }
            let leftovers = Self.temporaries(scratch, target)
            let now = try Data(contentsOf: URL(fileURLWithPath: scratch.file(target)))
            if result.ending == .signal(SIGKILL) {
                counts.kills += 1
                if !leftovers.isEmpty { counts.midWrite += 1 }
            } else {
                #expect(result.status == 0, "\(result)")
                counts.finishedFirst += 1
            }
            if now == Data(old) {
                counts.old += 1
            } else {
                #expect(now == expected, "round \(round): the target is neither the old file nor the complete new one (\(now.count) bytes)")
                #expect((try? ContainerFile(path: scratch.file(target)).verifyAllChecksums()) != nil)
                counts.new += 1
            }
            // SIGKILL cannot be caught: a kill inside the write leaves its temporary file, never the target.
            for name in leftovers { try FileManager.default.removeItem(atPath: scratch.file(name)) }
        }
        print("crash safety: \(counts)")
        #expect(counts.old + counts.new == rounds)
        #expect(counts.kills > 0)
    }

    @Test("clean errors leave no temporary file and no output", arguments: ["missing input", "bad input", "output is a directory",
                                                                             "output folder missing", "bad option", "unreadable output folder"])
    func noLeftoversOnCleanError(_ situation: String) throws {
        let scratch = try Scratch()
        let example = scratch.file("e.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 1), to: example)
        var arguments = ["convert", example, "-o", scratch.file("o.lrm"), "--policy", "rank:4"]
        var status: Int32 = 65
        switch situation {
        case "missing input":
            arguments[1] = scratch.file("nope.lrm")
            status = 66
        case "bad input":
            try Data("not a model".utf8).write(to: URL(fileURLWithPath: scratch.file("bad.lrm")))
            arguments[1] = scratch.file("bad.lrm")
        case "output is a directory":
            try FileManager.default.createDirectory(atPath: scratch.file("o.lrm"), withIntermediateDirectories: false)
            status = 73
        case "output folder missing":
            arguments[3] = scratch.file("no/such/o.lrm")
            status = 73
        case "bad option":
            arguments += ["--factor-dtype", "f7"]
            status = 64
        default:
            guard !runningAsRoot else {
                print("skipped '\(situation)': running as root, a folder without write permission is still writable")
                return
            }
            let folder = scratch.file("locked")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
            chmod(folder, 0o555)
            defer { chmod(folder, 0o755) }
            arguments[3] = folder + "/o.lrm"
            status = 73
        }
        let before = Set(scratch.contents())
        let result = try ChildProcess.run(arguments)
        #expect(result.status == status, "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        let after = Set(scratch.contents())
        #expect(after == before, "left behind: \(after.subtracting(before))")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o.lrm")) || situation == "output is a directory")
    }
}
