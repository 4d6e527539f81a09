/* Time: a monotonic clock in seconds, for the training loop's deadlines and the benchmarks;
 * and the CPU clock, measured, for the benchmarks' % of peak. */
#include "internal.h"

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

/* Many short timings: on a busy machine most are cut by other processes, but the chain never
 * runs faster than one add per cycle, so the fastest timings are the clock; the 90th
 * percentile of the rates keeps one timer glitch from setting it. */
double nn_measure_cpu_hz(double sample_seconds, int samples)
{
    uint64_t iterations = 64;
    double rates[256];
    int i, j, n;
    if (!(sample_seconds > 0) || sample_seconds > 1 || samples < 1) return 0;
    n = samples > 256 ? 256 : samples;
    (void)dependent_adds(1 << 16); /* the core leaves its idle frequency */
    for (;;) {
        const double t0 = nn_seconds();
        (void)dependent_adds(iterations);
        if (nn_seconds() - t0 > sample_seconds || iterations > ((uint64_t)1 << 40)) break;
        iterations *= 2;
    }
    for (i = 0; i < n; i++) {
        const double t0 = nn_seconds();
        const uint64_t total = dependent_adds(iterations);
        const double dt = nn_seconds() - t0;
        if (total != iterations * ADDS_PER_ITERATION || !(dt > 0)) return 0;
        rates[i] = (double)total / dt;
    }
    for (i = 1; i < n; i++) /* insertion sort: n <= 256 */
        for (j = i; j > 0 && rates[j - 1] > rates[j]; j--) {
            const double t = rates[j];
            rates[j] = rates[j - 1];
            rates[j - 1] = t;
        }
    return rates[(int)(0.9 * (n - 1))];
}
#else
double nn_measure_cpu_hz(double sample_seconds, int samples)
{
    (void)sample_seconds;
    (void)samples;
    return 0; /* no way to keep the chain unfolded without GCC/Clang inline asm */
}
#endif
