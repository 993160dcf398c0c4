// Converts a Keras model to a low-rank .lrm file with ARSVD (energy 0.95) and runs both on one
// sample: the library calls a program needs, without the lrm command.
//
//     swift run --package-path tools/example-package convert-example samples/mnist_mlp.h5 /tmp/mnist.lrm
import Foundation
import LRMCompress
import LRMFormat
import LRMKeras
import LRMPipeline
import LRMRuntime

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: convert-example MODEL.h5 OUT.lrm\n".utf8))
    exit(64)
}
do {
    let original = try KerasImporter.loadModel(path: arguments[1])
    let result = try ConversionPipeline.run(original, request: ConversionRequest(options: ConversionOptions(policy: .energy(0.95))))
    try ContainerWriter.write(result.model, to: arguments[2])

    let before = result.decisions.reduce(0) { $0 + $1.parametersBefore }
    let after = result.decisions.reduce(0) { $0 + $1.parametersAfter }
    var generator = SeededGenerator(seed: 1)
    let sample = (0..<(try InferenceModel(original).inputElementCount)).map { _ in 0.5 + 0.5 * generator.nextSymmetricFloat() }
    let y0 = try InferenceModel(original).run(sample, sampleCount: 1)
    let y1 = try InferenceModel(try ContainerFile(path: arguments[2]).loadModel()).run(sample, sampleCount: 1)
    let largest = zip(y0, y1).map { abs($0 - $1) }.max() ?? 0
    print("\(arguments[2]): parameters \(before) → \(after); ranks "
          + result.decisions.compactMap { $0.outcome == .factorized ? "\($0.name)=\($0.rank ?? 0)" : nil }.joined(separator: " ")
          + "; written by \(result.provenance.writer ?? "?"); max |Δ output| on one sample \(largest)")
} catch {
    FileHandle.standardError.write(Data("convert-example: \(error)\n".utf8))
    exit(1)
}
