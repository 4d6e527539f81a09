/* The dense SGD epoch on the perceptron loss (perceptron_simd.h) for AVX2: the dot product's
 * sixteen partial sums in four vectors of 4 doubles, the update in 256-bit vectors, the tails
 * through maskload / maskstore. Compiled with -mavx2 -mfma (/arch:AVX2) and no FMA
 * contraction, once per element type: the same bits as the portable epoch. perceptron.c runs
 * it only when the GEMM kernel in use is avx2 or avx512 (so the CPU runs AVX2). */
#include "internal.h"

#include <immintrin.h>

/* The 64-bit lanes [0, valid) of a 4-lane mask (all of them from valid = 4 on). */
static inline __m256i ps_mask4(int64_t valid)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(valid), _mm256_setr_epi64x(0, 1, 2, 3));
}

#ifdef NN_ELEM_F32
/* four elements as doubles; the first `valid` of them (the others 0) */
#define PS_LOAD4(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define PS_LOAD4_FIRST(p, valid)                                                           \
    _mm256_cvtps_pd(_mm_maskload_ps(                                                       \
        p, _mm_cmpgt_epi32(_mm_set1_epi32((int)(valid)), _mm_setr_epi32(0, 1, 2, 3))))
/* the update's vectors: 8 floats */
#define PS_VL 8
#define PS_V __m256
#define PS_VMASK_T __m256i
#define PS_VMASK(valid)                                                                    \
    _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(valid)),                                    \
                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define PS_VLOAD(p) _mm256_loadu_ps(p)
#define PS_VLOADM(p, m) _mm256_maskload_ps(p, m)
#define PS_VSTORE(p, v) _mm256_storeu_ps(p, v)
#define PS_VSTOREM(p, m, v) _mm256_maskstore_ps(p, m, v)
#define PS_VSET1(s) _mm256_set1_ps(s)
#define PS_VADD(a, b) _mm256_add_ps(a, b)
#define PS_VMUL(a, b) _mm256_mul_ps(a, b)
#else
#define PS_LOAD4(p) _mm256_loadu_pd(p)
#define PS_LOAD4_FIRST(p, valid) _mm256_maskload_pd(p, ps_mask4(valid))
#define PS_VL 4
#define PS_V __m256d
#define PS_VMASK_T __m256i
#define PS_VMASK(valid) ps_mask4(valid)
#define PS_VLOAD(p) _mm256_loadu_pd(p)
#define PS_VLOADM(p, m) _mm256_maskload_pd(p, m)
#define PS_VSTORE(p, v) _mm256_storeu_pd(p, v)
#define PS_VSTOREM(p, m, v) _mm256_maskstore_pd(p, m, v)
#define PS_VSET1(s) _mm256_set1_pd(s)
#define PS_VADD(a, b) _mm256_add_pd(a, b)
#define PS_VMUL(a, b) _mm256_mul_pd(a, b)
#endif

/* s + w x in the lanes [0, valid) (none when valid <= 0), s unchanged in the others. */
static inline __m256d ps_add_first(__m256d s, const NN_T *w, const NN_T *x, int64_t valid)
{
    if (valid <= 0) return s;
    return _mm256_blendv_pd(
        s, _mm256_add_pd(s, _mm256_mul_pd(PS_LOAD4_FIRST(w, valid), PS_LOAD4_FIRST(x, valid))),
        _mm256_castsi256_pd(ps_mask4(valid)));
}

/* w . x: partial sums s_0..3, s_4..7, s_8..11, s_12..15 in four vectors (perceptron_simd.h) */
static inline double ps_dot(const NN_T *w, const NN_T *x, int64_t k)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, u;
    __m128d v;
    int64_t j = 0;
    for (; j + 16 <= k; j += 16) {
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(PS_LOAD4(w + j), PS_LOAD4(x + j)));
        s1 = _mm256_add_pd(s1, _mm256_mul_pd(PS_LOAD4(w + j + 4), PS_LOAD4(x + j + 4)));
        s2 = _mm256_add_pd(s2, _mm256_mul_pd(PS_LOAD4(w + j + 8), PS_LOAD4(x + j + 8)));
        s3 = _mm256_add_pd(s3, _mm256_mul_pd(PS_LOAD4(w + j + 12), PS_LOAD4(x + j + 12)));
    }
    if (j < k) {
        s0 = ps_add_first(s0, w + j, x + j, k - j);
        s1 = ps_add_first(s1, w + j + 4, x + j + 4, k - j - 4);
        s2 = ps_add_first(s2, w + j + 8, x + j + 8, k - j - 8);
        s3 = ps_add_first(s3, w + j + 12, x + j + 12, k - j - 12);
    }
    u = _mm256_add_pd(_mm256_add_pd(s0, s2), _mm256_add_pd(s1, s3)); /* u_l = t_l + t_{l+4} */
    v = _mm_add_pd(_mm256_castpd256_pd128(u), _mm256_extractf128_pd(u, 1));
    return _mm_cvtsd_f64(v) + _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
}

/* w . x[r] for 2 rows, their chains interleaved, each row's sums as ps_dot's; the two
 * reductions packed together, the same pairs added at each level:
 * u_r = (s_0..3 + s_8..11) + (s_4..7 + s_12..15), v = [u_a 01, u_b 01] + [u_a 23, u_b 23]. */
static inline void ps_dots(double *p, const NN_T *w, const NN_T *const *x, int64_t k)
{
    __m256d s[2][4], u[2], v;
    double out[4];
    int64_t j = 0;
    int r, g;
    for (r = 0; r < 2; r++)
        for (g = 0; g < 4; g++) s[r][g] = _mm256_setzero_pd();
    for (; j + 16 <= k; j += 16)
        for (g = 0; g < 4; g++) {
            const __m256d wg = PS_LOAD4(w + j + 4 * g);
            for (r = 0; r < 2; r++)
                s[r][g] = _mm256_add_pd(s[r][g], _mm256_mul_pd(wg, PS_LOAD4(x[r] + j + 4 * g)));
        }
    if (j < k)
        for (r = 0; r < 2; r++)
            for (g = 0; g < 4; g++)
                s[r][g] = ps_add_first(s[r][g], w + j + 4 * g, x[r] + j + 4 * g, k - j - 4 * g);
    for (r = 0; r < 2; r++)
        u[r] = _mm256_add_pd(_mm256_add_pd(s[r][0], s[r][2]), _mm256_add_pd(s[r][1], s[r][3]));
    v = _mm256_add_pd(_mm256_permute2f128_pd(u[0], u[1], 0x20),
                      _mm256_permute2f128_pd(u[0], u[1], 0x31));
    _mm256_storeu_pd(out, _mm256_hadd_pd(v, v));
    p[0] = out[0], p[1] = out[2];
}

#define PS_EPOCH NNI_F(sgd_rows_avx2)
#define PS_ROWS 2
#define PS_DOT ps_dot
#define PS_DOTS ps_dots
#define PS_STEP ps_vector_step
#include "perceptron_simd.h"
