import Foundation
import LRMTestSupport
import LRMFormat
import Testing

/// Seeded random mutations of the Keras fixtures, each imported by the built `lrm` in a child process.
///
/// Every run must end in a successful import (whose output the reader accepts) or a clean error: exit 65
/// or 66 with one line `lrm: error: …`. Never a signal, never past the deadline. The CI sweep is small;
/// `LRM_HOSTILE_COUNT=5000 swift test --filter HostileHDF5` runs a larger one (`LRM_HOSTILE_SEED` picks
/// the seed) and prints the same counts. `LRM_HOSTILE_IN_PROCESS=1` runs the sweep with the Keras reader
/// in-process (`LRM_KERAS_IN_PROCESS=1`), to count what the child process contains; it only reports.
@Suite("Hostile HDF5: mutated Keras files never crash or hang lrm import")
struct HostileHDF5Tests {
    /// The fixtures, with the architecture a weights-only file needs.
    static let cases: [(file: String, config: String?)] = [
        ("mlp.h5", nil), ("fp16.h5", nil), ("norm.h5", nil), ("nested.h5", nil), ("shapes.h5", nil), ("attributes.h5", nil),
        ("mlp.weights.h5", "mlp.keras"), ("mlp_weights.h5", "mlp.keras"), ("bf16.weights.h5", "bf16.keras"),
        ("nested_weights.h5", "nested.keras"), ("norm.weights.h5", "norm.keras"), ("mlp.keras", nil), ("shapes.keras", nil),
    ]

    /// The CNN fixtures (issue 12): convolutions, depthwise and separable, pooling, padding, cropping,
    /// channels-first permutes, folded BatchNormalization, a Keras 2.0-era config, and a weights-only file.
    static let cnnCases: [(file: String, config: String?)] = [
        ("cnn/k3_basic.h5", nil), ("cnn/tfk_geometry.h5", nil), ("cnn/tfk_depthwise.h5", nil), ("cnn/tfk_keras20.h5", nil),
        ("cnn/k3_depthwise.keras", nil), ("cnn/k3_channels_first.weights.h5", "cnn/k3_channels_first.keras"),
        ("cnn/tfk_basic_weights.h5", "cnn/tfk_basic.keras"),
    ]

    enum Mutation: String, CaseIterable {
        /// 1 to 8 random bytes XOR-ed with random values.
        case byteFlips = "byte flips"
        /// The file cut at a random length.
        case truncation
        /// 1 to 3 little-endian u64 fields holding 1…2²⁰ (dimensions, sizes, lengths, addresses) set to
        /// 2³², 2⁴⁰, 2⁶², 2⁶⁴−1 or a random multiple.
        case inflatedU64 = "inflated u64 sizes"
        /// 1 to 3 little-endian u32 fields holding 1…2¹⁶ (string and type sizes, counts) set to
        /// 2³¹−1, 2³²−1, 2²⁴ or a random multiple.
        case inflatedU32 = "inflated u32 sizes"
        /// A pair of adjacent u64 fields both in 1…4096 (a dataspace's dimensions): one set to 2²⁰…2⁴⁰.
        case inflatedDimensions = "inflated dimensions"
    }

    struct Tally: CustomStringConvertible {
        var imports = 0, cleanErrors = 0, crashes = 0, hangs = 0, unclean = 0
        /// Clean errors that were the reader's child process crashing or being stopped by the watchdog.
        var containedCrashes = 0, containedHangs = 0
        /// What the runs left in their temporary folder.
        var temporaryLeftovers: [String] = []
        var byMutation: [String: [String: Int]] = [:]
        var failures: [String] = []
        var total: Int { imports + cleanErrors + crashes + hangs + unclean }
        var description: String {
            "\(total) mutated files: \(imports) imports, \(cleanErrors) clean errors (\(containedCrashes) of them a libhdf5 crash and "
                + "\(containedHangs) a libhdf5 hang, contained), \(crashes) crashes, \(hangs) hangs, \(unclean) unclean exits"
        }
        mutating func add(_ outcome: String, _ mutation: Mutation) {
            byMutation[mutation.rawValue, default: [:]][outcome, default: 0] += 1
        }
    }

