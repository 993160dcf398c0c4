// OpenBLAS's CBLAS, found through pkg-config (`openblas.pc`: include and library folders).
// Only CLinearAlgebra's .c files use it; Swift code goes through CLinearAlgebra.
#include <cblas.h>
