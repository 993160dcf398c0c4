import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// `lrm extract FILE TENSOR -o t.npy`: one tensor as stored, checked first.
@Suite("lrm extract")
struct ExtractCLITests {
    @Test("a float32, an f16 and an i8 tensor come out as stored (f32, f16 bits, int32 codes); a mistyped name gets a guess")
    func extract() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let out = scratch.file("us.npy")
        let run = try ChildProcess.run(["extract", model, "hidden/us", "-o", out])
        #expect(run.status == 0, "\(run.stderr)")
        let file = try ContainerFile(path: model)
        let stored = file.tensor(try #require(file.tensorIndex(named: "hidden/us")))
        let array = try NPY.read(path: out)
        #expect(array.shape == [784, 16] && array.dtype == .float32)
        #expect(array.floatValues() == stored.floats())

        // Narrow storage: an f16 factor keeps its bits; an i8 factor gives its codes, its scales their own tensor.
        for (dtype, expected) in [("f16", NumPyDType.float16), ("i8", .int32)] {
            let converted = scratch.file("\(dtype).lrm")
            let convert = try ChildProcess.run(["convert", TestPackage.root + "/samples/mnist_mlp.h5", "--factor-dtype", dtype,
                                                "--policy", "energy:0.9", "-o", converted])
            #expect(convert.status == 0, "\(convert.stderr)")
            let target = scratch.file("\(dtype).npy")
            #expect(try ChildProcess.run(["extract", converted, "dense_1/us", "-o", target]).status == 0)
            let codes = try NPY.read(path: target)
            #expect(codes.dtype == expected)
            let container = try ContainerFile(path: converted)
            let info = container.header.tensors[try #require(container.tensorIndex(named: "dense_1/us"))]
            #expect(codes.shape == info.shape)
            if dtype == "i8", case .int32(let values) = codes.storage {
                #expect(values.allSatisfy { (-127...127).contains($0) } && values.contains { $0 != 0 })
                let scales = scratch.file("scales.npy")
                #expect(try ChildProcess.run(["extract", converted, "dense_1/us_scales", "-o", scales]).status == 0)
                #expect(try NPY.read(path: scales).count == info.shape[1])
            }
        }

        let typo = try ChildProcess.run(["extract", model, "hiden/us", "-o", scratch.file("x.npy")])
        expectOneLineError(typo, status: 64, naming: "did you mean 'hidden/us'?")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("x.npy")))
        expectOneLineError(try ChildProcess.run(["extract", model, "hidden/us", "-o", scratch.file("x.lrm")]), status: 64, naming: ".npy")
        expectOneLineError(try ChildProcess.run(["extract", model, "hidden/us", "-o", model]), status: 64, naming: model)
    }
}
