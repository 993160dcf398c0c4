import Foundation
public import LRMFormat
import LRMLinearAlgebra

/// Settings of distillation fine-tuning.
public struct FineTuneOptions: Sendable, Equatable {
    /// Most epochs (passes over the training samples).
    public var epochs: Int
    /// Adam's step size.
    public var learningRate: Double
    public var batchSize: Int
    /// Softening temperature T of the KL term.
    public var temperature: Double
    /// Weight of the cross-entropy with the labels (the KL term has weight T²).
    public var labelWeight: Double
    /// Seed of the minibatch order.
    public var seed: UInt64
    /// Stop after this many epochs without a better validation accuracy. By default a third of the most
    /// epochs, at least 2: under the cosine schedule the best epochs come late, when the step is small.
    public var patience: Int
    /// How the step size changes over the run.
    public var schedule: LearningRateSchedule
    /// How training images are varied in each minibatch (none: the records as they are). The original's
    /// outputs are computed on the same varied images, so the target stays consistent with the input.
    public var augmentation: ImageAugmentation

    public init(epochs: Int, learningRate: Double = 5e-4, batchSize: Int = 128, temperature: Double = 2, labelWeight: Double = 0.5,
                seed: UInt64 = 1, patience: Int? = nil, schedule: LearningRateSchedule = .cosine, augmentation: ImageAugmentation = .none) {
        self.epochs = epochs
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.temperature = temperature
        self.labelWeight = labelWeight
        self.seed = seed
        self.patience = patience ?? Self.defaultPatience(epochs: epochs)
        self.schedule = schedule
        self.augmentation = augmentation
    }

    /// The most epochs `lrm convert --finetune` takes (an epoch over MNIST's 49,000 records takes about 18 s).
    public static let maxEpochs = 100_000

    /// The patience when none is given: a third of the most epochs, at least 2.
    public static func defaultPatience(epochs: Int) -> Int { max(2, epochs / 3) }

    /// The loss, as recorded in the metadata.
    public var lossDescription: String {
        "kl(T=\(Self.format(temperature)))·T² + \(Self.format(labelWeight))·cross-entropy"
    }

    /// The augmentation, as recorded in the metadata (nil: none).
    public var augmentationDescription: String? { augmentation.isNone ? nil : augmentation.description }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// How fine-tuning's step size changes over its steps.
public enum LearningRateSchedule: String, Sendable, Equatable, CaseIterable {
    /// The learning rate throughout.
    case constant
    /// Half a cosine from the learning rate down to 0 over every step of the most epochs.
    case cosine

    /// The factor on the learning rate at `step` (0-based) of `steps`.
    public func factor(step: Int, of steps: Int) -> Double {
        switch self {
        case .constant: return 1
        case .cosine: return 0.5 * (1 + cos(Double.pi * Double(min(step, steps)) / Double(max(1, steps))))
        }
    }
}

/// Samples held in memory: raw inputs (the model applies its preprocessing) and labels.
public struct LabelledSamples: Sendable {
    public var inputs: [Float]
    public var labels: [Int]
    public var featureCount: Int
    /// How each sample's values form an image, when they do (augmentation needs it).
    public var image: ImageGeometry?
    public var count: Int { labels.count }
    public init(inputs: [Float], labels: [Int], featureCount: Int, image: ImageGeometry? = nil) {
        self.inputs = inputs
        self.labels = labels
        self.featureCount = featureCount
        self.image = image
    }
}

/// One epoch of fine-tuning (epoch 0: before any step).
public struct FineTuneEpoch: Sendable, Equatable {
    public var epoch: Int
    /// Mean training loss over the epoch (0 for epoch 0).
    public var loss: Double
    public var validationAccuracy: Double
    /// Fraction of validation samples whose top-1 class is the original model's.
    public var validationAgreement: Double
    public var seconds: Double
}

/// What fine-tuning did: the model from the best epoch (by validation accuracy), and every epoch.
public struct FineTuneResult: Sendable {
    public var model: Model
    public var epochs: [FineTuneEpoch]
    /// The epoch whose parameters were kept (0: fine-tuning never beat the starting point).
    public var bestEpoch: Int
    /// Whether weights the student stores as integer codes were trained through their rounding (straight-through).
    public var straightThrough = false
}

/// Distillation fine-tuning of a compressed model (dense or convolutional) against its original: the compressed model's
/// factors, kernels (dense and convolution) and biases are trained with Adam on minibatches of the training samples to minimise
/// T²·KL(softmax(t/T) ‖ softmax(s/T)) + w·cross-entropy(label, softmax(s)), with s the compressed model's
/// logits and t the original's. After each epoch the validation accuracy is measured; the best epoch's
/// parameters are kept and training stops after `patience` epochs without improvement. Deterministic
/// for a given seed and BLAS thread count.
public enum FineTuner {
    /// Throws `FineTuneError` unless `model` can be distilled (a softmax or logit output after dense or convolutional layers,
    /// activations the trainer has gradients for).
    public static func check(_ model: Model) throws {
        _ = try TrainableNetwork(model)
    }

