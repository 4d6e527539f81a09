/* The whole network, forward and backward: initialization, forward in row chunks, and one
 * batch's forward, loss and backprop (the training loop in train.c calls it per batch). */
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

/* One chunk of rows through the network: the small engine's forward when given (parameters
 * within its budget), else dense_forward layer by layer (the activation fused into the
 * product's write-out), each layer's W packed once for all chunks when there are several
 * (plans: one per layer, or NULL: a single chunk, whose products may use the threads
 * themselves). h0, h1: ping-pong buffers of rows x the widest hidden layer. */
static int forward_chunk(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X,
                         int64_t rows, NN_T *h0, NN_T *h1, NNI_F(small_forward_fn) small,
                         const NNI_F(gemm_plan) *plans)
{
    const int64_t L = net->n_layers;
    const NN_T *in = X;
    int64_t l, off = 0;
    int st = NN_OK;
    if (small) {
        small(out, params, net, X, rows, h0, h1);
        return NN_OK;
    }
    for (l = 0; l < L && st == NN_OK; l++) {
        const int64_t k = net->sizes[l], m = net->sizes[l + 1];
        NN_T *dst = l == L - 1 ? out : l % 2 ? h1 : h0;
        st = plans ? NNI_F(dense_forward_planned)(dst, in, &plans[l], params + off + k * m,
                                                  rows, nn_net_layer_act(net, l))
                   : NN_F(dense_forward)(dst, NULL, in, params + off, params + off + k * m,
                                         rows, k, m, nn_net_layer_act(net, l));
        off += k * m + m;
        in = dst;
    }
    return st;
}

/* Each layer's product planned for chunks of `chunk` rows (gemm_plan_init: W packed once when
 * the product takes the blocked path); a layer whose W cannot be packed (out of memory) stays
 * unpacked and takes gemm. NULL when out of memory for the plans themselves. */
static NNI_F(gemm_plan) *plan_layers(const NN_T *params, const nn_net *net, int64_t chunk)
{
    const int64_t L = net->n_layers;
    NNI_F(gemm_plan) *plans =
        (NNI_F(gemm_plan) *)nni_block_alloc(L * (int64_t)sizeof(NNI_F(gemm_plan)));
    int64_t l, off = 0;
    if (!plans) return NULL;
    for (l = 0; l < L; l++) {
        const int64_t k = net->sizes[l], m = net->sizes[l + 1];
        /* out of memory for the packed W: bp stays NULL, the layer takes gemm */
        (void)NNI_F(gemm_plan_init)(&plans[l], params + off, chunk, m, k, 1);
        off += k * m + m;
    }
    return plans;
}

static void free_plans(NNI_F(gemm_plan) *plans, int64_t L)
{
    int64_t l;
    for (l = 0; l < L; l++) NNI_F(gemm_plan_free)(&plans[l]);
    nni_block_free(plans);
}

/* Rows of work (multiply-adds) below which the forward stays on one thread: a parallel region
 * costs a few microseconds, ~10k multiply-adds. */
#define FORWARD_PARALLEL_MIN_WORK (256.0 * 1024.0)
/* Ping-pong buffers up to this many elements live on the stack (no allocation for one row). */
#define FORWARD_STACK_ELEMS 1024
/* Parts per thread when the chunks are shared out: a late thread leaves its parts to others. */
#define FORWARD_PARTS_PER_THREAD 4

/* A share of the chunks for nni_parallel_for: part p runs chunks [p * per_part, ...) with its
 * own ping-pong buffers, whichever thread claims it. */
typedef struct {
    NN_T *out;
    const NN_T *params, *X;
    const nn_net *net;
    int64_t n, chunk, n_chunks, per_part, buf_count;
    NN_T *buf;
    NNI_F(small_forward_fn) small;
    const NNI_F(gemm_plan) *plans; /* each layer's product (plan_layers)              */
    int check; /* forward_finite: each chunk's X rows and outputs checked finite */
} NNI_F(forward_share);

