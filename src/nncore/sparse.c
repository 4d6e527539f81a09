/* Sparse input: a first layer and the perceptron's SGD epoch on rows stored as CSR.
 *
 * X (n_rows, k) in CSR: row i holds data[p] at column indices[p], p = indptr[i] .. indptr[i+1]-1;
 * indptr is nondecreasing from indptr[0] >= 0, indices are in [0, k), in any order (duplicates
 * add up). Each kernel checks the rows it reads before it writes anything, so bad input returns
 * NN_EINVAL with the outputs untouched. Work is linear in the nonzeros, never in n_rows * k. */
#include "internal.h"

#define CSR_PART_ROWS 64          /* rows of Z one part of the parallel forward writes       */
#define CSR_PART_COLS 64          /* columns of dW one part of the parallel gradient writes   */
#define CSR_PARALLEL_MIN_WORK 65536.0 /* nonzeros x outputs below which one thread is faster */
#define CSR_FORWARD_CHUNK_ROWS 256 /* rows the network forward takes through its layers at once */

/* NN_OK when the m rows (rows[r], or r when rows is NULL) exist in an n_rows-row CSR matrix
 * with k columns: row numbers in range, indptr nondecreasing and within NNI_MAX_ELEMS, every
 * column index in [0, k). *nnz = the nonzeros those rows hold. */
static int csr_check(int64_t *nnz, const int64_t *indptr, const int32_t *indices,
                     const NN_T *data, int64_t n_rows, const int64_t *rows, int64_t m,
                     int64_t k)
{
    int64_t r, p, total = 0;
    int st;
    if (!indptr || !indices || !data || n_rows <= 0 || m <= 0 || k <= 0 || k > INT32_MAX)
        return NN_EINVAL;
    if (!(indptr[0] >= 0 && indptr[n_rows] <= NNI_MAX_ELEMS)) return NN_EINVAL;
    for (r = 0; r < m; r++) {
        const int64_t i = rows ? rows[r] : r;
        if (i < 0 || i >= n_rows) return NN_EINVAL;
        if (!(indptr[i] >= indptr[0] && indptr[i] <= indptr[i + 1] &&
              indptr[i + 1] <= indptr[n_rows]))
            return NN_EINVAL;
        for (p = indptr[i]; p < indptr[i + 1]; p++)
            if (indices[p] < 0 || (int64_t)indices[p] >= k) return NN_EINVAL;
        if ((st = nni_add(&total, total, indptr[i + 1] - indptr[i])) != NN_OK) return st;
    }
    if (nnz) *nnz = total;
    return NN_OK;
}

/* The threads for work = nonzeros x outputs: one below the threshold. */
static int csr_threads(int64_t nnz, int64_t n)
{
    return (double)nnz * (double)n >= CSR_PARALLEL_MIN_WORK ? nni_threads() : 1;
}

typedef struct {
    NN_T *Z, *dW;
    const int64_t *indptr, *rows;
    const int32_t *indices;
    const NN_T *data, *W, *b, *delta;
    int64_t m, k, n;
    NN_T alpha;
} NNI_F(csr_job);

/* A job over the m rows (rows, or 0 .. m-1) of a checked CSR matrix, outputs n wide; *nnz the
 * nonzeros it reads. The caller sets the job's arrays. */
static int NNI_F(csr_job_start)(NNI_F(csr_job) *c, int64_t *nnz, const int64_t *indptr,
                                const int32_t *indices, const NN_T *data, int64_t n_rows,
                                const int64_t *rows, int64_t m, int64_t k, int64_t n)
{
    int64_t t;
    int st;
    if (n <= 0) return NN_EINVAL;
    if ((st = csr_check(nnz, indptr, indices, data, n_rows, rows, m, k)) != NN_OK) return st;
    if ((st = nni_mul(&t, m, n)) != NN_OK || (st = nni_mul(&t, k, n)) != NN_OK) return st;
    memset(c, 0, sizeof *c);
    c->indptr = indptr;
    c->rows = rows;
    c->indices = indices;
    c->data = data;
    c->m = m;
    c->k = k;
    c->n = n;
    return NN_OK;
}

