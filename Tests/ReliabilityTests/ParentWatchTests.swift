import Foundation
@testable import lrm
import Testing

/// The Keras reader child's watch on its parent (``ParentWatch``): it ends the child once the parent is gone, and
/// lives only as long as the read (``ParentWatch/stop()`` joins its thread). `parentKilled` in ``KerasChildTests`` runs
/// it through `lrm`.
@Suite("The reader child's watch on its parent")
struct ParentWatchTests {
    @Test("a watch whose parent is gone ends the process with exit 65 at once")
    func endsWhenParentGone() async {
        await #expect(processExitsWith: .exitCode(65)) {
            // No process has id -1: to the watch, the parent is gone.
            let watch = ParentWatch(parent: -1)
            if watch == nil { exit(3) }
            sleep(10)
            exit(0)
        }
    }

    @Test("stop() wakes the watch's thread and joins it at once; a stopped watch leaves the process running")
    func stopJoins() throws {
        for _ in 0..<5 {
            let watch = try #require(ParentWatch(parent: getppid()))
            usleep(20_000)
            let start = DispatchTime.now()
            watch.stop()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            #expect(seconds < 1, "stop() took \(seconds) s")
            watch.stop()  // a second stop does nothing
        }
    }
}
