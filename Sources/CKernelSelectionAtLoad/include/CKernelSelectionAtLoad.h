// CKernelSelectionAtLoad: linked into lrm's executables (and so into the test bundle, which
// links the `lrm` module) to run OpenBLAS kernel selection when the program is loaded.
// It has no API; libraries never depend on it (see CLinearAlgebra.h, lrm_blas_prepare).
#ifndef LRM_CKERNELSELECTIONATLOAD_H
#define LRM_CKERNELSELECTIONATLOAD_H
#endif
