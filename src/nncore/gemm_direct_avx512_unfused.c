/* The direct product's tiles for AVX-512F (gemm_direct_avx512.c) with each term's product and sum
 * rounded apart, no FMA: acc = acc + a b, the rounding of gemm's scalar direct loop, for the
 * products it used to take (gemm_direct.c's DIRECT_UNFUSED_MAX_WORK). Compiled with the flags
 * of gemm_direct_avx512.c, FMA contraction off. */
#define DG_UNFUSED 1
#include "gemm_direct_avx512.c"
