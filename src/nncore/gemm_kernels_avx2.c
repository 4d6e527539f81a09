/* AVX2 + FMA micro-kernels: float 6x16, double 6x8 (12 of the 16 ymm registers hold C).
 * Compiled with -mavx2 -mfma (/arch:AVX2) by CMakeLists.txt; run only when the CPU reports
 * avx2 and fma (dispatch.c). */
#include "internal.h"

#include <immintrin.h>

#define UKR_NAME nni_ukr_avx2_f32
#define UKR_NARROW_NAME nni_ukr_narrow_avx2_f32
#define UKR_MR 6
#define UKR_T float
#define UKR_V __m256
#define UKR_VL 8
#define UKR_LOAD(p) _mm256_loadu_ps(p)
#define UKR_STORE(p, v) _mm256_storeu_ps(p, v)
#define UKR_BCAST(x) _mm256_set1_ps(x)
#define UKR_ZERO() _mm256_setzero_ps()
#define UKR_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define UKR_ADD(a, b) _mm256_add_ps(a, b)
#define UKR_MUL(a, b) _mm256_mul_ps(a, b)
#define UKR_MASK_T __m256i
#define UKR_MASK(lanes) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define UKR_MASKLOAD(p, m) _mm256_maskload_ps(p, m)
#define UKR_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define UKR_PREFETCH_L2(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)
#define UKR_KEEP_OPS
static
#include "gemm_ukr_simd.h"
#undef UKR_KEEP_OPS

/* Edge kernels: the first vector of a 2-vector panel whose second is padding (gemm.c). */
#define UKR_NAME nni_ukr_avx2_f32_6x8_of_16
#define UKR_MR 6
#define UKR_NV 1
#define UKR_B_STRIDE 16
static
#include "gemm_ukr_simd.h"

#define UKR_NAME nni_ukr_avx2_f64
#define UKR_NARROW_NAME nni_ukr_narrow_avx2_f64
#define UKR_MR 6
#define UKR_T double
#define UKR_V __m256d
#define UKR_VL 4
#define UKR_LOAD(p) _mm256_loadu_pd(p)
#define UKR_STORE(p, v) _mm256_storeu_pd(p, v)
#define UKR_BCAST(x) _mm256_set1_pd(x)
#define UKR_ZERO() _mm256_setzero_pd()
#define UKR_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define UKR_ADD(a, b) _mm256_add_pd(a, b)
#define UKR_MUL(a, b) _mm256_mul_pd(a, b)
#define UKR_MASK_T __m256i
#define UKR_MASK(lanes) _mm256_cmpgt_epi64(_mm256_set1_epi64x(lanes), _mm256_setr_epi64x(0, 1, 2, 3))
#define UKR_MASKLOAD(p, m) _mm256_maskload_pd(p, m)
#define UKR_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define UKR_PREFETCH_L2(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)
#define UKR_KEEP_OPS
static
#include "gemm_ukr_simd.h"
#undef UKR_KEEP_OPS

#define UKR_NAME nni_ukr_avx2_f64_6x4_of_8
#define UKR_MR 6
#define UKR_NV 1
#define UKR_B_STRIDE 8
static
#include "gemm_ukr_simd.h"

const nni_gemm_kernel nni_kernel_avx2 = {
    "avx2", "avx2+fma 6x16", "avx2+fma 6x8", 6, 16, 6, 8, nni_ukr_avx2_f32, nni_ukr_avx2_f64,
    8, 4, nni_ukr_narrow_avx2_f32, nni_ukr_narrow_avx2_f64,
    nni_pack_t_avx2_f32, NULL, {nni_ukr_avx2_f32_6x8_of_16, NULL},
    {nni_ukr_avx2_f64_6x4_of_8, NULL}, nni_ukr_avx2_f32_a_in_place,
    {nni_ukr_avx2_f32_6x8_of_16_a_in_place, NULL}, nni_ukr_avx2_f64_a_in_place,
    {nni_ukr_avx2_f64_6x4_of_8_a_in_place, NULL}, NULL, 1, 1, nni_ukr_avx2_f32_b_in_place,
    {nni_ukr_avx2_f32_6x8_of_16_b_in_place, NULL}, nni_ukr_avx2_f64_b_in_place,
    {nni_ukr_avx2_f64_6x4_of_8_b_in_place, NULL}, nni_ukr_narrow_avx2_f32_b_in_place,
    nni_ukr_narrow_avx2_f64_b_in_place, nni_sgd_step_avx2_f32, nni_sgd_step_avx2_f64,
    nni_adam_step_avx2_f32, nni_adam_step_avx2_f64, 0, NULL, NULL, NULL,
    NULL, {NULL, NULL}, NULL, {NULL, NULL}};
