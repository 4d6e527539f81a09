/* One neuron trained full-batch: every epoch of a fit in one call, nothing between epochs but
 * the arithmetic (neuron_train_avx2.c). It takes a single dense layer with one output
 * (logistic regression: sigmoid + bce; linear regression: identity + mse) trained on the whole
 * data set as one batch, without sample weights or L2: the seeds' AND gate, 4 rows of 2
 * inputs, is one. There an epoch costs a few hundred instructions, where the per-batch
 * machinery of the fused step (small_net.h: argument checks, loss tables, block loops) costs
 * several times that. train.c's train_epochs hands such fits here; the results are the same
 * bits (tests/test_small_engine.py).
 */
#include "internal.h"

/* rows x inputs at most: the data set (64 KiB of double) stays in L1/L2 across the epochs;
 * larger data sets go to the general path, whose products use the threads */
#define NEURON_MAX_ELEMS 8192

int NNI_F(neuron_applies)(const nn_net *net, int64_t batch, int64_t n_samples)
{
    const nn_act out = nn_net_layer_act(net, 0);
    const char *vecmath = nni_vecmath_get()->name;
    if (nni_env_is_zero("NNFAST_SMALL_ENGINE")) return 0;
    if (net->n_layers != 1 || net->sizes[1] != 1 || batch != n_samples) return 0;
    if ((double)n_samples * (double)net->sizes[0] > NEURON_MAX_ELEMS) return 0;
    if (!((out == NN_ACT_SIGMOID && net->loss == NN_LOSS_BCE) ||
          (out == NN_ACT_IDENTITY && net->loss == NN_LOSS_MSE)))
        return 0;
    /* the engine inlines the avx2 vector math, whose bits the avx512 set shares: it runs
     * where the general path uses one of the two */
#ifdef NN_HAVE_KERNEL_AVX2
    return strcmp(vecmath, "avx2") == 0 || strcmp(vecmath, "avx512") == 0;
#else
    (void)vecmath;
    return 0;
#endif
}

int NNI_F(neuron_epochs)(NN_T *params, double *loss_curve, int64_t *epochs_done,
                         const NNI_F(neuron_ctx) *c, const NN_T *X, const NN_T *Y, int64_t n,
                         int64_t epochs, uint64_t *rng_state)
{
#ifdef NN_HAVE_KERNEL_AVX2
    return NNI_F(neuron_epochs_avx2)(params, loss_curve, epochs_done, c, X, Y, n, epochs,
                                     rng_state);
#else
    (void)params, (void)loss_curve, (void)epochs_done, (void)c, (void)X, (void)Y, (void)n;
    (void)epochs, (void)rng_state;
    return NN_EINVAL; /* neuron_applies never chose it */
#endif
}
