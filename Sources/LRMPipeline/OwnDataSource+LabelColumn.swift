extension OwnDataSource {
    /// The files `labelColumn` names a column of, as ``OwnDataReader`` reads them: for the data and for the test
    /// files, the labels file when it is a CSV, else (no labels file) the inputs when they are a CSV. Empty when no
    /// CSV holds labels (`.npy`/`.npz` data, or a CSV of inputs whose labels come from an `.npy`): a label column
    /// then cannot mean anything.
    public var labelColumnFiles: [String] {
        let pairs: [(inputs: String, labels: String?)] = [(inputs, labels)] + (testInputs.map { [($0, testLabels)] } ?? [])
        return pairs.compactMap { pair in
            if let labels = pair.labels { return OwnDataReader.isCSV(labels) ? labels : nil }
            return OwnDataReader.isCSV(pair.inputs) ? pair.inputs : nil
        }
    }
}
