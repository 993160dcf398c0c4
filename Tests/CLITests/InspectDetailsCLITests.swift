import Foundation
import LRMTestSupport
import Testing

/// What `lrm inspect`'s Layers table says of format 1.5's layers besides their kind.
@Suite("inspect's Layers table: upsampling factors, transposed convolutions' strides")
struct InspectDetailsCLITests {
    static func fixture(_ name: String) -> String { TestPackage.root + "/Tests/LRMKerasTests/Fixtures/upsample/" + name }

    /// The kind cell of each row of the text's Layers table, by layer name (the cell ends two spaces before the output shape).
    static func kinds(_ text: String, names: [String]) -> [String: String] {
        var kinds: [String: String] = [:]
        for line in text.split(separator: "\n").map(String.init) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count > 2, Int(fields[0]) != nil, names.contains(fields[1]) else { continue }
            let rest = line[line.range(of: " \(fields[1]) ")!.upperBound...].trimmingCharacters(in: .whitespaces)
            kinds[fields[1]] = rest.components(separatedBy: "  ").first
        }
        return kinds
    }

    @Test("an upsample2d row shows its factors and interpolation, a conv2d_transpose row its strides (and dilation and crop where not 1 and 0) beside its activation, from the file's records (they showed the kind name alone); --json keeps its fields")
    func details() throws {
        let scratch = try Scratch()
        for (stem, expected) in [("k3_up2d", ["up_nearest": "upsample2d (2×2 nearest)", "up_bilinear": "upsample2d (2×3 bilinear)"]),
                                 ("k3_transpose2d", [String: String]())] {
            let lrm = scratch.file("\(stem).lrm")
            let imported = try ChildProcess.run(["import", Self.fixture("\(stem).h5"), "-o", lrm])
            #expect(imported.status == 0, "\(imported.stderr)")
            let json = try ChildProcess.run(["inspect", lrm, "--json"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let model = try #require(report["model"] as? [String: Any])
            let layers = try #require(model["layers"] as? [[String: Any]])
            let text = try ChildProcess.run(["inspect", lrm])
            #expect(text.status == 0, "\(text.stderr)")
            let names = layers.compactMap { $0["name"] as? String }
            let kinds = Self.kinds(text.stdout, names: names)
            var checked = 0
            for layer in layers {
                let name = try #require(layer["name"] as? String), kind = try #require(layer["kind"] as? String)
                let shown = try #require(kinds[name], "\(name): \(text.stdout)")
                switch kind {
                case "upsample2d":
                    let factors = try #require(layer["factors"] as? [Int]), interpolation = try #require(layer["interpolation"] as? String)
                    #expect(shown == "upsample2d (\(factors[0])×\(factors[1]) \(interpolation))", "\(name): \(shown)")
                    checked += 1
                case "conv2d_transpose":
                    let strides = try #require(layer["strides"] as? [Int]), dilation = try #require(layer["dilation"] as? [Int])
                    let crop = try #require(layer["crop"] as? [Int]), activation = try #require(layer["activation"] as? String)
                    var geometry = "strides \(strides[0])×\(strides[1])"
                    if dilation != [1, 1] { geometry += ", dilation \(dilation[0])×\(dilation[1])" }
                    if crop != [0, 0] { geometry += ", crop \(crop[0]), \(crop[1])" }
                    #expect(shown == "conv2d_transpose (\(activation == "linear" ? "" : activation + "; ")\(geometry))", "\(name): \(shown)")
                    checked += 1
                default:
                    #expect(!shown.contains("strides"), "\(name): \(shown)")
                }
                if let want = expected[name] { #expect(shown == want, "\(name): \(shown)") }
            }
            #expect(checked >= 2, "\(stem): \(text.stdout)")
        }
    }
}
