import Foundation
@testable import LRMFormat

/// Renders `spec/TINY.md`: the tiny model's file, field by field. The fields are encoded here
/// independently of the writer, and `render` fails unless they concatenate to exactly the bytes
/// the writer produces, so the document cannot drift from the implementation.
enum TinyDocument {
    struct Mismatch: Error, CustomStringConvertible {
        var description: String
    }

    private struct Annotator {
        var rows: [(offset: Int, bytes: [UInt8], label: String)] = []
        var count = 0
        mutating func add(_ bytes: [UInt8], _ label: String) {
            rows.append((count, bytes, label))
            count += bytes.count
        }
        mutating func u8(_ v: UInt8, _ label: String) { add([v], label) }
        mutating func u16(_ v: UInt16, _ label: String) { add((0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }, label) }
        mutating func u32(_ v: UInt32, _ label: String) { add((0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }, label) }
        mutating func u64(_ v: UInt64, _ label: String) { add((0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }, label) }
        mutating func f64(_ v: Double, _ label: String) { u64(v.bitPattern, label + " = \(v)") }
        mutating func str(_ s: String, _ label: String) {
            u32(UInt32(s.utf8.count), "\(label): length \(s.utf8.count)")
            if !s.isEmpty { add(Array(s.utf8), "\(label) = \"\(s)\"") }
        }
        mutating func dims(_ d: [Int], _ label: String) {
            u8(UInt8(d.count), "\(label): \(d.count) dimensions")
            for (i, n) in d.enumerated() { u64(UInt64(n), "\(label): dimension \(i) = \(n)") }
        }
        mutating func f64s(_ v: [Double], _ label: String) {
            u32(UInt32(v.count), "\(label): count \(v.count)")
            for x in v { f64(x, "\(label)") }
        }
    }

