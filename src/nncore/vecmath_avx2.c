/* Vectorized exp, sigmoid, tanh (float, 8 lanes; double, 4 lanes), log1p and softplus (double)
 * for AVX2 + FMA: the algorithms of vecmath_simd.h on 256-bit vectors. Compiled with
 * -mavx2 -mfma (/arch:AVX2); vecmath.c chooses it only when the CPU runs avx2 and fma.
 * Bounds measured by tests/c/test_vecmath.c (the same as avx512's: same algorithms, lane by lane).
 */
#include "internal.h"

#include "vecmath_avx2.h"
#include "vecmath_simd.h"

const nni_vecmath nni_vecmath_avx2 = {"avx2",          vm_exp_f32,     vm_sigmoid_f32,
                                      vm_tanh_f32,     vm_exp_f64,     vm_sigmoid_f64,
                                      vm_tanh_f64,     vm_log1p_f64,   vm_softplus_f64,
                                      vm_all_finite_f32, vm_all_finite_f64,
                                      vm_sum_squares_f32, vm_sum_squares_f64};
