import Foundation

/// Whether a file with the HDF5 signature that libhdf5 could not open is simply shorter than it should be,
/// judged from its superblock (HDF5 file format specification, section II.A, versions 0 to 3) and, when that
/// records an end past the file's size, from what the file's objects need: the superblock records the
/// end-of-file address, and a file cut short (an interrupted copy or download) ends before it, or before the
/// superblock's own fields. libhdf5 says so in its own terms ("truncated file: eof = …, sblock->base_addr = …"
/// or "bad byte number in an address"); this gives the user the facts.
package enum HDF5Truncation {
    /// What the superblock shows: one clause, and whether it shows the file corrupt (rather than truncated).
    package struct Problem: Equatable, Sendable {
        package var text: String
        package var corrupt: Bool
    }

    /// Recorded ends beyond this (1 TiB) are not taken for a file's real size: no model file is that large,
    /// and a damaged byte in the address's upper half makes such numbers.
    package static let implausibleEnd: UInt64 = 1 << 40

    /// How the file at `path` is truncated (or corrupt: its superblock records a base address other than its
    /// own position, or an end of file past 1 TiB), or `nil` when the superblock cannot be read or shows
    /// neither (then the file is damaged in some other way).
    ///
    /// A recorded end past the file's size is "truncated" when something the file's objects need lies past its
    /// end (``contents(path:size:endFieldOffset:width:base:)``), and "truncated or corrupt" when everything they
    /// need is there (a damaged byte in the address, even its lowest, makes the file look a few bytes short). When
    /// that cannot be judged, a recorded end that differs from the size in exactly one byte other than the lowest
    /// is "truncated or corrupt" (a cut rarely leaves the other bytes of the size equal), any other "truncated".
    package static func describe(path: String) -> Problem? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd() else { return nil }
        // The superblock sits at offset 0 or after a user block of 512·2ⁿ bytes.
        var start: UInt64 = 0
        while true {
            guard start + 8 <= size else { return nil }
            guard (try? handle.seek(toOffset: start)) != nil, let magic = try? handle.read(upToCount: 8) else { return nil }
            if [UInt8](magic) == FileSignature.hdf5Magic { break }
            start = start == 0 ? 512 : start * 2
        }
        guard (try? handle.seek(toOffset: start)) != nil, let data = try? handle.read(upToCount: 64) else { return nil }
        let bytes = [UInt8](data)
        let available = size - start
        let cut = Problem(text: "truncated HDF5 file: its \(size) bytes end inside the superblock", corrupt: false)
        guard bytes.count > 8 else { return cut }
        // Where the size of offsets is, and where the base and end-of-file addresses start, by version.
        let sizeOfOffsetsAt: Int, baseAt: Int
        switch bytes[8] {
        case 0: (sizeOfOffsetsAt, baseAt) = (13, 24)
        case 1: (sizeOfOffsetsAt, baseAt) = (13, 28)
        case 2, 3: (sizeOfOffsetsAt, baseAt) = (9, 12)
        default: return nil
        }
        guard bytes.count > sizeOfOffsetsAt else { return cut }
        let width = Int(bytes[sizeOfOffsetsAt])
        guard [2, 4, 8].contains(width) else { return nil }
        let endAt = baseAt + 2 * width
        guard bytes.count >= endAt + width else { return cut }
        func address(at offset: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
        }
        // The base address is the superblock's own position (0, or after a user block); other addresses are
        // relative to it. libhdf5 takes any other value for a truncation ("truncated file: … stored_eof = 2⁶⁴ − …").
        let base = address(at: baseAt)
        guard base == start else {
            return Problem(text: "its superblock records a base address of \(base), expected \(start) (where the superblock is)", corrupt: true)
        }
        let end = address(at: endAt)
        let undefined = width == 8 ? UInt64.max : (UInt64(1) << (8 * UInt64(width))) - 1
        guard end != undefined, end > available else { return nil }
        let recorded = start.addingReportingOverflow(end)
        if recorded.overflow || recorded.partialValue > implausibleEnd {
            return Problem(text: "its superblock records an end of file at \(recorded.overflow ? "more than 2⁶⁴" : String(recorded.partialValue)) bytes, "
                           + "but it has \(size)", corrupt: true)
        }
        let truncated: Bool
        switch contents(path: path, size: size, endFieldOffset: Int(start) + endAt, width: width, base: start) {
        case .missing: truncated = true
        case .within: truncated = false
        case nil:
            // Not judged by the file's contents: a recorded end that differs from the size in exactly one byte
            // other than the lowest is what a damaged byte in that address makes (a cut rarely leaves the other
            // bytes of the size equal).
            let difference = end ^ available
            truncated = !(1..<8).contains { difference & ~(UInt64(0xFF) << (8 * UInt64($0))) == 0 }
        }
        return Problem(text: "\(truncated ? "truncated" : "truncated or corrupt") HDF5 file: it has \(size) bytes of the \(recorded.partialValue) its superblock records",
                       corrupt: false)
    }
}
