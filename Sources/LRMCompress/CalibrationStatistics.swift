import Foundation
public import LRMFormat
import LRMLinearAlgebra
import LRMRuntime

/// What a model's dense layers see on calibration data: for each dense layer, the Gram matrix
/// XᵀX of its inputs (in × in, accumulated in Double) and the mean absolute value of each input
/// feature. For a `conv2d` layer the rows of X are the im2col patches of its input (one per output
/// position, kh·kw·cin features in the kernel's row order): the statistics of the channel form's
/// matrix. Collected in streaming batches, so memory does not grow with the calibration set.
public struct CalibrationStatistics: Sendable {
    public struct Layer: Sendable {
        /// XᵀX, row-major in × in.
        public var gram: [Double]
        /// mean |xⱼ| per input feature.
        public var meanAbsolute: [Double]
        public var features: Int
        /// Rows of X seen (samples × positions).
        public var rows: Int
    }

    /// By layer name.
    public var layers: [String: Layer]
    /// Where the data came from, e.g. "mnist train, 5000 samples, seed 1" (recorded in the output).
    public var source: CalibrationSource

    public init(layers: [String: Layer], source: CalibrationSource) {
        self.layers = layers
        self.source = source
    }
}

/// Provenance of calibration data, written to the converted file's metadata.
public struct CalibrationSource: Sendable, Equatable {
    public var dataset: String
    public var split: String
    public var count: Int
    public var seed: UInt64
    public init(dataset: String, split: String, count: Int, seed: UInt64) {
        self.dataset = dataset
        self.split = split
        self.count = count
        self.seed = seed
    }
}

/// Accumulates `CalibrationStatistics` batch by batch, running the original model.
public final class CalibrationAccumulator {
    private let runner: InferenceModel
    private let denseLayers: [Int: String]
    /// Convolutions by index: the layer and the shape of its input samples.
    private let convolutions: [Int: (layer: LRMFormat.Layer<Tensor>, input: [Int])]
    private var grams: [Int: [Double]] = [:]
    private var absoluteSums: [Int: [Double]] = [:]
    private var rowCounts: [Int: Int] = [:]
    private var features: [Int: Int] = [:]
    private var failure: Error?

    public init(model: Model) throws {
        runner = try InferenceModel(model)
        var dense: [Int: String] = [:]
        var convolutions: [Int: (layer: LRMFormat.Layer<Tensor>, input: [Int])] = [:]
        // The runner above accepted the model, so every shape chains (through the slots of a model with branches, whose
        // layers each take the previous one's output, a `load`'s included).
        let outputShapes = try model.layerOutputShapes()
        for (index, layer) in model.layers.enumerated() {
            let shape = index == 0 ? model.input.shape : outputShapes[index - 1]
            switch layer.operation {
            // A factorized dense layer (a `.lrm` input) has the inputs of the layer it stands for: its re-stored integer
            // codes are rounded against them (``Converter/applyFactorized(_:to:rank:policyName:policyParameter:policyDescription:options:)``).
            case .dense, .factorizedDense: dense[index] = layer.name
            case .conv2D: convolutions[index] = (layer, shape)
            default: break
            }
        }
        denseLayers = dense
        self.convolutions = convolutions
    }

    /// Adds `sampleCount` raw samples (the model's preprocessing is applied).
    public func add(_ inputs: [Float], sampleCount: Int) throws {
        _ = try inputs.withUnsafeBufferPointer { buffer in
            try runner.run(buffer, sampleCount: sampleCount, batchSize: max(1, sampleCount)) { [self] layer, x, rows, width in
                guard failure == nil else { return }
                do {
                    if denseLayers[layer] != nil {
                        try accumulate(layer: layer, x: x, rows: rows, width: width)
                    } else if let convolution = convolutions[layer] {
                        let samples = rows * width / max(convolution.input.reduce(1, *), 1)
                        try InferenceModel.forEachPatchChunk(of: convolution.layer, input: convolution.input, x, samples: samples) { patches, count in
                            try accumulate(layer: layer, x: patches, rows: count, width: patches.count / max(count, 1))
                        }
                    }
                } catch { failure = error }
            }
        }
        if let failure { throw failure }
    }

    private func accumulate(layer: Int, x: UnsafeBufferPointer<Float>, rows: Int, width: Int) throws {
        let xd = x.map(Double.init)
        var gram = grams[layer] ?? [Double](repeating: 0, count: width * width)
        var sums = absoluteSums[layer] ?? [Double](repeating: 0, count: width)
        try xd.withUnsafeBufferPointer { xp in
            try gram.withUnsafeMutableBufferPointer { g in
                let shape = MatrixShape(rows: rows, columns: width)
                try GEMM.multiply(xp, shape: shape, transposeA: true, xp, shape: shape,
                                  into: g, shape: MatrixShape(rows: width, columns: width), beta: 1)
            }
        }
        for r in 0..<rows { for c in 0..<width { sums[c] += abs(xd[r * width + c]) } }
        grams[layer] = gram
        absoluteSums[layer] = sums
        rowCounts[layer, default: 0] += rows
        features[layer] = width
    }

    public func finish(source: CalibrationSource) -> CalibrationStatistics {
        var layers: [String: CalibrationStatistics.Layer] = [:]
        for (index, name) in denseLayers.merging(convolutions.mapValues(\.layer.name), uniquingKeysWith: { dense, _ in dense }) {
            guard let gram = grams[index], let sums = absoluteSums[index], let rows = rowCounts[index], rows > 0 else { continue }
            layers[name] = .init(gram: gram, meanAbsolute: sums.map { $0 / Double(rows) }, features: features[index] ?? 0, rows: rows)
        }
        return CalibrationStatistics(layers: layers, source: source)
    }
}
