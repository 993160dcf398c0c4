import Foundation
import LRMFormat
import LRMLinearAlgebra
import LRMRuntime
import Testing
@testable import LRMCompress

/// Fine-tuning convolutional models: every spatial stage's gradients against central finite differences (kernels, factors,
/// biases and the input), the forward pass against the runtime's, max pooling's ties, and a small CNN distilled.
@Suite("Distillation fine-tuning of convolutional models")
struct FineTuneConvolutionTests {
    struct Random {
        var rng: SeededGenerator
        init(_ seed: UInt64) { rng = SeededGenerator(seed: seed) }
        mutating func tensor(_ shape: [Int], scale: Float = 0.6) -> Tensor {
            Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextSymmetricFloat() * scale })
        }
        mutating func values(_ count: Int, scale: Float = 1) -> [Float] { (0..<count).map { _ in rng.nextSymmetricFloat() * scale } }
    }

    static func record(_ rows: Int, _ columns: Int, rank: Int) -> Factorization {
        Factorization(inFeatures: rows, outFeatures: columns, rank: rank, retainedEnergy: 1, relativeError: 0, policy: "rank",
                      policyParameter: Double(rank), method: "test", singularValues: [Double](repeating: 1, count: rank))
    }

    /// Small models covering every spatial layer kind, each ending in a dense layer with `output` as its activation.
    static func model(_ name: String, output: Activation = .softmax, seed: UInt64 = 7) -> Model {
        var r = Random(seed)
        func input(_ shape: [Int]) -> InputSpec { InputSpec(shape: shape, layout: .hwc, scale: [0.5], offset: [0.1]) }
        func dense(_ inFeatures: Int, _ outFeatures: Int = 4, _ activation: Activation? = nil) -> Layer<Tensor> {
            Layer(name: "out", operation: .dense(kernel: r.tensor([inFeatures, outFeatures]), bias: r.tensor([outFeatures]), activation: activation ?? output))
        }
        switch name {
        case "conv stride 2 same, max pool":
            // [7, 6, 2] → conv 3×3 stride 2 same → [4, 3, 3] → max 2×2 stride 1 → [3, 2, 3] → flatten 18 → dense 4.
            return Model(name: name, input: input([7, 6, 2]), layers: [
                Layer(name: "conv", operation: .conv2D(kernel: r.tensor([3, 3, 2, 3]), bias: r.tensor([3]), activation: .tanh,
                                                       geometry: ConvGeometry(strideH: 2, strideW: 2, padding: .same))),
                Layer(name: "pool", operation: .pool2D(Pooling(mode: .max, poolH: 2, poolW: 2, strideH: 1, strideW: 1, padding: .valid))),
                Layer(name: "flatten", operation: .flatten),
                dense(18),
            ])
        case "channel form, dilation 2, average pool same":
            // [7, 7, 2] → channel-form 3×3 dilation 2 (rank 2) → [3, 3, 3] → average 2×2 stride 2 same → [2, 2, 3] → dense 4, softmax layer.
            return Model(name: name, input: input([7, 7, 2]), layers: [
                Layer(name: "conv", operation: .factorizedConv2D(first: r.tensor([3, 3, 2, 2]), second: r.tensor([1, 1, 2, 3]), bias: r.tensor([3]),
                                                                 activation: .elu, form: .channel,
                                                                 geometry: ConvGeometry(dilationH: 2, dilationW: 2, padding: .valid),
                                                                 factorization: record(18, 3, rank: 2))),
                Layer(name: "pool", operation: .pool2D(Pooling(mode: .average, poolH: 2, poolW: 2, strideH: 2, strideW: 2, padding: .same))),
                Layer(name: "flatten", operation: .flatten),
                dense(12, 4, output == .softmax ? .linear : output),
                Layer(name: "softmax", operation: .activation(output == .softmax ? .softmax : .linear)),
            ])
        case "spatial form, stride 2 same, global average":
            // [6, 5, 2] → spatial-form 3×1 then 1×3, stride 2 same (rank 2) → [3, 3, 3] → global average [3] → dense 4.
            return Model(name: name, input: input([6, 5, 2]), layers: [
                Layer(name: "conv", operation: .factorizedConv2D(first: r.tensor([3, 1, 2, 2]), second: r.tensor([1, 3, 2, 3]), bias: r.tensor([3]),
                                                                 activation: .sigmoid, form: .spatial,
                                                                 geometry: ConvGeometry(strideH: 2, strideW: 2, padding: .same),
                                                                 factorization: record(6, 9, rank: 2))),
                Layer(name: "gap", operation: .globalPool2D(.average)),
                dense(3),
            ])
        case "pad, depthwise, crop, scale-shift, permute, dilated conv, global max":
            // [5, 5, 2] → pad (1, 0, 2, 1) → [6, 8, 2] → depthwise 3×3 ×2 stride (1, 2) same → [6, 4, 4] → crop (1, 1, 0, 1) → [4, 3, 4]
            // → scale-shift → permute (1, 0, 2) → [3, 4, 4] → conv 2×2 dilation (1, 2) valid → [2, 2, 3] → global max [3] → dense 4.
            return Model(name: name, input: input([5, 5, 2]), layers: [
                Layer(name: "pad", operation: .pad2D(Margins(top: 1, bottom: 0, left: 2, right: 1))),
                Layer(name: "depthwise", operation: .depthwiseConv2D(kernel: r.tensor([3, 3, 2, 2]), bias: r.tensor([4]), activation: .tanh,
                                                                     geometry: ConvGeometry(strideH: 1, strideW: 2, padding: .same))),
                Layer(name: "crop", operation: .crop2D(Margins(top: 1, bottom: 1, left: 0, right: 1))),
                Layer(name: "scale", operation: .scaleShift(scale: Tensor(shape: [4], floats: [1.5, -0.5, 0.8, 1.2]),
                                                             shift: Tensor(shape: [4], floats: [0.1, 0.2, -0.3, 0]))),
                Layer(name: "permute", operation: .permute([1, 0, 2])),
                Layer(name: "conv", operation: .conv2D(kernel: r.tensor([2, 2, 4, 3]), bias: r.tensor([3]), activation: .softplus,
                                                       geometry: ConvGeometry(dilationH: 1, dilationW: 2, padding: .valid))),
                Layer(name: "gmp", operation: .globalPool2D(.max)),
                dense(3),
            ])
        case "bilinear and nearest upsampling around a strided conv":
            // (1.5) [3, 3, 2] → bilinear 2×3 → [6, 9, 2] → conv 3×3 stride (2, 3) valid → [2, 3, 3] → nearest 1×2 → [2, 6, 3]
            // → flatten 36 → dense 4.
            return Model(name: name, input: input([3, 3, 2]), layers: [
                Layer(name: "up_bilinear", operation: .upsample2D(Upsampling(factorH: 2, factorW: 3, interpolation: .bilinear))),
                Layer(name: "conv", operation: .conv2D(kernel: r.tensor([3, 3, 2, 3]), bias: r.tensor([3]), activation: .tanh,
                                                       geometry: ConvGeometry(strideH: 2, strideW: 3, padding: .valid))),
                Layer(name: "up_nearest", operation: .upsample2D(Upsampling(factorH: 1, factorW: 2, interpolation: .nearest))),
                Layer(name: "flatten", operation: .flatten),
                dense(36),
            ])
        case "transposed convolutions: stride 2 cropped, dilated with extra rows":
            // (1.5) [3, 2, 2] → conv2d_transpose 3×3 [3, 3, 3, 2] stride 2, crop (1, 0), output [5, 5] (Keras's same with
            // output_padding) → [5, 5, 3] → conv2d_transpose 2×2 [2, 2, 2, 3] dilation 2, stride (1, 2), output [7, 10] (rows
            // and columns past the last one reached: bias only) → global average [2] → dense 4.
            return Model(name: name, input: input([3, 2, 2]), layers: [
                Layer(name: "t1", operation: .conv2DTranspose(kernel: r.tensor([3, 3, 3, 2]), bias: r.tensor([3]), activation: .tanh,
                                                              geometry: TransposedGeometry(strideH: 2, strideW: 2, cropTop: 1, cropLeft: 0,
                                                                                           outputH: 5, outputW: 5))),
                Layer(name: "t2", operation: .conv2DTranspose(kernel: r.tensor([2, 2, 2, 3]), bias: r.tensor([2]), activation: .elu,
                                                              geometry: TransposedGeometry(strideH: 1, strideW: 2, dilationH: 2, dilationW: 2,
                                                                                           outputH: 7, outputW: 12))),
                Layer(name: "gap", operation: .globalPool2D(.average)),
                dense(2),
            ])
        default:
            // "dense over a map's channels, reshape": [4, 4, 1] → conv 2×2 → [3, 3, 2] → dense 2→3 over the last axis → reshape [9, 3]
            // → flatten 27 → dense 4.
            return Model(name: name, input: input([4, 4, 1]), layers: [
                Layer(name: "conv", operation: .conv2D(kernel: r.tensor([2, 2, 1, 2]), bias: r.tensor([2]), activation: .silu,
                                                       geometry: ConvGeometry())),
                Layer(name: "channels", operation: .dense(kernel: r.tensor([2, 3]), bias: r.tensor([3]), activation: .tanh)),
                Layer(name: "reshape", operation: .reshape([9, 3])),
                Layer(name: "flatten", operation: .flatten),
                dense(27),
            ])
        }
    }

    static let models = ["conv stride 2 same, max pool", "channel form, dilation 2, average pool same", "spatial form, stride 2 same, global average",
                         "pad, depthwise, crop, scale-shift, permute, dilated conv, global max", "dense over a map's channels, reshape",
                         "bilinear and nearest upsampling around a strided conv",
                         "transposed convolutions: stride 2 cropped, dilated with extra rows"]

    @Test("every gradient of the spatial stages matches central finite differences: kernels, factors, biases and the input", arguments: models)
    func gradients(name: String) throws {
        var r = Random(11)
        let samples = 3
        let model = Self.model(name)
        var network = try TrainableNetwork(model)
        #expect(network.classCount == 4)
        let x = try network.preprocess(r.values(samples * model.input.elementCount, scale: 2)[...], count: samples)
        let teacher = r.values(samples * 4, scale: 3)
        let labels = (0..<samples).map { $0 % 4 }
        let options = FineTuneOptions(epochs: 1, temperature: 2, labelWeight: 0.5)
        let trace = try network.forward(x, count: samples, keep: true)
        let (_, logitGradient) = FineTuner.distillationLoss(student: trace.logits, teacher: teacher, labels: labels, classes: 4, options: options)
        let (analytic, inputGradient) = try network.gradients(trace, logitGradient: logitGradient, inputGradient: true)
        #expect(analytic.map(\.count) == network.parameters.map(\.count))
        // The parameter gradients are those backward gives (what fine-tuning steps with).
        #expect(try network.backward(trace, logitGradient: logitGradient) == analytic)
        let input = try #require(inputGradient)
        let checked = try expectGradientsMatchDifferences(&network, x: x, teacher: teacher, labels: labels, options: options,
                                                          analytic: analytic, inputGradient: input, step: 2e-3, name)
        let trainable = model.layers.reduce(0) { total, layer in
            switch layer.operation {
            case .scaleShift: total
            default: total + layer.operation.tensors.reduce(0) { $0 + $1.tensor.elementCount }
            }
        }
        #expect(checked == trainable)
        // Not every gradient is zero (a check that compared zeros with zeros would pass).
        #expect(analytic.allSatisfy { $0.contains { $0 != 0 } } && input.contains { $0 != 0 })
    }

    @Test("the forward pass gives the runtime's outputs (InferenceModel), to 1e-5 relative", arguments: models)
    func forwardMatchesRuntime(name: String) throws {
        var r = Random(13)
        let model = Self.model(name, output: .linear, seed: 19)
        let samples = 9
        let raw = r.values(samples * model.input.elementCount, scale: 3)
        let network = try TrainableNetwork(model)
        let logits = try network.forward(try network.preprocess(raw[...], count: samples), count: samples, keep: false).logits
        let expected = try InferenceModel(model).run(raw, sampleCount: samples)
        #expect(logits.count == expected.count)
        let scale = expected.map { abs($0) }.max() ?? 1
        let worst = zip(logits, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "\(name): largest difference \(worst) on outputs up to \(scale)")
    }

    @Test("a converted CNN (both factorized forms, kept convolutions) runs as the runtime runs it, in chunks as whole")
    func convertedForward() throws {
        var r = Random(29)
        let teacher = Model(name: "cnn", input: InputSpec(shape: [12, 12, 3], layout: .hwc, scale: [1.0 / 255]), layers: [
            Layer(name: "c1", operation: .conv2D(kernel: r.tensor([3, 3, 3, 8]), bias: r.tensor([8]), activation: .relu,
                                                 geometry: ConvGeometry(padding: .same))),
            Layer(name: "p1", operation: .pool2D(Pooling(mode: .max, poolH: 2, poolW: 2, strideH: 2, strideW: 2, padding: .valid))),
            Layer(name: "c2", operation: .conv2D(kernel: r.tensor([3, 3, 8, 12]), bias: r.tensor([12]), activation: .relu,
                                                 geometry: ConvGeometry(strideH: 2, strideW: 2, padding: .valid))),
            Layer(name: "flatten", operation: .flatten),
            Layer(name: "d1", operation: .dense(kernel: r.tensor([48, 16]), bias: r.tensor([16]), activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: r.tensor([16, 5]), bias: r.tensor([5]), activation: .linear)),
        ])
        for form in [ConversionOptions.ConvolutionForm.channel, .spatial] {
            var options = ConversionOptions(policy: .rank(2))
            options.convolutions = form
            let student = try Converter.convert(teacher, options: options).model
            let kinds = student.layers.map(\.operation.kindName)
            #expect(kinds.filter { $0 == "factorized_conv2d" }.count == 2, "\(form): \(kinds)")
            let samples = 40
            let raw = r.values(samples * 432, scale: 255).map(abs)
            let network = try TrainableNetwork(student)
            let x = try network.preprocess(raw[...], count: samples)
            let logits = try network.forward(x, count: samples, keep: false).logits
            let expected = try InferenceModel(student).run(raw, sampleCount: samples)
            let scale = expected.map { abs($0) }.max() ?? 1
            #expect(zip(logits, expected).allSatisfy { abs($0 - $1) <= 1e-5 * scale }, "\(form)")
        }
        // The patch matrix split in chunks of a few rows gives the product and the gradients it gives whole.
        guard let w = TrainingWindow(input: [6, 5, 3], kernelH: 3, kernelW: 2, strides: (2, 1), dilation: (1, 2), padding: .same) else {
            Issue.record("window"); return
        }
        let x = r.values(4 * 90), kernel = r.values(18 * 5), bias = r.values(5)
        let whole = try SpatialTraining.convolve(x, samples: 4, window: w, kernel: kernel, outChannels: 5, bias: bias)
        let chunked = try SpatialTraining.convolve(x, samples: 4, window: w, kernel: kernel, outChannels: 5, bias: bias, patchFloats: 50)
        #expect(zip(whole, chunked).allSatisfy { abs($0 - $1) <= 1e-5 })
        let dy = r.values(whole.count)
        let g1 = try SpatialTraining.convolutionGradients(x, samples: 4, window: w, kernel: kernel, outChannels: 5, outputGradient: dy, inputGradient: true)
        let g2 = try SpatialTraining.convolutionGradients(x, samples: 4, window: w, kernel: kernel, outChannels: 5, outputGradient: dy, inputGradient: true,
                                                          patchFloats: 50)
        #expect(zip(g1.kernel, g2.kernel).allSatisfy { abs($0 - $1) <= 1e-4 })
        #expect(zip(g1.input ?? [], g2.input ?? []).allSatisfy { abs($0 - $1) <= 1e-5 } && g1.input?.count == x.count)
    }

    @Test("max pooling sends a tied window's gradient to its first largest element (row, then column order), every time")
    func maxPoolTies() throws {
        // [2, 4, 1]: the left 2×2 window is all 5s; the right one holds 1, 3 / 3, 2 (two 3s, the first at row 0, column 3).
        // Global max pooling over a [1, 3, 1] map of 2, 2, 2 gives its gradient to the first position.
        let pooled = Model(name: "ties", input: InputSpec(shape: [2, 4, 1], layout: .hwc), layers: [
            Layer(name: "pool", operation: .pool2D(Pooling(mode: .max, poolH: 2, poolW: 2, strideH: 2, strideW: 2, padding: .valid))),
            Layer(name: "flatten", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [2, 2], floats: [1, 2, 3, 4]), bias: nil, activation: .linear)),
        ])
        let x: [Float] = [5, 5, 1, 3, 5, 5, 3, 2]
        let network = try TrainableNetwork(pooled)
        let trace = try network.forward(x, count: 1, keep: true)
        #expect(trace.logits == [Float]([14, 22]))  // 5·1 + 3·3, 5·2 + 3·4
        let first = try #require(try network.gradients(trace, logitGradient: [1, 1], inputGradient: true).input)
        #expect(first == [Float]([3, 0, 0, 7, 0, 0, 0, 0]))
        let again = try #require(try network.gradients(try network.forward(x, count: 1, keep: true), logitGradient: [1, 1], inputGradient: true).input)
        #expect(again == first)
        let global = Model(name: "global ties", input: InputSpec(shape: [1, 3, 1], layout: .hwc), layers: [
            Layer(name: "gmp", operation: .globalPool2D(.max)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [1, 2], floats: [1, -2]), bias: nil, activation: .linear)),
        ])
        let g = try TrainableNetwork(global)
        let gx: [Float] = [2, 2, 2]
        #expect(try g.gradients(try g.forward(gx, count: 1, keep: true), logitGradient: [1, 1], inputGradient: true).input == [-1, 0, 0])
    }

    @Test("a model whose class scores do not come from a dense layer, one vector per sample, is refused with one line naming the layer")
    func refusesOtherOutputs() throws {
        var r = Random(37)
        // conv → global average pooling → softmax: the logits come from a pooling layer.
        let pooledLogits = Model(name: "all-conv", input: InputSpec(shape: [5, 5, 1], layout: .hwc), layers: [
            Layer(name: "scores", operation: .conv2D(kernel: r.tensor([3, 3, 1, 4]), bias: nil, activation: .linear, geometry: ConvGeometry())),
            Layer(name: "gap", operation: .globalPool2D(.average)),
            Layer(name: "softmax", operation: .activation(.softmax)),
        ])
        // A dense layer over an [h, w, c] map's channels: class scores for every position.
        let perPosition = Model(name: "per-position", input: InputSpec(shape: [4, 4, 2], layout: .hwc), layers: [
            Layer(name: "classes", operation: .dense(kernel: r.tensor([2, 3]), bias: nil, activation: .softmax)),
        ])
        for (model, saying) in [(pooledLogits, "output layer 'gap' (a global_pool2d layer) is not a dense layer"),
                                (perPosition, "output layer 'classes' gives class scores for each position")] {
            do {
                try FineTuner.check(model)
                Issue.record("\(model.name) was accepted")
            } catch let error as FineTuneError {
                #expect(error.kind == .noLogits && error.description.contains(saying) && !error.description.contains("\n"), "\(error)")
            }
        }
    }

    /// A teacher CNN, its rank-1 student (both convolutions factorized in `form`), and labelled samples (the teacher's classes).
    func problem(form: ConversionOptions.ConvolutionForm) throws -> (teacher: Model, student: Model, training: LabelledSamples, validation: LabelledSamples) {
        var r = Random(31)
        let teacher = Model(name: "cnn", input: InputSpec(shape: [8, 8, 1], layout: .hwc, scale: [0.5]), layers: [
            Layer(name: "c1", operation: .conv2D(kernel: r.tensor([3, 3, 1, 6]), bias: r.tensor([6], scale: 0.1), activation: .relu,
                                                 geometry: ConvGeometry(padding: .same))),
            Layer(name: "p1", operation: .pool2D(Pooling(mode: .max, poolH: 2, poolW: 2, strideH: 2, strideW: 2, padding: .valid))),
            Layer(name: "c2", operation: .conv2D(kernel: r.tensor([3, 3, 6, 6]), bias: r.tensor([6], scale: 0.1), activation: .relu,
                                                 geometry: ConvGeometry(padding: .valid))),
            Layer(name: "flatten", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: r.tensor([24, 3]), bias: r.tensor([3], scale: 0.1), activation: .softmax)),
        ])
        var options = ConversionOptions(policy: .rank(1))
        options.convolutions = form
        let student = try Converter.convert(teacher, options: options).model
        func samples(_ n: Int) throws -> LabelledSamples {
            let x = r.values(n * 64, scale: 2)
            let y = try InferenceModel(teacher).run(x, sampleCount: n)
            let labels = (0..<n).map { row in (0..<3).max { y[row * 3 + $0] < y[row * 3 + $1] } ?? 0 }
            return LabelledSamples(inputs: x, labels: labels, featureCount: 64, image: ImageGeometry(height: 8, width: 8, channels: 1, channelsLast: true))
        }
        return (teacher, student, try samples(400), try samples(200))
    }

    @Test("fine-tuning a factorized CNN lowers the loss, raises validation accuracy, records each layer's new error, and is the same for the same seed",
          arguments: [ConversionOptions.ConvolutionForm.channel, .spatial])
    func trains(form: ConversionOptions.ConvolutionForm) throws {
        let (teacher, student, training, validation) = try problem(form: form)
        #expect(student.layers.filter { $0.operation.kindName == "factorized_conv2d" }.count == 2)
        let options = FineTuneOptions(epochs: 5, learningRate: 1e-2, batchSize: 32, seed: 4, patience: 5, augmentation: ImageAugmentation(maxShift: 1))
        let first = try FineTuner.fineTune(student: student, teacher: teacher, training: training, validation: validation, options: options)
        #expect(first.epochs.last!.loss < first.epochs[1].loss, "\(first.epochs.map(\.loss))")
        #expect(first.bestEpoch > 0 && first.epochs[first.bestEpoch].validationAccuracy > first.epochs[0].validationAccuracy,
                "\(first.epochs.map(\.validationAccuracy))")
        let again = try FineTuner.fineTune(student: student, teacher: teacher, training: training, validation: validation, options: options)
        #expect(again.model == first.model)
        // Each factorized convolution: trained, marked, and its record's error is that of its factors now against the teacher's kernel.
        for index in [0, 2] {
            guard case let .factorizedConv2D(a, b, _, _, storedForm, _, f) = first.model.layers[index].operation,
                  case let .factorizedConv2D(a0, _, _, _, _, _, f0) = student.layers[index].operation,
                  case let .conv2D(kernel, _, _, _) = teacher.layers[index].operation else {
                Issue.record("layer \(index) is not a factorized convolution"); continue
            }
            #expect(storedForm.name == form.rawValue)
            #expect(a.floats() != a0.floats())
            #expect(f.method == f0.method + "+finetune")
            let product = try FactorizedKernel.product(a, b, form: storedForm)
            let w = kernel.floats()
            let difference = zip(product, w).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            let norm = w.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(abs(f.relativeError - (difference / norm).squareRoot()) < 1e-5, "\(f.relativeError)")
            #expect(abs(f.relativeError - f0.relativeError) > 1e-4)
        }
        // What fine-tuning scored is what the runtime computes from the written model.
        let y = try InferenceModel(first.model).run(validation.inputs, sampleCount: validation.count)
        let correct = (0..<validation.count).filter { row in
            ((0..<3).max { y[row * 3 + $0] < y[row * 3 + $1] } ?? 0) == validation.labels[row]
        }.count
        #expect(abs(Double(correct) / Double(validation.count) - first.epochs[first.bestEpoch].validationAccuracy) < 1e-9)
    }
}

