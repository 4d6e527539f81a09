/* AVX-512F micro-kernels: float 12x32 and 8x48, double 12x16 and 8x24 (24 of the 32 zmm
 * registers hold C).
 * Measured in isolation on an Ice Lake Xeon (packed panels in L1, kc 192-256, best of 300):
 * 6x32 ran 35 FLOP/cycle, 8x32 37, 12x32 38-44, 14x32 39-40 (of 64): the taller tile loads
 * B once for twice the FMAs. 8x48 holds as many accumulators as 12x32 with 8 broadcasts and
 * 3 loads of B a k step instead of 12 and 2: 11 loads per 24 FMAs instead of 14.
 * Against the FMA probe (12 independent FMA chains, fma_probe_avx512.c) timed just before
 * and after each run, medians of 9-11: 8 x 48 runs at 81-87 % of it whether its panels are
 * hot in L1 (kc 128-256) or B's panels stream from L2 past A's (kc 128-512, the A-in-L1
 * order), 12 x 32 at 70-77 %. Tried and dropped (whole 256 x 2048 x 2048 products, paired,
 * one thread): prefetching B's panel 4 or 8 k steps ahead inside the loop, 0.93-0.96x (the
 * out-of-order window already covers L2's latency; the prefetches take load slots); 6 x 64,
 * 1.02x with quartiles 0.92-1.06, not a gain; the k loop unrolled 8 the same as 4 (1 or 2:
 * 0.6x).
 * Compiled with -mavx512f -mfma (/arch:AVX512) by CMakeLists.txt; run only when the CPU
 * reports avx512f (dispatch.c). */
#include "internal.h"

#include <immintrin.h>

/* prefetchw: every CPU with AVX-512 has it (PRFCHW), but the compiler emits it only with
 * -mprfchw, which the build does not give */
#if defined(__GNUC__) || defined(__clang__)
#define NNI_PREFETCHW(p) __asm__ volatile("prefetchw %0" : : "m"(*(const char *)(p)))
#else
#define NNI_PREFETCHW(p) _m_prefetchw((const void *)(p))
#endif

#define UKR_NAME nni_ukr_avx512_f32
#define UKR_NARROW_NAME nni_ukr_narrow_avx512_f32
#define UKR_MR 12
#define UKR_T float
#define UKR_V __m512
#define UKR_VL 16
#define UKR_LOAD(p) _mm512_loadu_ps(p)
#define UKR_STORE(p, v) _mm512_storeu_ps(p, v)
#define UKR_BCAST(x) _mm512_set1_ps(x)
#define UKR_ZERO() _mm512_setzero_ps()
#define UKR_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define UKR_ADD(a, b) _mm512_add_ps(a, b)
#define UKR_MUL(a, b) _mm512_mul_ps(a, b)
#define UKR_MASK_T __mmask16
#define UKR_MASK(lanes) ((__mmask16)((1u << (lanes)) - 1u))
#define UKR_MASKLOAD(p, m) _mm512_maskz_loadu_ps(m, p)
#define UKR_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define UKR_PREFETCH_L2(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)
#define UKR_PREFETCH_W(p) NNI_PREFETCHW(p)
#define UKR_KEEP_OPS /* the float operations, for the edge and 8 x 48 kernels next */
static
#include "gemm_ukr_simd.h"

/* Edge kernels: the first vectors of a panel whose last columns are padding (n = 256 against
 * 48-wide panels ends in a 16-wide one): the same sums over the same packed panel, without
 * the FMAs on the padding. */
#define UKR_NAME nni_ukr_avx512_f32_12x16_of_32
#define UKR_MR 12
#define UKR_NV 1
#define UKR_B_STRIDE 32
static
#include "gemm_ukr_simd.h"

#define UKR_NAME nni_ukr_avx512_f32_8x48
#define UKR_WITH_A_T_IN_PLACE
#define UKR_NARROW_NAME nni_ukr_narrow_avx512_f32_8
#define UKR_MR 8
#define UKR_NV 3
#define UKR_WITH_B_PACKING
static
#include "gemm_ukr_simd.h"

