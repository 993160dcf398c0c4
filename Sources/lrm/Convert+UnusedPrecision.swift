import LRMCompress
import LRMFormat
import LRMPipeline

/// `--precision` sets only LAPACK's `gesdd`, the exact SVD of a layer below the Gram threshold: `--svd gram` refuses it
/// (``LRM/Convert/refuseUnusedOptions()``); where the method is chosen per layer, a conversion none of whose layers
/// got `gesdd` says that it was not used, as `--seed` does for the sketches.
extension LRM.Convert {
    /// A policy conversion: its decisions name each decomposed layer's method (`gesdd-f64`, `gram-f64`, `randomized`,
    /// prefixed by a data-aware metric, suffixed `+refit`); none with `gesdd` means `--precision` changed nothing.
    func warnAboutUnusedPrecision(_ decisions: [LayerDecision]) {
        guard let givenPrecision, !searches, !decisions.contains(where: { $0.method?.contains("gesdd") == true }) else { return }
        let why = switch svd {
        case .randomized: " (--svd randomized sketched every layer it decomposed)"
        case .auto: " (\(autoNote))"
        case .exact, .gram: ""
        }
        printWarning("--precision \(givenPrecision.rawValue) is not used: no layer of \(input) got the exact SVD by gesdd, "
                     + "the one method it sets\(why)")
    }

    /// A search: its spectra are exact, by `gesdd` (`--svd exact`, or `auto` for a kernel matrix of min(in, out) below
    /// the Gram threshold) or through the Gram matrix; which one follows from the shapes of the matrices it chooses ranks
    /// from (the pipeline's own list, ``ConversionPipeline/searchedKernels(_:target:options:)``: the hidden dense
    /// layers, and for an accuracy or metric budget the convolutions in the forms `--conv` allows), so it is said before
    /// the search starts. `searched` is that list for the conversion's `options`.
    func warnAboutUnusedPrecision(searched: [SearchedKernel], options: ConversionOptions) {
        guard let givenPrecision, searches, svd == .auto else { return }
        let ranked = searched.filter(\.choosesRank)
        guard !ranked.contains(where: { min($0.rows, $0.columns) < options.gramThreshold }) else { return }
        printWarning("--precision \(givenPrecision.rawValue) is not used: no layer the search decomposes in \(input) gets the exact SVD "
                     + "by gesdd, the one method it sets (\(autoNote))")
    }

    /// Whether the conversion searches ranks or storage rather than applying a policy.
    var searches: Bool { targetAccuracyDrop != nil || targetMetricDrop != nil || targetRatio != nil || targetSize != nil }

    private var autoNote: String {
        "--svd auto takes gesdd only for a kernel of min(in, out) below \(options().gramThreshold), and the Gram matrix's "
            + "eigendecomposition, always in double, from there"
    }
}
