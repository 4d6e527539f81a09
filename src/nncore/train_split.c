/* The data-parallel training step: one batch's rows split once into parts, each part's
 * forward and backward on one thread, the parts' gradients then summed in a fixed order.
 *
 * A mid-size step (digits: batch 200, 64 -> 100 -> 10, ~6 MFLOP) is a handful of products of
 * 0.4-2.6 MFLOP each: split product by product, every one pays a sleeping worker's wake-up
 * (threads.c), so those products run on one thread and the second core idles. Split by rows,
 * the step wakes the pool once: part p runs rows [r_p, r_{p+1}) through every layer forward,
 * its output delta, and every layer backward into a gradient of its own.
 *
 * Order (docs/semantics.md, "Backprop and L2"): with P parts, G_p = A_prev[p]^T delta[p] / m
 * and g_p = sum_rows(delta[p]) / m (each the sum over part p's rows in row order, then / m);
 * dW = (((alpha W / m + G_0) + G_1) + ...) + G_{P-1}, db = ((g_0 + g_1) + ...) + g_{P-1}.
 * The parts are a function of m and the net alone (split_parts), never of the thread count,
 * so results are bit-identical for any thread count. The loss is batch_loss's, on the whole
 * batch after the parts (the bits of the unsplit step). */
#include "internal.h"

/* Rows per block: a multiple of every direct kernel's tile height (4, 6, 8, 12), so parts end
 * on tile boundaries. */
#define SPLIT_BLOCK_ROWS 24
/* Blocks per part (at least): parts of 96-191 rows (2 of a batch of 200). Smaller parts cost
 * more than the second thread saves: digits (batch 200, 64 -> 100 -> 10, adam, 50 epochs,
 * float64, 2-core Ice Lake Xeon VM, medians of 15 interleaved fits) took 184.6 ms on 1 thread
 * in 4 parts of 48-56 rows against 150.3 ms unsplit, and 143 ms on 2 threads against 145:
 * each part re-reads and re-writes its own dW, and the sums over 50 rows are short. In 2 parts
 * it took 160.6 ms on 1 thread (unsplit 166.7) and 144.1 ms on 2 (unsplit 163.9). Parts are
 * claimed one at a time, so a thread whose core is taken holds the step up only by a part it
 * has started. */
#define SPLIT_PART_BLOCKS 4
/* Forward multiply-adds of a batch (m sum_l n_l n_{l+1}) from which the step is split: below,
 * a wake-up of the pool costs more than it saves. */
#ifndef SPLIT_MIN_WORK
#define SPLIT_MIN_WORK (256.0 * 1024.0)
#endif
/* ... and up to which: above, each product is large enough to split over the threads itself
 * (the packed GEMM's blocking, gemm.c), and the parts' gradients would cost memory. */
#define SPLIT_MAX_WORK 8.0e6
/* Parameters per chunk of the update (the parts' sum and the optimizer's step in one pass):
 * right after the parts the workers still spin, so a second region costs ~1-3 us, and the
 * step leaves no serial pass over the parameters that would outlast the workers' spin. */
#define SPLIT_UPDATE_CHUNK 2048

int64_t NNI_F(split_parts)(const nn_net *net, int64_t m)
{
    const int64_t blocks = (m + SPLIT_BLOCK_ROWS - 1) / SPLIT_BLOCK_ROWS;
    double work = 0;
    int64_t l;
    if (nni_net_has_dropout(net)) return 1; /* the masks are drawn over the whole batch in order */
    for (l = 0; l < net->n_layers; l++) work += (double)net->sizes[l] * (double)net->sizes[l + 1];
    work *= (double)m;
    if (work < SPLIT_MIN_WORK || work > SPLIT_MAX_WORK) return 1;
    return blocks / SPLIT_PART_BLOCKS > 1 ? blocks / SPLIT_PART_BLOCKS : 1;
}

typedef struct {
    const nn_net *net;
    const NN_T *params, *X, *Y;
    const double *sw;
    double sw_sum;
    const NNI_F(batch_buffers) *buf;
    NN_T *grads, *part_grads;
    int64_t n_params, m, n_parts, blocks, maxw;
} split_step;

/* Part p: rows [r0, r1) forward through every layer (into buf's rows r0.., the deltas at
 * r0 maxw), the output delta, then backward into grads (part 0, accumulating onto the
 * gradient's start) or part_grads[p - 1] (written). */
