/* The perceptron's SGD epoch in scikit-learn's WeightVector arithmetic (its
 * utils/_weight_vector.pyx.tp and linear_model/_sgd_fast.pyx.tp's _plain_sgd, l1penalty), operation
 * for operation and type for type, so that the weights come out bit for bit as scikit-learn's:
 * the weights w = wscale * v, v stored, wscale and the running norms (double) carried in the class's
 * record from epoch to epoch. Used for CSR rows and for dense rows with an L2 part (the dense
 * epochs without one are perceptron_simd.h's, which give the same bits there). Compiled
 * without FMA contraction: scikit-learn's extension rounds a * b + c twice. */
#include "internal.h"

#ifdef NN_ELEM_F32
#define WV_RESET 1e-6 /* WeightVector32 folds its scale in below this (compared in double) */
#else
#define WV_RESET 1e-9 /* WeightVector64's */
#endif

/* scikit-learn's WeightVector: w = wscale * v, v in the element type; wscale and sq_norm,
 * l1_norm (the running |w|^2, |w|_1) in double, as its class declares them. */
typedef struct {
    NN_T *v;
    double wscale, sq_norm, l1_norm;
    int64_t k;
} NNI_F(weight_vector);

/* w . x = wscale * sum_p v[cols_p] x_p: each product in NN_T, summed left to right in double,
 * times wscale, returned in NN_T (WeightVector.dot). */
static NN_T NNI_F(wv_dot)(const NNI_F(weight_vector) *wv, const int32_t *cols, const NN_T *x,
                          int64_t nnz)
{
    double sum = 0.0;
    int64_t p;
    for (p = 0; p < nnz; p++) sum += (double)(wv->v[cols[p]] * x[p]);
    return (NN_T)(sum * wv->wscale);
}

/* v *= wscale rounded to NN_T, wscale = 1 (WeightVector.reset_wscale: BLAS scal, one
 * product per weight, its factor of the element type). */
static void NNI_F(wv_reset)(NNI_F(weight_vector) *wv)
{
    const NN_T wscale = (NN_T)wv->wscale;
    int64_t j;
    for (j = 0; j < wv->k; j++) wv->v[j] *= wscale;
    wv->wscale = 1;
}

/* w *= c: wscale *= c, sq_norm *= c^2 (c^2 in NN_T), l1_norm *= |c|; folded in below
 * WV_RESET (WeightVector.scale). */
static void NNI_F(wv_scale)(NNI_F(weight_vector) *wv, NN_T c)
{
    wv->wscale *= (double)c;
    wv->sq_norm *= (double)(c * c);
    wv->l1_norm *= fabs((double)c);
    if (wv->wscale < WV_RESET) NNI_F(wv_reset)(wv);
}

/* w += c x: v[cols_p] = v + x_p (c / wscale), the sum in double, stored in NN_T; the norms
 * from the row's columns alone (WeightVector.add):
 *   sq_norm = sum v^2 * wscale^2,  l1_norm = sum |v| * wscale,
 * with wscale rounded to NN_T (add's local copy), c / wscale and v^2 in NN_T. */
static void NNI_F(wv_add)(NNI_F(weight_vector) *wv, const int32_t *cols, const NN_T *x,
                          int64_t nnz, NN_T c)
{
    const NN_T wscale = (NN_T)wv->wscale, step = c / wscale;
    double sq = 0.0, abs_sum = 0.0;
    int64_t p;
    for (p = 0; p < nnz; p++) {
        NN_T *v = wv->v + cols[p];
        *v = (NN_T)((double)*v + (double)x[p] * (double)step);
        sq += (double)(*v * *v);
        abs_sum += fabs((double)*v);
    }
    wv->sq_norm = sq * (double)(wscale * wscale);
    wv->l1_norm = abs_sum * (double)wscale;
}

/* The cumulative L1 penalty u on the row's columns, none crossing 0 (l1penalty, Tsuruoka et
 * al. 2009), in double, each weight rounded once:
 *   w > 0: v = max(0, v - (u + q) / wscale);  w < 0: v = min(0, v + (u - q) / wscale);
 *   q += wscale (v_new - v_old). */
static void NNI_F(wv_l1_penalty)(NNI_F(weight_vector) *wv, NN_T *q, const int32_t *cols,
                                 int64_t nnz, double u)
{
    const double wscale = wv->wscale;
    int64_t p;
    for (p = 0; p < nnz; p++) {
        NN_T *v = wv->v + cols[p], *qj = q + cols[p];
        const double z = (double)*v;
        if (wscale * z > 0.0) {
            const double moved = z - (u + (double)*qj) / wscale;
            *v = (NN_T)(moved > 0.0 ? moved : 0.0);
        } else if (wscale * z < 0.0) {
            const double moved = z + (u - (double)*qj) / wscale;
            *v = (NN_T)(moved < 0.0 ? moved : 0.0);
        }
        *qj = (NN_T)((double)*qj + wscale * ((double)*v - z));
    }
}

/* One epoch of _plain_sgd on the perceptron loss, row by row in order (NULL: 0..n-1):
 *   p = w . x + b;  objective += max(0, -y p) + alpha ((1-r)/2 |w|^2 + r |w|_1) (running norms);
 *   s = eta y sw if y p <= 0 else 0;  r < 1: w *= max(0, 1 - (1-r) eta alpha);
 *   s != 0: w += s x, b += s d (fit_intercept; d = intercept_decay);
 *   r > 0: u += r eta alpha, then the L1 penalty on the row's columns.
 * Row i: its nonzeros of CSR rows (indptr), or all k columns of dense rows (indptr NULL,
 * data (n, k), cols 0..k-1). s's b, u, norms and wscale are read and written back; w holds v.
 * The summed objective. */
