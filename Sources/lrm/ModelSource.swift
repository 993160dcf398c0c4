import ArgumentParser
import Foundation
import LRMFormat
import LRMKeras
import LRMRuntime
import LRMVerify

/// Where a model comes from: a `.lrm` file or any Keras file lrm reads (sniffed by content).
enum ModelSource {
    /// A `.lrm` file, or a Keras file of the container the parent sniffed (once: the reader child is told).
    enum Kind: Equatable {
        case container
        case keras(KerasContainer)
    }

    /// The first 8 bytes of `path` (fewer for a shorter file); nil when it cannot be opened or is not a
    /// regular file (a FIFO is opened without waiting for a writer, and not read).
    static func signature(of path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var bytes = [UInt8](repeating: 0, count: 8)
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 8) }
        return count >= 0 ? Array(bytes.prefix(count)) : nil
    }

    /// Whether `path` is to be read as a Keras file: an HDF5 file or a ZIP archive by content, or a file
    /// named `.h5`, `.hdf5` or `.keras` that is no `.lrm` either (the Keras reader then says what is wrong
    /// with it, rather than the `.lrm` reader).
    static func looksLikeKeras(_ path: String) -> Bool {
        switch try? kind(of: path) {
        case .keras?: return true
        case .container?: return false
        case nil: return hasKerasName(path)
        }
    }

    /// Whether the name of `path` ends in one of the extensions Keras files have.
    static func hasKerasName(_ path: String) -> Bool {
        let name = path.lowercased()
        return [".h5", ".hdf5", ".keras"].contains { name.hasSuffix($0) }
    }

    /// A `.lrm` file when it starts with the container's magic (or cannot be read: the container reader
    /// then says why); anything else is sniffed here, once, for the Keras importer: an HDF5 file or a
    /// `.keras` archive, or the importer's error naming what the file looks like (empty, a PNG, …).
    static func kind(of path: String) throws -> Kind {
        guard let prefix = signature(of: path) else {
            // A folder named like a Keras file: the Keras reader's message ("expected a .h5, … or .keras file").
            var isDirectory: ObjCBool = false
            if hasKerasName(path), FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                return .keras(try KerasImporter.sniff(path: path))
            }
            return .container
        }
        if prefix == Container.magic { return .container }
        // A .lrm cut short inside its magic: the container reader says how short. (Its first byte alone is
        // also the first of HDF5's: then the name decides.)
        if !prefix.isEmpty, prefix.count < Container.magic.count, Container.magic.starts(with: prefix),
           prefix.count > 1 || path.lowercased().hasSuffix(".lrm") {
            return .container
        }
        return .keras(try KerasImporter.sniff(path: path))
    }

    /// Refuses (exit 65) a Keras file given to a command that reads only `.lrm` files (diff, report), saying what it is
    /// and how to make a `.lrm` of it, rather than the container reader's "not a .lrm file" and a byte dump.
    static func refuseKeras(_ path: String, command: String, reads what: String) throws {
        guard case .keras(let container)? = try? kind(of: path) else { return }
        let kind = container == .zip ? "a Keras .keras archive" : "a Keras HDF5 (.h5) file"
        throw CommandFailure(status: .invalidInput, message: "\(path): is \(kind); lrm \(command) \(what): "
                             + "store it as one first with `lrm import \(path) -o MODEL.lrm`")
    }

    /// What to do with NaN or infinite weights.
    enum NonFinitePolicy {
        /// Load the model as it is (predict, verify, export: the numbers are the user's).
        case accept
        /// Refuse with exit 65, naming the layer; `hint` ends the message.
        case refuse(hint: String)

        /// The policy of the commands that factorize (convert, sweep).
        static let factorizing = NonFinitePolicy.refuse(hint: "singular value decomposition cannot factorize non-finite weights")
    }

    /// Loads `path` into memory. Keras files need `architecture` when they hold only weights; they are
    /// read in a child process (``KerasSubprocess``). Preprocessing options are applied and then checked
    /// against the model (exit 64 when they do not fit); non-finite weights are refused unless `nonFinite`
    /// is `.accept`.
    /// `openShape` is as ``map(_:architecture:architectureOption:preprocessing:nonFinite:match:openShape:)``'s: the input shape a
    /// Keras model whose config leaves it open is mapped for when `preprocessing` gives none (inspect's and export's
    /// `--input-shape`).
    static func load(_ path: String, architecture: String?, architectureOption: String = "--config", preprocessing: PreprocessingOptions?,
                     nonFinite: NonFinitePolicy = .factorizing, match: KerasWeightMatching? = nil, openShape: [Int]? = nil) throws -> Model {
        var model = try file(path, architecture: architecture, architectureOption: architectureOption, match: match, refusingNonFinite: nil,
                             inputShape: try preprocessing?.givenShape ?? openShape).file.loadModel()
        try prepare(&model, path: path, preprocessing: preprocessing, nonFinite: nonFinite)
        return model
    }

    /// `path` mapped, as a `.lrm` file (a Keras file is imported into one by the child process first),
    /// with the same preprocessing and non-finite checks as ``load(_:architecture:architectureOption:preprocessing:nonFinite:)``
    /// but without reading the model into memory: the non-finite check reads one layer at a time (a
    /// Keras file's is done by the child, on the model it holds in memory anyway, with the same message).
    /// A model that fails both checks is refused for its weights first when it comes from a Keras file.
    /// `openShape` is the input shape a Keras model whose config leaves it open is mapped for when `preprocessing` gives
    /// none (a reference is run on the compressed model's inputs); it overrides nothing.
    static func map(_ path: String, architecture: String?, architectureOption: String = "--config", preprocessing: PreprocessingOptions?,
                    nonFinite: NonFinitePolicy = .factorizing, match: KerasWeightMatching? = nil, openShape: [Int]? = nil) throws -> MappedModel {
        var hint: String?
        if case .refuse(let text) = nonFinite { hint = text }
        let (file, checked, imported) = try file(path, architecture: architecture, architectureOption: architectureOption,
                                                 match: match, refusingNonFinite: hint, inputShape: try preprocessing?.givenShape ?? openShape)
        var model = MappedModel(file)
        // The Keras reader child computed the checksums of its scratch file from the bytes it wrote a
        // moment ago, in a folder of this process's own: checking them again is a second pass for nothing.
        if imported { model.verifiesChecksums = false }
        try apply(preprocessing, to: &model, input: \.input, path: path, check: checkPreprocessing(_:path:))
        if let hint, !checked {
            try refuse(try model.nonFiniteWeights(), path: path, hint: hint)
        }
        return model
    }

    /// `model` (mapped from `path`) prepared to run in place (``InferenceModel/init(mapped:releaseThreshold:)``, which
    /// checks every checksum first); a model that cannot run (over lrm's limits, say) is invalid input, named by
    /// `path`, the file the user gave: a Keras file's mapped model lies in a scratch file, and a recorded name is no file.
    /// `checksumsVerified`: the caller has just checked them all (``MappedModel/verifyTensors()``).
    static func runner(_ model: MappedModel, path: String, checksumsVerified: Bool = false) throws -> InferenceModel {
        do { return try InferenceModel(mapped: model, checksumsVerified: checksumsVerified) } catch {
            throw CommandFailure.evaluating(path, failedWith: error)
        }
    }

    /// The mapped `.lrm` file `path` is, or that its Keras file is imported into.
    static func file(_ path: String, architecture: String?, architectureOption: String,
                     match: KerasWeightMatching? = nil) throws -> ContainerFile {
        try file(path, architecture: architecture, architectureOption: architectureOption, match: match, refusingNonFinite: nil).file
    }

    /// The mapped `.lrm` file `path` is, or that its Keras file is imported into; with a `hint`, the
    /// Keras reader refuses non-finite weights itself (`checked` is then true). `imported`: the file is the
    /// Keras reader's scratch file. `inputShape` (`--input-shape`) is what a Keras model whose config leaves its input
    /// shape open is mapped for.
    static func file(_ path: String, architecture: String?, architectureOption: String, match: KerasWeightMatching?,
                     refusingNonFinite hint: String?, inputShape: [Int]? = nil) throws -> (file: ContainerFile, checked: Bool, imported: Bool) {
        switch try kind(of: path) {
        case .container:
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandFailure(status: .missingInput, message: "\(path): no such file")
            }
            try ArchitectureOption.refuseForContainer(path: path, architecture: architecture, option: architectureOption)
            return (try ContainerFile(path: path), false, false)
        case .keras(let container):
            try ArchitectureOption.checkExists(architecture, option: architectureOption)
            return (try KerasSubprocess.open(path, container: container, architecture: architecture, architectureOption: architectureOption,
                                             match: match, refusingNonFinite: hint, inputShape: inputShape), hint != nil, true)
        }
    }

    /// Refuses (exit 64) preprocessing from the command line that does not fit `model`.
    static func checkPreprocessing(_ model: Model, path: String) throws {
        do {
            _ = try model.plan()
        } catch let error as ContainerError {
            throw CommandFailure(status: .usage, message: "\(path): the --input-* options do not fit the model: \(error.message)")
        }
    }

    /// Refuses (exit 64) preprocessing that does not fit a mapped model (its header is checked with it).
    static func checkPreprocessing(_ model: MappedModel, path: String) throws {
        do {
            try model.header.validate()
        } catch let error as ContainerError {
            throw CommandFailure(status: .usage, message: "\(path): the --input-* options do not fit the model: \(error.message)")
        }
    }

    /// Applies command-line preprocessing (when given) to `model`'s input description, a copy of the model with the new
    /// input checked by `check` before it is kept (``checkPreprocessing(_:path:)``): a loaded model and a mapped one alike.
    static func apply<M>(_ preprocessing: PreprocessingOptions?, to model: inout M, input: WritableKeyPath<M, InputSpec>, path: String,
                         check: (M, String) throws -> Void) throws {
        guard let preprocessing, !preprocessing.isEmpty else { return }
        let unchanged = model
        try apply(preprocessing, to: &model[keyPath: input], path: path) { spec in
            var changed = unchanged
            changed[keyPath: input] = spec
            try check(changed, path)
        }
    }

    /// Applies command-line preprocessing to a model's input description and checks the result with
    /// `check`. The model's own scaling (a Keras Rescaling layer, or the .lrm file's record) is replaced,
    /// not composed: once the check has passed, a warning says so.
    static func apply(_ preprocessing: PreprocessingOptions, to input: inout InputSpec, path: String,
                      check: (InputSpec) throws -> Void) throws {
        let own = input
        try preprocessing.apply(to: &input)
        try check(input)
        if preprocessing.inputScale != nil, !own.scale.isEmpty, own.scale != input.scale {
            printWarning("\(path): --input-scale \(preprocessing.inputScale ?? "") replaces the model's own input scale "
                         + "\(PreprocessingNotes.numbers(own.scale, identity: 1)) (its Rescaling layer or recorded preprocessing); it is not applied on top")
        }
        if preprocessing.inputOffset != nil, !own.offset.isEmpty, own.offset != input.offset {
            printWarning("\(path): --input-offset \(preprocessing.inputOffset ?? "") replaces the model's own input offset "
                         + "\(PreprocessingNotes.numbers(own.offset, identity: 0)); it is not applied on top")
        }
    }

    /// Applies command-line preprocessing to a loaded model and checks it, and refuses non-finite
    /// weights unless `nonFinite` is `.accept` (what every command does after loading; the Keras child
    /// does it for `import`).
    static func prepare(_ model: inout Model, path: String, preprocessing: PreprocessingOptions?, nonFinite: NonFinitePolicy) throws {
        try apply(preprocessing, to: &model, input: \.input, path: path, check: checkPreprocessing(_:path:))
        if case .refuse(let hint) = nonFinite { try refuse(model.nonFiniteWeights, path: path, hint: hint) }
    }

    static func refuse(_ found: [NonFiniteWeights], path: String, hint: String) throws {
        guard let first = found.first else { return }
        let others = found.count - 1
        throw CommandFailure(status: .invalidInput, message: "\(path): \(first)"
                             + (others > 0 ? " (and \(others) more tensor\(others == 1 ? "" : "s"))" : "") + "; \(hint)")
    }
}

