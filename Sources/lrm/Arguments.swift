public import ArgumentParser
public import LRMCompress
public import LRMDatasets
import LRMFormat
public import LRMKeras
public import LRMLinearAlgebra
public import LRMPipeline
public import LRMVerify

// Option values as types: argument-parser lists the legal values in `--help` and reports a bad one
// (exit 64), so no command keeps its own list of names.

extension DatasetName: ExpressibleByArgument {}
extension DatasetSplit: ExpressibleByArgument {}
extension SampleLayout: ExpressibleByArgument {}
extension KerasContainer: ExpressibleByArgument {}
extension ValidationPlacement: ExpressibleByArgument {}
extension EstimateChoice: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}
extension ConversionOptions.SVDMethod: ExpressibleByArgument {}
extension ConversionOptions.ConvolutionForm: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension TaskKind: ExpressibleByArgument {}
extension KerasWeightMatching: ExpressibleByArgument {}

/// `--factor-dtype`: a storage dtype by its name in the spec.
enum DTypeName: String, CaseIterable, ExpressibleByArgument {
    case f32, f16, bf16, f64, i8, i4

    var dtype: DType {
        switch self {
        case .f32: .float32
        case .f16: .float16
        case .bf16: .bfloat16
        case .f64: .float64
        case .i8: .int8
        case .i4: .int4
        }
    }
}

/// `--scale-dtype`: how the scales of quantized factors are stored.
enum ScaleDTypeName: String, CaseIterable, ExpressibleByArgument {
    case f16, f32

    var dtype: DType { self == .f16 ? .float16 : .float32 }
}

/// `--quant-scheme`: integer codes without (format 1.2) or with (1.3) zero points.
enum QuantSchemeName: String, CaseIterable, ExpressibleByArgument {
    case symmetric, asymmetric
}

/// `--input-layout`: what the input axes mean, by the name in the spec.
enum InputLayoutName: String, CaseIterable, ExpressibleByArgument {
    case features, hwc, chw

    var layout: InputLayout {
        switch self {
        case .features: .features
        case .hwc: .hwc
        case .chw: .chw
        }
    }
}

/// `--metric`: the space a layer's truncation error is measured in.
enum MetricName: String, CaseIterable, ExpressibleByArgument {
    case plain
    case whitened
    case activationScaled = "activation-scaled"
}

/// `--policy`: a rank policy, or `whitened:τ` / `activation-scaled:τ`, the energy rule in a data-aware metric.
struct PolicyArgument: CustomStringConvertible {
    var policy: RankPolicy
    /// The metric the policy's name asks for (nil: `--metric` decides).
    var metric: MetricName?
    var text: String

    /// ARSVD's energy rule at 0.95.
    static let `default` = PolicyArgument(policy: .energy(0.95), metric: nil, text: "energy:0.95")

    init(policy: RankPolicy, metric: MetricName?, text: String) {
        self.policy = policy
        self.metric = metric
        self.text = text
    }

    init(parsing text: String) throws {
        self.text = text
        for name in [MetricName.whitened, .activationScaled] {
            let prefix = name.rawValue
            guard text == prefix || text.hasPrefix(prefix + ":") || text.hasPrefix(prefix + "=") else { continue }
            let rest = text.dropFirst(prefix.count)
            policy = try Self.rankPolicy("energy" + (rest.isEmpty ? ":0.95" : String(rest)))
            metric = name
            return
        }
        policy = try Self.rankPolicy(text, alsoKnown: [MetricName.whitened.rawValue, MetricName.activationScaled.rawValue])
        metric = nil
    }

    /// `RankPolicy(parsing:)`, with "did you mean" when the policy's name is a typo of one it knows
    /// (or of `alsoKnown`).
    static func rankPolicy(_ text: String, alsoKnown: [String] = []) throws -> RankPolicy {
        do {
            return try RankPolicy(parsing: text)
        } catch let error as PolicyError where error.kind == .unknownPolicy {
            let name = String(text.prefix { $0 != ":" && $0 != "=" })
            throw PolicyError(error.description + Suggestion.clause(for: name, among: ["energy", "entropy", "erank", "error", "rank", "ratio"] + alsoKnown),
                              kind: .unknownPolicy)
        }
    }

    var description: String { text }
}

/// `--layer PATTERN=POLICY`.
struct LayerPolicyArgument {
    var override: ConversionOptions.Override
    /// The metric the policy names (`whitened:τ`, `activation-scaled:τ`: the energy rule in that metric), if any.
    /// Every layer is truncated in the conversion's one metric, so it must be that one (`Convert.validate`).
    var metric: MetricName?
    /// As given, `PATTERN=POLICY`.
    var text: String

    init(parsing spec: String) throws {
        text = spec
        guard let equals = spec.firstIndex(of: "=") else { throw PolicyError("--layer needs PATTERN=POLICY, found '\(spec)'") }
        let policy = try PolicyArgument(parsing: String(spec[spec.index(after: equals)...]))
        override = .init(pattern: NamePattern(String(spec[..<equals])), policy: policy.policy)
        metric = policy.metric
    }
}

/// `--minimize`: what an accuracy-targeted conversion makes smallest.
enum MinimizeName: String, CaseIterable, ExpressibleByArgument {
    case parameters, bytes
}

/// A size in bytes from the command line: a whole number of bytes, or a number with a unit
/// B, kB/KB (1000), KiB (1024), MB (10⁶), MiB (2²⁰), GB, GiB.
struct ByteSize: Equatable {
    var bytes: Int

    static let units: [(String, Double)] = [
        ("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("KB", 1e3), ("B", 1),
    ]

    init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var number = trimmed, factor = 1.0
        for (unit, value) in Self.units where trimmed.hasSuffix(unit) {
            number = String(trimmed.dropLast(unit.count)).trimmingCharacters(in: .whitespaces)
            factor = value
            break
        }
        guard let value = Double(number), value.isFinite, value > 0, value * factor < 1e15,
              number.allSatisfy({ $0.isNumber || $0 == "." }) else {
            throw ValidationError("'\(text)' is not a size: give bytes, or a number with B, kB, KiB, MB, MiB, GB or GiB (e.g. 40KiB)")
        }
        bytes = Int((value * factor).rounded(.down))
        guard bytes >= 1 else { throw ValidationError("'\(text)' is less than one byte") }
    }
}