/* fn(c, part) for every part: on one thread when the work is small, else on the pool. */
static int NNI_F(csr_job_run)(NNI_F(csr_job) *c, int64_t n_parts, int64_t nnz, nni_part_fn fn)
{
    const int threads = csr_threads(nnz, c->n);
    int64_t part;
    if (threads <= 1 || n_parts <= 1) {
        for (part = 0; part < n_parts; part++) fn(c, part);
        return NN_OK;
    }
    return nni_parallel_for(threads, n_parts, fn, c);
}

/* Rows [part * CSR_PART_ROWS, ...) of Z: each row starts from b and adds x_p W[j_p, :] for its
 * nonzeros in stored order, so a row's value never depends on the thread that wrote it. */
static int NNI_F(csr_forward_part)(void *ctx, int64_t part)
{
    const NNI_F(csr_job) *c = (const NNI_F(csr_job) *)ctx;
    const int64_t r1 = (part + 1) * CSR_PART_ROWS < c->m ? (part + 1) * CSR_PART_ROWS : c->m;
    int64_t r, p, j;
    for (r = part * CSR_PART_ROWS; r < r1; r++) {
        const int64_t i = c->rows ? c->rows[r] : r;
        NN_T *z = c->Z + r * c->n;
        if (c->b)
            memcpy(z, c->b, (size_t)c->n * sizeof(NN_T));
        else
            for (j = 0; j < c->n; j++) z[j] = 0;
        for (p = c->indptr[i]; p < c->indptr[i + 1]; p++) {
            const NN_T x = c->data[p];
            const NN_T *w = c->W + (int64_t)c->indices[p] * c->n;
            for (j = 0; j < c->n; j++) z[j] += x * w[j];
        }
    }
    return NN_OK;
}

/* Z (m, n) = X[rows] @ W + b:  Z[r, :] = b + sum_p data[p] W[indices[p], :] over row rows[r]'s
 * nonzeros. W (k, n) row-major; b (n) or NULL for none; rows (m) or NULL for 0 .. m-1. */
int NN_F(csr_dense_forward)(NN_T *Z, const int64_t *indptr, const int32_t *indices,
                            const NN_T *data, int64_t n_rows, const int64_t *rows, int64_t m,
                            const NN_T *W, const NN_T *b, int64_t k, int64_t n)
{
    NNI_F(csr_job) c;
    int64_t nnz;
    int st;
    if (!Z || !W) return NN_EINVAL;
    if ((st = NNI_F(csr_job_start)(&c, &nnz, indptr, indices, data, n_rows, rows, m, k, n)) !=
        NN_OK)
        return st;
    c.Z = Z;
    c.W = W;
    c.b = b;
    return NNI_F(csr_job_run)(&c, (m + CSR_PART_ROWS - 1) / CSR_PART_ROWS, nnz,
                              NNI_F(csr_forward_part));
}

/* Columns [part * CSR_PART_COLS, ...) of dW: every nonzero in row order, then stored order,
 * adds alpha x_p delta[r, cols] to dW[j_p, cols]; each element of dW sees the same sequence
 * of adds whatever the number of threads. */
static int NNI_F(csr_gradient_part)(void *ctx, int64_t part)
{
    const NNI_F(csr_job) *c = (const NNI_F(csr_job) *)ctx;
    const int64_t j0 = part * CSR_PART_COLS;
    const int64_t j1 = j0 + CSR_PART_COLS < c->n ? j0 + CSR_PART_COLS : c->n;
    int64_t r, p, j;
    for (r = 0; r < c->m; r++) {
        const int64_t i = c->rows ? c->rows[r] : r;
        const NN_T *d = c->delta + r * c->n;
        for (p = c->indptr[i]; p < c->indptr[i + 1]; p++) {
            const NN_T s = c->alpha * c->data[p];
            NN_T *g = c->dW + (int64_t)c->indices[p] * c->n;
            for (j = j0; j < j1; j++) g[j] += s * d[j];
        }
    }
    return NN_OK;
}

/* dW (k, n) += alpha X[rows]^T @ delta:  dW[indices[p], :] += alpha data[p] delta[r, :] for
 * every nonzero p of row rows[r]. delta (m, n); alpha = 1/m gives dense_backward's dW. */