#define UKR_NAME nni_ukr_avx512_f32_8x16_of_48
#define UKR_WITH_A_T_IN_PLACE
#define UKR_MR 8
#define UKR_NV 1
#define UKR_B_STRIDE 48
static
#include "gemm_ukr_simd.h"
#undef UKR_KEEP_OPS

#define UKR_NAME nni_ukr_avx512_f32_8x32_of_48
#define UKR_WITH_A_T_IN_PLACE
#define UKR_MR 8
#define UKR_NV 2
#define UKR_B_STRIDE 48
static
#include "gemm_ukr_simd.h"

#define UKR_NAME nni_ukr_avx512_f64
#define UKR_NARROW_NAME nni_ukr_narrow_avx512_f64
#define UKR_MR 12
#define UKR_T double
#define UKR_V __m512d
#define UKR_VL 8
#define UKR_LOAD(p) _mm512_loadu_pd(p)
#define UKR_STORE(p, v) _mm512_storeu_pd(p, v)
#define UKR_BCAST(x) _mm512_set1_pd(x)
#define UKR_ZERO() _mm512_setzero_pd()
#define UKR_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define UKR_ADD(a, b) _mm512_add_pd(a, b)
#define UKR_MUL(a, b) _mm512_mul_pd(a, b)
#define UKR_MASK_T __mmask8
#define UKR_MASK(lanes) ((__mmask8)((1u << (lanes)) - 1u))
#define UKR_MASKLOAD(p, m) _mm512_maskz_loadu_pd(m, p)
#define UKR_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#define UKR_PREFETCH_L2(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)
#define UKR_PREFETCH_W(p) NNI_PREFETCHW(p)
#define UKR_KEEP_OPS
static
#include "gemm_ukr_simd.h"
#undef UKR_KEEP_OPS

#define UKR_NAME nni_ukr_avx512_f64_12x8_of_16
#define UKR_MR 12
#define UKR_NV 1
#define UKR_B_STRIDE 16
#define UKR_KEEP_OPS
static
#include "gemm_ukr_simd.h"

#define UKR_NAME nni_ukr_avx512_f64_8x24
#define UKR_WITH_A_T_IN_PLACE
#define UKR_NARROW_NAME nni_ukr_narrow_avx512_f64_8x16
#define UKR_NARROW_NV 2 /* n = 10 as one panel of 2 x 8 lanes, A read in place */
#define UKR_MR 8
#define UKR_NV 3
#define UKR_WITH_B_PACKING
static
#include "gemm_ukr_simd.h"

#define UKR_NAME nni_ukr_avx512_f64_8x8_of_24
#define UKR_WITH_A_T_IN_PLACE
#define UKR_MR 8
#define UKR_NV 1
#define UKR_B_STRIDE 24
static
#include "gemm_ukr_simd.h"
#undef UKR_KEEP_OPS

#define UKR_NAME nni_ukr_avx512_f64_8x16_of_24
#define UKR_WITH_A_T_IN_PLACE
#define UKR_MR 8
#define UKR_NV 2
#define UKR_B_STRIDE 24
static
#include "gemm_ukr_simd.h"

/* The set with the older tiles, float 12x32 and double 12x16: the default set's few_rows
 * (C with 9-12 rows, as the transposed products of a 10-wide layer) and, for comparison,
 * NNFAST_GEMM_KERNEL=avx512_12x32. */
const nni_gemm_kernel nni_kernel_avx512_12x32 = {
    "avx512_12x32", "avx512f 12x32", "avx512f 12x16", 12, 32, 12, 16, nni_ukr_avx512_f32,
    nni_ukr_avx512_f64, 16, 8, nni_ukr_narrow_avx512_f32, nni_ukr_narrow_avx512_f64,
    nni_pack_t_avx512_f32, nni_pack_t_avx512_f64, {nni_ukr_avx512_f32_12x16_of_32, NULL},
    {nni_ukr_avx512_f64_12x8_of_16, NULL}, nni_ukr_avx512_f32_a_in_place,
    {nni_ukr_avx512_f32_12x16_of_32_a_in_place, NULL}, nni_ukr_avx512_f64_a_in_place,
    {nni_ukr_avx512_f64_12x8_of_16_a_in_place, NULL}, NULL, 1, 1, nni_ukr_avx512_f32_b_in_place,
    {nni_ukr_avx512_f32_12x16_of_32_b_in_place, NULL}, nni_ukr_avx512_f64_b_in_place,
    {nni_ukr_avx512_f64_12x8_of_16_b_in_place, NULL}, nni_ukr_narrow_avx512_f32_b_in_place,
    nni_ukr_narrow_avx512_f64_b_in_place, nni_sgd_step_avx2_f32, nni_sgd_step_avx2_f64,
    nni_adam_step_avx2_f32, nni_adam_step_avx2_f64, 0, NULL, NULL, NULL,
    NULL, {NULL, NULL}, NULL, {NULL, NULL}};