static int NNI_F(forward_part)(void *ctx, int64_t part)
{
    const NNI_F(forward_share) *f = (const NNI_F(forward_share) *)ctx;
    const int64_t L = f->net->n_layers, n_in = f->net->sizes[0], n_out = f->net->sizes[L];
    NN_T *h0 = f->buf + 2 * part * f->buf_count;
    int64_t c, c_end = (part + 1) * f->per_part;
    int st = NN_OK;
    if (c_end > f->n_chunks) c_end = f->n_chunks;
    for (c = part * f->per_part; c < c_end && st == NN_OK; c++) {
        const int64_t r0 = c * f->chunk, rows = f->n - r0 < f->chunk ? f->n - r0 : f->chunk;
        if (f->check && !NNI_F(all_finite)(f->X + r0 * n_in, rows * n_in)) return NN_ENONFINITE;
        st = forward_chunk(f->out + r0 * n_out, f->params, f->net, f->X + r0 * n_in, rows, h0,
                           h0 + f->buf_count, f->small, f->plans);
        if (st == NN_OK && f->check && !NNI_F(all_finite)(f->out + r0 * n_out, rows * n_out))
            st = NN_ENONFINITE;
    }
    return st;
}

/* out (n, n_L) = the output activations for X (n, n_0), in chunks of FORWARD_CHUNK_ROWS rows
 * (fixed boundaries, a function of n alone). Each chunk runs whole on one thread, so a row's
 * result depends on its chunk's computation only, never on the thread count: shares of the
 * chunks go to the thread pool when the work pays for it. Small nets run each chunk through
 * the small engine's forward (small_net.h), others through dense_forward. */
static int forward_rows(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X,
                        int64_t n, int check)
{
    const int64_t chunk = n < FORWARD_CHUNK_ROWS ? n : FORWARD_CHUNK_ROWS;
    NN_T stack_buf[FORWARD_STACK_ELEMS];
    NNI_F(forward_share) share;
    int64_t n_params, L, l, t, maxw = 1, buf_count, n_chunks, n_parts = 1;
    double work = 0;
    NN_T *buf = stack_buf;
    int st, threads = 1;
    if (!out || !params || !X || n <= 0) return NN_EINVAL;
    if ((st = nni_net_check_shape(net, &n_params)) != NN_OK) return st;
    L = net->n_layers;
    if ((st = nni_mul(&t, n, net->sizes[0])) != NN_OK ||
        (st = nni_mul(&t, n, net->sizes[L])) != NN_OK)
        return st;
    for (l = 0; l < L; l++) {
        if (l > 0 && net->sizes[l] > maxw) maxw = net->sizes[l];
        work += (double)net->sizes[l] * (double)net->sizes[l + 1];
    }
    work *= (double)n;
    n_chunks = (n + chunk - 1) / chunk;
    if (n_chunks > 1 && work >= FORWARD_PARALLEL_MIN_WORK) {
        threads = nni_threads();
        n_parts = (int64_t)threads * FORWARD_PARTS_PER_THREAD;
        if (threads <= 1) n_parts = 1;
        if (n_parts > n_chunks) n_parts = n_chunks;
    }
    /* two ping-pong buffers of chunk x maxw per part */
    if ((st = nni_mul(&buf_count, chunk, maxw)) != NN_OK ||
        (st = nni_mul(&t, buf_count, 2 * n_parts)) != NN_OK)
        return st;
    if (t > FORWARD_STACK_ELEMS && !(buf = (NN_T *)nni_block_alloc(t * (int64_t)sizeof(NN_T))))
        return NN_ENOMEM;
    share.out = out;
    share.params = params;
    share.X = X;
    share.net = net;
    share.n = n;
    share.chunk = chunk;
    share.n_chunks = n_chunks;
    share.per_part = (n_chunks + n_parts - 1) / n_parts;
    share.buf_count = buf_count;
    share.buf = buf;
    share.small = NNI_F(small_forward_engine)(net);
    share.plans = NULL;
    share.check = check;
    if (!share.small && n_chunks > 1 && !(share.plans = plan_layers(params, net, chunk)))
        st = NN_ENOMEM;
    else if (n_parts <= 1)
        st = NNI_F(forward_part)(&share, 0);
    else
        st = nni_parallel_for(threads, n_parts, NNI_F(forward_part), &share);
    if (share.plans) free_plans((NNI_F(gemm_plan) *)share.plans, L);
    if (buf != stack_buf) nni_block_free(buf);
    return st;
}

int NN_F(forward)(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X, int64_t n)
{
    return forward_rows(out, params, net, X, n, 0);
}

