/* The fused small-network training step, written once and compiled once per instruction set
 * (small_net.c: portable; small_kernels_avx2.c, small_kernels_avx512.c: with the ISA's flags, so
 * the loops below vectorize for it). Included by each, with NN_ELEM_F32 or NN_ELEM_F64 set, after
 * defining SMALL_STEP and SMALL_FORWARD (the functions' names) and SMALL_VBYTES; no include
 * guard on purpose.
 *
 * One call = one batch: forward, loss, backward and the optimizer step, with direct loops over
 * the workspace's buffers (no packing, no threads, no per-layer argument checks), the activations
 * through the vector math (one call per layer over the whole batch). It does what the general path
 * (network.c's batch_loss_gradient + optim.c) does, operation for operation in the same order:
 *   Z_l[i, j] = (sum_p A_{l-1}[i, p] W_l[p, j], p from 0) + b_l[j];  A_l = f(Z_l)
 *   delta_L = output delta (losses.c), rows scaled by sw_i m / S with sample weights
 *   dW_l[p, j] = (1/m) sum_i A_{l-1}[i, p] delta_l[i, j] (i from 0)
 *   db_l[j] = (sum_i delta_l[i, j]) / m
 *   delta_{l-1}[i, p] = (sum_j delta_l[i, j] W_l[p, j], j from 0) * f'(A_{l-1}[i, p])
 *   dW_l += alpha W_l / m;  then sgd / momentum / nesterov / adam as optim.c.
 * The ISA files are compiled with -ffp-contract=off (no fused multiply-add), so results equal
 * the general path's bit for bit wherever its products take GEMM's direct loop (m n k <= 32^3,
 * and at most 8192 for a C of at most 8 rows); beyond, its direct and packed kernels fuse
 * multiply-adds and differ in the last bits.
 */

/* SMALL_VBYTES (the including file's vector width in bytes: 16 SSE2, 32 AVX2, 64 AVX-512) */
#define SMALL_VL (SMALL_VBYTES / (int)sizeof(NN_T)) /* lanes of one vector                */
#define SMALL_JB (2 * SMALL_VL)                     /* columns per block: two vectors      */
#define SMALL_RB 4                                  /* rows per block: 8 independent sums   */
#define SMALL_PAD_MAX 4096 /* elements of the zero-padded copy of a narrow column block of B */

#if defined(__GNUC__) || defined(__clang__)
/* one native vector (a compiler vector type: lowered to exactly one register) */
typedef NN_T small_vec __attribute__((vector_size(SMALL_VBYTES)));
#endif

/* C[i, j] = scale (sum_q A(i, q) B[q n + j], q from 0 in order) (+ bias[j]), A(i, q) =
 * A[i ars + q acs]; C (m, n) row-major. Blocks of SMALL_RB rows x SMALL_JB columns keep their
 * sums in registers: a narrow last column block (n = 3, say) is copied zero-padded to
 * SMALL_JB columns, a short last row block re-reads the last row, and only the valid part is
 * stored. Each sum is a function of its row and column alone, wherever the blocks fall. */