static int split_part(void *ctx, int64_t p)
{
    const split_step *s = (const split_step *)ctx;
    const nn_net *net = s->net;
    const int64_t L = net->n_layers, nL = net->sizes[L];
    const int64_t b0 = s->blocks * p / s->n_parts, b1 = s->blocks * (p + 1) / s->n_parts;
    const int64_t r0 = b0 * SPLIT_BLOCK_ROWS;
    const int64_t rows = (b1 * SPLIT_BLOCK_ROWS < s->m ? b1 * SPLIT_BLOCK_ROWS : s->m) - r0;
    const NNI_F(batch_buffers) *buf = s->buf;
    NN_T *g = p == 0 ? s->grads : s->part_grads + (p - 1) * s->n_params;
    NN_T *delta[2];
    const NN_T *in = s->X + r0 * net->sizes[0];
    int64_t l, off = 0;
    int st, cur = 0;

    for (l = 0; l < L; l++) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        NN_T *Z_out = l == L - 1 && nni_loss_needs_logits(net->loss) ? buf->Z + r0 * nL : NULL;
        st = NN_F(dense_forward)(buf->A[l] + r0 * n, Z_out, in, s->params + off,
                                 s->params + off + k * n, rows, k, n, nn_net_layer_act(net, l));
        if (st != NN_OK) return st;
        off += k * n + n;
        in = buf->A[l] + r0 * n;
    }
    delta[0] = buf->delta[0] + r0 * s->maxw;
    delta[1] = buf->delta[1] + r0 * s->maxw;
    st = NN_F(output_delta_ex)(delta[0], buf->Z + r0 * nL, buf->A[L - 1] + r0 * nL,
                               s->Y + r0 * nL, rows, nL, net->output, net->loss,
                               net->huber_delta);
    if (st != NN_OK) return st;
    if (s->sw) nni_scale_part_by_weight(delta[0], s->sw, s->sw_sum, s->m, r0, rows, nL);
    for (l = L - 1; l >= 0; l--) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        const NN_T *A_prev = l > 0 ? buf->A[l - 1] + r0 * k : s->X + r0 * k;
        off -= k * n + n;
        st = NNI_F(dense_backward_rows)(g + off, g + off + k * n, l > 0 ? delta[1 - cur] : NULL,
                                        A_prev, s->params + off, delta[cur], rows, k, n,
                                        l > 0 ? nn_net_layer_act(net, l - 1) : NN_ACT_IDENTITY,
                                        s->m, p == 0);
        if (st != NN_OK) return st;
        cur = 1 - cur;
    }
    return NN_OK;
}

int NNI_F(split_loss_gradient)(double *loss, NN_T *grads, NN_T *part_grads,
                               const NNI_F(batch_buffers) *buf, const NN_T *params,
                               const nn_net *net, const NN_T *X, const NN_T *Y,
                               const double *sw, int64_t m, double alpha)
{
    split_step s;
    int64_t l, i;
    int st;
    s.net = net;
    s.params = params;
    s.X = X;
    s.Y = Y;
    s.sw = sw;
    s.sw_sum = 0.0;
    if (sw)
        for (i = 0; i < m; i++) s.sw_sum += sw[i];
    s.buf = buf;
    s.grads = grads;
    s.part_grads = part_grads;
    s.n_params = 0;
    s.maxw = 1;
    for (l = 0; l < net->n_layers; l++) {
        s.n_params += net->sizes[l] * net->sizes[l + 1] + net->sizes[l + 1];
        if (net->sizes[l + 1] > s.maxw) s.maxw = net->sizes[l + 1];
    }
    s.m = m;
    s.n_parts = NNI_F(split_parts)(net, m);
    s.blocks = (m + SPLIT_BLOCK_ROWS - 1) / SPLIT_BLOCK_ROWS;

    NNI_F(gradient_start)(grads, params, net, s.n_params, nni_weighted_alpha(alpha, sw, m), m);
    if ((st = nni_parallel_for(nni_threads(), s.n_parts, split_part, &s)) != NN_OK) return st;
    return NNI_F(batch_loss)(loss, buf, params, net, Y, sw, m, alpha);
}

typedef struct {
    const NNI_F(optim_job) *job;
    NN_T *grads;
    const NN_T *part_grads;
    int64_t n_parts;
} split_sum;

/* Chunk c of the parameters: grads = ((grads + G_1) + G_2) + ... there, then the step. */
static int update_chunk(void *ctx, int64_t c)
{
    const split_sum *u = (const split_sum *)ctx;
    const int64_t count = u->job->count, i0 = c * SPLIT_UPDATE_CHUNK;
    const int64_t i1 = i0 + SPLIT_UPDATE_CHUNK < count ? i0 + SPLIT_UPDATE_CHUNK : count;
    int64_t p, i;
    for (p = 1; p < u->n_parts; p++) {
        const NN_T *gp = u->part_grads + (p - 1) * count;
        for (i = i0; i < i1; i++) u->grads[i] += gp[i];
    }
    u->job->range(u->job, i0, i1);
    return NN_OK;
}

int NNI_F(split_update)(const NNI_F(optim_job) *job, NN_T *grads, const NN_T *part_grads,
                        int64_t n_parts)
{
    split_sum u;
    u.job = job;
    u.grads = grads;
    u.part_grads = part_grads;
    u.n_parts = n_parts;
    return nni_parallel_for(nni_threads(), (job->count + SPLIT_UPDATE_CHUNK - 1) /
                                               SPLIT_UPDATE_CHUNK, update_chunk, &u);
}
