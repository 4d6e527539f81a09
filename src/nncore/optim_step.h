/* The optimizer steps' arithmetic, written once for every caller: optim.c (the public
 * sgd_update / adam_update, in chunks over the pool, and the training step's slices) and its
 * 256-bit build optim_step_avx2.c, the fused small-network step (small_net.h) and the
 * one-neuron engine (neuron_train_avx2.c). One definition keeps their
 * results the same bits. Typed: include after internal.h has set NN_T. No include guard on
 * purpose (each typed compilation includes it once). */

/* The gradient an element steps with: NNI_GRAD_PLAIN, g[i]; NNI_GRAD_L2_INV and _DIV, with
 * the L2 term, g[i] + (alpha w[i]) / m (times inv = 1 / m when that is exact, else divided by
 * m), from w[i] before its update. The one expression of the term: nni_l2_add stores it, the
 * _l2 steps use it in their loops, so stepping with it gives the bits of adding it first. */
#define NNI_GRAD_PLAIN(i) (g[i])
#define NNI_GRAD_L2_INV(i) (g[i] + alpha * w[i] * inv)
#define NNI_GRAD_L2_DIV(i) (g[i] + alpha * w[i] / m)

/* g[i] += alpha w[i] / m over i0 .. i1-1 (NNI_F(l2_add), optim.c): the gradient above, stored. */
static inline void nni_l2_add(NN_T *restrict g, const NN_T *restrict w, int64_t i0, int64_t i1,
                              NN_T alpha, NN_T m, NN_T inv)
{
    int64_t i;
    if (inv != 0) {
        for (i = i0; i < i1; i++) g[i] = NNI_GRAD_L2_INV(i);
    } else {
        for (i = i0; i < i1; i++) g[i] = NNI_GRAD_L2_DIV(i);
    }
}

/* v = mu v - eta g;  w += v,  or with nesterov  w += mu v - eta g.  Elements i0 .. i1-1.
 * v NULL (mu 0, the velocity not kept: optim.c): w -= eta g, the bits of w += (0 v - eta g)
 * but for a zero w's sign, with two of the five loads and stores an element. Compiled without
 * FMA contraction (CMakeLists.txt), so eta g is rounded before the subtraction as there. */
#define NNI_SGD_LOOPS(GRAD)                                                                   \
    do {                                                                                      \
        int64_t i;                                                                            \
        if (!v) {                                                                             \
            for (i = i0; i < i1; i++) w[i] -= eta * GRAD(i);                                  \
        } else if (nesterov) {                                                                \
            for (i = i0; i < i1; i++) {                                                       \
                const NN_T gi = GRAD(i);                                                      \
                v[i] = mu * v[i] - eta * gi;                                                  \
                w[i] += mu * v[i] - eta * gi;                                                 \
            }                                                                                 \
        } else {                                                                              \
            for (i = i0; i < i1; i++) {                                                       \
                v[i] = mu * v[i] - eta * GRAD(i);                                             \
                w[i] += v[i];                                                                 \
            }                                                                                 \
        }                                                                                     \
    } while (0)
static inline void nni_sgd_step(NN_T *restrict w, NN_T *restrict v, const NN_T *restrict g,
                                int64_t i0, int64_t i1, NN_T mu, NN_T eta, int nesterov)
{
    NNI_SGD_LOOPS(NNI_GRAD_PLAIN);
}
/* The same with the L2 term in each element's gradient (alpha > 0; inv: NNI_F(l2_inverse)). */
static inline void nni_sgd_step_l2(NN_T *restrict w, NN_T *restrict v, const NN_T *restrict g,
                                   int64_t i0, int64_t i1, NN_T mu, NN_T eta, int nesterov,
                                   NN_T alpha, NN_T m, NN_T inv)
{
    if (inv != 0) NNI_SGD_LOOPS(NNI_GRAD_L2_INV);
    else NNI_SGD_LOOPS(NNI_GRAD_L2_DIV);
}
#undef NNI_SGD_LOOPS

/* lr_t = lr sqrt(1 - b2^t) / (1 - b1^t): adam's bias-corrected step at step t >= 1, in double. */
static inline double nni_adam_lr(double lr, double beta1, double beta2, int64_t t)
{
    return lr * sqrt(1.0 - pow(beta2, (double)t)) / (1.0 - pow(beta1, (double)t));
}

/* m = b1 m + c1 g;  v = b2 v + c2 g^2;  w -= step m / (sqrt(v) + eps), c = 1 - b, step = lr_t.
 * Elements i0 .. i1-1. (mo: the first moment, m being the L2 term's batch size.) */
#define NNI_ADAM_LOOP(GRAD)                                                                   \
    do {                                                                                      \
        int64_t i;                                                                            \
        for (i = i0; i < i1; i++) {                                                           \
            const NN_T gi = GRAD(i);                                                          \
            mo[i] = b1 * mo[i] + c1 * gi;                                                     \
            v[i] = b2 * v[i] + c2 * (gi * gi);                                                \
            w[i] -= step * mo[i] / (NN_SQRT(v[i]) + eps);                                     \
        }                                                                                     \
    } while (0)
static inline void nni_adam_step(NN_T *restrict w, NN_T *restrict mo, NN_T *restrict v,
                                 const NN_T *restrict g, int64_t i0, int64_t i1, NN_T b1,
                                 NN_T c1, NN_T b2, NN_T c2, NN_T step, NN_T eps)
{
    NNI_ADAM_LOOP(NNI_GRAD_PLAIN);
}
/* The same with the L2 term in each element's gradient (alpha > 0; inv: NNI_F(l2_inverse)). */
static inline void nni_adam_step_l2(NN_T *restrict w, NN_T *restrict mo, NN_T *restrict v,
                                    const NN_T *restrict g, int64_t i0, int64_t i1, NN_T b1,
                                    NN_T c1, NN_T b2, NN_T c2, NN_T step, NN_T eps, NN_T alpha,
                                    NN_T m, NN_T inv)
{
    if (inv != 0) NNI_ADAM_LOOP(NNI_GRAD_L2_INV);
    else NNI_ADAM_LOOP(NNI_GRAD_L2_DIV);
}
#undef NNI_ADAM_LOOP

/* The steps with the L2 term when alpha != 0, else the plain ones: what every build's entry
 * points run (optim_step_avx2.c, and optim.c's baseline fallback). */
static inline void nni_sgd_step_any(NN_T *w, NN_T *v, const NN_T *g, int64_t i0, int64_t i1,
                                    NN_T mu, NN_T eta, int nesterov, NN_T alpha, NN_T m,
                                    NN_T inv)
{
    if (alpha != 0) nni_sgd_step_l2(w, v, g, i0, i1, mu, eta, nesterov, alpha, m, inv);
    else nni_sgd_step(w, v, g, i0, i1, mu, eta, nesterov);
}
static inline void nni_adam_step_any(NN_T *w, NN_T *mo, NN_T *v, const NN_T *g, int64_t i0,
                                     int64_t i1, NN_T b1, NN_T c1, NN_T b2, NN_T c2, NN_T step,
                                     NN_T eps, NN_T alpha, NN_T m, NN_T inv)
{
    if (alpha != 0)
        nni_adam_step_l2(w, mo, v, g, i0, i1, b1, c1, b2, c2, step, eps, alpha, m, inv);
    else nni_adam_step(w, mo, v, g, i0, i1, b1, c1, b2, c2, step, eps);
}
#undef NNI_GRAD_PLAIN
#undef NNI_GRAD_L2_INV
#undef NNI_GRAD_L2_DIV
