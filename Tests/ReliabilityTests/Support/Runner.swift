import Foundation
import LRMFormat
import Testing

/// How a child process ended.
struct RunResult: CustomStringConvertible {
    enum Ending: Equatable {
        case exited(Int32)
        case signal(Int32)
        /// Still running at the deadline; it was killed.
        case timedOut
    }

    var ending: Ending
    var stdout: String
    var stderr: String
    var seconds: Double

    var status: Int32? {
        if case .exited(let code) = ending { return code }
        return nil
    }

    /// Exit 65 or 66 with exactly one line on stderr, `lrm: error: …`.
    var isCleanError: Bool {
        guard let status, status == 65 || status == 66 else { return false }
        return stderr.hasPrefix("lrm: error: ") && stderr.split(separator: "\n").count == 1
    }

    var description: String { "\(ending) after \(String(format: "%.2f", seconds)) s; stderr: \(stderr.prefix(400))" }
}

/// Runs the built `lrm` binary (the pattern of `Tests/CLITests/CLIRunner.swift`) with a deadline.
enum LRM {
    /// The package root, from this file's path.
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `lrm` binary: `$LRM_BINARY`, else beside the test bundle (SwiftPM builds both into one folder).
    static let binary: String = {
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
        return packageRoot + "/.build/debug/lrm"
    }()

    /// Runs `lrm arguments…`; kills it (SIGKILL) if it is still running after `timeout` seconds.
    /// `onStart` is called with the child's process id right after it starts.
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120,
                    onStart: ((Int32) -> Void)? = nil) throws -> RunResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
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

/// A temporary directory removed on deinit.
final class Scratch: @unchecked Sendable {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "lrm-reliability-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit {
        _ = chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }
}

/// The fixtures of the Keras tests.
enum Fixtures {
    static let directory = LRM.packageRoot + "/Tests/LRMKerasTests/Fixtures"
    static func path(_ name: String) -> String { directory + "/" + name }
}

/// Whether the tests run as root (where chmod 000 does not stop reading).
let runningAsRoot = geteuid() == 0

/// A dense model for the tests: `layers` dense layers of the given widths (`widths[0]` inputs),
/// seeded random weights, ReLU between and softmax at the end.
func denseModel(widths: [Int], seed: UInt64 = 7, name: String = "dense-model") -> Model {
    var rng = SeededGenerator(seed: seed)
    var layers: [Layer<Tensor>] = []
    for index in 0..<(widths.count - 1) {
        let (rows, columns) = (widths[index], widths[index + 1])
        let scale = 1 / Float(rows).squareRoot()
        let kernel = (0..<(rows * columns)).map { _ in rng.nextSymmetricFloat() * scale }
        let bias = (0..<columns).map { _ in 0.1 * rng.nextSymmetricFloat() }
        layers.append(Layer(name: "dense_\(index)", operation: .dense(
            kernel: Tensor(shape: [rows, columns], floats: kernel), bias: Tensor(shape: [columns], floats: bias),
            activation: index == widths.count - 2 ? .softmax : .relu)))
    }
    return Model(name: name, input: InputSpec(shape: [widths[0]]), layers: layers)
}
