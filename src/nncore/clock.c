/* Time: a monotonic clock in seconds, for the training loop's deadlines and the benchmarks;
 * the CPU clock and the FMA units' throughput, measured, for the benchmarks' % of peak. */
#include "internal.h"

#include "fma_probe.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <time.h>
#endif

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

/* ---- timed samples ------------------------------------------------------------------------ */
/* Runs `iterations` loop trips of a fixed piece of work; returns a positive checksum (<= 0:
 * the work went wrong), which also keeps it from being optimized away.                     */
typedef double (*timed_fn)(int64_t iterations);

#define MAX_SAMPLES 256

/* The iterations that make one call last about `seconds`: doubled from 64 until it does. */
static int64_t calibrate(timed_fn fn, double seconds)
{
    int64_t iterations = 64;
    for (;;) {
        const double t0 = nn_seconds();
        (void)fn(iterations);
        if (nn_seconds() - t0 > seconds || iterations > ((int64_t)1 << 40)) return iterations;
        iterations *= 2;
    }
}

/* rates[i] = work of sample i / its seconds, for n samples of `iterations` each; 0 for a
 * sample whose timing or checksum failed.                                                   */
static void time_samples(double *rates, int n, timed_fn fn, int64_t iterations,
                         double work_per_iteration)
{
    int i;
    for (i = 0; i < n; i++) {
        const double t0 = nn_seconds();
        const double checksum = fn(iterations);
        const double dt = nn_seconds() - t0;
        rates[i] = checksum > 0 && dt > 0 ? work_per_iteration * (double)iterations / dt : 0;
    }
}

/* The 90th percentile of n rates (sorted in place). Many short timings: on a busy machine
 * most are cut by other processes, but the work never runs faster than the hardware allows,
 * so the fastest timings are the hardware's rate; the 90th percentile, not the maximum,
 * keeps one timer glitch from setting it.                                                  */
static double rate_percentile_90(double *rates, int n)
{
    int i, j;
    for (i = 1; i < n; i++) /* insertion sort: n <= MAX_SAMPLES */
        for (j = i; j > 0 && rates[j - 1] > rates[j]; j--) {
            const double t = rates[j];
            rates[j] = rates[j - 1];
            rates[j - 1] = t;
        }
    return rates[(int)(0.9 * (n - 1))];
}

/* sample_seconds in (0, 1] and at least one sample (more than MAX_SAMPLES count as that many) */
static int sampling_valid(double sample_seconds, int samples)
{
    return sample_seconds > 0 && sample_seconds <= 1 && samples >= 1;
}

/* ---- the clock: a chain of dependent integer adds --------------------------------------- */
#if (defined(__GNUC__) || defined(__clang__)) &&                                               \
    (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__))
#define ADDS_PER_ITERATION 64
/* The empty asm says x is read and rewritten: the compiler cannot fold the chain into one
 * multiply, so each add waits for the one before (latency 1 cycle on every x86-64 and
 * AArch64 core); the loop counter is a separate chain that runs beside it.               */
#define ADD1 x += one; __asm__ volatile("" : "+r"(x))
#define ADD8 ADD1; ADD1; ADD1; ADD1; ADD1; ADD1; ADD1; ADD1
static uint64_t dependent_adds(uint64_t iterations)
{
    uint64_t x = 0, one = 1, i;
    __asm__ volatile("" : "+r"(one));
    for (i = 0; i < iterations; i++) {
        ADD8; ADD8; ADD8; ADD8; ADD8; ADD8; ADD8; ADD8;
    }
    return x;
}

/* the adds done (the checksum), -1 if the chain did not add up */
static double add_chain(int64_t iterations)
{
    const uint64_t total = dependent_adds((uint64_t)iterations);
    return total == (uint64_t)iterations * ADDS_PER_ITERATION ? (double)total : -1;
}

/* The chain never runs faster than one add per cycle, so its fastest timings are the clock. */
double nn_measure_cpu_hz(double sample_seconds, int samples)
{
    double rates[MAX_SAMPLES];
    int64_t iterations;
    if (!sampling_valid(sample_seconds, samples)) return 0;
    if (samples > MAX_SAMPLES) samples = MAX_SAMPLES;
    (void)dependent_adds(1 << 16); /* the core leaves its idle frequency */
    iterations = calibrate(add_chain, sample_seconds);
    time_samples(rates, samples, add_chain, iterations, ADDS_PER_ITERATION);
    return rate_percentile_90(rates, samples);
}
#else
double nn_measure_cpu_hz(double sample_seconds, int samples)
{
    (void)sample_seconds;
    (void)samples;
    return 0; /* no way to keep the chain unfolded without GCC/Clang inline asm */
}
#endif

/* ---- the FMA units' throughput: independent multiply-add chains on every thread --------- */
/* Wide FMA code may run at a lower clock than integer code (Intel's AVX2 / AVX-512 frequency
 * licences), and the all-core clock is lower than one core's: the peak a GEMM can reach is
 * what the FMA units deliver with every core running them, so that is what is measured.   */

