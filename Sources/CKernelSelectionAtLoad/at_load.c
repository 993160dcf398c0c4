// Runs the kernel selection when the program is loaded: after OpenBLAS's own constructor
// (shared libraries are initialised before the objects that depend on them) and before `main`
// starts any thread, so the short in-process setenv/unsetenv of a switch cannot race with
// another thread reading the environment, and no BLAS call can precede it.
#include "CLinearAlgebra.h"
#include "CKernelSelectionAtLoad.h"

__attribute__((constructor)) static void lrm_select_kernels_at_load(void) {
    (void)lrm_blas_prepare();
}
