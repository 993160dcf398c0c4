import LRMHDF5
import Foundation
package import LRMFormat

extension KerasImporter {
    /// The largest Dense width for which ``probeConfig(_:)`` makes stand-in weights.
    static let probeMaxUnits = 512

    /// Parses a model config (the UTF-8 JSON of `config.json` or `model_config`), gives every layer stand-in
    /// weights of the shapes its config implies (Dense kernels 4 × units, vectors of 4 for the
    /// normalisations), and maps the result to a container model exactly as an import would.
    ///
    /// This is the entry point of the config fuzz target: it reaches the JSON parser, the layer-config
    /// parser, the weight validator and the container mapping without an HDF5 file. Not for production use.
    /// - Throws: ``KerasImportError`` for anything the importer refuses.
    package static func probeConfig(_ bytes: [UInt8]) throws(KerasImportError) -> Model {
        let source = "probe.json"
        let architecture = try KerasConfigParser.parse(Data(bytes), source: source)
        var weights: [[String]: [KerasWeight]] = [:]
        // Convolution kernels take the channels the previous convolution gave (first: the input's last or first axis).
        let input = architecture.inputShape ?? []
        var channels = (architecture.leaves.lazy.compactMap { node -> KerasDataFormat? in
            if case .layer(let config) = node.content { return config.dataFormat }
            return nil
        }.first == .channelsFirst ? input.first : input.last).flatMap { $0 } ?? 4
        for leaf in architecture.leaves {
            guard case .layer(let config) = leaf.content else { continue }
            var made: [KerasWeight] = []
            var convolutionShapes: [String: [Int]] = [:]
            switch config {
            case .conv2D(let c):
                convolutionShapes = ["kernel": [c.kernelH, c.kernelW, channels, c.filters], "bias": [c.filters]]
                channels = c.filters
            case .depthwiseConv2D(let c):
                convolutionShapes = ["depthwise_kernel": [c.kernelH, c.kernelW, channels, c.depthMultiplier],
                                     "bias": [channels * c.depthMultiplier]]
                channels *= c.depthMultiplier
            case .separableConv2D(let c):
                convolutionShapes = ["depthwise_kernel": [c.kernelH, c.kernelW, channels, c.depthMultiplier],
                                     "pointwise_kernel": [1, 1, channels * c.depthMultiplier, c.filters], "bias": [c.filters]]
                channels = c.filters
            case .convTranspose2D(let c):
                convolutionShapes = ["kernel": [c.kernelH, c.kernelW, c.filters, channels], "bias": [c.filters]]
                channels = c.filters
            case .sequence(.convTranspose2D(let c), _):
                convolutionShapes = ["kernel": [c.kernelW, c.filters, channels], "bias": [c.filters]]
                channels = c.filters
            case .sequence(.conv2D(let c), _):
                convolutionShapes = ["kernel": [c.kernelW, channels, c.filters], "bias": [c.filters]]
                channels = c.filters
            case .sequence(.depthwiseConv2D(let c), _):
                convolutionShapes = ["depthwise_kernel": [c.kernelW, channels, c.depthMultiplier], "bias": [channels * c.depthMultiplier]]
                channels *= c.depthMultiplier
            case .sequence(.separableConv2D(let c), _):
                convolutionShapes = ["depthwise_kernel": [c.kernelW, channels, c.depthMultiplier],
                                     "pointwise_kernel": [1, channels * c.depthMultiplier, c.filters], "bias": [c.filters]]
                channels = c.filters
            default:
                break
            }
            for name in config.expectedWeightNames {
                var shape = [4]
                if case .dense(let units, _, _) = config {
                    guard units <= probeMaxUnits else {
                        throw KerasImportError(.invalidConfig, file: source, location: leaf.location, "probe: \(units) units are too many for stand-in weights")
                    }
                    shape = name == "kernel" ? [4, units] : [units]
                }
                if let convolution = convolutionShapes[name] {
                    guard convolution.allSatisfy({ $0 > 0 }), ContainerModelBuilder.elementCount(convolution).map({ $0 <= probeMaxUnits * probeMaxUnits }) == true else {
                        throw KerasImportError(.invalidConfig, file: source, location: leaf.location, "probe: kernel \(convolution) is too large for stand-in weights")
                    }
                    shape = convolution
                }
                let count = shape.reduce(1, *)
                let values = (0..<count).map { Float($0 % 7) * 0.25 + (name.contains("variance") ? 1 : 0) }
                made.append(KerasWeight(name: name, shape: shape, values: values, sourceDType: .float32, sourcePath: "/probe/\(name)"))
            }
            weights[leaf.key] = made
        }
        let model = try assemble(architecture, weights: weights, layout: .kerasArchive, source: source)
        return try model.containerModel(sourcePath: source)
    }
}
