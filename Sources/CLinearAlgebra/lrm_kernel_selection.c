// Kernel selection for a DYNAMIC_ARCH OpenBLAS (see lrm_blas_prepare in CLinearAlgebra.h).
//
// Debian's OpenBLAS 0.3.21 falls back to its generic "Prescott" kernels on CPUs it does not
// recognise (e.g. Intel family 6 model 207): 5x slower sgemm. OpenBLAS reads
// OPENBLAS_CORETYPE only in gotoblas_dynamic_init, which its constructor runs at load time;
// running gotoblas_dynamic_quit + gotoblas_dynamic_init again with the variable set
// in-process selects another core table and runs that table's own init. The variable is
// removed again right after, so child processes inherit the user's environment untouched.
// All OpenBLAS-only symbols are found with dlsym, so any other BLAS simply keeps its kernels.
#define _GNU_SOURCE
#include "CLinearAlgebra.h"

#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

typedef char *(*string_function)(void);
typedef void (*void_function)(void);
typedef int (*int_function)(void);
typedef void (*set_threads_function)(int);

/// The OpenBLAS entry points that the selection needs; all NULL for another BLAS.
typedef struct openblas_symbols {
    string_function get_corename;
    string_function get_config;
    void_function dynamic_init;
    void_function dynamic_quit;
    void **gotoblas;
} openblas_symbols;

static pthread_once_t prepare_once = PTHREAD_ONCE_INIT;
static lrm_blas_report report;

static char library_core[64];
static char active_core[64];
static char reason[256];
static char summary[384];
static char config[256];
static char kernels_setting[64];
static char env_coretype[64];
static char env_l2_size[64];
static char cpu_vendor[16];

static void copy_string(char *destination, size_t capacity, const char *source) {
    snprintf(destination, capacity, "%s", source != NULL ? source : "");
}

// MARK: - CPU features

static void detect_cpu(lrm_cpu_features *cpu) {
    cpu->vendor = cpu_vendor;
#if defined(__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
    unsigned int max_leaf = eax;
    memcpy(cpu_vendor, &ebx, 4);
    memcpy(cpu_vendor + 4, &edx, 4);
    memcpy(cpu_vendor + 8, &ecx, 4);
    cpu_vendor[12] = '\0';

    __get_cpuid(1, &eax, &ebx, &ecx, &edx);
    unsigned int base_family = (eax >> 8) & 0xf, base_model = (eax >> 4) & 0xf;
    cpu->family = (int32_t)(base_family == 0xf ? base_family + ((eax >> 20) & 0xff) : base_family);
    cpu->model = (int32_t)((base_family == 0x6 || base_family == 0xf)
                               ? base_model + (((eax >> 16) & 0xf) << 4) : base_model);
    bool fma = ecx & (1u << 12), osxsave = ecx & (1u << 27), avx = ecx & (1u << 28);
    if (!osxsave || !avx || max_leaf < 7) return;

    unsigned int xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    bool os_ymm = (xcr0_low & 0x06) == 0x06;          // SSE and AVX state
    bool os_zmm = (xcr0_low & 0xe6) == 0xe6;          // + opmask, ZMM_Hi256, Hi16_ZMM

    __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx);
    bool avx2 = ebx & (1u << 5);
    unsigned int avx512_bits = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    cpu->avx2_fma = os_ymm && avx2 && fma;            // F, DQ, CD, BW, VL above
    cpu->avx512 = cpu->avx2_fma && os_zmm && (ebx & avx512_bits) == avx512_bits;
#endif
}

// MARK: - OpenBLAS

static openblas_symbols find_openblas(void) {
    openblas_symbols symbols = {
        .get_corename = (string_function)dlsym(RTLD_DEFAULT, "openblas_get_corename"),
        .get_config = (string_function)dlsym(RTLD_DEFAULT, "openblas_get_config"),
        .dynamic_init = (void_function)dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"),
        .dynamic_quit = (void_function)dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"),
        .gotoblas = (void **)dlsym(RTLD_DEFAULT, "gotoblas"),
    };
    return symbols;
}

static const char *current_core(const openblas_symbols *symbols) {
    const char *name = symbols->get_corename();
    return name != NULL ? name : "";
}

/// SSE-era cores that OpenBLAS uses as fallbacks; none of them uses AVX.
static bool is_generic_core(const char *core) {
    static const char *const generic[] = {
        "Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2",
        "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona",
        "Nano", "Bobcat",
    };
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcasecmp(core, generic[i]) == 0) return true;
    return false;
}

