/// Constants of the `.lrm` container, defined once. See `spec/FORMAT.md`.
public enum Container {
    /// The 8 magic bytes: `89 4C 52 4D 0D 0A 1A 0A` ("\x89LRM\r\n\x1a\n"). The high byte catches
    /// 7-bit transfers, CR LF and the lone LF catch newline translation, 0x1A stops `type` on DOS.
    public static let magic: [UInt8] = [0x89, 0x4C, 0x52, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The format version this library reads (every minor version up to `minorVersion`). Files are
    /// written with the lowest minor version that has every code they use (``ContainerHeader/minorVersion``).
    public static let majorVersion: UInt16 = 1
    public static let minorVersion: UInt16 = 5
    /// Size of the fixed preamble before the header.
    public static let preambleByteCount = 32
    /// Default tensor alignment in bytes (a power of two).
    public static let defaultAlignment = 64
    /// Marks an absent optional tensor reference (for example a layer without bias).
    public static let noTensor: UInt32 = 0xFFFF_FFFF

    /// Hard limits. Every reader enforces them before allocating anything.
    public enum Limits {
        public static let minAlignment = 8
        public static let maxAlignment = 65_536
        public static let maxHeaderByteCount = 64 << 20
        public static let maxNameByteCount = 1_024
        public static let maxStringByteCount = 1 << 20
        public static let maxMetadataEntries = 65_536
        public static let maxArrayCount = 1 << 24
        public static let maxTensors = 1 << 20
        public static let maxLayers = 1 << 20
        public static let maxDimensions = 8
        /// (1.4) Slot numbers of `store`, `load` and `merge` are 0 to this.
        public static let maxSlot = 65_535
        /// (1.4) The most slots one `merge` combines with the current sample.
        public static let maxMergeSlots = 1_024
        public static let maxClassNames = 1 << 20
    }
}

/// Rounds `value` up to a multiple of `alignment` (a power of two), or nil on overflow.
@inlinable
func alignUp(_ value: Int, to alignment: Int) -> Int? {
    let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
    if overflow { return nil }
    return sum & ~(alignment - 1)
}