int NN_F(forward_finite)(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X,
                         int64_t n)
{
    return forward_rows(out, params, net, X, n, 1);
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
    if ((st = NNI_F(batch_buffers_alloc)(&buf, net, n, 0)) != NN_OK) return st;
    st = NNI_F(batch_loss_gradient)(loss, grads, &buf, params, net, X, Y, sw, n, alpha, alpha,
                                    NULL, NULL, NNI_F(products_of)(NN_PRODUCTS_NATIVE));
    NNI_F(batch_buffers_free)(&buf);
    return st;
}

/* F and S (each batch x n_{l+1}) of every hidden layer with a dropout rate above 0. */
static int dropout_buffers_alloc(NNI_F(batch_buffers) *buf, const nn_net *net, int64_t batch)
{
    const int64_t L = net->n_layers;
    int64_t l, t, total = 0, off = 0;
    int st;
    for (l = 0; l < L - 1; l++)
        if (nn_net_layer_dropout(net, l) > 0 &&
            ((st = nni_mul(&t, batch, 2 * net->sizes[l + 1])) != NN_OK ||
             (st = nni_add(&total, total, t)) != NN_OK))
            return st;
    buf->F = (NN_T **)calloc((size_t)L, sizeof(NN_T *));
    buf->S = (NN_T **)calloc((size_t)L, sizeof(NN_T *));
    buf->drop_data = (NN_T *)nni_block_alloc(total * (int64_t)sizeof(NN_T));
    if (!buf->F || !buf->S || !buf->drop_data) return NN_ENOMEM;
    for (l = 0; l < L - 1; l++) {
        if (!(nn_net_layer_dropout(net, l) > 0)) continue;
        buf->F[l] = buf->drop_data + off;
        buf->S[l] = buf->drop_data + off + batch * net->sizes[l + 1];
        off += 2 * batch * net->sizes[l + 1];
    }
    return NN_OK;
}

/* Elements left unused before each buffer of the batch (72 doubles, 144 floats: 9 and 9 cache
 * lines). Buffers of a power-of-two size (digits: 200 x 64 doubles, 25 pages) would otherwise
 * start at the same offset in a 4 KiB page, and a product storing C's rows while it loads
 * A's at the same page offset waits on each false store-to-load match (4K aliasing): the
 * digits forward X W1 ran 1.11x faster with its C moved off A's offset. */
#define BUFFER_GAP ((int64_t)(576 / sizeof(NN_T)))

int NNI_F(batch_buffers_alloc)(NNI_F(batch_buffers) *buf, const nn_net *net, int64_t batch,
                               int dropout)
{
    const int64_t L = net->n_layers;
    int64_t l, t, maxw = 1, total = 0, off = 0;
    int st;
    memset(buf, 0, sizeof *buf);
    if (dropout && nni_net_has_dropout(net) &&
        (st = dropout_buffers_alloc(buf, net, batch)) != NN_OK) {
        NNI_F(batch_buffers_free)(buf);
        return st;
    }
    for (l = 1; l <= L; l++) {
        if (net->sizes[l] > maxw) maxw = net->sizes[l];
        if ((st = nni_mul(&t, batch, net->sizes[l])) != NN_OK ||
            (st = nni_add(&total, total, t)) != NN_OK)
            return st;
    }
    /* + Z (batch, n_L) + two deltas (batch, maxw), + a gap before each of the L + 3 */
    if ((st = nni_mul(&t, batch, net->sizes[L])) != NN_OK ||
        (st = nni_add(&total, total, t)) != NN_OK || (st = nni_mul(&t, batch, maxw)) != NN_OK ||
        (st = nni_add(&total, total, t)) != NN_OK || (st = nni_add(&total, total, t)) != NN_OK ||
        (st = nni_add(&total, total, (L + 3) * BUFFER_GAP)) != NN_OK)
        return st;
    buf->A = (NN_T **)malloc((size_t)L * sizeof(NN_T *));
    /* a kept block (scratch.c): the next buffers of this size reuse its pages */
    buf->data = (NN_T *)nni_block_alloc(total * (int64_t)sizeof(NN_T));
    if (!buf->A || !buf->data) {
        NNI_F(batch_buffers_free)(buf);
        return NN_ENOMEM;
    }
    for (l = 0; l < L; l++) {
        buf->A[l] = buf->data + off + BUFFER_GAP;
        off += BUFFER_GAP + batch * net->sizes[l + 1];
    }
    buf->Z = buf->data + off + BUFFER_GAP;
    off += BUFFER_GAP + batch * net->sizes[L];
    buf->delta[0] = buf->data + off + BUFFER_GAP;
    off += BUFFER_GAP + batch * maxw;
    buf->delta[1] = buf->data + off + BUFFER_GAP;
    return NN_OK;
}

