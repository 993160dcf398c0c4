import Foundation
import LRMTestSupport
import Testing

/// "Did you mean" for typos in the names lrm checks: commands, options, option values (data sets, tasks,
/// layouts), policy names, and --layer/--exclude patterns that match no layer.
@Suite("Did you mean")
struct DidYouMeanCLITests {
    let mnist = TestPackage.root + "/samples/mnist_mlp.h5"

    @Test("a mistyped command, option, option value or policy name is named with the closest real one; a far-off one gets no guess",
          arguments: [
              (["conver", "x.lrm"], "unknown command 'conver' (did you mean 'convert'?)"),
              (["convert", "x.h5", "--polcy", "energy:0.9", "-o", "y.lrm"], "Unknown option '--polcy'; did you mean '--policy'?"),
              (["verify", "x.lrm", "--dataset", "mnsit"], "The value 'mnsit' is invalid for '--dataset"),
              (["verify", "x.lrm", "--dataset", "cifar10"], "did you mean 'cifar-10'?"),
              (["verify", "x.lrm", "--inputs", "x.npy", "--task", "regresion"], "did you mean 'regression'?"),
              (["convert", "x.h5", "--policy", "enrgy:0.9", "-o", "y.lrm"], "unknown policy 'enrgy:0.9'; expected"),
              (["convert", "x.h5", "--policy", "withened:0.9", "-o", "y.lrm"], "did you mean 'whitened'?"),
              (["convert", "x.h5", "--layer", "dense_1=entrpy:0.9", "-o", "y.lrm"], "did you mean 'entropy'?"),
          ])
    func typos(_ arguments: [String], _ expected: String) throws {
        let run = try ChildProcess.run(arguments)
        expectOneLineError(run, status: 64, naming: expected)
        #expect(run.stderr.contains("did you mean"), "\(run.stderr)")
    }

    @Test("the closest value is the one suggested: mnsit → mnist, enrgy → energy")
    func closest() throws {
        #expect(try ChildProcess.run(["verify", "x.lrm", "--dataset", "mnsit"]).stderr.contains("did you mean 'mnist'?"))
        #expect(try ChildProcess.run(["convert", "x.h5", "--policy", "enrgy:0.9", "-o", "y.lrm"]).stderr.contains("did you mean 'energy'?"))
    }

    @Test("nothing close: no guess", arguments: [
        ["verify", "x.lrm", "--dataset", "imagenet"], ["nosuchcommand"], ["convert", "x.h5", "--frobnicate", "-o", "y.lrm"],
    ])
    func noGuess(_ arguments: [String]) throws {
        let run = try ChildProcess.run(arguments)
        #expect(run.status == 64)
        #expect(!run.stderr.contains("did you mean"), "\(run.stderr)")
    }

    @Test("--exclude or --layer naming no layer: the warning names the closest layer")
    func layerNames() throws {
        let run = try ChildProcess.run(["convert", mnist, "--exclude", "dense1", "--layer", "ouptut=rank:4", "--dry-run"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("--exclude 'dense1' matches no layer of \(mnist) (did you mean 'dense_1'?"), "\(run.stderr)")
        #expect(run.stderr.contains("--layer 'ouptut' matches no layer of \(mnist) (did you mean 'output'?"), "\(run.stderr)")
    }
}