/// Input preprocessing given on the command line: recorded in the output, used by verify.
struct PreprocessingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Input scale: a number or fraction (1/255), or comma-separated per channel.", valueName: "scale"))
    var inputScale: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Input offset, added after scaling: a number, or comma-separated per channel (a negative one may follow the option: --input-offset -0.5).", valueName: "offset"))
    var inputOffset: String?

    @Option(help: ArgumentHelp("Meaning of the input axes.", valueName: "layout"))
    var inputLayout: InputLayoutName?

    @OptionGroup var shape: InputShapeOption

    /// `--input-shape` as given (``InputShapeOption``).
    var inputShape: String? {
        get { shape.inputShape }
        set { shape.inputShape = newValue }
    }

    func validate() throws {
        for (flag, value) in [("--input-scale", inputScale), ("--input-offset", inputOffset)] {
            if let value { _ = try Self.parseNumbers(value, flag: flag) }
        }
        // x · 0 + offset: every input (of that channel) would be the same, whatever the data; so with a scale float32, in
        // which inputs are scaled, rounds to 0 (1e-50 was taken, and every input became the offset).
        if let inputScale, let zero = try Self.parseNumbers(inputScale, flag: "--input-scale").first(where: { Float($0) == 0 }) {
            throw ValidationError("--input-scale '\(inputScale)': a scale of 0\(zero == 0 ? "" : " (\(zero) is 0 in float32, in which inputs are scaled)") "
                                  + "makes every input the same (x · 0 + offset), whatever the data; "
                                  + "give the factor the raw values are multiplied by (1/255 for 8-bit pixels, say)")
        }
        try shape.validate()
    }

    static func parseNumbers(_ text: String, flag: String) throws -> [Double] {
        try text.split(separator: ",").map { part -> Double in
            let piece = part.trimmingCharacters(in: .whitespaces)
            let value: Double
            if let slash = piece.firstIndex(of: "/") {
                guard let a = Double(piece[..<slash]), let b = Double(piece[piece.index(after: slash)...]), b != 0 else {
                    throw ValidationError("\(flag): '\(piece)' is not a number or fraction")
                }
                value = a / b
            } else {
                guard let parsed = Double(piece), parsed.isFinite else { throw ValidationError("\(flag): '\(piece)' is not a number") }
                value = parsed
            }
            // Inputs are scaled in float32: past its range the value is infinite there, and every input NaN or infinite
            // (a search under --input-scale 1e308 was refused later, at calibration, with "XᵀX reaches nan").
            guard abs(value) <= Double(Float.greatestFiniteMagnitude) else {
                throw ValidationError("\(flag): '\(piece)' is past the range of float32 (±3.4e38), in which lrm scales and offsets the inputs")
            }
            return value
        }
    }

    static func parseShape(_ text: String) throws -> [Int] { try InputShapeOption.parse(text) }

    var isEmpty: Bool { inputScale == nil && inputOffset == nil && inputLayout == nil && inputShape == nil }

    /// `--input-shape` parsed, when given.
    var givenShape: [Int]? {
        get throws { try shape.givenShape }
    }

    /// Overrides the model's recorded preprocessing with what was given.
    func apply(to model: inout Model) throws {
        try apply(to: &model.input)
    }

    /// Overrides a recorded input description with what was given.
    func apply(to input: inout InputSpec) throws {
        if let inputShape { input.shape = try Self.parseShape(inputShape) }
        if let inputLayout { input.layout = inputLayout.layout }
        if let inputScale { input.scale = try Self.parseNumbers(inputScale, flag: "--input-scale") }
        if let inputOffset { input.offset = try Self.parseNumbers(inputOffset, flag: "--input-offset") }
    }

    /// These options as command-line arguments (for the Keras child of `import`).
    var arguments: [String] {
        var result: [String] = []
        // Each value joined to its option: a negative offset is never taken for an option.
        if let inputScale { result.append("--input-scale=\(inputScale)") }
        if let inputOffset { result.append("--input-offset=\(inputOffset)") }
        if let inputLayout { result.append("--input-layout=\(inputLayout.rawValue)") }
        if let inputShape { result.append("--input-shape=\(inputShape)") }
        return result
    }
}