int NN_F(csr_weight_gradient)(NN_T *dW, const int64_t *indptr, const int32_t *indices,
                              const NN_T *data, int64_t n_rows, const int64_t *rows, int64_t m,
                              const NN_T *delta, int64_t k, int64_t n, NN_T alpha)
{
    NNI_F(csr_job) c;
    int64_t nnz;
    int st;
    if (!dW || !delta || !isfinite((double)alpha)) return NN_EINVAL;
    if ((st = NNI_F(csr_job_start)(&c, &nnz, indptr, indices, data, n_rows, rows, m, k, n)) !=
        NN_OK)
        return st;
    c.dW = dW;
    c.delta = delta;
    c.alpha = alpha;
    return NNI_F(csr_job_run)(&c, (n + CSR_PART_COLS - 1) / CSR_PART_COLS, nnz,
                              NNI_F(csr_gradient_part));
}

/* out (n_rows, n_L) = the network's output for X in CSR: layer 0 by csr_dense_forward, its
 * activation, then layers 1 .. L-1 by forward on the dense hidden rows, CSR_FORWARD_CHUNK_ROWS
 * rows at a time (memory: one chunk of the first hidden layer). */
int NN_F(csr_forward)(NN_T *out, const NN_T *params, const nn_net *net, const int64_t *indptr,
                      const int32_t *indices, const NN_T *data, int64_t n_rows)
{
    int64_t n_params, n1, r0, t;
    NN_T *H = NULL;
    int st = NN_OK;
    if (!out || !params || n_rows <= 0) return NN_EINVAL;
    if ((st = nni_net_check_shape(net, &n_params)) != NN_OK) return st;
    if ((st = csr_check(NULL, indptr, indices, data, n_rows, NULL, n_rows, net->sizes[0])) !=
        NN_OK)
        return st;
    if ((st = nni_mul(&t, n_rows, net->sizes[net->n_layers])) != NN_OK) return st;
    n1 = net->sizes[1];
    if ((st = nni_mul(&t, CSR_FORWARD_CHUNK_ROWS, n1)) != NN_OK) return st;
    if (net->n_layers > 1 && !(H = (NN_T *)nni_alloc(t, sizeof(NN_T)))) return NN_ENOMEM;
    for (r0 = 0; r0 < n_rows && st == NN_OK; r0 += CSR_FORWARD_CHUNK_ROWS) {
        const int64_t m = n_rows - r0 < CSR_FORWARD_CHUNK_ROWS ? n_rows - r0
                                                               : CSR_FORWARD_CHUNK_ROWS;
        /* indptr + r0: a CSR matrix of m rows whose offsets still point into indices/data */
        const NN_T *W0 = params, *b0 = params + net->sizes[0] * n1;
        if (net->n_layers == 1) {
            NN_T *o = out + r0 * n1;
            st = NN_F(csr_dense_forward)(o, indptr + r0, indices, data, m, NULL, m, W0, b0,
                                         net->sizes[0], n1);
            if (st == NN_OK) st = NN_F(activation_forward)(o, o, m, n1, net->output);
        } else {
            nn_net rest = *net;
            rest.n_layers = net->n_layers - 1;
            rest.sizes = net->sizes + 1;
            st = NN_F(csr_dense_forward)(H, indptr + r0, indices, data, m, NULL, m, W0, b0,
                                         net->sizes[0], n1);
            if (st == NN_OK) st = NN_F(activation_forward)(H, H, m, n1, net->hidden);
            if (st == NN_OK)
                st = NN_F(forward)(out + r0 * net->sizes[net->n_layers], b0 + n1, &rest, H, m);
        }
    }
    if (net->n_layers > 1) free(H);
    return st;
}

