import LRMCompress
import LRMPipeline

/// Errors about data name the files the user gave: the data file first when the data is at fault, the model
/// by its path (not its recorded name), as verify and report do.
extension DataOptions {
    /// ``selection`` with errors naming the model `path`, the file the user gave.
    func selection(naming path: String) -> DataSelection {
        var selection = selection
        selection.modelPath = path
        return selection
    }

    /// The one line for a conversion error on `model`: own calibration data at fault starts with its file
    /// (`x.npy: layer 'dense_1' of the model m.h5: the calibration data … is too large for float32`); any other
    /// error with the model's file.
    func failure(_ error: ConversionError, model: String) -> CommandFailure {
        if error.kind == .calibrationData, let inputs = dataSet.own.inputs {
            return CommandFailure(status: .invalidInput, message: "\(inputs): layer '\(error.layer)' of the model \(model): \(error.message)")
        }
        return CommandFailure(status: .invalidInput, message: "\(model): \(error.description)")
    }
}
