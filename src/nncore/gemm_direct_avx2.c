/* The direct mid-size product (gemm_direct_simd.h) for AVX2 + FMA: tiles of 4 rows x 3
 * vectors or 6 rows x 2 (12 of the 16 ymm registers hold C), C's last vector through
 * maskload / maskstore. Compiled with -mavx2 -mfma (/arch:AVX2) once per element type;
 * gemm_direct.c runs it only when the GEMM kernel in use is avx2 or avx512. */
#include "internal.h"

#include <immintrin.h>

#ifdef NN_ELEM_F32
#define DG_V __m256
#define DG_VL 8
#define DG_MASK_T __m256i
#define DG_MASK(cols)                                                                      \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define DG_LOAD(p) _mm256_loadu_ps(p)
#define DG_LOADM(p, m) _mm256_maskload_ps(p, m)
#define DG_STORE(p, v) _mm256_storeu_ps(p, v)
#define DG_STOREM(p, m, v) _mm256_maskstore_ps(p, m, v)
#define DG_BCAST(x) _mm256_set1_ps(x)
#define DG_ZERO() _mm256_setzero_ps()
#define DG_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define DG_ADD(a, b) _mm256_add_ps(a, b)
#define DG_SUB(a, b) _mm256_sub_ps(a, b)
#define DG_MUL(a, b) _mm256_mul_ps(a, b)
#define DG_MAX(a, b) _mm256_max_ps(a, b)
#define DG_KEEP(a)                                                                         \
    _mm256_and_ps(_mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(1.0f))
#else
#define DG_V __m256d
#define DG_VL 4
#define DG_MASK_T __m256i
#define DG_MASK(cols)                                                                      \
    _mm256_cmpgt_epi64(_mm256_set1_epi64x(cols), _mm256_setr_epi64x(0, 1, 2, 3))
#define DG_LOAD(p) _mm256_loadu_pd(p)
#define DG_LOADM(p, m) _mm256_maskload_pd(p, m)
#define DG_STORE(p, v) _mm256_storeu_pd(p, v)
#define DG_STOREM(p, m, v) _mm256_maskstore_pd(p, m, v)
#define DG_BCAST(x) _mm256_set1_pd(x)
#define DG_ZERO() _mm256_setzero_pd()
#define DG_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define DG_ADD(a, b) _mm256_add_pd(a, b)
#define DG_SUB(a, b) _mm256_sub_pd(a, b)
#define DG_MUL(a, b) _mm256_mul_pd(a, b)
#define DG_MAX(a, b) _mm256_max_pd(a, b)
#define DG_KEEP(a)                                                                         \
    _mm256_and_pd(_mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_GT_OQ), _mm256_set1_pd(1.0))
#endif
#define DG_MR2 6
#define DG_MR3 4
#ifdef DG_UNFUSED /* gemm_direct_avx2_unfused.c: a multiply and an add a term */
#undef DG_FMA
#define DG_FMA(a, b, c) DG_ADD(DG_MUL(a, b), c)
#define DG_NAME NNI_F(direct_rows_avx2_unfused)
#else
#define DG_NAME NNI_F(direct_rows_avx2)
#define DG_COLSUM_NAME NNI_F(column_sums_avx2)
#endif
#include "gemm_direct_simd.h"
