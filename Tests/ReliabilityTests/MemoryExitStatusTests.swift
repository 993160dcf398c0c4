import Foundation
@testable import lrm
import LRMHDF5
import LRMKeras
import LRMLinearAlgebra
import Testing

/// Out of memory is the system's failure, not the input's: exit 71 (EX_OSERR) from whichever library reports it.
/// Before, every one of these was exit 65, "an input file is invalid".
@Suite("Exit status of memory failures")
struct MemoryExitStatusTests {
    @Test("libhdf5's failed allocation, LAPACKE's workspace and OpenBLAS's buffer are exit 71; a corrupt HDF5 file stays 65")
    func outOfMemoryIsSystemError() {
        func keras(_ kind: HDF5Error.Kind) -> KerasImportError {
            KerasImportError(.hdf5, file: "x.h5", location: "/w", "could not read the dataset: out of memory",
                             hdf5Error: HDF5Error(kind, file: "x.h5", objectPath: "/w", "could not read the dataset: out of memory"))
        }
        #expect(CommandFailure(explaining: keras(.outOfMemory)).status == .systemError)
        #expect(CommandFailure(explaining: keras(.corrupt)).status == .invalidInput)

        let lapack = CommandFailure(explaining: LinearAlgebraError(.workspaceAllocationFailed, routine: "sgesdd", context: "SVD of layer 'd'"))
        #expect(lapack.status == .systemError)
        #expect(lapack.message == "out of memory: SVD of layer 'd': sgesdd: could not allocate workspace", "\(lapack.message)")

        let room = CommandFailure(explaining: LinearAlgebraError(.addressSpaceExhausted(limit: 200_000 << 10, inUse: 147 << 20, needed: 128 << 20),
                                                                 context: "reserving OpenBLAS's work buffer"))
        #expect(room.status == .systemError)
        #expect(room.message == "not enough memory under the address-space limit (ulimit -v 200000 KiB): 147 MiB are in use once lrm has "
                + "started and OpenBLAS needs 128 MiB for its work buffer; allow at least ulimit -v 290000 KiB, more for the model and its data",
                "\(room.message)")
        // A failure that is not about memory keeps its status.
        #expect(CommandFailure(explaining: LinearAlgebraError(.didNotConverge(info: 3), routine: "sgesdd", context: "SVD")).status == .invalidInput)
        #expect(ExitStatus.systemError.rawValue == 71)
        #expect(ExitStatus.helpText.contains("71 out of memory"))
    }
}
