import Foundation
import Testing
@testable import LRMCompress

@Suite("Rank policies on hand-made spectra")
struct RankPolicyTests {
    // σ = [3, 2, 1]: energies 9, 4, 1 of 14; cumulative 0.643, 0.929, 1.
    let sigma: [Double] = [3, 2, 1]
    func rank(_ policy: RankPolicy, _ s: [Double]? = nil, in i: Int = 3, out o: Int = 3) -> Int {
        let values = s ?? sigma
        return policy.chooseRank(singularValues: values, totalEnergy: Spectrum.energy(values), inFeatures: i, outFeatures: o)
    }

    @Test("energy picks the smallest k reaching τ")
    func energy() {
        #expect(rank(.energy(0.5)) == 1)
        #expect(rank(.energy(9.0 / 14)) == 1)  // exactly at the boundary
        #expect(rank(.energy(0.65)) == 2)
        #expect(rank(.energy(0.93)) == 3)
        #expect(rank(.energy(1.0)) == 3)
    }

    @Test("error ε is energy 1 − ε²")
    func error() {
        // √(5/14) = 0.598 is the error at k = 1; √(1/14) = 0.267 at k = 2.
        #expect(rank(.error(0.6)) == 1)
        #expect(rank(.error(0.5)) == 2)
        #expect(rank(.error(0.27)) == 2)
        #expect(rank(.error(0.26)) == 3)
    }

    @Test("entropy and effective rank on flat and peaked spectra")
    func entropy() {
        let flat: [Double] = [1, 1, 1, 1]
        #expect(abs(Spectrum.entropy(flat) - log(4)) < 1e-12)
        #expect(rank(.entropy(0.5), flat, in: 4, out: 4) == 2)
        #expect(rank(.entropy(0.51), flat, in: 4, out: 4) == 3)
        #expect(rank(.effectiveRank, flat, in: 4, out: 4) == 4)
        #expect(rank(.effectiveRank, [1, 0, 0]) == 1)
        // p = [0.5, 0.25, 0.25]: H = 1.5 ln 2 = 1.0397, exp(H) = 2.83 → 3; partial after 1 = 0.5 ln 2 = H/3.
        #expect(rank(.effectiveRank, [2, 1, 1]) == 3)
        #expect(rank(.entropy(1.0 / 3), [2, 1, 1]) == 1)
        #expect(rank(.entropy(0.34), [2, 1, 1]) == 2)
    }

    @Test("fixed rank clamps; ratio keeps the parameter budget")
    func staticPolicies() {
        #expect(rank(.rank(2)) == 2)
        #expect(rank(.rank(10)) == 3)
        // 100 × 50, r = 0.25: k·150 ≤ 1250 → k = 8.
        #expect(RankPolicy.ratio(0.25).chooseRank(singularValues: [], totalEnergy: 1, inFeatures: 100, outFeatures: 50) == 8)
        #expect(RankPolicy.ratio(0.001).chooseRank(singularValues: [], totalEnergy: 1, inFeatures: 100, outFeatures: 50) == 1)
    }

    @Test("policies parse from the command line and reject bad values")
    func parsing() throws {
        #expect(try RankPolicy(parsing: "energy:0.95") == .energy(0.95))
        #expect(try RankPolicy(parsing: "entropy=0.9") == .entropy(0.9))
        #expect(try RankPolicy(parsing: "erank") == .effectiveRank)
        #expect(try RankPolicy(parsing: "rank:64") == .rank(64))
        #expect(try RankPolicy(parsing: "ratio:0.25") == .ratio(0.25))
        #expect(try RankPolicy(parsing: "error:0.1") == .error(0.1))
        for bad in ["energy", "energy:1.5", "energy:0", "rank:2.5", "rank:0", "error:1", "ratio:-1", "svd:3", "erank:2", "energy:nan"] {
            #expect(throws: PolicyError.self, "\(bad)") { try RankPolicy(parsing: bad) }
        }
    }

    @Test("name patterns match globs")
    func patterns() {
        #expect(NamePattern("dense_*").matches("dense_1"))
        #expect(!NamePattern("dense_*").matches("output"))
        #expect(NamePattern("*").matches(""))
        #expect(NamePattern("d?n*e").matches("dense"))
        #expect(NamePattern("output").matches("output"))
        #expect(!NamePattern("output").matches("output2"))
        #expect(NamePattern("a*b*c").matches("aXbYbZc"))
    }
}
