import FuzzTargets

/// The keras-config fuzz target (see `KerasConfigFuzzTarget`). `tools/fuzz.sh keras-config SECONDS` builds it with libFuzzer and runs it;
/// a normal build replays the files given as arguments.
@main
enum FuzzKerasConfig {
    static func main() {
        FuzzDriver.main(name: "FuzzKerasConfig", testOneInput)
    }
}

/// One input; a violated property traps, which libFuzzer records as a crash.
#if LRM_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
#endif
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzDriver.check(KerasConfigFuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}