/* The batch's loss and gradient on the m rows X[rows] of a CSR matrix, as weighted_loss_gradient
 * computes them on the same rows written out densely (docs/semantics.md "Sample weights"):
 *   layer 0: Z_1 = X[rows] W_0 + b_0 (csr_dense_forward), later layers by dense_forward;
 *   loss = sum_i sw_i loss_i / S + alpha / 2 sum_l |W_l|^2 / S, S = sum_i sw_i (sw NULL: 1s);
 *   delta_L = output_delta_ex scaled row by row by sw_i m / S, so that dense_backward's 1/m
 *   gives sum_i sw_i (...) / S; layers L-1 .. 1 by dense_backward, layer 0's weights by
 *   csr_weight_gradient (dW_0 = X[rows]^T delta_1 / m) and db_0 = sum_rows(delta_1) / m;
 *   then dW_l += alpha W_l / S.
 * Y (m, n_L); grads (n_params) is overwritten, or NULL for the loss alone. The sums over a
 * row's nonzeros run in storage order: the dense result to rounding. Memory: the batch's
 * activations, twice m x the widths, never n_rows x k. */
int NN_F(csr_loss_gradient)(double *loss, NN_T *grads, const NN_T *params, const nn_net *net,
                            const int64_t *indptr, const int32_t *indices, const NN_T *data,
                            int64_t n_rows, const int64_t *rows, int64_t m, const NN_T *Y,
                            const double *sw, double alpha)
{
    const int64_t L = net ? net->n_layers : 0;
    int64_t n_params, total = 0, widest = 0, l, i, j, t;
    double S = (double)m, penalty = 0.0, value = 0.0;
    NN_T *buf = NULL, **Z = NULL, **A, *d0, *d1;
    const NN_T **W = NULL, **b;
    int st;
    if (!loss || !params || !Y || m <= 0 || !isfinite(alpha) || alpha < 0) return NN_EINVAL;
    if ((st = nn_net_check(net, &n_params)) != NN_OK) return st;
    if ((st = csr_check(NULL, indptr, indices, data, n_rows, rows, m, net->sizes[0])) != NN_OK)
        return st;
    if (sw) {
        S = 0.0;
        for (i = 0; i < m; i++) {
            if (!(sw[i] >= 0) || !isfinite(sw[i])) return NN_EINVAL;
            S += sw[i];
        }
        if (!(S > 0)) return NN_EINVAL;
    }
    for (l = 1, t = 0; l <= L; l++) {
        int64_t size;
        if ((st = nni_mul(&size, m, net->sizes[l])) != NN_OK ||
            (st = nni_add(&total, total, 2 * size)) != NN_OK)
            return st;
        if (net->sizes[l] > widest) widest = net->sizes[l];
    }
    if ((st = nni_mul(&t, m, widest)) != NN_OK || (st = nni_add(&total, total, 2 * t)) != NN_OK)
        return st;
    buf = (NN_T *)nni_alloc(total, sizeof(NN_T));
    Z = (NN_T **)malloc((size_t)(2 * (L + 1)) * sizeof(NN_T *));
    W = (const NN_T **)malloc((size_t)(2 * L) * sizeof(NN_T *));
    if (!buf || !Z || !W) {
        free(buf);
        free(Z);
        free((void *)W);
        return NN_ENOMEM;
    }
    A = Z + L + 1;
    b = W + L;
    for (l = 0, t = 0; l < L; l++) {  /* W_l (n_l, n_{l+1}) row-major, then b_l */
        W[l] = params + t;
        b[l] = W[l] + net->sizes[l] * net->sizes[l + 1];
        t += (net->sizes[l] + 1) * net->sizes[l + 1];
    }
    for (l = 1, t = 0; l <= L; l++) {
        Z[l] = buf + t;
        A[l] = Z[l] + m * net->sizes[l];
        t += 2 * m * net->sizes[l];
    }
    d0 = buf + t;
    d1 = d0 + m * widest;
    st = NN_F(csr_dense_forward)(Z[1], indptr, indices, data, n_rows, rows, m, W[0], b[0],
                                 net->sizes[0], net->sizes[1]);
    if (st == NN_OK) st = NN_F(activation_forward)(A[1], Z[1], m, net->sizes[1],
                                                   nn_net_layer_act(net, 0));
    for (l = 1; l < L && st == NN_OK; l++)
        st = NN_F(dense_forward)(A[l + 1], Z[l + 1], A[l], W[l], b[l], m, net->sizes[l],
                                 net->sizes[l + 1], nn_net_layer_act(net, l));
    if (st == NN_OK)
        st = NN_F(loss_ex)(&value, Z[L], A[L], Y, sw, m, net->sizes[L], net->loss,
                           net->huber_delta);
    for (l = 0; l < L && st == NN_OK; l++) {
        const int64_t count = net->sizes[l] * net->sizes[l + 1];
        double sq = 0.0;
        for (j = 0; j < count; j++) sq += (double)W[l][j] * (double)W[l][j];
        penalty += sq;
    }
    value += alpha / 2.0 * penalty / S;
    if (st == NN_OK && grads) {
        const int64_t nL = net->sizes[L];
        memset(grads, 0, (size_t)n_params * sizeof(NN_T));
        st = NN_F(output_delta_ex)(d0, Z[L], A[L], Y, m, nL, net->output, net->loss,
                                   net->huber_delta);
        if (st == NN_OK && sw)
            for (i = 0; i < m; i++) {
                const NN_T scale = (NN_T)(sw[i] * (double)m / S);
                for (j = 0; j < nL; j++) d0[i * nL + j] *= scale;
            }
        for (l = L - 1; l >= 1 && st == NN_OK; l--) {
            NN_T *dW = grads + (W[l] - params), *db = grads + (b[l] - params), *swap;
            st = NN_F(dense_backward)(dW, db, d1, A[l], W[l], d0, m, net->sizes[l],
                                      net->sizes[l + 1], nn_net_layer_act(net, l - 1));
            swap = d0;
            d0 = d1;
            d1 = swap;
        }
        if (st == NN_OK)
            st = NN_F(csr_weight_gradient)(grads, indptr, indices, data, n_rows, rows, m, d0,
                                           net->sizes[0], net->sizes[1], (NN_T)(1.0 / (double)m));
        if (st == NN_OK) {
            NN_T *db = grads + (b[0] - params);
            for (i = 0; i < m; i++)
                for (j = 0; j < net->sizes[1]; j++) db[j] += d0[i * net->sizes[1] + j];
            for (j = 0; j < net->sizes[1]; j++) db[j] /= (NN_T)m;
        }
        for (l = 0; l < L && st == NN_OK && alpha > 0; l++) {
            const int64_t count = net->sizes[l] * net->sizes[l + 1];
            NN_T *dW = grads + (W[l] - params);
            const NN_T c = (NN_T)(alpha / S);
            for (j = 0; j < count; j++) dW[j] += c * W[l][j];
        }
    }
    free(buf);
    free(Z);
    free((void *)W);
    if (st == NN_OK) *loss = value;
    return st;
}

