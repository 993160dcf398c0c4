@testable import LRMFormat

/// The corruption catalogue: each defect is applied to the tiny model's file and must be
/// rejected with exactly `expectedKind`. `spec/vectors/invalid/` holds one file per defect.
enum Defect: String, CaseIterable, VectorDefect {
    case emptyFile, notMagicShort, badMagic, truncatedPreamble, preambleChecksum, futureMajor, badAlignment
    case headerTooLarge, headerPastEnd, headerChecksum, truncatedData, trailingBytes
    case headerPaddingNonZero, tensorPaddingNonZero, tensorChecksum
    case metadataOutOfOrder, metadataDuplicate, metadataBadKey, metadataWrongStandardType, metadataUnknownType
    case metadataBadBool, invalidUtf8Name, emptyTensorName, nameTooLong, duplicateTensorName, unknownDtype
    case zeroDimension, tooManyDimensions, byteCountMismatch, offsetBeyondLimit, tensorOverlap, tensorHole
    case tensorCountBeyondLimit, tensorCountPastHeader, trailingHeaderBytes, layerRecordLength
    case unknownLayerKind, unknownActivation, tensorReferenceOutOfRange, kernelShapeMismatch, rankTooLarge
    case singularValuesAscending, energyAboveOne, orphanTensor, duplicateLayerName, badScaleCount
    case unknownInputLayout, classNameCount
    case magicPrefixOnly, majorZero, emptyMetadataKey, longMetadataKey, userKeysOutOfOrder, emptyUserKey
    case byteCountBeyondLimit, factorizationFieldBeyondLimit, layerRecordTooShort, requiredTensorMissing
    case hwcNotThreeDimensional, nonFiniteScale, inputTooManyElements, reshapeMismatch, scaleShiftWrongShape
    case biasWrongShape, usWrongShape, inFeaturesMismatch, relativeErrorNaN, energyNegative, singularValueCount

    var expectedKind: ContainerError.Kind {
        switch self {
        case .emptyFile, .truncatedPreamble, .headerPastEnd, .truncatedData, .magicPrefixOnly: .truncated
        case .notMagicShort, .badMagic: .badMagic
        case .preambleChecksum: .preambleChecksum
        case .futureMajor, .majorZero: .unsupportedVersion
        case .badAlignment: .badPreamble
        case .headerTooLarge, .nameTooLong, .offsetBeyondLimit, .tensorCountBeyondLimit, .longMetadataKey,
             .byteCountBeyondLimit, .factorizationFieldBeyondLimit: .limitExceeded
        case .headerChecksum: .headerChecksum
        case .trailingBytes: .fileSize
        case .headerPaddingNonZero, .tensorPaddingNonZero: .nonZeroPadding
        case .tensorChecksum: .tensorChecksum
        case .metadataOutOfOrder, .metadataDuplicate, .metadataBadKey, .metadataWrongStandardType,
             .metadataUnknownType, .metadataBadBool, .emptyMetadataKey, .userKeysOutOfOrder: .badMetadata
        case .invalidUtf8Name, .emptyTensorName, .emptyUserKey: .invalidString
        case .duplicateTensorName, .unknownDtype, .zeroDimension, .tooManyDimensions, .byteCountMismatch: .badTensor
        case .tensorOverlap, .tensorHole: .badLayout
        case .tensorCountPastHeader, .trailingHeaderBytes, .layerRecordLength, .layerRecordTooShort: .malformedHeader
        case .unknownLayerKind, .unknownActivation: .unsupportedFeature
        case .tensorReferenceOutOfRange, .kernelShapeMismatch, .rankTooLarge, .singularValuesAscending,
             .energyAboveOne, .orphanTensor, .duplicateLayerName, .badScaleCount, .unknownInputLayout,
             .classNameCount, .requiredTensorMissing, .hwcNotThreeDimensional, .nonFiniteScale, .inputTooManyElements,
             .reshapeMismatch, .scaleShiftWrongShape, .biasWrongShape, .usWrongShape, .inFeaturesMismatch,
             .relativeErrorNaN, .energyNegative, .singularValueCount: .badModel
        }
    }

