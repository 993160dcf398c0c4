import Foundation
import Testing
@testable import LRMFormat

@Suite("Atomic writes and I/O errors")
struct AtomicFileWriterTests {
    @Test("I/O errors say which operation failed and its errno, reading or writing")
    func ioErrorsCarryOperationAndErrno() throws {
        let directory = try TemporaryDirectory()
        do {
            _ = try ContainerFile(path: directory.file("missing.lrm"))
            Issue.record("opening a missing file succeeded")
        } catch let error as ContainerError {
            #expect(error.kind == .io && error.operation == .open && error.errorNumber == ENOENT)
            #expect(error.operation?.isWriting == false)
        }
        do {
            _ = try AtomicFileWriter(path: directory.file("no/such/folder/x.lrm"))
            Issue.record("creating a file in a missing folder succeeded")
        } catch let error as ContainerError {
            #expect(error.kind == .io && error.operation == .createTemporary && error.errorNumber == ENOENT)
            #expect(error.operation?.isWriting == true)
        }
        // Renaming over a non-empty directory fails after the data is written.
        let occupied = directory.file("occupied")
        try FileManager.default.createDirectory(atPath: occupied + "/inside", withIntermediateDirectories: true)
        let writer = try AtomicFileWriter(path: occupied)
        try writer.write([1, 2, 3])
        #expect {
            try writer.commit()
        } throws: { error in
            (error as? ContainerError)?.operation == .rename && (error as? ContainerError)?.errorNumber != nil
        }
        #expect(try directory.contents() == ["occupied"])
    }

    @Test("a file written by name through replace appears whole or not at all")
    func replaceByName() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.bin")
        try AtomicFileWriter.replace(path) { temporary in
            #expect(temporary != path && temporary.contains(".out.bin.tmp-"))
            try Data([7, 8]).write(to: URL(fileURLWithPath: temporary))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([7, 8]))
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try AtomicFileWriter.replace(path) { temporary in
                try Data([9]).write(to: URL(fileURLWithPath: temporary))
                throw Stop()
            }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([7, 8]))
        #expect(try directory.contents() == ["out.bin"])
    }
}
