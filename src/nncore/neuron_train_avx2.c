/* One neuron trained full-batch, every epoch of a fit in one call (neuron_train.c says when):
 * compiled with -mavx2 -mfma and no FMA contraction, the vector math inlined from
 * vecmath_simd.h. Its avx2 and avx512 sets give the same bits lane by lane, so this one file
 * matches whichever of the two the general path uses.
 *
 * It does what the fused step (small_net.h) and the general path do, operation for operation
 * in the same order, so the three give the same bits (tests/test_small_engine.py compares them):
 *   z_i = (sum_q x_iq w_q, q from 0) + b
 *   bce:  a_i = sigmoid(z_i),  l_i = softplus(z_i) - y_i z_i,  delta_i = a_i - y_i
 *   mse:  a_i = z_i,           l_i = (a_i - y_i)^2,           delta_i = 2 (a_i - y_i) / 1
 *   loss = (sum_i l_i, i from 0) / m, in double, checked finite before any update
 *   dw_q = (1/m) (sum_i x_iq delta_i, i from 0);  db = (sum_i delta_i) / m
 *   then sgd / momentum / nesterov / adam as optim.c, over [w, b].
 * sigmoid and softplus share e^-|z| (the same exp the two vector functions compute); lanes out
 * of their range take the scalar forms, as the array functions do. The rows stream through in
 * chunks of NEURON_CHUNK: every sum still runs over the rows in order.
 */
#include "internal.h"
#include "vecmath_avx2.h"
#include "vecmath_simd.h"
#include "optim_step.h"

#define NEURON_CHUNK 256     /* rows whose z, a and softplus sit on the stack at once       */
#define NEURON_STOP_EVERY 64 /* epochs between should_stop calls (microseconds apart)      */
#define NN_NEURON_VECTOR_INPUTS 4 /* inputs of the widest net neuron_run_one_vector takes    */

/* a[0:len] = sigmoid(z) (bce only) and sp[0:len] = softplus(z) in double, len <= NEURON_CHUNK,
 * z zero-padded by the caller to a multiple of 8. */
static void neuron_activate(NN_T *a, double *sp, const NN_T *z, int64_t len)
{
    int64_t i0;
    int i;
#ifdef NN_ELEM_F32
    for (i0 = 0; i0 < len; i0 += VM_FL) {
        const VM_FV v = VM_FLOAD(z + i0);
        int bad = ~VM_FOK(v, -80.0f, 80.0f) & ((1 << VM_FL) - 1);
        VM_FSTORE(a + i0, vm_sigmoid_ps(v));
        for (i = 0; bad; i++, bad >>= 1)
            if (bad & 1) a[i0 + i] = vm_sigmoid_f(z[i0 + i]);
    }
    for (i0 = 0; i0 < len; i0 += VM_DL) {
        double zd[VM_DL];
        VM_DV v;
        int bad;
        for (i = 0; i < VM_DL; i++) zd[i] = (double)z[i0 + i];
        v = VM_DLOAD(zd);
        bad = ~VM_DOK(v, -708.0, 708.0) & ((1 << VM_DL) - 1);
        VM_DSTORE(sp + i0, vm_softplus_pd(v));
        for (i = 0; bad; i++, bad >>= 1)
            if (bad & 1) sp[i0 + i] = vm_softplus_d(zd[i]);
    }
#else
    for (i0 = 0; i0 < len; i0 += VM_DL) {
        const VM_DV v = VM_DLOAD(z + i0);
        int bad = ~VM_DOK(v, -708.0, 708.0) & ((1 << VM_DL) - 1);
        VM_DSTORE(a + i0, vm_sigmoid_pd(v)); /* the compiler shares the exp of the two */
        VM_DSTORE(sp + i0, vm_softplus_pd(v));
        for (i = 0; bad; i++, bad >>= 1)
            if (bad & 1) {
                a[i0 + i] = vm_sigmoid_d(z[i0 + i]);
                sp[i0 + i] = vm_softplus_d(z[i0 + i]);
            }
    }
#endif
}

