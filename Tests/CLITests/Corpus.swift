import Foundation
import LRMTestSupport

/// The shared Keras corpus, if present.
let corpus: String? = {
    let path = TestPackage.shared + "/keras-corpus"
    return FileManager.default.fileExists(atPath: path + "/keras3") ? path : nil
}()
