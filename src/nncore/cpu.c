/* Threads: how many the OpenMP regions use, and whether OpenMP is compiled in. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "internal.h"

#include <stdio.h>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define HAVE_PTHREAD_KEYS 1
#endif

/* 0 = not chosen yet: the default is computed on first use. A plain int is enough: a
 * concurrent set and get at worst sees the old count, and any count gives the same results. */
static int g_num_threads = 0;

/* A positive thread count from the environment variable name, else 0. */
static int env_threads(const char *name)
{
    const char *env = getenv(name);
    if (env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        while (end && (*end == ' ' || *end == '\t' || *end == '\n')) end++;
        if (end && *end == '\0' && v > 0 && v <= 1 << 16) return (int)v;
    }
    return 0;
}

/* NNFAST_NUM_THREADS, else OMP_NUM_THREADS (joblib and Dask workers set it to avoid
 * oversubscription), else the cores this process may run on. */
static int default_num_threads(void)
{
    int n = env_threads("NNFAST_NUM_THREADS");
    if (n > 0) return n;
    if ((n = env_threads("OMP_NUM_THREADS")) > 0) return n;
#if defined(__linux__) && defined(CPU_COUNT)
    {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            int c = CPU_COUNT(&set);
            if (c > 0) return c;
        }
    }
#endif
#ifdef NN_HAVE_OPENMP
    {
        int p = omp_get_num_procs();
        if (p > 0) return p;
    }
#endif
    return 1;
}

/* n <= 0 restores the default. Without OpenMP the count is kept but every kernel is serial. */
void nn_set_num_threads(int n)
{
    g_num_threads = n > 0 ? n : default_num_threads();
}

int nn_get_num_threads(void)
{
    int n = g_num_threads;
    if (n <= 0) {
        n = default_num_threads();
        g_num_threads = n;
    }
    return n;
}

int nn_has_openmp(void)
{
#ifdef NN_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}

double nn_seconds(void)
{
#if defined(_WIN32)
    LARGE_INTEGER count, freq;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&freq);
    return (double)count.QuadPart / (double)freq.QuadPart;
#elif defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    return (double)clock() / CLOCKS_PER_SEC;
#endif
}

/* The instruction sets this CPU reports (x86 through the compiler's cpuid support). */
static const char *cpu_features(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    static char buf[96];
    if (!buf[0]) {
        __builtin_cpu_init();
        snprintf(buf, sizeof buf, "sse2%s%s%s%s", __builtin_cpu_supports("avx") ? " avx" : "",
                 __builtin_cpu_supports("avx2") ? " avx2" : "",
                 __builtin_cpu_supports("fma") ? " fma" : "",
                 __builtin_cpu_supports("avx512f") ? " avx512f" : "");
    }
    return buf;
#elif defined(__aarch64__)
    return "neon";
#else
    return "";
#endif
}

/* ---- per-thread scratch buffers (the GEMM packing buffers) ------------------------------- */
typedef struct {
    void *raw[NNI_SCRATCH_SLOTS];
    int64_t bytes[NNI_SCRATCH_SLOTS];
} thread_scratch;

static NNI_THREAD_LOCAL thread_scratch tl_scratch;

#ifdef HAVE_PTHREAD_KEYS
/* A thread that ends frees its buffers (a key's destructor runs at thread exit); the
 * process's last buffers go with the process. */
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *scratch)
{
    thread_scratch *ts = (thread_scratch *)scratch;
    int i;
    for (i = 0; i < NNI_SCRATCH_SLOTS; i++) {
        free(ts->raw[i]);
        ts->raw[i] = NULL;
        ts->bytes[i] = 0;
    }
}

static void scratch_key_create(void) { (void)pthread_key_create(&g_scratch_key, scratch_free); }
#endif

void *nni_thread_scratch(int slot, int64_t bytes)
{
    thread_scratch *ts = &tl_scratch;
    if (slot < 0 || slot >= NNI_SCRATCH_SLOTS || bytes < 0) return NULL;
    if (bytes > ts->bytes[slot]) {
        void *raw = malloc((size_t)bytes + 64);
        if (!raw) return NULL;
#ifdef HAVE_PTHREAD_KEYS
        pthread_once(&g_scratch_once, scratch_key_create);
        (void)pthread_setspecific(g_scratch_key, ts);
#endif
        free(ts->raw[slot]);
        ts->raw[slot] = raw;
        ts->bytes[slot] = bytes;
    }
    return (void *)(((uintptr_t)ts->raw[slot] + 63) & ~(uintptr_t)63);
}

