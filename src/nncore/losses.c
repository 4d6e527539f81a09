/* Losses from the logits (stable forms), output deltas and the L2 penalty. */
#include "internal.h"

#define LOSS_CHUNK 256 /* values put through the vector math at once (a stack buffer) */

/* The losses of one residual r = a - y, averaged over a row's outputs (mse's convention), and
 * their derivatives d/dr, keyed by loss; c is the loss's parameter (huber's delta).
 *   mae |r| (sign r, 0 at r = 0);
 *   huber r^2 / 2 for |r| <= c, else c (|r| - c / 2)  (r for |r| <= c, else c sign r).
 * mse, r^2 (2r), keeps its own loops below. */
static double residual_absolute(double r, double c) { (void)c; return fabs(r); }
static double residual_huber(double r, double c)
{
    return fabs(r) <= c ? 0.5 * r * r : c * (fabs(r) - 0.5 * c);
}
static NN_T slope_absolute(NN_T r, NN_T c)
{
    (void)c;
    return r > 0 ? (NN_T)1 : r < 0 ? (NN_T)-1 : (NN_T)0;
}
static NN_T slope_huber(NN_T r, NN_T c)
{
    return r > c ? c : r < -c ? -c : r;
}
typedef double (*residual_loss_fn)(double r, double c);
typedef NN_T (*residual_slope_fn)(NN_T r, NN_T c);
static const residual_loss_fn RESIDUAL_LOSSES[NN_LOSS_COUNT] = {
    [NN_LOSS_MAE] = residual_absolute, [NN_LOSS_HUBER] = residual_huber};
static const residual_slope_fn RESIDUAL_SLOPES[NN_LOSS_COUNT] = {
    [NN_LOSS_MAE] = slope_absolute, [NN_LOSS_HUBER] = slope_huber};

/* lse_i = zmax_i + log s_i over R rows, s_i = sum_j e^(z_ij - zmax_i) (s overwritten).
 * s_i >= 1 (the max's own term is e^0 = 1), so log s = log1p(s - 1) with s - 1 exact (Sterbenz
 * up to s = 2; above, s and 1 are both multiples of ulp(s)): one call of the vector math for
 * the block rather than R calls of libm's log, within its measured ulp bound
 * (tests/c/test_vecmath.c). */
static inline void block_lse(double *s, const double *zmax, int64_t R)
{
    int64_t i;
    for (i = 0; i < R; i++) s[i] -= 1.0;
    nni_log1p_f64_inplace(s, R);
    for (i = 0; i < R; i++) s[i] += zmax[i];
}

/* The losses of R consecutive rows into out[0:R], in double (R n <= LOSS_CHUNK, or R = 1):
 * bce: sum_k softplus(z) - y z, softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|) (stable:
 *      e^-|z| <= 1);  ce: sum_k y_k (lse(z) - z_k), lse(z) = max z + log sum_i e^(z_i - max z)
 *      (shifted so e^x <= 1);  mse: (1/K) sum_k (a - y)^2.
 * Each row's terms are summed in column order; the exps and softpluses of the whole block go
 * through the vector math in one call per LOSS_CHUNK values. */
