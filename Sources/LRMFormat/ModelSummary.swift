/// Parameter counts per layer and for the whole model, from the header alone.
///
/// **Compression ratio** (used everywhere in lrm): the parameters of the original model divided by
/// the parameters stored, counting every weight and bias of every layer. A factorized layer counts
/// in·out + bias before and k·(in + out) + bias after; every other layer counts the same before and
/// after. A ratio of 4 means a quarter of the parameters. Bytes on disk are reported separately.
public struct ModelSummary: Sendable {
    public struct LayerRow: Sendable {
        public var name: String
        public var kind: String
        public var activation: Activation?
        /// Input and output width of dense and factorized layers.
        public var inFeatures: Int?
        public var outFeatures: Int?
        public var factorization: Factorization?
        public var parametersBefore: Int
        public var parametersAfter: Int
        public var compressionRatio: Double {
            parametersAfter == 0 ? 1 : Double(parametersBefore) / Double(parametersAfter)
        }
    }

    public var layers: [LayerRow]
    public var parametersBefore: Int { layers.reduce(0) { $0 + $1.parametersBefore } }
    public var parametersAfter: Int { layers.reduce(0) { $0 + $1.parametersAfter } }
    public var compressionRatio: Double {
        parametersAfter == 0 ? 1 : Double(parametersBefore) / Double(parametersAfter)
    }

    public init(header: ContainerHeader) {
        let tensors = header.tensors
        func count(_ index: Int?) -> Int { index.map { tensors[$0].elementCount ?? 0 } ?? 0 }
        layers = header.model.layers.map { layer in
            var row = LayerRow(name: layer.name, kind: layer.operation.kindName, parametersBefore: 0, parametersAfter: 0)
            switch layer.operation {
            case let .dense(kernel, bias, activation):
                row.activation = activation
                row.inFeatures = tensors[kernel].shape.first
                row.outFeatures = tensors[kernel].shape.last
                row.parametersBefore = count(kernel) + count(bias)
                row.parametersAfter = row.parametersBefore
            case let .factorizedDense(us, vt, bias, activation, f):
                row.activation = activation
                row.inFeatures = f.inFeatures
                row.outFeatures = f.outFeatures
                row.factorization = f
                row.parametersBefore = f.denseParameterCount + count(bias)
                row.parametersAfter = count(us) + count(vt) + count(bias)
            case .activation(let activation):
                row.activation = activation
            case let .scaleShift(scale, shift):
                row.parametersBefore = count(scale) + count(shift)
                row.parametersAfter = row.parametersBefore
            case .flatten, .reshape:
                break
            }
            return row
        }
    }
}
