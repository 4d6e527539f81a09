/* The optimizer steps' elementwise arithmetic (optim_step.h) compiled with -mavx2 -mfma
 * (/arch:AVX2) and without FMA contraction: the same operations per element as optim.c's
 * baseline build in 256-bit vectors, so the same bits. The avx2 and avx512 kernel sets carry
 * them (gemm_kernels_<isa>.c); optim.c takes them from the set in use. The step's loads and
 * stores bound it (5 of them a parameter, sgd with momentum). nn_sgd_update_f32 over 235 k
 * floats from L3 (W3's parameters), Zen 4 EPYC, medians of 101 calls alternating the kernel
 * sets in one process, load 0.15: one thread 0.26-0.28 ns an element with the baseline,
 * 0.15 with these (1.54-1.87x, 5 runs), two threads 0.17 against 0.14 (1.24x); the same loop
 * built for AVX-512 was no faster (0.18-0.20 against 0.15-0.17 in the runs that had it);
 * 6.3 M floats (W4's) come from memory at 0.73-0.77 with any of them.                        */
#include "internal.h"
#include "optim_step.h"

void NNI_F(sgd_step_avx2)(NN_T *w, NN_T *v, const NN_T *g, int64_t i0, int64_t i1, NN_T mu,
                          NN_T eta, int nesterov, NN_T alpha, NN_T m, NN_T inv)
{
    nni_sgd_step_any(w, v, g, i0, i1, mu, eta, nesterov, alpha, m, inv);
}

void NNI_F(adam_step_avx2)(NN_T *w, NN_T *mo, NN_T *v, const NN_T *g, int64_t i0, int64_t i1,
                           NN_T b1, NN_T c1, NN_T b2, NN_T c2, NN_T step, NN_T eps, NN_T alpha,
                           NN_T m, NN_T inv)
{
    nni_adam_step_any(w, mo, v, g, i0, i1, b1, c1, b2, c2, step, eps, alpha, m, inv);
}
