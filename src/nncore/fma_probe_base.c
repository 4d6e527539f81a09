/* The FMA probe's chains in the SIMD every CPU of the target runs, with the build's default
 * flags: NEON (AArch64: fused multiply-add, float 4 lanes, double 2); SSE2 (x86-64: a multiply
 * and an add, separate instructions, as the portable GEMM kernel compiles; float 4, double 2);
 * scalar C elsewhere (1 lane). */
#include "fma_probe.h"

#if defined(__aarch64__) || defined(_M_ARM64)
#include <arm_neon.h>
#define F32_V float32x4_t
#define F32_LANES 4
#define F32_SET1(x) vdupq_n_f32(x)
#define F32_FMA(a, b, c) vfmaq_f32(c, a, b)
#define F32_SUM(v) (double)vaddvq_f32(v)
#define F64_V float64x2_t
#define F64_LANES 2
#define F64_SET1(x) vdupq_n_f64(x)
#define F64_FMA(a, b, c) vfmaq_f64(c, a, b)
#define F64_SUM(v) vaddvq_f64(v)
#elif defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
static double sum_ps(__m128 v)
{
    float t[4];
    _mm_storeu_ps(t, v);
    return (double)t[0] + t[1] + t[2] + t[3];
}
static double sum_pd(__m128d v)
{
    double t[2];
    _mm_storeu_pd(t, v);
    return t[0] + t[1];
}
#define F32_V __m128
#define F32_LANES 4
#define F32_SET1(x) _mm_set1_ps(x)
#define F32_FMA(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#define F32_SUM(v) sum_ps(v)
#define F64_V __m128d
#define F64_LANES 2
#define F64_SET1(x) _mm_set1_pd(x)
#define F64_FMA(a, b, c) _mm_add_pd(_mm_mul_pd(a, b), c)
#define F64_SUM(v) sum_pd(v)
#else
#define F32_V float
#define F32_LANES 1
#define F32_SET1(x) (x)
#define F32_FMA(a, b, c) ((a) * (b) + (c))
#define F32_SUM(v) (double)(v)
#define F64_V double
#define F64_LANES 1
#define F64_SET1(x) (x)
#define F64_FMA(a, b, c) ((a) * (b) + (c))
#define F64_SUM(v) (v)
#endif

#define FP_NAME chains_base_f32
#define FP_T float
#define FP_V F32_V
#define FP_SET1(x) F32_SET1(x)
#define FP_FMA(a, b, c) F32_FMA(a, b, c)
#define FP_SUM(v) F32_SUM(v)
#include "fma_probe_simd.h"

#define FP_NAME chains_base_f64
#define FP_T double
#define FP_V F64_V
#define FP_SET1(x) F64_SET1(x)
#define FP_FMA(a, b, c) F64_FMA(a, b, c)
#define FP_SUM(v) F64_SUM(v)
#include "fma_probe_simd.h"

const nni_fma_probe nni_fma_probe_base = {F32_LANES, F64_LANES, chains_base_f32,
                                          chains_base_f64};
