/* The fused small-network step (small_net.h) compiled with -mavx2 -mfma (/arch:AVX2): the
 * direct loops vectorize for 256-bit registers and fuse multiply-adds. small_net.c runs it only
 * when the GEMM kernel in use is avx2 or avx512 (so the CPU runs avx2 and fma). */
#include "internal.h"
#include "optim_step.h"

#define SMALL_STEP NNI_F(small_step_avx2)
#define SMALL_FORWARD NNI_F(small_forward_avx2)
#define SMALL_VBYTES 32
#include "small_net.h"