static void small_gemm(NN_T *restrict C, const NN_T *restrict A, int64_t ars, int64_t acs,
                       const NN_T *restrict B, const NN_T *restrict bias, NN_T scale,
                       int64_t m, int64_t kq, int64_t n)
{
    NN_T bpad[SMALL_PAD_MAX];
    int64_t i0, j0, q;
    int r, j;
    if (n < SMALL_VL && m * kq * n <= 64) { /* tiny (the AND gate's 4 x 2 x 1): plain loops */
        for (i0 = 0; i0 < m; i0++)
            for (j0 = 0; j0 < n; j0++) {
                NN_T acc = 0;
                for (q = 0; q < kq; q++) acc += A[i0 * ars + q * acs] * B[q * n + j0];
                C[i0 * n + j0] = bias ? scale * acc + bias[j0] : scale * acc;
            }
        return;
    }
    for (j0 = 0; j0 < n; j0 += SMALL_JB) {
        const int cols = n - j0 < SMALL_JB ? (int)(n - j0) : SMALL_JB;
        const NN_T *bb = B + j0;
        int64_t ldb = n;
        if (cols < SMALL_JB && kq * SMALL_JB <= SMALL_PAD_MAX) {
            for (q = 0; q < kq; q++)
                for (j = 0; j < SMALL_JB; j++)
                    bpad[q * SMALL_JB + j] = j < cols ? B[q * n + j0 + j] : 0;
            bb = bpad;
            ldb = SMALL_JB;
        }
        for (i0 = 0; i0 < m; i0 += SMALL_RB) {
            const int rows = m - i0 < SMALL_RB ? (int)(m - i0) : SMALL_RB;
            NN_T acc[SMALL_RB][SMALL_JB];
            const NN_T *a0, *a1, *a2, *a3;
            a0 = A + i0 * ars;
            a1 = A + (i0 + (1 < rows ? 1 : rows - 1)) * ars;
            a2 = A + (i0 + (2 < rows ? 2 : rows - 1)) * ars;
            a3 = A + (i0 + (3 < rows ? 3 : rows - 1)) * ars;
            if (ldb == SMALL_JB || cols == SMALL_JB) {
#if defined(__GNUC__) || defined(__clang__)
                small_vec s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, t0 = {0}, t1 = {0}, t2 = {0},
                          t3 = {0}, b, c;
                if (cols <= SMALL_VL) { /* one vector of columns is enough */
                    for (q = 0; q < kq; q++) {
                        memcpy(&b, bb + q * ldb, sizeof b);
                        s0 = s0 + a0[q * acs] * b;
                        s1 = s1 + a1[q * acs] * b;
                        s2 = s2 + a2[q * acs] * b;
                        s3 = s3 + a3[q * acs] * b;
                    }
                } else {
                    for (q = 0; q < kq; q++) {
                        memcpy(&b, bb + q * ldb, sizeof b);
                        memcpy(&c, bb + q * ldb + SMALL_VL, sizeof c);
                        s0 = s0 + a0[q * acs] * b;
                        t0 = t0 + a0[q * acs] * c;
                        s1 = s1 + a1[q * acs] * b;
                        t1 = t1 + a1[q * acs] * c;
                        s2 = s2 + a2[q * acs] * b;
                        t2 = t2 + a2[q * acs] * c;
                        s3 = s3 + a3[q * acs] * b;
                        t3 = t3 + a3[q * acs] * c;
                    }
                }
                if (cols == SMALL_JB && rows == SMALL_RB) { /* whole block: vector stores */
                    small_vec bv = {0}, bw = {0};
                    NN_T *c0 = C + i0 * n + j0;
                    if (bias) {
                        memcpy(&bv, bias + j0, sizeof bv);
                        memcpy(&bw, bias + j0 + SMALL_VL, sizeof bw);
                    }
#define SMALL_STORE(r, sv, tv)                                                                \
    do {                                                                                      \
        small_vec x = scale * (sv), y = scale * (tv);                                         \
        if (bias) x = x + bv, y = y + bw;                                                     \
        memcpy(c0 + (r) * n, &x, sizeof x);                                                   \
        memcpy(c0 + (r) * n + SMALL_VL, &y, sizeof y);                                        \
    } while (0)
                    SMALL_STORE(0, s0, t0);
                    SMALL_STORE(1, s1, t1);
                    SMALL_STORE(2, s2, t2);
                    SMALL_STORE(3, s3, t3);
#undef SMALL_STORE
                    continue;
                }
                memcpy(acc[0], &s0, sizeof s0);
                memcpy(acc[0] + SMALL_VL, &t0, sizeof t0);
                memcpy(acc[1], &s1, sizeof s1);
                memcpy(acc[1] + SMALL_VL, &t1, sizeof t1);
                memcpy(acc[2], &s2, sizeof s2);
                memcpy(acc[2] + SMALL_VL, &t2, sizeof t2);
                memcpy(acc[3], &s3, sizeof s3);
                memcpy(acc[3] + SMALL_VL, &t3, sizeof t3);
#else
                for (r = 0; r < SMALL_RB; r++)
                    for (j = 0; j < SMALL_JB; j++) acc[r][j] = 0;
                for (q = 0; q < kq; q++) {
                    const NN_T *b = bb + q * ldb;
                    for (j = 0; j < SMALL_JB; j++) {
                        acc[0][j] += a0[q * acs] * b[j];
                        acc[1][j] += a1[q * acs] * b[j];
                        acc[2][j] += a2[q * acs] * b[j];
                        acc[3][j] += a3[q * acs] * b[j];
                    }
                }
#endif
            } else { /* a narrow block too long to copy: the plain loop */
                const NN_T *a[SMALL_RB];
                a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
                for (r = 0; r < SMALL_RB; r++)
                    for (j = 0; j < SMALL_JB; j++) acc[r][j] = 0;
                for (q = 0; q < kq; q++) {
                    const NN_T *b = bb + q * ldb;
                    for (r = 0; r < rows; r++) {
                        const NN_T ar = a[r][q * acs];
                        for (j = 0; j < cols; j++) acc[r][j] += ar * b[j];
                    }
                }
            }
            for (r = 0; r < rows; r++) {
                NN_T *cr = C + (i0 + r) * n + j0;
                if (bias)
                    for (j = 0; j < cols; j++) cr[j] = scale * acc[r][j] + bias[j0 + j];
                else
                    for (j = 0; j < cols; j++) cr[j] = scale * acc[r][j];
            }
        }
    }
}

