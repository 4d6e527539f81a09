/* The perceptron rule (seed 002), one epoch. */
#include "internal.h"

/* For each sample i in order, each output j independently:
 * y_hat = step(x_i . W[:, j] + b_j);  W[:, j] += lr (y_ij - y_hat) x_i;  b_j += lr (y_ij - y_hat).
 * mistakes = number of samples with any output wrong. */
int NN_F(perceptron_epoch)(NN_T *W, NN_T *b, int64_t *mistakes, const NN_T *X, const NN_T *Y,
                           const int64_t *order, int64_t n, int64_t k, int64_t n_out, double lr)
{
    int64_t t, idx, p, j, wrong = 0;
    int st;
    if (!W || !b || !X || !Y || n <= 0 || k <= 0 || n_out <= 0) return NN_EINVAL;
    if (!isfinite(lr)) return NN_EINVAL;
    if ((st = nni_mul(&t, n, k)) != NN_OK || (st = nni_mul(&t, n, n_out)) != NN_OK ||
        (st = nni_mul(&t, k, n_out)) != NN_OK)
        return st;
    if (order)
        for (idx = 0; idx < n; idx++)
            if (order[idx] < 0 || order[idx] >= n) return NN_EINVAL;
    {
        const NN_T eta = (NN_T)lr;
        for (idx = 0; idx < n; idx++) {
            const int64_t i = order ? order[idx] : idx;
            const NN_T *x = X + i * k, *y = Y + i * n_out;
            int any_wrong = 0;
            for (j = 0; j < n_out; j++) {
                NN_T z = 0, y_hat, step;
                for (p = 0; p < k; p++) z += W[p * n_out + j] * x[p];
                z += b[j];
                y_hat = z >= 0 ? (NN_T)1 : (NN_T)0;
                if (y[j] == y_hat) continue;
                any_wrong = 1;
                step = eta * (y[j] - y_hat);
                for (p = 0; p < k; p++) W[p * n_out + j] += step * x[p];
                b[j] += step;
            }
            wrong += any_wrong;
        }
    }
    if (mistakes) *mistakes = wrong;
    return NN_OK;
}
