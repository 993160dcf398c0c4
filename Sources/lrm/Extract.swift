import ArgumentParser
import Foundation
import LRMFormat
import LRMNumPy

extension LRM {
    struct Extract: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one tensor of a .lrm file as a NumPy .npy array.",
            discussion: "The tensor is named as `lrm inspect` lists it (e.g. 'dense_1/kernel', 'hidden/us'); its CRC-32 is "
                + "checked first. Values are written exactly as stored: f32, f64 and f16 in their own dtype, bf16 as float32 "
                + "(exact), i8 and i4 codes as int32 (the scales of a quantized weight are their own tensor, '<name>_scales'). "
                + ExitStatus.helpText)

        @Argument(help: "A .lrm file.")
        var file: String

        @Argument(help: "The tensor's name (as lrm inspect lists it).")
        var tensor: String

        @Option(name: .shortAndLong, help: "Output .npy file.")
        var output: String

        @Flag(help: "Write the output under a name that does not end in .npy.")
        var forceExtension = false

        func validate() throws {
            try OutputFiles.checkExtension(output, content: .predictions, force: forceExtension)
        }

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([file])
                try OutputFiles.refuseOverwritingInputs(output, inputs: [("input", file)])
                try OutputFiles.checkWritable(output, option: "-o")
                let container = try ContainerFile(path: file)
                let names = container.header.tensors.map(\.name)
                guard let index = container.tensorIndex(named: tensor) else {
                    let listed = names.prefix(12).map { "'\(escaped($0))'" }.joined(separator: ", ") + (names.count > 12 ? ", …" : "")
                    throw CommandFailure(status: .usage, message: "\(file): no tensor '\(escaped(tensor))'"
                                         + Suggestion.clause(for: tensor, among: names) + " (tensors: \(names.isEmpty ? "none" : listed))")
                }
                try container.verifyChecksum(index)
                let values = container.tensor(index)
                let array: NumPyArray
                do {
                    array = try Self.array(values)
                } catch {
                    throw CommandFailure(status: .invalidInput, message: "\(file): tensor '\(escaped(tensor))': \(error)")
                }
                do { try NPY.write(array, to: output) } catch {
                    throw CommandFailure(status: .cannotWrite, message: String(describing: error))
                }
                print("wrote \(output): '\(escaped(tensor))' \(values.dtype.name) \(values.shape.map(String.init).joined(separator: "×")) "
                      + "as \(array.dtype) (\(Format.count(array.count)) values)")
            }
        }

        /// The stored values as a NumPy array: f32, f64 and f16 as they are; bf16 widened to float32 (exact);
        /// integer codes as int32.
        static func array(_ tensor: Tensor) throws -> NumPyArray {
            switch tensor.storage {
            case .float32(let v): try NumPyArray(shape: tensor.shape, storage: .float32(v))
            case .float64(let v): try NumPyArray(shape: tensor.shape, storage: .float64(v))
            case .float16(let bits): try NumPyArray(shape: tensor.shape, storage: .float16(bits: bits))
            case .bfloat16: try NumPyArray(shape: tensor.shape, storage: .float32(tensor.floats()))
            case .int8(let codes), .int4(let codes): try NumPyArray(shape: tensor.shape, storage: .int32(codes.map(Int32.init)))
            case .quantized(let q): try NumPyArray(shape: tensor.shape, storage: .float32(Tensor(quantized: q).floats()))
            }
        }
    }
}
