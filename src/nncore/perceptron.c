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
    if (nni_rows_in_range(order, n, n) != NN_OK) return NN_EINVAL;
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

/* sum_j w_j x_j in four interleaved partial sums (j mod 4), added as (s0 + s1) + (s2 + s3):
 * the adds pipeline instead of waiting on one another. The order differs from the reference's
 * left-to-right sum by rounding only, within the contract's tolerance. */
static double dot4(const NN_T *w, const NN_T *x, int64_t k)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t j = 0;
    for (; j + 4 <= k; j += 4) {
        s0 += (double)w[j] * (double)x[j];
        s1 += (double)w[j + 1] * (double)x[j + 1];
        s2 += (double)w[j + 2] * (double)x[j + 2];
        s3 += (double)w[j + 3] * (double)x[j + 3];
    }
    for (; j < k; j++) s0 += (double)w[j] * (double)x[j];
    return (s0 + s1) + (s2 + s3);
}

/* Linear SGD on the perceptron loss, scikit-learn's Perceptron: one epoch, per sample in order.
 * p = w . x + b; a mistake (y p <= 0) moves w and b by s = eta y sw along x; the L2 part of
 * the penalty shrinks w by max(0, 1 - (1 - r) eta alpha) before that step; the L1 part is the
 * cumulative truncated penalty: u += r eta alpha, then w_j > 0 becomes max(0, w_j - (u + q_j)),
 * w_j < 0 becomes min(0, w_j + (u - q_j)), and q_j += the change (Tsuruoka et al. 2009). */
static double sgd_epoch_rows(NN_T *w, double *b, double *u, NN_T *q, const NN_T *X,
                             const NN_T *y, const NN_T *sw, const int64_t *order, int64_t n,
                             int64_t k, double eta, double alpha, double l1_ratio,
                             int fit_intercept)
{
    const double l2_shrink = 1.0 - (1.0 - l1_ratio) * eta * alpha;
    const int l1 = l1_ratio > 0 && alpha > 0;
    double obj = 0.0;
    int64_t idx, j;
    for (idx = 0; idx < n; idx++) {
        const int64_t i = order ? order[idx] : idx;
        const NN_T *x = X + i * k;
        const double yi = (double)y[i];
        double p = dot4(w, x, k), step;
        p += *b;
        obj += yi * p <= 0 ? -yi * p : 0.0;
        if (alpha > 0) {
            double sq = 0.0, abs_sum = 0.0;
            for (j = 0; j < k; j++) {
                sq += (double)w[j] * (double)w[j];
                abs_sum += fabs((double)w[j]);
            }
            obj += alpha * ((1.0 - l1_ratio) * 0.5 * sq + l1_ratio * abs_sum);
        }
        step = yi * p <= 0 ? eta * yi * (double)sw[i] : 0.0;
        if (alpha > 0 && l1_ratio < 1) {
            /* never scale to negative values when eta alpha is large: set w to zero instead */
            const NN_T shrink = (NN_T)(l2_shrink > 0 ? l2_shrink : 0.0);
            for (j = 0; j < k; j++) w[j] *= shrink;
        }
        if (step != 0.0) {
            const NN_T s = (NN_T)step;
            for (j = 0; j < k; j++) w[j] += s * x[j];
            if (fit_intercept) *b += step;
        }
        if (l1) {
            *u += l1_ratio * eta * alpha;
            for (j = 0; j < k; j++) {
                const NN_T z = w[j];
                if (z > 0) {
                    const NN_T v = z - (NN_T)(*u + (double)q[j]);
                    w[j] = v > 0 ? v : (NN_T)0;
                } else if (z < 0) {
                    const NN_T v = z + (NN_T)(*u - (double)q[j]);
                    w[j] = v < 0 ? v : (NN_T)0;
                }
                q[j] += w[j] - z;
            }
        }
    }
    return obj;
}

