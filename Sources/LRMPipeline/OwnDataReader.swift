import Foundation
import LRMFormat
import LRMNumPy

/// Samples and labels read from the user's files, before they are split or matched to a model.
public struct OwnArrays: Sendable {
    /// `sampleCount × sampleShape.product` values, row-major, as stored: the array read from the file, or a part of
    /// it (``slice(_:note:)``), which shares its storage.
    public var features: ArraySlice<Float>
    /// The shape of one sample (the array's shape without its first axis; `[columns]` for CSV).
    public var sampleShape: [Int]
    /// `sampleCount × labelWidth` label values: the array read from the file, or a part of it (``slice(_:note:)``), which
    /// shares its storage.
    public var labels: OwnLabels
    /// Label values per sample (1 for class labels and single-target regression).
    public var labelWidth: Int
    /// Where they came from, e.g. "churn.csv (label column 'churned')".
    public var source: String

    public var sampleCount: Int { labelWidth > 0 ? labels.count / labelWidth : 0 }

    /// Records `range` (in file order). The features and the labels are slices of these: the training and test records
    /// of one file share its arrays, nothing is copied.
    func slice(_ range: Range<Int>, note: String) -> OwnArrays {
        let width = sampleShape.reduce(1, *), base = features.startIndex
        return OwnArrays(features: features[(base + range.lowerBound * width)..<(base + range.upperBound * width)], sampleShape: sampleShape,
                         labels: labels.slice((range.lowerBound * labelWidth)..<(range.upperBound * labelWidth)),
                         labelWidth: labelWidth, source: "\(source), \(note)")
    }
}

/// Label values as read, each read as a `Double` (indices from 0): held as floats when the file's type holds nothing a
/// `Float` cannot (float16, float32, uint8, bool: 4 bytes a record, and a regression's float32 targets are these floats),
/// else as doubles (float64, int32, int64, CSV). A part (``slice(_:)``) shares the storage.
public struct OwnLabels: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral {
    enum Storage: Sendable {
        case float(ArraySlice<Float>)
        case double(ArraySlice<Double>)
    }

    let storage: Storage

    init(_ storage: Storage) { self.storage = storage }

    init(_ values: ExactValues) {
        switch values {
        case .float(let v): storage = .float(v[...])
        case .double(let v): storage = .double(v[...])
        }
    }

    public init(arrayLiteral elements: Double...) { storage = .double(elements[...]) }

    public var startIndex: Int { 0 }

    public var endIndex: Int {
        switch storage {
        case .float(let v): v.count
        case .double(let v): v.count
        }
    }

    public subscript(position: Int) -> Double {
        switch storage {
        case .float(let v): Double(v[v.startIndex + position])
        case .double(let v): v[v.startIndex + position]
        }
    }

    /// Values `range` (counted from 0), sharing the storage.
    func slice(_ range: Range<Int>) -> OwnLabels {
        switch storage {
        case .float(let v): OwnLabels(.float(v[(v.startIndex + range.lowerBound)..<(v.startIndex + range.upperBound)]))
        case .double(let v): OwnLabels(.double(v[(v.startIndex + range.lowerBound)..<(v.startIndex + range.upperBound)]))
        }
    }

    /// The values as float32 (a regression's targets): the floats read, sharing their storage, or the doubles rounded.
    var floats: ArraySlice<Float> {
        switch storage {
        case .float(let v): v
        case .double(let v): v.map(Float.init)[...]
        }
    }

    /// Equal values, however they are held.
    public static func == (lhs: OwnLabels, rhs: OwnLabels) -> Bool { lhs.elementsEqual(rhs) }
}

