// CLinearAlgebra: the only place where lrm talks to BLAS, LAPACK(E) and OpenBLAS.
//
// Swift cannot see `lapack_int`, `blasint` or the CBLAS enums well (they are macros or
// build-dependent typedefs), so every function here takes plain `int32_t` sizes and
// `int32_t` flags, and the CBLAS/LAPACKE headers are included only by the .c files.
//
// The kernel selection (`lrm_blas_prepare()`, below) never runs on its own from a library:
// a program asks for it, first thing, before it starts threads. The `lrm` and `lrm-bench`
// executables do so at load time through the CKernelSelectionAtLoad target; a program that
// embeds lrm's libraries calls `BLASRuntime.prepare()` or keeps OpenBLAS's own choice.
//
// Layouts: the `lrm_?gemm`, `lrm_?syrk`, `lrm_?trsm` wrappers are ROW-MAJOR (C order,
// leading dimension = row stride). The LAPACK wrappers (`gesdd`, `geqrf`, `orgqr`,
// `potrf`) are COLUMN-MAJOR (Fortran order). A row-major r×c buffer is the column-major
// c×r matrix (its transpose), which the Swift layer uses to avoid copies.
#ifndef LRM_CLINEARALGEBRA_H
#define LRM_CLINEARALGEBRA_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Kernel selection

/// What `lrm_blas_prepare` did about OpenBLAS's kernel choice.
typedef enum __attribute__((enum_extensibility(closed))) lrm_kernel_decision {
    /// OpenBLAS picked a core that uses the CPU's vector units: kept.
    LRM_KERNELS_LIBRARY_CHOICE = 0,
    /// OpenBLAS fell back to generic kernels on a CPU with AVX2/AVX-512: switched.
    LRM_KERNELS_UPGRADED = 1,
    /// `OPENBLAS_CORETYPE` or `OPENBLAS_L2_SIZE` is set: respected, nothing changed.
    LRM_KERNELS_ENVIRONMENT = 2,
    /// `LRM_BLAS_KERNELS=library`: OpenBLAS's own choice kept on request.
    LRM_KERNELS_OPTED_OUT = 3,
    /// `LRM_BLAS_KERNELS=generic-only`: generic Prescott kernels forced and kept (benchmarks).
    LRM_KERNELS_FORCED_GENERIC = 4,
    /// The BLAS is not a DYNAMIC_ARCH OpenBLAS (or not x86-64): nothing can be switched.
    LRM_KERNELS_NOT_SWITCHABLE = 5,
    /// OpenBLAS uses a generic core, but the CPU/OS offer nothing faster (no AVX2+FMA).
    LRM_KERNELS_FALLBACK_KEPT = 6,
    /// An upgrade was attempted but could not be verified; the previous core was restored.
    LRM_KERNELS_UPGRADE_FAILED = 7,
} lrm_kernel_decision;

/// CPU features as seen by `cpuid` and `xgetbv` (all false off x86-64).
typedef struct lrm_cpu_features {
    const char *vendor;   ///< "GenuineIntel", "AuthenticAMD", … or "" when unknown.
    int32_t family;       ///< Display family (base + extended).
    int32_t model;        ///< Display model (base + extended << 4).
    bool avx2_fma;        ///< AVX2 and FMA3, and the OS saves YMM state.
    bool avx512;          ///< AVX-512 F, CD, BW, DQ, VL, and the OS saves ZMM/opmask state.
} lrm_cpu_features;

/// The outcome of the kernel selection. All strings are owned by the library, never
/// change after `lrm_blas_prepare` returns, and are never NULL ("" when unknown).
typedef struct lrm_blas_report {
    lrm_kernel_decision decision;
    bool is_openblas;
    bool forced_generic_first;   ///< `LRM_BLAS_KERNELS=generic` forced Prescott before the rules ran.
    const char *library_core;    ///< The core OpenBLAS chose when it was loaded.
    const char *active_core;     ///< The core in use now (read back with `openblas_get_corename`).
    const char *reason;          ///< Why, e.g. "upgraded from Prescott: CPU has AVX-512".
    const char *summary;         ///< e.g. "SkylakeX (upgraded from Prescott: CPU has AVX-512)".
    const char *config;          ///< `openblas_get_config()` after the selection.
    const char *kernels_setting; ///< The value of `LRM_BLAS_KERNELS` at preparation.
    const char *env_coretype;    ///< The value of `OPENBLAS_CORETYPE` at preparation, "" if unset.
    const char *env_l2_size;     ///< The value of `OPENBLAS_L2_SIZE` at preparation, "" if unset.
    lrm_cpu_features cpu;
} lrm_blas_report;