/* perceptron_epoch on CSR rows: for each sample i in order, each output j independently,
 * z = sum_p W[indices[p], j] data[p] + b_j over the row's nonzeros;  y_hat = step(z);
 * W[indices[p], j] += lr (y_ij - y_hat) data[p];  b_j += lr (y_ij - y_hat).
 * The sum runs left to right in the element type as the dense rule's does, whose zero terms
 * change nothing: with sorted indices the two give bit-identical W and b. */
int NN_F(perceptron_csr_epoch)(NN_T *W, NN_T *b, int64_t *mistakes, const int64_t *indptr,
                               const int32_t *indices, const NN_T *data, const NN_T *Y,
                               const int64_t *order, int64_t n, int64_t k, int64_t n_out,
                               double lr)
{
    const NN_T eta = (NN_T)lr;
    int64_t idx, p, j, t, wrong = 0;
    int st;
    if (!W || !b || !Y || n_out <= 0 || !isfinite(lr)) return NN_EINVAL;
    if ((st = csr_check(NULL, indptr, indices, data, n, NULL, n, k)) != NN_OK) return st;
    if ((st = nni_mul(&t, n, n_out)) != NN_OK || (st = nni_mul(&t, k, n_out)) != NN_OK)
        return st;
    if (nni_rows_in_range(order, n, n) != NN_OK) return NN_EINVAL;
    for (idx = 0; idx < n; idx++) {
        const int64_t i = order ? order[idx] : idx;
        const NN_T *y = Y + i * n_out;
        int any_wrong = 0;
        for (j = 0; j < n_out; j++) {
            NN_T z = 0, y_hat, step;
            for (p = indptr[i]; p < indptr[i + 1]; p++)
                z += W[(int64_t)indices[p] * n_out + j] * data[p];
            z += b[j];
            y_hat = z >= 0 ? (NN_T)1 : (NN_T)0;
            if (y[j] == y_hat) continue;
            any_wrong = 1;
            step = eta * (y[j] - y_hat);
            for (p = indptr[i]; p < indptr[i + 1]; p++)
                W[(int64_t)indices[p] * n_out + j] += step * data[p];
            b[j] += step;
        }
        wrong += any_wrong;
    }
    if (mistakes) *mistakes = wrong;
    return NN_OK;
}