/// `--input-shape`: the shape of one sample, for a Keras model whose config leaves its input shape open
/// (`Input((None, 3))`) or says none. Part of ``PreprocessingOptions`` (convert, predict, verify, sweep, import) and on its
/// own where nothing else of them is read (inspect, export). Its value must agree with every dimension the config gives
/// and stay within lrm's limits: the Keras reader checks both (`KerasImportError` kind `givenShapeMismatch`, exit 64).
struct InputShapeOption: ParsableArguments {
    @Option(help: ArgumentHelp("Shape of one input sample, e.g. 32,32,3 (when the model file does not say).", valueName: "shape"))
    var inputShape: String?

    func validate() throws {
        if let inputShape { _ = try Self.parse(inputShape) }
    }

    static func parse(_ text: String) throws -> [Int] {
        // Empty parts kept: "15,3," or "15,,3" is a typo, refused, not read as 15,3.
        let dims = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--input-shape must be positive whole numbers separated by commas, found '\(text)'")
        }
        return dims.compactMap { $0 }
    }

    /// `--input-shape` parsed, when given.
    var givenShape: [Int]? {
        get throws { try inputShape.map(Self.parse) }
    }

    /// The Keras model `path` loaded (nothing else applied) for inspect and export: mapped for the shape given when its
    /// config leaves its input shape open, and that shape otherwise held to the model as convert holds it (it replaces the
    /// recorded one and must fit every layer: exit 64 when it does not, ``ModelSource/checkPreprocessing(_:path:)``).
    func load(_ path: String, architecture: String?, match: KerasWeightMatching?) throws -> Model {
        let given = try givenShape
        var model = try ModelSource.load(path, architecture: architecture, preprocessing: nil, nonFinite: .accept, match: match, openShape: given)
        if let given, given != model.input.shape {
            model.input.shape = given
            try ModelSource.checkPreprocessing(model, path: path)
        }
        return model
    }

    /// Refuses (exit 64) `--input-shape` for `path` when it is no Keras file: a `.lrm` file records its input shape, so
    /// there is nothing open to give (inspect and export read it as it is).
    func refuseUnlessKeras(_ path: String) throws {
        guard let inputShape, !ModelSource.looksLikeKeras(path) else { return }
        throw ValidationError("--input-shape \(inputShape) gives a Keras model whose config leaves its input shape open the shape to map it for; "
                              + "\(path) is not a Keras file (a .lrm file records its input shape)")
    }
}