void NNI_F(batch_buffers_free)(NNI_F(batch_buffers) *buf)
{
    free(buf->A);
    nni_block_free(buf->data);
    free(buf->F);
    free(buf->S);
    nni_block_free(buf->drop_data);
    memset(buf, 0, sizeof *buf);
}

/* 1 when the backward of a batch of m rows runs a loop over the pool: a layer's products
 * (dW = A_prev^T delta, k x n from m terms; delta_prev = delta W^T, m x k from n) or, with
 * step, its optimizer step, large enough to split.                                         */
static int backward_splits(const nn_net *net, int64_t m, int step)
{
    int64_t l;
    for (l = 0; l < net->n_layers; l++) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        if (NNI_F(gemm_may_split)(k, n, m, 0) || (l > 0 && NNI_F(gemm_may_split)(m, k, n, 1)) ||
            (step && NNI_F(optim_step_splits)(k * n)))
            return 1;
    }
    return 0;
}

/* Forward keeping A of every layer (and the output logits Z for bce/ce/poisson), the batch
 * loss mean_rows(loss) + alpha/2 sum_l sum(W_l^2) / m, then, when grads != NULL, backprop:
 * delta_L = output delta; per layer from the last: dW, db, delta_prev; dW += alpha W / m
 * (dW starts at alpha W / m, the product adds to it; without alpha the product writes dW).
 * With step, the layer's parameters then take the optimizer step (internal.h).
 * With dropout_rng, a hidden layer of rate p > 0 writes F = f(Z), draws its mask S and passes
 * A = F S on; backward, its delta is (delta W^T) S f'(F).
 * With weights sw, S = sum sw: the weighted mean loss; delta row i is scaled by sw_i m / S and
 * alpha by m / S, so the kernels' 1/m becomes 1/S (dW = (A^T (sw delta) + alpha W) / S). */
