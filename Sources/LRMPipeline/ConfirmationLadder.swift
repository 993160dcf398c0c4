/// The confirmation ladder every accuracy-budgeted search builds (the rank search's, its fine-tuned candidates',
/// and the size search's): the candidates it accepted, from the largest to the smallest, with rungs added where
/// consecutive ones differ by more than `step` in size. The confirmation re-judges the ladder in order and stops at
/// the first miss, so that a miss on the confirmation records costs a small step back, not the distance to the
/// previous accepted candidate (the searches move by large steps).
enum ConfirmationLadder {
    /// `path` (each smaller than the one before, by `size`) with rungs in every gap where one is more than `step`
    /// times the next: for each of `fractions(larger, smaller)` in turn, `rung(larger, smaller, fraction, fits)`
    /// makes a candidate that far from the larger toward the smaller (nil: none, or it missed the budget on the
    /// selection records), and it is kept when its size `fits`, strictly between the last rung kept and the smaller
    /// (`rung` may ask `fits` first, to skip a candidate before scoring it). A path candidate that `sameRanks` as the
    /// last rung, and is no smaller, is not repeated.
    static func rungs<Rung>(_ path: [Rung], step: Double, size: (Rung) -> Double, sameRanks: (Rung, Rung) -> Bool,
                            fractions: (_ larger: Rung, _ smaller: Rung) -> [Double],
                            rung: (_ larger: Rung, _ smaller: Rung, _ fraction: Double, _ fits: (Double) -> Bool) throws -> Rung?) rethrows -> [Rung] {
        var rungs: [Rung] = []
        try walk(path, step: step, size: size, sameRanks: sameRanks, fractions: fractions, rung: rung) { rungs.append($0); return true }
        return rungs
    }

    /// The ladder of ``rungs(_:step:size:sameRanks:fractions:rung:)`` handed to `visit` one candidate at a time, in
    /// order, until `visit` returns false: a gap's rungs are made only when the walk reaches it, so a confirmation
    /// that stops at a miss never pays for the rungs below it. The candidates visited are the ladder's first ones,
    /// the same as when it is built whole (a gap's rungs depend only on its two ends, fixed before the walk).
    static func walk<Rung>(_ path: [Rung], step: Double, size: (Rung) -> Double, sameRanks: (Rung, Rung) -> Bool,
                           fractions: (_ larger: Rung, _ smaller: Rung) -> [Double],
                           rung: (_ larger: Rung, _ smaller: Rung, _ fraction: Double, _ fits: (Double) -> Bool) throws -> Rung?,
                           visit: (Rung) throws -> Bool) rethrows {
        guard var previous = path.first else { return }
        var last = previous
        guard try visit(previous) else { return }
        for next in path.dropFirst() {
            if size(previous) > step * size(next) {
                for fraction in fractions(previous, next) {
                    let above = size(last), below = size(next)
                    let fits = { (candidate: Double) in candidate < above && candidate > below }
                    if let candidate = try rung(previous, next, fraction, fits), fits(size(candidate)) {
                        last = candidate
                        guard try visit(candidate) else { return }
                    }
                }
            }
            if size(next) < size(last) || !sameRanks(next, last) {
                last = next
                guard try visit(next) else { return }
            }
            previous = next
        }
    }
}
