import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// The Keras reader child: its protocol (a mapped .lrm file and an error record, never stderr text),
/// its scratch folders, and what SIGINT/SIGTERM do to it.
@Suite("The Keras reader child process")
struct KerasChildTests {
    static let sample = TestPackage.root + "/samples/mnist_mlp.h5"
    static let hanging = TestPackage.root + "/Tests/ReliabilityTests/Crashers/hdf5/heap-loop.bf16.weights.h5"

    /// The command lines of running processes that mention `text`.
    static func processes(mentioning text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int32($0) != nil }.compactMap { pid -> String? in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(text) ? line : nil
        }
    }

    @Test("import through the child writes the same bytes as in-process import")
    func importThroughChild() throws {
        let scratch = try Scratch()
        let viaChild = scratch.file("child.lrm"), direct = scratch.file("direct.lrm")
        let arguments = ["import", Self.sample, "--input-scale", "1/255", "--input-offset", "-0.5"]
        let child = try ChildProcess.run(arguments + ["-o", viaChild], environment: ["TMPDIR": scratch.path])
        #expect(child.status == 0, "\(child)")
        let inProcess = try ChildProcess.run(arguments + ["-o", direct], environment: ["LRM_KERAS_IN_PROCESS": "1"])
        #expect(inProcess.status == 0, "\(inProcess)")
        #expect(FileManager.default.contents(atPath: viaChild) == FileManager.default.contents(atPath: direct))
        #expect(child.stdout.replacingOccurrences(of: viaChild, with: "X") == inProcess.stdout.replacingOccurrences(of: direct, with: "X"))
        #expect(scratch.contents().allSatisfy { !$0.hasPrefix("lrm-scratch-") }, "\(scratch.contents())")
    }

    @Test("the child's errors come back as records: the same line and exit status as in-process")
    func errorRecords() throws {
        let scratch = try Scratch()
        let weightsOnly = Fixtures.path("mlp.weights.h5")
        let cases: [[String]] = [
            ["inspect", weightsOnly],                                              // no architecture: 65
            ["convert", weightsOnly, "--config", Fixtures.path("mlp.weights.h5"), "-o", scratch.file("a.lrm")],  // bad architecture source
            ["import", Self.sample, "--input-shape", "5,5", "-o", scratch.file("b.lrm")],  // options do not fit: 64
            ["import", weightsOnly, "-o", scratch.file("c.lrm")],
        ]
        for arguments in cases {
            let child = try ChildProcess.run(arguments, environment: ["TMPDIR": scratch.path])
            let direct = try ChildProcess.run(arguments, environment: ["LRM_KERAS_IN_PROCESS": "1"])
            #expect(child.status != 0 && child.status == direct.status, "\(arguments): \(child) vs \(direct)")
            #expect(child.stderr == direct.stderr, "\(arguments)")
            #expect(child.stderr.hasPrefix("lrm: error: ") && child.stderr.split(separator: "\n").count == 1, "\(child)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("b.lrm")))
        #expect(scratch.contents().allSatisfy { !$0.hasPrefix("lrm-scratch-") }, "\(scratch.contents())")
    }

    /// Before: no test made the spawn fail, and its failure said exit 65, as if the file were at fault.
    @Test("a reader that cannot be started (missing, not executable): one line naming the file, the program and why, exit 71, nothing left",
          arguments: [("missing", "No such file or directory"), ("not-executable", "Permission denied")])
    func readerCannotStart(_ name: String, _ reason: String) throws {
        let scratch = try Scratch(), temporary = try Scratch()
        let reader = scratch.file(name)
        if name == "not-executable" { _ = try scratch.write(Array("#!/bin/sh\n".utf8), to: name) }
        let output = scratch.file("out.lrm")
        for arguments in [["inspect", Self.sample], ["import", Self.sample, "-o", output], ["convert", Self.sample, "-o", output]] {
            let result = try ChildProcess.run(arguments, environment: ["TMPDIR": temporary.path, "LRM_TEST_KERAS_READER": reader], timeout: 60)
            #expect(result.status == 71, "\(arguments): \(result)")
            #expect(result.stderr == "lrm: error: \(Self.sample): cannot start the Keras reader (\(reader)): \(reason)\n", "\(arguments): \(result)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
            #expect(temporary.contents().isEmpty, "\(arguments): \(temporary.contents())")
        }
    }

    /// Before: every signal read as the file's fault, "the HDF5 reader crashed on this file (signal 9, SIGKILL: out of
    /// memory?); the file is malformed", exit 65, though SIGKILL comes from outside (the OOM killer, a user).
    @Test("a reader killed from outside (SIGKILL, SIGTERM): one line saying so, exit 71, the file not blamed; a fault (SIGSEGV) still blames it, exit 65",
          arguments: [("KILL", Int32(71), "the Keras reader was killed (signal 9, SIGKILL), perhaps by the kernel's out-of-memory killer; the file was not read"),
                      ("TERM", Int32(71), "the Keras reader was killed (signal 15, SIGTERM); the file was not read"),
                      ("SEGV", Int32(65), "the HDF5 reader crashed on this file (signal 11, SIGSEGV); the file is malformed")])
    func readerKilled(_ signal: String, _ status: Int32, _ message: String) throws {
        let scratch = try Scratch(), temporary = try Scratch()
        // A reader that sends itself the signal, as the kernel's OOM killer would send SIGKILL to a reader using too much memory.
        let reader = try scratch.write(Array("#!/bin/sh\nkill -\(signal) $$\nsleep 10\n".utf8), to: "reader.sh")
        chmod(reader, 0o755)
        let output = scratch.file("out.lrm")
        for arguments in [["inspect", Self.sample], ["import", Self.sample, "-o", output]] {
            let result = try ChildProcess.run(arguments, environment: ["TMPDIR": temporary.path, "LRM_TEST_KERAS_READER": reader], timeout: 60)
            #expect(result.status == status, "\(arguments): \(result)")
            #expect(result.stderr == "lrm: error: \(Self.sample): \(message)\n", "\(arguments): \(result)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
            #expect(temporary.contents().isEmpty, "\(arguments): \(temporary.contents())")
        }
    }

    /// Before: the child died of SIGABRT on the failed allocation and the parent blamed the file: "the HDF5 reader
    /// crashed on this file (signal 6, SIGABRT); the file is malformed", exit 65.
    @Test("a Keras file whose 305 MiB kernel does not fit under ulimit -v 400000: the reader's one line, exit 71, nothing written")
    func readerOutOfMemory() throws {
        let scratch = try Scratch(), temporary = try Scratch()
        let path = scratch.file("large.h5"), config = scratch.file("config.json"), output = scratch.file("out.lrm")
        try HDF5Craft.legacyWeights(at: path, layer: "dense", kernelShape: [10_000, 8_000], layout: .contiguousAllocated)
        try HDF5Craft.denseConfig(layer: "dense", features: 10_000, units: 8_000).write(toFile: config, atomically: true, encoding: .utf8)
        let result = try ChildProcess.run(["import", path, "--config", config, "-o", output], environment: ["TMPDIR": temporary.path],
                                          timeout: 60, addressSpaceLimit: 400_000)
        #expect(result.status == 71, "\(result)")
        #expect(result.stderr.hasPrefix("lrm: error: \(path): reading the file: out of memory: could not allocate 305.2 MiB (320000032 bytes)")
                && result.stderr.contains("ulimit -v 400000 KiB") && result.stderr.split(separator: "\n").count == 1, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(temporary.contents().isEmpty, "\(temporary.contents())")
    }

    /// Before: the parent searched only the first 64 KiB of the child's messages for its error line, so a reader that
    /// had warned at length before it ran out of memory was reported as "the Keras reader failed with exit status 71", exit 65.
    @Test("a reader that ends with exit 71 after more than 64 KiB of warnings: its last error line, exit 71")
    func readerErrorAfterLongWarnings() throws {
        let scratch = try Scratch(), temporary = try Scratch()
        let warnings = String(repeating: "lrm: warning: " + String(repeating: "w", count: 100) + "\n", count: 700)
        let script = "#!/bin/sh\ncat >&2 <<'END'\n" + warnings + "lrm: error: out of memory: could not allocate 1 byte\nEND\nexit 71\n"
        let reader = try scratch.write(Array(script.utf8), to: "reader.sh")
        #expect(chmod(reader, 0o755) == 0)
        let result = try ChildProcess.run(["inspect", Self.sample], environment: ["TMPDIR": temporary.path, "LRM_TEST_KERAS_READER": reader],
                                          timeout: 60)
        #expect(result.status == 71, "\(result)")
        #expect(result.stderr == "lrm: error: \(Self.sample): reading the file: out of memory: could not allocate 1 byte\n", "\(result)")
        #expect(temporary.contents().isEmpty, "\(temporary.contents())")
    }

    @Test("a file name starting with '-' reaches the child as a file name")
    func dashName() throws {
        let scratch = try Scratch()
        let dashed = scratch.file("-model.h5")
        try FileManager.default.copyItem(atPath: Self.sample, toPath: dashed)
        let result = try ChildProcess.run(["inspect", "--", dashed], environment: ["TMPDIR": scratch.path])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("dense"))
    }

    @Test("stale scratch folders of dead processes are removed at start; nothing else is")
    func staleFolders() throws {
        let scratch = try Scratch()
        let pidMax = Int32((try? String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 4_194_304
        let dead = "lrm-scratch-\(pidMax + 1)-0a1b2c3d", alive = "lrm-scratch-\(getpid())-0a1b2c3d"
        let others = ["lrm-scratch-notapid", "lrm-read-keras-0a1b", "mine"]
        for name in [dead, alive] + others {
            try FileManager.default.createDirectory(atPath: scratch.file(name), withIntermediateDirectories: false)
            _ = try scratch.write([1, 2, 3], to: name + "/partial.weights.h5")
        }
        let result = try ChildProcess.run(["inspect", Self.sample], environment: ["TMPDIR": scratch.path])
        #expect(result.status == 0, "\(result)")
        #expect(scratch.contents() == ([alive] + others).sorted())
    }

    @Test("SIGINT and SIGTERM during a Keras read: the child is killed and reaped, its folder removed, exit 130/143",
          arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func signals(_ signal: Int32, _ status: Int32) throws {
        let scratch = try Scratch()
        // libhdf5 loops forever on this file: the child would run until the watchdog (60 s here).
        let arguments = ["inspect", Self.hanging, "--config", Fixtures.path("bf16.keras")]
        let result = try ChildProcess.run(arguments, environment: ["TMPDIR": scratch.path, "LRM_KERAS_TIMEOUT": "60"], timeout: 30) { pid in
            afterDelay(2) { kill(pid, signal) }
        }
        #expect(result.status == status, "\(result)")
        #expect(result.seconds < 15, "\(result)")
        #expect(scratch.contents().isEmpty, "\(scratch.contents())")
        #expect(Self.processes(mentioning: scratch.path).isEmpty, "\(Self.processes(mentioning: scratch.path))")
    }

    /// `ulimit -v` values (KiB) that hung `lrm` before it spawned its child with posix_spawn and caught
    /// signals without libdispatch: at 300000 Foundation's `Process.run` waited for ever for a dispatch thread
    /// (and SIGTERM, handled on a dispatch queue, was never handled); at 200000 OpenBLAS's worker thread
    /// retried its buffer reservation for ever and `exit` waited for it.
    static let lowAddressSpaceLimits = [200_000, 300_000]

    @Test("under a low ulimit -v, inspect of a Keras file finishes: success or one line naming the file",
          arguments: lowAddressSpaceLimits)
    func lowAddressSpaceLimit(_ kilobytes: Int) throws {
        let scratch = try Scratch()
        let result = try ChildProcess.run(["inspect", Self.sample], environment: ["TMPDIR": scratch.path], timeout: 30,
                                          addressSpaceLimit: kilobytes)
        #expect(result.ending != .timedOut, "\(result)")
        if result.status == 0 {
            #expect(result.stdout.contains("Keras model"), "\(result)")
        } else {
            #expect(result.status != nil && result.stderr.hasPrefix("lrm: error: \(Self.sample):")
                    && result.stderr.split(separator: "\n").count == 1, "\(result)")
        }
        #expect(scratch.contents().isEmpty, "\(scratch.contents())")
    }

    @Test("under a low ulimit -v, SIGTERM during a Keras read ends lrm with 143 and removes its child and folder",
          arguments: lowAddressSpaceLimits)
    func signalUnderLowAddressSpaceLimit(_ kilobytes: Int) throws {
        let scratch = try Scratch()
        let named = Flag()
        let arguments = ["inspect", Self.hanging, "--config", Fixtures.path("bf16.keras")]
        let result = try ChildProcess.run(arguments, environment: ["TMPDIR": scratch.path, "LRM_KERAS_TIMEOUT": "60"], timeout: 30,
                                          addressSpaceLimit: kilobytes) { pid in
            afterDelay(2) {
                // Restarted with OPENBLAS_NUM_THREADS=1, it keeps its name (`ps`, `pkill lrm`), not "exe".
                let name = FileManager.default.contents(atPath: "/proc/\(pid)/comm").map { String(decoding: $0, as: UTF8.self) }
                named.set(name == "lrm\n")
                kill(pid, SIGTERM)
            }
        }
        #expect(named.value, "the process is not named lrm")
        #expect(result.status == 143, "\(result)")
        #expect(result.seconds < 15, "\(result)")
        #expect(scratch.contents().isEmpty, "\(scratch.contents())")
        #expect(Self.processes(mentioning: scratch.path).isEmpty, "\(Self.processes(mentioning: scratch.path))")
    }

    @Test("a parent killed with SIGKILL during a Keras read takes its reader child with it: nothing is left spinning")
    func parentKilled() throws {
        let scratch = try Scratch()
        let path = scratch.path
        let seen = Flag()
        // libhdf5 loops forever on this file; once the child runs, its parent is killed (no handler can run).
        let arguments = ["inspect", Self.hanging, "--config", Fixtures.path("bf16.keras")]
        let result = try ChildProcess.run(arguments, environment: ["TMPDIR": path, "LRM_KERAS_TIMEOUT": "60"], timeout: 40) { pid in
            afterDelay(0) {
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline, !Self.processes(mentioning: path).contains(where: { $0.contains(KerasSubprocessName.child) }) {
                    usleep(50_000)
                }
                seen.set(!Self.processes(mentioning: path).isEmpty)
                kill(pid, SIGKILL)
            }
        }
        #expect(result.seconds < 35, "\(result)")
        #expect(seen.value, "the reader child never started")
        var left = Self.processes(mentioning: path)
        let deadline = Date().addingTimeInterval(10)
        while !left.isEmpty && Date() < deadline {
            usleep(100_000)
            left = Self.processes(mentioning: path)
        }
        #expect(left.isEmpty, "\(left)")
        Self.killProcesses(mentioning: path)  // when the check failed: leave nothing spinning behind the test
    }

    /// SIGKILL to every process whose command line mentions `text`.
    static func killProcesses(mentioning text: String) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            if String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text) { kill(pid, SIGKILL) }
        }
    }

    @Test("SIGINT/SIGTERM while an output is being written: exit 130/143, no output and no temporary file left",
          arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func signalsDuringWrites(_ signal: Int32, _ status: Int32) throws {
        let scratch = try Scratch()
        let temporary = try Scratch()
        let imported = scratch.file("imported.lrm")
        #expect(try ChildProcess.run(["import", Self.sample, "-o", imported]).status == 0)
        // Each write pauses just after creating its temporary file; the signal arrives during the pause.
        // convert writes in this process; import has the Keras child write the user's output.
        let commands: [(String, [String])] = [
            ("converted.lrm", ["convert", imported, "--policy", "rank:4"]),
            ("again.lrm", ["import", Self.sample]),
        ]
        for (name, arguments) in commands {
            let output = scratch.file(name)
            let result = try ChildProcess.run(arguments + ["-o", output],
                                              environment: ["TMPDIR": temporary.path, "LRM_TEST_HOLD_TEMPORARY_FILES": "20"],
                                              timeout: 60) { pid in
                afterDelay(3) { kill(pid, signal) }
            }
            #expect(result.status == status, "\(arguments): \(result)")
            #expect(result.seconds < 15, "\(arguments): \(result)")
            #expect(scratch.contents() == ["imported.lrm"], "\(arguments): \(scratch.contents())")
            #expect(temporary.contents().isEmpty, "\(arguments): \(temporary.contents())")
        }
    }
}

/// The reader child's subcommand, as it appears in its command line.
enum KerasSubprocessName {
    static let child = "read-keras"
}

/// A boolean set from another thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false
    var value: Bool { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ newValue: Bool) { lock.lock(); stored = newValue; lock.unlock() }
}
