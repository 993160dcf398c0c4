public import LRMCompress
import LRMFormat

extension SweepRunner {
    /// The ARSVD paper's grid: energy and entropy τ for each threshold, with the static baselines
    /// (one rank k, one parameter ratio r for every layer) at each ARSVD point's parameter budget.
    public func paperGrid(thresholds: [Double]) throws -> [SweepPoint] {
        let spectra = try spectra(metric: .plain, calibration: nil)
        var points: [SweepPoint] = []
        for (name, make) in [("energy", RankPolicy.energy), ("entropy", RankPolicy.entropy)] {
            for tau in thresholds {
                let point = try evaluate(ranks(make(tau), spectra: spectra), spectra: spectra, method: name, parameter: tau)
                points.append(point)
                let k = fixedRank(budget: point.parameters, spectra: spectra)
                points.append(try evaluate(ranks(.rank(k), spectra: spectra), spectra: spectra,
                                           method: "rank (= \(name) \(tau))", parameter: Double(k)))
                let r = fixedRatio(budget: point.parameters, spectra: spectra)
                points.append(try evaluate(ranks(.ratio(r), spectra: spectra), spectra: spectra,
                                           method: "ratio (= \(name) \(tau))", parameter: r))
            }
        }
        return points
    }

    /// Every method on a dense grid: energy, entropy, whitened and activation-scaled τ, fixed ranks
    /// and fixed ratios; the data-aware metrics use `calibration` (the original model's statistics).
    public func fineGrid(calibration: CalibrationStatistics) throws -> [SweepPoint] {
        let plain = try spectra(metric: .plain, calibration: nil)
        let whitened = try spectra(metric: .whitened(ridge: 1e-6), calibration: calibration)
        let scaled = try spectra(metric: .activationScaled(alpha: 0.5), calibration: calibration)
        let energies = [0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.993, 0.995, 0.997, 0.998,
                        0.9985, 0.999, 0.9995, 0.9999]
        let ratios = [0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        let largest = plain.values.map { min($0.inFeatures, $0.outFeatures) }.max() ?? 1
        var ranks = [1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512].filter { $0 <= largest }
        if ranks.last != largest { ranks.append(largest) }
        var points: [SweepPoint] = []
        for tau in energies {
            points.append(try evaluate(self.ranks(.energy(tau), spectra: plain), spectra: plain, method: "energy", parameter: tau))
            points.append(try evaluate(self.ranks(.entropy(tau), spectra: plain), spectra: plain, method: "entropy", parameter: tau))
            points.append(try evaluate(self.ranks(.energy(tau), spectra: whitened), spectra: whitened, method: "whitened", parameter: tau))
            points.append(try evaluate(self.ranks(.energy(tau), spectra: scaled), spectra: scaled, method: "activation-scaled", parameter: tau))
        }
        for k in ranks {
            points.append(try evaluate(self.ranks(.rank(k), spectra: plain), spectra: plain, method: "rank", parameter: Double(k)))
        }
        for r in ratios {
            points.append(try evaluate(self.ranks(.ratio(r), spectra: plain), spectra: plain, method: "ratio", parameter: r))
        }
        return points
    }
}
