/// Whether a failure libhdf5 reported means the file's structure is damaged (a corrupt file: a flipped byte,
/// a bad copy), and if so what part of it, in the user's terms.
///
/// libhdf5 says so in its own: `bad object header version number (H5O__prefix_deserialize)`, `message not
/// aligned`, `addr overflow, addr = …, size = …, eoa = …`, `bad heap free list`. The C function that reported
/// the failure says which structure of the file it was decoding (`H5O…` object headers, `H5HL…` local heaps,
/// …), so the function, not the wording, decides; the wording only picks out addresses that point past the
/// file's end; a filter failing on a chunk's bytes (`H5Z…`) is ``chunkDecodingDamage(description:function:)``.
/// Failures that are not about the file's bytes (an I/O error, a filter this libhdf5 lacks) are not
/// classified here and keep libhdf5's description; a failed memory allocation outside the metadata cache is
/// ``isMemoryFailure(description:)`` (out of memory, unless the reader's own checks found a size claim
/// implausible before reading, see ``HDF5Dataset`` and ``HDF5Object/readAttribute(_:)``).
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
            // Metadata is small: failing to allocate while decoding it (the metadata cache, object headers and
            // their messages, heaps, B-trees, groups, the superblock) means a recorded size is garbage. Elsewhere
            // (reading data, converting types) it is the machine's memory, once lrm's own checks have passed.
            let decoders = ["H5C", "H5O", "H5HL", "H5HG", "H5B", "H5G", "H5F_"]
            return decoders.contains(where: function.hasPrefix) ? "a block in it records an impossible size" : nil
        }
        if text.hasPrefix("not a ") { return nil }
        if let clause = chunkDecodingDamage(description: description, function: function) { return "a chunk \(clause)" }
        // A dataset's layout message with a chunk dimension of 0, chunks of 4 GiB or more, or chunks larger than
        // a fixed-size dataset (libhdf5 checks these when it opens the dataset).
        if text.hasPrefix("chunk size must be") {
            if text.contains("> 0") { return "its storage layout records a chunk dimension of 0" }
            if text.contains("4gb") { return "its storage layout records chunks of 4 GiB or more" }
            return "its storage layout records chunks larger than the dataset"
        }
        // A dataset's dimension of 2⁶³ elements or more (a damaged dataspace): libhdf5 rounds each dimension up to a
        // power of two when it opens a dataset, and cannot past 2⁶³ (its H5D… functions; the file's structure, not memory).
        if text.hasPrefix("unable to get the next power of 2") && function.hasPrefix("H5D") {
            return "a dataspace (shape) record is damaged: a dimension records 2^63 elements or more"
        }
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

    /// What a failure of libhdf5's filter pipeline (the `H5Z…` functions) while reading a chunk says of the chunk,
    /// as a clause (`does not decompress: its deflate stream is damaged`), or `nil` when the failure is not about the
    /// chunk's bytes: a filter this libhdf5 does not have ("required filter 'lzf' is not registered") or memory.
    /// deflate's own check (the Adler-32 sum at the end of its stream) and a Fletcher-32 checksum find damaged bytes.
    package static func chunkDecodingDamage(description: String, function: String) -> String? {
        guard function.hasPrefix("H5Z") else { return nil }
        let text = description.lowercased()
        guard !text.contains("not registered"), !text.contains("not available"), !isMemoryFailure(description: description) else { return nil }
        if function.contains("deflate") { return "does not decompress: its deflate stream is damaged" }
        if function.contains("fletcher32") { return "does not match its Fletcher-32 checksum" }
        let filter = ["shuffle", "nbit", "scaleoffset", "szip"].first { function.contains($0) }
        return "does not decode: " + (filter.map { "its \($0) filter fails on its bytes" } ?? "a filter of its pipeline fails on its bytes")
    }

    /// Whether libhdf5's innermost failure is a memory allocation (`memory allocation failed for chunk`, its
    /// free lists' word for a block; `… for raw data chunk`; `… for type conversion`).
    package static func isMemoryFailure(description: String) -> Bool {
        description.lowercased().contains("memory allocation failed")
    }
}