static void block_losses(double *out, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t R,
                         int64_t n, nn_loss loss_kind, double param)
{
    double buf[LOSS_CHUNK], zmax[LOSS_CHUNK];
    const int64_t count = R * n;
    int64_t i, j, e0, e;
    for (i = 0; i < R; i++) out[i] = 0.0;
    if (loss_kind == NN_LOSS_MAE || loss_kind == NN_LOSS_HUBER) {
        const residual_loss_fn f = RESIDUAL_LOSSES[loss_kind];
        for (i = 0; i < R; i++) {
            const NN_T *a = A + i * n, *y = Y + i * n;
            double s = 0.0;
            for (j = 0; j < n; j++) s += f((double)a[j] - (double)y[j], param);
            out[i] = s / (double)n;
        }
        return;
    }
    if (loss_kind == NN_LOSS_MSE) {
        for (i = 0; i < R; i++) {
            const NN_T *a = A + i * n, *y = Y + i * n;
            double s = 0.0;
            for (j = 0; j < n; j++) {
                const double d = (double)a[j] - (double)y[j];
                s += d * d;
            }
            out[i] = s / (double)n;
        }
        return;
    }
    if (loss_kind == NN_LOSS_CE)
        for (i = 0; i < R; i++) {
            const NN_T *z = Z + i * n;
            double m = z[0];
            for (j = 1; j < n; j++)
                if (z[j] > m) m = z[j];
            zmax[i] = m;
        }
    /* pass over the block's values in chunks: bce adds softplus(z) - y z to its row, poisson
     * e^z - y z (from the logit: no log of the output), ce e^(z - max z) (the sum in lse) */
    for (e0 = 0; e0 < count; e0 += LOSS_CHUNK) {
        const int64_t len = count - e0 < LOSS_CHUNK ? count - e0 : LOSS_CHUNK;
        i = e0 / n;
        j = e0 - i * n;
        for (e = 0; e < len; e++) {
            buf[e] = loss_kind == NN_LOSS_CE ? (double)Z[e0 + e] - zmax[i] : (double)Z[e0 + e];
            if (++j == n) j = 0, i++;
        }
        if (loss_kind == NN_LOSS_BCE) nni_softplus_f64_inplace(buf, len);
        else nni_exp_f64_inplace(buf, len);
        i = e0 / n;
        j = e0 - i * n;
        for (e = 0; e < len; e++) {
            out[i] += loss_kind == NN_LOSS_CE
                          ? buf[e]
                          : buf[e] - (double)Y[e0 + e] * (double)Z[e0 + e];
            if (++j == n) j = 0, i++;
        }
    }
    if (loss_kind == NN_LOSS_CE) {
        block_lse(out, zmax, R);
        for (i = 0; i < R; i++) {
            const NN_T *z = Z + i * n, *y = Y + i * n;
            const double lse = out[i];
            double s = 0.0;
            /* a zero target adds nothing; skipping it keeps 0 * inf (lse - z_k overflowing for
             * z_k near -DBL_MAX) from turning the loss into NaN */
            for (j = 0; j < n; j++)
                if (y[j] != 0) s += (double)y[j] * (lse - (double)z[j]);
            out[i] = s;
        }
    }
}

/* sum_i loss_i (sw NULL) or sum_i sw_i loss_i (rows with sw_i = 0 skipped), in row order. */
static double total_loss(const NN_T *Z, const NN_T *A, const NN_T *Y, const double *sw,
                         int64_t m, int64_t n, nn_loss loss_kind, double param)
{
    const int64_t rows = n < LOSS_CHUNK ? LOSS_CHUNK / n : 1;
    double out[LOSS_CHUNK], total = 0.0;
    int64_t i0, i;
    for (i0 = 0; i0 < m; i0 += rows) {
        const int64_t R = m - i0 < rows ? m - i0 : rows;
        const int64_t off = i0 * n;
        block_losses(out, Z ? Z + off : NULL, A ? A + off : NULL, Y + off, R, n, loss_kind,
                     param);
        for (i = 0; i < R; i++) {
            if (!sw) total += out[i];
            else if (sw[i0 + i] != 0) total += sw[i0 + i] * out[i];
        }
    }
    return total;
}

/* The arguments of a loss: buffers, sizes, the loss's parameter (huber: delta > 0) and
 * targets in its domain (poisson: y >= 0). */
static int check_loss_args(const double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y,
                           int64_t m, int64_t n, nn_loss loss_kind, double param)
{
    int64_t count, i;
    int st;
    if (!loss || !Y || m <= 0 || n <= 0 || !nni_loss_valid(loss_kind)) return NN_EINVAL;
    if (nni_loss_needs_logits(loss_kind) ? !Z : !A) return NN_EINVAL;
    if (loss_kind == NN_LOSS_HUBER && !(param > 0 && isfinite(param))) return NN_EINVAL;
    if ((st = nni_mul(&count, m, n)) != NN_OK) return st;
    if (loss_kind == NN_LOSS_POISSON)
        for (i = 0; i < count; i++)
            if (!(Y[i] >= 0)) return NN_EINVAL;
    return NN_OK;
}

