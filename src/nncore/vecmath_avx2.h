/* The vector operations vecmath_simd.h is written in, for AVX2 + FMA (256-bit registers: 8
 * floats, 4 doubles). Included by the files compiled with -mavx2 -mfma that use the vector
 * math: vecmath_avx2.c (the arrays' functions) and neuron_train_avx2.c (inline, in a loop). */
#ifndef NNCORE_VECMATH_AVX2_H
#define NNCORE_VECMATH_AVX2_H
#include <immintrin.h>

#define VM_FV __m256
#define VM_FL 8
#define VM_F1(x) _mm256_set1_ps(x)
#define VM_FLOAD(p) _mm256_loadu_ps(p)
#define VM_FSTORE(p, v) _mm256_storeu_ps(p, v)
#define VM_FADD(a, b) _mm256_add_ps(a, b)
#define VM_FSUB(a, b) _mm256_sub_ps(a, b)
#define VM_FMUL(a, b) _mm256_mul_ps(a, b)
#define VM_FDIV(a, b) _mm256_div_ps(a, b)
#define VM_FMIN(a, b) _mm256_min_ps(a, b)
#define VM_FMAX(a, b) _mm256_max_ps(a, b)
#define VM_FFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VM_FFNMA(a, b, c) _mm256_fnmadd_ps(a, b, c)
#define VM_FABS(v) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v)
#define VM_FSIGN(v) _mm256_and_ps(_mm256_set1_ps(-0.0f), v)
#define VM_FOR(a, b) _mm256_or_ps(a, b)
#define VM_FSEL_LT(x, y, a, b) _mm256_blendv_ps(a, b, _mm256_cmp_ps(x, y, _CMP_LT_OQ))
#define VM_FOK(v, lo, hi)                                                                     \
    _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(v, _mm256_set1_ps(lo), _CMP_GE_OQ),        \
                                     _mm256_cmp_ps(v, _mm256_set1_ps(hi), _CMP_LE_OQ)))
#define VM_FPOW2(t)                                                                           \
    _mm256_castsi256_ps(_mm256_slli_epi32(                                                    \
        _mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127)), 23))

#define VM_DV __m256d
#define VM_DL 4
#define VM_D1(x) _mm256_set1_pd(x)
#define VM_DLOAD(p) _mm256_loadu_pd(p)
#define VM_DSTORE(p, v) _mm256_storeu_pd(p, v)
#define VM_DLOAD_F32(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#define VM_DADD(a, b) _mm256_add_pd(a, b)
#define VM_DSUB(a, b) _mm256_sub_pd(a, b)
#define VM_DMUL(a, b) _mm256_mul_pd(a, b)
#define VM_DDIV(a, b) _mm256_div_pd(a, b)
#define VM_DMIN(a, b) _mm256_min_pd(a, b)
#define VM_DMAX(a, b) _mm256_max_pd(a, b)
#define VM_DFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VM_DFNMA(a, b, c) _mm256_fnmadd_pd(a, b, c)
#define VM_DABS(v) _mm256_andnot_pd(_mm256_set1_pd(-0.0), v)
#define VM_DSIGN(v) _mm256_and_pd(_mm256_set1_pd(-0.0), v)
#define VM_DOR(a, b) _mm256_or_pd(a, b)
#define VM_DSEL_LT(x, y, a, b) _mm256_blendv_pd(a, b, _mm256_cmp_pd(x, y, _CMP_LT_OQ))
#define VM_DOK(v, lo, hi)                                                                     \
    _mm256_movemask_pd(_mm256_and_pd(_mm256_cmp_pd(v, _mm256_set1_pd(lo), _CMP_GE_OQ),        \
                                     _mm256_cmp_pd(v, _mm256_set1_pd(hi), _CMP_LE_OQ)))
#define VM_DPOW2(t)                                                                           \
    _mm256_castsi256_pd(_mm256_slli_epi64(                                                    \
        _mm256_add_epi64(_mm256_castpd_si256(t), _mm256_set1_epi64x(1023)), 52))
#define VM_DADDBITS(v, c)                                                                     \
    _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(v), _mm256_set1_epi64x(c)))
#define VM_DEXPO(v)                                                                           \
    _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(                                        \
                      _mm256_srli_epi64(_mm256_castpd_si256(v), 52),                          \
                      _mm256_set1_epi64x(0x4330000000000000LL))),                             \
                  _mm256_set1_pd(4503599627370496.0))
#define VM_DMANT(v, c)                                                                        \
    _mm256_castsi256_pd(_mm256_add_epi64(                                                     \
        _mm256_and_si256(_mm256_castpd_si256(v), _mm256_set1_epi64x(0x000fffffffffffffLL)),  \
        _mm256_set1_epi64x(c)))

#endif /* NNCORE_VECMATH_AVX2_H */
