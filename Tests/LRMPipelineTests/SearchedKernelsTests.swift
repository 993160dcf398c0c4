import Foundation
import LRMCompress
import LRMFormat
import LRMPipeline
import Testing

/// `ConversionPipeline.searchedKernels`: the one list of the kernel matrices a search decomposes, which the search's
/// spectra and `lrm convert`'s warnings both follow.
@Suite("The kernel matrices a search decomposes")
struct SearchedKernelsTests {
    /// 7×7×3 inputs, two 3×3 convolutions (12 then 8 channels), flatten, two hidden dense layers and an output layer.
    func model() -> Model {
        var rng = SeededGenerator(seed: 5)
        func tensor(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextSymmetricFloat() }) }
        let same = ConvGeometry(strideH: 1, strideW: 1, padding: .same)
        return Model(name: "cnn", input: InputSpec(shape: [7, 7, 3], layout: .hwc), layers: [
            Layer(name: "conv_a", operation: .conv2D(kernel: tensor([3, 3, 3, 12]), bias: tensor([12]), activation: .relu, geometry: same)),
            Layer(name: "conv_b", operation: .conv2D(kernel: tensor([3, 3, 12, 8]), bias: tensor([8]), activation: .relu, geometry: same)),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "hidden_1", operation: .dense(kernel: tensor([392, 40]), bias: tensor([40]), activation: .relu)),
            Layer(name: "hidden_2", operation: .dense(kernel: tensor([40, 24]), bias: tensor([24]), activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: tensor([24, 5]), bias: nil, activation: .softmax)),
        ])
    }

    func options(_ convolutions: ConversionOptions.ConvolutionForm = .auto, excluding: [String] = []) -> ConversionOptions {
        var options = ConversionOptions(overrides: excluding.map { .init(pattern: NamePattern($0), policy: nil) })
        options.convolutions = convolutions
        return options
    }

    /// Each entry as `name role rows×columns`, for comparing whole lists.
    func described(_ kernels: [SearchedKernel]) -> [String] {
        kernels.map { kernel in
            let role = switch kernel.role {
            case .hidden: "hidden"
            case .output: "output"
            case .convolution(let form): form.name
            }
            return "\(kernel.name) \(role) \(kernel.rows)×\(kernel.columns)"
        }
    }

    @Test("a budget search decomposes the dense layers and every convolution in each form --conv lets it try; the others the dense layers alone")
    func byTarget() {
        let model = model()
        let dense = ["hidden_1 hidden 392×40", "hidden_2 hidden 40×24", "out output 24×5"]
        for target in [ConversionTarget.accuracyDrop(1), .metricDrop(1)] {
            #expect(described(ConversionPipeline.searchedKernels(model, target: target, options: options())) ==
                    ["conv_a channel 27×12", "conv_a spatial 9×36", "conv_b channel 108×8", "conv_b spatial 36×24"] + dense)
            #expect(described(ConversionPipeline.searchedKernels(model, target: target, options: options(.spatial))) ==
                    ["conv_a spatial 9×36", "conv_b spatial 36×24"] + dense)
            #expect(described(ConversionPipeline.searchedKernels(model, target: target, options: options(.channel))) ==
                    ["conv_a channel 27×12", "conv_b channel 108×8"] + dense)
            #expect(described(ConversionPipeline.searchedKernels(model, target: target, options: options(.none))) == dense)
        }
        for target in [ConversionTarget.ratio(0.5), .size(10_000), .minimizeBytes(1)] {
            #expect(described(ConversionPipeline.searchedKernels(model, target: target, options: options())) == dense, "\(target)")
        }
        #expect(ConversionPipeline.searchedKernels(model, target: .policy, options: options()).isEmpty)
        // Only the output layer's spectrum chooses no rank.
        #expect(ConversionPipeline.searchedKernels(model, target: .accuracyDrop(1), options: options()).filter { !$0.choosesRank }.map(\.name) == ["out"])
    }

    @Test("excluded layers are left out; the last dense layer stays the output layer whatever is excluded")
    func exclusions() {
        let model = model()
        let kernels = ConversionPipeline.searchedKernels(model, target: .accuracyDrop(1), options: options(excluding: ["hidden_1", "conv_b"]))
        #expect(described(kernels) == ["conv_a channel 27×12", "conv_a spatial 9×36", "hidden_2 hidden 40×24", "out output 24×5"])
        let onlyOutput = ConversionPipeline.searchedKernels(model, target: .ratio(0.5), options: options(excluding: ["hidden_*"]))
        #expect(described(onlyOutput) == ["out output 24×5"] && !onlyOutput.contains(where: \.choosesRank))
        #expect(ConversionPipeline.searchedKernels(model, target: .accuracyDrop(1), options: options(excluding: ["*"])).isEmpty)
    }

    @Test("the same list from a mapped file's header as from the model in memory")
    func mapped() throws {
        let model = model()
        let path = NSTemporaryDirectory() + "lrm-searched-\(UUID().uuidString).lrm"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ContainerWriter.write(model, to: path)
        let mapped = MappedModel(try ContainerFile(path: path))
        for target in [ConversionTarget.accuracyDrop(1), .ratio(0.5), .size(10_000)] {
            for excluded in [[], ["hidden_2"]] {
                #expect(ConversionPipeline.searchedKernels(mapped, target: target, options: options(excluding: excluded))
                        == ConversionPipeline.searchedKernels(model, target: target, options: options(excluding: excluded)))
            }
        }
    }

    @Test("the search's spectra are those of the listed matrices: every dense one, and each convolution in a form it lists")
    func spectraFollowTheList() throws {
        let model = model()
        for form in [ConversionOptions.ConvolutionForm.auto, .channel, .spatial, .none] {
            let options = options(form, excluding: ["hidden_1"])
            let kernels = ConversionPipeline.searchedKernels(model, target: .accuracyDrop(1), options: options)
            let dense = try ConversionPipeline.searchSpectra(model, options: options)
            #expect(Set(dense.keys) == Set(kernels.filter { $0.role == .hidden || $0.role == .output }.map(\.name)), "\(form)")
            for (name, spectrum) in dense {
                #expect(kernels.contains { $0.name == name && $0.rows == spectrum.inFeatures && $0.columns == spectrum.outFeatures })
            }
            let convolutions = try ConversionPipeline.searchConvolutionSpectra(model, options: options)
            #expect(Set(convolutions.spectra.keys) == Set(kernels.filter { if case .convolution = $0.role { true } else { false } }.map(\.name)),
                    "\(form)")
            for (name, chosen) in convolutions.forms {
                let spectrum = try #require(convolutions.spectra[name])
                #expect(kernels.contains { $0.name == name && $0.role == .convolution(chosen)
                        && $0.rows == spectrum.inFeatures && $0.columns == spectrum.outFeatures }, "\(form) \(name)")
            }
        }
    }
}
