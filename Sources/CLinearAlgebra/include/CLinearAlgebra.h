#ifndef LRM_CLINEARALGEBRA_H
#define LRM_CLINEARALGEBRA_H
int lrm_blas_placeholder(void);
#endif
