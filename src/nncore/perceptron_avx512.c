/* The dense SGD epoch on the perceptron loss (perceptron_simd.h) for AVX-512F: the dot
 * product's sixteen partial sums in two vectors of 8 doubles, the update in 512-bit vectors,
 * the tails through lane masks. Compiled with -mavx512f -mfma (/arch:AVX512) and no FMA
 * contraction, once per element type: the same bits as the portable epoch. perceptron.c runs
 * it only when the GEMM kernel in use is avx512 (so the CPU runs AVX-512F). */
#include "internal.h"

#include <immintrin.h>

#ifdef NN_ELEM_F32
/* eight elements as doubles; the first `valid` of them (the others 0) */
#define PS_LOAD8(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define PS_LOAD8_FIRST(p, m) _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(m, p)))
/* the update's vectors: 16 floats */
#define PS_VL 16
#define PS_V __m512
#define PS_VMASK_T __mmask16
#define PS_VLOAD(p) _mm512_loadu_ps(p)
#define PS_VLOADM(p, m) _mm512_maskz_loadu_ps(m, p)
#define PS_VSTORE(p, v) _mm512_storeu_ps(p, v)
#define PS_VSTOREM(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define PS_VSET1(s) _mm512_set1_ps(s)
#define PS_VADD(a, b) _mm512_add_ps(a, b)
#define PS_VMUL(a, b) _mm512_mul_ps(a, b)
#else
#define PS_LOAD8(p) _mm512_loadu_pd(p)
#define PS_LOAD8_FIRST(p, m) _mm512_maskz_loadu_pd((__mmask8)(m), p)
#define PS_VL 8
#define PS_V __m512d
#define PS_VMASK_T __mmask8
#define PS_VLOAD(p) _mm512_loadu_pd(p)
#define PS_VLOADM(p, m) _mm512_maskz_loadu_pd(m, p)
#define PS_VSTORE(p, v) _mm512_storeu_pd(p, v)
#define PS_VSTOREM(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define PS_VSET1(s) _mm512_set1_pd(s)
#define PS_VADD(a, b) _mm512_add_pd(a, b)
#define PS_VMUL(a, b) _mm512_mul_pd(a, b)
#endif

/* s + w x in the lanes [0, valid) (none when valid <= 0), s unchanged in the others. */
static inline __m512d ps_add_first(__m512d s, const NN_T *w, const NN_T *x, int64_t valid)
{
    const __mmask8 m = (__mmask8)(valid >= 8 ? 0xffu : (1u << (valid > 0 ? valid : 0)) - 1u);
    if (valid <= 0) return s;
    return _mm512_mask_add_pd(s, m, s,
                              _mm512_mul_pd(PS_LOAD8_FIRST(w, m), PS_LOAD8_FIRST(x, m)));
}

/* w . x: partial sums s_0..7 and s_8..15 in two vectors (perceptron_simd.h) */
static inline double ps_dot(const NN_T *w, const NN_T *x, int64_t k)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, t;
    __m256d u;
    __m128d v;
    int64_t j = 0;
    for (; j + 16 <= k; j += 16) {
        s0 = _mm512_add_pd(s0, _mm512_mul_pd(PS_LOAD8(w + j), PS_LOAD8(x + j)));
        s1 = _mm512_add_pd(s1, _mm512_mul_pd(PS_LOAD8(w + j + 8), PS_LOAD8(x + j + 8)));
    }
    if (j < k) {
        s0 = ps_add_first(s0, w + j, x + j, k - j);
        s1 = ps_add_first(s1, w + j + 8, x + j + 8, k - j - 8);
    }
    t = _mm512_add_pd(s0, s1);
    u = _mm256_add_pd(_mm512_castpd512_pd256(t), _mm512_extractf64x4_pd(t, 1));
    v = _mm_add_pd(_mm256_castpd256_pd128(u), _mm256_extractf128_pd(u, 1));
    return _mm_cvtsd_f64(v) + _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
}

/* w_j += s x_j, a vector at a time, the last one masked */
static inline void ps_step(NN_T *w, NN_T s, const NN_T *x, int64_t k)
{
    const PS_V sv = PS_VSET1(s);
    int64_t j = 0;
    for (; j + PS_VL <= k; j += PS_VL)
        PS_VSTORE(w + j, PS_VADD(PS_VLOAD(w + j), PS_VMUL(sv, PS_VLOAD(x + j))));
    if (j < k) {
        const PS_VMASK_T m = (PS_VMASK_T)((1u << (k - j)) - 1u);
        PS_VSTOREM(w + j, m, PS_VADD(PS_VLOADM(w + j, m), PS_VMUL(sv, PS_VLOADM(x + j, m))));
    }
}

#define PS_EPOCH NNI_F(sgd_rows_avx512)
#define PS_DOT ps_dot
#define PS_STEP ps_step
#include "perceptron_simd.h"
