import Foundation
import Testing
@testable import LRMKeras
import LRMHDF5

@Suite("HDF5 reader over Fixtures/attributes.h5")
struct HDF5ReaderTests {
    let root: HDF5Group

    init() throws {
        root = try HDF5File(path: TestData.fixture("attributes.h5")).rootGroup()
    }

    @Test("string attributes decode in every encoding h5py writes",
          arguments: [
              ("vlen_utf8_scalar", HDF5AttributeValue.strings(["modèle ☃"], isScalar: true)),
              ("vlen_ascii_scalar", .strings(["jax"], isScalar: true)),
              ("vlen_utf8_array", .strings(["entrée", "скрытый_два", "出力_☃"], isScalar: false)),
              ("vlen_ascii_array_utf8_bytes", .strings(["entrée", "plain"], isScalar: false)),
              ("fixed_nullpad_full_width", .strings(["abcdef", "ab", "abcde"], isScalar: false)),
              ("fixed_nullterm", .strings(["abcd", "xy"], isScalar: false)),
              ("fixed_spacepad", .strings(["ab", "abcdef"], isScalar: false)),
              ("fixed_scalar", .strings(["tensorflow"], isScalar: true)),
          ])
    func strings(_ name: String, _ expected: HDF5AttributeValue) throws {
        #expect(try root.readAttribute(name) == expected)
    }

    @Test("numeric attributes keep their shape; an empty float64 list reads as an empty string list")
    func numbers() throws {
        #expect(try root.readAttribute("empty_float64") == .floats([], shape: [0]))
        #expect(try root.readAttribute("float_scalar") == .floats([0.125], shape: []))
        #expect(try root.readAttribute("int_array") == .integers([3, -4, 5], shape: [3]))
        #expect(try root.readAttribute("float32_matrix") == .floats([0, 1, 2, 3, 4, 5], shape: [2, 3]))
        #expect(try root.kerasStringList("empty_float64") == [])
        #expect(try root.openGroup("split").kerasStringList("layer_names") == ["a", "b", "c"])  // layer_names0 + layer_names1
        #expect(try root.kerasStringList("absent") == nil)
    }

    @Test("a missing attribute is a typed notFound error naming the object and attribute")
    func missingAttribute() {
        let error = #expect(throws: HDF5Error.self) { try root.readAttribute("nope") }
        #expect(error?.kind == .notFound)
        #expect(error?.objectPath == "/@nope")
    }

    /// Values chosen to be exact in binary16, so that float16/float32/big-endian reads agree exactly.
    static let values: [Float] = [1.5, -2.25, 0.0, 65504.0, 6.1035156e-05, -0.333251953125]

    @Test("float16, float32 and big-endian float32 datasets read exactly", arguments: ["f16", "f32", "f32_big_endian"])
    func floats(_ name: String) throws {
        let dataset = try root.openDataset(name)
        #expect(dataset.shape == [2, 3])
        #expect(try dataset.readFloats() == Self.values)
    }

    @Test("float64 rounds to nearest Float32, including subnormals and overflow to the nearest finite")
    func float64() throws {
        let values = try root.openDataset("f64").readFloats()
        let expected: [Double] = [0.1, 1e-40, -3.0, 1e30, 0x1p-149, 7.0]
        #expect(values.map(\.bitPattern) == expected.map { Float($0).bitPattern })
    }

    @Test("bfloat16 (2-byte opaque + dtype attribute) converts exactly; untagged opaque is refused")
    func bfloat16() throws {
        let dataset = try root.openDataset("bf16")
        #expect(dataset.elementType == .bfloat16)
        #expect(try dataset.readFloats() == [1.0, -2.5, 3.140625, 0.00099945068359375])
        let error = #expect(throws: HDF5Error.self) { try root.openDataset("opaque_untagged") }
        #expect(error?.kind == .unsupportedType)
    }

    @Test("integers, scalars, empty and chunked-gzip datasets")
    func otherDatasets() throws {
        #expect(try root.openDataset("i32").readFloats() == [1, -2, 3])
        #expect(try root.openDataset("u8").readFloats() == [0, 255])
        let scalar = try root.openDataset("scalar")
        #expect(scalar.shape == [])
        #expect(try scalar.readFloats() == [2.5])
        let empty = try root.openDataset("empty")
        #expect(empty.shape == [0, 3])
        #expect(try empty.readFloats() == [])
        #expect(try root.openDataset("chunked").readFloats() == (0..<12).map(Float.init))
        #expect(try root.openDataset("g/h/i/leaf").readFloats() == [1])
    }

