/* Training: the per-fit workspace and one epoch (batches, forward, loss, backward, update).
 * Every buffer is allocated in workspace_create; train_epoch allocates nothing. */
#include "internal.h"

struct NN_WS {
    int64_t n_layers;
    int64_t *sizes;          /* the widths the workspace was built for (L + 1)               */
    int64_t n_params, n_samples, batch;
    nn_opt optimizer;
    int64_t *order;          /* sample order of the epoch (n_samples)                          */
    NN_T *Xb, *Yb;           /* gathered batch rows when shuffling (batch, n_0), (batch, n_L) */
    const double *sw;        /* per-sample weights (n_samples), or NULL: the caller's array   */
    double *swb;             /* gathered sample weights when shuffling (batch)                */
    NNI_F(batch_buffers) buf;
    NN_T *grads;             /* (n_params)                                                    */
    NN_T *state1, *state2;   /* sgd: velocity; adam: first and second moments (n_params)     */
    int64_t step;            /* adam's step count t                                           */
};

int NNI_F(batch_buffers_alloc)(NNI_F(batch_buffers) *buf, const nn_net *net, int64_t batch)
{
    const int64_t L = net->n_layers;
    int64_t l, t, maxw = 1, total = 0, off = 0;
    int st;
    memset(buf, 0, sizeof *buf);
    for (l = 1; l <= L; l++) {
        if (net->sizes[l] > maxw) maxw = net->sizes[l];
        if ((st = nni_mul(&t, batch, net->sizes[l])) != NN_OK ||
            (st = nni_add(&total, total, t)) != NN_OK)
            return st;
    }
    /* + Z (batch, n_L) + two deltas (batch, maxw) */
    if ((st = nni_mul(&t, batch, net->sizes[L])) != NN_OK ||
        (st = nni_add(&total, total, t)) != NN_OK || (st = nni_mul(&t, batch, maxw)) != NN_OK ||
        (st = nni_add(&total, total, t)) != NN_OK || (st = nni_add(&total, total, t)) != NN_OK)
        return st;
    buf->A = (NN_T **)malloc((size_t)L * sizeof(NN_T *));
    buf->data = (NN_T *)nni_alloc(total, sizeof(NN_T));
    if (!buf->A || !buf->data) {
        NNI_F(batch_buffers_free)(buf);
        return NN_ENOMEM;
    }
    for (l = 0; l < L; l++) {
        buf->A[l] = buf->data + off;
        off += batch * net->sizes[l + 1];
    }
    buf->Z = buf->data + off;
    off += batch * net->sizes[L];
    buf->delta[0] = buf->data + off;
    buf->delta[1] = buf->data + off + batch * maxw;
    return NN_OK;
}

void NNI_F(batch_buffers_free)(NNI_F(batch_buffers) *buf)
{
    free(buf->A);
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}

/* Forward keeping A of every layer (and the output logits Z for bce/ce), the batch loss
 * mean_rows(loss) + alpha/2 sum_l sum(W_l^2) / m, then, when grads != NULL, backprop:
 * delta_L = output delta; per layer from the last: dW, db, delta_prev; dW += alpha W / m.
 * With weights sw, S = sum sw: the weighted mean loss; delta row i is scaled by sw_i m / S and
 * alpha by m / S, so the kernels' 1/m becomes 1/S (dW = (A^T (sw delta) + alpha W) / S). */
