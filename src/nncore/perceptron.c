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

/* w . x in sixteen partial sums, s_l over j = l mod 16, then t_l = s_l + s_{l+8},
 * u_l = t_l + t_{l+4} and (u_0 + u_2) + (u_1 + u_3): perceptron_simd.h's order, which every
 * instruction set's epoch follows. The lanes are independent, so the compiler may vectorize
 * them without changing a bit. */
static inline double dot16(const NN_T *w, const NN_T *x, int64_t k)
{
    double s[16];
    int64_t j = 0;
    int l;
    for (l = 0; l < 16; l++) s[l] = 0.0;
    for (; j + 16 <= k; j += 16)
        for (l = 0; l < 16; l++) s[l] += (double)w[j + l] * (double)x[j + l];
    for (l = 0; j + l < k; l++) s[l] += (double)w[j + l] * (double)x[j + l];
    for (l = 0; l < 8; l++) s[l] += s[l + 8];
    for (l = 0; l < 4; l++) s[l] += s[l + 4];
    return (s[0] + s[2]) + (s[1] + s[3]);
}

/* w_j += s x_j */
static inline void step_rows(NN_T *w, NN_T s, const NN_T *x, int64_t k)
{
    int64_t j;
    for (j = 0; j < k; j++) w[j] += s * x[j];
}

#define PS_EPOCH NNI_F(sgd_rows_portable)
#define PS_ROWS 1
#define PS_DOT dot16
#define PS_DOTS(p, w, x, k) ((p)[0] = dot16(w, (x)[0], k))
#define PS_STEP step_rows
#include "perceptron_simd.h"

/* The epoch of the instruction set of the GEMM kernel in use (so NNFAST_GEMM_KERNEL=avx2 runs
 * the AVX2 epoch on an AVX-512 machine): every one gives the same bits, only the time
 * differs. */
static NNI_F(sgd_rows_fn) sgd_rows(void)
{
    const char *kernel = nni_gemm_kernel_get()->name;
#ifdef NN_HAVE_KERNEL_AVX512
    if (strncmp(kernel, "avx512", 6) == 0) return NNI_F(sgd_rows_avx512);
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    if (strcmp(kernel, "avx2") == 0 || strncmp(kernel, "avx512", 6) == 0)
        return NNI_F(sgd_rows_avx2);
#endif
    (void)kernel;
    return NNI_F(sgd_rows_portable);
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
    if (alpha > 0) { /* a penalty: scikit-learn's WeightVector arithmetic */
        int32_t *cols = NNI_F(wscale_columns)(k);
        double norms[2] = {0.0, 0.0};
        if (!cols) return k > INT32_MAX ? NN_EINVAL : NN_ENOMEM;
        for (t = 0; t < k; t++) {
            norms[0] += (double)w[t] * (double)w[t];
            norms[1] += fabs((double)w[t]);
        }
        *objective = NNI_F(wscale_sgd_epoch_plain)(w, b, u, q, norms, NULL, cols, X, y, sw,
                                                   order, n, k, eta, alpha, l1_ratio,
                                                   fit_intercept, 1.0);
        free(cols);
        return NN_OK;
    }
    *objective = sgd_rows()(w, b, X, y, sw, order, n, k, eta, fit_intercept);
    return NN_OK;
}

/* ---- many epochs of one-vs-rest classes in one call ------------------------------------ */

