import Foundation
import Testing
@testable import LRMLinearAlgebra

/// The kernel selection. These tests never set or unset OPENBLAS_* variables: the in-process
/// test sees the environment as it is, and child processes inherit it unchanged (only
/// LRM_BLAS_KERNELS is added for them).
@Suite("BLAS kernel selection")
struct KernelSelectionTests {
    static let fastCores: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]
    static let environment = ProcessInfo.processInfo.environment
    static let environmentSelectsCore = environment["OPENBLAS_CORETYPE"] != nil || environment["OPENBLAS_L2_SIZE"] != nil

    @Test("the report of this process is coherent with the environment and the CPU")
    func reportIsCoherent() throws {
        let report = BLASRuntime.report
        #expect(report.environmentCoreType == Self.environment["OPENBLAS_CORETYPE"])
        #expect(report.environmentL2Size == Self.environment["OPENBLAS_L2_SIZE"])
        #expect(report.kernelsSetting == (Self.environment["LRM_BLAS_KERNELS"] ?? ""))
        #expect(report.summary == "\(report.activeCore.isEmpty ? "unknown core" : report.activeCore) (\(report.reason))")
        guard report.isOpenBLAS else {
            #expect(report.decision == .notSwitchable)
            return
        }
        #expect(!report.activeCore.isEmpty && !report.libraryCore.isEmpty)
        #expect(report.configuration.contains(report.activeCore))
        #expect((BLASRuntime.threadCount ?? 0) >= 1)
        switch report.decision {
        case .environment:
            #expect(Self.environmentSelectsCore)
            #expect(report.activeCore == report.libraryCore)
        case .libraryChoice, .optedOut, .notSwitchable:
            #expect(report.activeCore == report.libraryCore || report.forcedGenericFirst)
        case .upgraded:
            #expect(Self.fastCores.contains(report.activeCore.lowercased()))
            #expect(report.reason.hasPrefix("upgraded from "))
        case .forcedGeneric:
            #expect(report.activeCore == "Prescott")
        case .fallbackKept:
            #expect(!report.cpu.hasAVX2FMA)
        case .upgradeFailed:
            Issue.record("kernel upgrade failed: \(report.summary)")
        }
        // An AVX2 CPU must not be left on generic kernels unless the environment or the user asked for it.
        if report.cpu.hasAVX2FMA, !Self.environmentSelectsCore, report.kernelsSetting.isEmpty || report.kernelsSetting == "auto" {
            #expect(BLASRuntime.upgradeTarget(forCore: report.activeCore, cpu: report.cpu) == nil,
                    "generic kernels in use: \(report.summary)")
        }
        // Selection must leave the process environment as it found it.
        #expect(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == report.environmentCoreType)
    }

    struct RuleCase: Sendable, CustomTestStringConvertible {
        let core: String, vendor: String, avx2: Bool, avx512: Bool, expected: String?
        var testDescription: String { "\(core) on \(vendor) (AVX2 \(avx2), AVX-512 \(avx512)) → \(expected ?? "keep")" }
    }

    static let rules = [
        RuleCase(core: "Prescott", vendor: "GenuineIntel", avx2: true, avx512: true, expected: "SkylakeX"),
        RuleCase(core: "Prescott", vendor: "GenuineIntel", avx2: true, avx512: false, expected: "Haswell"),
        RuleCase(core: "Prescott", vendor: "AuthenticAMD", avx2: true, avx512: false, expected: "Zen"),
        RuleCase(core: "Prescott", vendor: "AuthenticAMD", avx2: true, avx512: true, expected: "SkylakeX"),
        RuleCase(core: "Nehalem", vendor: "HygonGenuine", avx2: true, avx512: false, expected: "Zen"),
        RuleCase(core: "Core2", vendor: "GenuineIntel", avx2: false, avx512: false, expected: nil),
        RuleCase(core: "Zen", vendor: "GenuineIntel", avx2: true, avx512: true, expected: nil),
        RuleCase(core: "Haswell", vendor: "GenuineIntel", avx2: true, avx512: true, expected: nil),
        RuleCase(core: "Sandybridge", vendor: "GenuineIntel", avx2: true, avx512: true, expected: nil),
    ]

    @Test("generic fallback cores are upgraded by CPU features; chosen cores are kept",
          .enabled(if: BLASRuntime.report.isOpenBLAS && BLASRuntime.report.decision != .notSwitchable,
                   "needs a DYNAMIC_ARCH OpenBLAS on x86-64"),
          arguments: rules)
    func upgradeRule(_ rule: RuleCase) {
        let cpu = KernelReport.CPU(vendor: rule.vendor, family: 6, model: 207, hasAVX2FMA: rule.avx2, hasAVX512: rule.avx512)
        #expect(BLASRuntime.upgradeTarget(forCore: rule.core, cpu: cpu) == rule.expected)
    }

    /// The built `lrm-bench` next to this test binary, or nil.
    static let benchmarkExecutable: URL? = {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidates = [testBinary.deletingLastPathComponent(),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            .map { $0.appendingPathComponent("lrm-bench") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Runs `lrm-bench blas report` with LRM_BLAS_KERNELS=`setting` added to this environment.
    static func childReport(setting: String) throws -> [String: String] {
        let process = Process()
        // Only called where childTestsEnabled (an lrm-bench was found); fails as #require did if not.
        guard let executable = benchmarkExecutable else { throw CocoaError(.fileNoSuchFile) }
        process.executableURL = executable
        process.arguments = ["blas", "report"]
        process.environment = environment.merging(["LRM_BLAS_KERNELS": setting]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].replacingOccurrences(of: "report ", with: "")
            fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    static let childTestsEnabled = !environmentSelectsCore && benchmarkExecutable != nil
        && BLASRuntime.report.isOpenBLAS && BLASRuntime.report.decision != .notSwitchable
    static let childTestsSkipReason: Comment = environmentSelectsCore
        ? "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE set by this machine: the environment's choice is respected, nothing to test"
        : "needs the built lrm-bench next to the test binary (swift build) and a DYNAMIC_ARCH OpenBLAS on x86-64"

    @Test("a child forced to generic kernels is upgraded from Prescott to a fast core on an AVX2 CPU",
          .enabled(if: childTestsEnabled, childTestsSkipReason))
    func forcedGenericIsUpgraded() throws {
        let child = try Self.childReport(setting: "generic")
        let cpu = BLASRuntime.report.cpu
        if cpu.hasAVX2FMA {
            #expect(child["decision"] == "upgraded")
            #expect(child["kernels"]?.contains("upgraded from Prescott") == true)
            #expect(Self.fastCores.contains(child["active core"]?.lowercased() ?? ""))
            #expect(child["configuration"]?.contains(child["active core"] ?? "?") == true)
        } else {
            #expect(child["decision"] == "fallbackKept")
            #expect(child["active core"] == "Prescott")
        }
        #expect(child["check"]?.hasPrefix("ok") == true, "numerical check after switching: \(child["check"] ?? "missing")")
        #expect(child["OPENBLAS_CORETYPE after selection"] == "(unset)")
    }

    @Test("LRM_BLAS_KERNELS=generic-only keeps Prescott and library keeps the library's core",
          .enabled(if: childTestsEnabled, childTestsSkipReason))
    func otherSettings() throws {
        let generic = try Self.childReport(setting: "generic-only")
        #expect(generic["decision"] == "forcedGeneric")
        #expect(generic["active core"] == "Prescott")
        #expect(generic["check"]?.hasPrefix("ok") == true)
        #expect(generic["OPENBLAS_CORETYPE after selection"] == "(unset)")
        let library = try Self.childReport(setting: "library")
        #expect(library["decision"] == "optedOut")
        #expect(library["active core"] == library["library core"])
    }
}
