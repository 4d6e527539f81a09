/* Losses from the logits (stable forms), output deltas and the L2 penalty. */
#include "internal.h"

/* softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|): e^-|z| <= 1 never overflows. */
static double softplus(double z)
{
    return (z > 0 ? z : 0.0) + log1p(exp(-fabs(z)));
}

/* lse(z) = max z + log sum_i e^(z_i - max z), shifted so e^x <= 1. */
static double logsumexp(const NN_T *z, int64_t n)
{
    double zmax = z[0], s = 0.0;
    int64_t j;
    for (j = 1; j < n; j++)
        if (z[j] > zmax) zmax = z[j];
    for (j = 0; j < n; j++) s += exp((double)z[j] - zmax);
    return zmax + log(s);
}

/* The loss of one sample (row i), in double.
 * bce: sum_k softplus(z) - y z;  ce: sum_k y_k (lse(z) - z_k);  mse: (1/K) sum_k (a - y)^2. */
static double sample_loss(const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t i, int64_t n,
                          nn_loss loss_kind)
{
    const NN_T *y = Y + i * n;
    double s = 0.0;
    int64_t j;
    if (loss_kind == NN_LOSS_BCE) {
        const NN_T *z = Z + i * n;
        for (j = 0; j < n; j++) s += softplus(z[j]) - (double)y[j] * (double)z[j];
    } else if (loss_kind == NN_LOSS_CE) {
        const NN_T *z = Z + i * n;
        const double lse = logsumexp(z, n);
        /* a zero target adds nothing; skipping it keeps 0 * inf (lse - z_k overflowing for
         * z_k near -DBL_MAX) from turning the loss into NaN */
        for (j = 0; j < n; j++)
            if (y[j] != 0) s += (double)y[j] * (lse - (double)z[j]);
    } else {
        const NN_T *a = A + i * n;
        for (j = 0; j < n; j++) {
            const double d = (double)a[j] - (double)y[j];
            s += d * d;
        }
        s = s / (double)n;
    }
    return s;
}

static int check_loss_args(const double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y,
                           int64_t m, int64_t n, nn_loss loss_kind)
{
    int64_t count;
    if (!loss || !Y || m <= 0 || n <= 0 || !nni_loss_valid(loss_kind)) return NN_EINVAL;
    if (loss_kind == NN_LOSS_MSE ? !A : !Z) return NN_EINVAL;
    return nni_mul(&count, m, n);
}

/* loss = (1/m) sum_rows per-sample loss, accumulated in double. */
int NN_F(loss)(double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t m, int64_t n,
               nn_loss loss_kind)
{
    double total = 0.0;
    int64_t i;
    int st;
    if ((st = check_loss_args(loss, Z, A, Y, m, n, loss_kind)) != NN_OK) return st;
    for (i = 0; i < m; i++) total += sample_loss(Z, A, Y, i, n, loss_kind);
    *loss = total / (double)m;
    return NN_OK;
}

/* loss = sum_i sw_i loss_i / sum_i sw_i, accumulated in double. */
int NN_F(weighted_loss)(double *loss, const NN_T *Z, const NN_T *A, const NN_T *Y,
                        const double *sw, int64_t m, int64_t n, nn_loss loss_kind)
{
    double total = 0.0, sw_sum = 0.0;
    int64_t i;
    int st;
    if ((st = check_loss_args(loss, Z, A, Y, m, n, loss_kind)) != NN_OK) return st;
    if (!sw) return NN_EINVAL;
    for (i = 0; i < m; i++) {
        if (!(sw[i] >= 0) || !isfinite(sw[i])) return NN_EINVAL;
        sw_sum += sw[i];
    }
    if (!(sw_sum > 0)) return NN_EINVAL;
    for (i = 0; i < m; i++)
        if (sw[i] != 0) total += sw[i] * sample_loss(Z, A, Y, i, n, loss_kind);
    *loss = total / sw_sum;
    return NN_OK;
}

/* delta = dL_sample/dZ: a - y for (sigmoid, bce) and (softmax, ce); for mse
 * g = 2 (a - y) / K, then through the output activation's derivative. */
int NN_F(output_delta)(NN_T *delta, const NN_T *Z, const NN_T *A, const NN_T *Y, int64_t m,
                       int64_t n, nn_act output, nn_loss loss_kind)
{
    int64_t count, i;
    int st;
    (void)Z; /* every delta here is written from the output a; Z is part of the interface */
    if (!delta || !A || !Y || m <= 0 || n <= 0) return NN_EINVAL;
    if (!nni_act_valid(output) || !nni_loss_valid(loss_kind)) return NN_EINVAL;
    if ((st = nni_pair_check(output, loss_kind)) != NN_OK) return st;
    if ((st = nni_mul(&count, m, n)) != NN_OK) return st;
    if (loss_kind != NN_LOSS_MSE) {
        for (i = 0; i < count; i++) delta[i] = A[i] - Y[i];
        return NN_OK;
    }
    {
        const NN_T K = (NN_T)n;
        for (i = 0; i < count; i++) delta[i] = (NN_T)2 * (A[i] - Y[i]) / K;
    }
    if (output == NN_ACT_IDENTITY) return NN_OK;
    return NN_F(activation_backward)(delta, A, delta, m, n, output);
}

/* penalty = alpha / 2 * sum(W^2) / m, the sum in double. */
int NN_F(l2_penalty)(double *penalty, const NN_T *W, int64_t count, double alpha, int64_t m)
{
    double s = 0.0;
    int64_t i;
    if (!penalty || !W || count <= 0 || m <= 0 || !(alpha >= 0) || !isfinite(alpha))
        return NN_EINVAL;
    if (alpha == 0) {
        *penalty = 0.0;
        return NN_OK;
    }
    for (i = 0; i < count; i++) s += (double)W[i] * (double)W[i];
    *penalty = alpha / 2 * s / (double)m;
    return NN_OK;
}

/* dW += alpha * W / m. */
int NN_F(l2_gradient)(NN_T *dW, const NN_T *W, int64_t count, double alpha, int64_t m)
{
    int64_t i;
    if (!dW || !W || count <= 0 || m <= 0 || !(alpha >= 0) || !isfinite(alpha))
        return NN_EINVAL;
    if (alpha == 0) return NN_OK;
    {
        const NN_T a = (NN_T)alpha, mm = (NN_T)m;
        for (i = 0; i < count; i++) dW[i] += a * W[i] / mm;
    }
    return NN_OK;
}