typedef struct {
    NNI_F(sgd_epoch_fn) epoch;
    const void *rows;
    NN_T *W, *Q;
    nn_perceptron_sgd_class *cls;
    const NN_T *Y, *SW;
    const int64_t *orders; /* (c, n_epochs, n) given, or NULL                              */
    uint32_t *keys;        /* else with keys: class j's MT19937 stream keys[j], pos[j]     */
    int64_t *pos;
    const uint32_t *seeds; /* else with seeds: class j's scikit-learn dataset stream,      */
    int64_t *index;        /* its shuffle seed seeds[j] and its index row index[j] (n)     */
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
 * With MT19937 streams, each epoch's order is drawn just before it, into a buffer of this
 * part's (n indices, in L1/L2 while the epoch reads it): only the epochs that run draw.
 * With scikit-learn's dataset streams, each epoch shuffles the class's index row in place
 * (its seed by value: the same swaps on the last epoch's order) and visits it, no copy.
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
    int64_t *drawn = NULL, e;
    if (c->keys && !(drawn = (int64_t *)nni_alloc(c->n, sizeof(int64_t)))) return NN_ENOMEM;
    for (e = 0; e < c->n_epochs && s->status == NN_SGD_TRAINING && s->epochs < opt->max_iter;
         e++) {
        const int64_t *order = c->orders  ? c->orders + (part * c->n_epochs + e) * c->n
                               : c->index ? c->index + part * c->n
                                          : drawn;
        double objective;
        if (drawn)
            nni_mt19937_permutation(drawn, c->n, c->keys + part * NNI_MT_WORDS, c->pos + part);
        if (c->index) nni_sgd_dataset_shuffle(c->index + part * c->n, c->n, c->seeds[part]);
        objective = c->epoch(c->rows, w, q, s, y, sw, order, opt) / (double)c->n;
        s->epochs++;
        s->no_improvement = objective > s->best_objective - opt->tol ? s->no_improvement + 1 : 0;
        if (objective < s->best_objective) s->best_objective = objective;
        if (s->no_improvement >= opt->n_iter_no_change) s->status = NN_SGD_CONVERGED;
        s->status = finite_status(w, s->b, c->k, s->status);
    }
    /* done: the plain weights, as scikit-learn's last reset_wscale leaves them */
    if (s->status != NN_SGD_TRAINING || s->epochs >= opt->max_iter) NNI_F(wscale_fold)(w, s, c->k);
    free(drawn);
    c->cls[part] = local;
    return NN_OK;
}

/* Where a fit's orders come from: given (orders), drawn from MT19937 streams (keys, pos), or
 * shuffled by scikit-learn's dataset streams (seeds, index); all NULL: row order. */
typedef struct {
    const int64_t *orders;
    uint32_t *keys;
    int64_t *pos;
    const uint32_t *seeds;
    int64_t *index;
} NNI_F(sgd_order_source);

/* perceptron_sgd_fit_run with its orders from src. */
static int NNI_F(sgd_fit_run)(NNI_F(sgd_epoch_fn) epoch, const void *rows, NN_T *W, NN_T *Q,
                              nn_perceptron_sgd_class *cls, const NN_T *Y, const NN_T *SW,
                              const NNI_F(sgd_order_source) *src, int64_t c, int64_t n,
                              int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
{
    const int64_t *orders = src->orders;
    uint32_t *keys = src->keys;
    int64_t *pos = src->pos;
    NNI_F(sgd_fit_job) job;
    int64_t t, i, count, cn;
    int st;
    if (!W || !cls || !Y || !SW || !opt || c <= 0 || n <= 0 || k <= 0 || n_epochs < 0)
        return NN_EINVAL;
    if (!isfinite(opt->eta) || !(opt->eta > 0) || !(opt->alpha >= 0) || !isfinite(opt->alpha) ||
        !(opt->l1_ratio >= 0 && opt->l1_ratio <= 1) || isnan(opt->tol) ||
        !isfinite(opt->intercept_decay) || opt->n_iter_no_change < 1 || opt->max_iter < 1 ||
        (opt->fit_intercept != 0 && opt->fit_intercept != 1))
        return NN_EINVAL;
    if (opt->l1_ratio > 0 && opt->alpha > 0 && !Q) return NN_EINVAL;
    if ((st = nni_mul(&t, c, k)) != NN_OK || (st = nni_mul(&cn, c, n)) != NN_OK ||
        (st = nni_mul(&count, cn, n_epochs)) != NN_OK ||
        (st = nni_mul(&t, c, NNI_MT_WORDS)) != NN_OK)
        return st;
    if (nni_rows_in_range(orders, count, n) != NN_OK) return NN_EINVAL;
    if (keys && (orders || !pos)) return NN_EINVAL;
    /* the index rows must hold row numbers: the shuffles only move them */
    if (src->index && (orders || keys || !src->seeds || n > INT32_MAX ||
                       nni_rows_in_range(src->index, cn, n) != NN_OK))
        return NN_EINVAL;
    for (i = 0; keys && i < c; i++)
        if (pos[i] < 0 || pos[i] > NNI_MT_WORDS) return NN_EINVAL;
    for (i = 0; i < c; i++)
        if (cls[i].status < NN_SGD_TRAINING || cls[i].status > NN_SGD_NONFINITE ||
            cls[i].epochs < 0 || cls[i].no_improvement < 0 || isnan(cls[i].best_objective) ||
            !(cls[i].wscale > 0) || !isfinite(cls[i].wscale) || !isfinite(cls[i].norms[0]) ||
            !isfinite(cls[i].norms[1]))
            return NN_EINVAL;
    job.epoch = epoch;
    job.rows = rows;
    job.W = W;
    job.Q = Q;
    job.cls = cls;
    job.Y = Y;
    job.SW = SW;
    job.orders = orders;
    job.keys = keys;
    job.pos = pos;
    job.seeds = src->seeds;
    job.index = src->index;
    job.n = n;
    job.k = k;
    job.n_epochs = n_epochs;
    job.opt = opt;
    /* each class is one part: its epochs are sequential, the classes independent */
    return nni_parallel_for(c > 1 ? nni_threads() : 1, c, NNI_F(sgd_fit_class), &job);
}

int NNI_F(perceptron_sgd_fit_run)(NNI_F(sgd_epoch_fn) epoch, const void *rows, NN_T *W,
                                  NN_T *Q, nn_perceptron_sgd_class *cls, const NN_T *Y,
                                  const NN_T *SW, const int64_t *orders, int64_t c, int64_t n,
                                  int64_t k, int64_t n_epochs,
                                  const nn_perceptron_sgd_options *opt)
{
    const NNI_F(sgd_order_source) src = {orders, NULL, NULL, NULL, NULL};
    return NNI_F(sgd_fit_run)(epoch, rows, W, Q, cls, Y, SW, &src, c, n, k, n_epochs, opt);
}

typedef struct {
    const NN_T *X;
    int64_t n, k;
    NNI_F(sgd_rows_fn) epoch; /* sgd_rows()'s choice */
    const int32_t *cols;      /* 0 .. k-1 for the WeightVector epoch                    */
} NNI_F(dense_rows);

/* The dense epoch for perceptron_sgd_fit. */
static double NNI_F(dense_sgd_epoch)(const void *rows, NN_T *w, NN_T *q,
                                     nn_perceptron_sgd_class *s, const NN_T *y, const NN_T *sw,
                                     const int64_t *order, const nn_perceptron_sgd_options *opt)
{
    const NNI_F(dense_rows) *r = (const NNI_F(dense_rows) *)rows;
    if (opt->alpha > 0) /* a penalty: scikit-learn's WeightVector arithmetic */
        return NNI_F(wscale_sgd_epoch)(w, q, s, NULL, r->cols, r->X, y, sw, order, r->n, r->k,
                                       opt);
    NNI_F(wscale_fold)(w, s, r->k); /* the epochs below take the plain weights */
    return r->epoch(w, &s->b, r->X, y, sw, order, r->n, r->k, opt->eta, opt->fit_intercept);
}

/* perceptron_sgd_fit on dense rows, the orders from src. */
static int NNI_F(dense_sgd_fit)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls, const NN_T *X,
                                const NN_T *Y, const NN_T *SW,
                                const NNI_F(sgd_order_source) *src, int64_t c, int64_t n,
                                int64_t k, int64_t n_epochs, const nn_perceptron_sgd_options *opt)
{
    NNI_F(dense_rows) rows;
    int64_t t;
    int st;
    if (!X || n <= 0 || k <= 0) return NN_EINVAL;
    if ((st = nni_mul(&t, n, k)) != NN_OK) return st;
    rows.X = X;
    rows.n = n;
    rows.k = k;
    rows.epoch = sgd_rows();
    rows.cols = NULL;
    if (opt && opt->alpha > 0 && !(rows.cols = NNI_F(wscale_columns)(k)))
        return k > INT32_MAX ? NN_EINVAL : NN_ENOMEM;
    st = NNI_F(sgd_fit_run)(NNI_F(dense_sgd_epoch), &rows, W, Q, cls, Y, SW, src, c, n, k,
                            n_epochs, opt);
    free((void *)rows.cols);
    return st;
}

int NN_F(perceptron_sgd_fit)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls, const NN_T *X,
                             const NN_T *Y, const NN_T *SW, const int64_t *orders, int64_t c,
                             int64_t n, int64_t k, int64_t n_epochs,
                             const nn_perceptron_sgd_options *opt)
{
    const NNI_F(sgd_order_source) src = {orders, NULL, NULL, NULL, NULL};
    return NNI_F(dense_sgd_fit)(W, Q, cls, X, Y, SW, &src, c, n, k, n_epochs, opt);
}

