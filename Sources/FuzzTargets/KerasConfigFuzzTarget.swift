import LRMFormat
import LRMKeras

/// The Keras config parser under fuzzing: JSON → architecture → stand-in weights → container model
/// (`KerasImporter.probeConfig`), then the container writer's validation of the mapped model.
///
/// Property checked: a mapped model the writer accepts gives a file the reader opens (the writer
/// never writes what the reader refuses).
public enum KerasConfigFuzzTarget {
    public static func run(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard let model = try? KerasImporter.probeConfig([UInt8](bytes)) else { return [] }
        // The stand-in weights need not chain, so the writer may refuse the model: an error, not a crash.
        guard let encoded = try? ContainerWriter.encode(model) else { return [] }
        do {
            _ = try encoded.withUnsafeBytes { try ContainerFile(bytes: $0, path: "mapped.lrm") }
            return []
        } catch {
            return ["the writer accepted a mapped model the reader refuses: \(error)"]
        }
    }
}
