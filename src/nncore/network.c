/* The whole network: initialization, forward in row chunks, loss and gradient of one batch. */
#include "internal.h"

#define FORWARD_CHUNK_ROWS 256 /* rows per forward chunk: bounded memory for any n */

/* Glorot: each W then b value (2u - 1) * bound, bound = sqrt(6 / (fan_in + fan_out)), or
 * sqrt(2 / (fan_in + fan_out)) for a sigmoid layer; computed in double, then rounded to NN_T. */
int NN_F(init_params)(NN_T *params, const nn_net *net, nn_init init, uint64_t *rng_state)
{
    int64_t n_params, l, i, off = 0;
    int st;
    if (!params) return NN_EINVAL;
    if ((st = nni_net_check_shape(net, &n_params)) != NN_OK) return st;
    if (init == NN_INIT_ZEROS) {
        for (i = 0; i < n_params; i++) params[i] = 0;
        return NN_OK;
    }
    if (init != NN_INIT_GLOROT || !rng_state) return NN_EINVAL;
    for (l = 0; l < net->n_layers; l++) {
        const int64_t fan_in = net->sizes[l], fan_out = net->sizes[l + 1];
        const int64_t count = fan_in * fan_out + fan_out; /* W row-major, then b */
        const double gain = nn_net_layer_act(net, l) == NN_ACT_SIGMOID ? 2.0 : 6.0;
        const double bound = sqrt(gain / (double)(fan_in + fan_out));
        for (i = 0; i < count; i++) {
            const double u = nn_rng_uniform(rng_state);
            params[off + i] = (NN_T)((2.0 * u - 1.0) * bound);
        }
        off += count;
    }
    return NN_OK;
}

/* out (n, n_L) = the output activations for X (n, n_0), FORWARD_CHUNK_ROWS rows at a time
 * through two ping-pong buffers allocated once per call. */
int NN_F(forward)(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X, int64_t n)
{
    const int64_t chunk = n < FORWARD_CHUNK_ROWS ? n : FORWARD_CHUNK_ROWS;
    int64_t n_params, L, l, r0, t, maxw = 1, buf_count = 0;
    NN_T *buf = NULL;
    int st;
    if (!out || !params || !X || n <= 0) return NN_EINVAL;
    if ((st = nni_net_check_shape(net, &n_params)) != NN_OK) return st;
    L = net->n_layers;
    if ((st = nni_mul(&t, n, net->sizes[0])) != NN_OK ||
        (st = nni_mul(&t, n, net->sizes[L])) != NN_OK)
        return st;
    for (l = 1; l < L; l++)
        if (net->sizes[l] > maxw) maxw = net->sizes[l];
    if (L > 1) {
        if ((st = nni_mul(&buf_count, chunk, maxw)) != NN_OK ||
            (st = nni_mul(&t, buf_count, 2)) != NN_OK)
            return st;
        if (!(buf = (NN_T *)nni_alloc(t, sizeof(NN_T)))) return NN_ENOMEM;
    }
    for (r0 = 0; r0 < n && st == NN_OK; r0 += chunk) {
        const int64_t rows = n - r0 < chunk ? n - r0 : chunk;
        const NN_T *in = X + r0 * net->sizes[0];
        int64_t off = 0;
        for (l = 0; l < L && st == NN_OK; l++) {
            const int64_t k = net->sizes[l], m = net->sizes[l + 1];
            NN_T *dst = l == L - 1 ? out + r0 * net->sizes[L] : buf + (l % 2) * buf_count;
            st = NN_F(dense_forward)(dst, NULL, in, params + off, params + off + k * m, rows, k,
                                     m, nn_net_layer_act(net, l));
            off += k * m + m;
            in = dst;
        }
    }
    free(buf);
    return st;
}

/* loss = mean loss of all n rows + alpha/2 sum W^2 / n; grads = its gradient (overwritten). */
int NN_F(loss_gradient)(double *loss, NN_T *grads, const NN_T *params, const nn_net *net,
                        const NN_T *X, const NN_T *Y, int64_t n, double alpha)
{
    return NN_F(weighted_loss_gradient)(loss, grads, params, net, X, Y, NULL, n, alpha);
}

/* The same with per-sample weights sw (NULL: all 1), in one batch of all n rows. */
int NN_F(weighted_loss_gradient)(double *loss, NN_T *grads, const NN_T *params,
                                 const nn_net *net, const NN_T *X, const NN_T *Y,
                                 const double *sw, int64_t n, double alpha)
{
    NNI_F(batch_buffers) buf;
    int64_t n_params, t;
    int st;
    if (!loss || !params || !X || !Y || n <= 0) return NN_EINVAL;
    if (!(alpha >= 0) || !isfinite(alpha)) return NN_EINVAL;
    if ((st = nn_net_check(net, &n_params)) != NN_OK) return st;
    if (grads && (st = nni_net_trainable(net)) != NN_OK) return st;
    if ((st = nni_mul(&t, n, net->sizes[0])) != NN_OK ||
        (st = nni_mul(&t, n, net->sizes[net->n_layers])) != NN_OK)
        return st;
    if ((st = NNI_F(batch_buffers_alloc)(&buf, net, n)) != NN_OK) return st;
    st = NNI_F(batch_loss_gradient)(loss, grads, &buf, params, net, X, Y, sw, n, alpha);
    NNI_F(batch_buffers_free)(&buf);
    return st;
}
