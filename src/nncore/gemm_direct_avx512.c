/* The direct mid-size product (gemm_direct_simd.h) for AVX-512F: tiles of 8 rows x 3 vectors
 * or 12 rows x 2 (24 of the 32 zmm registers hold C), op(A)'s element broadcast from memory
 * into the FMA, C's last vector through a lane mask, and in ymm registers when it has at most
 * half the lanes (AVX-512VL). Compiled with -mavx512f -mavx512vl -mfma (/arch:AVX512) once
 * per element type; gemm_direct.c runs it only when the GEMM kernel in use is avx512 and the
 * CPU has VL (so the CPU runs it). */
#include "internal.h"

#include <immintrin.h>

#ifdef NN_ELEM_F32
#define DG_V __m512
#define DG_VL 16
#define DG_MASK_T __mmask16
#define DG_MASK(cols) ((__mmask16)((1u << (cols)) - 1u))
#define DG_LOAD(p) _mm512_loadu_ps(p)
#define DG_LOADM(p, m) _mm512_maskz_loadu_ps(m, p)
#define DG_STORE(p, v) _mm512_storeu_ps(p, v)
#define DG_STOREM(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define DG_BCAST(x) _mm512_set1_ps(x)
#define DG_ZERO() _mm512_setzero_ps()
#define DG_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define DG_ADD(a, b) _mm512_add_ps(a, b)
#define DG_SUB(a, b) _mm512_sub_ps(a, b)
#define DG_MUL(a, b) _mm512_mul_ps(a, b)
#define DG_MAX(a, b) _mm512_max_ps(a, b)
#define DG_KEEP(a)                                                                         \
    _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ),           \
                        _mm512_set1_ps(1.0f))
#define DG_HV __m256
#define DG_HZERO() _mm256_setzero_ps()
#define DG_HLOADM(p, m) _mm256_maskz_loadu_ps((__mmask8)(m), p)
#define DG_HBCAST(p) _mm256_broadcast_ss(p)
#define DG_HFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define DG_HWIDEN(h) _mm512_zextps256_ps512(h)
#else
#define DG_V __m512d
#define DG_VL 8
#define DG_MASK_T __mmask8
#define DG_MASK(cols) ((__mmask8)((1u << (cols)) - 1u))
#define DG_LOAD(p) _mm512_loadu_pd(p)
#define DG_LOADM(p, m) _mm512_maskz_loadu_pd(m, p)
#define DG_STORE(p, v) _mm512_storeu_pd(p, v)
#define DG_STOREM(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define DG_BCAST(x) _mm512_set1_pd(x)
#define DG_ZERO() _mm512_setzero_pd()
#define DG_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define DG_ADD(a, b) _mm512_add_pd(a, b)
#define DG_SUB(a, b) _mm512_sub_pd(a, b)
#define DG_MUL(a, b) _mm512_mul_pd(a, b)
#define DG_MAX(a, b) _mm512_max_pd(a, b)
#define DG_KEEP(a)                                                                         \
    _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_GT_OQ),           \
                        _mm512_set1_pd(1.0))
#define DG_HV __m256d
#define DG_HZERO() _mm256_setzero_pd()
#define DG_HLOADM(p, m) _mm256_maskz_loadu_pd((__mmask8)(m), p)
#define DG_HBCAST(p) _mm256_broadcast_sd(p)
#define DG_HFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define DG_HWIDEN(h) _mm512_zextpd256_pd512(h)
#endif
#define DG_MR2 12
#define DG_MR3 8
#define DG_WIDE_NV 16
#ifdef DG_UNFUSED /* gemm_direct_avx512_unfused.c: a multiply and an add a term */
#undef DG_FMA
#undef DG_HFMA
#define DG_FMA(a, b, c) DG_ADD(DG_MUL(a, b), c)
#ifdef NN_ELEM_F32
#define DG_HFMA(a, b, c) _mm256_add_ps(_mm256_mul_ps(a, b), c)
#else
#define DG_HFMA(a, b, c) _mm256_add_pd(_mm256_mul_pd(a, b), c)
#endif
#define DG_NAME NNI_F(direct_rows_avx512_unfused)
#else
#define DG_NAME NNI_F(direct_rows_avx512)
#define DG_COLSUM_NAME NNI_F(column_sums_avx512)
#endif
#include "gemm_direct_simd.h"