    static func mutate(_ bytes: [UInt8], _ mutation: Mutation, _ rng: inout SeededGenerator) -> [UInt8] {
        var b = bytes
        func random(_ range: ClosedRange<Int>) -> Int { Int(rng.next() % UInt64(range.count)) + range.lowerBound }
        func u64(at i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
        func u32(at i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[i + $1]) << (8 * $1) } }
        func store64(_ value: UInt64, at i: Int) { for k in 0..<8 { b[i + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) } }
        func store32(_ value: UInt32, at i: Int) { for k in 0..<4 { b[i + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) } }
        switch mutation {
        case .byteFlips:
            for _ in 0..<random(1...8) { b[random(0...(b.count - 1))] ^= UInt8(random(1...255)) }
        case .truncation:
            b = Array(b.prefix(random(0...(b.count - 1))))
        case .inflatedU64:
            let positions = (0..<(b.count - 8)).filter { (1...(1 << 20)).contains(u64(at: $0)) }
            for _ in 0..<random(1...3) where !positions.isEmpty {
                let i = positions[random(0...(positions.count - 1))]
                let choices: [UInt64] = [1 << 32, 1 << 40, 1 << 62, .max, u64(at: i) &* UInt64(random(2...(1 << 20)))]
                store64(choices[random(0...(choices.count - 1))], at: i)
            }
        case .inflatedU32:
            let positions = (0..<(b.count - 4)).filter { (1...(1 << 16)).contains(u32(at: $0)) }
            for _ in 0..<random(1...3) where !positions.isEmpty {
                let i = positions[random(0...(positions.count - 1))]
                let choices: [UInt32] = [0x7FFF_FFFF, .max, 1 << 24, u32(at: i) &* UInt32(random(2...4096))]
                store32(choices[random(0...(choices.count - 1))], at: i)
            }
        case .inflatedDimensions:
            let positions = (0..<(b.count - 16)).filter { (1...4096).contains(u64(at: $0)) && (1...4096).contains(u64(at: $0 + 8)) }
            if !positions.isEmpty {
                let i = positions[random(0...(positions.count - 1))] + 8 * random(0...1)
                store64(UInt64(1) << UInt64(random(20...40)), at: i)
            }
        }
        return b
    }

    /// Runs `count` mutants of `cases` from `seed`; returns the tally.
    static func sweep(count: Int, seed: UInt64, inProcess: Bool = false,
                      cases: [(file: String, config: String?)] = HostileHDF5Tests.cases) throws -> Tally {
        let scratch = try Scratch()
        // The runs' own temporary folder, so that what they leave behind is theirs (other tests run lrm too).
        let temporary = scratch.file("tmp")
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: seed)
        var originals: [String: [UInt8]] = [:]
        for (file, _) in cases { originals[file] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(file)))) }
        var tally = Tally()
        for index in 0..<count {
            let (file, config) = cases[Int(rng.next() % UInt64(cases.count))]
            let mutation = Mutation.allCases[Int(rng.next() % UInt64(Mutation.allCases.count))]
            let mutant = try scratch.write(mutate(originals[file]!, mutation, &rng),
                                           to: "m\(index)-" + file.replacingOccurrences(of: "/", with: "_"))
            let output = scratch.file("out.lrm")
            let arguments = ["import", mutant, "-o", output] + (config.map { ["--config", Fixtures.path($0)] } ?? [])
            let result = try ChildProcess.run(arguments, environment: ["LRM_KERAS_TIMEOUT": "5", "LRM_KERAS_IN_PROCESS": inProcess ? "1" : "0",
                                                              "TMPDIR": temporary + "/"],
                                     timeout: inProcess ? 10 : 30)
            let outcome: String
            switch result.ending {
            case .exited(0):
                if (try? ContainerFile(path: output).verifyAllChecksums()) != nil {
                    tally.imports += 1
                    outcome = "import"
                } else {
                    tally.unclean += 1
                    outcome = "unreadable output"
                }
            case .exited where result.isCleanError:
                tally.cleanErrors += 1
                outcome = "clean error"
                if result.stderr.contains("reader crashed") { tally.containedCrashes += 1 }
                if result.stderr.contains("did not finish") { tally.containedHangs += 1 }
            case .signal:
                tally.crashes += 1
                outcome = "crash"
            case .timedOut:
                tally.hangs += 1
                outcome = "hang"
            case .exited:
                tally.unclean += 1
                outcome = "unclean exit"
            }
            tally.add(outcome, mutation)
            if outcome == "import" || outcome == "clean error" {
                try? FileManager.default.removeItem(atPath: mutant)
            } else {
                tally.failures.append("m\(index)-\(file) (\(mutation.rawValue)): \(result)")
            }
            try? FileManager.default.removeItem(atPath: output)
        }
        #expect(scratch.contents().filter { $0.contains(".tmp-") }.isEmpty, "temporary files left: \(scratch.contents())")
        tally.temporaryLeftovers = (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        return tally
    }

    @Test("every mutated fixture imports or fails cleanly (exit 65/66, one line); none crashes or hangs")
    func mutationSweep() throws {
        let environment = ProcessInfo.processInfo.environment
        let count = environment["LRM_HOSTILE_COUNT"].flatMap(Int.init) ?? 100
        let seed = environment["LRM_HOSTILE_SEED"].flatMap(UInt64.init) ?? 8
        let inProcess = environment["LRM_HOSTILE_IN_PROCESS"] == "1"
        let tally = try Self.sweep(count: count, seed: seed, inProcess: inProcess)
        print("hostile HDF5 sweep (seed \(seed)\(inProcess ? ", reader in-process" : "")): \(tally)")
        for (mutation, outcomes) in tally.byMutation.sorted(by: { $0.key < $1.key }) {
            print("  \(mutation): " + outcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        }
        if inProcess {
            print(tally.failures.joined(separator: "\n"))
            return
        }
        #expect(tally.crashes == 0 && tally.hangs == 0 && tally.unclean == 0, "\(tally.failures.joined(separator: "\n"))")
        #expect(tally.imports + tally.cleanErrors == count)
        #expect(tally.temporaryLeftovers.isEmpty, "left in the temporary folder: \(tally.temporaryLeftovers)")
    }

    @Test("every mutated CNN fixture imports or fails cleanly (exit 65/66, one line); none crashes or hangs")
    func cnnMutationSweep() throws {
        let environment = ProcessInfo.processInfo.environment
        let count = environment["LRM_HOSTILE_CNN_COUNT"].flatMap(Int.init) ?? 40
        let seed = environment["LRM_HOSTILE_SEED"].flatMap(UInt64.init) ?? 12
        let tally = try Self.sweep(count: count, seed: seed, cases: Self.cnnCases)
        print("hostile HDF5 sweep of the CNN fixtures (seed \(seed)): \(tally)")
        for (mutation, outcomes) in tally.byMutation.sorted(by: { $0.key < $1.key }) {
            print("  \(mutation): " + outcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        }
        #expect(tally.crashes == 0 && tally.hangs == 0 && tally.unclean == 0, "\(tally.failures.joined(separator: "\n"))")
        #expect(tally.imports + tally.cleanErrors == count)
        #expect(tally.imports > 0 && tally.cleanErrors > 0, "a sweep where every mutant fails (or none does) tests little: \(tally)")
        #expect(tally.temporaryLeftovers.isEmpty, "left in the temporary folder: \(tally.temporaryLeftovers)")
    }

    /// Mutants the sweep found that crash or hang libhdf5 1.10 itself, with the architecture each needs.
    static let libraryCrashers: [(file: String, config: String?)] = [
        ("heap-overflow.mlp_weights.h5", "mlp.keras"), ("heap-overflow.fp16.h5", nil), ("heap-loop.bf16.weights.h5", "bf16.keras"),
    ]

    @Test("files that crash or hang libhdf5 1.10 give a clean error: lrm reads Keras files in a child process",
          arguments: libraryCrashers.map(\.file))
    func libraryCrashIsContained(_ file: String) throws {
        let scratch = try Scratch()
        let config = Self.libraryCrashers.first { $0.file == file }?.config
        let path = TestPackage.root + "/Tests/ReliabilityTests/Crashers/hdf5/" + file
        let arguments = ["import", path, "-o", scratch.file("o.lrm")] + (config.map { ["--config", Fixtures.path($0)] } ?? [])
        let isolated = try ChildProcess.run(arguments, environment: ["LRM_KERAS_TIMEOUT": "3"], timeout: 30)
        #expect(isolated.isCleanError, "\(isolated)")
        #expect(isolated.stderr.contains(file))
        #expect(isolated.stderr.contains("did not finish") || isolated.stderr.contains("crashed"), "\(isolated.stderr)")
        #expect(scratch.contents().isEmpty)
        // What the same read does in-process, for the record (libhdf5 may be fixed one day).
        let direct = try ChildProcess.run(arguments, environment: ["LRM_KERAS_IN_PROCESS": "1"], timeout: 4)
        print("\(file): in-process \(direct.ending), isolated: \(isolated.stderr.trimmingCharacters(in: .newlines))")
    }
}
