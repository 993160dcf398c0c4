import LRMCompress
import LRMFormat
import LRMPipeline

/// A conversion that has nothing to factorize (`--exclude` keeps every layer it could factorize as it is, or the model
/// has none; a `.lrm` input's factorized layers count, since a policy conversion and a rank search truncate them
/// further): the options that act only on factorized layers would change nothing without a word, so they are refused
/// (exit 64) as ``LRM/Convert/refuseUnusedOptions()`` refuses options of another kind of conversion, once the model's
/// shapes are known and before any data is read; a plain policy conversion without them says so on stderr and goes on
/// (its output is the model as it is, its test, with data, the original's).
extension LRM.Convert {
    /// `options` are the conversion's (``options()``), `factorized` the indices of the layers already factorized and
    /// `searched` what a search for ``target`` decomposes (``ConversionPipeline/searchedKernels(_:target:options:)``).
    func checkSomethingToFactorize(_ model: MappedModel, options: ConversionOptions, factorized: [Int], searched: [SearchedKernel]) throws {
        switch target {
        case .size, .minimizeBytes:
            // A size search still chooses every dense layer's storage, excluded ones included.
            return
        case .accuracyDrop, .metricDrop, .ratio:
            guard !searched.contains(where: \.choosesRank) else { return }
            let flag = targetAccuracyDrop != nil ? "--target-accuracy-drop" : targetMetricDrop != nil ? "--target-metric-drop" : "--target-ratio"
            var unexcluded = options
            unexcluded.overrides.removeAll { $0.policy == nil }
            let candidates = ConversionPipeline.searchedKernels(model, target: target, options: unexcluded).filter(\.choosesRank)
            let convolutions = candidates.contains { if case .convolution = $0.role { true } else { false } }
            let kinds = convolutions ? "hidden dense layers and convolutions" : "hidden dense layers (every dense layer but the output layer)"
            var why = candidates.isEmpty ? "the model has none" : "\(exclusions) every one of them"
            if targetRatio == nil && conv == .none && hasConvolutions(model) { why += " (and --conv none keeps the convolutions)" }
            throw CommandFailure(status: .usage, message: "\(input): \(flag) searches the ranks of the \(kinds); \(why): nothing to search")
        case .policy:
            // An already factorized layer (a .lrm input) is truncated further by a policy, whatever --conv says.
            let factorizable = (0..<model.layerCount).filter { model.factorizableKernelShape($0, convolutions: conv != .none) != nil } + factorized
            guard !factorizable.contains(where: { options.policy(forLayer: model.layerName($0)) != nil }) else { return }
            let convolutionsKept = conv == .none && hasConvolutions(model)
            let kinds = (conv != .none && hasConvolutions(model) ? "dense and Conv2D layer" : "dense layer")
                + (factorized.isEmpty ? "" : " (and factorized one)")
            var why = factorizable.isEmpty ? "the model has no dense layer\(convolutionsKept ? "" : " or Conv2D layer") to factorize"
                : "\(exclusions) every \(kinds)"
            if convolutionsKept { why += " and --conv none keeps the convolutions" }
            if let flag = factorizingOption {
                throw CommandFailure(status: .usage, message: "\(input): \(flag) applies to the layers a conversion factorizes; \(why): nothing is factorized")
            }
            printWarning("nothing is factorized in \(input): \(why); its layers stay as they are")
        }
    }

    /// The `--exclude` patterns, as the messages name them, with their verb.
    private var exclusions: String {
        "--exclude " + excluded.map { "'\(escaped($0))'" }.joined(separator: ", ") + (excluded.count == 1 ? " matches" : " match")
    }

    /// Whether `model` has a Conv2D layer a conversion could factorize (a depthwise convolution never is).
    func hasConvolutions(_ model: MappedModel) -> Bool {
        (0..<model.layerCount).contains { model.factorizableKernelShape($0, convolutions: true)?.count == 4 }
    }

    /// The first option given that acts only on the layers a policy conversion factorizes (nil: none is).
    /// `--policy` and `--layer` in the plain metric are the conversion itself; `--conv none` keeps the convolutions.
    private var factorizingOption: String? {
        if metricName != .plain {
            return policy.metric != nil ? "--policy \(escaped(policy.text))" : "--metric \(metricName.rawValue)"
        }
        let given: [(String, Bool)] = [
            ("--finetune", finetune != nil),
            ("--factor-dtype \(factorDtype.rawValue)", givenFactorDtype != nil),
            ("--round-rank \(roundRank)", roundRank != 1),
            ("--all-kernels", allKernels),
            ("--conv \(conv.rawValue)", givenConv != nil && conv != .none),
            ("--svd \(svd.rawValue)", svd != .auto),
            ("--seed", givenSeed != nil),
            ("--precision \(precision.rawValue)", givenPrecision != nil),
        ]
        return given.first(where: \.1)?.0
    }
}