double NNI_F(wscale_sgd_epoch)(NN_T *w, NN_T *q, nn_perceptron_sgd_class *s,
                               const int64_t *indptr, const int32_t *cols, const NN_T *data,
                               const NN_T *y, const NN_T *sw, const int64_t *order, int64_t n,
                               int64_t k, const nn_perceptron_sgd_options *opt)
{
    const double eta = opt->eta, alpha = opt->alpha, r = opt->l1_ratio;
    const double l2_shrink = 1.0 - (1.0 - r) * eta * alpha;
    /* never scale to negative values when eta alpha is large: to zero instead */
    const NN_T shrink = (NN_T)(l2_shrink > 0.0 ? l2_shrink : 0.0);
    const int l2 = alpha > 0 && r < 1, l1 = alpha > 0 && r > 0;
    NNI_F(weight_vector) wv;
    double obj = 0.0, b = s->b, u = s->u;
    int64_t idx;
    wv.v = w;
    wv.wscale = s->wscale;
    wv.sq_norm = s->norms[0];
    wv.l1_norm = s->norms[1];
    wv.k = k;
    for (idx = 0; idx < n; idx++) {
        const int64_t i = order ? order[idx] : idx;
        const int64_t p0 = indptr ? indptr[i] : i * k, nnz = indptr ? indptr[i + 1] - p0 : k;
        const int32_t *c = indptr ? cols + p0 : cols;
        const NN_T *x = data + p0;
        const double yi = (double)y[i], p = (double)NNI_F(wv_dot)(&wv, c, x, nnz) + b;
        const double step = yi * p <= 0 ? eta * yi * (double)sw[i] : 0.0;
        obj += yi * p <= 0 ? -yi * p : 0.0;
        if (alpha > 0) { /* WeightVector.norm() and .l1norm() return NN_T */
            const double norm = (double)(NN_T)sqrt(wv.sq_norm);
            obj += alpha * ((1.0 - r) * 0.5 * (norm * norm) + r * (double)(NN_T)wv.l1_norm);
        }
        if (l2) NNI_F(wv_scale)(&wv, shrink);
        if (step != 0.0) {
            NNI_F(wv_add)(&wv, c, x, nnz, (NN_T)step);
            if (opt->fit_intercept) b += step * opt->intercept_decay;
        }
        if (l1) {
            u += r * eta * alpha;
            NNI_F(wv_l1_penalty)(&wv, q, c, nnz, u);
        }
    }
    s->b = b;
    s->u = u;
    s->norms[0] = wv.sq_norm;
    s->norms[1] = wv.l1_norm;
    s->wscale = wv.wscale;
    return obj;
}

/* w *= the record's wscale, wscale = 1: the plain weights (_plain_sgd's last reset_wscale). */
void NNI_F(wscale_fold)(NN_T *w, nn_perceptron_sgd_class *s, int64_t k)
{
    NNI_F(weight_vector) wv;
    if (s->wscale == 1.0) return;
    wv.v = w;
    wv.wscale = s->wscale;
    wv.k = k;
    NNI_F(wv_reset)(&wv);
    s->wscale = 1.0;
}

/* wscale_sgd_epoch from a plain w and back: the scale starts at 1 and is folded in at the end;
 * b, u and norms (the running |w|^2, |w|_1) in/out. */
double NNI_F(wscale_sgd_epoch_plain)(NN_T *w, double *b, double *u, NN_T *q, double *norms,
                                     const int64_t *indptr, const int32_t *cols,
                                     const NN_T *data, const NN_T *y, const NN_T *sw,
                                     const int64_t *order, int64_t n, int64_t k, double eta,
                                     double alpha, double l1_ratio, int fit_intercept,
                                     double intercept_decay)
{
    nn_perceptron_sgd_class s;
    nn_perceptron_sgd_options opt;
    double objective;
    memset(&s, 0, sizeof s);
    memset(&opt, 0, sizeof opt);
    s.b = *b;
    s.u = *u;
    s.norms[0] = norms[0];
    s.norms[1] = norms[1];
    s.wscale = 1.0;
    opt.eta = eta;
    opt.alpha = alpha;
    opt.l1_ratio = l1_ratio;
    opt.fit_intercept = fit_intercept;
    opt.intercept_decay = intercept_decay;
    objective = NNI_F(wscale_sgd_epoch)(w, q, &s, indptr, cols, data, y, sw, order, n, k, &opt);
    NNI_F(wscale_fold)(w, &s, k);
    *b = s.b;
    *u = s.u;
    norms[0] = s.norms[0];
    norms[1] = s.norms[1];
    return objective;
}

/* 0 .. k-1 as int32 (the dense rows' columns), or NULL when out of memory or k >= 2^31. */
int32_t *NNI_F(wscale_columns)(int64_t k)
{
    int32_t *cols;
    int64_t j;
    if (k <= 0 || k > INT32_MAX || !(cols = (int32_t *)nni_alloc(k, sizeof(int32_t))))
        return NULL;
    for (j = 0; j < k; j++) cols[j] = (int32_t)j;
    return cols;
}