/// Runs the kernel selection exactly once per process (pthread_once) and returns its
/// report. Rules, in order:
/// 1. `OPENBLAS_CORETYPE` or `OPENBLAS_L2_SIZE` set: nothing is changed.
/// 2. OpenBLAS-specific symbols are looked up with `dlsym(RTLD_DEFAULT, …)`; another BLAS
///    (or OpenBLAS without DYNAMIC_ARCH) is left alone.
/// 3. `LRM_BLAS_KERNELS=library`: OpenBLAS's choice is kept.
///    `LRM_BLAS_KERNELS=generic`: Prescott is forced first, then rule 4 runs (test hook).
///    `LRM_BLAS_KERNELS=generic-only`: Prescott is forced and kept (benchmark baseline).
/// 4. If the core in use is a generic SSE-era fallback (Prescott, Core2, Nehalem, …) and the
///    CPU and OS support AVX-512 → SkylakeX; AVX2+FMA → Zen on AMD/Hygon, Haswell otherwise.
///    The switch is verified by reading the core name back and by exact integer-valued
///    sgemm/dgemm checks; on failure the previous core is restored.
/// Runs only when called (CKernelSelectionAtLoad calls it at load time in lrm's executables).
/// Call it before any other use of BLAS and before starting threads: a switch briefly sets
/// OPENBLAS_CORETYPE in the process environment.
const lrm_blas_report *lrm_blas_prepare(void);

/// The rule of step 4 alone, for tests: the core to switch to when OpenBLAS uses `core` on
/// a CPU with `cpu`'s features, or NULL to keep `core` (not a generic fallback, or nothing
/// faster for this CPU or in this library). Does not run the selection or change anything.
const char *lrm_blas_upgrade_target(const char *core, lrm_cpu_features cpu);

/// OpenBLAS's thread count, or -1 if the BLAS does not expose one.
int32_t lrm_blas_thread_count(void);

/// Sets OpenBLAS's thread count; returns false if the BLAS does not support it.
bool lrm_blas_set_thread_count(int32_t count);

/// Ends OpenBLAS's worker threads (`blas_thread_shutdown_`, what OpenBLAS itself does before a fork)
/// when its thread count is 1: they would otherwise spin in `sched_yield` for a while after start-up
/// and after the kernel check. OpenBLAS starts them again if a later call wants more than one thread.
/// Call it only while no other thread uses BLAS. Returns whether they were ended.
bool lrm_blas_stop_idle_threads(void);

// MARK: - Address space (`ulimit -v`) and OpenBLAS's work buffer

/// The soft address-space limit (RLIMIT_AS) in bytes, or -1 when there is none.
int64_t lrm_address_space_limit(void);

/// The bytes this process has mapped now (what RLIMIT_AS is compared with), or -1 if unknown.
/// Allocates nothing.
int64_t lrm_address_space_in_use(void);

/// Runs one small sgemm, which makes OpenBLAS map its work buffer if it has none free (OpenBLAS
/// keeps it mapped and reuses it for every later call that does not overlap another), and returns
/// the bytes that the call mapped (0 when a buffer was there already; -1 if unknown). Under an
/// address-space limit, call it only with room for the buffer: OpenBLAS retries a failed mapping for ever.
int64_t lrm_blas_take_work_buffer(void);

// MARK: - BLAS (row-major)

/// C = alpha·op(A)·op(B) + beta·C, row-major; op(A) is m×k, op(B) is k×n, C is m×n.
/// The corresponding C function is `cblas_sgemm`.
void lrm_sgemm(bool transpose_a, bool transpose_b, int32_t m, int32_t n, int32_t k,
               float alpha, const float *a, int32_t lda, const float *b, int32_t ldb,
               float beta, float *c, int32_t ldc);

/// Double-precision `lrm_sgemm`. The corresponding C function is `cblas_dgemm`.
void lrm_dgemm(bool transpose_a, bool transpose_b, int32_t m, int32_t n, int32_t k,
               double alpha, const double *a, int32_t lda, const double *b, int32_t ldb,
               double beta, double *c, int32_t ldc);

/// C = alpha·op(A)·op(A)ᵀ + beta·C on the lower triangle of the n×n row-major C, where
/// op(A) is n×k (`transpose` false: A is n×k; true: A is k×n, giving AᵀA).
/// The corresponding C function is `cblas_ssyrk`.
void lrm_ssyrk(bool transpose, int32_t n, int32_t k, float alpha, const float *a, int32_t lda,
               float beta, float *c, int32_t ldc);

/// Double-precision `lrm_ssyrk`. The corresponding C function is `cblas_dsyrk`.
void lrm_dsyrk(bool transpose, int32_t n, int32_t k, double alpha, const double *a, int32_t lda,
               double beta, double *c, int32_t ldc);