/* Rows of the fused softmax and cross-entropy taken at once (their max and sum on the stack). */
#define SOFTMAX_CE_ROWS 64

/* The softmax output layer and its cross-entropy in one pass over the block:
 *   A = softmax(Z) row by row,  loss = (1/m) sum_i sum_k y_ik (lse(z_i) - z_ik),
 *   lse(z) = max z + log sum_j e^(z_j - max z),
 * and with delta (or NULL) the output delta a - y (output_delta's, the same bits).
 * In double, lse is made of the softmax's own max and sum: the values activation_forward and
 * loss compute one after the other, bit for bit, without the loss's second pass of exps. In
 * float the loss keeps its double evaluation (total_loss). */
int NNI_F(softmax_cross_entropy)(double *loss, NN_T *A, const NN_T *Z, const NN_T *Y,
                                 int64_t m, int64_t n, NN_T *delta)
{
    NN_T zmax[SOFTMAX_CE_ROWS], zsum[SOFTMAX_CE_ROWS];
    double total = 0.0;
    int64_t i0, i, j;
    int st;
    if ((st = check_loss_args(loss, Z, A, Y, m, n, NN_LOSS_CE, 0.0)) != NN_OK) return st;
    if (sizeof(NN_T) != sizeof(double)) {
        NNI_F(softmax_rows_delta)(A, Z, m, n, NULL, NULL, delta, Y);
        *loss = total_loss(Z, A, Y, NULL, m, n, NN_LOSS_CE, 0.0) / (double)m;
        return NN_OK;
    }
    for (i0 = 0; i0 < m; i0 += SOFTMAX_CE_ROWS) {
        const int64_t R = m - i0 < SOFTMAX_CE_ROWS ? m - i0 : SOFTMAX_CE_ROWS;
        double lse[SOFTMAX_CE_ROWS], zmax_d[SOFTMAX_CE_ROWS];
        NNI_F(softmax_rows_delta)(A + i0 * n, Z + i0 * n, R, n, zmax, zsum,
                                  delta ? delta + i0 * n : NULL, Y + i0 * n);
        for (i = 0; i < R; i++) {
            lse[i] = (double)zsum[i];
            zmax_d[i] = (double)zmax[i];
        }
        block_lse(lse, zmax_d, R);
        for (i = 0; i < R; i++) {
            const NN_T *z = Z + (i0 + i) * n, *y = Y + (i0 + i) * n;
            double s = 0.0;
            for (j = 0; j < n; j++) /* as block_losses: a zero target adds nothing */
                if (y[j] != 0) s += (double)y[j] * (lse[i] - (double)z[j]);
            total += s;
        }
    }
    *loss = total / (double)m;
    return NN_OK;
}

/* loss = (1/m) sum_rows per-sample loss, or with weights sum_i sw_i loss_i / sum_i sw_i,
 * accumulated in double. */
int NN_F(loss_ex)(double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y, const double *sw,
                  int64_t m, int64_t n, nn_loss loss_kind, double param)
{
    double sw_sum = 0.0;
    int64_t i;
    int st;
    if ((st = check_loss_args(loss, Z, A, Y, m, n, loss_kind, param)) != NN_OK) return st;
    if (!sw) {
        *loss = total_loss(Z, A, Y, NULL, m, n, loss_kind, param) / (double)m;
        return NN_OK;
    }
    for (i = 0; i < m; i++) {
        if (!(sw[i] >= 0) || !isfinite(sw[i])) return NN_EINVAL;
        sw_sum += sw[i];
    }
    if (!(sw_sum > 0)) return NN_EINVAL;
    *loss = total_loss(Z, A, Y, sw, m, n, loss_kind, param) / sw_sum;
    return NN_OK;
}

