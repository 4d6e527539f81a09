/* Vectorized exp, sigmoid, tanh (float, 16 lanes; double, 8 lanes), log1p and softplus
 * (double) for AVX-512F: the algorithms of vecmath_simd.h on 512-bit vectors, lane by lane the
 * same arithmetic as avx2's, so the two give the same bits. Compiled with -mavx512f -mfma
 * (/arch:AVX512); vecmath.c chooses it only when the CPU runs avx512f and fma.
 */
#include "internal.h"

#include <immintrin.h>

/* AVX-512F has no float bitwise ops (those are DQ): through the integer ones */
#define VM_PS_BITS(op, a, b)                                                                  \
    _mm512_castsi512_ps(op(_mm512_castps_si512(a), _mm512_castps_si512(b)))
#define VM_PD_BITS(op, a, b)                                                                  \
    _mm512_castsi512_pd(op(_mm512_castpd_si512(a), _mm512_castpd_si512(b)))

#define VM_FV __m512
#define VM_FL 16
#define VM_F1(x) _mm512_set1_ps(x)
#define VM_FLOAD(p) _mm512_loadu_ps(p)
#define VM_FSTORE(p, v) _mm512_storeu_ps(p, v)
#define VM_FADD(a, b) _mm512_add_ps(a, b)
#define VM_FSUB(a, b) _mm512_sub_ps(a, b)
#define VM_FMUL(a, b) _mm512_mul_ps(a, b)
#define VM_FDIV(a, b) _mm512_div_ps(a, b)
#define VM_FMIN(a, b) _mm512_min_ps(a, b)
#define VM_FMAX(a, b) _mm512_max_ps(a, b)
#define VM_FFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VM_FFNMA(a, b, c) _mm512_fnmadd_ps(a, b, c)
#define VM_FABS(v) VM_PS_BITS(_mm512_andnot_epi32, _mm512_set1_ps(-0.0f), v)
#define VM_FSIGN(v) VM_PS_BITS(_mm512_and_epi32, _mm512_set1_ps(-0.0f), v)
#define VM_FOR(a, b) VM_PS_BITS(_mm512_or_epi32, a, b)
#define VM_FSEL_LT(x, y, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_LT_OQ), a, b)
#define VM_FOK(v, lo, hi)                                                                     \
    ((int)(_mm512_cmp_ps_mask(v, _mm512_set1_ps(lo), _CMP_GE_OQ) &                            \
           _mm512_cmp_ps_mask(v, _mm512_set1_ps(hi), _CMP_LE_OQ)))
#define VM_FPOW2(t)                                                                           \
    _mm512_castsi512_ps(_mm512_slli_epi32(                                                    \
        _mm512_add_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(127)), 23))

#define VM_DV __m512d
#define VM_DL 8
#define VM_D1(x) _mm512_set1_pd(x)
#define VM_DLOAD(p) _mm512_loadu_pd(p)
#define VM_DSTORE(p, v) _mm512_storeu_pd(p, v)
#define VM_DLOAD_F32(p) _mm512_cvtps_pd(_mm256_loadu_ps(p))
#define VM_DADD(a, b) _mm512_add_pd(a, b)
#define VM_DSUB(a, b) _mm512_sub_pd(a, b)
#define VM_DMUL(a, b) _mm512_mul_pd(a, b)
#define VM_DDIV(a, b) _mm512_div_pd(a, b)
#define VM_DMIN(a, b) _mm512_min_pd(a, b)
#define VM_DMAX(a, b) _mm512_max_pd(a, b)
#define VM_DFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VM_DFNMA(a, b, c) _mm512_fnmadd_pd(a, b, c)
#define VM_DABS(v) VM_PD_BITS(_mm512_andnot_epi64, _mm512_set1_pd(-0.0), v)
#define VM_DSIGN(v) VM_PD_BITS(_mm512_and_epi64, _mm512_set1_pd(-0.0), v)
#define VM_DOR(a, b) VM_PD_BITS(_mm512_or_epi64, a, b)
#define VM_DSEL_LT(x, y, a, b) _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, y, _CMP_LT_OQ), a, b)
#define VM_DOK(v, lo, hi)                                                                     \
    ((int)(_mm512_cmp_pd_mask(v, _mm512_set1_pd(lo), _CMP_GE_OQ) &                            \
           _mm512_cmp_pd_mask(v, _mm512_set1_pd(hi), _CMP_LE_OQ)))
#define VM_DPOW2(t)                                                                           \
    _mm512_castsi512_pd(_mm512_slli_epi64(                                                    \
        _mm512_add_epi64(_mm512_castpd_si512(t), _mm512_set1_epi64(1023)), 52))
#define VM_DADDBITS(v, c)                                                                     \
    _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(v), _mm512_set1_epi64(c)))
#define VM_DEXPO(v)                                                                           \
    _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_epi64(                                        \
                      _mm512_srli_epi64(_mm512_castpd_si512(v), 52),                          \
                      _mm512_set1_epi64(0x4330000000000000LL))),                              \
                  _mm512_set1_pd(4503599627370496.0))
#define VM_DMANT(v, c)                                                                        \
    _mm512_castsi512_pd(_mm512_add_epi64(                                                     \
        _mm512_and_epi64(_mm512_castpd_si512(v), _mm512_set1_epi64(0x000fffffffffffffLL)),   \
        _mm512_set1_epi64(c)))

#include "vecmath_simd.h"

const nni_vecmath nni_vecmath_avx512 = {"avx512",        vm_exp_f32,     vm_sigmoid_f32,
                                        vm_tanh_f32,     vm_exp_f64,     vm_sigmoid_f64,
                                        vm_tanh_f64,     vm_log1p_f64,   vm_softplus_f64,
                                        vm_all_finite_f32, vm_all_finite_f64,
                                        vm_sum_squares_f32, vm_sum_squares_f64};
