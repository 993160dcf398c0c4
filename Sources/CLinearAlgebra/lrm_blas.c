// Row-major BLAS wrappers. They never run the kernel selection (see lrm_blas_prepare).
#include "CLinearAlgebra.h"

#include <cblas.h>

_Static_assert(sizeof(blasint) == sizeof(int32_t), "lrm expects a 32-bit-integer (LP64) BLAS");

static enum CBLAS_TRANSPOSE transpose_flag(bool transpose) {
    return transpose ? CblasTrans : CblasNoTrans;
}

void lrm_sgemm(bool transpose_a, bool transpose_b, int32_t m, int32_t n, int32_t k,
               float alpha, const float *a, int32_t lda, const float *b, int32_t ldb,
               float beta, float *c, int32_t ldc) {
    cblas_sgemm(CblasRowMajor, transpose_flag(transpose_a), transpose_flag(transpose_b),
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void lrm_dgemm(bool transpose_a, bool transpose_b, int32_t m, int32_t n, int32_t k,
               double alpha, const double *a, int32_t lda, const double *b, int32_t ldb,
               double beta, double *c, int32_t ldc) {
    cblas_dgemm(CblasRowMajor, transpose_flag(transpose_a), transpose_flag(transpose_b),
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void lrm_ssyrk(bool transpose, int32_t n, int32_t k, float alpha, const float *a, int32_t lda,
               float beta, float *c, int32_t ldc) {
    cblas_ssyrk(CblasRowMajor, CblasLower, transpose_flag(transpose), n, k, alpha, a, lda,
                beta, c, ldc);
}

void lrm_dsyrk(bool transpose, int32_t n, int32_t k, double alpha, const double *a, int32_t lda,
               double beta, double *c, int32_t ldc) {
    cblas_dsyrk(CblasRowMajor, CblasLower, transpose_flag(transpose), n, k, alpha, a, lda,
                beta, c, ldc);
}

void lrm_strsm(bool right_side, bool transpose_l, int32_t m, int32_t n, float alpha,
               const float *l, int32_t ldl, float *b, int32_t ldb) {
    cblas_strsm(CblasRowMajor, right_side ? CblasRight : CblasLeft, CblasLower,
                transpose_flag(transpose_l), CblasNonUnit, m, n, alpha, l, ldl, b, ldb);
}
