/* The optimizer steps' arithmetic, written once for every caller: optim.c (the public
 * sgd_update / adam_update, in chunks over the pool, and the training step's slices) and its
 * 256-bit build optim_step_avx2.c, the fused small-network step (small_net.h) and the
 * one-neuron engine (neuron_train_avx2.c). One definition keeps their
 * results the same bits. Typed: include after internal.h has set NN_T. No include guard on
 * purpose (each typed compilation includes it once). */

/* v = mu v - eta g;  w += v,  or with nesterov  w += mu v - eta g.  Elements i0 .. i1-1.
 * v NULL (mu 0, the velocity not kept: optim.c): w -= eta g, the bits of w += (0 v - eta g)
 * but for a zero w's sign, with two of the five loads and stores an element. Compiled without
 * FMA contraction (CMakeLists.txt), so eta g is rounded before the subtraction as there. */
static inline void nni_sgd_step(NN_T *restrict w, NN_T *restrict v, const NN_T *restrict g,
                                int64_t i0, int64_t i1, NN_T mu, NN_T eta, int nesterov)
{
    int64_t i;
    if (!v) {
        for (i = i0; i < i1; i++) w[i] -= eta * g[i];
    } else if (nesterov) {
        for (i = i0; i < i1; i++) {
            v[i] = mu * v[i] - eta * g[i];
            w[i] += mu * v[i] - eta * g[i];
        }
    } else {
        for (i = i0; i < i1; i++) {
            v[i] = mu * v[i] - eta * g[i];
            w[i] += v[i];
        }
    }
}

/* lr_t = lr sqrt(1 - b2^t) / (1 - b1^t): adam's bias-corrected step at step t >= 1, in double. */
static inline double nni_adam_lr(double lr, double beta1, double beta2, int64_t t)
{
    return lr * sqrt(1.0 - pow(beta2, (double)t)) / (1.0 - pow(beta1, (double)t));
}

/* m = b1 m + c1 g;  v = b2 v + c2 g^2;  w -= step m / (sqrt(v) + eps), c = 1 - b, step = lr_t.
 * Elements i0 .. i1-1. */
static inline void nni_adam_step(NN_T *restrict w, NN_T *restrict m, NN_T *restrict v,
                                 const NN_T *restrict g, int64_t i0, int64_t i1, NN_T b1,
                                 NN_T c1, NN_T b2, NN_T c2, NN_T step, NN_T eps)
{
    int64_t i;
    for (i = i0; i < i1; i++) {
        m[i] = b1 * m[i] + c1 * g[i];
        v[i] = b2 * v[i] + c2 * (g[i] * g[i]);
        w[i] -= step * m[i] / (NN_SQRT(v[i]) + eps);
    }
}
