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

/* 0 = not chosen yet: the default is computed on first use. A plain int is enough: a
 * concurrent set and get at worst sees the old count, and any count gives the same results. */
static int g_num_threads = 0;

/* NNFAST_NUM_THREADS when it is a positive int, else the cores this process may run on. */
static int default_num_threads(void)
{
    const char *env = getenv("NNFAST_NUM_THREADS");
    if (env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        while (end && (*end == ' ' || *end == '\t' || *end == '\n')) end++;
        if (end && *end == '\0' && v > 0 && v <= 1 << 16) return (int)v;
    }
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

void nn_get_build_info(nn_build_info *info)
{
    if (!info) return;
    info->gemm_kernel_f32 = "portable C";
    info->gemm_kernel_f64 = "portable C";
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