    static func render() throws -> String {
        let model = TinyModel.make()
        let expected = try ContainerWriter.encode(model)
        let file = try ContainerFile.decodeForTests(expected)
        let header = file.header

        var h = Annotator()
        h.u32(2, "metadata: 2 entries")
        h.str("lrm.writer", "metadata key"); h.u8(1, "type 1 (string)"); h.str("lrm 0.1.0", "value")
        h.str("source.format", "metadata key"); h.u8(1, "type 1 (string)"); h.str("random", "value")
        h.u32(0, "user metadata: 0 entries")
        h.u32(UInt32(header.tensors.count), "tensor table: \(header.tensors.count) tensors")
        for t in header.tensors {
            h.str(t.name, "tensor name")
            h.u8(t.dtype.rawValue, "dtype \(t.dtype.rawValue) (\(t.dtype.name))")
            h.dims(t.shape, "shape")
            h.u64(UInt64(t.byteOffset), "offset \(t.byteOffset) (from D)")
            h.u64(UInt64(t.byteCount), "byte count \(t.byteCount)")
            h.u32(t.crc32, "CRC-32 of the tensor's bytes = \(hex(t.crc32))")
        }
        h.str("tiny", "model name")
        h.dims([2], "input shape")
        h.u8(0, "layout 0 (features)")
        h.f64s([0.5], "input scale")
        h.f64s([], "input offset")
        h.u32(2, "class names: 2"); h.str("no", "class 0"); h.str("yes", "class 1")
        h.u32(2, "layers: 2")
        // fc1: kind(1) + name(4+3) + kernel(4) + bias(4) + activation(1) = 17 bytes
        h.u32(17, "layer record length 17")
        h.u8(1, "kind 1 (dense)"); h.str("fc1", "layer name")
        h.u32(0, "kernel = tensor 0"); h.u32(1, "bias = tensor 1"); h.u8(1, "activation 1 (relu)")
        let policy = "energy", method = "gesdd-f32"
        let fc2Length = 1 + 7 + 4 + 4 + 4 + 1 + 24 + 16 + (4 + policy.utf8.count) + 8 + (4 + method.utf8.count) + 4 + 16
        h.u32(UInt32(fc2Length), "layer record length \(fc2Length)")
        h.u8(2, "kind 2 (factorized_dense)"); h.str("fc2", "layer name")
        h.u32(2, "us = tensor 2 (U·Σ, 3 × 1)"); h.u32(3, "vt = tensor 3 (Vᵀ, 1 × 2)"); h.u32(4, "bias = tensor 4")
        h.u8(4, "activation 4 (softmax)")
        h.u64(3, "in_features 3"); h.u64(2, "out_features 2"); h.u64(1, "rank 1")
        h.f64(0.8, "retained_energy"); h.f64((0.2 as Double).squareRoot(), "relative_error")
        h.str(policy, "policy"); h.f64(0.75, "policy_parameter"); h.str(method, "method")
        h.f64s([2, 1], "singular values")

        var p = Annotator()
        p.add(Container.magic, "magic 89 4C 52 4D 0D 0A 1A 0A")
        p.u16(1, "major version 1"); p.u16(0, "minor version 0"); p.u32(64, "alignment A = 64")
        p.u64(UInt64(h.count), "header byte count H = \(h.count)")
        let headerBytes = h.rows.flatMap(\.bytes)
        p.u32(CRC32.checksum(headerBytes), "CRC-32 of the header = \(hex(CRC32.checksum(headerBytes)))")
        let first28 = p.rows.flatMap(\.bytes)
        p.u32(CRC32.checksum(first28), "CRC-32 of bytes 0–27 = \(hex(CRC32.checksum(first28)))")

        let headerEnd = 32 + h.count
        let dataStart = alignUp(headerEnd, to: 64)!
        var d = Annotator()
        d.add([UInt8](repeating: 0, count: dataStart - headerEnd), "zero padding to D = \(dataStart)")
        for (index, t) in header.tensors.enumerated() {
            if d.count < dataStart - headerEnd + t.byteOffset {
                d.add([UInt8](repeating: 0, count: dataStart - headerEnd + t.byteOffset - d.count), "zero padding")
            }
            let values = file.tensor(index).floats().map { String($0) }.joined(separator: ", ")
            file.withTensorBytes(index) { d.add(Array($0), "\(t.name): \(t.dtype.name) \(t.shape) = [\(values)]") }
        }
        let rebuilt = p.rows.flatMap(\.bytes) + headerBytes + d.rows.flatMap(\.bytes)
        guard rebuilt == expected else {
            throw Mismatch(description: "annotated encoding differs from the writer's (\(rebuilt.count) vs \(expected.count) bytes)")
        }

        var out = """
        # A complete tiny `.lrm` file

        Generated by `Tests/LRMFormatTests/TinyDocument.swift`, which encodes every field on its own and checks
        that they add up to exactly the bytes the writer produces (\(expected.count) bytes). The model: input of 2
        features scaled by 0.5; `fc1` dense 2 → 3 with bias and ReLU; `fc2` factorized 3 → 2 at rank 1 (of 2) with
        bias and softmax; classes "no" and "yes". It is `spec/vectors/valid/tiny.lrm`.

        ## Hex dump

        ```
        \(hexDump(expected))
        ```

        ## Field by field

        | offset | bytes | field |
        |---|---|---|

        """
        func emit(_ rows: [(offset: Int, bytes: [UInt8], label: String)], base: Int) {
            for row in rows {
                let shown = row.bytes.prefix(16).map { hex2($0) }.joined(separator: " ") + (row.bytes.count > 16 ? " …" : "")
                out += "| \(base + row.offset) | `\(shown)` | \(row.label.replacingOccurrences(of: "|", with: "\\|")) |\n"
            }
        }
        emit(p.rows, base: 0)
        emit(h.rows, base: 32)
        emit(d.rows, base: headerEnd)
        return out
    }

    static func hexDump(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 16).map { start in
            let line = bytes[start..<min(start + 16, bytes.count)]
            let offset = String(start, radix: 16)
            let hexes = line.map { hex2($0).lowercased() }.joined(separator: " ")
            let ascii = String(line.map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." })
            return String(repeating: "0", count: 8 - offset.count) + offset + "  " + hexes.padding(toLength: 48, withPad: " ", startingAt: 0) + " |" + ascii + "|"
        }.joined(separator: "\n")
    }
}
