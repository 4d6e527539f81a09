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
#define PS_VMASK(valid) ((__mmask16)((1u << (valid)) - 1u))
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
#define PS_VMASK(valid) ((__mmask8)((1u << (valid)) - 1u))
#define PS_VLOAD(p) _mm512_loadu_pd(p)
#define PS_VLOADM(p, m) _mm512_maskz_loadu_pd(m, p)
#define PS_VSTORE(p, v) _mm512_storeu_pd(p, v)
#define PS_VSTOREM(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define PS_VSET1(s) _mm512_set1_pd(s)
#define PS_VADD(a, b) _mm512_add_pd(a, b)
#define PS_VMUL(a, b) _mm512_mul_pd(a, b)
#endif

/* The lanes [0, valid) of 8 (none when valid <= 0). */
static inline __mmask8 ps_first(int64_t valid)
{
    return (__mmask8)(valid >= 8 ? 0xffu : valid <= 0 ? 0u : (1u << valid) - 1u);
}

/* p = v_0 + v_1 of the 2-lane groups of v, lane pair by lane pair: [a0 + a1, ., b0 + b1, .] */
static inline __m512d ps_pairs(__m512d v)
{
    return _mm512_add_pd(_mm512_unpacklo_pd(v, v), _mm512_unpackhi_pd(v, v));
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
        const __mmask8 m0 = ps_first(k - j), m1 = ps_first(k - j - 8);
        s0 = _mm512_mask_add_pd(
            s0, m0, s0, _mm512_mul_pd(PS_LOAD8_FIRST(w + j, m0), PS_LOAD8_FIRST(x + j, m0)));
        s1 = _mm512_mask_add_pd(s1, m1, s1,
                                _mm512_mul_pd(PS_LOAD8_FIRST(w + j + 8, m1),
                                              PS_LOAD8_FIRST(x + j + 8, m1)));
    }
    t = _mm512_add_pd(s0, s1);
    u = _mm256_add_pd(_mm512_castpd512_pd256(t), _mm512_extractf64x4_pd(t, 1));
    v = _mm_add_pd(_mm256_castpd256_pd128(u), _mm256_extractf128_pd(u, 1));
    return _mm_cvtsd_f64(v) + _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
}

/* w . x[r] for 4 rows, their chains interleaved, each row's sums as ps_dot's; the four
 * reductions packed together, the same pairs added at each level:
 * u = [t_a lanes 0-3 + 4-7, t_b ...], v = [u_a 0-1 + 2-3, u_b .., u_c .., u_d ..], p. */
static inline void ps_dots(double *p, const NN_T *w, const NN_T *const *x, int64_t k)
{
    __m512d s[4][2], uab, ucd, v;
    double out[8];
    int64_t j = 0;
    int r;
    for (r = 0; r < 4; r++) s[r][0] = s[r][1] = _mm512_setzero_pd();
    for (; j + 16 <= k; j += 16) {
        const __m512d w0 = PS_LOAD8(w + j), w1 = PS_LOAD8(w + j + 8);
        for (r = 0; r < 4; r++) {
            s[r][0] = _mm512_add_pd(s[r][0], _mm512_mul_pd(w0, PS_LOAD8(x[r] + j)));
            s[r][1] = _mm512_add_pd(s[r][1], _mm512_mul_pd(w1, PS_LOAD8(x[r] + j + 8)));
        }
    }
    if (j < k) {
        const __mmask8 m0 = ps_first(k - j), m1 = ps_first(k - j - 8);
        const __m512d w0 = PS_LOAD8_FIRST(w + j, m0), w1 = PS_LOAD8_FIRST(w + j + 8, m1);
        for (r = 0; r < 4; r++) {
            s[r][0] = _mm512_mask_add_pd(s[r][0], m0, s[r][0],
                                         _mm512_mul_pd(w0, PS_LOAD8_FIRST(x[r] + j, m0)));
            s[r][1] = _mm512_mask_add_pd(s[r][1], m1, s[r][1],
                                         _mm512_mul_pd(w1, PS_LOAD8_FIRST(x[r] + j + 8, m1)));
        }
    }
    for (r = 0; r < 4; r++) s[r][0] = _mm512_add_pd(s[r][0], s[r][1]); /* t */
    /* 256-bit halves: [t_a lo, t_b lo] + [t_a hi, t_b hi] */
    uab = _mm512_add_pd(_mm512_shuffle_f64x2(s[0][0], s[1][0], 0x44),
                        _mm512_shuffle_f64x2(s[0][0], s[1][0], 0xee));
    ucd = _mm512_add_pd(_mm512_shuffle_f64x2(s[2][0], s[3][0], 0x44),
                        _mm512_shuffle_f64x2(s[2][0], s[3][0], 0xee));
    /* 128-bit quarters: [u_a 01, u_b 01, u_c 01, u_d 01] + [u_a 23, u_b 23, ...] */
    v = _mm512_add_pd(_mm512_shuffle_f64x2(uab, ucd, 0x88), _mm512_shuffle_f64x2(uab, ucd, 0xdd));
    _mm512_storeu_pd(out, ps_pairs(v));
    p[0] = out[0], p[1] = out[2], p[2] = out[4], p[3] = out[6];
}

#define PS_EPOCH NNI_F(sgd_rows_avx512)
#define PS_ROWS 4
#define PS_DOT ps_dot
#define PS_DOTS ps_dots
#define PS_STEP ps_vector_step
#include "perceptron_simd.h"