/* Counters the parts share: how many began, how many have their samples. */
#if defined(__GNUC__) || defined(__clang__)
#define COUNT_UP(p) ((void)__atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST))
#define COUNT_READ(p) __atomic_load_n(p, __ATOMIC_SEQ_CST)
#elif defined(_MSC_VER)
#include <intrin.h>
#define COUNT_UP(p) ((void)_InterlockedIncrement(p))
#define COUNT_READ(p) (*(volatile long *)(p))
#else /* no threads to share with (nni_parallel_for runs serially) */
#define COUNT_UP(p) ((void)++*(p))
#define COUNT_READ(p) (*(p))
#endif

/* Each thread first runs the chains this long, and until every thread has begun (at most
 * FMA_WAIT_SECONDS more): the cores settle at the clock of wide code on all cores (a licence
 * switch takes under a millisecond) and a late worker catches up.                         */
#define FMA_WARM_SECONDS 0.02
/* The longest a thread waits for the others (a loop run serially never sees them). */
#define FMA_WAIT_SECONDS 0.2

typedef struct {
    timed_fn fn;
    double flop_per_iteration, sample_seconds;
    int samples, n_parts;
    double *rates;          /* `samples` rates per part */
    long started, finished; /* parts that began; parts that have their samples */
} fma_run;

/* fn until *count reaches target and min_seconds have passed, or max_seconds have. */
static void run_until(timed_fn fn, int64_t iterations, long *count, long target,
                      double min_seconds, double max_seconds)
{
    const double t0 = nn_seconds();
    double t;
    do {
        (void)fn(iterations);
        t = nn_seconds() - t0;
    } while (t < max_seconds && (t < min_seconds || COUNT_READ(count) < target));
}

static int fma_part(void *ctx, int64_t part)
{
    fma_run *r = (fma_run *)ctx;
    int64_t iterations;
    COUNT_UP(&r->started);
    iterations = calibrate(r->fn, r->sample_seconds);
    run_until(r->fn, iterations, &r->started, r->n_parts, FMA_WARM_SECONDS,
              FMA_WARM_SECONDS + FMA_WAIT_SECONDS);
    time_samples(r->rates + part * r->samples, r->samples, r->fn, iterations,
                 r->flop_per_iteration);
    COUNT_UP(&r->finished);
    /* the wide code keeps this core busy until every part has its samples, so the others'
     * last samples see the all-core clock too, not one busy core's */
    run_until(r->fn, iterations, &r->finished, r->n_parts, 0,
              FMA_WAIT_SECONDS + 2 * r->samples * r->sample_seconds);
    return NN_OK;
}

/* The probe of the SIMD each GEMM kernel runs (dispatch.c's kernel names). */
static const nni_dispatch_entry g_fma_probe_table[] = {
#ifdef NN_HAVE_KERNEL_AVX512
    {"avx512", &nni_fma_probe_avx512, nni_cpu_runs_avx512},
    {"avx512_12x32", &nni_fma_probe_avx512, nni_cpu_runs_avx512},
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    {"avx2", &nni_fma_probe_avx2, nni_cpu_runs_avx2},
#endif
#ifdef NN_HAVE_KERNEL_NEON
    {"neon", &nni_fma_probe_base, nni_cpu_runs_any},
#endif
    {"portable", &nni_fma_probe_base, nni_cpu_runs_any},
};
#define N_FMA_PROBES ((int)(sizeof g_fma_probe_table / sizeof g_fma_probe_table[0]))

#define FMA_MAX_THREADS 1024

/* flops = the mean over the threads of each one's 90th-percentile rate: FLOP/s per core,
 * FLOP = 2 x lanes x multiply-adds.                                                          */
int nn_measure_fma_flops(double *flops, const char *kernel, int elem_bytes, int threads,
                         double sample_seconds, int samples)
{
    const nni_fma_probe *probe;
    fma_run run;
    double sum = 0;
    int part, st;
    if (!flops || (elem_bytes != 4 && elem_bytes != 8) ||
        !sampling_valid(sample_seconds, samples) || threads > FMA_MAX_THREADS)
        return NN_EINVAL;
    probe = (const nni_fma_probe *)nni_dispatch_find(
        g_fma_probe_table, N_FMA_PROBES, kernel ? kernel : nni_gemm_kernel_get()->name);
    if (!probe) return NN_EINVAL;
    if (samples > MAX_SAMPLES) samples = MAX_SAMPLES;
    if (threads <= 0) threads = nn_get_num_threads();
    memset(&run, 0, sizeof run);
    run.fn = elem_bytes == 4 ? probe->chains_f32 : probe->chains_f64;
    run.flop_per_iteration = 2.0 * NNI_FMA_CHAINS * NNI_FMA_UNROLL *
                             (elem_bytes == 4 ? probe->lanes_f32 : probe->lanes_f64);
    run.sample_seconds = sample_seconds;
    run.samples = samples;
    run.n_parts = threads;
    run.rates = (double *)nni_alloc((int64_t)threads * samples, sizeof(double));
    if (!run.rates) return NN_ENOMEM;
    st = nni_parallel_for(threads, threads, fma_part, &run);
    for (part = 0; st == NN_OK && part < threads; part++)
        sum += rate_percentile_90(run.rates + part * samples, samples);
    free(run.rates);
    if (st != NN_OK) return st;
    *flops = sum / threads;
    return NN_OK;
}
