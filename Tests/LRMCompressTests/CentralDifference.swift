@testable import LRMCompress
import Testing

/// (loss(v + h) − loss(v − h)) / 2h for one value `v` the loss reads: `set` puts a value in its place, and `v` is put
/// back afterwards. The fine-tuning gradient tests compare each analytic gradient with this.
func centralDifference(at value: Float, step h: Float, set: (Float) -> Void, loss: () throws -> Double) rethrows -> Double {
    set(value + h)
    let plus = try loss()
    set(value - h)
    let minus = try loss()
    set(value)
    return (plus - minus) / Double(2 * h)
}

/// The loss the fine-tuning gradient tests differentiate: distillation of `network`'s logits on `x` (one row per label)
/// towards `teacher`, with `labels`.
func distillationLoss(_ network: TrainableNetwork, _ x: [Float], teacher: [Float], labels: [Int], options: FineTuneOptions) throws -> Double {
    let logits = try network.forward(x, count: labels.count, keep: false).logits
    return FineTuner.distillationLoss(student: logits, teacher: teacher, labels: labels, classes: network.classCount, options: options).0
}

/// Expects each analytic gradient of ``distillationLoss(_:_:teacher:labels:options:)`` to be within 2e-3 + 3e-2·|numeric|
/// of its central difference with step `h`: every parameter of `network` (`analytic[p][i]`), then, when `inputGradient`
/// is given, the first `inputCount` inputs (every one when nil). `label` names the case in each message. Returns the
/// number of parameters checked.
@discardableResult
func expectGradientsMatchDifferences(_ network: inout TrainableNetwork, x: [Float], teacher: [Float], labels: [Int], options: FineTuneOptions,
                                     analytic: [[Float]], inputGradient: [Float]? = nil, inputCount: Int? = nil, step h: Float,
                                     _ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
    func close(_ value: Double, _ numeric: Double) -> Bool { abs(value - numeric) <= 2e-3 + 3e-2 * abs(numeric) }
    var checked = 0
    for p in network.parameters.indices {
        for i in network.parameters[p].indices {
            let numeric = try centralDifference(at: network.parameters[p][i], step: h, set: { network.parameters[p][i] = $0 }) {
                try distillationLoss(network, x, teacher: teacher, labels: labels, options: options)
            }
            let value = Double(analytic[p][i])
            #expect(close(value, numeric), "\(label): parameter \(p)[\(i)]: analytic \(value), numeric \(numeric)", sourceLocation: sourceLocation)
            checked += 1
        }
    }
    guard let inputGradient else { return checked }
    #expect(inputGradient.count == x.count, "\(label): input gradient of \(inputGradient.count) values for \(x.count) inputs",
            sourceLocation: sourceLocation)
    var inputs = x
    for i in inputs.indices.prefix(inputCount ?? inputs.count) {
        let numeric = try centralDifference(at: inputs[i], step: h, set: { inputs[i] = $0 }) {
            try distillationLoss(network, inputs, teacher: teacher, labels: labels, options: options)
        }
        let value = Double(i < inputGradient.count ? inputGradient[i] : .nan)
        #expect(close(value, numeric), "\(label): input \(i): analytic \(value), numeric \(numeric)", sourceLocation: sourceLocation)
    }
    return checked
}
