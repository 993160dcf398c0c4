import Foundation
import LRMTestSupport
import Testing

/// `lrm diff A.lrm B.lrm`: what differs, and exit 0 only when nothing does.
@Suite("lrm diff")
struct DiffCLITests {
    @Test("a file against itself: no differences, exit 0; against another seed and another rank: tensors, layers and metadata named, exit 1")
    func diff() throws {
        let scratch = try Scratch()
        let (a, b, c) = (scratch.file("a.lrm"), scratch.file("b.lrm"), scratch.file("c.lrm"))
        #expect(try ChildProcess.run(["example", "-o", a]).status == 0)
        #expect(try ChildProcess.run(["example", "-o", b, "--seed", "2"]).status == 0)
        let same = try ChildProcess.run(["diff", a, a])
        #expect(same.status == 0 && same.stdout.contains("no differences (5 tensors compared)"), "\(same.stdout)\(same.stderr)")

        // Another seed: same layers and shapes, other values.
        let seeds = try ChildProcess.run(["diff", a, b, "--json"])
        #expect(seeds.status == 1, "\(seeds.stderr)")
        let report = try jsonObject(seeds.stdout)
        #expect(report["identical"] as? Bool == false && report["compared_tensors"] as? Int == 5)
        #expect((report["max_abs_difference"] as? Double ?? 0) > 0)
        #expect((report["tensors"] as? [String])?.contains { $0.hasPrefix("hidden/us 784×16: max |Δ| ") } == true, "\(report)")
        #expect((report["layers"] as? [String])?.isEmpty == true)

        // Another rank: the layer's rank and the factors' shapes.
        let convert = try ChildProcess.run(["convert", TestPackage.root + "/samples/mnist_mlp.h5", "--policy", "rank:8", "-o", c])
        #expect(convert.status == 0, "\(convert.stderr)")
        let d = scratch.file("d.lrm")
        #expect(try ChildProcess.run(["convert", TestPackage.root + "/samples/mnist_mlp.h5", "--policy", "rank:16", "-o", d]).status == 0)
        let ranks = try ChildProcess.run(["diff", c, d])
        #expect(ranks.status == 1)
        for expected in ["Layers", "dense_1: factorized_dense rank 8", "→ factorized_dense rank 16", "dense_1/us: shape 784×8 → 784×16"] {
            #expect(ranks.stdout.contains(expected), "\(expected) missing: \(ranks.stdout)")
        }
        expectOneLineError(try ChildProcess.run(["diff", a, scratch.file("missing.lrm")]), status: 66, naming: "missing.lrm")
    }
}
