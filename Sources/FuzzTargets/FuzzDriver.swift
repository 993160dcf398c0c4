import Foundation
#if LRM_FUZZING
internal import FuzzEngine
#endif

/// Runs a fuzz target's executable.
///
/// Built with `-DLRM_FUZZING -sanitize=fuzzer,address` (see `tools/fuzz.sh`), it hands `callback` to
/// libFuzzer (`LLVMFuzzerRunDriver`), which parses the usual libFuzzer flags. In a normal build it replays
/// inputs instead: each argument is a file, or a directory whose files are all replayed, so a crasher can
/// be reproduced and debugged without the sanitizer toolchain.
public enum FuzzDriver {
    /// A fuzz target's body: one input, no result (a violated property traps).
    public typealias Callback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

    public static func main(name: String, _ callback: Callback) -> Never {
        #if LRM_FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
        #else
        let arguments = CommandLine.arguments.dropFirst()
        guard !arguments.isEmpty else {
            FileHandle.standardError.write(Data("usage: \(name) FILE|DIRECTORY…  (replays inputs; build with tools/fuzz.sh to fuzz)\n".utf8))
            exit(64)
        }
        var count = 0
        for path in arguments {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("\(name): cannot read \(file)\n".utf8))
                    exit(66)
                }
                _ = data.withUnsafeBytes { raw in
                    callback(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count)
                }
                count += 1
            }
        }
        print("\(name): replayed \(count) input\(count == 1 ? "" : "s") without a crash")
        exit(0)
        #endif
    }

    /// `path` if it is a file, else the regular files directly inside it, sorted.
    static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }.filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }

    /// Traps with the violated properties, so that libFuzzer records the input as a crash.
    public static func check(_ violations: [String]) {
        guard violations.isEmpty else { fatalError("property violated: " + violations.joined(separator: "; ")) }
    }
}
