#include "CLinearAlgebra.h"
int lrm_blas_placeholder(void) { return 0; }