/* A (m, n) = f(Z) for the layer's activation, the whole block at once (softmax row by row:
 * a = e^(z - max z) / sum e^(z - max z), the exps of the whole block in one call). */
static void small_activate(NN_T *A, const NN_T *Z, int64_t m, int64_t n, nn_act act)
{
    int64_t i, j;
    if (act != NN_ACT_SOFTMAX) {
        if (A != Z) memcpy(A, Z, (size_t)(m * n) * sizeof(NN_T));
        nni_act_any_inplace(A, m * n, act);
        return;
    }
    for (i = 0; i < m; i++) {
        const NN_T *z = Z + i * n;
        NN_T *a = A + i * n, zmax = z[0];
        for (j = 1; j < n; j++)
            if (z[j] > zmax) zmax = z[j];
        for (j = 0; j < n; j++) a[j] = z[j] - zmax;
    }
    nni_exp_inplace(A, m * n);
    for (i = 0; i < m; i++) {
        NN_T *a = A + i * n, s = 0;
        for (j = 0; j < n; j++) s += a[j];
        for (j = 0; j < n; j++) a[j] = a[j] / s;
    }
}

/* out (m, n_L) = the network's output for X (m, n_0), through the ping-pong buffers h0, h1 (each
 * m x max hidden width): the forward of SMALL_STEP, for nn_forward. */
void SMALL_FORWARD(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X, int64_t m,
                   NN_T *h0, NN_T *h1)
{
    const int64_t L = net->n_layers;
    const NN_T *in = X;
    int64_t l, off = 0;
    for (l = 0; l < L; l++) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        NN_T *dst = l == L - 1 ? out : l % 2 ? h1 : h0;
        small_gemm(dst, in, k, 1, params + off, params + off + k * n, (NN_T)1, m, k, n);
        small_activate(dst, dst, m, n, nn_net_layer_act(net, l));
        off += k * n + n;
        in = dst;
    }
}

