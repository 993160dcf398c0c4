/// "Did you mean …?" for a mistyped name: the closest of the known names by edit distance.
package enum Suggestion {
    /// The known name closest to `typed` (optimal string alignment distance: insertions, deletions,
    /// substitutions and swaps of neighbours each cost 1, case ignored), when it is close enough to be a
    /// typo: at most 1 edit for names up to 4 characters, 2 up to 8, else 3. Ties go to the first known name.
    package static func closest(to typed: String, among known: [String]) -> String? {
        let limit = typed.count <= 4 ? 1 : typed.count <= 8 ? 2 : 3
        var best: (name: String, distance: Int)?
        for name in known where name != typed {
            let distance = editDistance(typed.lowercased(), name.lowercased())
            if distance <= limit, distance < (best?.distance ?? .max) { best = (name, distance) }
        }
        return best?.name
    }

    /// "; did you mean 'x'?" or "".
    package static func clause(for typed: String, among known: [String]) -> String {
        closest(to: typed, among: known).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// The optimal string alignment distance between `a` and `b` (Damerau–Levenshtein without repeated edits of a substring).
    package static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        guard !x.isEmpty else { return y.count }
        guard !y.isEmpty else { return x.count }
        var previous2 = [Int](repeating: 0, count: y.count + 1)
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[y.count]
    }
}