int NNI_F(batch_loss_gradient)(double *loss, NN_T *grads, const NNI_F(batch_buffers) *buf,
                               const NN_T *params, const nn_net *net, const NN_T *X,
                               const NN_T *Y, const double *sw, int64_t m, double alpha)
{
    const int64_t L = net->n_layers, nL = net->sizes[L];
    const NN_T *in = X;
    double lv = 0.0, pen = 0.0;
    int64_t l, off = 0, n_params;
    int st, cur = 0;

    for (l = 0; l < L; l++) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        NN_T *Z_out = l == L - 1 && net->loss != NN_LOSS_MSE ? buf->Z : NULL;
        st = NN_F(dense_forward)(buf->A[l], Z_out, in, params + off, params + off + k * n, m, k,
                                 n, nn_net_layer_act(net, l));
        if (st != NN_OK) return st;
        off += k * n + n;
        in = buf->A[l];
    }
    n_params = off;
    if (sw) {
        double sw_sum = 0.0;
        for (l = 0; l < m; l++) sw_sum += sw[l];
        st = NN_F(weighted_loss)(&lv, buf->Z, buf->A[L - 1], Y, sw, m, nL, net->loss);
        if (st != NN_OK) return st;
        alpha = alpha * (double)m / sw_sum;
    } else if ((st = NN_F(loss)(&lv, buf->Z, buf->A[L - 1], Y, m, nL, net->loss)) != NN_OK) {
        return st;
    }
    if (alpha > 0) {
        for (off = 0, l = 0; l < L; l++) {
            const int64_t k = net->sizes[l], n = net->sizes[l + 1];
            if ((st = NN_F(l2_penalty)(&pen, params + off, k * n, alpha, m)) != NN_OK) return st;
            lv += pen;
            off += k * n + n;
        }
    }
    *loss = lv;
    if (!grads) return NN_OK;

    memset(grads, 0, (size_t)n_params * sizeof(NN_T));
    st = NN_F(output_delta)(buf->delta[0], buf->Z, buf->A[L - 1], Y, m, nL, net->output,
                            net->loss);
    if (st != NN_OK) return st;
    if (sw) {
        double sw_sum = 0.0;
        int64_t i, j;
        for (i = 0; i < m; i++) sw_sum += sw[i];
        for (i = 0; i < m; i++) {
            const NN_T scale = (NN_T)(sw[i] * (double)m / sw_sum);
            for (j = 0; j < nL; j++) buf->delta[0][i * nL + j] *= scale;
        }
    }
    off = n_params;
    for (l = L - 1; l >= 0; l--) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        const NN_T *A_prev = l > 0 ? buf->A[l - 1] : X;
        NN_T *delta_prev = l > 0 ? buf->delta[1 - cur] : NULL;
        const nn_act act_prev = l > 0 ? nn_net_layer_act(net, l - 1) : NN_ACT_IDENTITY;
        off -= k * n + n;
        st = NN_F(dense_backward)(grads + off, grads + off + k * n, delta_prev, A_prev,
                                  params + off, buf->delta[cur], m, k, n, act_prev);
        if (st != NN_OK) return st;
        if (alpha > 0 &&
            (st = NN_F(l2_gradient)(grads + off, params + off, k * n, alpha, m)) != NN_OK)
            return st;
        cur = 1 - cur;
    }
    return NN_OK;
}

void NN_F(workspace_free)(NN_WS *ws)
{
    if (!ws) return;
    NNI_F(batch_buffers_free)(&ws->buf);
    free(ws->sizes);
    free(ws->order);
    free(ws->Xb);
    free(ws->Yb);
    free(ws->swb);
    free(ws->grads);
    free(ws->state1);
    free(ws->state2);
    free(ws);
}

