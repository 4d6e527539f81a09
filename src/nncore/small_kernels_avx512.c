/* The fused small-network step (small_net.h) compiled with -mavx512f -mfma (/arch:AVX512):
 * 512-bit registers. small_net.c runs it only when the GEMM kernel in use is avx512 (so the
 * CPU runs avx512f). */
#include "internal.h"
#include "optim_step.h"

#define SMALL_STEP NNI_F(small_step_avx512)
#define SMALL_FORWARD NNI_F(small_forward_avx512)
#define SMALL_VBYTES 64
#include "small_net.h"