/// Reads `--inputs` / `--labels`: `.npy` (first axis: samples), `.npz` (arrays `x` and `y`, or `inputs` and
/// `labels`), or CSV with a header row (every column a number; the label column named by `labelColumn`).
public enum OwnDataReader {
    /// Reads samples from `inputs` and labels from `labels` (else from the same file: the npz's `y`, the
    /// CSV's label column).
    ///
    /// - Throws: `PipelineError` `.dataMissing` (a file is not there), `.dataInvalid` (unreadable, not numbers,
    ///   non-finite values, counts that differ), `.badRequest` (a CSV without `labelColumn`, a column not found, `labels`
    ///   for an `.npz` that holds its own: `labelsOption` names the option that gave them).
    public static func read(inputs: String, labels: String?, labelColumn: String?, labelsOption: String = "--labels") throws -> OwnArrays {
        var arrays: OwnArrays
        if isCSV(inputs) {
            let table = try CSVTable(path: inputs)
            if let labels {
                arrays = OwnArrays(features: table.values.map(Float.init)[...], sampleShape: [table.columns.count], labels: [], labelWidth: 1,
                                   source: inputs)
                try attach(labels: labels, column: labelColumn, to: &arrays)
            } else {
                guard let labelColumn else {
                    throw PipelineError(.badRequest, "\(inputs): say which column holds the labels with --label-column (columns: "
                                        + table.columns.joined(separator: ", ") + ")")
                }
                let (features, target) = try table.splitting(column: labelColumn)
                arrays = OwnArrays(features: features.values.map(Float.init)[...], sampleShape: [features.columns.count], labels: OwnLabels(.double(target[...])),
                                   labelWidth: 1, source: "\(inputs) (label column '\(labelColumn)')")
            }
        } else {
            let (x, y) = try numpyInputs(inputs)
            guard x.shape.count >= 1, x.shape[0] >= 1 else {
                throw PipelineError(.dataInvalid, "\(inputs): the inputs have shape \(x.shape); expected [samples, …] with at least one sample")
            }
            let sampleShape = x.shape.count == 1 ? [1] : Array(x.shape.dropFirst())
            arrays = OwnArrays(features: x.values[...], sampleShape: sampleShape, labels: [], labelWidth: 1, source: inputs)
            if let labels {
                if y != nil {
                    // Two sources of labels: using one without a word would score against labels the user may not mean.
                    throw PipelineError(.badRequest, "\(labels): \(labelsOption) given for \(inputs), which holds its own labels "
                                        + "(an array named y, Y, labels or targets); give one or the other: leave \(labelsOption) out, or store the .npz without it")
                }
                try attach(labels: labels, column: labelColumn, to: &arrays)
            } else if let y {
                try setLabels(shape: y.shape, values: y.values, file: inputs, on: &arrays)
            } else {
                throw PipelineError(.badRequest, "\(inputs): give the labels with --labels (or store them in an .npz as 'y')")
            }
        }
        let count = arrays.features.count / max(1, arrays.sampleShape.reduce(1, *))
        guard arrays.sampleCount == count else {
            throw PipelineError(.dataInvalid, "\(labels ?? inputs): \(arrays.sampleCount) labels for \(count) samples in \(inputs)")
        }
        if let index = arrays.features.firstIndex(where: { !$0.isFinite }) {
            throw PipelineError(.dataInvalid, "\(inputs): sample \((index - arrays.features.startIndex) / max(1, arrays.sampleShape.reduce(1, *))) holds a non-finite value (\(arrays.features[index]))")
        }
        if let index = arrays.labels.firstIndex(where: { !$0.isFinite }) {
            throw PipelineError(.dataInvalid, "\(labels ?? inputs): label \(index / arrays.labelWidth) is not a finite number (\(arrays.labels[index]))")
        }
        return arrays
    }

