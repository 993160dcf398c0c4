import Foundation
import LRMTestSupport
import Testing

/// Warnings reach the terminal as errors do: one line, control characters from names written as `\u{…}`.
@Suite("Warning lines")
struct WarningTextCLITests {
    /// Before: `printWarning` wrote its message as it was (only line breaks replaced), so an escape sequence in a file
    /// name given on the command line reached the terminal, where `lrm: error:` lines write it as `\u{1b}`.
    @Test("a warning naming a file whose name holds ESC writes it as \\u{1b}, as an error line would")
    func controlCharactersInWarnings() throws {
        let scratch = try Scratch()
        let fixture = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/mlp.h5"   // Rescaling(0.5, offset=0.25)
        let named = scratch.file("m\u{1b}[2J.h5")
        try FileManager.default.copyItem(atPath: fixture, toPath: named)
        let result = try ChildProcess.run(["convert", named, "--input-scale", "1", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("m\\u{1b}[2J.h5: --input-scale 1 replaces the model's own input scale 1/2"), "\(result.stderr)")
        #expect(!result.stderr.contains("\u{1b}"), "\(result.stderr)")
    }
}