/* huber's delta where none is given */
#define DEFAULT_LOSS_PARAM 1.0

int NN_F(loss)(double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t m, int64_t n,
               nn_loss loss_kind)
{
    return NN_F(loss_ex)(loss, Z, A, Y, NULL, m, n, loss_kind, DEFAULT_LOSS_PARAM);
}

int NN_F(weighted_loss)(double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y,
                        const double *sw, int64_t m, int64_t n, nn_loss loss_kind)
{
    if (!sw) return NN_EINVAL;
    return NN_F(loss_ex)(loss, Z, A, Y, sw, m, n, loss_kind, DEFAULT_LOSS_PARAM);
}

/* delta = dL_sample/dZ: a - y for (sigmoid, bce), (softmax, ce) and (exp, poisson); for
 * mse g = 2 (a - y) / K, mae and huber g = slope(a - y) / K, then through the output
 * activation's derivative. */
int NN_F(output_delta_ex)(NN_T *delta, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t m,
                          int64_t n, nn_act output, nn_loss loss_kind, double param)
{
    int64_t count, i;
    int st;
    (void)Z; /* every delta here is written from the output a; Z is part of the interface */
    if (!delta || !A || !Y || m <= 0 || n <= 0) return NN_EINVAL;
    if (!nni_act_valid(output) || !nni_loss_valid(loss_kind)) return NN_EINVAL;
    if ((st = nni_pair_check(output, loss_kind)) != NN_OK) return st;
    if ((st = nni_mul(&count, m, n)) != NN_OK) return st;
    if (loss_kind == NN_LOSS_HUBER && !(param > 0 && isfinite(param))) return NN_EINVAL;
    if (nni_loss_needs_logits(loss_kind)) { /* the canonical pairs: a - y */
        for (i = 0; i < count; i++) delta[i] = A[i] - Y[i];
        return NN_OK;
    }
    if (loss_kind == NN_LOSS_MSE) {
        const NN_T K = (NN_T)n;
        for (i = 0; i < count; i++) delta[i] = (NN_T)2 * (A[i] - Y[i]) / K;
    } else {
        const residual_slope_fn slope = RESIDUAL_SLOPES[loss_kind];
        const NN_T K = (NN_T)n, c = (NN_T)param;
        for (i = 0; i < count; i++) delta[i] = slope(A[i] - Y[i], c) / K;
    }
    if (output == NN_ACT_IDENTITY) return NN_OK;
    return NN_F(activation_backward)(delta, A, delta, m, n, output);
}

int NN_F(output_delta)(NN_T *delta, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t m,
                       int64_t n, nn_act output, nn_loss loss_kind)
{
    return NN_F(output_delta_ex)(delta, Z, A, Y, m, n, output, loss_kind, DEFAULT_LOSS_PARAM);
}

/* penalty = alpha / 2 * sum(W^2) / m, the sum in double (nni_sum_squares' order). */
int NN_F(l2_penalty)(double *penalty, const NN_T *W, int64_t count, double alpha, int64_t m)
{
    double s;
    if (!penalty || !W || count <= 0 || m <= 0 || !(alpha >= 0) || !isfinite(alpha))
        return NN_EINVAL;
    if (alpha == 0) {
        *penalty = 0.0;
        return NN_OK;
    }
    s = nni_sum_squares(W, count);
    *penalty = alpha / 2 * s / (double)m;
    return NN_OK;
}

/* dW += alpha * W / m. */
int NN_F(l2_gradient)(NN_T *dW, const NN_T *W, int64_t count, double alpha, int64_t m)
{
    if (!dW || !W || count <= 0 || m <= 0 || !(alpha >= 0) || !isfinite(alpha))
        return NN_EINVAL;
    if (alpha == 0) return NN_OK;
    NNI_F(l2_add)(dW, W, 0, count, (NN_T)alpha, (NN_T)m, NNI_F(l2_inverse)((NN_T)m));
    return NN_OK;
}
