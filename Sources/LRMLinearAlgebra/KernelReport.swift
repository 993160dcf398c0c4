/// What the BLAS kernel selection found and did (see ``BLASRuntime``).
///
/// Example ``summary`` values: "SkylakeX (upgraded from Prescott: CPU has AVX-512)",
/// "Zen (library's choice)", "Haswell (OPENBLAS_CORETYPE set by environment: respected)".
public struct KernelReport: Sendable, Equatable, CustomStringConvertible {
    /// What was decided about OpenBLAS's kernel choice.
    public enum Decision: String, Sendable, CaseIterable {
        /// OpenBLAS's own choice uses the CPU's vector units: kept.
        case libraryChoice
        /// OpenBLAS fell back to generic kernels on a CPU with AVX2/AVX-512: switched.
        case upgraded
        /// `OPENBLAS_CORETYPE` or `OPENBLAS_L2_SIZE` is set: respected, nothing changed.
        case environment
        /// `LRM_BLAS_KERNELS=library`: OpenBLAS's own choice kept on request.
        case optedOut
        /// `LRM_BLAS_KERNELS=generic-only`: generic Prescott kernels forced and kept.
        case forcedGeneric
        /// Not a DYNAMIC_ARCH OpenBLAS on x86-64: nothing can be switched.
        case notSwitchable
        /// Generic kernels in use, but the CPU/OS offer nothing faster (no AVX2+FMA).
        case fallbackKept
        /// An upgrade could not be verified; the previous core was restored.
        case upgradeFailed
    }

    /// The CPU as seen by `cpuid`/`xgetbv` (empty vendor and false features off x86-64).
    public struct CPU: Sendable, Equatable {
        public let vendor: String
        public let family: Int
        public let model: Int
        /// AVX2 and FMA3, with the OS saving YMM state.
        public let hasAVX2FMA: Bool
        /// AVX-512 F, CD, BW, DQ and VL, with the OS saving ZMM and opmask state.
        public let hasAVX512: Bool
    }

    public let decision: Decision
    /// True if the BLAS in the process is OpenBLAS.
    public let isOpenBLAS: Bool
    /// True if `LRM_BLAS_KERNELS=generic` or `generic-only` forced Prescott before the rules ran.
    public let forcedGenericFirst: Bool
    /// The core OpenBLAS chose when it was loaded ("" if not OpenBLAS).
    public let libraryCore: String
    /// The core in use now, read back from `openblas_get_corename` ("" if not OpenBLAS).
    public let activeCore: String
    /// Why ``activeCore`` is in use.
    public let reason: String
    /// "`activeCore` (`reason`)".
    public let summary: String
    /// `openblas_get_config()` after the selection, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64".
    public let configuration: String
    /// The value of `LRM_BLAS_KERNELS` ("" when unset).
    public let kernelsSetting: String
    /// The value of `OPENBLAS_CORETYPE` at preparation, nil when unset.
    public let environmentCoreType: String?
    /// The value of `OPENBLAS_L2_SIZE` at preparation, nil when unset.
    public let environmentL2Size: String?
    public let cpu: CPU

    /// Labelled lines for printing, in a fixed order.
    public var fields: [(label: String, value: String)] {
        [
            ("kernels", summary),
            ("decision", decision.rawValue),
            ("library core", libraryCore.isEmpty ? "(not OpenBLAS)" : libraryCore),
            ("active core", activeCore.isEmpty ? "(not OpenBLAS)" : activeCore),
            ("configuration", configuration.isEmpty ? "(unavailable)" : configuration),
            ("cpu", cpu.vendor.isEmpty ? "(unknown)" :
                "\(cpu.vendor) family \(cpu.family) model \(cpu.model), AVX2+FMA \(cpu.hasAVX2FMA ? "yes" : "no"), "
                + "AVX-512 \(cpu.hasAVX512 ? "yes" : "no")"),
            ("LRM_BLAS_KERNELS", kernelsSetting.isEmpty ? "(unset)" : kernelsSetting),
            ("OPENBLAS_CORETYPE", environmentCoreType ?? "(unset)"),
            ("OPENBLAS_L2_SIZE", environmentL2Size ?? "(unset)"),
        ]
    }

    public var description: String {
        fields.map { "\($0.label): \($0.value)" }.joined(separator: "\n")
    }
}
