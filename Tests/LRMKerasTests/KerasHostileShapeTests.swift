import Foundation
import LRMFormat
import Testing
@testable import LRMKeras

/// Hostile geometry the builder maps: the error names the layer that is at fault.
@Suite("Keras shapes past the container's limits, or left open: the layer at fault is named")
struct KerasHostileShapeTests {
    func weight(_ name: String, _ shape: [Int]) -> KerasWeight {
        KerasWeight(name: name, shape: shape, values: [Float](repeating: 0.1, count: shape.reduce(1, *)), sourceDType: .float32,
                    sourcePath: "/model_weights/\(name)")
    }

    func model(input: [Int?]?, _ layers: [KerasLayer]) -> KerasModel {
        KerasModel(name: "m", kerasVersion: "3.15.1", backend: "jax", layout: .legacyFullModel, dtypePolicy: KerasDTypePolicy(name: "float32"),
                   inputShape: input, layers: layers)
    }

    func message(_ model: KerasModel) -> String? {
        do {
            _ = try model.containerModel(sourcePath: "hostile.h5")
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("a ZeroPadding2D of 65,535 rows and columns on a 4×4 input (2³⁴ elements) is named, whatever checks its shape next: a Reshape said it could not reshape the 32 elements of the 4×4×2 input, a Cropping2D that it left nothing of a 4×4 input",
          arguments: [KerasLayerConfig.reshape(targetShape: [3, 2, 2]),
                      .margins2D(top: 3, bottom: 3, left: 0, right: 0, crop: true, dataFormat: .channelsLast)])
    func paddingPastTheLimit(_ next: KerasLayerConfig) throws {
        let found = message(model(input: [4, 4, 2], [
            KerasLayer(name: "zp", className: "ZeroPadding2D",
                       config: .margins2D(top: 65_535, bottom: 65_535, left: 65_535, right: 65_535, crop: false, dataFormat: .channelsLast)),
            KerasLayer(name: "next", className: { if case .reshape = next { "Reshape" } else { "Cropping2D" } }(), config: next),
            KerasLayer(name: "f", className: "Flatten", config: .flatten),
            KerasLayer(name: "out", className: "Dense", config: .dense(units: 3, activation: .softmax, useBias: false),
                       weights: [weight("kernel", [12, 3])]),
        ]))
        let text = try #require(found)
        #expect(text.contains("layer 'zp' produces samples of shape [131074, 131074, 2], more than 2147483647 elements"), "\(text)")
        #expect(!text.contains("4×4") && !text.contains("32 elements"), "\(text)")
    }

    @Test("an --input-shape past the container's limits for a model whose input is open is the option's error (kind givenShapeMismatch: exit 64), not the file's (invalidConfig: exit 65, 'the input shape … is not supported')",
          arguments: [[46_341, 46_341, 2], [Int(Int32.max) + 1, 1, 2], [Int.max, 2, 2]])
    func givenShapePastTheLimits(_ shape: [Int]) throws {
        let open = model(input: [nil, nil, 2], [
            KerasLayer(name: "g", className: "GlobalAveragePooling2D", config: .globalPooling2D(mode: .average, dataFormat: .channelsLast, keepDims: false)),
            KerasLayer(name: "out", className: "Dense", config: .dense(units: 3, activation: .softmax, useBias: false),
                       weights: [weight("kernel", [2, 3])]),
        ])
        #expect(try open.containerModel(sourcePath: "open.h5", inputShape: [5, 7, 2]).input.shape == [5, 7, 2])
        let error = #expect(throws: KerasImportError.self) { try open.containerModel(sourcePath: "open.h5", inputShape: shape) }
        #expect(error?.kind == .givenShapeMismatch, "\(String(describing: error))")
        #expect(error?.message.contains("--input-shape \(shape.map(String.init).joined(separator: ","))") == true, "\(String(describing: error))")
    }
}