/// Solves op(L)·X = alpha·B (left) or X·op(L) = alpha·B (right) in place of the m×n
/// row-major B, with L lower triangular, non-unit diagonal.
/// The corresponding C function is `cblas_strsm`.
void lrm_strsm(bool right_side, bool transpose_l, int32_t m, int32_t n, float alpha,
               const float *l, int32_t ldl, float *b, int32_t ldb);

// MARK: - LAPACK (column-major). Each returns LAPACK's `info`:
// 0 success; < 0 argument -info was invalid (-1010/-1011: LAPACKE could not allocate
// workspace); > 0 routine-specific failure (no convergence, not positive definite).

/// Thin SVD of the column-major m×n A (destroyed): A = U·diag(s)·VT with r = min(m, n),
/// U m×r (ldu ≥ m), s r values descending, VT r×n (ldvt ≥ r). jobz 'S'.
/// The corresponding C function is `LAPACKE_sgesdd`.
int32_t lrm_sgesdd(int32_t m, int32_t n, float *a, int32_t lda, float *s,
                   float *u, int32_t ldu, float *vt, int32_t ldvt);

/// Double-precision `lrm_sgesdd`. The corresponding C function is `LAPACKE_dgesdd`.
int32_t lrm_dgesdd(int32_t m, int32_t n, double *a, int32_t lda, double *s,
                   double *u, int32_t ldu, double *vt, int32_t ldvt);

/// Singular values only of the column-major m×n A (destroyed): min(m, n) values, descending,
/// no vectors computed (jobz 'N'). The corresponding C function is `LAPACKE_sgesdd`.
int32_t lrm_sgesdd_values(int32_t m, int32_t n, float *a, int32_t lda, float *s);

/// Double-precision `lrm_sgesdd_values`. The corresponding C function is `LAPACKE_dgesdd`.
int32_t lrm_dgesdd_values(int32_t m, int32_t n, double *a, int32_t lda, double *s);

/// Reduces the symmetric column-major n×n A (lower triangle) to tridiagonal form Qᵀ·A·Q = T:
/// diagonal in d (n), off-diagonal in e (n − 1), the reflectors of Q below the diagonal of A and
/// their scalars in tau (n − 1). `LAPACKE_dsytrd`, uplo 'L'.
int32_t lrm_dsytrd(int32_t n, double *a, int32_t lda, double *d, double *e, double *tau);

/// Eigenvalues (ascending, into d) of the symmetric tridiagonal matrix (d, e); e destroyed. `LAPACKE_dsterf`.
int32_t lrm_dsterf(int32_t n, double *d, double *e);

/// Eigenvalues (ascending, into d) and eigenvectors (columns of the column-major n×n z) of the
/// symmetric tridiagonal matrix (d, e), divide and conquer; e destroyed. `LAPACKE_dstedc`, compz 'I'.
int32_t lrm_dstedc(int32_t n, double *d, double *e, double *z, int32_t ldz);

/// C (n×columns, column-major) = Q·C for the Q of `lrm_dsytrd` (reflectors in a, scalars in tau).
/// `LAPACKE_dormtr`, side 'L', uplo 'L', trans 'N'.
int32_t lrm_dormtr(int32_t n, int32_t columns, const double *a, int32_t lda, const double *tau, double *c, int32_t ldc);

/// QR factorization of the column-major m×n A in place (R above the diagonal,
/// Householder vectors below, min(m, n) scalars in tau). `LAPACKE_sgeqrf`.
int32_t lrm_sgeqrf(int32_t m, int32_t n, float *a, int32_t lda, float *tau);
/// Double-precision `lrm_sgeqrf`. `LAPACKE_dgeqrf`.
int32_t lrm_dgeqrf(int32_t m, int32_t n, double *a, int32_t lda, double *tau);

/// Forms the first n columns of Q (m×n, m ≥ n ≥ k) from `lrm_sgeqrf`'s output. `LAPACKE_sorgqr`.
int32_t lrm_sorgqr(int32_t m, int32_t n, int32_t k, float *a, int32_t lda, const float *tau);
/// Double-precision `lrm_sorgqr`. `LAPACKE_dorgqr`.
int32_t lrm_dorgqr(int32_t m, int32_t n, int32_t k, double *a, int32_t lda, const double *tau);

/// Cholesky factorization of the column-major symmetric positive definite n×n A in place.
/// `upper` true: A = UᵀU, U in the upper triangle (the row-major lower triangle L with
/// A = L·Lᵀ); the other triangle is not referenced. `LAPACKE_spotrf`.
int32_t lrm_spotrf(bool upper, int32_t n, float *a, int32_t lda);
/// Double-precision `lrm_spotrf`. `LAPACKE_dpotrf`.
int32_t lrm_dpotrf(bool upper, int32_t n, double *a, int32_t lda);

#ifdef __cplusplus
}
#endif

#endif
