import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// `lrm diff` on format 1.5's layers whose records differ where no tensor does.
@Suite("diff tells upsamplings and transposed convolutions apart by what they do")
struct DiffGeometryCLITests {
    @Test("two files whose upsample2d differs in interpolation, or whose conv2d_transpose differs in crop (same kernel), are told apart (they were called the same, exit 0)")
    func upsamplingAndTransposedGeometry() throws {
        let scratch = try Scratch()
        func write(_ interpolation: UpsampleInterpolation, crop: Int, _ name: String) throws -> String {
            let kernel = Tensor(shape: [2, 2, 1, 1], floats: [1, 2, 3, 4])
            let model = Model(name: "m", input: InputSpec(shape: [2, 2, 1], layout: .hwc), layers: [
                Layer(name: "up", operation: .upsample2D(Upsampling(factorH: 2, factorW: 2, interpolation: interpolation))),
                Layer(name: "t", operation: .conv2DTranspose(kernel: kernel, bias: nil, activation: .linear,
                                                             geometry: TransposedGeometry(strideH: 2, strideW: 2, cropTop: crop, cropLeft: 0,
                                                                                          outputH: 8 - crop, outputW: 8))),
            ])
            try ContainerWriter.write(model, to: scratch.file(name))
            return scratch.file(name)
        }
        let run = try ChildProcess.run(["diff", try write(.nearest, crop: 0, "a.lrm"), try write(.bilinear, crop: 1, "b.lrm")])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("up: upsample2d (2×2 nearest), 0 parameters → upsample2d (2×2 bilinear), 0 parameters"), "\(run.stdout)")
        #expect(run.stdout.contains("t: conv2d_transpose (strides 2×2), 4 parameters → conv2d_transpose (strides 2×2, crop 1, 0), 4 parameters"),
                "\(run.stdout)")
        let same = try ChildProcess.run(["diff", scratch.file("a.lrm"), scratch.file("a.lrm")])
        #expect(same.status == 0, "\(same.stdout)")
    }
}
