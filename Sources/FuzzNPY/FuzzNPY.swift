import FuzzTargets

/// The npy fuzz target (see `NPYFuzzTarget`). `tools/fuzz.sh npy SECONDS` builds it with libFuzzer and runs it;
/// a normal build replays the files given as arguments.
@main
enum FuzzNPY {
    static func main() {
        FuzzDriver.main(name: "FuzzNPY", testOneInput)
    }
}

/// One input; a violated property traps, which libFuzzer records as a crash.
#if LRM_FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
#endif
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzDriver.check(NPYFuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}
