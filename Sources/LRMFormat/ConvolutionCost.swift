/// What a 2-D convolution costs per sample on the input it gets, kept whole or factorized in one of the two forms
/// (`spec/FORMAT.md` section 3.5): parameters and multiply-accumulates (MACs), and the rule built on them (a
/// factorization pays only when it stores fewer parameters **and** costs fewer multiply-accumulates). The one place
/// that counts a factorized convolution's MACs: `lrm inspect` and `report` (``ModelSummary``) and the converter's and
/// searches' rule all ask it.
///
/// The channel form (kh×kw with k filters, then 1×1) runs both halves at every output position, so its MACs shrink as
/// its parameters do. The spatial form's first half (kh×1, stride (sh, 1)) runs at every output row and every **input**
/// column: on a layer with a horizontal stride (or `valid` padding) it runs at more positions than the layer does,
/// and may cost more MACs than the whole convolution while storing fewer parameters.
///
/// Arithmetic saturates at `Int.max` instead of trapping (the figures are reports and comparisons, not sizes).
public struct ConvolutionCost: Sendable, Equatable {
    /// [kh, kw, cin, cout].
    public let kernelShape: [Int]
    /// The layer's input sample shape [h, w, c] and output sample shape [oh, ow, cout].
    public let input: [Int]
    public let output: [Int]

    /// Nil unless the kernel has four dimensions and the output three.
    public init?(kernelShape: [Int], input: [Int], output: [Int]) {
        guard kernelShape.count == 4, output.count == 3, kernelShape.allSatisfy({ $0 >= 0 }) else { return nil }
        self.kernelShape = kernelShape
        self.input = input
        self.output = output
    }

    /// The matrix `form` factorizes as a dense kernel: (kh·kw·cin) × cout (channel) or (cin·kh) × (kw·cout) (spatial).
    public func matrix(_ form: ConvFactorizationForm) -> FactorizationCost {
        let (kh, kw, cin, cout) = (kernelShape[0], kernelShape[1], kernelShape[2], kernelShape[3])
        return switch form {
        case .channel: FactorizationCost(inFeatures: Saturating.product(kh, kw, cin), outFeatures: cout)
        case .spatial: FactorizationCost(inFeatures: Saturating.product(cin, kh), outFeatures: Saturating.product(kw, cout))
        }
    }

    /// MACs per sample of the whole convolution: oh·ow·kh·kw·cin·cout.
    public var wholeMultiplyAccumulates: Int {
        Saturating.product(positions, Saturating.product(kernelShape[0], kernelShape[1], kernelShape[2], kernelShape[3]))
    }

    /// MACs per sample of the convolution factorized in `form` at rank `rank`.
    public func multiplyAccumulates(form: ConvFactorizationForm, rank: Int) -> Int {
        let (kh, kw, cin, cout) = (kernelShape[0], kernelShape[1], kernelShape[2], kernelShape[3])
        let k = max(0, rank)
        return switch form {
        case .channel: Self.factorizedMultiplyAccumulates(form: form, firstSize: Saturating.product(kh, kw, cin, k),
                                                          secondSize: Saturating.product(k, cout), input: input, output: output)
        case .spatial: Self.factorizedMultiplyAccumulates(form: form, firstSize: Saturating.product(kh, cin, k),
                                                          secondSize: Saturating.product(kw, k, cout), input: input, output: output)
        }
    }

    /// Whether `form` at rank `rank` costs fewer MACs per sample than the whole convolution.
    public func savesMultiplyAccumulates(form: ConvFactorizationForm, rank: Int) -> Bool {
        let whole = wholeMultiplyAccumulates
        return whole != Int.max && multiplyAccumulates(form: form, rank: rank) < whole
    }

    /// Whether `form` at rank `rank` pays: fewer parameters (k·(rows + columns) < rows·columns of its matrix) and fewer MACs.
    public func pays(form: ConvFactorizationForm, rank: Int) -> Bool {
        matrix(form).pays(rank: rank) && savesMultiplyAccumulates(form: form, rank: rank)
    }

    /// The largest rank at which `form` pays (both rules; 0 when none does). Both counts grow with the rank.
    public func largestPayingRank(_ form: ConvFactorizationForm) -> Int {
        var rank = matrix(form).breakEvenRank
        let whole = wholeMultiplyAccumulates, perRank = multiplyAccumulates(form: form, rank: 1)
        if whole != Int.max, perRank > 0 { rank = min(rank, (whole - 1) / perRank) } else if whole == Int.max { rank = 0 }
        return max(0, rank)
    }

    /// Output positions per sample, oh·ow.
    var positions: Int { Saturating.product(output[0], output[1]) }

    /// MACs per sample of a factorized convolution whose halves hold `firstSize` and `secondSize` weights, on an input of
    /// sample shape `input` giving `output`: the channel form runs both halves at every output position; the spatial
    /// form's first half (width 1, horizontal stride 1) runs at every output row and every input column, its second at
    /// every output position.
    public static func factorizedMultiplyAccumulates(form: ConvFactorizationForm, firstSize: Int, secondSize: Int,
                                                     input: [Int], output: [Int]) -> Int {
        let positions = output.dropLast().reduce(1) { Saturating.product($0, $1) }
        switch form {
        case .channel:
            return Saturating.product(positions, Saturating.sum(firstSize, secondSize))
        case .spatial:
            let middle = Saturating.product(output.first ?? 1, input.count == 3 ? input[1] : 1)
            return Saturating.sum(Saturating.product(middle, firstSize), Saturating.product(positions, secondSize))
        }
    }
}
