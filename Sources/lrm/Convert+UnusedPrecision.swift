import LRMCompress
import LRMFormat

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
    /// the Gram threshold) or through the Gram matrix; which one follows from the shapes of the layers it searches (the
    /// hidden dense layers, and for an accuracy or metric budget the convolutions in the forms `--conv` allows), so it
    /// is said before the search starts.
    func warnAboutUnusedPrecision(searching model: MappedModel) {
        guard let givenPrecision, searches, svd == .auto else { return }
        let options = options()
        let named = { (index: Int) in options.policy(forLayer: model.layerInfo(index).name) != nil }
        let dense = (0..<model.layerCount).filter { model.factorizableKernelShape($0, convolutions: false)?.count == 2 }
        var matrices = dense.dropLast().filter(named).compactMap { model.factorizableKernelShape($0, convolutions: false) }
        if searchesConvolutions {
            for index in 0..<model.layerCount where named(index) {
                guard let shape = model.factorizableKernelShape(index, convolutions: true), shape.count == 4 else { continue }
                let (kh, kw, cin, cout) = (shape[0], shape[1], shape[2], shape[3])
                if conv != .spatial { matrices.append([kh * kw * cin, cout]) }
                if conv != .channel { matrices.append([cin * kh, kw * cout]) }
            }
        }
        guard !matrices.contains(where: { min($0[0], $0[1]) < options.gramThreshold }) else { return }
        printWarning("--precision \(givenPrecision.rawValue) is not used: no layer the search decomposes in \(input) gets the exact SVD "
                     + "by gesdd, the one method it sets (\(autoNote))")
    }

    /// Whether the conversion searches ranks or storage rather than applying a policy.
    var searches: Bool { targetAccuracyDrop != nil || targetMetricDrop != nil || targetRatio != nil || targetSize != nil }

    /// Whether the search weighs the convolutions too: a rank search with an accuracy or metric budget (not `--target-ratio`,
    /// `--target-size` or `--minimize bytes`), unless `--conv none`.
    var searchesConvolutions: Bool { conv != .none && ((targetAccuracyDrop != nil && minimize == .parameters) || targetMetricDrop != nil) }

    private var autoNote: String {
        "--svd auto takes gesdd only for a kernel of min(in, out) below \(options().gramThreshold), and the Gram matrix's "
            + "eigendecomposition, always in double, from there"
    }
}
