import Foundation
import LRMTestSupport
import FuzzTargets
import Testing

/// Every kept crasher, replayed through its fuzz target in this process.
@Suite("Fuzz crashers stay fixed")
struct CrasherReplayTests {
    static let directory = TestPackage.root + "/Tests/ReliabilityTests/Crashers"

    static let folders = ["container", "datasets", "keras-config", "npy"]

    /// Runs `bytes` through the target of `folder`.
    static func run(_ folder: String, _ bytes: [UInt8]) -> [String]? {
        bytes.withUnsafeBytes { raw in
            switch folder {
            case "container": ContainerFuzzTarget.run(raw)
            case "keras-config": KerasConfigFuzzTarget.run(raw)
            case "npy": NPYFuzzTarget.run(raw)
            case "datasets": DatasetFuzzTarget.run(raw)
            default: nil
            }
        }
    }

    static var inputs: [String] {
        folders.flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + folder)) ?? []).sorted().map { folder + "/" + $0 }
        }
    }

    @Test("each kept crasher runs through its target without a crash or a violated property", arguments: inputs)
    func replay(_ input: String) throws {
        let folder = String(input.split(separator: "/")[0])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/" + input)))
        #expect(try #require(Self.run(folder, bytes)) == [])
    }

    @Test("the seeds of every target (spec vectors, fixtures) run clean too")
    func seeds() throws {
        var count = 0
        for kind in ["valid", "invalid"] {
            let folder = TestPackage.root + "/spec/vectors/" + kind
            for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".lrm") {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
                #expect(bytes.withUnsafeBytes { ContainerFuzzTarget.run($0) } == [], "\(name)")
                count += 1
            }
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.directory) where name.hasSuffix(".json") && !name.hasSuffix(".ref.json") {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
            #expect(bytes.withUnsafeBytes { KerasConfigFuzzTarget.run($0) } == [], "\(name)")
            count += 1
        }
        #expect(count > 50)
        DatasetFuzzTarget.removeScratch()
    }
}
