#ifndef LRM_FUZZ_ENGINE_SHIM_H
#define LRM_FUZZ_ENGINE_SHIM_H

// libFuzzer's entry point for programs that have their own main (LLVM 11 and later). SwiftPM links
// every executable with `main` aliased to the module's own entry point, so the fuzz targets cannot use
// libFuzzer's main; they call this instead. Only referenced when built with -DLRM_FUZZING, where
// -sanitize=fuzzer links libFuzzer; a normal build never calls it and so never needs the symbol.

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
