/// The order of the values of one flattened sample. The raw values match `InputLayout.name`
/// in LRMFormat, so a model's declared input layout maps to one of these by name.
///
/// For a colour image of C channels, H rows and W columns, the value of pixel (row r,
/// column c, channel ch) sits at flat index
/// - `.chw`: `ch * H * W + r * W + c` (channel planes: how CIFAR files store images),
/// - `.hwc`: `(r * W + c) * C + ch` (interleaved: what Keras `(32, 32, 3)` inputs see).
/// `.features` means "as stored in the file"; for single-channel images all three orders agree.
public enum SampleLayout: String, Sendable, CaseIterable, Hashable {
    /// As stored in the file (row-major single-channel images for MNIST; CHW for CIFAR).
    case features = "features"
    /// Rows, columns, channels: channels interleaved per pixel (Keras, TensorFlow).
    case hwc = "hwc"
    /// Channels, rows, columns: one plane per channel (CIFAR files, PyTorch).
    case chw = "chw"

    /// The shape of one sample in this layout, given the stored CHW shape `[C, H, W]` of a
    /// colour image. Single-channel and non-image shapes are returned unchanged; `.features`
    /// keeps the stored shape.
    public func shape(fromCHW stored: [Int]) -> [Int] {
        guard stored.count == 3, self == .hwc else { return stored }
        return [stored[1], stored[2], stored[0]]
    }

    /// The flat index permutation that turns a stored CHW sample of shape `[channels, height,
    /// width]` into this layout: `output[k] = input[permutation[k]]`. `nil` when the layout
    /// needs no reordering (`.chw`, `.features`, or a single channel).
    static func permutation(fromCHW channels: Int, height: Int, width: Int, to layout: SampleLayout) -> [Int]? {
        guard layout == .hwc, channels > 1 else { return nil }
        var permutation = [Int](repeating: 0, count: channels * height * width)
        let plane = height * width
        for row in 0..<height {
            for column in 0..<width {
                for channel in 0..<channels {
                    permutation[(row * width + column) * channels + channel] = channel * plane + row * width + column
                }
            }
        }
        return permutation
    }
}
