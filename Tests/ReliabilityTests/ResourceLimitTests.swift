import Foundation
import LRMTestSupport
@testable import LRMDatasets
import LRMFormat
@testable import LRMKeras
import LRMHDF5
import LRMNumPy
import Testing

/// Sizes a file claims are checked against the file's real size and the readers' caps before anything
/// is allocated: a small file claiming 2⁴⁰ elements (or 2³⁰, under the element caps) gets an error.
///
/// Each test's error is one raised by a check that sits before the allocation in the reader's code; the
/// test names the check it relies on.
@Suite("Resource limits: claimed sizes are checked before allocation")
struct ResourceLimitTests {
    // MARK: .lrm

    /// A valid file whose last tensor (the bias of `dense_1`, 5 floats) is patched to claim 2⁴⁰
    /// elements (its dims and byte count), with both header checksums fixed so the claim is what fails.
    @Test("container: a tensor claiming 2⁴⁰ elements, or 2³¹−1, or 2⁴⁰ bytes, in a 1 KB file is refused at open from the header")
    func containerClaim() throws {
        var bytes = try ContainerWriter.encode(denseModel(widths: [3, 4, 5]))
        let headerLength = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[16 + $1]) << (8 * $1) })
        // The bias entry: name "dense_1/bias", dtype 1 (f32), dims: count 1, then 5 as u64; offset; byte count 20.
        let name = Array("dense_1/bias".utf8)
        let at = try #require((32..<(32 + headerLength - name.count)).first { Array(bytes[$0..<($0 + name.count)]) == name })
        var cursor = at + name.count
        #expect(bytes[cursor] == 1 && bytes[cursor + 1] == 1)  // dtype f32, one dimension
        cursor += 2
        func store(_ value: UInt64, _ offset: Int) { for k in 0..<8 { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) } }
        store(1 << 40, cursor)  // 2⁴⁰: over the 2³¹−1 a dimension may be
        let tooLong = try openError(bytes, fixingChecksums: headerLength)
        #expect(tooLong?.kind == .badTensor, "\(String(describing: tooLong))")
        store(Int64(Int32.max).magnitude, cursor)  // 2³¹−1 elements, 8 GiB as f32
        store(UInt64(Int32.max) * 4, cursor + 16)  // byte count to match
        let claim = try openError(bytes, fixingChecksums: headerLength)
        // The model's shape rules see the 2³¹−1-element bias before the data section's size is compared.
        #expect(claim?.kind == .badModel, "\(String(describing: claim))")
        // A tensor table whose sizes add up past the file: truncated.
        store(5, cursor)
        store(20 + (1 << 40), cursor + 16)
        let bytesClaim = try openError(bytes, fixingChecksums: headerLength)
        #expect(bytesClaim?.kind == .badTensor, "\(String(describing: bytesClaim))")
    }

    private func openError(_ bytes: [UInt8], fixingChecksums headerLength: Int) throws -> ContainerError? {
        var b = bytes
        func store(_ value: UInt32, _ offset: Int) { for k in 0..<4 { b[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) } }
        store(CRC32.checksum(b[32..<(32 + headerLength)]), 24)
        store(CRC32.checksum(b[0..<28]), 28)
        do {
            _ = try b.withUnsafeBytes { try ContainerFile(bytes: $0, path: "claim.lrm") }
            return nil
        } catch let error as ContainerError {
            return error
        }
    }

    // MARK: HDF5

    @Test("HDF5: a chunked kernel claiming 2³⁰ floats (4 GiB) in a 135 KB file is refused before it is read")
    func hdf5ChunkedClaim() throws {
        let scratch = try Scratch()
        let path = scratch.file("chunked.h5")
        try HDF5Craft.legacyWeights(at: path, layer: "dense", kernelShape: [1 << 15, 1 << 15], layout: .chunked)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size < 256 << 10)  // the bias's 32,768 floats are most of it
        // HDF5Dataset.checkStorage: the shape's bytes against the chunks' stored bytes × 1032.
        let error = #expect(throws: HDF5Error.self) { try HDF5File(path: path).rootGroup().openDataset("dense/dense/kernel:0") }
        #expect(error?.kind == .tooLarge, "\(String(describing: error))")
        #expect(error?.message.contains("chunks store") == true, "\(String(describing: error))")

        // The same through lrm import, with a config that agrees with the claim.
        let config = scratch.file("config.json")
        try HDF5Craft.denseConfig(layer: "dense", features: 1 << 15, units: 1 << 15).write(toFile: config, atomically: true, encoding: .utf8)
        let result = try ChildProcess.run(["import", path, "--config", config, "-o", scratch.file("o.lrm")], timeout: 60)
        #expect(result.isCleanError && result.stderr.contains("chunks store"), "\(result)")
        #expect(result.seconds < 20)
    }

    @Test("HDF5: a contiguous kernel claiming 2²⁸ floats but storing none is refused before it is read")
    func hdf5ContiguousClaim() throws {
        let scratch = try Scratch()
        let path = scratch.file("contiguous.h5")
        try HDF5Craft.legacyWeights(at: path, layer: "dense", kernelShape: [1 << 14, 1 << 14], layout: .contiguous)
        // HDF5Dataset.checkStorage: the stored bytes against the shape's.
        let error = #expect(throws: HDF5Error.self) { try HDF5File(path: path).rootGroup().openDataset("dense/dense/kernel:0") }
        #expect(error?.kind == .truncatedData, "\(String(describing: error))")
    }

    @Test("HDF5: a dataset over the element cap (2⁴⁰) is refused from its dataspace alone")
    func hdf5ElementCap() throws {
        let scratch = try Scratch()
        let path = scratch.file("huge.h5")
        try HDF5Craft.legacyWeights(at: path, layer: "dense", kernelShape: [1 << 20, 1 << 20], layout: .chunked)
        // HDF5Library.extent: the element count against HDF5Limits.maxElementCount.
        let error = #expect(throws: HDF5Error.self) { try HDF5File(path: path).rootGroup().openDataset("dense/dense/kernel:0") }
        #expect(error?.kind == .tooLarge, "\(String(describing: error))")
    }

    @Test("HDF5: an attribute whose dataspace is patched to claim 2³⁰ doubles (8 GiB) is refused before it is read")
    func hdf5AttributeClaim() throws {
        let scratch = try Scratch()
        let path = scratch.file("attribute.h5")
        try HDF5Craft.float64Attribute(at: path, count: 1000)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The attribute's dataspace stores its size (1000) as a u64; every such field gets 2³⁰.
        var patched = 0
        for i in 0..<(bytes.count - 8) where (0..<8).reduce(UInt64(0), { $0 | UInt64(bytes[i + $1]) << (8 * $1) }) == 1000 {
            for k in 0..<8 { bytes[i + k] = UInt8(truncatingIfNeeded: UInt64(1 << 30) >> (8 * k)) }
            patched += 1
        }
        #expect(patched >= 1)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        // HDF5Object.readAttribute: count × element size against the file's size.
        let error = #expect(throws: HDF5Error.self) { try HDF5File(path: path).rootGroup().readAttribute("values") }
        // (libhdf5 may find the patched header inconsistent first: since 9595989 that is said as a corrupt file.)
        #expect(error?.kind == .tooLarge || error?.kind == .readFailed || error?.kind == .corrupt, "\(String(describing: error))")
    }

    // MARK: .npy, .npz

    @Test("npy: a header claiming (2²⁰, 2²⁰) floats over 16 bytes of data is refused from the header")
    func npyClaim() throws {
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }".utf8)
        header += [UInt8](repeating: 0x20, count: (64 - (10 + header.count + 1) % 64) % 64) + [0x0A]
        let bytes = NPY.magic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header + [UInt8](repeating: 0, count: 16)
        // NPY.decode: count × itemsize against the bytes that follow the header.
        let error = #expect(throws: NumPyError.self) { try NPY.decode(Data(bytes), file: "claim.npy") }
        #expect(error?.kind == .dataSizeMismatch, "\(String(describing: error))")
        var bigHeader = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }".utf8)
        bigHeader += [UInt8](repeating: 0x20, count: (64 - (10 + bigHeader.count + 1) % 64) % 64) + [0x0A]
        let overflow = NPY.magic + [1, 0, UInt8(bigHeader.count & 0xFF), UInt8(bigHeader.count >> 8)] + bigHeader
        // NumPyArray.elementCount: the product of the shape, checked for overflow.
        let error2 = #expect(throws: NumPyError.self) { try NPY.decode(Data(overflow), file: "overflow.npy") }
        #expect(error2?.kind == .tooLarge || error2?.kind == .malformedHeader, "\(String(describing: error2))")
    }

    @Test("npz: an entry claiming 4 GiB from a few hundred compressed bytes is refused before inflating")
    func npzClaim() throws {
        let scratch = try Scratch()
        let path = scratch.file("claim.npz")
        try NPZ.write(["x": try NumPyArray(shape: [4], float32: [1, 2, 3, 4])], to: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Uncompressed size: offset 22 in the local header (PK 03 04), 24 in the central one (PK 01 02).
        for (signature, offset) in [([0x50, 0x4B, 0x03, 0x04] as [UInt8], 22), ([0x50, 0x4B, 0x01, 0x02], 24)] {
            for i in 0..<(bytes.count - 4) where Array(bytes[i..<(i + 4)]) == signature {
                for k in 0..<4 { bytes[i + offset + k] = 0xF0 }
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        // NPZ.extract: the declared size against 1032 × the compressed size.
        let error = #expect(throws: NumPyError.self) { try NPZ.read(path: path) }
        #expect(error?.kind == .tooLarge || error?.kind == .badArchive, "\(String(describing: error))")
        #expect(error?.message.contains("can expand") == true || error?.kind == .badArchive, "\(String(describing: error))")
    }

    // MARK: IDX, CIFAR

    static func idxImages(count: UInt32, images: Int) -> [UInt8] {
        [0, 0, 8, 3] + bigEndian(count) + bigEndian(28) + bigEndian(28) + [UInt8](repeating: 9, count: images * 784)
    }
    static func idxLabels(count: UInt32, labels: Int) -> [UInt8] {
        [0, 0, 8, 1] + bigEndian(count) + [UInt8](repeating: 1, count: labels)
    }
    static func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }

    @Test("IDX: headers claiming 2³²−1 images or labels in small raw or gzip files are refused from their sizes")
    func idxClaims() throws {
        let scratch = try Scratch()
        let images = try scratch.write(Self.idxImages(count: .max, images: 2), to: "images")
        let labels = try scratch.write(Self.idxLabels(count: .max, labels: 2), to: "labels")
        // IDXReader.checkSize: declared bytes against the file size (exactly for raw files).
        let raw = #expect(throws: DatasetError.self) {
            try Dataset.openIDX(.mnist, split: .test, images: URL(fileURLWithPath: images), labels: URL(fileURLWithPath: labels))
        }
        #expect(raw?.kind == .truncated, "\(String(describing: raw))")
        // …and within deflate's 1032:1 for gzip files.
        let gzImages = try scratch.write(try Gzip.compress(Self.idxImages(count: .max, images: 2)), to: "images.gz")
        let gzLabels = try scratch.write(try Gzip.compress(Self.idxLabels(count: .max, labels: 2)), to: "labels.gz")
        let gzip = #expect(throws: DatasetError.self) {
            try Dataset.openIDX(.mnist, split: .test, images: URL(fileURLWithPath: gzImages), labels: URL(fileURLWithPath: gzLabels))
        }
        #expect(gzip?.kind == .truncated, "\(String(describing: gzip))")
        let goodImages = try scratch.write(Self.idxImages(count: 2, images: 2), to: "images2")
        let liarLabels = try scratch.write(try Gzip.compress(Self.idxLabels(count: 2, labels: 2)), to: "labels2.gz")
        #expect(try Dataset.openIDX(.mnist, split: .test, images: URL(fileURLWithPath: goodImages),
                                    labels: URL(fileURLWithPath: liarLabels)).sampleCount == 2)
    }

    @Test("CIFAR: there is no count to claim; the record count is the file size over the record size")
    func cifarSizes() throws {
        let scratch = try Scratch()
        let twoAndABit = try scratch.write([UInt8](repeating: 1, count: 3073 * 2 + 5), to: "data_batch_1.bin")
        let error = #expect(throws: DatasetError.self) { try Dataset.openCIFAR(.cifar10, split: .train, files: [URL(fileURLWithPath: twoAndABit)]) }
        #expect(error?.kind == .truncated)
        let two = try scratch.write([UInt8](repeating: 1, count: 3073 * 2), to: "test_batch.bin")
        #expect(try Dataset.openCIFAR(.cifar10, split: .test, files: [URL(fileURLWithPath: two)]).sampleCount == 2)
    }

    // MARK: Address-space limit (ulimit -v)

    static let sample = TestPackage.root + "/samples/mnist_mlp.h5"
    static let datasets = TestPackage.shared + "/datasets"

    /// The commands that run models on the MNIST sample (an imported copy, 4 inputs to predict), each with the
    /// output it would write (nil: none). `scratch` holds the inputs; the outputs go there too.
    static func modelCommands(in scratch: Scratch) throws -> [(arguments: [String], output: String?)] {
        let imported = scratch.file("imported.lrm"), inputs = scratch.file("x.npy")
        if !FileManager.default.fileExists(atPath: imported) {
            let result = try ChildProcess.run(["import", sample, "-o", imported])
            #expect(result.status == 0, "\(result)")
            try NPY.write(try NumPyArray(shape: [4, 784], float32: [Float](repeating: 0.5, count: 4 * 784)), to: inputs)
        }
        let data = ["--dataset", "mnist", "--data", datasets]
        return [
            (["convert", sample, "-o", scratch.file("a.lrm")], scratch.file("a.lrm")),
            (["convert", imported, "--policy", "rank:8", "-o", scratch.file("b.lrm")], scratch.file("b.lrm")),
            (["convert", sample, "--input-scale", "1/255", "--target-accuracy-drop", "0.5", "-o", scratch.file("c.lrm")] + data,
             scratch.file("c.lrm")),
            (["verify", imported, "--reference", sample] + data, nil),
            (["sweep", sample, "--input-scale", "1/255", "--taus", "0.9"] + data, nil),
            (["predict", imported, "--input", inputs, "-o", scratch.file("y.npy")], scratch.file("y.npy")),
        ]
    }

    /// Before: at 200000 KiB `convert` hung in its first SVD (OpenBLAS 0.3.21 retries the mapping of its 128 MiB
    /// work buffer for ever) until killed, and so did `verify`, `sweep` and `predict` in their first product.
    @Test("ulimit -v 200000: each command that runs models ends at once with one line naming the limit and OpenBLAS's buffer, exit 71, nothing written")
    func addressSpaceTooLowForOpenBLAS() throws {
        let scratch = try Scratch(), temporary = try Scratch()
        for (arguments, output) in try Self.modelCommands(in: scratch) {
            let result = try ChildProcess.run(arguments, environment: ["TMPDIR": temporary.path], timeout: 30, addressSpaceLimit: 200_000)
            #expect(result.status == 71, "\(arguments): \(result)")
            #expect(result.seconds < 10, "\(arguments): \(result)")
            #expect(result.stderr.hasPrefix("lrm: error: not enough memory under the address-space limit (ulimit -v 200000 KiB): ")
                    && result.stderr.contains("OpenBLAS needs 128 MiB for its work buffer; allow at least ulimit -v ")
                    && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result)")
            if let output { #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)") }
            #expect(temporary.contents().isEmpty, "\(arguments): \(temporary.contents())")
        }
        // The commands that never run models are not refused.
        let inspect = try ChildProcess.run(["inspect", Self.sample], environment: ["TMPDIR": temporary.path], timeout: 30,
                                           addressSpaceLimit: 200_000)
        #expect(inspect.status == 0, "\(inspect)")
    }

    /// Before: at 300000 KiB `sweep` hung in its first product (the buffer no longer fitted once the data were read),
    /// and the accuracy-targeted search died on a failed allocation with "Fatal error: failed to allocate" and a backtrace.
    @Test("ulimit -v 300000: each command succeeds or ends with one line (exit 71, the limit named), nothing half-written, never a hang")
    func addressSpaceTight() throws {
        let scratch = try Scratch(), temporary = try Scratch()
        var succeeded = 0
        for (arguments, output) in try Self.modelCommands(in: scratch) {
            let result = try ChildProcess.run(arguments, environment: ["TMPDIR": temporary.path], timeout: 60, addressSpaceLimit: 300_000)
            if result.status == 0 {
                succeeded += 1
                if let output { #expect(FileManager.default.fileExists(atPath: output), "\(arguments)") }
            } else {
                #expect(result.status == 71, "\(arguments): \(result)")
                #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.contains("ulimit -v 300000 KiB")
                        && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result)")
                if let output { #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)") }
            }
            #expect(temporary.contents().isEmpty, "\(arguments): \(temporary.contents())")
        }
        // The plain conversions, verify and predict fit (measured: the 128 MiB buffer taken at start, the rest after it).
        #expect(succeeded >= 3, "only \(succeeded) commands succeeded")
    }

    /// Before: "Fatal error: failed to allocate 313600032 bytes of memory with alignment 8", then the Swift runtime's
    /// backtrace of every thread, and death by SIGABRT.
    @Test("a Swift allocation that fails (predict on a 299 MiB .npy under ulimit -v 400000) is one line, exit 71, no output")
    func swiftAllocationFailure() throws {
        let scratch = try Scratch(), temporary = try Scratch()
        let imported = scratch.file("imported.lrm")
        #expect(try ChildProcess.run(["import", Self.sample, "--input-scale", "1/255", "-o", imported]).status == 0)
        // A valid .npy of 100,000 × 784 float32 values (zeros), sparse on disk: its header, then a hole.
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 784), }".utf8)
        header += [UInt8](repeating: 0x20, count: (64 - (10 + header.count + 1) % 64) % 64) + [0x0A]
        let inputs = try scratch.write(NPY.magic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header, to: "x.npy")
        let handle = try #require(FileHandle(forWritingAtPath: inputs))
        try handle.truncate(atOffset: UInt64(10 + header.count + 100_000 * 784 * 4))
        try handle.close()
        let output = scratch.file("y.npy")
        let result = try ChildProcess.run(["predict", imported, "--input", inputs, "-o", output], environment: ["TMPDIR": temporary.path],
                                          timeout: 60, addressSpaceLimit: 400_000)
        #expect(result.status == 71, "\(result)")
        #expect(result.stderr.hasPrefix("lrm: error: out of memory: could not allocate 299.1 MiB (313600032 bytes) under the address-space limit "
                                        + "(ulimit -v 400000 KiB, ") && result.stderr.split(separator: "\n").count == 1, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(temporary.contents().isEmpty, "\(temporary.contents())")
    }

    // MARK: Keras configs

    @Test("Keras config: an input of 2³¹ × 2³¹ features or a Normalization over 2³⁰ of them is refused, not allocated")
    func configClaims() throws {
        let huge = """
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 2147483648, 2147483648]}},
              {"class_name": "Flatten", "config": {"name": "f"}}]}}
            """
        let error = #expect(throws: KerasImportError.self) { try KerasImporter.probeConfig(Array(huge.utf8)) }
        #expect(error?.kind == .invalidConfig, "\(String(describing: error))")
        let wide = """
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 1073741824]}},
              {"class_name": "Normalization", "config": {"name": "n", "mean": 0.5, "variance": 2.0}}]}}
            """
        // ContainerModelBuilder.configVectorLength: a vector made from a config value alone is capped.
        let error2 = #expect(throws: KerasImportError.self) { try KerasImporter.probeConfig(Array(wide.utf8)) }
        #expect(error2?.message.contains("features") == true, "\(String(describing: error2))")
    }
}