    static func isCSV(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".csv") || lower.hasSuffix(".tsv") || lower.hasSuffix(".txt")
    }

    /// The features as float32 and (when the file is an npz holding them) the labels. Each array is converted as it is
    /// read (`NPY.readFloat32`, `NPZArchive.readFloat32`): the features cost their float32 values, never the file's
    /// bytes or the stored type as well. Of an npz only the arrays used are read.
    static func numpyInputs(_ path: String) throws -> (x: (shape: [Int], values: [Float]), y: (shape: [Int], values: ExactValues)?) {
        if isNPZ(path) {
            let (archive, x, y) = try npzArrays(path)
            return (try numpy(path) { () throws(NumPyError) in try archive.readFloat32(x) },
                    try y.map { y in try numpy(path) { () throws(NumPyError) in try archive.readExact(y) } })
        }
        return (try numpy(path) { () throws(NumPyError) in try NPY.readFloat32(path: path) }, nil)
    }

    /// The labels in a `.npy` file or an `.npz` file's features array, converted as they are read to floats where those
    /// hold the file's type exactly, else to doubles (`NPY.readExact`, `NPZArchive.readExact`).
    static func numpyLabels(_ path: String) throws -> (shape: [Int], values: ExactValues) {
        if isNPZ(path) {
            let (archive, x, _) = try npzArrays(path)
            return try numpy(path) { () throws(NumPyError) in try archive.readExact(x) }
        }
        return try numpy(path) { () throws(NumPyError) in try NPY.readExact(path: path) }
    }

    static func isNPZ(_ path: String) -> Bool { path.lowercased().hasSuffix(".npz") }

    /// An `.npz` file opened, and the names of its features and (when it holds them) its labels.
    static func npzArrays(_ path: String) throws -> (NPZArchive, x: String, y: String?) {
        let archive = try numpy(path) { () throws(NumPyError) in try NPZArchive(path: path) }
        let keys = Set(archive.keys)
        func pick(_ names: [String]) -> String? { names.lazy.compactMap { keys.contains($0) ? $0 : keys.contains($0 + ".npy") ? $0 + ".npy" : nil }.first }
        guard let x = pick(["x", "X", "inputs", "features"]) else {
            throw PipelineError(.dataInvalid, "\(path): no array named x, X, inputs or features (it holds "
                                + archive.keys.sorted().joined(separator: ", ") + ")")
        }
        return (archive, x, pick(["y", "Y", "labels", "targets"]))
    }

    /// `read()`'s result, its ``NumPyError`` turned into a `PipelineError` (`.dataMissing` for a file that is not there or
    /// cannot be read, `.dataInvalid` otherwise).
    static func numpy<Result>(_ path: String, _ read: () throws(NumPyError) -> Result) throws -> Result {
        guard FileManager.default.fileExists(atPath: path) else { throw PipelineError(.dataMissing, "\(path): no such file") }
        do {
            return try read()
        } catch {
            throw PipelineError(error.kind == .unreadable ? .dataMissing : .dataInvalid, error.description, cause: error)
        }
    }

    static func attach(labels path: String, column: String?, to arrays: inout OwnArrays) throws {
        if isCSV(path) {
            let table = try CSVTable(path: path)
            let values: [Double]
            if let column {
                values = try table.splitting(column: column).target
            } else {
                guard table.columns.count == 1 else {
                    throw PipelineError(.badRequest, "\(path): \(table.columns.count) columns; name the label column with --label-column")
                }
                values = table.values
            }
            arrays.labels = OwnLabels(.double(values[...]))
            arrays.labelWidth = 1
            arrays.source += ", labels \(path)"
            return
        }
        let y = try numpyLabels(path)
        try setLabels(shape: y.shape, values: y.values, file: path, on: &arrays)
        arrays.source += ", labels \(path)"
    }

    static func setLabels(shape: [Int], values: ExactValues, file: String, on arrays: inout OwnArrays) throws {
        guard shape.count == 1 || shape.count == 2 else {
            throw PipelineError(.dataInvalid, "\(file): labels of shape \(shape); expected [samples] or [samples, targets]")
        }
        arrays.labels = OwnLabels(values)
        arrays.labelWidth = shape.count == 2 ? shape[1] : 1
        guard arrays.labelWidth >= 1 else { throw PipelineError(.dataInvalid, "\(file): labels of shape \(shape) hold no values") }
    }
}

/// A CSV file with a header row and numbers in every other cell (comma-separated; tab for `.tsv`).
struct CSVTable {
    var columns: [String]
    /// Row-major cells.
    var values: [Double]
    let path: String

    init(columns: [String], values: [Double], path: String) {
        self.columns = columns
        self.values = values
        self.path = path
    }

