import Foundation

/// The record layout of a CIFAR binary file.
///
/// | data set | record bytes | byte 0 | byte 1 | pixels |
/// |---|---|---|---|---|
/// | CIFAR-10 | 3,073 | label 0–9 | | bytes 1…3,072 |
/// | CIFAR-100 | 3,074 | coarse label 0–19 | fine label 0–99 | bytes 2…3,073 |
///
/// Pixels are three 32×32 row-major planes: 1,024 red, 1,024 green, 1,024 blue (CHW).
struct CIFARRecordFormat: Sendable, Equatable {
    /// One label byte that must be below `classCount`.
    struct LabelCheck: Sendable, Equatable {
        var name: String
        var byteOffset: Int
        var classCount: Int
    }

    /// Bytes per record.
    var recordByteCount: Int
    /// Offset in the record of the label this data set reports.
    var labelOffset: Int
    /// Offset in the record of the first pixel byte.
    var pixelOffset: Int
    /// Every label byte of the record, all checked.
    var labelChecks: [LabelCheck]

    static let pixelCount = 3 * 32 * 32

    static func format(for dataset: DatasetName) -> CIFARRecordFormat? {
        let coarse = LabelCheck(name: "coarse", byteOffset: 0, classCount: 20)
        let fine = LabelCheck(name: "fine", byteOffset: 1, classCount: 100)
        switch dataset {
        case .cifar10:
            return CIFARRecordFormat(recordByteCount: 1 + pixelCount, labelOffset: 0, pixelOffset: 1,
                                     labelChecks: [LabelCheck(name: "class", byteOffset: 0, classCount: 10)])
        case .cifar100:
            return CIFARRecordFormat(recordByteCount: 2 + pixelCount, labelOffset: 1, pixelOffset: 2,
                                     labelChecks: [coarse, fine])
        case .cifar100Coarse:
            return CIFARRecordFormat(recordByteCount: 2 + pixelCount, labelOffset: 0, pixelOffset: 2,
                                     labelChecks: [coarse, fine])
        case .mnist, .fashionMNIST:
            return nil
        }
    }
}

/// One or more CIFAR record files read in order, their sizes checked when opened.
struct CIFARStorage: Sendable {
    var files: [URL]
    /// Records in each file (file size / record size).
    var recordCounts: [Int]
    var format: CIFARRecordFormat

    var sampleCount: Int { recordCounts.reduce(0, +) }

    /// Checks that every file exists and is a whole, non-zero number of records.
    init(files: [URL], format: CIFARRecordFormat) throws {
        guard !files.isEmpty else {
            throw DatasetError(.invalidArgument, "no CIFAR files given")
        }
        var counts: [Int] = []
        for file in files {
            let size = try FileByteStream.size(of: file)
            let (records, remainder) = size.quotientAndRemainder(dividingBy: format.recordByteCount)
            guard size > 0 else {
                throw DatasetError(.truncated, "the file is empty", path: file.path,
                                   expected: "a multiple of \(format.recordByteCount) bytes", found: "0 bytes")
            }
            guard remainder == 0 else {
                throw DatasetError(.truncated, "file size is not a whole number of \(format.recordByteCount)-byte "
                                   + "records (the last record has \(remainder) bytes)", path: file.path,
                                   byteOffset: records * format.recordByteCount,
                                   expected: "\(records * format.recordByteCount) or "
                                       + "\((records + 1) * format.recordByteCount) bytes",
                                   found: "\(size) bytes")
            }
            counts.append(records)
        }
        self.files = files
        self.recordCounts = counts
        self.format = format
    }
}