/// True if the library contains the kernel table `gotoblas_<NAME>` for a core name.
static bool library_has_core(const char *core) {
    char symbol[64] = "gotoblas_";
    size_t offset = strlen(symbol);
    for (size_t i = 0; core[i] != '\0' && offset + 1 < sizeof symbol; i++)
        symbol[offset++] = (char)(core[i] >= 'a' && core[i] <= 'z' ? core[i] - 32 : core[i]);
    symbol[offset] = '\0';
    return dlsym(RTLD_DEFAULT, symbol) != NULL;
}

/// Re-runs OpenBLAS's dynamic initialisation with OPENBLAS_CORETYPE=core set only for the
/// duration of the call (callers have checked that the variable was unset), then reports
/// whether the library now says it uses that core.
static bool switch_core(const openblas_symbols *symbols, const char *core) {
    symbols->dynamic_quit();
    setenv("OPENBLAS_CORETYPE", core, 1);
    symbols->dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    return strcasecmp(current_core(symbols), core) == 0;
}

/// Exact check of the kernels now in use: integer-valued products are exact in float and
/// double, so any difference from the naive loop means a broken kernel table. Odd shapes
/// exercise the edge kernels; transposes exercise the packing routines.
static bool kernels_compute_correctly(void) {
    enum { M = 67, N = 45, K = 96 };
    static float a[M * K], b[K * N], c[M * N];
    static double ad[M * K], bd[K * N], cd[M * N];
    for (int i = 0; i < M * K; i++) ad[i] = a[i] = (float)((i * 7 + 3) % 13 - 6);
    for (int i = 0; i < K * N; i++) bd[i] = b[i] = (float)((i * 5 + 1) % 11 - 5);
    for (int pass = 0; pass < 2; pass++) {
        bool transpose_b = pass == 1;  // B read as the transpose of an N×K buffer
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                    M, N, K, 1.0f, a, K, b, transpose_b ? K : N, 0.0f, c, N);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                    M, N, K, 1.0, ad, K, bd, transpose_b ? K : N, 0.0, cd, N);
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                double expected = 0;
                for (int p = 0; p < K; p++)
                    expected += ad[i * K + p] * bd[transpose_b ? j * K + p : p * N + j];
                if (c[i * N + j] != (float)expected || cd[i * N + j] != expected) return false;
            }
        }
    }
    return true;
}

/// The fastest core this library has for this CPU, or NULL when nothing beats SSE.
static const char *best_core(const lrm_cpu_features *cpu) {
    if (cpu->vendor == NULL) return NULL;
    if (cpu->avx512 && library_has_core("SkylakeX")) return "SkylakeX";
    if (!cpu->avx2_fma) return NULL;
    bool amd = strcmp(cpu->vendor, "AuthenticAMD") == 0 || strcmp(cpu->vendor, "HygonGenuine") == 0;
    if (amd && library_has_core("Zen")) return "Zen";
    return library_has_core("Haswell") ? "Haswell" : NULL;
}

const char *lrm_blas_upgrade_target(const char *core, lrm_cpu_features cpu) {
    if (core == NULL || !is_generic_core(core)) return NULL;
    return best_core(&cpu);
}

// MARK: - Selection

static bool is_known_setting(const char *setting) {
    static const char *const known[] = { "", "auto", "library", "generic", "generic-only" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(setting, known[i]) == 0) return true;
    return false;
}

