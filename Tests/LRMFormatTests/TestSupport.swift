import Foundation
@testable import LRMFormat

/// A fresh temporary directory, removed when the value is deinitialised.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "lrm-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }
    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

/// The package root (for spec/ and tools/), from this file's path.
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Opens `bytes` as a file and verifies every checksum; returns the error kind, or nil if valid.
func openErrorKind(_ bytes: [UInt8], in directory: TemporaryDirectory, name: String = "probe.lrm",
                   verify: Bool = true) -> ContainerError.Kind? {
    do {
        let path = try directory.write(bytes, to: name)
        let file = try ContainerFile(path: path)
        if verify { try file.verifyAllChecksums() }
        return nil
    } catch let error as ContainerError {
        return error.kind
    } catch {
        return .io
    }
}

/// Random models for property tests: random layer stacks with every layer kind and dtype.
enum RandomModels {
    static func make(seed: UInt64) -> Model {
        var rng = SeededGenerator(seed: seed)
        func int(_ range: ClosedRange<Int>) -> Int { Int(rng.next() % UInt64(range.count)) + range.lowerBound }
        func floats(_ count: Int) -> [Float] { (0..<count).map { _ in rng.nextSymmetricFloat() } }
        let dtypes = DType.floatingPoint
        func tensor(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, floats: floats(shape.reduce(1, *)), dtype: dtypes[int(0...3)])
        }
        let image = int(0...2) == 0
        let inputShape = image ? [int(1...4), int(1...4), int(1...3)] : [int(1...40)]
        var layers: [Layer<Tensor>] = []
        var features = inputShape.reduce(1, *)
        if image { layers.append(Layer(name: "flatten", operation: .flatten)) }
        for index in 0..<int(1...5) {
            let name = "layer \(index) \u{1F600}"
            switch int(0...5) {
            case 0, 1:
                let out = int(1...30)
                layers.append(Layer(name: name, operation: .dense(
                    kernel: tensor([features, out]), bias: int(0...1) == 0 ? nil : tensor([out]),
                    activation: Activation.allCases[int(0...(Activation.allCases.count - 1))])))
                features = out
            case 2:
                let out = int(1...30)
                let rank = int(1...min(features, out))
                let sv = (0..<min(features, out)).map { Double(min(features, out) - $0) * 0.5 }
                let f = Factorization(inFeatures: features, outFeatures: out, rank: rank, retainedEnergy: 0.75,
                                      relativeError: 0.5, policy: "energy", policyParameter: 0.75, method: "test",
                                      singularValues: Array(sv.prefix(int(rank...sv.count))))
                layers.append(Layer(name: name, operation: .factorizedDense(
                    us: tensor([features, rank]), vt: tensor([rank, out]), bias: int(0...1) == 0 ? nil : tensor([out]),
                    activation: .relu, factorization: f)))
                features = out
            case 3:
                layers.append(Layer(name: name, operation: .activation(.tanh)))
            case 4:
                layers.append(Layer(name: name, operation: .scaleShift(scale: tensor([features]),
                                                                      shift: int(0...1) == 0 ? nil : tensor([features]))))
            default:
                layers.append(Layer(name: name, operation: .reshape([1, features])))
                layers.append(Layer(name: name + " flat", operation: .flatten))
            }
        }
        let metadata: [String: MetadataValue] = [
            MetadataKey.writer: .string("lrm tests"), "test.int": .int(Int64(int(0...1000)) - 500),
            "test.floats": .floats([1.5, -2.25]), "test.flag": .bool(int(0...1) == 1),
            "test.strings": .strings(["a", "ü"]), "test.ints": .ints([1, -2, 3]),
        ]
        let input = InputSpec(shape: inputShape, layout: image ? .hwc : .features,
                              scale: [1.0 / 255.0], offset: image ? Array(repeating: -0.5, count: inputShape[2]) : [])
        return Model(name: "random \(seed)", input: input, layers: layers, metadata: metadata,
                     userMetadata: ["note": "seed \(seed)", "Ünïcode key": "value\nwith newline"])
    }
}
