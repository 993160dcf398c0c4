import Foundation
import LRMFormat
import Testing
@testable import LRMVerify

@Suite("Evaluation sets: slices, shifted images, cross-entropies")
struct PerturbedSetTests {
    /// `count` images of `shape` whose only non-zero value (1 + sample index) is at (row 2, column 3, last channel).
    func images(_ count: Int, height: Int = 6, width: Int = 7, channels: Int = 1, channelsLast: Bool = true) -> EvaluationSet {
        let features = height * width * channels
        var pixels = [Float](repeating: 0, count: count * features)
        for s in 0..<count {
            let c = channels - 1
            let at = channelsLast ? (2 * width + 3) * channels + c : (c * height + 2) * width + 3
            pixels[s * features + at] = Float(s + 1)
        }
        return EvaluationSet(pixels: pixels, labels: (0..<count).map { $0 % 3 }, featureCount: features, classCount: 3,
                             classNames: ["a", "b", "c"], description: "test images")
    }

    /// Where the marked value of sample `s` is after shifting: (row, column), or nil when it left the image.
    func position(_ set: EvaluationSet, sample s: Int, height: Int, width: Int, channels: Int, channelsLast: Bool) -> (Int, Int)? {
        let features = height * width * channels
        for i in 0..<features where set.pixels[s * features + i] != 0 {
            #expect(set.pixels[s * features + i] == Float(s + 1))
            if channelsLast { return ((i / channels) / width, (i / channels) % width) }
            return ((i % (height * width)) / width, i % width)
        }
        return nil
    }

    @Test("a shift moves every image by at most maxShift rows and columns, in every layout, the same way for the same seed",
          arguments: [(1, true), (3, true), (3, false)])
    func shifts(channels: Int, channelsLast: Bool) throws {
        let (h, w) = (6, 7)
        let set = images(200, height: h, width: w, channels: channels, channelsLast: channelsLast)
        let shape = channels == 1 ? [h, w] : (channelsLast ? [h, w, channels] : [channels, h, w])
        let shifted = try #require(set.shifted(shape: shape, channelsLast: channelsLast, maxShift: 1, seed: 5))
        #expect(shifted.labels == set.labels)
        var seen = Set<[Int]>()
        for s in 0..<200 {
            let (row, column) = try #require(position(shifted, sample: s, height: h, width: w, channels: channels, channelsLast: channelsLast))
            #expect(abs(row - 2) <= 1 && abs(column - 3) <= 1)
            seen.insert([row - 2, column - 3])
            // Nothing else moved in: the image holds exactly one non-zero value.
            #expect(shifted.pixels[(s * h * w * channels)..<((s + 1) * h * w * channels)].filter { $0 != 0 }.count == 1)
        }
        #expect(seen.count == 9)  // all nine shifts occur among 200 images
        let again = try #require(set.shifted(shape: shape, channelsLast: channelsLast, maxShift: 1, seed: 5))
        #expect(again.pixels == shifted.pixels)
        let other = try #require(set.shifted(shape: shape, channelsLast: channelsLast, maxShift: 1, seed: 6))
        #expect(other.pixels != shifted.pixels)
    }

    @Test("a shift past the border drops the value; a shape that does not describe the samples gives nil")
    func borders() {
        let set = images(50)
        let far = set.shifted(shape: [6, 7], channelsLast: false, maxShift: 5, seed: 1)
        #expect(far != nil)
        #expect((0..<50).contains { s in far!.pixels[(s * 42)..<((s + 1) * 42)].allSatisfy { $0 == 0 } })
        #expect(set.shifted(shape: [6, 6], channelsLast: false, maxShift: 1, seed: 1) == nil)
        #expect(set.shifted(shape: [42], channelsLast: false, maxShift: 1, seed: 1) == nil)
    }

    @Test("slices keep their samples in order")
    func slices() {
        let set = images(10)
        let part = set.slice(4..<7)
        #expect(part.sampleCount == 3 && part.labels == Array(set.labels[4..<7]))
        #expect(part.pixels == Array(set.pixels[(4 * 42)..<(7 * 42)]))
    }

    @Test("cross-entropy uses a softmax model's outputs as probabilities and takes the softmax of a linear model's logits")
    func crossEntropy() throws {
        func oneLayer(_ activation: Activation) -> Model {
            // 2 inputs → 3 outputs; kernel rows: output = (x0, x1, 0) before the activation.
            Model(name: "m", input: InputSpec(shape: [2]), layers: [Layer(name: "d", operation: .dense(
                kernel: Tensor(shape: [2, 3], floats: [1, 0, 0, 0, 1, 0]), bias: nil, activation: activation))])
        }
        let set = EvaluationSet(pixels: [2, 0, 0, 1], labels: [0, 2], featureCount: 2, classCount: 3, classNames: ["a", "b", "c"], description: "x")
        func expected(_ logits: [Double], _ label: Int) -> Double {
            let total = logits.map { Foundation.exp($0) }.reduce(0, +)
            return -Foundation.log(Foundation.exp(logits[label]) / total)
        }
        for activation in [Activation.softmax, .linear] {
            let losses = try set.crossEntropies(of: oneLayer(activation))
            #expect(abs(losses[0] - expected([2, 0, 0], 0)) < 1e-5)
            #expect(abs(losses[1] - expected([0, 1, 0], 2)) < 1e-5)
        }
    }
}
