// LAPACKE, found through pkg-config (`lapacke.pc`). Only CLinearAlgebra's .c files use it.
#include <lapacke.h>
