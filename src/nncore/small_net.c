/* The fused small-network engine: when it applies (the rule below), which instruction set's step
 * runs, and the portable step (small_net.h compiled for the baseline). train.c calls the step
 * per batch in place of network.c's batch_loss_gradient + optim.c.
 *
 * The rule: a net trains here when its parameters with their gradients and optimizer state, and
 * one batch's activations and deltas, fit in SMALL_MAX_BYTES, a budget well inside L2 (1.25 MiB
 * on the Ice Lake Xeon, 512 KiB on the AMD EPYC CI machine), so the whole step runs from L1/L2.
 * Beyond it the general path's packed GEMM (FMA micro-kernels, threads) wins. Measured on the
 * Ice Lake Xeon, float64, sgd, tanh/softmax, 1 thread, fused against general (callgrind
 * instructions of a whole run; time per step, best of 5 on a shared machine, indicative):
 *   [16, 32, 4]    batch 16   35 KiB:  2.6M / 7.3M instr,    4.8 / 15.1 us  fused 3.1x faster
 *   [32, 64, 10]   batch 32  144 KiB: 13.1M / 26.7M instr,  22.5 / 53.8 us  fused 2.4x faster
 *   [64, 128, 10]  batch 64  528 KiB: 65.2M / 62.7M instr,   140 / 127 us   general 1.1x faster
 *   [128, 256, 10] batch 64  1.5 MiB: 202M / 173M instr,     469 / 341 us   general 1.4x faster
 * so the budget sits between the last fused win and the first loss: 256 KiB. W2 ([4, 16, 3],
 * batch 16): 25.7k against 63.4k instructions per step; W1 ([2, 1], batch 4): 2.3k against 3.1k.
 * NNFAST_SMALL_ENGINE=0 forces the general path (tests compare the two).
 */
#include "internal.h"
#include "optim_step.h"

#ifndef SMALL_MAX_BYTES
#define SMALL_MAX_BYTES (256 * 1024)
#endif

#define SMALL_STEP NNI_F(small_step_portable)
#define SMALL_FORWARD NNI_F(small_forward_portable)
#define SMALL_VBYTES 16
#include "small_net.h"

/* The bytes one step touches: parameters, gradients and optimizer state (3 or 4 copies), the
 * batch's input and targets, every layer's output, the output logits and two deltas, W^T. */
static double step_bytes(const nn_net *net, int64_t batch, nn_opt optimizer)
{
    double params = 0, acts = 0, maxw = 1, maxkn = 1;
    int64_t l;
    for (l = 0; l < net->n_layers; l++) {
        const double k = (double)net->sizes[l], n = (double)net->sizes[l + 1];
        params += k * n + n;
        acts += n;
        if (n > maxw) maxw = n;
        if (k * n > maxkn) maxkn = k * n;
    }
    return sizeof(NN_T) * (params * (optimizer == NN_OPT_ADAM ? 4 : 3) + maxkn +
                           (double)batch * ((double)net->sizes[0] + acts +
                                            2.0 * (double)net->sizes[net->n_layers] + 2 * maxw));
}

/* 2: avx512, 1: avx2, 0: portable: the instruction set of the GEMM kernel in use, so
 * NNFAST_GEMM_KERNEL=avx2 runs the AVX2 engine on an AVX-512 machine; -1 when
 * NNFAST_SMALL_ENGINE=0. */
static int engine_isa(void)
{
    const char *kernel = nni_gemm_kernel_get()->name;
    if (nni_env_is_zero("NNFAST_SMALL_ENGINE")) return -1;
#ifdef NN_HAVE_KERNEL_AVX512
    if (strncmp(kernel, "avx512", 6) == 0) return 2; /* avx512, avx512_12x32 */
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    if (strcmp(kernel, "avx2") == 0 || strncmp(kernel, "avx512", 6) == 0) return 1;
#endif
    (void)kernel;
    return 0;
}

NNI_F(small_step_fn) NNI_F(small_engine)(const nn_net *net, int64_t batch, nn_opt optimizer)
{
    const int isa = engine_isa();
    if (isa < 0 || step_bytes(net, batch, optimizer) > SMALL_MAX_BYTES) return NULL;
    if (nni_net_has_dropout(net)) return NULL; /* masks: the general path's */
#ifdef NN_HAVE_KERNEL_AVX512
    if (isa == 2) return NNI_F(small_step_avx512);
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    if (isa >= 1) return NNI_F(small_step_avx2);
#endif
    return NNI_F(small_step_portable);
}

/* The forward for nets whose parameters fit SMALL_MAX_BYTES (nn_forward's chunks then run from
 * L1/L2), else NULL (the general dense_forward).                                           */
NNI_F(small_forward_fn) NNI_F(small_forward_engine)(const nn_net *net)
{
    const int isa = engine_isa();
    double params = 0;
    int64_t l;
    for (l = 0; l < net->n_layers; l++)
        params += (double)net->sizes[l] * (double)net->sizes[l + 1] + (double)net->sizes[l + 1];
    if (isa < 0 || params * sizeof(NN_T) > SMALL_MAX_BYTES) return NULL;
#ifdef NN_HAVE_KERNEL_AVX512
    if (isa == 2) return NNI_F(small_forward_avx512);
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    if (isa >= 1) return NNI_F(small_forward_avx2);
#endif
    return NNI_F(small_forward_portable);
}
