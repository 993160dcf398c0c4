import Foundation
import LRMNumPy

/// The `.npy` reader under fuzzing: `NPY.decode`, then the conversions `lrm predict` uses.
///
/// Property checked: an array that decodes re-encodes to a file that decodes to the same encoding.
public enum NPYFuzzTarget {
    public static func run(_ bytes: UnsafeRawBufferPointer) -> [String] {
        let array: NumPyArray
        do {
            array = try NPY.decode(Data(bytes), file: "fuzz.npy")
        } catch {
            return []
        }
        _ = array.floatValues()
        _ = array.doubleValues()
        _ = try? array.int64Values()
        let encoded = NPY.encode(array)
        do {
            let again = try NPY.decode(encoded, file: "reencoded.npy")
            guard again.shape == array.shape, again.dtype == array.dtype, NPY.encode(again) == encoded else {
                return ["re-encoding changes the array (shape \(array.shape) → \(again.shape))"]
            }
        } catch {
            return ["a decoded array's encoding does not decode: \(error)"]
        }
        return []
    }
}