int NNI_F(batch_loss_gradient)(double *loss, NN_T *grads, const NNI_F(batch_buffers) *buf,
                               const NN_T *params, const nn_net *net, const NN_T *X,
                               const NN_T *Y, const double *sw, int64_t m, double alpha,
                               double loss_alpha, uint64_t *dropout_rng,
                               const NNI_F(optim_step) *step, const NNI_F(products) *prod)
{
    const int64_t L = net->n_layers, nL = net->sizes[L];
    const NN_T *in = X;
    /* softmax and cross-entropy unweighted: the output layer's softmax and the loss in one
     * pass (softmax_cross_entropy, the same values) */
    const int softmax_ce = net->output == NN_ACT_SOFTMAX && net->loss == NN_LOSS_CE && !sw;
    double lv = 0.0, pen = 0.0;
    int64_t l, off = 0, n_params;
    const int fused = nni_fused_step_enabled();
    int st, cur = 0;

    for (l = 0; l < L; l++) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        NN_T *Z_out = l == L - 1 && nni_loss_needs_logits(net->loss) ? buf->Z : NULL;
        const double p = dropout_rng ? nn_net_layer_dropout(net, l) : 0.0;
        /* with softmax_ce the output layer writes its logits alone: the softmax comes with
         * the loss */
        const int logits_only = l == L - 1 && softmax_ce;
        st = NNI_F(dense_forward_products)(
            logits_only ? buf->Z : p > 0 ? buf->F[l] : buf->A[l], logits_only ? NULL : Z_out, in,
            params + off, params + off + k * n, m, k, n,
            logits_only ? NN_ACT_IDENTITY : nn_net_layer_act(net, l), prod);
        if (st != NN_OK) return st;
        if (p > 0) NNI_F(dropout_forward)(buf->A[l], buf->S[l], buf->F[l], m * n, p, dropout_rng);
        off += k * n + n;
        in = buf->A[l];
    }
    n_params = off;
    if (softmax_ce) {
        /* the output delta a - y comes with it when the gradient is wanted */
        if ((st = NNI_F(softmax_cross_entropy)(&lv, buf->A[L - 1], buf->Z, Y, m, nL,
                                               grads ? buf->delta[0] : NULL)) != NN_OK)
            return st;
    } else if (sw) {
        double sw_sum = 0.0;
        for (l = 0; l < m; l++) sw_sum += sw[l];
        st = NN_F(loss_ex)(&lv, buf->Z, buf->A[L - 1], Y, sw, m, nL, net->loss,
                           net->huber_delta);
        if (st != NN_OK) return st;
        alpha = alpha * (double)m / sw_sum;
        loss_alpha = loss_alpha * (double)m / sw_sum;
    } else if ((st = NN_F(loss_ex)(&lv, buf->Z, buf->A[L - 1], Y, NULL, m, nL, net->loss,
                                   net->huber_delta)) != NN_OK) {
        return st;
    }
    if (loss_alpha > 0) {
        for (off = 0, l = 0; l < L; l++) {
            const int64_t k = net->sizes[l], n = net->sizes[l + 1];
            if ((st = NN_F(l2_penalty)(&pen, params + off, k * n, loss_alpha, m)) != NN_OK)
                return st;
            lv += pen;
            off += k * n + n;
        }
    }
    *loss = lv;
    if (!grads) return NN_OK;

    /* a non-finite loss leaves every parameter as it was: no step starts */
    if (step && !isfinite(lv)) return NN_ENONFINITE;
    /* fused: no zeroing; each dW is written by its product. Not fused: grads = 0 first, every
     * product adds (the same bits: the products' sums start at +0). alpha > 0: then dW +=
     * alpha W / m (nn_l2_gradient's expression, added after the product, as the small engine
     * adds it): with a step, inside the step's own pass over the layer's W (optim_step's l2_*:
     * on the threads that step each part, while it is in cache); without, in a pass of its
     * own. It had been written into dW before the product, which then added to it: a serial
     * pass over every weight a step, and a product that reads C. W3's network, sgd with alpha
     * 1e-4 (scikit-learn's default), 2 threads: 1.13-1.21x (Zen 4 EPYC KVM guest; CHANGELOG). */
    if (!fused) memset(grads, 0, (size_t)n_params * sizeof(NN_T));
    if (!softmax_ce) {
        st = NN_F(output_delta_ex)(buf->delta[0], buf->Z, buf->A[L - 1], Y, m, nL, net->output,
                                   net->loss, net->huber_delta);
        if (st != NN_OK) return st;
    }
    if (sw) nni_scale_rows_by_weight(buf->delta[0], sw, m, nL);
    /* the backward's serial start (the output layer's products, often one thread's) is
     * the pool's sleeping workers' time to wake for its first parallel loop */
    if (backward_splits(net, m, step != NULL)) nni_pool_wake_ahead(nni_threads());
    off = n_params;
    for (l = L - 1; l >= 0; l--) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        const NN_T *A_prev = l > 0 ? buf->A[l - 1] : X;
        NN_T *delta_prev = l > 0 ? buf->delta[1 - cur] : NULL;
        const nn_act act_prev = l > 0 ? nn_net_layer_act(net, l - 1) : NN_ACT_IDENTITY;
        const int dropped = l > 0 && dropout_rng && nn_net_layer_dropout(net, l - 1) > 0;
        NNI_F(optim_step) l2_step; /* step, with the L2 term of this layer's W */
        off -= k * n + n;
        if (alpha > 0 && step) {
            l2_step = *step;
            l2_step.l2_alpha = (NN_T)alpha;
            l2_step.l2_m = (NN_T)m;
            l2_step.l2_inv = NNI_F(l2_inverse)((NN_T)m);
            l2_step.l2_begin = off;
            l2_step.l2_end = off + k * n;
        }
        /* a dropped layer's delta_prev comes out of the product plain (identity), then takes
         * its mask and derivative in one pass */
        /* with step, the layer steps inside: delta_prev first (it uses W_l), then dW stepped
         * block by block as the product writes it, then db */
        st = NNI_F(dense_backward_into)(grads + off, grads + off + k * n, delta_prev, A_prev,
                                        params + off, buf->delta[cur], m, k, n,
                                        dropped ? NN_ACT_IDENTITY : act_prev, !fused,
                                        alpha > 0 && step ? &l2_step : step, off, prod);
        if (st != NN_OK) return st;
        if (alpha > 0 && !step)
            NNI_F(l2_add)(grads + off, params + off, 0, k * n, (NN_T)alpha, (NN_T)m,
                          NNI_F(l2_inverse)((NN_T)m));
        if (dropped)
            NNI_F(dropout_backward)(delta_prev, buf->S[l - 1], buf->F[l - 1], m * k, act_prev);
        cur = 1 - cur;
    }
    return NN_OK;
}