/* perceptron_sgd_epoch: the rule above, after checking its arguments. */
int NN_F(perceptron_sgd_epoch)(NN_T *w, double *b, double *u, NN_T *q, double *objective,
                               const NN_T *X, const NN_T *y, const NN_T *sw,
                               const int64_t *order, int64_t n, int64_t k, double eta,
                               double alpha, double l1_ratio, int fit_intercept)
{
    const int l1 = l1_ratio > 0 && alpha > 0;
    int64_t t;
    int st;
    if (!w || !b || !u || !objective || !X || !y || !sw || n <= 0 || k <= 0) return NN_EINVAL;
    if (l1 && !q) return NN_EINVAL;
    if (!isfinite(eta) || !(eta > 0) || !(alpha >= 0) || !isfinite(alpha) ||
        !(l1_ratio >= 0 && l1_ratio <= 1))
        return NN_EINVAL;
    if ((st = nni_mul(&t, n, k)) != NN_OK) return st;
    if (nni_rows_in_range(order, n, n) != NN_OK) return NN_EINVAL;
    *objective = sgd_epoch_rows(w, b, u, q, X, y, sw, order, n, k, eta, alpha, l1_ratio,
                                fit_intercept);
    return NN_OK;
}

/* ---- many epochs of one-vs-rest classes in one call ------------------------------------ */

typedef struct {
    NNI_F(sgd_epoch_fn) epoch;
    const void *rows;
    NN_T *W, *Q;
    nn_perceptron_sgd_class *cls;
    const NN_T *Y, *SW;
    const int64_t *orders;
    int64_t n, k, n_epochs;
    const nn_perceptron_sgd_options *opt;
} NNI_F(sgd_fit_job);

/* NN_SGD_NONFINITE when b or a weight is NaN or infinite, else the status unchanged. */
static int64_t finite_status(const NN_T *w, double b, int64_t k, int64_t status)
{
    int64_t j;
    if (!isfinite(b)) return NN_SGD_NONFINITE;
    for (j = 0; j < k; j++)
        if (!isfinite((double)w[j])) return NN_SGD_NONFINITE;
    return status;
}

/* Class `part` for up to n_epochs epochs, scikit-learn's stopping rule after each:
 *   o = objective / n;  no_improvement = o > best - tol ? no_improvement + 1 : 0;
 *   best = min(best, o);  stop when no_improvement >= n_iter_no_change.
 * The class's record is worked on in a local copy, written back at the end: the records of
 * the classes share cache lines, and the intercept changes with every mistake, so threads
 * writing their classes' records in place would take the line from one another each row. */
static int NNI_F(sgd_fit_class)(void *ctx, int64_t part)
{
    const NNI_F(sgd_fit_job) *c = (const NNI_F(sgd_fit_job) *)ctx;
    const nn_perceptron_sgd_options *opt = c->opt;
    nn_perceptron_sgd_class local = c->cls[part], *s = &local;
    NN_T *w = c->W + part * c->k, *q = c->Q ? c->Q + part * c->k : NULL;
    const NN_T *y = c->Y + part * c->n, *sw = c->SW + part * c->n;
    int64_t e;
    for (e = 0; e < c->n_epochs && s->status == NN_SGD_TRAINING && s->epochs < opt->max_iter;
         e++) {
        const int64_t *order = c->orders ? c->orders + (part * c->n_epochs + e) * c->n : NULL;
        const double objective = c->epoch(c->rows, w, q, s, y, sw, order, opt) / (double)c->n;
        s->epochs++;
        s->no_improvement = objective > s->best_objective - opt->tol ? s->no_improvement + 1 : 0;
        if (objective < s->best_objective) s->best_objective = objective;
        if (s->no_improvement >= opt->n_iter_no_change) s->status = NN_SGD_CONVERGED;
        s->status = finite_status(w, s->b, c->k, s->status);
    }
    c->cls[part] = local;
    return NN_OK;
}

