/* The FMA probe's chains in AVX-512F: vfmadd on zmm, float 16 lanes, double 8.
 * Compiled with -mavx512f -mfma (/arch:AVX512) by CMakeLists.txt; clock.c runs them only
 * when the CPU reports avx512f and fma. */
#include "fma_probe.h"

#include <immintrin.h>

#define FP_NAME chains_avx512_f32
#define FP_T float
#define FP_V __m512
#define FP_SET1(x) _mm512_set1_ps(x)
#define FP_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FP_SUM(v) (double)_mm512_reduce_add_ps(v)
#include "fma_probe_simd.h"

#define FP_NAME chains_avx512_f64
#define FP_T double
#define FP_V __m512d
#define FP_SET1(x) _mm512_set1_pd(x)
#define FP_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define FP_SUM(v) _mm512_reduce_add_pd(v)
#include "fma_probe_simd.h"

const nni_fma_probe nni_fma_probe_avx512 = {16, 8, chains_avx512_f32, chains_avx512_f64};
