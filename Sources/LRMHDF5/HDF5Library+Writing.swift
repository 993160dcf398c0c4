package import CHDF5

// The writing counterparts of `HDF5Library.check` and `HDF5Library.open`: the same funnel (HDF5's error
// printing silenced on the calling thread, the innermost message of the error stack collected), throwing
// `HDF5WriteError`. Every raw HDF5 call made while writing runs inside one of these closures.

extension HDF5Library {
    /// Runs an HDF5 call made while writing, whose negative result means failure, and returns the result.
    ///
    /// - Parameters:
    ///   - location: the file and object being written.
    ///   - what: what was being done, e.g. "could not create the group".
    package static func checkWrite<R: BinaryInteger>(at location: HDF5Location, _ what: @autoclosure () -> String,
                                             _ body: () -> R) throws(HDF5WriteError) -> R {
        silenceErrorPrinting()
        let result = body()
        guard result >= 0 else {
            throw location.writeError(what(), libraryMessage: innermostErrorMessage())
        }
        return result
    }

    /// Runs an HDF5 call made while writing that returns an identifier, and wraps the identifier in a
    /// handle closed by `close` (whose own result is ignored: for the file itself, whose closing flushes
    /// data, ``HDF5FileWriter/close()`` checks it).
    package static func create(at location: HDF5Location, _ what: @autoclosure () -> String,
                       close: @escaping (hid_t) -> herr_t, _ body: () -> hid_t) throws(HDF5WriteError) -> HDF5Handle {
        let id = try checkWrite(at: location, what(), body)
        return HDF5Handle(id, close: close)
    }
}