    /// What the defect is, for the manifest.
    var summary: String {
        switch self {
        case .emptyFile: "an empty file"
        case .notMagicShort: "4 bytes that are not the magic (a ZIP signature)"
        case .badMagic: "the magic's second byte changed"
        case .truncatedPreamble: "the first 20 bytes only"
        case .preambleChecksum: "one bit of the preamble CRC flipped"
        case .futureMajor: "major version 2 (preamble CRC fixed up)"
        case .badAlignment: "alignment 48, not a power of two"
        case .headerTooLarge: "header byte count 2^40"
        case .headerPastEnd: "header byte count larger than the file"
        case .headerChecksum: "header CRC off by one bit"
        case .truncatedData: "the last byte of the last tensor missing"
        case .trailingBytes: "one zero byte after the last tensor"
        case .headerPaddingNonZero: "a 1 in the padding between header and data"
        case .tensorPaddingNonZero: "a 1 in the padding after the first tensor"
        case .tensorChecksum: "one bit of the first tensor flipped (found only when verifying)"
        case .metadataOutOfOrder: "metadata keys 'lrm.writer' then 'a.format'"
        case .metadataDuplicate: "metadata key 'lrm.writer' twice"
        case .metadataBadKey: "metadata key 'Source.format' has an upper-case letter"
        case .metadataWrongStandardType: "standard key 'conversion.seed' holding a string"
        case .metadataUnknownType: "metadata type code 9"
        case .metadataBadBool: "non-standard key 'x.flag' holding bool byte 2"
        case .invalidUtf8Name: "tensor name bytes 66 C3 28 (not UTF-8)"
        case .emptyTensorName: "a tensor name of 0 bytes"
        case .nameTooLong: "a tensor name of 1025 bytes"
        case .duplicateTensorName: "two tensors named 'fc1/kernel'"
        case .unknownDtype: "dtype code 9"
        case .zeroDimension: "a dimension of size 0"
        case .tooManyDimensions: "a shape with 9 dimensions"
        case .byteCountMismatch: "byte count 28 for a 2×3 f32 tensor"
        case .offsetBeyondLimit: "tensor offset 2^63"
        case .tensorOverlap: "the second tensor at offset 0"
        case .tensorHole: "64 bytes of extra space before the second tensor"
        case .tensorCountBeyondLimit: "tensor count 2^32 − 1"
        case .tensorCountPastHeader: "tensor count 100,000 in a short header"
        case .trailingHeaderBytes: "one byte after the model section"
        case .layerRecordLength: "a layer record length one too large"
        case .unknownLayerKind: "layer kind 99"
        case .unknownActivation: "activation code 200"
        case .tensorReferenceOutOfRange: "a kernel referring to tensor 99"
        case .kernelShapeMismatch: "a 3×2 kernel where 2 features come in"
        case .rankTooLarge: "rank 3 for a 3×2 kernel"
        case .singularValuesAscending: "singular values [1, 2]"
        case .energyAboveOne: "retained energy 1.5"
        case .orphanTensor: "a bias tensor no layer uses"
        case .duplicateLayerName: "two layers named 'fc1'"
        case .badScaleCount: "3 input scale values for 2 features"
        case .unknownInputLayout: "input layout code 7"
        case .classNameCount: "3 class names for 2 outputs"
        case .magicPrefixOnly: "the magic's first 4 bytes only"
        case .majorZero: "major version 0"
        case .emptyMetadataKey: "a metadata key of 0 bytes"
        case .longMetadataKey: "a metadata key of 129 bytes"
        case .userKeysOutOfOrder: "user metadata keys 'b' then 'a'"
        case .emptyUserKey: "a user metadata key of 0 bytes"
        case .byteCountBeyondLimit: "tensor byte count 2^62 + 1"
        case .factorizationFieldBeyondLimit: "factorization rank 2^32"
        case .layerRecordTooShort: "a layer record length one too small"
        case .requiredTensorMissing: "a dense kernel reference 0xFFFFFFFF (none)"
        case .hwcNotThreeDimensional: "layout hwc with a 1-dimensional input"
        case .nonFiniteScale: "input scale NaN"
        case .inputTooManyElements: "input shape 65536×65536×2"
        case .reshapeMismatch: "a reshape of 2 elements to [3]"
        case .scaleShiftWrongShape: "a scale-shift over 3 features with a scale of 2"
        case .biasWrongShape: "a dense bias of 2 values for 3 outputs"
        case .usWrongShape: "U·Σ of shape [1, 2] where [3, 1] is needed"
        case .inFeaturesMismatch: "factorization in_features 4 where 3 features come in"
        case .relativeErrorNaN: "relative error NaN"
        case .energyNegative: "retained energy −0.1"
        case .singularValueCount: "3 singular values for a 3×2 kernel"
        }
    }

    /// Whether the defect is found only by verifying tensor checksums (the file opens).
    var foundOnlyByVerify: Bool { self == .tensorChecksum }

