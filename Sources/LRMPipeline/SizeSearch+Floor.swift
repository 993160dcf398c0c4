import Foundation
public import LRMCompress
public import LRMFormat

extension SizeSearch {
    /// At most the smallest file a size search of `model` can write (``smallestPossible()``), from the model's shapes
    /// alone, before any data is read, calibrated on or searched: the same candidates (``smallestCandidates()``: every
    /// hidden layer at rank 1 in each storage of ``StorageChoice/searched``, and every layer's smallest option of the
    /// per-layer choice), built from rank-1 sketches of the plain kernels (a randomized SVD: cheap) instead of the
    /// search's calibrated spectra.
    /// Their tensors are the search's (sizes follow from shapes, ranks and dtypes alone); their header is no longer
    /// (every factorization's method left empty, no calibration or refit record, the plain metric's name), and the
    /// header's numbers are binary, of fixed size. `options` and `policy`/`parameter` are the search's.
    public static func sizeFloor(_ model: Model, options: ConversionOptions, policy: String, parameter: Double) throws -> Int {
        var plain = options
        plain.metric = .plain
        plain.calibration = nil
        plain.svdMethod = .randomized
        if plain.quantization == nil { plain.quantization = QuantizationOptions(dtype: .int8) }
        let dense = model.layers.filter {
            switch $0.operation {
            case .dense, .factorizedDense: true
            default: false
            }
        }
        var spectra: [String: LayerSpectrum] = [:]
        // An already factorized layer (a `.lrm` input; the output layer too, whose storage the search chooses) from its
        // stored factors, as the search takes it: its smallest ranks are capped by the stored one.
        for layer in dense where options.policy(forLayer: layer.name) != nil {
            if case .factorizedDense = layer.operation { spectra[layer.name] = try Converter.factorizedSpectrum(of: layer) }
        }
        // The hidden layers the search factorizes (not the output layer, nor layers --exclude keeps).
        for layer in dense.dropLast() where options.policy(forLayer: layer.name) != nil {
            guard case let .dense(kernel, _, _) = layer.operation, kernel.shape.count == 2 else { continue }
            // Rank 1, or 2 for i4 codes of an odd shape, or the rank multiple: the smallest ranks a candidate has.
            let rank = min(min(kernel.shape[0], kernel.shape[1]), max(2, plain.rankMultiple))
            spectra[layer.name] = try Converter.spectrum(of: layer, policy: .rank(rank), options: plain)
        }
        let provenance = ConversionProvenance(policy: policy, parameter: parameter, factorDType: .float32, seed: nil,
                                              metric: .plain, calibration: nil, writer: nil)
        var search = SizeSearch(model: model, spectra: spectra, options: plain, provenance: provenance) { _ in
            ValidationScore(accuracy: 0, standardError: 0)
        }
        func size(_ ranks: [String: Int], _ storage: StorageChoice) throws -> Int {
            var built = try search.build(ranks, storage: storage, calibrated: false).model
            for index in built.layers.indices {
                guard case let .factorizedDense(us, vt, bias, activation, record) = built.layers[index].operation else { continue }
                var shorter = record
                shorter.method = ""
                built.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: shorter)
            }
            return try fileSize(built)
        }
        return try search.smallestCandidates().map { try size($0.ranks, $0.storage) }.min() ?? Int.max
    }
}
