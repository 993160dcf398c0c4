import Testing
@testable import LRMPipeline

@Suite("Fine-tuning refinement: which smaller ranks are tried")
struct RefinementTests {
    @Test("every rank scaled by one factor first, then each layer alone, in the given order, from the last kept ranks")
    func uniformThenPerLayer() throws {
        // Layer a can go down to rank 8, layer b only to 15: a uniform scale stops early, a alone goes further.
        var offered: [[String: Int]] = []
        let last = ConversionPipeline.lowerRanks(from: ["a": 40, "b": 20], layers: ["a", "b"]) { ranks in
            offered.append(ranks)
            return ranks["a"]! >= 8 && ranks["b"]! >= 15
        }
        #expect(offered == [
            ["a": 15, "b": 8], ["a": 25, "b": 12], ["a": 32, "b": 16],  // uniform: 0.387, 0.622 fail, 0.789 kept
            ["a": 12, "b": 16], ["a": 8, "b": 16], ["a": 6, "b": 16],   // a alone from {32, 16}: 0.387, 0.241 kept, 0.190 fails
            ["a": 8, "b": 6], ["a": 8, "b": 10], ["a": 8, "b": 13],     // b alone from {8, 16}: every step fails
        ])
        #expect(last == ["a": 8, "b": 16])
    }

    @Test("at most the first 4 layers are lowered alone; unranked layers are never given a rank; ranks stay at least 1")
    func bounds() throws {
        let layers = ["l1", "l2", "l3", "l4", "l5"]
        let start = Dictionary(uniqueKeysWithValues: layers.map { ($0, 10) })
        var offered: [[String: Int]] = []
        let last = ConversionPipeline.lowerRanks(from: start, layers: ["absent"] + layers) { ranks in
            offered.append(ranks)
            return false
        }
        #expect(last == start)
        // 3 uniform candidates, then 3 for each of l1–l3: "absent" (no rank: its first candidate equals the start,
        // which ends its turn) takes one of the 4 turns, and l4 and l5 get none.
        #expect(offered.count == 3 + 3 * 3)
        #expect(offered.allSatisfy { $0.keys.sorted() == layers })
        #expect(offered.prefix(3).allSatisfy { $0.values.allSatisfy { $0 < 10 } })
        for (index, ranks) in offered.dropFirst(3).enumerated() {
            #expect(ranks.filter { $0.value != 10 }.map(\.key) == [layers[index / 3]])
        }

        var kept: [[String: Int]] = []
        let smallest = ConversionPipeline.lowerRanks(from: ["a": 3, "b": 2], layers: ["a", "b"]) { ranks in
            #expect(ranks.values.allSatisfy { $0 >= 1 })
            kept.append(ranks)
            return true
        }
        #expect(kept == [["a": 1, "b": 1]])  // then every candidate repeats the last kept one and ends its bisection
        #expect(smallest == ["a": 1, "b": 1])
    }
}
