package import CHDF5
import Foundation

// Every raw HDF5 call of the package goes through the helpers in this file or is made inside one of
// their closures, so that HDF5's automatic error printing is off on the calling thread (the setting is
// per thread) and every failure becomes an `HDF5Error` carrying the innermost message of HDF5's error stack
// (without the C function that reported it), or, when that message shows the file's structure is damaged,
// an `HDF5Error` of kind `corrupt` saying what is damaged in plain terms (`HDF5Corruption`).

/// Where an HDF5 operation happens, for error messages.
package struct HDF5Location {
    /// The file as the caller named it.
    package var file: String
    /// The object path inside the file, `""` for the file itself.
    package var objectPath: String

    package init(file: String, objectPath: String) {
        self.file = file
        self.objectPath = objectPath
    }

    package func error(_ kind: HDF5Error.Kind, _ message: String, libraryMessage: String? = nil) -> HDF5Error {
        HDF5Error(kind, file: file, objectPath: objectPath, message, libraryMessage: libraryMessage)
    }

    /// The location of `name` relative to this one.
    package func appending(_ name: String) -> HDF5Location {
        let base = objectPath == "/" ? "" : objectPath
        return HDF5Location(file: file, objectPath: base + "/" + name)
    }
}

/// Owns one HDF5 identifier and closes it with the matching `H5?close` when released.
package final class HDF5Handle {
    package let id: hid_t
    private let close: (hid_t) -> herr_t

    package init(_ id: hid_t, close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.close = close
    }

    deinit {
        HDF5Library.silenceErrorPrinting()
        _ = close(id)
    }
}