/// The kernel [kh, kw, cin, cout] a factorized convolution's halves multiply to (independent of the converter's code).
enum FactorizedKernel {
    static func product(_ first: Tensor, _ second: Tensor, form: ConvFactorizationForm) throws -> [Float] {
        let a = first.floats(), b = second.floats(), k = first.shape[3], cout = second.shape[3]
        switch form {
        case .channel:
            let rows = first.shape[0] * first.shape[1] * first.shape[2]
            var out = [Float](repeating: 0, count: rows * cout)
            for i in 0..<rows { for o in 0..<cout { for r in 0..<k { out[i * cout + o] += a[i * k + r] * b[r * cout + o] } } }
            return out
        case .spatial:
            // first [kh, 1, cin, k], second [1, kw, k, cout]: K[i, j, ci, o] = Σ_r first[i, 0, ci, r]·second[0, j, r, o].
            let (kh, cin, kw) = (first.shape[0], first.shape[2], second.shape[1])
            var out = [Float](repeating: 0, count: kh * kw * cin * cout)
            for i in 0..<kh { for j in 0..<kw { for ci in 0..<cin { for o in 0..<cout { for r in 0..<k {
                out[((i * kw + j) * cin + ci) * cout + o] += a[(i * cin + ci) * k + r] * b[(j * k + r) * cout + o]
            } } } } }
            return out
        }
    }
}