    init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw PipelineError(.dataMissing, "\(path): no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw PipelineError(.dataMissing, "\(path): cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw PipelineError(.dataInvalid, "\(path): not UTF-8 text") }
        let separator: Character = path.lowercased().hasSuffix(".tsv") ? "\t" : ","
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        guard let header = lines.first else { throw PipelineError(.dataInvalid, "\(path): empty file; expected a header row and data rows") }
        columns = try Self.fields(of: header, separator: separator, line: 1, path: path)
        if columns.allSatisfy({ Double($0) != nil }) {
            throw PipelineError(.dataInvalid, "\(path): line 1 holds only numbers; expected a header row naming the columns")
        }
        guard lines.count >= 2 else { throw PipelineError(.dataInvalid, "\(path): a header and no data rows") }
        var values: [Double] = []
        values.reserveCapacity((lines.count - 1) * columns.count)
        for (index, line) in lines.dropFirst().enumerated() {
            let cells = try Self.fields(of: line, separator: separator, line: index + 2, path: path)
            guard cells.count == columns.count else {
                throw PipelineError(.dataInvalid, "\(path): line \(index + 2): \(cells.count) cells, the header has \(columns.count)")
            }
            for (column, cell) in cells.enumerated() {
                guard let value = Double(cell) else {
                    throw PipelineError(.dataInvalid, "\(path): line \(index + 2), column '\(columns[column])': '\(cell)' is not a number")
                }
                values.append(value)
            }
        }
        self.values = values
        self.path = path
    }

    /// The cells of one line, trimmed of surrounding blanks. A cell may be quoted as RFC 4180 has it (what
    /// pandas and spreadsheets write for a name holding the separator): `"age, years"`, with `""` for a quote
    /// inside; a quoted cell cannot span lines.
    static func fields(of text: String, separator: Character, line: Int, path: String) throws -> [String] {
        guard text.contains("\"") else {
            return text.split(separator: separator, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        var cells: [String] = []
        var characters = text[...]
        while true {
            while characters.first == " " { characters.removeFirst() }
            var cell = ""
            if characters.first == "\"" {
                characters.removeFirst()
                var closed = false
                while let character = characters.popFirst() {
                    if character == "\"" {
                        if characters.first == "\"" { characters.removeFirst(); cell.append("\"") } else { closed = true; break }
                    } else {
                        cell.append(character)
                    }
                }
                guard closed else {
                    throw PipelineError(.dataInvalid, "\(path): line \(line): a quoted cell is not closed (a cell cannot span lines)")
                }
                while characters.first == " " { characters.removeFirst() }
                guard characters.isEmpty || characters.first == separator else {
                    throw PipelineError(.dataInvalid, "\(path): line \(line): text after the closing quote of cell \(cells.count + 1)")
                }
            } else {
                let end = characters.firstIndex(of: separator) ?? characters.endIndex
                cell = characters[..<end].trimmingCharacters(in: .whitespaces)
                characters = characters[end...]
            }
            cells.append(cell)
            guard characters.first == separator else { return cells }
            characters.removeFirst()
        }
    }

    /// The table without `column`, and that column's values.
    func splitting(column name: String) throws -> (features: CSVTable, target: [Double]) {
        guard let index = columns.firstIndex(of: name) else {
            let guess = Suggestion.closest(to: name, among: columns).map { "did you mean '\($0)'? " } ?? ""
            throw PipelineError(.badRequest, "\(path): no column '\(name)' (\(guess)columns: \(columns.joined(separator: ", ")))")
        }
        guard columns.count >= 2 else { throw PipelineError(.badRequest, "\(path): the label column is the only column") }
        let width = columns.count
        var features: [Double] = []
        var target: [Double] = []
        features.reserveCapacity(values.count - values.count / width)
        for (position, value) in values.enumerated() {
            if position % width == index { target.append(value) } else { features.append(value) }
        }
        var rest = columns
        rest.remove(at: index)
        return (CSVTable(columns: rest, values: features, path: path), target)
    }
}
