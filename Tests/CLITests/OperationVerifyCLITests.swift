import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// `lrm verify --reference` on a PReLU whose alphas are shared over other axes than the reference's (format 1.5).
@Suite("verify tells a PReLU whose alphas are shared otherwise than the reference's")
struct OperationVerifyCLITests {
    static let reference = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/activations/k3_act_mlp.h5"

    @Test("a PReLU with one alpha shared by every unit, against the reference's one per unit: a failed operation check naming both shapes (text, JSON), exit 1, where both said 'activation prelu' and it passed; other alpha values of the same shape (trained) are weights: no operation check")
    func preluAlphasShape() throws {
        let scratch = try Scratch()
        let imported = scratch.file("same.lrm")
        let run = try ChildProcess.run(["import", Self.reference, "-o", imported])
        #expect(run.status == 0, "\(run.stderr)")
        let model = try ContainerFile(path: imported).loadModel()
        let index = try #require(model.layers.firstIndex { $0.name == "prelu" })
        guard case .parametricActivation(.prelu, let alphas?) = model.layers[index].operation, alphas.shape == [6] else {
            Issue.record("\(model.layers[index])")
            return
        }
        var shared = model, trained = model
        shared.layers[index].operation = .parametricActivation(.prelu, alphas: Tensor(shape: [1], floats: [0.25]))
        let moved: [Float] = alphas.floats().map { $0 + 0.05 }
        trained.layers[index].operation = .parametricActivation(.prelu, alphas: Tensor(shape: [6], floats: moved))
        try ContainerWriter.write(shared, to: scratch.file("shared.lrm"))
        try ContainerWriter.write(trained, to: scratch.file("trained.lrm"))
        var x: [Float] = []
        for i in 0..<(24 * 7) { x.append(Float((i * 7) % 13) / 13 - 0.5) }
        var y: [Float] = []
        for i in 0..<24 { y.append(Float(i % 4)) }
        try NPY.write(try NumPyArray(shape: [24, 7], float32: x), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [24], float32: y), to: scratch.file("y.npy"))
        let data = ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]

        let text = try ChildProcess.run(["verify", scratch.file("shared.lrm"), "--reference", Self.reference] + data)
        let detail = "layer 'prelu' does not compute what the reference's does: activation prelu (alphas 1), the reference's activation prelu (alphas 6)"
        #expect(text.status == 1 && text.stdout.contains("  FAIL  operation prelu: \(detail)\n"), "\(text)")
        let json = try ChildProcess.run(["verify", scratch.file("shared.lrm"), "--reference", Self.reference, "--json"] + data)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)")
        let failed = (report["checks"] as? [[String: Any]] ?? []).filter { $0["passed"] as? Bool == false }
        #expect(failed.count == 1 && failed.first?["name"] as? String == "operation prelu" && failed.first?["detail"] as? String == detail, "\(failed)")

        let same = try ChildProcess.run(["verify", scratch.file("trained.lrm"), "--reference", Self.reference] + data)
        #expect(same.status == 0 && same.stdout.contains("result: NO CHECKS") && !same.stdout.contains("operation"), "\(same)")
    }
}
