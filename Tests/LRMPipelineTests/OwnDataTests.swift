import Foundation
import LRMDatasets
import LRMFormat
import LRMNumPy
import LRMVerify
import Testing
@testable import LRMPipeline

@Suite("Own data: files, splits and tasks")
struct OwnDataTests {
    /// A folder removed when the test ends.
    final class Folder {
        let path = NSTemporaryDirectory() + "lrm-own-\(UUID().uuidString)"
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func write(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            return file
        }
        func npy(_ name: String, shape: [Int], _ values: [Float]) throws -> String {
            let file = path + "/" + name
            try NPY.write(try NumPyArray(shape: shape, float32: values), to: file)
            return file
        }
    }

    /// 3 inputs → 4 relu → 1 with `activation` (seeded weights).
    func model(activation: Activation) -> Model {
        var rng = SeededGenerator(seed: 3)
        let k1 = (0..<12).map { _ in rng.nextSymmetricFloat() }
        let k2 = (0..<4).map { _ in rng.nextSymmetricFloat() }
        return Model(name: "tab", input: InputSpec(shape: [3]), layers: [
            Layer(name: "h", operation: .dense(kernel: Tensor(shape: [3, 4], floats: k1), bias: nil, activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [4, 1], floats: k2), bias: nil, activation: activation)),
        ])
    }

    @Test("a CSV with a header: the named column is the label, the others the features, in file order")
    func csvWithLabelColumn() throws {
        let folder = try Folder()
        let csv = try folder.write("t.csv", "a,label,b\n1,0,2\n3,1,4.5\r\n-1,1,1e2\n\n")
        let arrays = try OwnDataReader.read(inputs: csv, labels: nil, labelColumn: "label")
        #expect(arrays.sampleShape == [2])
        #expect(arrays.features == [1, 2, 3, 4.5, -1, 100])
        #expect(arrays.labels == [0, 1, 1])
        #expect(arrays.source.contains("label column 'label'"))
    }

    @Test("CSV cells quoted as RFC 4180 has it (what pandas writes for a name holding a comma): separators and doubled quotes inside, quoted numbers")
    func csvQuotedCells() throws {
        let folder = try Folder()
        let csv = try folder.write("q.csv", "\"age, years\",\"say \"\"hi\"\"\" , churned\n1,\"2.5\",0\n \"3\" ,4,1\n")
        let arrays = try OwnDataReader.read(inputs: csv, labels: nil, labelColumn: "churned")
        #expect(arrays.features == [1, 2.5, 3, 4])
        #expect(arrays.labels == [0, 1])
        let table = try CSVTable(path: csv)
        #expect(table.columns == ["age, years", "say \"hi\"", "churned"])
        let open = try folder.write("open.csv", "a,\"b\n1,2\n")
        #expect { try CSVTable(path: open) } throws: {
            ($0 as? PipelineError)?.message.contains("open.csv: line 1: a quoted cell is not closed") == true
        }
        let trailing = try folder.write("trailing.csv", "a,\"b\"c\n1,2\n")
        #expect { try CSVTable(path: trailing) } throws: {
            ($0 as? PipelineError)?.message.contains("trailing.csv: line 1: text after the closing quote of cell 2") == true
        }
    }

    @Test("CSV mistakes name the file, the line and the column; a missing column lists the columns")
    func csvMistakes() throws {
        let folder = try Folder()
        let bad = try folder.write("bad.csv", "a,y\n1,0\n2,x\n")
        #expect { try OwnDataReader.read(inputs: bad, labels: nil, labelColumn: "y") } throws: {
            let e = $0 as? PipelineError
            return e?.kind == .dataInvalid && e!.message.contains("bad.csv: line 3, column 'y': 'x' is not a number")
        }
        let ragged = try folder.write("ragged.csv", "a,y\n1,0,5\n")
        #expect { try OwnDataReader.read(inputs: ragged, labels: nil, labelColumn: "y") } throws: {
            ($0 as? PipelineError)?.message.contains("line 2: 3 cells, the header has 2") == true
        }
        let good = try folder.write("good.csv", "a,y\n1,0\n")
        #expect { try OwnDataReader.read(inputs: good, labels: nil, labelColumn: "label") } throws: {
            let e = $0 as? PipelineError
            return e?.kind == .badRequest && e!.message.contains("no column 'label' (columns: a, y)")
        }
        #expect { try OwnDataReader.read(inputs: good, labels: nil, labelColumn: nil) } throws: {
            ($0 as? PipelineError)?.message.contains("--label-column") == true
        }
        let headless = try folder.write("headless.csv", "1,0\n2,1\n")
        #expect { try OwnDataReader.read(inputs: headless, labels: nil, labelColumn: "y") } throws: {
            ($0 as? PipelineError)?.message.contains("header row") == true
        }
        #expect { try OwnDataReader.read(inputs: folder.path + "/none.csv", labels: nil, labelColumn: "y") } throws: {
            ($0 as? PipelineError)?.kind == .dataMissing
        }
    }

    @Test("the training and test records of one file share the array read from it (no copy), and each split reads its own records")
    func splitsShareTheRecords() throws {
        let folder = try Folder()
        // 10 records of 3 values, record r = (r, r + 0.25, r + 0.5); labels alternate 0 and 1.
        let values = (0..<30).map { Float($0 / 3) + Float($0 % 3) / 4 }
        let x = try folder.npy("x.npy", shape: [10, 3], values)
        let y = try folder.npy("y.npy", shape: [10], (0..<10).map { Float($0 % 2) })
        let all = try OwnDataReader.read(inputs: x, labels: y, labelColumn: nil)
        func start(_ arrays: OwnArrays) -> UnsafePointer<Float>? { arrays.features.withUnsafeBufferPointer { $0.baseAddress } }
        let train = all.slice(0..<8, note: "train"), test = all.slice(8..<10, note: "test")
        #expect(start(train) == start(all) && start(test) == start(all).map { $0 + 24 })
        #expect(Array(test.features) == Array(values[24...]) && test.labels == [0, 1])
        // Data sets made from them (as a model's splits are) read the right records, in batches of any size.
        let splits = try OwnDataSource(inputs: x, labels: y, testFraction: 0.2).splits(for: model(activation: .sigmoid))
        for size in [1, 3] {
            var pixels: [Float] = [], labels: [Int] = []
            try splits.test.forEachBatch(size: size, layout: .features) { pixels += $0.pixels; labels += $0.labels }
            #expect(pixels == Array(values[24...]) && labels == [0, 1])
            pixels = []
            try splits.train.subset(.indices([1, 7])).forEachBatch(size: size, layout: .features) { pixels += $0.pixels }
            #expect(pixels == Array(values[3..<6] + values[21..<24]))
        }
    }

    @Test("the splits share the labels read as well: slices of the file's array, for the task and the data sets alike; regression data sets hold no label per record")
    func splitsShareTheLabels() throws {
        let folder = try Folder()
        let x = try folder.npy("x.npy", shape: [10, 1], (0..<10).map { Float($0) })
        let y = try folder.npy("y.npy", shape: [10, 2], (0..<20).map { Float($0) * 0.5 + 0.25 })
        let all = try OwnDataReader.read(inputs: x, labels: y, labelColumn: nil)
        // float32 labels are held as the floats read (4 bytes a record), not as doubles.
        func start(_ arrays: OwnArrays) -> UnsafePointer<Float>? {
            guard case .float(let values) = arrays.labels.storage else { return nil }
            return values.withUnsafeBufferPointer { $0.baseAddress }
        }
        #expect(start(all) != nil)
        let train = all.slice(0..<8, note: "train"), test = all.slice(8..<10, note: "test")
        #expect(start(train) == start(all) && start(test) == start(all).map { $0 + 16 })
        #expect(test.labels == [8.25, 8.75, 9.25, 9.75] && test.sampleCount == 2 && train.sampleCount == 8)
        // A slice of a slice is counted from its own start.
        let last = test.slice(1..<2, note: "last")
        #expect(last.labels == [9.25, 9.75] && start(last) == start(all).map { $0 + 18 } && Array(last.features) == [9])
        // As a regression's targets they are those floats.
        #expect(test.labels.floats.withUnsafeBufferPointer { $0.baseAddress } == start(test) && Array(test.labels.floats) == [8.25, 8.75, 9.25, 9.75])
        // Labels of a type a Float does not hold exactly are doubles; each reads as it was stored.
        try NPY.write(try NumPyArray(shape: [10], storage: .int64((0..<10).map { Int64($0) + (1 << 40) })), to: folder.path + "/i.npy")
        let wide = try OwnDataReader.read(inputs: x, labels: folder.path + "/i.npy", labelColumn: nil).labels
        guard case .double = wide.storage else { Issue.record("int64 labels held as \(wide.storage)"); return }
        #expect(wide[9] == Double(9 + (1 << 40)) && wide.slice(9..<10) == [Double(9 + (1 << 40))])
        // Two targets per record, a regression: the data sets' targets are the labels, each record's label -1.
        let model = Model(name: "two", input: InputSpec(shape: [1]), layers: [
            Layer(name: "d", operation: .dense(kernel: Tensor(shape: [1, 2], floats: [1, 1]), bias: nil, activation: .linear))])
        let splits = try OwnDataSource(inputs: x, labels: y, testFraction: 0.2, task: .regression).splits(for: model)
        #expect(splits.task == .regression && splits.train.targetWidth == 2 && splits.test.sampleCount == 2 && splits.train.sampleCount == 8)
        #expect(try splits.test.labels() == [-1, -1])
        var targets: [Float] = [], labels: [Int] = []
        try splits.test.forEachBatch(size: 1, layout: .features) { targets += $0.targets; labels += $0.labels }
        #expect(targets == [8.25, 8.75, 9.25, 9.75] && labels == [-1, -1])
        targets = []
        try splits.train.subset(.indices([0, 3])).forEachBatch(size: 2, layout: .features) { targets += $0.targets }
        #expect(targets == [0.25, 0.75, 3.25, 3.75])
        // Counts that do not fit together are refused, as with labels.
        #expect(throws: DatasetError.self) {
            try Dataset(arrays: [1, 2, 3][...], sampleShape: [1], targets: [1, 2, 3, 4, 5], targetWidth: 2, split: .test, description: "d")
        }
        #expect(throws: DatasetError.self) {
            try Dataset(arrays: [1, 2, 3][...], sampleShape: [1], targets: [1, 2, 3, 4], targetWidth: 2, split: .test, description: "d")
        }
        #expect(try Dataset(arrays: [1, 2][...], sampleShape: [1], targets: [1, 2, 3, 4], targetWidth: 2, split: .test, description: "d").sampleCount == 2)
    }

    @Test(".npy inputs with .npy labels, and an .npz with x and y; counts and finiteness are checked")
    func numpyFiles() throws {
        let folder = try Folder()
        let x = try folder.npy("x.npy", shape: [2, 3], [1, 2, 3, 4, 5, 6])
        let y = try folder.npy("y.npy", shape: [2], [0.5, 1.5])
        let arrays = try OwnDataReader.read(inputs: x, labels: y, labelColumn: nil)
        #expect(arrays.sampleShape == [3] && arrays.sampleCount == 2 && arrays.labels == [0.5, 1.5])
        let npz = folder.path + "/d.npz"
        try NPZ.write(["x": try NumPyArray(shape: [2, 3], float32: [1, 2, 3, 4, 5, 6]), "y": try NumPyArray(shape: [2], float32: [1, 0])], to: npz)
        #expect(try OwnDataReader.read(inputs: npz, labels: nil, labelColumn: nil).labels == [1, 0])
        let three = try folder.npy("y3.npy", shape: [3], [0, 1, 0])
        #expect { try OwnDataReader.read(inputs: x, labels: three, labelColumn: nil) } throws: {
            ($0 as? PipelineError)?.message.contains("3 labels for 2 samples") == true
        }
        let nan = try folder.npy("nan.npy", shape: [2, 3], [1, 2, .nan, 4, 5, 6])
        #expect { try OwnDataReader.read(inputs: nan, labels: y, labelColumn: nil) } throws: {
            ($0 as? PipelineError)?.message.contains("sample 0 holds a non-finite value") == true
        }
        #expect { try OwnDataReader.read(inputs: x, labels: nil, labelColumn: nil) } throws: {
            ($0 as? PipelineError)?.message.contains("--labels") == true
        }
    }

    @Test(".npz own data, stored and deflated: only the features and labels are read (each converted as it is extracted), a damaged array beside them is not")
    func npzReadsOnlyItsArrays() throws {
        let folder = try Folder()
        let x = try NumPyArray(shape: [3, 2], storage: .float64([1.5, -2, 3, 4, 5, 6.25]))
        let y = try NumPyArray(shape: [3], storage: .int64([2, 0, 1]))
        let notes = try NumPyArray(shape: [4], storage: .uint8([9, 9, 9, 9]))
        for compressed in [false, true] {
            let path = folder.path + "/d\(compressed).npz"
            try NPZ.write(["x": x, "y": y, "notes": notes], to: path, compressed: compressed)
            let intact = try OwnDataReader.read(inputs: path, labels: nil, labelColumn: nil)
            #expect(Array(intact.features) == [1.5, -2, 3, 4, 5, 6.25] && intact.labels == [2, 0, 1] && intact.sampleShape == [2])
            // The last byte of 'notes' (written first, in key order) made a boolean's 7: its CRC-32 no longer matches.
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            if !compressed {
                let encoded = [UInt8](NPY.encode(notes))
                let at = try #require((0...(bytes.count - encoded.count)).first { Array(bytes[$0..<($0 + encoded.count)]) == encoded })
                bytes[at + encoded.count - 1] = 7
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                #expect(throws: NumPyError.self) { try NPZ.read(path: path) }
                let read = try OwnDataReader.read(inputs: path, labels: nil, labelColumn: nil)
                #expect(Array(read.features) == Array(intact.features) && read.labels == intact.labels)
            }
            // The npz as --labels: its features array are the labels (the inputs an .npy: an .npz that holds its own
            // labels is refused beside --labels).
            let inputs = try folder.npy("x3.npy", shape: [3, 2], [1, 2, 3, 4, 5, 6])
            let labels = try OwnDataReader.read(inputs: inputs, labels: folder.path + "/d\(compressed).npz", labelColumn: nil)
            #expect(labels.labels == [1.5, -2, 3, 4, 5, 6.25] && labels.labelWidth == 2)
        }
    }

    @Test("the last test fraction is the test split; training keeps file order; the task follows the model")
    func splitsAndTask() throws {
        let folder = try Folder()
        let rows = (0..<10).map { i in "\(i),\(i * 2),\(i * 3),\(i % 2)" }.joined(separator: "\n")
        let csv = try folder.write("d.csv", "a,b,c,y\n" + rows + "\n")
        let source = OwnDataSource(inputs: csv, labelColumn: "y", testFraction: 0.2)
        let splits = try source.splits(for: model(activation: .sigmoid))
        #expect(splits.task == .binary)
        #expect(splits.train.sampleCount == 8 && splits.test.sampleCount == 2)
        #expect(try splits.train.labels() == [0, 1, 0, 1, 0, 1, 0, 1])
        var firstTest: [Float] = []
        try splits.test.forEachBatch(size: 10, layout: .hwc) { firstTest += $0.pixels }
        #expect(firstTest == [8, 16, 24, 9, 18, 27])   // records 8 and 9, unscaled, no layout change
        // With sizes the user did not choose: a fifth of the training records validate, the rest calibrate.
        var selection = DataSelection(calibrationSamples: 5000, validationSamples: 5000)
        selection.ownData = source
        selection.fitsSizesToOwnData = true
        let subsets = try selection.resolved(for: model(activation: .sigmoid)).trainingSubsets()
        #expect(subsets.validation.sampleCount == 2 && subsets.calibration.sampleCount == 6)
        #expect(try subsets.validation.labels() == [0, 1])   // records 6 and 7: the end of the training split
        // Labels other than 0/1 on a linear one-output model: regression, targets kept as numbers.
        let reg = try folder.write("r.csv", "a,b,c,t\n" + (0..<5).map { "\($0),1,2,\(Double($0) + 0.5)" }.joined(separator: "\n") + "\n")
        let regression = try OwnDataSource(inputs: reg, labelColumn: "t").splits(for: model(activation: .linear))
        #expect(regression.task == .regression && regression.train.targetWidth == 1)
        var targets: [Float] = []
        try regression.train.forEachBatch(size: 3, layout: .features) { targets += $0.targets }
        #expect(targets == [0.5, 1.5, 2.5, 3.5])
        // 0/1 labels on a linear one-output model: ambiguous, a bad request asking for --task.
        #expect { try source.splits(for: model(activation: .linear)) } throws: {
            let e = $0 as? PipelineError
            return e?.kind == .badRequest && e!.message.contains("--task")
        }
        // Samples of another width than the model takes.
        let wide = try folder.write("w.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,1,0\n")
        #expect { try OwnDataSource(inputs: wide, labelColumn: "y").splits(for: model(activation: .sigmoid)) } throws: {
            ($0 as? PipelineError)?.message.contains("samples have 2 values") == true
        }
    }
}
