@testable import LRMFormat

/// The corruption catalogue: each defect is applied to the tiny model's file and must be
/// rejected with exactly `expectedKind`. `spec/vectors/invalid/` holds one file per defect.
enum Defect: String, CaseIterable {
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

    var expectedKind: ContainerError.Kind {
        switch self {
        case .emptyFile, .truncatedPreamble, .headerPastEnd, .truncatedData: .truncated
        case .notMagicShort, .badMagic: .badMagic
        case .preambleChecksum: .preambleChecksum
        case .futureMajor: .unsupportedVersion
        case .badAlignment: .badPreamble
        case .headerTooLarge, .nameTooLong, .offsetBeyondLimit, .tensorCountBeyondLimit: .limitExceeded
        case .headerChecksum: .headerChecksum
        case .trailingBytes: .fileSize
        case .headerPaddingNonZero, .tensorPaddingNonZero: .nonZeroPadding
        case .tensorChecksum: .tensorChecksum
        case .metadataOutOfOrder, .metadataDuplicate, .metadataBadKey, .metadataWrongStandardType,
             .metadataUnknownType, .metadataBadBool: .badMetadata
        case .invalidUtf8Name, .emptyTensorName: .invalidString
        case .duplicateTensorName, .unknownDtype, .zeroDimension, .tooManyDimensions, .byteCountMismatch: .badTensor
        case .tensorOverlap, .tensorHole: .badLayout
        case .tensorCountPastHeader, .trailingHeaderBytes, .layerRecordLength: .malformedHeader
        case .unknownLayerKind, .unknownActivation: .unsupportedFeature
        case .tensorReferenceOutOfRange, .kernelShapeMismatch, .rankTooLarge, .singularValuesAscending,
             .energyAboveOne, .orphanTensor, .duplicateLayerName, .badScaleCount, .unknownInputLayout,
             .classNameCount: .badModel
        }
    }

    /// Whether the defect is found only by verifying tensor checksums (the file opens).
    var foundOnlyByVerify: Bool { self == .tensorChecksum }

    var fileName: String {
        // camelCase → snake_case
        var name = ""
        for ch in rawValue {
            if ch.isUppercase { name += "_" + ch.lowercased() } else { name.append(ch) }
        }
        return name + ".lrm"
    }

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
        case .metadataBadBool: parts.header[parts.after(string: "lrm.writer")] = 4
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
