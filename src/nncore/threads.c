/* Threads: how many the parallel regions use, and whether OpenMP is compiled in. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "internal.h"

#if defined(__linux__)
#include <sched.h>
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
