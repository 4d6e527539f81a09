/* NEON micro-kernels for aarch64 (NEON is part of the base instruction set there):
 * float 6x8, double 6x4. Compiled only on aarch64 (CMakeLists.txt). */
#include "internal.h"

#include <arm_neon.h>

#define UKR_NAME nni_ukr_neon_f32
#define UKR_NARROW_NAME nni_ukr_narrow_neon_f32
#define UKR_MR 6
#define UKR_T float
#define UKR_V float32x4_t
#define UKR_VL 4
#define UKR_LOAD(p) vld1q_f32(p)
#define UKR_STORE(p, v) vst1q_f32(p, v)
#define UKR_BCAST(x) vdupq_n_f32(x)
#define UKR_ZERO() vdupq_n_f32(0.0f)
#define UKR_FMA(a, b, c) vfmaq_f32(c, a, b)
#define UKR_ADD(a, b) vaddq_f32(a, b)
#define UKR_MUL(a, b) vmulq_f32(a, b)
#define UKR_PREFETCH(p) ((void)0)
#define UKR_PREFETCH_L2(p) ((void)0)
static
#include "gemm_ukr_simd.h"

#define UKR_NAME nni_ukr_neon_f64
#define UKR_NARROW_NAME nni_ukr_narrow_neon_f64
#define UKR_MR 6
#define UKR_T double
#define UKR_V float64x2_t
#define UKR_VL 2
#define UKR_LOAD(p) vld1q_f64(p)
#define UKR_STORE(p, v) vst1q_f64(p, v)
#define UKR_BCAST(x) vdupq_n_f64(x)
#define UKR_ZERO() vdupq_n_f64(0.0)
#define UKR_FMA(a, b, c) vfmaq_f64(c, a, b)
#define UKR_ADD(a, b) vaddq_f64(a, b)
#define UKR_MUL(a, b) vmulq_f64(a, b)
#define UKR_PREFETCH(p) ((void)0)
#define UKR_PREFETCH_L2(p) ((void)0)
static
#include "gemm_ukr_simd.h"

const nni_gemm_kernel nni_kernel_neon = {
    "neon", "neon 6x8", "neon 6x4", 6, 8, 6, 4, nni_ukr_neon_f32, nni_ukr_neon_f64,
    4, 2, nni_ukr_narrow_neon_f32, nni_ukr_narrow_neon_f64, NULL, NULL, {NULL, NULL},
    {NULL, NULL}, NULL, {NULL, NULL}, NULL, {NULL, NULL}, NULL, 1, 1, NULL, {NULL, NULL}, NULL,
    {NULL, NULL}, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL,
    NULL, {NULL, NULL}, NULL, {NULL, NULL}};