    public static func fineTune(student: Model, teacher: Model, training: LabelledSamples, validation: LabelledSamples,
                                options: FineTuneOptions, progress: ((FineTuneEpoch) -> Void)? = nil) throws -> FineTuneResult {
        guard options.epochs >= 1 else { throw FineTuneError(.invalidInput, "fine-tuning needs at least 1 epoch, found \(options.epochs)") }
        guard options.learningRate > 0, options.learningRate.isFinite, options.batchSize >= 1, options.temperature > 0 else {
            throw FineTuneError(.invalidInput, "fine-tuning needs a positive learning rate, batch size and temperature")
        }
        var network = try TrainableNetwork(student)
        // Weights the student stores as integer codes are trained through their rounding (straight-through): each step
        // runs the network as its codes would store it and moves the unrounded weights by that network's gradients, the
        // validation scores what would be stored, and the kept epoch is written as those codes. (Training in float and
        // rounding once at the end, with error feedback, scored lower on the MNIST sample's validation records:
        // docs/RESULTS.md, "Fine-tuning integer factors".)
        let coded = network.codedParameters(of: student)
        func view(_ n: TrainableNetwork) throws -> TrainableNetwork { coded.isEmpty ? n : try n.rounded(coded) }
        let reference = try TrainableNetwork(teacher)
        guard network.classCount == reference.classCount else {
            throw FineTuneError(.invalidInput, "the compressed model has \(network.classCount) outputs, the original \(reference.classCount)")
        }
        for samples in [training, validation] {
            guard samples.featureCount == network.inputWidth, samples.inputs.count == samples.count * samples.featureCount, samples.count > 0 else {
                throw FineTuneError(.invalidInput, "samples of \(samples.featureCount) values do not fit a model taking \(network.inputWidth)")
            }
            guard samples.labels.allSatisfy({ $0 >= 0 && $0 < network.classCount }) else {
                throw FineTuneError(.invalidInput, "labels outside 0..<\(network.classCount)")
            }
        }
        let classes = network.classCount
        // The image the augmentation varies each sample as (nil: none is asked for).
        var augmented: ImageGeometry?
        if !options.augmentation.isNone {
            guard let image = training.image, image.valueCount == training.featureCount else {
                throw FineTuneError(.invalidInput, "augmentation (\(options.augmentation)) needs images; these samples are not")
            }
            augmented = image
        }
        // Without augmentation the original's outputs are the same every epoch: computed once.
        let teacherLogits = augmented != nil ? [] : try logits(of: reference, samples: training)
        var augmentRNG = SeededGenerator(seed: options.seed ^ 0x5DEE_CE66_D1CE_4E5B)
        let teacherValidation = argmaxes(try logits(of: reference, samples: validation), classes: classes)
        func score(_ network: TrainableNetwork) throws -> (accuracy: Double, agreement: Double) {
            let predicted = argmaxes(try logits(of: network, samples: validation), classes: classes)
            var correct = 0, agree = 0
            for (i, p) in predicted.enumerated() {
                if p == validation.labels[i] { correct += 1 }
                if p == teacherValidation[i] { agree += 1 }
            }
            return (Double(correct) / Double(validation.count), Double(agree) / Double(validation.count))
        }

        let started = Date()
        let initial = try score(network)  // as stored: the student's codes, rounded with error feedback in the refit's pass
        var history = [FineTuneEpoch(epoch: 0, loss: 0, validationAccuracy: initial.accuracy, validationAgreement: initial.agreement, seconds: 0)]
        var best = (epoch: 0, accuracy: initial.accuracy, parameters: network.parameters)
        var adam = Adam(shapes: network.parameters.map(\.count), learningRate: options.learningRate)
        var rng = SeededGenerator(seed: options.seed)
        var order = Array(0..<training.count)
        let width = training.featureCount
        // Batches of at most the training records' count: the steps of every epoch counted without overflow (the
        // schedule's span; a library caller may ask for up to Int.max epochs, ended by the patience).
        let batchesPerEpoch = (training.count - 1) / options.batchSize + 1
        let (allSteps, overflow) = batchesPerEpoch.multipliedReportingOverflow(by: options.epochs)
        let scheduledSteps = overflow ? Int.max : allSteps
        var steps = 0
        for epoch in 1...options.epochs {
            // Fisher–Yates with the seeded generator: the same order for the same seed.
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var lossSum = 0.0, batches = 0
            var start = 0
            while start < order.count {
                let batch = Array(order[start..<min(start + options.batchSize, order.count)])
                start += options.batchSize
                var raw = [Float](repeating: 0, count: batch.count * width)
                var teacher = [Float](repeating: 0, count: batch.count * classes)
                var labels = [Int](repeating: 0, count: batch.count)
                for (row, sample) in batch.enumerated() {
                    raw.replaceSubrange((row * width)..<((row + 1) * width), with: training.inputs[(sample * width)..<((sample + 1) * width)])
                    if augmented == nil {
                        teacher.replaceSubrange((row * classes)..<((row + 1) * classes), with: teacherLogits[(sample * classes)..<((sample + 1) * classes)])
                    }
                    labels[row] = training.labels[sample]
                }
                if let image = augmented {
                    options.augmentation.apply(to: &raw, count: batch.count, image: image, using: &augmentRNG)
                    teacher = try reference.forward(try reference.preprocess(raw[...], count: batch.count), count: batch.count, keep: false).logits
                }
                let x = try network.preprocess(raw[...], count: batch.count)
                let viewed = try view(network)
                let trace = try viewed.forward(x, count: batch.count, keep: true)
                let (loss, gradient) = distillationLoss(student: trace.logits, teacher: teacher, labels: labels, classes: classes, options: options)
                guard loss.isFinite else {
                    throw FineTuneError(.diverged, "fine-tuning diverged in epoch \(epoch) (the loss is \(loss)): lower the learning rate (it is \(options.learningRate))")
                }
                lossSum += loss
                batches += 1
                adam.step(&network.parameters, gradients: try viewed.backward(trace, logitGradient: gradient),
                          factor: options.schedule.factor(step: steps, of: scheduledSteps))
                steps += 1
            }
            guard network.parameters.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                throw FineTuneError(.diverged, "fine-tuning diverged in epoch \(epoch) (non-finite weights): lower the learning rate (it is \(options.learningRate))")
            }
            let now = try score(try view(network))
            let record = FineTuneEpoch(epoch: epoch, loss: lossSum / Double(max(1, batches)), validationAccuracy: now.accuracy,
                                       validationAgreement: now.agreement, seconds: Date().timeIntervalSince(started))
            history.append(record)
            progress?(record)
            if now.accuracy > best.accuracy { best = (epoch, now.accuracy, network.parameters) }
            if epoch - best.epoch >= options.patience { break }
        }
        network.parameters = best.parameters
        // Epoch 0 (no epoch did better) keeps the student's codes as they were, with the score they had.
        let written = try network.write(into: student, methodSuffix: "+finetune", coded: coded, keepingCodes: best.epoch == 0)
        let tuned = try recordingErrors(written, against: teacher)
        return FineTuneResult(model: tuned, epochs: history, bestEpoch: best.epoch, straightThrough: !coded.isEmpty)
    }

