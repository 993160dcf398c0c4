import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// `lrm report --sweep FILE`: a sweep JSON whose numbers no sweep writes.
@Suite("report --sweep with numbers no sweep writes")
struct HostileSweepJSONTests {
    /// A sweep JSON of `lrm example`'s model (layers hidden and output) with one point.
    static func sweep(parameters: Double, ratio: Double, accuracy: Double, original: Double = 0.9) -> String {
        #"{"model": "m.lrm", "dataset": "d", "original": {"accuracy": \#(original), "samples": 10}, "points": [{"method": "energy", "parameter": 0.9, "#
            + #""ranks": [{"layer": "hidden", "rank": 4}], "parameters": \#(parameters), "compression_ratio": \#(ratio), "accuracy": \#(accuracy)}]}"#
    }

    @Test("parameters or a compression ratio of 1e308 is refused in one line naming the file, exit 65, nothing written (the product trapped converting ∞ to Int: exit 132); an accuracy or ratio outside what a sweep writes is refused likewise",
          arguments: [(1e308, 1e308, 0.5, "parameters"), (1e308, 1.5, 0.5, "parameters"), (nil, 1e300, 0.5, "compression_ratio"),
                      (nil, 1, 1e300, "accuracy"), (nil, 1, -5, "accuracy")] as [(Double?, Double, Double, String)])
    func refused(_ given: Double?, _ ratio: Double, _ accuracy: Double, _ named: String) throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 2), to: model)
        // Without given parameters, the model's own count over the ratio: the sweep is taken for this model's.
        let before = Double(ModelSummary(header: try ContainerFile(path: model).header).parametersBefore)
        let parameters = given ?? before / ratio
        let json = try scratch.write(Array(Self.sweep(parameters: parameters, ratio: ratio, accuracy: accuracy).utf8), to: "s.json")
        let out = scratch.file("r.html")
        let result = try ChildProcess.run(["report", model, "--sweep", json, "-o", out], timeout: 60)
        #expect(result.isCleanError && result.status == 65, "\(result)")
        #expect(result.stderr.contains("s.json: not the JSON of `lrm sweep --json`") && result.stderr.contains(named), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