int NN_F(workspace_create)(NN_WS **ws_out, const nn_net *net, int64_t n_samples,
                           int64_t batch_size, nn_opt optimizer)
{
    NN_WS *ws;
    int64_t n_params, nx, ny, L;
    int st;
    if (!ws_out) return NN_EINVAL;
    *ws_out = NULL;
    if ((st = nn_net_check(net, &n_params)) != NN_OK) return st;
    L = net->n_layers;
    if ((st = nni_net_trainable(net)) != NN_OK) return st;
    if (n_samples <= 0 || batch_size <= 0 || batch_size > n_samples) return NN_EINVAL;
    if (optimizer != NN_OPT_SGD && optimizer != NN_OPT_ADAM) return NN_EINVAL;
    if ((st = nni_mul(&nx, batch_size, net->sizes[0])) != NN_OK ||
        (st = nni_mul(&ny, batch_size, net->sizes[L])) != NN_OK || n_samples > NNI_MAX_ELEMS)
        return st != NN_OK ? st : NN_EOVERFLOW;

    if (!(ws = (NN_WS *)calloc(1, sizeof *ws))) return NN_ENOMEM;
    ws->n_layers = L;
    ws->n_params = n_params;
    ws->n_samples = n_samples;
    ws->batch = batch_size;
    ws->optimizer = optimizer;
    ws->sizes = (int64_t *)nni_alloc(L + 1, sizeof(int64_t));
    ws->order = (int64_t *)nni_alloc(n_samples, sizeof(int64_t));
    ws->Xb = (NN_T *)nni_alloc(nx, sizeof(NN_T));
    ws->Yb = (NN_T *)nni_alloc(ny, sizeof(NN_T));
    ws->swb = (double *)nni_alloc(batch_size, sizeof(double));
    ws->grads = (NN_T *)nni_alloc(n_params, sizeof(NN_T));
    ws->state1 = (NN_T *)nni_alloc(n_params, sizeof(NN_T));
    if (optimizer == NN_OPT_ADAM) ws->state2 = (NN_T *)nni_alloc(n_params, sizeof(NN_T));
    if (!ws->sizes || !ws->order || !ws->Xb || !ws->Yb || !ws->swb || !ws->grads || !ws->state1 ||
        (optimizer == NN_OPT_ADAM && !ws->state2)) {
        NN_F(workspace_free)(ws);
        return NN_ENOMEM;
    }
    if ((st = NNI_F(batch_buffers_alloc)(&ws->buf, net, batch_size)) != NN_OK) {
        NN_F(workspace_free)(ws);
        return st;
    }
    memcpy(ws->sizes, net->sizes, (size_t)(L + 1) * sizeof(int64_t));
    memset(ws->state1, 0, (size_t)n_params * sizeof(NN_T));
    if (ws->state2) memset(ws->state2, 0, (size_t)n_params * sizeof(NN_T));
    ws->step = 0;
    *ws_out = ws;
    return NN_OK;
}

int NN_F(workspace_optimizer_state)(NN_WS *ws, NN_T **state1, NN_T **state2, int64_t **step,
                                    int64_t *n_params)
{
    if (!ws || !state1 || !state2 || !step || !n_params) return NN_EINVAL;
    *state1 = ws->state1;
    *state2 = ws->state2;
    *step = &ws->step;
    *n_params = ws->n_params;
    return NN_OK;
}

int NN_F(workspace_set_sample_weight)(NN_WS *ws, const double *sample_weight)
{
    if (!ws) return NN_EINVAL;
    ws->sw = sample_weight;
    return NN_OK;
}

/* The fit settings train_epoch can use: NN_OK or NN_EINVAL. */
static int check_config(const nn_fit_config *cfg, const NN_WS *ws)
{
    if (cfg->optimizer != ws->optimizer || cfg->batch_size != ws->batch) return NN_EINVAL;
    if (!(cfg->lr > 0) || !isfinite(cfg->lr)) return NN_EINVAL;
    if (!(cfg->alpha >= 0) || !isfinite(cfg->alpha)) return NN_EINVAL;
    if (cfg->shuffle != 0 && cfg->shuffle != 1) return NN_EINVAL;
    if (cfg->optimizer == NN_OPT_SGD) {
        if (!(cfg->momentum >= 0 && cfg->momentum < 1)) return NN_EINVAL;
        if (cfg->nesterov != 0 && cfg->nesterov != 1) return NN_EINVAL;
    } else {
        if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1))
            return NN_EINVAL;
        if (!(cfg->epsilon > 0) || !isfinite(cfg->epsilon)) return NN_EINVAL;
    }
    return NN_OK;
}

/* One epoch: order (a fresh permutation when shuffling, else 0..n-1 with no copy of X, Y),
 * consecutive batches; per batch forward, loss (before the update), backward, one step.
 * epoch_loss = sum_batches batch_loss * rows / n. */