/* float 8x48: 1.08-1.14x the speed of 12x32 on 2048^3 and W4's large products on 1 thread,
 * 1.01-1.14x on 2 (paired runs, Ice Lake Xeon; the blocking's figures in dispatch.c). The
 * one product it slows is a C with 10 rows after the transposition (W4's dW3 = A2^T delta,
 * 2048 x 10 x 256): two 8-row panels against one of 12, 0.96-0.98x; few_rows gives such a
 * product the 12-row set.
 * double 8x24, the same shape of tile, against 12x16 (Sapphire Rapids-class Xeon KVM guest,
 * bench_gemm_configs -d -o 16, 9 paired rounds, load 0.06): 2048^3 1 thread 1.13x, 256 x
 * 2048 x 2048 2 threads 1.10x (quartiles 1.07-1.14); W4's other large products and W3's
 * 64 x 256 x 784 1.10-1.17x in runs at load 0.6-1.3 (indicative); a C of 10 rows after the
 * transposition 0.85-0.94x without few_rows (indicative). */
const nni_gemm_kernel nni_kernel_avx512 = {
    "avx512", "avx512f 8x48", "avx512f 8x24", 8, 48, 8, 24, nni_ukr_avx512_f32_8x48,
    nni_ukr_avx512_f64_8x24, 16, 8, nni_ukr_narrow_avx512_f32_8, nni_ukr_narrow_avx512_f64_8x16,
    nni_pack_t_avx512_f32, nni_pack_t_avx512_f64,
    {nni_ukr_avx512_f32_8x16_of_48, nni_ukr_avx512_f32_8x32_of_48},
    {nni_ukr_avx512_f64_8x8_of_24, nni_ukr_avx512_f64_8x16_of_24},
    nni_ukr_avx512_f32_8x48_a_in_place,
    {nni_ukr_avx512_f32_8x16_of_48_a_in_place, nni_ukr_avx512_f32_8x32_of_48_a_in_place},
    nni_ukr_avx512_f64_8x24_a_in_place,
    {nni_ukr_avx512_f64_8x8_of_24_a_in_place, nni_ukr_avx512_f64_8x16_of_24_a_in_place},
    &nni_kernel_avx512_12x32, 1, 2, nni_ukr_avx512_f32_8x48_b_in_place,
    {nni_ukr_avx512_f32_8x16_of_48_b_in_place, nni_ukr_avx512_f32_8x32_of_48_b_in_place},
    nni_ukr_avx512_f64_8x24_b_in_place,
    {nni_ukr_avx512_f64_8x8_of_24_b_in_place, nni_ukr_avx512_f64_8x16_of_24_b_in_place},
    nni_ukr_narrow_avx512_f32_8_b_in_place, nni_ukr_narrow_avx512_f64_8x16_b_in_place,
    nni_sgd_step_avx2_f32, nni_sgd_step_avx2_f64, nni_adam_step_avx2_f32,
    nni_adam_step_avx2_f64, 0, NULL, nni_ukr_avx512_f32_8x48_b_packing,
    nni_ukr_avx512_f64_8x24_b_packing, nni_ukr_avx512_f32_8x48_at_in_place,
    {nni_ukr_avx512_f32_8x16_of_48_at_in_place, nni_ukr_avx512_f32_8x32_of_48_at_in_place},
    nni_ukr_avx512_f64_8x24_at_in_place,
    {nni_ukr_avx512_f64_8x8_of_24_at_in_place, nni_ukr_avx512_f64_8x16_of_24_at_in_place}};