    @Test("a dataset claiming 2^40 elements is refused before allocation")
    func huge() {
        let error = #expect(throws: HDF5Error.self) { try root.openDataset("huge") }
        #expect(error?.kind == .tooLarge)
        #expect(error?.objectPath == "/huge")
    }

    @Test("typed errors for wrong kinds, links out of the file and bad names",
          arguments: [("strings", HDF5Error.Kind.unsupportedType), ("g", .wrongObjectType), ("missing", .notFound),
                      ("g/missing/x", .notFound), ("soft", .refusedIndirection), ("external", .refusedIndirection),
                      ("/f32", .invalidName), ("g/../f32", .invalidName), ("", .invalidName), ("g//h", .invalidName)])
    func datasetErrors(_ name: String, _ kind: HDF5Error.Kind) {
        let error = #expect(throws: HDF5Error.self) { try root.openDataset(name) }
        #expect(error?.kind == kind)
        #expect(error?.file == TestData.fixture("attributes.h5"))
    }

    @Test("child names come as a set: alphabetical link order is not model order")
    func children() throws {
        #expect(try root.openGroup("order").childNames() == ["dense_1", "dense_2", "dense_10"])
        let error = #expect(throws: HDF5Error.self) { try root.openGroup("f32") }
        #expect(error?.kind == .wrongObjectType)
    }

    @Test("Keras's class-name-to-group-name rule matches keras.src.utils.naming.to_snake_case",
          arguments: [("Dense", "dense"), ("BatchNormalization", "batch_normalization"), ("Conv2D", "conv2d"),
                      ("InputLayer", "input_layer"), ("ReLU", "re_lu"), ("LeakyReLU", "leaky_re_lu"),
                      ("MaxPooling2D", "max_pooling2d"), ("Sequential", "sequential"), ("ABCDense", "abc_dense")])
    func snakeCase(_ className: String, _ expected: String) {
        #expect(KerasV3WeightsReader.snakeCase(className) == expected)
    }
}

/// Datasets whose dataspace's maximum dimensions are H5S_UNLIMITED (2⁶⁴ − 1), as h5py writes `maxshape=(None, …)`:
/// Keras never writes them. The reader asks libhdf5 for the current dimensions only (`H5Sget_simple_extent_dims` with no
/// maximum), and nothing compares against the maximum: such a file reads as the fixed-size one does.
@Suite("HDF5 datasets with unlimited maximum dimensions")
struct HDF5UnlimitedDimensionTests {
    @Test("the mlp fixture rewritten with every weight dataset resizable (maxshape None in every dimension, created at 1 and resized, chunked, the kernels gzipped) imports to the same model as mlp.h5: v1 B-tree chunk indexes (libver earliest) and an extensible array / v2 B-tree (libver v110)",
          arguments: ["mlp_unlimited.h5", "mlp_unlimited_v110.h5"])
    func unlimitedMaxShape(_ name: String) throws {
        let root = try HDF5File(path: TestData.fixture(name)).rootGroup()
        let kernel = try root.openDataset("model_weights/hidden/mlp/hidden/kernel")
        #expect(kernel.shape == [6, 5] && kernel.count == 30)
        let fixed = try HDF5File(path: TestData.fixture("mlp.h5")).rootGroup().openDataset("model_weights/hidden/mlp/hidden/kernel")
        #expect(try kernel.readFloats() == (try fixed.readFloats()))
        let bias = try root.openDataset("model_weights/hidden/mlp/hidden/bias")
        #expect(bias.shape == [5])
        // The same model but for the metadata naming the source file.
        let model = try KerasImporter.loadModel(path: TestData.fixture(name)), fixedModel = try KerasImporter.loadModel(path: TestData.fixture("mlp.h5"))
        #expect(model.layers == fixedModel.layers && model.input == fixedModel.input && model.classNames == fixedModel.classNames)
        #expect(model.layers.count == fixedModel.layers.count && model.layers.count > 3)
    }
}