/* perceptron_sgd_csr_epoch: the rule above, after checking its arguments. */
int NN_F(perceptron_sgd_csr_epoch)(NN_T *w, double *b, double *u, NN_T *q, double *norms,
                                   double *objective, const int64_t *indptr,
                                   const int32_t *indices, const NN_T *data, const NN_T *y,
                                   const NN_T *sw, const int64_t *order, int64_t n, int64_t k,
                                   double eta, double alpha, double l1_ratio, int fit_intercept,
                                   double intercept_decay)
{
    const int l1 = l1_ratio > 0 && alpha > 0;
    int st;
    if (!w || !b || !u || !norms || !objective || !y || !sw) return NN_EINVAL;
    if (l1 && !q) return NN_EINVAL;
    if (!isfinite(eta) || !(eta > 0) || !(alpha >= 0) || !isfinite(alpha) ||
        !(l1_ratio >= 0 && l1_ratio <= 1) || !isfinite(intercept_decay))
        return NN_EINVAL;
    if ((st = csr_check(NULL, indptr, indices, data, n, NULL, n, k)) != NN_OK) return st;
    if (nni_rows_in_range(order, n, n) != NN_OK) return NN_EINVAL;
    *objective = NNI_F(wscale_sgd_epoch_plain)(w, b, u, q, norms, indptr, indices, data, y, sw,
                                               order, n, k, eta, alpha, l1_ratio,
                                               fit_intercept, intercept_decay);
    return NN_OK;
}

typedef struct {
    const int64_t *indptr;
    const int32_t *indices;
    const NN_T *data;
    int64_t n, k;
} NNI_F(csr_rows);

/* perceptron_wscale.c's epoch on CSR rows, for perceptron_sgd_fit. */
static double NNI_F(csr_sgd_epoch)(const void *rows, NN_T *w, NN_T *q,
                                   nn_perceptron_sgd_class *s, const NN_T *y, const NN_T *sw,
                                   const int64_t *order, const nn_perceptron_sgd_options *opt)
{
    const NNI_F(csr_rows) *r = (const NNI_F(csr_rows) *)rows;
    return NNI_F(wscale_sgd_epoch)(w, q, s, r->indptr, r->indices, r->data, y, sw, order, r->n,
                                   r->k, opt);
}

int NN_F(perceptron_sgd_csr_fit)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls,
                                 const int64_t *indptr, const int32_t *indices,
                                 const NN_T *data, const NN_T *Y, const NN_T *SW,
                                 const int64_t *orders, int64_t c, int64_t n, int64_t k,
                                 int64_t n_epochs, const nn_perceptron_sgd_options *opt)
{
    NNI_F(csr_rows) rows;
    int64_t i;
    int st;
    if ((st = csr_check(NULL, indptr, indices, data, n, NULL, n, k)) != NN_OK) return st;
    if (cls && c > 0)
        for (i = 0; i < c; i++)
            if (!isfinite(cls[i].norms[0]) || !isfinite(cls[i].norms[1])) return NN_EINVAL;
    rows.indptr = indptr;
    rows.indices = indices;
    rows.data = data;
    rows.n = n;
    rows.k = k;
    return NNI_F(perceptron_sgd_fit_run)(NNI_F(csr_sgd_epoch), &rows, W, Q, cls, Y, SW, orders,
                                         c, n, k, n_epochs, opt);
}
