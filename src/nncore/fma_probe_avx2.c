/* The FMA probe's chains in AVX2 + FMA: vfmadd on ymm, float 8 lanes, double 4.
 * Compiled with -mavx2 -mfma (/arch:AVX2) by CMakeLists.txt; clock.c runs them only when
 * the CPU reports avx2 and fma. */
#include "fma_probe.h"

#include <immintrin.h>

/* the lanes' sum: the two 128-bit halves added, then within the half */
static double sum_ps(__m256 v)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    return (double)t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
static double sum_pd(__m256d v)
{
    double t[4];
    _mm256_storeu_pd(t, v);
    return t[0] + t[1] + t[2] + t[3];
}

#define FP_NAME chains_avx2_f32
#define FP_T float
#define FP_V __m256
#define FP_SET1(x) _mm256_set1_ps(x)
#define FP_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FP_SUM(v) sum_ps(v)
#include "fma_probe_simd.h"

#define FP_NAME chains_avx2_f64
#define FP_T double
#define FP_V __m256d
#define FP_SET1(x) _mm256_set1_pd(x)
#define FP_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define FP_SUM(v) sum_pd(v)
#include "fma_probe_simd.h"

const nni_fma_probe nni_fma_probe_avx2 = {8, 4, chains_avx2_f32, chains_avx2_f64};
