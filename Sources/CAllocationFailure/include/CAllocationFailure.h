// CAllocationFailure: one line instead of a crash report when the Swift runtime cannot allocate.
//
// The Swift runtime ends the process when malloc returns NULL (swift_slowAlloc: "Fatal error: failed to
// allocate N bytes", then abort and a backtrace of every thread). This target, linked into the `lrm`
// executable only, defines `malloc`: it forwards to glibc's (`__libc_malloc`), and when that fails for a
// caller inside the Swift runtime (libswiftCore, whose failures always end the process) and a handler is
// set, it prints one line on stderr — `lrm: error: out of memory: could not allocate …`, with the
// address-space limit when there is one — and calls the handler, which removes what the command was
// writing and exits. Other callers (libhdf5, LAPACKE, …) get NULL as before and report it themselves.
#ifndef LRM_CALLOCATIONFAILURE_H
#define LRM_CALLOCATIONFAILURE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What runs after the line is printed: it must end the process (the exit status is up to it). If it
/// returns, or does not end the process within 5 seconds, or fails to allocate in turn, the process
/// exits with status 71 (EX_OSERR).
typedef void (*lrm_allocation_failure_handler)(void);

/// Sets the handler (NULL: none; failures then go on to the Swift runtime's report, as without this target).
void lrm_set_allocation_failure_handler(lrm_allocation_failure_handler handler);

/// Formats the one-line message for a failed allocation of `size` bytes into `buffer` (NUL-terminated,
/// without "lrm: error: " and the newline); returns its length. Allocates nothing. For tests and the report.
int lrm_allocation_failure_message(size_t size, char *buffer, size_t capacity);

/// Makes every thread allocate from glibc's main arena (`mallopt(M_ARENA_MAX, 1)`): otherwise each thread
/// that allocates reserves an arena of 64 MiB of address space, which under `ulimit -v` is room lost.
void lrm_share_one_malloc_arena(void);

#ifdef __cplusplus
}
#endif

#endif