/* The epochs for k inputs; inlined below with k a constant for the smallest widths, so the
 * loops over the inputs unroll. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int neuron_run(NN_T *params, double *loss_curve, int64_t *epochs_done,
                             const NNI_F(neuron_ctx) *c, const NN_T *X, const NN_T *Y, int64_t n,
                             int64_t epochs, uint64_t *rng_state, const int64_t k)
{
    const nn_fit_config *cfg = c->cfg;
    const int bce = c->net->loss == NN_LOSS_BCE;
    const int64_t n_params = k + 1;
    const NN_T inv_m = (NN_T)1 / (NN_T)n, mm = (NN_T)n;
    NN_T *w = params, *g = c->grads, *v = c->state1, *v2 = c->state2;
    NN_T z[NEURON_CHUNK], a[NEURON_CHUNK];
    double sp[NEURON_CHUNK];
    int64_t e, i, i0, q;
    int st;

    for (e = 0; e < epochs; e++) {
        const NN_T *x = X, *y = Y;
        const NN_T b = w[k];
        double total = 0.0, lv, epoch_total = 0.0;
        if (cfg->shuffle) {
            if ((st = nn_rng_permutation(c->order, n, rng_state)) != NN_OK) return st;
            for (i = 0; i < n; i++) {
                memcpy(c->Xb + i * k, X + c->order[i] * k, (size_t)k * sizeof(NN_T));
                c->Yb[i] = Y[c->order[i]];
            }
            x = c->Xb;
            y = c->Yb;
        }
        if (cfg->should_stop && e % NEURON_STOP_EVERY == 0 && cfg->should_stop(cfg->stop_ctx))
            return NN_EINTR;
        for (q = 0; q <= k; q++) g[q] = 0;

        for (i0 = 0; i0 < n; i0 += NEURON_CHUNK) {
            const int64_t len = n - i0 < NEURON_CHUNK ? n - i0 : NEURON_CHUNK;
            const NN_T *xc = x + i0 * k, *yc = y + i0;
            /* forward: z = x w + b (zero-padded to whole vectors), a = f(z) */
            for (i = 0; i < len; i++) {
                const NN_T *xi = xc + i * k;
                NN_T acc = 0;
                for (q = 0; q < k; q++) acc += xi[q] * w[q];
                z[i] = acc + b;
            }
            for (; i % 8; i++) z[i] = 0;
            /* the loss terms, summed in row order */
            if (bce) {
                neuron_activate(a, sp, z, len);
                for (i = 0; i < len; i++) {
                    double out = 0.0;
                    out += sp[i] - (double)yc[i] * (double)z[i];
                    total += out;
                }
            } else {
                for (i = 0; i < len; i++) {
                    const double d = (double)z[i] - (double)yc[i];
                    double s = 0.0;
                    s += d * d;
                    total += s / 1.0;
                    a[i] = z[i];
                }
            }
            /* backward: g[q] += x_iq delta_i, g[k] += delta_i, over the rows in order */
            for (i = 0; i < len; i++) {
                const NN_T *xi = xc + i * k;
                const NN_T d = bce ? a[i] - yc[i] : (NN_T)2 * (a[i] - yc[i]) / (NN_T)1;
                for (q = 0; q < k; q++) g[q] += xi[q] * d;
                g[k] += d;
            }
        }
        /* the loss before the update; a non-finite loss stops the fit with nothing updated */
        lv = total / (double)n;
        if (!isfinite(lv)) return NN_ENONFINITE;
        epoch_total += lv * (double)n;
        loss_curve[e] = epoch_total / (double)n;
        for (q = 0; q < k; q++) g[q] = inv_m * g[q];
        g[k] = g[k] / mm;

        /* the optimizer step (optim_step.h, as optim.c) */
        if (cfg->optimizer == NN_OPT_SGD) {
            nni_sgd_step(w, v, g, 0, n_params, (NN_T)cfg->momentum, (NN_T)cfg->lr,
                         cfg->nesterov);
        } else {
            const int64_t t = ++*c->step;
            nni_adam_step(w, v, v2, g, 0, n_params, (NN_T)cfg->beta1, (NN_T)(1.0 - cfg->beta1),
                          (NN_T)cfg->beta2, (NN_T)(1.0 - cfg->beta2),
                          (NN_T)nni_adam_lr(cfg->lr, cfg->beta1, cfg->beta2, t),
                          (NN_T)cfg->epsilon);
        }
        *epochs_done = e + 1;
    }
    return NN_OK;
}

#ifndef NN_ELEM_F32
/* The sums over the rows of one vector, in row order from 0: (((0 + v_0) + v_1) + ...) over
 * the first n lanes, as the loops above add them one row at a time. */
static inline double neuron_row_sum(VM_DV v, int64_t n)
{
    double lane[VM_DL], sum = 0.0;
    int64_t i;
    VM_DSTORE(lane, v);
    for (i = 0; i < n; i++) sum += lane[i];
    return sum;
}