    /// The tiny model's file with this defect.
    func apply() throws -> [UInt8] {
        let base = try ContainerWriter.encode(TinyModel.make())
        var parts = try FileParts(base)
        // Header edits through the decoded structure, re-encoded without validation.
        func editHeader(_ edit: (inout ContainerHeader) -> Void) throws -> [UInt8] {
            var header = try TinyModel.make().plan().header
            for index in header.tensors.indices {
                header.tensors[index].crc32 = try ContainerFile.decodeForTests(base).header.tensors[index].crc32
            }
            edit(&header)
            parts.header = header.encode()
            return parts.assemble()
        }
        func layer(_ index: Int, _ edit: (inout Layer<Int>) -> Void) throws -> [UInt8] {
            try editHeader { edit(&$0.model.layers[index]) }
        }
        func factorization(_ edit: @escaping (inout Factorization) -> Void) throws -> [UInt8] {
            try layer(1) { layer in
                guard case .factorizedDense(let us, let vt, let bias, let activation, var f) = layer.operation else { return }
                edit(&f)
                layer.operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: f)
            }
        }
        let kernelName = parts.after(string: "fc1/kernel")
        let fc1Name = parts.after(string: "fc1")
        switch self {
        case .emptyFile: return []
        case .notMagicShort: return [0x50, 0x4B, 0x03, 0x04]
        case .badMagic: var b = base; b[1] = 0x58; return b
        case .truncatedPreamble: return Array(base.prefix(20))
        case .preambleChecksum: var b = base; b[28] ^= 0x01; return b
        case .futureMajor: parts.major = 2; return parts.assemble()
        case .badAlignment: parts.alignment = 48; return parts.assemble()
        case .headerTooLarge: parts.headerByteCount = 1 << 40; return parts.assemble()
        case .headerPastEnd: parts.headerByteCount = UInt64(base.count); return parts.assemble()
        case .headerChecksum: parts.headerCRC = CRC32.checksum(parts.header) ^ 1; return parts.assemble()
        case .truncatedData: return Array(base.dropLast())
        case .trailingBytes: return base + [0]
        case .headerPaddingNonZero:
            var b = base; b[32 + parts.header.count] = 1; return b
        case .tensorPaddingNonZero: parts.data[24] = 1; return parts.assemble()
        case .tensorChecksum: parts.data[0] ^= 0x01; return parts.assemble()
        case .metadataOutOfOrder: parts.replace(string: "source.format", with: Array("a.format".utf8))
        case .metadataDuplicate: parts.replace(string: "source.format", with: Array("lrm.writer".utf8))
        case .metadataBadKey: parts.replace(string: "source.format", with: Array("Source.format".utf8))
        case .metadataWrongStandardType: parts.replace(string: "lrm.writer", with: Array("conversion.seed".utf8))
        case .metadataUnknownType: parts.header[parts.after(string: "lrm.writer")] = 9
        case .metadataBadBool:
            let end = parts.after(string: "random")
            let start = parts.after(string: "source.format") - 13 - 4
            var w = ByteWriter()
            w.write("x.flag"); w.write(UInt8(4)); w.write(UInt8(2))
            parts.header.replaceSubrange(start..<end, with: w.bytes)
        case .invalidUtf8Name: parts.replace(string: "fc1/bias", with: [0x66, 0xC3, 0x28])
        case .emptyTensorName: parts.replace(string: "fc1/bias", with: [])
        case .nameTooLong: parts.replace(string: "fc1/bias", with: [UInt8](repeating: 0x61, count: 1025))
        case .duplicateTensorName: return try editHeader { $0.tensors[1].name = "fc1/kernel" }
        case .unknownDtype: parts.header[kernelName] = 9
        case .zeroDimension: parts.setUInt64(0, at: kernelName + 2)
        case .tooManyDimensions: parts.header[kernelName + 1] = 9
        case .byteCountMismatch: return try editHeader { $0.tensors[0].byteCount = 28 }
        case .offsetBeyondLimit: parts.setUInt64(1 << 63, at: kernelName + 18)
        case .tensorOverlap: return try editHeader { $0.tensors[1].byteOffset = 0 }
        case .tensorHole: return try editHeader { $0.tensors[1].byteOffset += 64 }
        case .tensorCountBeyondLimit: parts.setUInt32(0xFFFF_FFFF, at: kernelName - 10 - 4 - 4)
        case .tensorCountPastHeader: parts.setUInt32(100_000, at: kernelName - 10 - 4 - 4)
        case .trailingHeaderBytes: parts.header.append(0)
        case .layerRecordLength:
            let at = fc1Name - 3 - 4 - 1 - 4
            parts.setUInt32(UInt32(parts.header[at]) + 1, at: at)
        case .unknownLayerKind: parts.header[fc1Name - 3 - 4 - 1] = 99
        case .unknownActivation: parts.header[fc1Name + 8] = 200
        case .tensorReferenceOutOfRange:
            return try layer(0) { $0.operation = .dense(kernel: 99, bias: 1, activation: .relu) }
        case .kernelShapeMismatch: return try editHeader { $0.tensors[0].shape = [3, 2] }
        case .rankTooLarge: return try factorization { $0.rank = 3 }
        case .singularValuesAscending: return try factorization { $0.singularValues = [1, 2] }
        case .energyAboveOne: return try factorization { $0.retainedEnergy = 1.5 }
        case .orphanTensor: return try layer(0) { $0.operation = .dense(kernel: 0, bias: nil, activation: .relu) }
        case .duplicateLayerName: return try layer(1) { $0.name = "fc1" }
        case .badScaleCount: return try editHeader { $0.model.input.scale = [1, 2, 3] }
        case .unknownInputLayout: parts.header[parts.after(string: "tiny") + 1 + 8] = 7
        case .classNameCount: return try editHeader { $0.model.classNames = ["a", "b", "c"] }
        case .magicPrefixOnly: return Array(base.prefix(4))
        case .majorZero: parts.major = 0; return parts.assemble()
        case .emptyMetadataKey: parts.replace(string: "source.format", with: [])
        case .longMetadataKey: parts.replace(string: "source.format", with: [UInt8](repeating: 0x78, count: 129))
        case .userKeysOutOfOrder, .emptyUserKey:
            var w = ByteWriter()
            w.write(UInt32(2))
            w.write(self == .emptyUserKey ? "" : "b"); w.write("1")
            w.write("a"); w.write("2")
            let at = parts.after(string: "random")
            parts.header.replaceSubrange(at..<(at + 4), with: w.bytes)
        case .byteCountBeyondLimit: parts.setUInt64((1 << 62) + 1, at: kernelName + 18 + 8)
        case .factorizationFieldBeyondLimit: parts.setUInt64(1 << 32, at: parts.after(string: "fc2") + 13 + 16)
        case .layerRecordTooShort:
            let at = fc1Name - 3 - 4 - 1 - 4
            parts.setUInt32(UInt32(parts.header[at]) - 1, at: at)
        case .requiredTensorMissing: parts.setUInt32(Container.noTensor, at: fc1Name)
        case .hwcNotThreeDimensional: return try editHeader { $0.model.input.layout = .hwc }
        case .nonFiniteScale: return try editHeader { $0.model.input.scale = [.nan] }
        case .inputTooManyElements: return try editHeader { $0.model.input.shape = [65536, 65536, 2] }
        case .reshapeMismatch: return try editHeader { $0.model.layers.append(Layer(name: "r", operation: .reshape([3]))) }
        case .scaleShiftWrongShape:
            return try editHeader { $0.model.layers.insert(Layer(name: "ss", operation: .scaleShift(scale: 4, shift: nil)), at: 1) }
        case .biasWrongShape: return try layer(0) { $0.operation = .dense(kernel: 0, bias: 4, activation: .relu) }
        case .usWrongShape:
            return try layer(1) { layer in
                guard case let .factorizedDense(_, vt, bias, activation, f) = layer.operation else { return }
                layer.operation = .factorizedDense(us: 3, vt: vt, bias: bias, activation: activation, factorization: f)
            }
        case .inFeaturesMismatch: return try factorization { $0.inFeatures = 4 }
        case .relativeErrorNaN: return try factorization { $0.relativeError = .nan }
        case .energyNegative: return try factorization { $0.retainedEnergy = -0.1 }
        case .singularValueCount: return try factorization { $0.singularValues = [2, 1, 0.5] }
        }
        return parts.assemble()
    }
}

extension ContainerFile {
    /// Decodes a file image through the real reader (via a temporary file).
    static func decodeForTests(_ bytes: [UInt8]) throws -> ContainerFile {
        let directory = try TemporaryDirectory()
        return try ContainerFile(path: try directory.write(bytes, to: "decode.lrm"))
    }
}

/// An invalid test vector: a named defect applied to a valid file, the error kind it must give, and
/// whether only checksum verification (or loading the data) finds it.
protocol VectorDefect: RawRepresentable<String>, CaseIterable {
    var expectedKind: ContainerError.Kind { get }
    var foundOnlyByVerify: Bool { get }
    var summary: String { get }
    func apply() throws -> [UInt8]
}

extension VectorDefect {
    var foundOnlyByVerify: Bool { false }

    /// The vector's file: the case name in snake_case (`quantZeroScale` → `quant_zero_scale.lrm`).
    var fileName: String {
        var name = ""
        for ch in rawValue {
            if ch.isUppercase { name += "_" + ch.lowercased() } else { name.append(ch) }
        }
        return name + ".lrm"
    }
}
