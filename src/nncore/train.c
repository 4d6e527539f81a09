/* Training: the per-fit workspace and one epoch (batches, forward, loss, backward, update).
 * Every buffer is allocated in workspace_create; train_epoch allocates nothing. */
#include "internal.h"

/* An X of GATHER_LARGE_X_BYTES or more is read from memory: its batches' rows, scattered
 * over it, are gathered four at a time (copy_rows), and in parts of GATHER_PART_ROWS rows
 * over the pool when a batch's rows fill at least GATHER_PARALLEL_MIN_BYTES: each core keeps
 * its own misses in flight. scikit-learn's defaults (batch 200, shuffled) on MNIST-sized
 * float64 (60000 x 784 -> 100 -> 10, 2 epochs, 2 threads, Zen 4 KVM guest): the gather of
 * 1.25 MB a step had cost 20 % of the fit (a shuffled fit 0.663 s, an unshuffled one 0.531),
 * on the calling thread alone; over both cores the shuffled fit took 0.57-0.59 s against
 * 0.63-0.64 (CHANGELOG). 32 KiB: a batch of 64 rows of 128 floats, ~4 us from memory on one
 * core (7-8 GB/s, a scratch loop), several times a loop's cost when the pool's worker is
 * awake. 16 MiB: an X that the caches hold is gathered in a few microseconds, a row at a
 * time (memcpy's wide moves; copy_rows's 64-byte pieces are SSE2's four), and the small
 * networks trained on such data (digits: 1347 x 64) run their products on one thread with the
 * worker asleep, which a loop would wake every step (20-50 us in a VM): the digits fit of
 * bench_sklearn.py gathered over the pool ran 0.075-0.084 s, 0.070-0.071 now. No prefetch of the
 * rows ahead: asking for the cache lines of the row 4 ahead (as the gather did) gave nothing
 * on one thread or two (the fit above 0.965-0.980 s without, 0.977-0.993 with, on one
 * thread). */
#define GATHER_PART_ROWS 16
#define GATHER_PARALLEL_MIN_BYTES ((int64_t)32 * 1024)
#define GATHER_LARGE_X_BYTES ((int64_t)16 << 20)

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
    NNI_F(small_step_fn) small; /* the fused step (small_net.c) when the net is small, or NULL */
    NN_T *WT;                /* its W^T buffer (max_l n_l n_{l+1})                             */
    int neuron;              /* 1: one neuron, full batch: neuron_train.c runs whole fits      */
};

/* count values of NN_T (a count the caller checked) as a kept block (scratch.c). */
static void *workspace_block(int64_t count)
{
    return nni_block_alloc(count * (int64_t)sizeof(NN_T));
}

/* One batch's rows (gather_part: rows part * GATHER_PART_ROWS ..): row r of the batch is
 * X[order[r]], with its Y row and sample weight. */
typedef struct {
    const NN_T *X, *Y;
    const double *sw;       /* per-sample weights, or NULL */
    const int64_t *order;   /* the epoch's order from the batch's first row on */
    int64_t m, n0, nL;      /* rows, widths of X and Y */
    int64_t n;              /* X's rows */
    int from_memory;        /* X of GATHER_LARGE_X_BYTES or more */
    NN_T *Xb, *Yb;
    double *swb;
} batch_gather;

/* dst's rows 0 .. rows-1 = src's rows order[0 .. rows-1], of `bytes` each; from memory
 * (`from_memory`), four rows at a time, a 64-byte piece of each in turn, so the cache misses
 * of four scattered rows are in flight together (a row's memcpy waits on its own, a few
 * lines ahead). A scratch loop gathering one epoch of 60000 x 784 float64 in random batches
 * of 200 on one core (Zen 4 KVM guest, load < 0.3): 39-40 ms a row at a time, 26-27 ms four
 * at a time (8 at a time the same, a sequential read 29 GB/s); the same code built for SSE2
 * alone, 31-33 ms. */
static void copy_rows(char *dst, const char *src, const int64_t *order, int64_t rows,
                      size_t bytes, int from_memory)
{
    int64_t r = 0;
    for (; from_memory && r + 4 <= rows; r += 4) {
        const char *s0 = src + order[r] * bytes, *s1 = src + order[r + 1] * bytes;
        const char *s2 = src + order[r + 2] * bytes, *s3 = src + order[r + 3] * bytes;
        char *d = dst + r * bytes;
        size_t j = 0;
        for (; j + 64 <= bytes; j += 64) {
            memcpy(d + j, s0 + j, 64);
            memcpy(d + bytes + j, s1 + j, 64);
            memcpy(d + 2 * bytes + j, s2 + j, 64);
            memcpy(d + 3 * bytes + j, s3 + j, 64);
        }
        if (j < bytes) {
            memcpy(d + j, s0 + j, bytes - j);
            memcpy(d + bytes + j, s1 + j, bytes - j);
            memcpy(d + 2 * bytes + j, s2 + j, bytes - j);
            memcpy(d + 3 * bytes + j, s3 + j, bytes - j);
        }
    }
    for (; r < rows; r++) memcpy(dst + r * bytes, src + order[r] * bytes, bytes);
}