/* neuron_run for data sets of at most one vector of rows (n <= VM_DL: the AND gate's 4) in
 * row order (no shuffle), double: the columns of X, Y, z, a and the loss terms stay in
 * registers from epoch to epoch, one vector exp per epoch instead of loops over chunks. Each
 * lane computes what the loops compute for its row, and every sum runs over the rows in
 * order, so the bits are neuron_run's. Lanes past n hold zeros and are never summed. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int neuron_run_one_vector(double *params, double *loss_curve,
                                        int64_t *epochs_done, const NNI_F(neuron_ctx) *c,
                                        const double *X, const double *Y, int64_t n,
                                        int64_t epochs, const int64_t k)
{
    const nn_fit_config *cfg = c->cfg;
    const int bce = c->net->loss == NN_LOSS_BCE;
    const double inv_m = 1.0 / (double)n, mm = (double)n;
    const int rows = (1 << n) - 1; /* the lanes that hold rows */
    double *w = params, *g = c->grads, *v = c->state1, *v2 = c->state2;
    double column[NN_NEURON_VECTOR_INPUTS][VM_DL], lane[VM_DL];
    VM_DV x[NN_NEURON_VECTOR_INPUTS], y;
    int64_t e, i, q;

    for (q = 0; q < k; q++) {
        for (i = 0; i < VM_DL; i++) column[q][i] = i < n ? X[i * k + q] : 0.0;
        x[q] = VM_DLOAD(column[q]);
    }
    for (i = 0; i < VM_DL; i++) lane[i] = i < n ? Y[i] : 0.0;
    y = VM_DLOAD(lane);

    for (e = 0; e < epochs; e++) {
        VM_DV acc = VM_D1(0.0), z, a, terms, delta;
        double lv, epoch_total = 0.0;
        if (cfg->should_stop && e % NEURON_STOP_EVERY == 0 && cfg->should_stop(cfg->stop_ctx))
            return NN_EINTR;
        /* forward: z_i = (sum_q x_iq w_q) + b, a_i = f(z_i) */
        for (q = 0; q < k; q++) acc = VM_DADD(acc, VM_DMUL(x[q], VM_D1(w[q])));
        z = VM_DADD(acc, VM_D1(w[k]));
        if (bce) {
            /* loss term softplus(z) - y z (0.0 + it, as the loops' `out`), delta a - y */
            VM_DV sp = vm_softplus_pd(z);
            int bad = ~VM_DOK(z, -708.0, 708.0) & rows;
            a = vm_sigmoid_pd(z);
            if (bad) { /* lanes beyond the vector range: the scalar forms */
                double zl[VM_DL], al[VM_DL], spl[VM_DL];
                VM_DSTORE(zl, z);
                VM_DSTORE(al, a);
                VM_DSTORE(spl, sp);
                for (i = 0; bad; i++, bad >>= 1)
                    if (bad & 1) {
                        al[i] = vm_sigmoid_d(zl[i]);
                        spl[i] = vm_softplus_d(zl[i]);
                    }
                a = VM_DLOAD(al);
                sp = VM_DLOAD(spl);
            }
            terms = VM_DADD(VM_D1(0.0), VM_DSUB(sp, VM_DMUL(y, z)));
            delta = VM_DSUB(a, y);
        } else {
            /* loss term (0.0 + (z - y)^2) / 1.0, delta 2 (a - y) / 1 with a = z */
            const VM_DV d = VM_DSUB(z, y);
            a = z;
            terms = VM_DDIV(VM_DADD(VM_D1(0.0), VM_DMUL(d, d)), VM_D1(1.0));
            delta = VM_DDIV(VM_DMUL(VM_D1(2.0), VM_DSUB(a, y)), VM_D1(1.0));
        }
        /* the loss before the update; a non-finite loss stops the fit with nothing updated */
        lv = neuron_row_sum(terms, n) / (double)n;
        if (!isfinite(lv)) return NN_ENONFINITE;
        epoch_total += lv * (double)n;
        loss_curve[e] = epoch_total / (double)n;
        /* backward: dw_q = (1/m) sum_i x_iq delta_i, db = (sum_i delta_i) / m */
        for (q = 0; q < k; q++) g[q] = inv_m * neuron_row_sum(VM_DMUL(x[q], delta), n);
        g[k] = neuron_row_sum(delta, n) / mm;

        if (cfg->optimizer == NN_OPT_SGD) {
            nni_sgd_step(w, v, g, 0, k + 1, (double)cfg->momentum, (double)cfg->lr,
                         cfg->nesterov);
        } else {
            const int64_t t = ++*c->step;
            nni_adam_step(w, v, v2, g, 0, k + 1, cfg->beta1, 1.0 - cfg->beta1, cfg->beta2,
                          1.0 - cfg->beta2, nni_adam_lr(cfg->lr, cfg->beta1, cfg->beta2, t),
                          cfg->epsilon);
        }
        *epochs_done = e + 1;
    }
    return NN_OK;
}
#endif

int NNI_F(neuron_epochs_avx2)(NN_T *params, double *loss_curve, int64_t *epochs_done,
                              const NNI_F(neuron_ctx) *c, const NN_T *X, const NN_T *Y,
                              int64_t n, int64_t epochs, uint64_t *rng_state)
{
#ifndef NN_ELEM_F32
#define NEURON_RUN_ONE_VECTOR(k)                                                             \
    neuron_run_one_vector(params, loss_curve, epochs_done, c, X, Y, n, epochs, k)
    if (n <= VM_DL && !c->cfg->shuffle) {
        switch (c->net->sizes[0]) {
        case 1: return NEURON_RUN_ONE_VECTOR(1);
        case 2: return NEURON_RUN_ONE_VECTOR(2);
        case 3: return NEURON_RUN_ONE_VECTOR(3);
        case 4: return NEURON_RUN_ONE_VECTOR(4);
        default: break; /* wider rows: the loops */
        }
    }
#undef NEURON_RUN_ONE_VECTOR
#endif
#define NEURON_RUN(k) neuron_run(params, loss_curve, epochs_done, c, X, Y, n, epochs, rng_state, k)
    switch (c->net->sizes[0]) {
    case 1: return NEURON_RUN(1);
    case 2: return NEURON_RUN(2);
    case 3: return NEURON_RUN(3);
    case 4: return NEURON_RUN(4);
    default: return NEURON_RUN(c->net->sizes[0]);
    }
#undef NEURON_RUN
}
