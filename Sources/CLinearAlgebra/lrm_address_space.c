// The address space under `ulimit -v` (RLIMIT_AS), and OpenBLAS's work buffer.
//
// OpenBLAS 0.3.21 (driver/others/memory.c, blas_memory_alloc) gives every level-2/3 call a work
// buffer of BUFFER_SIZE bytes (128 MiB in Debian's x86-64 build: measured, a 1×1 sgemm maps
// 134,217,728 bytes). It maps one the first time a call needs it, keeps it mapped for the rest of
// the process and hands it to the next call that finds it free; calls running at the same time
// need one each. When neither mmap nor malloc can give one, it tries again, for ever: under an
// address-space limit that is too low, a BLAS call never returns. These functions let lrm check
// the room first and take the buffer while there is room.
#include "CLinearAlgebra.h"

#include <cblas.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

int64_t lrm_address_space_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return -1;
    return limit.rlim_cur > (rlim_t)INT64_MAX ? INT64_MAX : (int64_t)limit.rlim_cur;
}

int64_t lrm_address_space_in_use(void) {
    // The first field of /proc/self/statm is the size of every mapping in pages: what the kernel
    // compares with RLIMIT_AS. Read with open/read only (no allocation: also called when malloc failed).
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[32];
    ssize_t count = read(fd, text, sizeof text);
    close(fd);
    int64_t pages = 0;
    ssize_t i = 0;
    for (; i < count && text[i] >= '0' && text[i] <= '9'; i++) pages = pages * 10 + (text[i] - '0');
    if (i == 0) return -1;
    long page = sysconf(_SC_PAGESIZE);
    return pages * (page > 0 ? page : 4096);
}

int64_t lrm_blas_take_work_buffer(void) {
    // 128×128 by 128×128, beta 1 and B transposed: large enough that no small-matrix or direct kernel
    // (SkylakeX's, for products under 64³ or with beta 0) skips the buffer. Static operands: nothing
    // is allocated here but what OpenBLAS maps.
    enum { N = 128 };
    static float a[N * N], b[N * N], c[N * N];
    int64_t before = lrm_address_space_in_use();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0f, a, N, b, N, 1.0f, c, N);
    int64_t after = lrm_address_space_in_use();
    return before < 0 || after < 0 ? -1 : after - before;
}