static int gather_part(void *ctx, int64_t part)
{
    const batch_gather *g = (const batch_gather *)ctx;
    const int64_t r0 = part * GATHER_PART_ROWS;
    const int64_t r1 = r0 + GATHER_PART_ROWS < g->m ? r0 + GATHER_PART_ROWS : g->m;
    int64_t r;
    copy_rows((char *)(g->Xb + r0 * g->n0), (const char *)g->X, g->order + r0, r1 - r0,
              (size_t)g->n0 * sizeof(NN_T), g->from_memory);
    for (r = r0; r < r1; r++) {
        const int64_t i = g->order[r];
        memcpy(g->Yb + r * g->nL, g->Y + i * g->nL, (size_t)g->nL * sizeof(NN_T));
        if (g->sw) g->swb[r] = g->sw[i];
    }
    return NN_OK;
}

/* The batch's rows into Xb, Yb (and swb): over the pool when they are large (the same copies
 * on any number of threads). */
static void gather_batch(const batch_gather *g)
{
    const int64_t parts = (g->m + GATHER_PART_ROWS - 1) / GATHER_PART_ROWS;
    const int threads = nni_threads();
    const int64_t row_bytes = g->n0 * (int64_t)sizeof(NN_T);
    int64_t c;
    if (threads > 1 && parts > 1 && g->m * row_bytes >= GATHER_PARALLEL_MIN_BYTES &&
        g->from_memory) {
        (void)nni_parallel_for(threads, parts, gather_part, (void *)g); /* parts cannot fail */
        return;
    }
    for (c = 0; c < parts; c++) (void)gather_part((void *)g, c);
}

