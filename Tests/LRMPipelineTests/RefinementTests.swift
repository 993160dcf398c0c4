import LRMCompress
import LRMFormat
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

@Suite("The rank search's confirmation ladder")
struct RankLadderTests {
    /// A 60-50-40-3 MLP with seeded random kernels, its spectra, and a search that is never asked to evaluate.
    func search() throws -> RankSearch {
        var rng = SeededGenerator(seed: 5)
        func kernel(_ rows: Int, _ columns: Int) -> Tensor { Tensor(shape: [rows, columns], floats: (0..<(rows * columns)).map { _ in rng.nextSymmetricFloat() }) }
        let model = Model(name: "m", input: InputSpec(shape: [60]), layers: [
            Layer(name: "h1", operation: .dense(kernel: kernel(60, 50), bias: nil, activation: .relu)),
            Layer(name: "h2", operation: .dense(kernel: kernel(50, 40), bias: nil, activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: kernel(40, 3), bias: nil, activation: .softmax)),
        ])
        var spectra: [String: LayerSpectrum] = [:]
        for layer in model.layers { spectra[layer.name] = try Converter.spectrum(of: layer, policy: .effectiveRank, options: ConversionOptions()) }
        return RankSearch(model: model, spectra: spectra, options: ConversionOptions(), policyName: "target-accuracy-drop", policyParameter: 1) { _ in
            Issue.record("the ladder evaluates through its own closure")
            return ValidationScore(accuracy: 0, standardError: 0)
        }
    }

    func assignment(_ search: RankSearch, _ ranks: [String: Int]) -> RankAssignment {
        RankAssignment(ranks: ranks, hiddenFraction: search.hiddenFraction(ranks), validationAccuracy: 1)
    }

    @Test("ranks are interpolated per layer on a log scale; a layer without a rank counts at its full rank")
    func interpolation() throws {
        let search = try search()
        #expect(ConversionPipeline.interpolatedRanks(["h1": 16, "h2": 1], ["h1": 1, "h2": 4], 0.5, search: search) == ["h1": 4, "h2": 2])
        #expect(ConversionPipeline.interpolatedRanks([:], ["h1": 5], 0.5, search: search) == ["h1": 16])  // √(50·5)
        #expect(ConversionPipeline.interpolatedRanks(["h1": 16, "h2": 9], ["h1": 1, "h2": 1], 0, search: search) == ["h1": 16, "h2": 9])
    }

    @Test("gaps over 1.2× in hidden fraction get evenly spaced rungs that were accepted; the path's own candidates stay")
    func rungs() throws {
        let search = try search()
        let path = [assignment(search, [:]), assignment(search, ["h1": 25, "h2": 20]), assignment(search, ["h1": 4, "h2": 4]),
                    assignment(search, ["h1": 4, "h2": 3])]
        var offered: [[String: Int]] = []
        let all = ConversionPipeline.rankLadder(path, search: search) { ranks in
            offered.append(ranks)
            return assignment(search, ranks)
        }
        #expect(all.first?.ranks == [:] && all.last?.ranks == ["h1": 4, "h2": 3])
        for ranks in path.map(\.ranks) { #expect(all.contains { $0.ranks == ranks }) }
        for (a, b) in zip(all, all.dropFirst()) { #expect(b.hiddenFraction < a.hiddenFraction) }
        // The 5.7× gap (fraction 0.91 → 0.16) gets the most rungs, 8, at steps of about 1.21× (5.7^(1/9)); the
        // others (1 → 0.91, 0.16 → 0.14) none.
        let big = all.filter { $0.hiddenFraction < path[1].hiddenFraction && $0.hiddenFraction > path[2].hiddenFraction }
        #expect(big.count == 8 && all.count == path.count + 8 && offered.count == 8)
        for (a, b) in zip([path[1]] + big, big + [path[2]]) { #expect(a.hiddenFraction / b.hiddenFraction < 1.45) }
        // Every rung offered lay strictly inside the wide gap.
        for ranks in offered {
            let fraction = search.hiddenFraction(ranks)
            #expect(fraction < path[1].hiddenFraction && fraction > path[2].hiddenFraction)
        }
        // Nothing accepted: the path as it was.
        let none = ConversionPipeline.rankLadder(path, search: search) { _ in nil }
        #expect(none.map(\.ranks) == path.map(\.ranks))
    }

    /// A stand-in for a fine-tuned candidate: its assignment and where it came from.
    struct Tuned: Equatable {
        var assignment: RankAssignment
        var rung: Bool
        static func == (a: Tuned, b: Tuned) -> Bool { a.assignment.ranks == b.assignment.ranks && a.rung == b.rung }
    }

    @Test("fine-tuned candidates kept far apart get rungs between them, made by the caller; the kept ones stay, in order")
    func fineTunedRungs() throws {
        let search = try search()
        let kept = [Tuned(assignment: assignment(search, ["h1": 25, "h2": 20]), rung: false),
                    Tuned(assignment: assignment(search, ["h1": 4, "h2": 4]), rung: false),
                    Tuned(assignment: assignment(search, ["h1": 4, "h2": 3]), rung: false)]
        var made = 0
        // Every second rung offered passes.
        let ladder = ConversionPipeline.ladder(kept, assignment: \.assignment, search: search) { ranks -> Tuned? in
            made += 1
            return made % 2 == 0 ? Tuned(assignment: assignment(search, ranks), rung: true) : nil
        }
        #expect(made == 8)   // the 5.7× gap's 8 rungs; the 1.15× gap gets none
        #expect(ladder.filter { !$0.rung } == kept)
        #expect(ladder.filter(\.rung).count == 4)
        #expect(ladder.first == kept[0] && ladder.last == kept[2])
        for (a, b) in zip(ladder, ladder.dropFirst()) { #expect(b.assignment.hiddenFraction < a.assignment.hiddenFraction) }
        // One candidate, or none: nothing to fill.
        #expect(ConversionPipeline.ladder([kept[0]], assignment: \.assignment, search: search) { _ -> Tuned? in
            Issue.record("no gap to fill")
            return nil
        } == [kept[0]])
    }

    @Test("walking the ladder visits the candidates the whole ladder holds, in order, and makes no rung below where the visit stopped")
    func lazyRungs() throws {
        let search = try search()
        let kept = [Tuned(assignment: assignment(search, ["h1": 25, "h2": 20]), rung: false),
                    Tuned(assignment: assignment(search, ["h1": 12, "h2": 10]), rung: false),
                    Tuned(assignment: assignment(search, ["h1": 4, "h2": 4]), rung: false)]
        let make = { (ranks: [String: Int]) -> Tuned? in Tuned(assignment: assignment(search, ranks), rung: true) }
        let whole = ConversionPipeline.ladder(kept, assignment: \.assignment, search: search, make: make)
        let firstGap = whole.firstIndex(of: kept[1])!
        #expect(firstGap > 1 && whole.count > firstGap + 2)   // rungs in both gaps
        for stop in whole.indices {
            var made = 0, visited: [Tuned] = []
            ConversionPipeline.walkLadder(kept, assignment: \.assignment, search: search, make: { ranks in
                made += 1
                return make(ranks)
            }) { candidate in
                visited.append(candidate)
                return visited.count <= stop   // stops after visiting whole[stop]
            }
            #expect(visited == Array(whole.prefix(stop + 1)))
            #expect(made == visited.filter(\.rung).count)   // every rung made was visited: none below the stop
        }
    }
}
