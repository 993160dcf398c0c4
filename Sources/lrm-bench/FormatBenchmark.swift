import Foundation
import LRMFormat

/// `lrm-bench format [--dir D] [--large-mib N]`: open+validate time for a 1 MiB and a large
/// (default 1 GiB) file, checksum verification throughput and write throughput.
enum FormatBenchmark {
    static let usage = "lrm-bench format [--dir DIR] [--large-mib N]   container open, checksum and write figures"

    static func run(_ arguments: [String]) -> Int32 {
        var directory = NSTemporaryDirectory()
        var largeMiB = 1024
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--dir" where index + 1 < arguments.count: directory = arguments[index + 1]; index += 2
            case "--large-mib" where index + 1 < arguments.count: largeMiB = Int(arguments[index + 1]) ?? largeMiB; index += 2
            default:
                FileHandle.standardError.write(Data("usage: \(usage)\n".utf8))
                return 64
            }
        }
        do {
            let small = directory + "/lrm-bench-1mib.lrm"
            let large = directory + "/lrm-bench-\(largeMiB)mib.lrm"
            defer { try? FileManager.default.removeItem(atPath: small); try? FileManager.default.removeItem(atPath: large) }
            _ = try writeModel(to: small, mebibytes: 1)
            let writeSeconds = try writeModel(to: large, mebibytes: largeMiB)
            let largeBytes = Double(try FileManager.default.attributesOfItem(atPath: large)[.size] as? Int ?? 0)

            let openSmall = median((0..<21).map { _ in time { _ = try? ContainerFile(path: small) } })
            let openLarge = median((0..<21).map { _ in time { _ = try? ContainerFile(path: large) } })
            let file = try ContainerFile(path: large)
            try file.verifyAllChecksums()  // warm the page cache
            let verify = median(try (0..<3).map { _ in try timeThrowing { try file.verifyAllChecksums() } })

            print("container benchmark (files in \(directory))")
            print(String(format: "  open+validate 1 MiB file:     %8.1f µs (median of 21)", openSmall * 1e6))
            print(String(format: "  open+validate %d MiB file: %8.1f µs (median of 21)", largeMiB, openLarge * 1e6))
            print(String(format: "  ratio large/small:            %8.2f   (opening is O(header): target < 2)", openLarge / openSmall))
            print(String(format: "  checksum verification:        %8.2f GB/s (%d MiB, page cache warm, median of 3)",
                         largeBytes / verify / 1e9, largeMiB))
            print(String(format: "  write (stream, CRC, fsync, rename): %6.2f GB/s (%d MiB in %.2f s)",
                         largeBytes / writeSeconds / 1e9, largeMiB, writeSeconds))
            return 0
        } catch {
            FileHandle.standardError.write(Data("lrm-bench: \(error)\n".utf8))
            return 1
        }
    }

    /// Writes a two-layer model of about `mebibytes` MiB by streaming generated data (the model is
    /// never held in memory) and returns the seconds taken.
    static func writeModel(to path: String, mebibytes: Int) throws -> Double {
        // Square-ish kernel of n×n f32 plus a small output layer.
        let n = max(8, Int((Double(mebibytes) * 1_048_576 / 4).squareRoot()))
        let layers: [Layer<Int>] = [
            Layer(name: "big", operation: .dense(kernel: 0, bias: 1, activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: 2, bias: nil, activation: .softmax)),
        ]
        var tensors = [
            TensorInfo(name: "big/kernel", dtype: .float32, shape: [n, n], byteCount: n * n * 4),
            TensorInfo(name: "big/bias", dtype: .float32, shape: [n], byteCount: n * 4),
            TensorInfo(name: "out/kernel", dtype: .float32, shape: [n, 10], byteCount: n * 40),
        ]
        var offset = 0
        for i in tensors.indices {
            tensors[i].byteOffset = offset
            offset = (offset + tensors[i].byteCount + 63) / 64 * 64
        }
        let header = ContainerHeader(alignment: 64, metadata: [:], userMetadata: [:], tensors: tensors,
                                     model: ModelDescription(name: "bench", input: InputSpec(shape: [n]), layers: layers))
        var chunk = [Float](repeating: 0, count: 1 << 20)
        var rng = SeededGenerator(seed: 1)
        for i in chunk.indices { chunk[i] = rng.nextSymmetricFloat() }
        return try timeThrowing {
            try ContainerWriter.write(header: header, to: path) { index, emit in
                var remaining = tensors[index].byteCount
                try chunk.withUnsafeBytes { bytes in
                    while remaining > 0 {
                        let piece = min(remaining, bytes.count)
                        try emit(UnsafeRawBufferPointer(rebasing: bytes[0..<piece]))
                        remaining -= piece
                    }
                }
            }
        }
    }

    static func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func timeThrowing(_ body: () throws -> Void) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