static lrm_kernel_decision decide(const openblas_symbols *symbols) {
    const lrm_cpu_features *cpu = &report.cpu;
    if (env_coretype[0] != '\0' || env_l2_size[0] != '\0') {
        snprintf(reason, sizeof reason, "%s set by environment: respected",
                 env_coretype[0] != '\0' ? "OPENBLAS_CORETYPE" : "OPENBLAS_L2_SIZE");
        return LRM_KERNELS_ENVIRONMENT;
    }
    if (strcmp(kernels_setting, "library") == 0) {
        copy_string(reason, sizeof reason, "library's choice, kept by LRM_BLAS_KERNELS=library");
        return LRM_KERNELS_OPTED_OUT;
    }
    bool generic_first = strcmp(kernels_setting, "generic") == 0;
    bool generic_only = strcmp(kernels_setting, "generic-only") == 0;
    if (generic_first || generic_only) {
        if (!switch_core(symbols, "Prescott")) {
            switch_core(symbols, library_core);
            copy_string(reason, sizeof reason, "LRM_BLAS_KERNELS asked for Prescott, library refused");
            return LRM_KERNELS_UPGRADE_FAILED;
        }
        report.forced_generic_first = true;
        if (generic_only) {
            snprintf(reason, sizeof reason,
                     "forced by LRM_BLAS_KERNELS=generic-only; library had chosen %s", library_core);
            return LRM_KERNELS_FORCED_GENERIC;
        }
    }
    char previous[64];
    copy_string(previous, sizeof previous, current_core(symbols));
    const char *note = report.forced_generic_first ? " (forced by LRM_BLAS_KERNELS=generic)" : "";
    if (!is_generic_core(previous)) {
        copy_string(reason, sizeof reason, "library's choice");
        return LRM_KERNELS_LIBRARY_CHOICE;
    }
    const char *target = lrm_blas_upgrade_target(previous, *cpu);
    if (target == NULL) {
        snprintf(reason, sizeof reason, "library's choice%s; CPU/OS offer no AVX2+FMA", note);
        return LRM_KERNELS_FALLBACK_KEPT;
    }
    // A library may substitute another core for the one asked (newer OpenBLAS versions check
    // CPU support in force_coretype): any non-generic core that computes correctly is kept.
    bool exact = switch_core(symbols, target);
    char achieved[64];
    copy_string(achieved, sizeof achieved, current_core(symbols));
    if (!is_generic_core(achieved) && kernels_compute_correctly()) {
        snprintf(reason, sizeof reason, "upgraded from %s%s: CPU has %s%s%s", previous, note,
                 cpu->avx512 ? "AVX-512" : "AVX2+FMA", exact ? "" : "; asked for ", exact ? "" : target);
        return LRM_KERNELS_UPGRADED;
    }
    switch_core(symbols, previous);
    snprintf(reason, sizeof reason, "upgrade to %s failed (library switched to %s, %s); kept %s", target,
             achieved, is_generic_core(achieved) ? "a generic core" : "results were wrong", previous);
    return LRM_KERNELS_UPGRADE_FAILED;
}

static void prepare(void) {
    copy_string(env_coretype, sizeof env_coretype, getenv("OPENBLAS_CORETYPE"));
    copy_string(env_l2_size, sizeof env_l2_size, getenv("OPENBLAS_L2_SIZE"));
    copy_string(kernels_setting, sizeof kernels_setting, getenv("LRM_BLAS_KERNELS"));
    report.env_coretype = env_coretype;
    report.env_l2_size = env_l2_size;
    report.kernels_setting = kernels_setting;
    report.library_core = library_core;
    report.active_core = active_core;
    report.reason = reason;
    report.summary = summary;
    report.config = config;
    detect_cpu(&report.cpu);

    openblas_symbols symbols = find_openblas();
    report.is_openblas = symbols.get_corename != NULL;
    if (!report.is_openblas) {
        copy_string(library_core, sizeof library_core, "");
        copy_string(reason, sizeof reason, "BLAS is not OpenBLAS: its own kernels are used");
        report.decision = LRM_KERNELS_NOT_SWITCHABLE;
    } else {
        copy_string(library_core, sizeof library_core, current_core(&symbols));
        bool switchable = symbols.dynamic_init != NULL && symbols.dynamic_quit != NULL
                          && symbols.gotoblas != NULL;
#if !defined(__x86_64__)
        switchable = false;
#endif
        if (switchable) {
            report.decision = decide(&symbols);
            if (!is_known_setting(kernels_setting)) {
                size_t used = strlen(reason);
                snprintf(reason + used, sizeof reason - used,
                         "; unknown LRM_BLAS_KERNELS=%s ignored", kernels_setting);
            }
        } else {
            copy_string(reason, sizeof reason,
                        "library's choice; OpenBLAS has no switchable x86-64 DYNAMIC_ARCH tables");
            report.decision = LRM_KERNELS_NOT_SWITCHABLE;
        }
        copy_string(config, sizeof config, symbols.get_config != NULL ? symbols.get_config() : "");
    }
    copy_string(active_core, sizeof active_core,
                report.is_openblas ? current_core(&symbols) : "");
    snprintf(summary, sizeof summary, "%s (%s)",
             active_core[0] != '\0' ? active_core : "unknown core", reason);
}

const lrm_blas_report *lrm_blas_prepare(void) {
    pthread_once(&prepare_once, prepare);
    return &report;
}

int32_t lrm_blas_thread_count(void) {
    int_function get = (int_function)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    return get != NULL ? (int32_t)get() : -1;
}

bool lrm_blas_set_thread_count(int32_t count) {
    set_threads_function set = (set_threads_function)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (set == NULL || count < 1) return false;
    set((int)count);
    return true;
}

bool lrm_blas_stop_idle_threads(void) {
    if (lrm_blas_thread_count() != 1) return false;
    int_function shutdown = (int_function)dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    return shutdown != NULL && shutdown() == 0;
}