/// `--match`: how a weights-only legacy HDF5 file's layers are paired with the architecture's.
struct WeightMatchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Weights-only legacy .h5 files (tf-keras save_weights), with the architecture option (--config, or --reference-config for a reference): pair the file's layers with the architecture's by name, by order (as Keras's load_weights does), or auto (by name when every name is found, else by order). (default: auto)", valueName: "how"))
    var match: KerasWeightMatching?

    /// Refuses (exit 64) `--match` without an architecture option: only a weights-only file, which needs one, is paired
    /// with an architecture; a `.lrm` file or a full Keras model would never read it.
    func check(architectureOptions options: [(name: String, value: String?)]) throws {
        guard let match, !options.contains(where: { $0.value != nil }) else { return }
        let names = options.map(\.name).joined(separator: " or ")
        throw ValidationError("--match \(match.rawValue) pairs a legacy weights-only .h5 file's layers with the architecture given by \(names); "
                              + "without it there is nothing to pair (a .lrm file or a full Keras model carries its own architecture): leave --match out")
    }
}

extension LayerFidelity {
    /// The per-layer comparison (empty without a reference) of two mapped models whose checksums were all checked a
    /// moment ago (``ModelSource/runner(_:path:checksumsVerified:)``, `MappedModel.verifyTensors`): they are not checked again.
    static func compareChecked(candidate: MappedModel, reference: MappedModel?) throws -> [LayerFidelity] {
        guard var reference else { return [] }
        var candidate = candidate
        candidate.verifiesChecksums = false
        reference.verifiesChecksums = false
        return try compare(candidate: candidate, reference: reference)
    }
}