void NN_F(workspace_free)(NN_WS *ws)
{
    if (!ws) return;
    NNI_F(batch_buffers_free)(&ws->buf);
    free(ws->sizes);
    free(ws->order);
    nni_block_free(ws->Xb);
    nni_block_free(ws->Yb);
    free(ws->swb);
    nni_block_free(ws->grads);
    nni_block_free(ws->state1);
    nni_block_free(ws->state2);
    nni_block_free(ws->WT);
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
    /* the large buffers are blocks (scratch.c): the next fit of this size, on this thread,
     * reuses their pages */
    ws->Xb = (NN_T *)workspace_block(nx);
    ws->Yb = (NN_T *)workspace_block(ny);
    ws->swb = (double *)nni_alloc(batch_size, sizeof(double));
    ws->grads = (NN_T *)workspace_block(n_params);
    ws->state1 = (NN_T *)workspace_block(n_params);
    if (optimizer == NN_OPT_ADAM) ws->state2 = (NN_T *)workspace_block(n_params);
    if (!ws->sizes || !ws->order || !ws->Xb || !ws->Yb || !ws->swb || !ws->grads || !ws->state1 ||
        (optimizer == NN_OPT_ADAM && !ws->state2)) {
        NN_F(workspace_free)(ws);
        return NN_ENOMEM;
    }
    if ((st = NNI_F(batch_buffers_alloc)(&ws->buf, net, batch_size, 1)) != NN_OK) {
        NN_F(workspace_free)(ws);
        return st;
    }
    if ((ws->small = NNI_F(small_engine)(net, batch_size, optimizer)) != NULL) {
        int64_t l, maxkn = 1;
        for (l = 0; l < L; l++)
            if (net->sizes[l] * net->sizes[l + 1] > maxkn)
                maxkn = net->sizes[l] * net->sizes[l + 1];
        if (!(ws->WT = (NN_T *)workspace_block(maxkn))) {
            NN_F(workspace_free)(ws);
            return NN_ENOMEM;
        }
    }
    ws->neuron = NNI_F(neuron_applies)(net, batch_size, n_samples);
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

/* 1 when train_epochs hands a whole run to the one-neuron engine (neuron_train.c). */
static int runs_neuron(const NN_WS *ws, const nn_fit_config *cfg)
{
    return ws->neuron && !ws->sw && cfg->alpha == 0 && nni_loss_alpha(cfg) == 0 &&
           !cfg->order && cfg->products == NN_PRODUCTS_NATIVE;
}

/* 1 when run_epoch's batches take the fused small-net engine (small_net.h): its products are
 * the element type's. */
static int runs_small(const NN_WS *ws, const nn_fit_config *cfg)
{
    return ws->small && cfg->products == NN_PRODUCTS_NATIVE;
}

const char *NN_F(workspace_engine)(const NN_WS *ws, const nn_fit_config *cfg)
{
    if (!ws || !cfg) return "";
    return runs_neuron(ws, cfg) ? "neuron" : runs_small(ws, cfg) ? "fused" : "general";
}

/* The fit settings train_epoch can use: NN_OK or NN_EINVAL. */
static int check_config(const nn_fit_config *cfg, const NN_WS *ws)
{
    if (cfg->optimizer != ws->optimizer) return NN_EINVAL;
    if (!(cfg->lr > 0) || !isfinite(cfg->lr)) return NN_EINVAL;
    if (!(cfg->alpha >= 0) || !isfinite(cfg->alpha)) return NN_EINVAL;
    if (!(cfg->loss_alpha >= 0) || !isfinite(cfg->loss_alpha)) return NN_EINVAL;
    if (cfg->shuffle != 0 && cfg->shuffle != 1) return NN_EINVAL;
    if (cfg->shuffle && cfg->order) return NN_EINVAL;
    if (!NNI_F(products_of)(cfg->products)) return NN_EINVAL; /* bfloat16 with float64 */
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

/* train_epoch's argument checks: NN_OK when these arguments can run epochs. */
static int check_epoch_args(const NN_T *params, const double *epoch_loss, const NN_WS *ws,
                            const nn_net *net, const nn_fit_config *cfg, const NN_T *X,
                            const NN_T *Y, int64_t n, const uint64_t *rng_state)
{
    int64_t n_params, L, l;
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
    /* the workspace holds the mask buffers of every dropout layer of this net */
    for (l = 0; l < L - 1; l++)
        if (nn_net_layer_dropout(net, l) > 0 && !(ws->buf.F && ws->buf.F[l])) return NN_EINVAL;
    if ((cfg->shuffle || nni_net_has_dropout(net)) && !rng_state) return NN_EINVAL;
    if (cfg->order) /* every index is a row: the batches read X[order[i]] */
        for (l = 0; l < n; l++)
            if (cfg->order[l] < 0 || cfg->order[l] >= n) return NN_EINVAL;
    return NN_OK;
}

/* One epoch with checked arguments (train_epoch, or train_epochs once for all its epochs):
 * the rows in order (the caller's cfg->order, a fresh permutation when shuffling, each batch's
 * rows gathered; else 0..n-1 with no copy of X, Y), consecutive batches; per batch forward,
 * loss (before the update), backward, one step (fused: each layer's as soon as its backward
 * is done, network.c). epoch_loss = sum_batches batch_loss rows / n. */
static int run_epoch(NN_T *params, double *epoch_loss, NN_WS *ws, const nn_net *net,
                     const nn_fit_config *cfg, const NN_T *X, const NN_T *Y, int64_t n,
                     uint64_t *rng_state)
{
    const int64_t L = net->n_layers, n_params = ws->n_params;
    /* the rows' order: the caller's, the epoch's permutation, or none (X as it is) */
    const int64_t *order = cfg->order ? cfg->order : cfg->shuffle ? ws->order : NULL;
    int64_t b0;
    double total = 0.0;
    NNI_F(small_ctx) small;
    uint64_t *dropout_rng = nni_net_has_dropout(net) ? rng_state : NULL;
    int st;

    const int fused = nni_fused_step_enabled();
    /* sgd without momentum never reads its velocity (v = -lr g): the fused steps keep it only
     * at the epoch's last batch, the state a caller sees, and step w -= lr g at the others,
     * with two of the five loads and stores an element (optim_step.h): W4's weights (6.3 M
     * floats) come from memory. W4, 2 threads, Zen 5 KVM guest, fits alternating in one
     * process: 1.037x (quartiles 1.005-1.054, 9 rounds, at load ~1: indicative), the same
     * weights. */
    const int plain_sgd = cfg->optimizer == NN_OPT_SGD && cfg->momentum == 0;
    const NNI_F(products) *prod = NNI_F(products_of)(cfg->products); /* checked: not NULL */
    /* the fused small-net engine multiplies in the element type: bfloat16 products take the
     * general path */
    NNI_F(small_step_fn) small_step = runs_small(ws, cfg) ? ws->small : NULL;
    NNI_F(optim_step) step;
    batch_gather gather;

    if (cfg->shuffle && (st = nn_rng_permutation(ws->order, n, rng_state)) != NN_OK) return st;
    step.params = params;
    step.state1 = ws->state1;
    step.state2 = ws->state2;
    step.grads = ws->grads;
    step.cfg = cfg;
    step.t = ws->step;
    step.l2_alpha = step.l2_m = step.l2_inv = 0; /* network.c sets a layer's L2 in a copy */
    step.l2_begin = step.l2_end = 0;
    gather.X = X; /* the batches' rows when there is an order: its order and m per batch */
    gather.Y = Y;
    gather.sw = ws->sw;
    gather.n0 = net->sizes[0];
    gather.nL = net->sizes[L];
    gather.n = n;
    gather.from_memory = n * gather.n0 * (int64_t)sizeof(NN_T) >= GATHER_LARGE_X_BYTES;
    gather.Xb = ws->Xb;
    gather.Yb = ws->Yb;
    gather.swb = ws->swb;
    if (small_step) {
        small.net = net;
        small.cfg = cfg;
        small.n_params = n_params;
        small.params = params;
        small.grads = ws->grads;
        small.state1 = ws->state1;
        small.state2 = ws->state2;
        small.step = &ws->step;
        small.WT = ws->WT;
        small.buf = &ws->buf;
    }

    for (b0 = 0; b0 < n; b0 += ws->batch) {
        const int64_t m = n - b0 < ws->batch ? n - b0 : ws->batch;
        const int64_t n0 = net->sizes[0], nL = net->sizes[L];
        const NN_T *Xb, *Yb;
        const double *swb = NULL;
        double batch_loss;
        if (order) {
            gather.order = order + b0;
            gather.m = m;
            gather_batch(&gather);
            Xb = ws->Xb;
            Yb = ws->Yb;
            if (ws->sw) swb = ws->swb;
        } else {
            Xb = X + b0 * n0;
            Yb = Y + b0 * nL;
            if (ws->sw) swb = ws->sw + b0;
        }
        if (cfg->should_stop && cfg->should_stop(cfg->stop_ctx)) return NN_EINTR;
        if (small_step) { /* the whole step fused (small_net.h), the same math */
            if ((st = small_step(&batch_loss, &small, Xb, Yb, swb, m)) != NN_OK) return st;
            total += batch_loss * (double)m;
            continue;
        }
        if (fused) { /* each layer steps right after its backward (network.c) */
            step.t = ws->step + 1;
            step.state1 = plain_sgd && b0 + m < n ? NULL : ws->state1;
            st = NNI_F(batch_loss_gradient)(&batch_loss, ws->grads, &ws->buf, params, net, Xb,
                                            Yb, swb, m, cfg->alpha, nni_loss_alpha(cfg),
                                            dropout_rng, &step, prod);
            if (st != NN_OK) return st;
            if (cfg->optimizer == NN_OPT_ADAM) ws->step = step.t; /* adam counts its steps */
            total += batch_loss * (double)m;
            continue;
        }
        st = NNI_F(batch_loss_gradient)(&batch_loss, ws->grads, &ws->buf, params, net, Xb, Yb,
                                        swb, m, cfg->alpha, nni_loss_alpha(cfg), dropout_rng,
                                        NULL, prod);
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

int NN_F(train_epoch)(NN_T *params, double *epoch_loss, NN_WS *ws, const nn_net *net,
                      const nn_fit_config *cfg, const NN_T *X, const NN_T *Y, int64_t n,
                      uint64_t *rng_state)
{
    const int st = check_epoch_args(params, epoch_loss, ws, net, cfg, X, Y, n, rng_state);
    if (st != NN_OK) return st;
    return run_epoch(params, epoch_loss, ws, net, cfg, X, Y, n, rng_state);
}

int NN_F(train_epochs)(NN_T *params, double *loss_curve, int64_t *epochs_done, NN_WS *ws,
                       const nn_net *net, const nn_fit_config *cfg, const NN_T *X,
                       const NN_T *Y, int64_t n, int64_t epochs, uint64_t *rng_state)
{
    int64_t e;
    if (!loss_curve || !epochs_done || epochs < 0) return NN_EINVAL;
    *epochs_done = 0;
    if (epochs > 0) { /* the arguments are the same for every epoch: checked once */
        const int st = check_epoch_args(params, loss_curve, ws, net, cfg, X, Y, n, rng_state);
        if (st != NN_OK) return st;
    }
    if (epochs > 0 && runs_neuron(ws, cfg)) {
        /* one neuron, full batch: the whole run in one loop (neuron_train.c), the same math */
        NNI_F(neuron_ctx) c;
        c.net = net;
        c.cfg = cfg;
        c.grads = ws->grads;
        c.state1 = ws->state1;
        c.state2 = ws->state2;
        c.step = &ws->step;
        c.order = ws->order;
        c.Xb = ws->Xb;
        c.Yb = ws->Yb;
        return NNI_F(neuron_epochs)(params, loss_curve, epochs_done, &c, X, Y, n, epochs,
                                    rng_state);
    }
    for (e = 0; e < epochs; e++) {
        int st = run_epoch(params, loss_curve + e, ws, net, cfg, X, Y, n, rng_state);
        if (st != NN_OK) return st;
        *epochs_done = e + 1;
    }
    return NN_OK;
}