int NNI_F(perceptron_sgd_fit_run)(NNI_F(sgd_epoch_fn) epoch, const void *rows, NN_T *W,
                                  NN_T *Q, nn_perceptron_sgd_class *cls, const NN_T *Y,
                                  const NN_T *SW, const int64_t *orders, int64_t c, int64_t n,
                                  int64_t k, int64_t n_epochs,
                                  const nn_perceptron_sgd_options *opt)
{
    NNI_F(sgd_fit_job) job;
    int64_t t, i, count;
    int st;
    if (!W || !cls || !Y || !SW || !opt || c <= 0 || n <= 0 || k <= 0 || n_epochs < 0)
        return NN_EINVAL;
    if (!isfinite(opt->eta) || !(opt->eta > 0) || !(opt->alpha >= 0) || !isfinite(opt->alpha) ||
        !(opt->l1_ratio >= 0 && opt->l1_ratio <= 1) || isnan(opt->tol) ||
        !isfinite(opt->intercept_decay) || opt->n_iter_no_change < 1 || opt->max_iter < 1 ||
        (opt->fit_intercept != 0 && opt->fit_intercept != 1))
        return NN_EINVAL;
    if (opt->l1_ratio > 0 && opt->alpha > 0 && !Q) return NN_EINVAL;
    if ((st = nni_mul(&t, c, k)) != NN_OK || (st = nni_mul(&t, c, n)) != NN_OK ||
        (st = nni_mul(&count, t, n_epochs)) != NN_OK)
        return st;
    if (nni_rows_in_range(orders, count, n) != NN_OK) return NN_EINVAL;
    for (i = 0; i < c; i++)
        if (cls[i].status < NN_SGD_TRAINING || cls[i].status > NN_SGD_NONFINITE ||
            cls[i].epochs < 0 || cls[i].no_improvement < 0 || isnan(cls[i].best_objective))
            return NN_EINVAL;
    job.epoch = epoch;
    job.rows = rows;
    job.W = W;
    job.Q = Q;
    job.cls = cls;
    job.Y = Y;
    job.SW = SW;
    job.orders = orders;
    job.n = n;
    job.k = k;
    job.n_epochs = n_epochs;
    job.opt = opt;
    /* each class is one part: its epochs are sequential, the classes independent */
    return nni_parallel_for(c > 1 ? nni_threads() : 1, c, NNI_F(sgd_fit_class), &job);
}

typedef struct {
    const NN_T *X;
    int64_t n, k;
} NNI_F(dense_rows);

/* sgd_epoch_rows for perceptron_sgd_fit. */
static double NNI_F(dense_sgd_epoch)(const void *rows, NN_T *w, NN_T *q,
                                     nn_perceptron_sgd_class *s, const NN_T *y, const NN_T *sw,
                                     const int64_t *order, const nn_perceptron_sgd_options *opt)
{
    const NNI_F(dense_rows) *r = (const NNI_F(dense_rows) *)rows;
    return sgd_epoch_rows(w, &s->b, &s->u, q, r->X, y, sw, order, r->n, r->k, opt->eta,
                          opt->alpha, opt->l1_ratio, opt->fit_intercept);
}

int NN_F(perceptron_sgd_fit)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls, const NN_T *X,
                             const NN_T *Y, const NN_T *SW, const int64_t *orders, int64_t c,
                             int64_t n, int64_t k, int64_t n_epochs,
                             const nn_perceptron_sgd_options *opt)
{
    NNI_F(dense_rows) rows;
    int64_t t;
    int st;
    if (!X || n <= 0 || k <= 0) return NN_EINVAL;
    if ((st = nni_mul(&t, n, k)) != NN_OK) return st;
    rows.X = X;
    rows.n = n;
    rows.k = k;
    return NNI_F(perceptron_sgd_fit_run)(NNI_F(dense_sgd_epoch), &rows, W, Q, cls, Y, SW, orders,
                                         c, n, k, n_epochs, opt);
}
