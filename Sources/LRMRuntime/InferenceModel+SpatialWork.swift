import LRMFormat

extension InferenceModel {
    /// The most work one sample may take in a model's convolution and pooling layers: 2³⁶ (6.9·10¹⁰)
    /// multiply-adds or window reads, over four times VGG-16's 1.5·10¹⁰ multiply-adds. Memory is bounded
    /// per sample whatever a file says (``maxSampleElements``), but time is not: a few header bytes can
    /// describe a 2049×2049 pooling window slid over a 2049×2049 padded map, 1.8·10¹³ reads for one
    /// sample. Such a model is refused when it is prepared, before anything runs.
    public static let maxSpatialWorkPerSample = 1 << 36

    /// Work per sample of `operation` (multiply-adds of a convolution, window reads of a pooling layer) on
    /// samples of shape `input` producing `output`, saturating at `Int.max`; (1.5) an upsampling's reads; 0 for other layers.
    static func spatialWork(_ operation: LayerOperation<Tensor>, input: [Int], output: [Int]) -> Int {
        func mul(_ values: Int...) -> Int {
            var result = 1
            for value in values {
                let (next, overflow) = result.multipliedReportingOverflow(by: max(value, 0))
                if overflow { return Int.max }
                result = next
            }
            return result
        }
        guard output.count == 3 || output.count == 1 else { return 0 }
        let positions = output.count == 3 ? mul(output[0], output[1]) : 1
        switch operation {
        case .conv2D(let kernel, _, _, _), .depthwiseConv2D(let kernel, _, _, _):
            return mul(positions, kernel.elementCount)
        case let .factorizedConv2D(first, second, _, _, form, _, _):
            // Channel: both halves run at every output position. Spatial: the first half runs at every output
            // row and input column (its window is kh×1), the second at every output position.
            let firstPositions = form == .channel || input.count != 3 ? positions : mul(output[0], input[1])
            let (a, overflow) = mul(firstPositions, first.elementCount).addingReportingOverflow(mul(positions, second.elementCount))
            return overflow ? Int.max : a
        case .pool2D(let pooling):
            return mul(positions, pooling.poolH, pooling.poolW, output.last ?? 0)
        case .conv2DTranspose(let kernel, _, _, _):
            // (1.5) Every input position multiplies the whole kernel (and the output is written once).
            let inputPositions = input.count == 3 ? mul(input[0], input[1]) : 1
            let (sum, overflow) = mul(inputPositions, kernel.elementCount).addingReportingOverflow(mul(positions, output.last ?? 0))
            return overflow ? Int.max : sum
        case .upsample2D(let u):
            // One read per output element (nearest), four (bilinear).
            return mul(positions, output.last ?? 0, u.interpolation == .bilinear ? 4 : 1)
        default:
            return 0
        }
    }

    /// Refuses a model whose convolution and pooling layers imply more than ``maxSpatialWorkPerSample``
    /// per sample, naming the layer with the most. Layers whose shapes do not chain are left to the
    /// preparation that follows, which reports them.
    static func checkSpatialWork(_ model: Model) throws(RuntimeError) {
        var shape = model.input.shape, total = 0
        var largest: (name: String, work: Int)?
        var slots = SlotShapes()
        for layer in model.layers {
            guard let output = try? layer.outputShape(input: shape, slots: &slots) else { break }
            let work = spatialWork(layer.operation, input: shape, output: output)
            let (sum, overflow) = total.addingReportingOverflow(work)
            total = overflow ? Int.max : sum
            if work > (largest?.work ?? 0) { largest = (layer.name, work) }
            shape = output
        }
        guard total > maxSpatialWorkPerSample, let largest else { return }
        func figure(_ value: Int) -> String { value == Int.max ? "more than 2⁶³" : String(value) }
        throw RuntimeError(.tooLarge, "model '\(escaped(model.name))': its convolution and pooling layers imply \(figure(total)) "
                           + "multiply-adds or window reads per sample (layer '\(escaped(largest.name))' \(figure(largest.work))); "
                           + "lrm runs at most \(maxSpatialWorkPerSample) (2³⁶) per sample")
    }
}