int NN_F(train_epoch)(NN_T *params, double *epoch_loss, NN_WS *ws, const nn_net *net,
                      const nn_fit_config *cfg, const NN_T *X, const NN_T *Y, int64_t n,
                      uint64_t *rng_state)
{
    int64_t n_params, L, l, b0;
    double total = 0.0;
    int st;
    if (!params || !epoch_loss || !ws || !cfg || !X || !Y) return NN_EINVAL;
    if ((st = nn_net_check(net, &n_params)) != NN_OK) return st;
    L = net->n_layers;
    if ((st = nni_net_trainable(net)) != NN_OK) return st;
    /* the workspace's shape must be this net's and this data's */
    if (L != ws->n_layers || n_params != ws->n_params || n != ws->n_samples) return NN_EINVAL;
    for (l = 0; l <= L; l++)
        if (net->sizes[l] != ws->sizes[l]) return NN_EINVAL;
    if ((st = check_config(cfg, ws)) != NN_OK) return st;
    if (cfg->shuffle && !rng_state) return NN_EINVAL;

    if (cfg->shuffle && (st = nn_rng_permutation(ws->order, n, rng_state)) != NN_OK) return st;

    for (b0 = 0; b0 < n; b0 += ws->batch) {
        const int64_t m = n - b0 < ws->batch ? n - b0 : ws->batch;
        const int64_t n0 = net->sizes[0], nL = net->sizes[L];
        const NN_T *Xb, *Yb;
        const double *swb = NULL;
        double batch_loss;
        if (cfg->shuffle) {
            int64_t r;
            for (r = 0; r < m; r++) {
                const int64_t i = ws->order[b0 + r];
                memcpy(ws->Xb + r * n0, X + i * n0, (size_t)n0 * sizeof(NN_T));
                memcpy(ws->Yb + r * nL, Y + i * nL, (size_t)nL * sizeof(NN_T));
                if (ws->sw) ws->swb[r] = ws->sw[i];
            }
            Xb = ws->Xb;
            Yb = ws->Yb;
            if (ws->sw) swb = ws->swb;
        } else {
            Xb = X + b0 * n0;
            Yb = Y + b0 * nL;
            if (ws->sw) swb = ws->sw + b0;
        }
        if (cfg->should_stop && cfg->should_stop(cfg->stop_ctx)) return NN_EINTR;
        st = NNI_F(batch_loss_gradient)(&batch_loss, ws->grads, &ws->buf, params, net, Xb, Yb,
                                        swb, m, cfg->alpha);
        if (st != NN_OK) return st;
        if (!isfinite(batch_loss)) return NN_ENONFINITE;
        total += batch_loss * (double)m;
        if (cfg->optimizer == NN_OPT_SGD) {
            st = NN_F(sgd_update)(params, ws->state1, ws->grads, n_params, cfg->lr,
                                  cfg->momentum, cfg->nesterov);
        } else {
            ws->step++;
            st = NN_F(adam_update)(params, ws->state1, ws->state2, ws->grads, n_params,
                                   ws->step, cfg->lr, cfg->beta1, cfg->beta2, cfg->epsilon);
        }
        if (st != NN_OK) return st;
    }
    *epoch_loss = total / (double)n;
    return NN_OK;
}

int NN_F(train_epochs)(NN_T *params, double *loss_curve, int64_t *epochs_done, NN_WS *ws,
                       const nn_net *net, const nn_fit_config *cfg, const NN_T *X,
                       const NN_T *Y, int64_t n, int64_t epochs, uint64_t *rng_state)
{
    int64_t e;
    if (!loss_curve || !epochs_done || epochs < 0) return NN_EINVAL;
    *epochs_done = 0;
    for (e = 0; e < epochs; e++) {
        int st = NN_F(train_epoch)(params, loss_curve + e, ws, net, cfg, X, Y, n, rng_state);
        if (st != NN_OK) return st;
        *epochs_done = e + 1;
    }
    return NN_OK;
}