package enum HDF5Library {
    /// Turns off HDF5's automatic error printing for the calling thread. Every helper here calls it before any HDF5
    /// function, so it is also where libhdf5 is told, once and before it first initializes itself, not to tear
    /// itself down at exit (``prepare()``).
    ///
    /// The corresponding C function is `H5Eset_auto2(H5E_DEFAULT, NULL, NULL)`.
    package static func silenceErrorPrinting() {
        prepare()
        _ = lrm_h5e_silence()
    }

    /// Tells libhdf5 not to register its exit handler, which tears the library down when the process exits. Call it
    /// before any HDF5 function that does not go through these helpers (they call it themselves); it must come
    /// before the library's first initialization to take effect.
    ///
    /// lrm never needs that teardown: it reads files read-only and writes HDF5 files in memory, closing each before
    /// it writes the bytes itself, so there is nothing to flush, and the memory goes with the process. And the
    /// teardown does harm: libhdf5 1.10 leaks a few free-list blocks on its own error paths when an object header
    /// runs past the end of a file (`H5O_t`, `H5O_cont_t_seq`; the truncation check, ``HDF5Truncation``, reaches
    /// them on purpose), so the teardown finds blocks still allocated, gives up after 100 rounds and prints "HDF5:
    /// infinite loop closing library" on any thread whose HDF5 error printing is on; it also runs without
    /// libhdf5's lock, so it would race a thread still inside the library at exit.
    ///
    /// The corresponding C function is `H5dont_atexit`.
    package static func prepare() {
        _ = prepared
    }

    private static let prepared: Void = {
        _ = H5dont_atexit()
    }()

    /// Runs an HDF5 call whose negative result means failure, and returns the result.
    ///
    /// - Parameters:
    ///   - kind: the error kind to report on failure.
    ///   - location: the file and object being worked on.
    ///   - what: what was being done, e.g. "could not read the attribute 'layer_names'".
    package static func check<R: BinaryInteger>(_ kind: HDF5Error.Kind, at location: HDF5Location,
                                        _ what: @autoclosure () -> String,
                                        _ body: () -> R) throws(HDF5Error) -> R {
        silenceErrorPrinting()
        let result = body()
        guard result >= 0 else { throw failure(kind, at: location, what(), entry: innermostError()) }
        return result
    }

    /// The error for a failed call, given the innermost entry of libhdf5's error stack: kind `corrupt` saying what
    /// is damaged when the entry shows the file's structure is (``HDF5Corruption``), kind `outOfMemory` when libhdf5
    /// could not allocate memory (the callers that read data say the size they were reading), else `kind` with
    /// libhdf5's description.
    package static func failure(_ kind: HDF5Error.Kind, at location: HDF5Location, _ what: String,
                                entry: (description: String, function: String)?) -> HDF5Error {
        guard let entry else { return location.error(kind, what) }
        if let damage = HDF5Corruption.damage(description: entry.description, function: entry.function) {
            return location.error(.corrupt, what, libraryMessage: damage)
        }
        if HDF5Corruption.isMemoryFailure(description: entry.description) {
            return location.error(.outOfMemory, "\(what): out of memory")
        }
        return location.error(kind, what, libraryMessage: entry.description)
    }

    /// Runs an HDF5 call returning an identifier and wraps it in a handle closed by `close`.
    package static func open(_ kind: HDF5Error.Kind, at location: HDF5Location, _ what: @autoclosure () -> String,
                     close: @escaping (hid_t) -> herr_t, _ body: () -> hid_t) throws(HDF5Error) -> HDF5Handle {
        let id = try check(kind, at: location, what(), body)
        return HDF5Handle(id, close: close)
    }

    /// The innermost (most specific) message on the calling thread's HDF5 error stack, or `nil` if the
    /// stack is empty. The C function that reported it is not included (``innermostError()`` has it).
    package static func innermostErrorMessage() -> String? {
        innermostError()?.description
    }

    /// The innermost (most specific) entry of the calling thread's HDF5 error stack: its description and the
    /// C function that reported it (which says what part of the file libhdf5 was decoding), or `nil` if the
    /// stack is empty. When that function is one of libhdf5's allocators (`H5FL…` free lists, `H5MM…`), the
    /// function is the first caller that is not: the allocator says nothing about what was being done. Clears the stack.
    ///
    /// The corresponding C function is `H5Ewalk2` with `H5E_WALK_UPWARD`, which visits the innermost entry first.
    package static func innermostError() -> (description: String, function: String)? {
        final class Box {
            var entry: (description: String, function: String)?
            var caller: String?
        }
        let box = Box()
        let walker: H5E_walk2_t = { position, entry, clientData in
            guard let entry, let clientData else { return 0 }
            let box = Unmanaged<Box>.fromOpaque(clientData).takeUnretainedValue()
            let function = entry.pointee.func_name.map { String(cString: $0) } ?? ""
            if position == 0 {
                box.entry = (entry.pointee.desc.map { String(cString: $0) } ?? "", function)
            }
            if box.caller == nil, !function.hasPrefix("H5FL"), !function.hasPrefix("H5MM") { box.caller = function }
            return 0
        }
        withExtendedLifetime(box) {
            _ = H5Ewalk2(lrm_h5e_default(), H5E_WALK_UPWARD, walker, Unmanaged.passUnretained(box).toOpaque())
        }
        _ = H5Eclear2(lrm_h5e_default())
        return box.entry.map { ($0.description, box.caller ?? $0.function) }
    }

    /// `bytes` decoded as UTF-8, or `nil` if they are not valid UTF-8.
    package static func utf8<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String? {
        String(bytes: bytes, encoding: .utf8)
    }

    /// The product of `dimensions`, or `nil` if it overflows `Int`.
    package static func checkedProduct(_ dimensions: [Int]) -> Int? {
        var product = 1
        for dimension in dimensions {
            guard dimension >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            product = next
        }
        return product
    }

    /// The dimensions of a dataspace, outermost first, and the element count (checked against `limits`):
    /// `[]` and 1 for a scalar, `[0]` and 0 for a null dataspace.
    package static func extent(of space: hid_t, at location: HDF5Location, limits: HDF5Limits) throws(HDF5Error) -> (shape: [Int], count: Int) {
        let spaceClass = H5Sget_simple_extent_type(space)
        if spaceClass == H5S_NULL { return ([0], 0) }
        if spaceClass == H5S_SCALAR { return ([], 1) }
        let rank = Int(try check(.readFailed, at: location, "could not read the dataspace rank") {
            H5Sget_simple_extent_ndims(space)
        })
        guard rank <= limits.maxRank else {
            throw location.error(.tooLarge, "rank is \(rank), expected at most \(limits.maxRank)")
        }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        _ = try check(.readFailed, at: location, "could not read the dataspace dimensions") {
            dims.withUnsafeMutableBufferPointer { H5Sget_simple_extent_dims(space, $0.baseAddress, nil) }
        }
        var shape: [Int] = []
        for dim in dims.prefix(rank) {
            guard dim <= UInt64(Int.max) else { throw location.error(.tooLarge, "dimension \(dim) is too large") }
            shape.append(Int(dim))
        }
        guard let count = checkedProduct(shape), count <= limits.maxElementCount else {
            let described = shape.map(String.init).joined(separator: "×")
            throw location.error(.tooLarge, "shape \(described) has more than \(limits.maxElementCount) elements")
        }
        return (shape, count)
    }
}