/* ---- GEMM kernel dispatch ------------------------------------------------------------- */
/* Does this CPU (and OS: the compiler's cpuid support checks that the OS saves the wider
 * registers) run instructions of the set the kernel needs?                                 */
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
/* cpuid leaf 1 ecx: fma (12), osxsave (27), avx (28); leaf 7 ebx: avx2 (5), avx512f (16);
 * xgetbv(0): the OS saves xmm/ymm (bits 1, 2) and the zmm state (5, 6, 7). */
static int msvc_cpu_runs(int leaf7_bit, unsigned xcr0_mask)
{
    int r[4];
    __cpuid(r, 0);
    if (r[0] < 7) return 0;
    __cpuid(r, 1);
    if (!(r[2] & (1 << 12)) || !(r[2] & (1 << 27)) || !(r[2] & (1 << 28))) return 0;
    if (((unsigned)_xgetbv(0) & xcr0_mask) != xcr0_mask) return 0;
    __cpuidex(r, 7, 0);
    return (r[1] & (1 << leaf7_bit)) != 0;
}
#endif

#ifdef NN_HAVE_KERNEL_AVX2
static int cpu_runs_avx2(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    return msvc_cpu_runs(5, 0x6u);
#else
    return 0;
#endif
}
#endif

#ifdef NN_HAVE_KERNEL_AVX512
static int cpu_runs_avx512(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    return msvc_cpu_runs(16, 0xe6u);
#else
    return 0;
#endif
}
#endif

static int cpu_runs_any(void) { return 1; }

/* Every kernel set compiled in, best first, with the test of whether this CPU runs it. */
static const struct {
    const nni_gemm_kernel *kernel;
    int (*cpu_runs)(void);
} g_kernel_table[] = {
#ifdef NN_HAVE_KERNEL_AVX512
    {&nni_kernel_avx512, cpu_runs_avx512},
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    {&nni_kernel_avx2, cpu_runs_avx2},
#endif
#ifdef NN_HAVE_KERNEL_NEON
    {&nni_kernel_neon, cpu_runs_any},
#endif
    {&nni_kernel_portable, cpu_runs_any},
};
#define N_KERNELS ((int)(sizeof g_kernel_table / sizeof g_kernel_table[0]))

/* The kernel in use; NULL until the first GEMM (a racing first use picks the same one). */
static const nni_gemm_kernel *volatile g_kernel = NULL;

int nni_gemm_kernel_select(const char *name)
{
    int i;
    for (i = 0; name && i < N_KERNELS; i++)
        if (strcmp(g_kernel_table[i].kernel->name, name) == 0 && g_kernel_table[i].cpu_runs()) {
            g_kernel = g_kernel_table[i].kernel;
            return NN_OK;
        }
    return NN_EINVAL;
}

/* NNFAST_GEMM_KERNEL=portable|avx2|avx512|neon when this build and CPU run it, else the first
 * (best) entry of the table the CPU runs; the portable kernel always runs.                 */
const nni_gemm_kernel *nni_gemm_kernel_get(void)
{
    const nni_gemm_kernel *kr = g_kernel;
    int i;
    if (kr) return kr;
    if (nni_gemm_kernel_select(getenv("NNFAST_GEMM_KERNEL")) != NN_OK) {
        for (i = 0; i < N_KERNELS; i++)
            if (g_kernel_table[i].cpu_runs()) {
                g_kernel = g_kernel_table[i].kernel;
                break;
            }
    }
    return g_kernel;
}

void nn_get_build_info(nn_build_info *info)
{
    const nni_gemm_kernel *kr = nni_gemm_kernel_get();
    if (!info) return;
    info->gemm_kernel_f32 = kr->label_f32;
    info->gemm_kernel_f64 = kr->label_f64;
    info->cpu_features = cpu_features();
#if defined(__VERSION__)
    info->compiler = __VERSION__;
#else
    info->compiler = "unknown";
#endif
    info->openmp = nn_has_openmp();
#ifdef NN_NATIVE_BUILD
    info->native_build = 1;
#else
    info->native_build = 0;
#endif
    info->num_threads = nn_get_num_threads();
}
