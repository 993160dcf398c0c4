// Column-major LAPACKE wrappers returning LAPACK's `info` as int32_t.
#include "CLinearAlgebra.h"

#include <lapacke.h>

_Static_assert(sizeof(lapack_int) == sizeof(int32_t), "lrm expects a 32-bit-integer (LP64) LAPACKE");

int32_t lrm_sgesdd(int32_t m, int32_t n, float *a, int32_t lda, float *s,
                   float *u, int32_t ldu, float *vt, int32_t ldvt) {
    return LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'S', m, n, a, lda, s, u, ldu, vt, ldvt);
}

int32_t lrm_dgesdd(int32_t m, int32_t n, double *a, int32_t lda, double *s,
                   double *u, int32_t ldu, double *vt, int32_t ldvt) {
    return LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', m, n, a, lda, s, u, ldu, vt, ldvt);
}

int32_t lrm_sgesdd_values(int32_t m, int32_t n, float *a, int32_t lda, float *s) {
    return LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'N', m, n, a, lda, s, NULL, 1, NULL, 1);
}

int32_t lrm_dgesdd_values(int32_t m, int32_t n, double *a, int32_t lda, double *s) {
    return LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', m, n, a, lda, s, NULL, 1, NULL, 1);
}

int32_t lrm_sgeqrf(int32_t m, int32_t n, float *a, int32_t lda, float *tau) {
    return LAPACKE_sgeqrf(LAPACK_COL_MAJOR, m, n, a, lda, tau);
}

int32_t lrm_dgeqrf(int32_t m, int32_t n, double *a, int32_t lda, double *tau) {
    return LAPACKE_dgeqrf(LAPACK_COL_MAJOR, m, n, a, lda, tau);
}

int32_t lrm_sorgqr(int32_t m, int32_t n, int32_t k, float *a, int32_t lda, const float *tau) {
    return LAPACKE_sorgqr(LAPACK_COL_MAJOR, m, n, k, a, lda, tau);
}

int32_t lrm_dorgqr(int32_t m, int32_t n, int32_t k, double *a, int32_t lda, const double *tau) {
    return LAPACKE_dorgqr(LAPACK_COL_MAJOR, m, n, k, a, lda, tau);
}

int32_t lrm_spotrf(bool upper, int32_t n, float *a, int32_t lda) {
    return LAPACKE_spotrf(LAPACK_COL_MAJOR, upper ? 'U' : 'L', n, a, lda);
}

int32_t lrm_dpotrf(bool upper, int32_t n, double *a, int32_t lda) {
    return LAPACKE_dpotrf(LAPACK_COL_MAJOR, upper ? 'U' : 'L', n, a, lda);
}

int32_t lrm_dsytrd(int32_t n, double *a, int32_t lda, double *d, double *e, double *tau) {
    return LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'L', n, a, lda, d, e, tau);
}

int32_t lrm_dsterf(int32_t n, double *d, double *e) {
    return LAPACKE_dsterf(n, d, e);
}

int32_t lrm_dstedc(int32_t n, double *d, double *e, double *z, int32_t ldz) {
    return LAPACKE_dstedc(LAPACK_COL_MAJOR, 'I', n, d, e, z, ldz);
}

int32_t lrm_dormtr(int32_t n, int32_t columns, const double *a, int32_t lda, const double *tau, double *c, int32_t ldc) {
    return LAPACKE_dormtr(LAPACK_COL_MAJOR, 'L', 'L', 'N', n, columns, a, lda, tau, c, ldc);
}
