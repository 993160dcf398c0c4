public import Foundation

/// How a run of the built `lrm` ended, and what it printed.
public struct RunResult: CustomStringConvertible, Sendable {
    public enum Ending: Equatable, Sendable {
        case exited(Int32)
        case signal(Int32)
        /// Still running at the deadline; it was killed.
        case timedOut
    }

    public var ending: Ending
    public var stdout: String
    public var stderr: String
    public var seconds: Double

    /// The exit status, or nil when the process was killed by a signal or the deadline.
    public var status: Int32? {
        if case .exited(let code) = ending { return code }
        return nil
    }

    /// Exit 65 or 66 with exactly one line on stderr, `lrm: error: …`.
    public var isCleanError: Bool {
        guard let status, status == 65 || status == 66 else { return false }
        return stderr.hasPrefix("lrm: error: ") && stderr.split(separator: "\n").count == 1
    }

    public var description: String { "\(ending) after \(String(format: "%.2f", seconds)) s; stderr: \(stderr.prefix(400))" }
}

/// The package's files and its built `lrm`, as the test processes find them.
public enum TestPackage {
    /// The package root, from this file's path (`Tests/LRMTestSupport/ChildProcess.swift`).
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `../shared` beside the package, where CI and the development machines keep the data sets and the Keras corpus.
    public static let shared = root + "/../shared"

    /// The `lrm` binary: `$LRM_BINARY`, else beside the test bundle (SwiftPM builds both into one folder).
    public static let lrm: String = {
        if let explicit = ProcessInfo.processInfo.environment["LRM_BINARY"] { return explicit }
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for directory in candidates {
            for up in [directory, directory.deletingLastPathComponent(), directory.deletingLastPathComponent().deletingLastPathComponent()] {
                let path = up.appendingPathComponent("lrm").path
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { return path }
            }
        }
        return root + "/.build/debug/lrm"
    }()
}

/// Runs the built `lrm` as a child process and captures what a user would see.
public enum ChildProcess {
    /// Runs `lrm arguments…` with `environment` added to this process's; kills it (SIGKILL) if it is still
    /// running after `timeout` seconds. `onStart` is called with the child's process id right after it starts.
    /// Swift's backtracer is switched off in the child, so that a crash is reported as the signal it is.
    /// With `addressSpaceLimit` (KiB), `lrm` runs under `ulimit -v` (a shell sets it, then execs `lrm`).
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120,
                           addressSpaceLimit: Int? = nil, onStart: ((Int32) -> Void)? = nil) throws -> RunResult {
        let process = Process()
        if let addressSpaceLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -v \(addressSpaceLimit) && exec \"$0\" \"$@\"", TestPackage.lrm] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: TestPackage.lrm)
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        onStart?(process.processIdentifier)
        // Both pipes are read concurrently, so that a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let timedOut = group.wait(timeout: .now() + timeout) == .timedOut
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            group.wait()
        }
        process.waitUntilExit()
        let ending: RunResult.Ending = timedOut ? .timedOut
            : process.terminationReason == .uncaughtSignal ? .signal(process.terminationStatus) : .exited(process.terminationStatus)
        return RunResult(ending: ending, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self), seconds: Date().timeIntervalSince(started))
    }
}

/// A temporary directory, removed (with everything in it) when the last reference goes.
public final class Scratch: @unchecked Sendable {
    public let path: String

    public init(prefix: String = "lrm-test-") throws {
        path = NSTemporaryDirectory() + prefix + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        // Tests make the folder unwritable on purpose; give it back its permissions first.
        _ = chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    public func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    public func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }
}
