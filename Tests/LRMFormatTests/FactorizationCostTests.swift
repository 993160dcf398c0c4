import Testing
@testable import LRMFormat

@Suite("Factorization cost")
struct FactorizationCostTests {
    @Test func countsParametersBytesAndMultiplyAccumulates() {
        let cost = FactorizationCost(inFeatures: 784, outFeatures: 512)
        #expect(cost.denseParameters == 401_408)
        #expect(cost.factorParameters(rank: 10) == 12_960)
        #expect(cost.storedParameters(rank: 10) == 12_960)
        #expect(cost.storedParameters(rank: nil) == 401_408)
        #expect(cost.bytes(rank: 10, dtype: .float16) == 25_920)
        #expect(cost.multiplyAccumulates(rank: 10) == 12_960)
    }

    @Test func aFactorizationPaysOnlyBelowTheBreakEvenRank() {
        let cost = FactorizationCost(inFeatures: 784, outFeatures: 512)
        // 309·1296 = 400,464 < 401,408 ≤ 310·1296 = 401,760.
        #expect(cost.breakEvenRank == 309)
        #expect(cost.pays(rank: 309))
        #expect(!cost.pays(rank: 310))
        #expect(cost.storedParameters(rank: 310) == cost.denseParameters)
        // in = out = 4, k = 2: k·(in + out) = 16 = in·out exactly, which does not pay.
        let square = FactorizationCost(inFeatures: 4, outFeatures: 4)
        #expect(square.factorParameters(rank: 2) == square.denseParameters)
        #expect(!square.pays(rank: 2))
        #expect(square.breakEvenRank == 1)
    }

    @Test func ranksRoundUpToAMultipleWithinTheFullRank() {
        let cost = FactorizationCost(inFeatures: 100, outFeatures: 30)
        #expect(cost.roundedRank(9, multiple: 8) == 16)
        #expect(cost.roundedRank(16, multiple: 8) == 16)
        #expect(cost.roundedRank(29, multiple: 8) == 30)
        #expect(cost.roundedRank(0, multiple: 8) == 1)  // 0 stays 0, then at least 1
        #expect(cost.roundedRank(5, multiple: 1) == 5)
        #expect(cost.roundedRank(5, multiple: 0) == 5)
        #expect(cost.roundedRank(Int.max, multiple: 16) == 30)
        #expect(cost.rank(keepingFraction: 0.5) == 11)  // ⌊0.5·3000/130⌋ = ⌊11.54⌋
        #expect(cost.rank(keepingFraction: 1e-9) == 1)
    }

    @Test func hugeShapesSaturateInsteadOfOverflowing() {
        let cost = FactorizationCost(inFeatures: Int.max / 2, outFeatures: 4)
        #expect(cost.denseParameters == Int.max)
        #expect(cost.factorParameters(rank: 3) == Int.max)
        #expect(!cost.pays(rank: 1))
        #expect(cost.bytes(rank: nil, dtype: .float64) == Int.max)
    }
}
