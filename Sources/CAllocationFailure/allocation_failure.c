// See CAllocationFailure.h.
#define _GNU_SOURCE
#include "CAllocationFailure.h"
#include "CLinearAlgebra.h"

#include <dlfcn.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);

static _Atomic(lrm_allocation_failure_handler) failure_handler = NULL;
/// The load address of the library that holds swift_slowAlloc (libswiftCore), set with the handler.
static void *_Atomic swift_runtime_base = NULL;
static atomic_flag handling = ATOMIC_FLAG_INIT;

enum { exit_status = 71 };

void lrm_set_allocation_failure_handler(lrm_allocation_failure_handler handler) {
    Dl_info info;
    void *symbol = dlsym(RTLD_DEFAULT, "swift_slowAlloc");
    if (symbol != NULL && dladdr(symbol, &info) != 0) atomic_store(&swift_runtime_base, info.dli_fbase);
    atomic_store(&failure_handler, handler);
}

int lrm_allocation_failure_message(size_t size, char *buffer, size_t capacity) {
    double mib = (double)size / (1 << 20);
    struct rlimit limit;
    int length;
    if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        int64_t used = lrm_address_space_in_use();
        length = snprintf(buffer, capacity,
                          "out of memory: could not allocate %.1f MiB (%zu bytes) under the address-space limit "
                          "(ulimit -v %llu KiB, %.1f MiB in use); raise the limit or use a smaller model or data set",
                          mib, size, (unsigned long long)(limit.rlim_cur >> 10), used < 0 ? 0.0 : (double)used / (1 << 20));
    } else {
        length = snprintf(buffer, capacity, "out of memory: could not allocate %.1f MiB (%zu bytes)", mib, size);
    }
    return length < 0 ? 0 : (size_t)length >= capacity ? (int)capacity - 1 : length;
}

static void exit_on_alarm(int signal) {
    (void)signal;
    _exit(exit_status);
}

static void report_and_exit(size_t size, lrm_allocation_failure_handler handler) {
    // A second failure while this one is handled (the handler allocates) ends the process at once.
    if (atomic_flag_test_and_set(&handling)) _exit(exit_status);
    char line[512] = "lrm: error: ";
    size_t prefix = strlen(line);
    int length = lrm_allocation_failure_message(size, line + prefix, sizeof line - prefix - 1);
    size_t total = prefix + (size_t)length;
    line[total++] = '\n';
    ssize_t ignored = write(2, line, total);
    (void)ignored;
    // The handler takes locks: if the failing thread holds one, it would wait for ever.
    signal(SIGALRM, exit_on_alarm);
    alarm(5);
    handler();
    _exit(exit_status);
}

void *malloc(size_t size) {
    void *pointer = __libc_malloc(size);
    if (__builtin_expect(pointer == NULL && size > 0, 0)) {
        lrm_allocation_failure_handler handler = atomic_load(&failure_handler);
        void *runtime = atomic_load(&swift_runtime_base);
        Dl_info info;
        if (handler != NULL && runtime != NULL && dladdr(__builtin_return_address(0), &info) != 0 && info.dli_fbase == runtime)
            report_and_exit(size, handler);
    }
    return pointer;
}

void lrm_share_one_malloc_arena(void) {
    mallopt(M_ARENA_MAX, 1);
}