    /// `model` with each factorized layer's recorded relative error ‖U·Σ·Vᵀ − W‖/‖W‖ measured again against
    /// the kernel W of `teacher`'s layer at the same position (for a convolution, the matrix its form split): fine-tuning moved the factors, and `lrm verify`
    /// checks the record against the reference.
    static func recordingErrors(_ model: Model, against teacher: Model) throws -> Model {
        var updated = model
        for (index, layer) in model.layers.enumerated() where index < teacher.layers.count {
            switch (layer.operation, teacher.layers[index].operation) {
            case let (.factorizedDense(us, vt, bias, activation, factorization), .dense(kernel, _, _)) where kernel.shape == [us.shape[0], vt.shape[1]]:
                var record = factorization
                record.relativeError = try Converter.relativeError(of: try Matrix(rows: us.shape[0], columns: us.shape[1], values: us.floats()),
                                                                   try Matrix(rows: vt.shape[0], columns: vt.shape[1], values: vt.floats()),
                                                                   against: try Matrix(rows: kernel.shape[0], columns: kernel.shape[1], values: kernel.floats()))
                updated.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: record)
            case let (.factorizedConv2D(first, second, bias, activation, form, geometry, factorization), .conv2D(kernel, _, _, _))
                where kernel.shape.count == 4 && first.shape.count == 4 && second.shape.count == 4:
                // The error of the matrix the form split (the same Frobenius norm as the kernel's: its elements reordered).
                let (rows, columns) = Converter.convolutionMatrixShape(kernelShape: kernel.shape, form: form)
                let k = first.shape[3]
                let a: Matrix, b: Matrix
                switch form {
                case .channel:
                    guard first.elementCount == rows * k, second.elementCount == k * columns else { continue }
                    (a, b) = (try Matrix(rows: rows, columns: k, values: first.floats()), try Matrix(rows: k, columns: columns, values: second.floats()))
                case .spatial:
                    guard first.shape == [kernel.shape[0], 1, kernel.shape[2], k], second.shape == [1, kernel.shape[1], k, kernel.shape[3]] else { continue }
                    (a, b) = try Converter.spatialFactorMatrices(first: first, second: second)
                }
                var record = factorization
                record.relativeError = try Converter.relativeError(of: a, b, against: try Matrix(rows: rows, columns: columns,
                                                                                                 values: Converter.convolutionMatrix(kernel, form: form).floats()))
                updated.layers[index].operation = .factorizedConv2D(first: first, second: second, bias: bias, activation: activation, form: form,
                                                                    geometry: geometry, factorization: record)
            default:
                continue
            }
        }
        return updated
    }

    /// What the metadata records about a fine-tuning on `samples` records of `data` (e.g. "mnist train").
    public static func record(_ result: FineTuneResult, options: FineTuneOptions, data: String, samples: Int) -> FineTuneRecord {
        FineTuneRecord(epochs: result.epochs.count - 1, seed: options.seed, data: data, samples: samples, loss: options.lossDescription,
                       learningRate: options.learningRate, schedule: options.schedule.rawValue,
                       augmentation: options.augmentationDescription, rounding: result.straightThrough ? "straight-through" : nil)
    }

    /// The network's logits on every sample, in batches.
    static func logits(of network: TrainableNetwork, samples: LabelledSamples, batch: Int = 1000) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(samples.count * network.classCount)
        var start = 0
        while start < samples.count {
            let count = min(batch, samples.count - start)
            let x = try network.preprocess(samples.inputs[(start * samples.featureCount)..<((start + count) * samples.featureCount)], count: count)
            out += try network.forward(x, count: count, keep: false).logits
            start += count
        }
        return out
    }

    static func argmaxes(_ logits: [Float], classes: Int) -> [Int] {
        (0..<(logits.count / classes)).map { row in
            var best = 0
            for c in 1..<classes where logits[row * classes + c] > logits[row * classes + best] { best = c }
            return best
        }
    }

    /// Mean over the batch of T²·KL(p_T ‖ q_T) + w·CE, and its gradient with respect to the student's logits:
    /// T·(q_T − p_T) + w·(softmax(s) − onehot), divided by the batch size.
    static func distillationLoss(student: [Float], teacher: [Float], labels: [Int], classes: Int,
                                 options: FineTuneOptions) -> (Double, [Float]) {
        let rows = labels.count, t = options.temperature, w = options.labelWeight
        var gradient = [Float](repeating: 0, count: student.count)
        var total = 0.0
        for r in 0..<rows {
            let s = student[(r * classes)..<((r + 1) * classes)].map(Double.init)
            let z = teacher[(r * classes)..<((r + 1) * classes)].map(Double.init)
            let logQT = logSoftmax(s.map { $0 / t }), logPT = logSoftmax(z.map { $0 / t }), logQ = logSoftmax(s)
            var kl = 0.0
            for c in 0..<classes {
                let p = exp(logPT[c])
                kl += p * (logPT[c] - logQT[c])
                let onehot = c == labels[r] ? 1.0 : 0.0
                gradient[r * classes + c] = Float((t * (exp(logQT[c]) - p) + w * (exp(logQ[c]) - onehot)) / Double(rows))
            }
            total += t * t * kl - w * logQ[labels[r]]
        }
        return (total / Double(max(1, rows)), gradient)
    }

    static func logSoftmax(_ v: [Double]) -> [Double] {
        let m = v.max() ?? 0
        let log = m + Foundation.log(v.reduce(0.0) { $0 + exp($1 - m) })
        return v.map { $0 - log }
    }
}

/// Adam (Kingma & Ba) with the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-7 (Keras's).
struct Adam {
    var m: [[Float]]
    var v: [[Float]]
    var t = 0
    let learningRate: Double
    let beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7

    init(shapes: [Int], learningRate: Double) {
        m = shapes.map { [Float](repeating: 0, count: $0) }
        v = m
        self.learningRate = learningRate
    }

    /// One update with the step size times `factor` (the schedule's).
    mutating func step(_ parameters: inout [[Float]], gradients: [[Float]], factor: Double = 1) {
        t += 1
        let correction = learningRate * factor * (1 - pow(beta2, Double(t))).squareRoot() / (1 - pow(beta1, Double(t)))
        let (b1, b2, lr, eps) = (Float(beta1), Float(beta2), Float(correction), Float(epsilon))
        for p in parameters.indices {
            let g = gradients[p]
            for i in parameters[p].indices {
                m[p][i] = b1 * m[p][i] + (1 - b1) * g[i]
                v[p][i] = b2 * v[p][i] + (1 - b2) * g[i] * g[i]
                parameters[p][i] -= lr * m[p][i] / (v[p][i].squareRoot() + eps)
            }
        }
    }
}
