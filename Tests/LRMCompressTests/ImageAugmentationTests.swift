import Foundation
import LRMFormat
import LRMRuntime
import Testing
@testable import LRMCompress

@Suite("Image augmentation for fine-tuning")
struct ImageAugmentationTests {
    /// Sample s, channel c, row y, column x holds 1000·s + 100·c + 10·y + x: every value says where it came from.
    func images(_ count: Int, _ g: ImageGeometry) -> [Float] {
        var values = [Float](repeating: 0, count: count * g.valueCount)
        for s in 0..<count {
            for y in 0..<g.height { for x in 0..<g.width { for c in 0..<g.channels {
                values[s * g.valueCount + g.offset(y: y, x: x, c: c)] = Float(1000 * s + 100 * c + 10 * y + x)
            } } }
        }
        return values
    }

    func decode(_ v: Float) -> (s: Int, c: Int, y: Int, x: Int) {
        let i = Int(v)
        return (i / 1000, (i / 100) % 10, (i / 10) % 10, i % 10)
    }

    @Test("geometry from shapes: [H, W], [H, W, C] channels-last, [C, H, W]; others refused",
          arguments: [true, false])
    func geometry(channelsLast: Bool) {
        #expect(ImageGeometry(shape: [28, 28], channelsLast: channelsLast) == ImageGeometry(height: 28, width: 28, channels: 1, channelsLast: true))
        let colour = ImageGeometry(shape: channelsLast ? [32, 30, 3] : [3, 32, 30], channelsLast: channelsLast)
        #expect(colour == ImageGeometry(height: 32, width: 30, channels: 3, channelsLast: channelsLast))
        #expect(ImageGeometry(shape: [784], channelsLast: channelsLast) == nil)
        #expect(ImageGeometry(shape: [2, 3, 4, 5], channelsLast: channelsLast) == nil)
        #expect(ImageGeometry(shape: [0, 4], channelsLast: channelsLast) == nil)
    }

    @Test("each image is moved as a whole by one shift and flip within bounds, its channels together; edges repeat",
          arguments: [true, false])
    func moves(channelsLast: Bool) {
        let g = ImageGeometry(height: 5, width: 6, channels: 3, channelsLast: channelsLast)
        let count = 40
        let original = images(count, g)
        var values = original
        var rng = SeededGenerator(seed: 11)
        ImageAugmentation(maxShift: 2, flip: true).apply(to: &values, count: count, image: g, using: &rng)
        var flips = 0, moved = 0
        for s in 0..<count {
            // The value at (y, x) came from (clamp(y − dy), clamp(x − dx)), mirrored when flipped: recover dy, dx, flip
            // from an interior pixel and check every pixel against them.
            var found: (dy: Int, dx: Int, mirror: Bool)?
            for dy in -2...2 { for dx in -2...2 { for mirror in [false, true] {
                var fits = true
                for y in 0..<g.height where fits { for x in 0..<g.width where fits { for c in 0..<g.channels where fits {
                    let sy = min(max(y - dy, 0), g.height - 1)
                    var sx = min(max(x - dx, 0), g.width - 1)
                    if mirror { sx = g.width - 1 - sx }
                    let got = decode(values[s * g.valueCount + g.offset(y: y, x: x, c: c)])
                    fits = got.s == s && got.c == c && got.y == sy && got.x == sx
                } } }
                if fits && found == nil { found = (dy, dx, mirror) }
            } } }
            #expect(found != nil, "sample \(s) is not one shifted or mirrored image")
            if let found {
                if found.mirror { flips += 1 }
                if found.dy != 0 || found.dx != 0 { moved += 1 }
            }
        }
        // 40 draws of a fair coin: between 8 and 32 heads except with probability < 1e-4; shifts of 0 in both directions 1 in 25.
        #expect((8...32).contains(flips))
        #expect(moved >= 30)
        #expect(values != original)
    }

    @Test("no augmentation leaves the values and the generator untouched; the same seed gives the same images")
    func deterministic() {
        let g = ImageGeometry(height: 4, width: 4, channels: 1, channelsLast: true)
        let original = images(10, g)
        var values = original
        var rng = SeededGenerator(seed: 3), untouched = SeededGenerator(seed: 3)
        ImageAugmentation.none.apply(to: &values, count: 10, image: g, using: &rng)
        #expect(values == original)
        #expect(rng.next() == untouched.next())
        var a = original, b = original
        var ra = SeededGenerator(seed: 8), rb = SeededGenerator(seed: 8)
        ImageAugmentation(maxShift: 1).apply(to: &a, count: 10, image: g, using: &ra)
        ImageAugmentation(maxShift: 1).apply(to: &b, count: 10, image: g, using: &rb)
        #expect(a == b)
        #expect(ImageAugmentation(maxShift: 2, flip: true).description == "shift ≤ 2 px, left-right flip")
        #expect(ImageAugmentation.none.isNone && !ImageAugmentation(flip: true).isNone)
    }

    /// A 4×4 single-channel image task: teacher and student as in the fine-tuning tests, 16 inputs.
    func problem() throws -> (teacher: Model, student: Model, training: LabelledSamples, validation: LabelledSamples) {
        var rng = SeededGenerator(seed: 29)
        func t(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextSymmetricFloat() * 0.5 }) }
        let teacher = Model(name: "img", input: InputSpec(shape: [4, 4]), layers: [
            Layer(name: "flatten", operation: .flatten),
            Layer(name: "a", operation: .dense(kernel: t([16, 12]), bias: t([12]), activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: t([12, 3]), bias: t([3]), activation: .softmax)),
        ])
        let student = try Converter.convert(teacher, options: ConversionOptions(policy: .rank(2))).model
        let g = ImageGeometry(height: 4, width: 4, channels: 1, channelsLast: true)
        func samples(_ n: Int) throws -> LabelledSamples {
            let x = (0..<(n * 16)).map { _ in rng.nextSymmetricFloat() * 2 }
            let y = try InferenceModel(teacher).run(x, sampleCount: n)
            let labels = (0..<n).map { r in (0..<3).max { y[r * 3 + $0] < y[r * 3 + $1] } ?? 0 }
            return LabelledSamples(inputs: x, labels: labels, featureCount: 16, image: g)
        }
        return (teacher, student, try samples(300), try samples(100))
    }

    @Test("fine-tuning with augmentation is deterministic, differs from without, records it, and needs images")
    func fineTunes() throws {
        let (teacher, student, training, validation) = try problem()
        let plain = FineTuneOptions(epochs: 2, learningRate: 1e-2, batchSize: 32, seed: 4, patience: 2)
        var augmented = plain
        augmented.augmentation = ImageAugmentation(maxShift: 1, flip: true)
        let a = try FineTuner.fineTune(student: student, teacher: teacher, training: training, validation: validation, options: augmented)
        let b = try FineTuner.fineTune(student: student, teacher: teacher, training: training, validation: validation, options: augmented)
        let c = try FineTuner.fineTune(student: student, teacher: teacher, training: training, validation: validation, options: plain)
        #expect(a.model == b.model)
        #expect(a.epochs.map(\.loss) == b.epochs.map(\.loss))
        #expect(a.epochs[1].loss != c.epochs[1].loss)
        #expect(FineTuner.record(a, options: augmented, data: "x", samples: 300).augmentation == "shift ≤ 1 px, left-right flip")
        #expect(FineTuner.record(c, options: plain, data: "x", samples: 300).augmentation == nil)
        var flat = training
        flat.image = nil
        #expect(throws: FineTuneError.self) {
            try FineTuner.fineTune(student: student, teacher: teacher, training: flat, validation: validation, options: augmented)
        }
    }
}