int NN_F(perceptron_sgd_fit_shuffled)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls,
                                      const NN_T *X, const NN_T *Y, const NN_T *SW,
                                      uint32_t *keys, int64_t *pos, int64_t c, int64_t n,
                                      int64_t k, int64_t n_epochs,
                                      const nn_perceptron_sgd_options *opt)
{
    const NNI_F(sgd_order_source) src = {NULL, keys, pos, NULL, NULL};
    if (!keys || !pos) return NN_EINVAL;
    return NNI_F(dense_sgd_fit)(W, Q, cls, X, Y, SW, &src, c, n, k, n_epochs, opt);
}

int NN_F(perceptron_sgd_fit_dataset)(NN_T *W, NN_T *Q, nn_perceptron_sgd_class *cls,
                                     const NN_T *X, const NN_T *Y, const NN_T *SW,
                                     const uint32_t *seeds, int64_t *index, int64_t c,
                                     int64_t n, int64_t k, int64_t n_epochs,
                                     const nn_perceptron_sgd_options *opt)
{
    const NNI_F(sgd_order_source) src = {NULL, NULL, NULL, seeds, index};
    if (!seeds || !index) return NN_EINVAL;
    return NNI_F(dense_sgd_fit)(W, Q, cls, X, Y, SW, &src, c, n, k, n_epochs, opt);
}
