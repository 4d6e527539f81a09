/* Vectorized float32 exp, sigmoid and tanh (AVX2 + FMA, 8 lanes) for the GEMM epilogues and
 * the activations; float64 keeps libm. Compiled with -mavx2 -mfma (/arch:AVX2), chosen by
 * vecmath.c only when the CPU runs avx2 and fma.
 *
 * exp: Cephes expf. x = n ln2 + r, |r| <= ln2/2, ln2 split in two constants so n ln2 is exact
 * to float precision; e^r = 1 + r + r^2 P(r), P of degree 5; e^x = 2^n e^r with 2^n built in
 * the exponent field. tanh: Cephes tanhf. |x| < 0.625: x + x^3 Q(x^2), Q of degree 4; else
 * 1 - 2 / (e^(2|x|) + 1) with the sign of x. Measured against double-precision libm over
 * every float in [-80, 80] step 2^-12 and random draws: within 2 ulp (tests/c/test_nncore.c
 * checks 4).
 *
 * Lanes with |x| > 80 (where e^x leaves the normal range) or NaN take libm, so infinities,
 * NaN and subnormal results are libm's. A tail shorter than 8 goes through the same vector
 * code in a padded buffer: every value is a function of its input alone, wherever it sits.
 */
#include "internal.h"

#include <immintrin.h>

#define VEC_BIG 80.0f

static __m256 exp_ps(__m256 x)
{
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 c1 = _mm256_set1_ps(0.693359375f), c2 = _mm256_set1_ps(-2.12194440e-4f);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT |
                                                             _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, c1, x);
    __m256 p, r2;
    __m256i e;
    r = _mm256_fnmadd_ps(n, c2, r);
    r2 = _mm256_mul_ps(r, r);
    p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* sigmoid: e = e^-|x|; 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0 (no overflow). */
static __m256 sigmoid_ps(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 e = exp_ps(_mm256_or_ps(x, sign)); /* -|x| */
    const __m256 pos = _mm256_div_ps(one, _mm256_add_ps(one, e));
    const __m256 neg = _mm256_div_ps(e, _mm256_add_ps(one, e));
    return _mm256_blendv_ps(pos, neg, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

static __m256 tanh_ps(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 ax = _mm256_andnot_ps(sign, x), s = _mm256_mul_ps(x, x);
    __m256 q, big;
    q = _mm256_set1_ps(-5.70498872745e-3f);
    q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(2.06390887954e-2f));
    q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(-5.37397155531e-2f));
    q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(1.33314422036e-1f));
    q = _mm256_fmadd_ps(q, s, _mm256_set1_ps(-3.33332819422e-1f));
    q = _mm256_fmadd_ps(_mm256_mul_ps(q, s), x, x);
    q = _mm256_or_ps(_mm256_andnot_ps(sign, q), _mm256_and_ps(x, sign)); /* tanh(-0) = -0 */
    /* |x| >= 20: tanh is 1 in float; the clamp keeps e^(2|x|) finite (its 2^n in range) */
    big = _mm256_min_ps(ax, _mm256_set1_ps(20.0f));
    big = exp_ps(_mm256_add_ps(big, big));
    big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(big, one)));
    big = _mm256_or_ps(big, _mm256_and_ps(x, sign));
    return _mm256_blendv_ps(q, big, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_GE_OQ));
}

static float sigmoid_scalar(float z)
{
    float e;
    if (z >= 0) return 1.0f / (1.0f + expf(-z));
    e = expf(z);
    return e / (1.0f + e);
}

/* x[0:8] = f(x[0:8]); lanes outside [-VEC_BIG, VEC_BIG] or NaN from the scalar libm form. */
#define DEFINE_VEC_APPLY(NAME, VEC_F, SCALAR_F)                                                 \
    static void NAME##_block(float *x)                                                          \
    {                                                                                           \
        const __m256 v = _mm256_loadu_ps(x);                                                    \
        const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), v),           \
                                         _mm256_set1_ps(VEC_BIG), _CMP_NLE_UQ);                 \
        float in[8];                                                                            \
        int lanes = _mm256_movemask_ps(big), i;                                                 \
        _mm256_storeu_ps(in, v);                                                                \
        _mm256_storeu_ps(x, VEC_F(v));                                                          \
        for (i = 0; lanes; i++, lanes >>= 1)                                                    \
            if (lanes & 1) x[i] = SCALAR_F(in[i]);                                              \
    }                                                                                           \
    static void NAME(float *x, int64_t n)                                                       \
    {                                                                                           \
        int64_t j;                                                                              \
        for (j = 0; j + 8 <= n; j += 8) NAME##_block(x + j);                                    \
        if (j < n) {                                                                            \
            float pad[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                            \
            memcpy(pad, x + j, (size_t)(n - j) * sizeof(float));                                \
            NAME##_block(pad);                                                                  \
            memcpy(x + j, pad, (size_t)(n - j) * sizeof(float));                                \
        }                                                                                       \
    }

DEFINE_VEC_APPLY(nni_exp_avx2_f32, exp_ps, expf)
DEFINE_VEC_APPLY(nni_sigmoid_avx2_f32, sigmoid_ps, sigmoid_scalar)
DEFINE_VEC_APPLY(nni_tanh_avx2_f32, tanh_ps, tanhf)

const nni_vecmath nni_vecmath_avx2 = {"avx2", nni_exp_avx2_f32, nni_sigmoid_avx2_f32,
                                      nni_tanh_avx2_f32};