int SMALL_STEP(double *loss, const NNI_F(small_ctx) *c, const NN_T *X, const NN_T *Y,
               const double *sw, int64_t m)
{
    const nn_net *net = c->net;
    const nn_fit_config *cfg = c->cfg;
    const int64_t L = net->n_layers, nL = net->sizes[L], n_params = c->n_params;
    const NNI_F(batch_buffers) *buf = c->buf;
    NN_T *params = c->params, *grads = c->grads;
    const NN_T *in = X;
    double lv = 0.0, alpha = cfg->alpha, loss_alpha = nni_loss_alpha(cfg);
    int64_t l, off = 0, i, j;
    int st, cur = 0;

    /* forward: Z = A_prev W + b, A = f(Z); the output logits kept for bce / ce */
    for (l = 0; l < L; l++) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        const nn_act act = nn_net_layer_act(net, l);
        NN_T *Zl = l == L - 1 && nni_loss_needs_logits(net->loss) ? buf->Z : buf->A[l];
        small_gemm(Zl, in, k, 1, params + off, params + off + k * n, (NN_T)1, m, k, n);
        small_activate(buf->A[l], Zl, m, n, act);
        off += k * n + n;
        in = buf->A[l];
    }

    /* loss, and its L2 term, as network.c computes them */
    if (sw) {
        double sw_sum = 0.0;
        if ((st = NN_F(loss_ex)(&lv, buf->Z, buf->A[L - 1], Y, sw, m, nL, net->loss,
                                net->huber_delta)) != NN_OK)
            return st;
        for (i = 0; i < m; i++) sw_sum += sw[i];
        alpha = alpha * (double)m / sw_sum;
        loss_alpha = loss_alpha * (double)m / sw_sum;
    } else if ((st = NN_F(loss_ex)(&lv, buf->Z, buf->A[L - 1], Y, NULL, m, nL, net->loss,
                                   net->huber_delta)) != NN_OK) {
        return st;
    }
    if (loss_alpha > 0) {
        for (off = 0, l = 0; l < L; l++) {
            const int64_t kn = net->sizes[l] * net->sizes[l + 1];
            const double s = nni_sum_squares(params + off, kn);
            lv += loss_alpha / 2 * s / (double)m;
            off += kn + net->sizes[l + 1];
        }
    }
    *loss = lv;
    if (!isfinite(lv)) return NN_ENONFINITE; /* before any update, as train.c does */

    /* backward */
    if ((st = NN_F(output_delta_ex)(buf->delta[0], buf->Z, buf->A[L - 1], Y, m, nL,
                                    net->output, net->loss, net->huber_delta)) != NN_OK)
        return st;
    if (sw) nni_scale_rows_by_weight(buf->delta[0], sw, m, nL);
    off = n_params;
    for (l = L - 1; l >= 0; l--) {
        const int64_t k = net->sizes[l], n = net->sizes[l + 1];
        const NN_T *A_prev = l > 0 ? buf->A[l - 1] : X, *delta = buf->delta[cur];
        const NN_T *W = params + (off - k * n - n);
        NN_T *dW, *db;
        off -= k * n + n;
        dW = grads + off;
        db = dW + k * n;
        /* dW (k, n) = (1/m) A_prev^T delta: row p of dW sums over the batch rows i */
        small_gemm(dW, A_prev, 1, k, delta, NULL, (NN_T)1 / (NN_T)m, k, m, n);
        /* db = column sums in row order, / m */
        for (j = 0; j < n; j++) db[j] = 0;
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) db[j] += delta[i * n + j];
        for (j = 0; j < n; j++) db[j] = db[j] / (NN_T)m;
        if (l > 0) {
            /* delta_prev (m, k) = delta W^T (W^T copied so the sums run over contiguous rows),
             * then * f'(A_prev) */
            const nn_act act_prev = nn_net_layer_act(net, l - 1);
            NN_T *delta_prev = buf->delta[1 - cur];
            int64_t p;
            for (p = 0; p < k; p++)
                for (j = 0; j < n; j++) c->WT[j * k + p] = W[p * n + j];
            small_gemm(delta_prev, delta, n, 1, c->WT, NULL, (NN_T)1, m, n, k);
            if (act_prev != NN_ACT_IDENTITY)
                nni_deriv_mul(delta_prev, delta_prev, A_prev, m * k, act_prev);
            cur = 1 - cur;
        }
        if (alpha > 0)
            NNI_F(l2_add)(dW, W, 0, k * n, (NN_T)alpha, (NN_T)m, NNI_F(l2_inverse)((NN_T)m));
    }

    /* the optimizer step over all parameters (optim_step.h, as optim.c) */
    if (cfg->optimizer == NN_OPT_SGD) {
        nni_sgd_step(params, c->state1, grads, 0, n_params, (NN_T)cfg->momentum, (NN_T)cfg->lr,
                     cfg->nesterov);
    } else {
        const int64_t t = ++*c->step;
        nni_adam_step(params, c->state1, c->state2, grads, 0, n_params, (NN_T)cfg->beta1,
                      (NN_T)(1.0 - cfg->beta1), (NN_T)cfg->beta2, (NN_T)(1.0 - cfg->beta2),
                      (NN_T)nni_adam_lr(cfg->lr, cfg->beta1, cfg->beta2, t),
                      (NN_T)cfg->epsilon);
    }
    return NN_OK;
}

#undef SMALL_STEP
#undef SMALL_FORWARD
#undef SMALL_JB
#undef SMALL_RB
#undef SMALL_PAD_MAX
#undef SMALL_VL
#undef SMALL_VBYTES
