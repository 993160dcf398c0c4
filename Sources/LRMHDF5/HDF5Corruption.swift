/// Whether a failure libhdf5 reported means the file's structure is damaged (a corrupt file: a flipped byte,
/// a bad copy), and if so what part of it, in the user's terms.
///
/// libhdf5 says so in its own: `bad object header version number (H5O__prefix_deserialize)`, `message not
/// aligned`, `addr overflow, addr = …, size = …, eoa = …`, `bad heap free list`. The C function that reported
/// the failure says which structure of the file it was decoding (`H5O…` object headers, `H5HL…` local heaps,
/// …), so the function, not the wording, decides; the wording only picks out addresses that point past the
/// file's end. Failures that are not about the file's bytes (an I/O error, a missing filter, memory) are
/// not classified here and keep libhdf5's description.
package enum HDF5Corruption {
    /// What is damaged, as a clause (`its superblock is damaged`), or `nil` when the failure is not one that
    /// only a damaged file causes.
    /// - Parameters:
    ///   - description: the innermost description on libhdf5's error stack.
    ///   - function: the C function that reported it.
    package static func damage(description: String, function: String) -> String? {
        let text = description.lowercased()
        if text.hasPrefix("truncated file") { return "it is shorter than its superblock records" }
        if ["past end of allocation", "exceeds eoa", "addr overflow", "temporary file space"].contains(where: text.contains) {
            return "an address in it points past the end of the file"
        }
        if text.contains("memory allocation failed") {
            // Metadata blocks are small: failing to allocate one means its recorded size is garbage.
            return function.hasPrefix("H5C") ? "a block in it records an impossible size" : nil
        }
        if text.hasPrefix("not a ") { return nil }
        let families: [(prefix: String, damage: String)] = [
            ("H5F__cache_superblock", "its superblock is damaged"), ("H5F__super", "its superblock is damaged"),
            ("H5F_super", "its superblock is damaged"),
            ("H5O_attr", "an attribute's header is damaged"), ("H5O__attr", "an attribute's header is damaged"),
            ("H5O__sdspace", "a dataspace (shape) record is damaged"), ("H5O_sdspace", "a dataspace (shape) record is damaged"),
            ("H5O_dtype", "a datatype record is damaged"), ("H5O__dtype", "a datatype record is damaged"),
            ("H5O", "an object header is damaged"),
            ("H5HL", "a group's local heap (where link names are kept) is damaged"),
            ("H5HG", "the global heap (where variable-length strings are kept) is damaged"),
            ("H5B", "a B-tree (a group's or a chunked dataset's index) is damaged"),
            ("H5G", "a group's symbol table is damaged"),
        ]
        return families.first { function.hasPrefix($0.prefix) }?.damage
    }
}
