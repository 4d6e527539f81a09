/* Tests of the sparse-input kernels (sparse.c) against the dense kernels on the same matrices:
 * csr_dense_forward against gemm, csr_weight_gradient against dense_backward's dW,
 * csr_forward against forward, perceptron_sgd_csr_epoch against perceptron_sgd_epoch; empty
 * rows, one-nonzero rows, unsorted indices, row selections, thread-count independence, and
 * bad input refused (NN_EINVAL) with the outputs untouched.
 * Prints every failing comparison; exits nonzero on any failure. */
#include "nncore.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static uint64_t g_rng = 2026;
static double draw(double lo, double hi) { return lo + (hi - lo) * nn_rng_uniform(&g_rng); }

static void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    if (!p) {
        printf("FAIL: test could not allocate\n");
        exit(2);
    }
    return p;
}

/* A test matrix: dense (n, k) and the same values in CSR. Row 0 is empty, row 1 has one
 * nonzero, the others about density * k; with unsorted, each row's entries are reversed. */
typedef struct {
    int64_t n, k, nnz;
    double *dense;
    int64_t *indptr;
    int32_t *indices;
    double *data;
} csr_t;

static csr_t make_csr(int64_t n, int64_t k, double density, int unsorted)
{
    csr_t c;
    int64_t i, j, p;
    c.n = n;
    c.k = k;
    c.dense = (double *)xcalloc((size_t)(n * k), sizeof(double));
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++)
            if (i == 1 ? j == k / 2 : i > 1 && draw(0, 1) < density)
                c.dense[i * k + j] = draw(-2, 2);
    c.indptr = (int64_t *)xcalloc((size_t)(n + 1), sizeof(int64_t));
    c.indices = (int32_t *)xcalloc((size_t)(n * k), sizeof(int32_t));
    c.data = (double *)xcalloc((size_t)(n * k), sizeof(double));
    for (i = 0, p = 0; i < n; i++) {
        const int64_t start = p;
        for (j = 0; j < k; j++)
            if (c.dense[i * k + j] != 0) {
                c.indices[p] = (int32_t)j;
                c.data[p++] = c.dense[i * k + j];
            }
        if (unsorted)
            for (j = 0; j < (p - start) / 2; j++) {
                int32_t ti = c.indices[start + j];
                double td = c.data[start + j];
                c.indices[start + j] = c.indices[p - 1 - j];
                c.data[start + j] = c.data[p - 1 - j];
                c.indices[p - 1 - j] = ti;
                c.data[p - 1 - j] = td;
            }
        c.indptr[i + 1] = p;
    }
    c.nnz = p;
    return c;
}

static void free_csr(csr_t *c)
{
    free(c->dense);
    free(c->indptr);
    free(c->indices);
    free(c->data);
}

static double *random_vec(int64_t count, double lo, double hi)
{
    double *v = (double *)xcalloc((size_t)count, sizeof(double));
    int64_t i;
    for (i = 0; i < count; i++) v[i] = draw(lo, hi);
    return v;
}

static float *to_f32(const double *v, int64_t count)
{
    float *f = (float *)xcalloc((size_t)count, sizeof(float));
    int64_t i;
    for (i = 0; i < count; i++) f[i] = (float)v[i];
    return f;
}

/* max |a - b| / (1 + |b|) over count values */
static double max_rel(const double *a, const double *b, int64_t count)
{
    double worst = 0;
    int64_t i;
    for (i = 0; i < count; i++) {
        const double d = fabs(a[i] - b[i]) / (1 + fabs(b[i]));
        if (!(d <= worst)) worst = d; /* NaN counts as worst */
    }
    return worst;
}

static double max_rel_f32(const float *a, const double *b, int64_t count)
{
    double worst = 0;
    int64_t i;
    for (i = 0; i < count; i++) {
        const double d = fabs((double)a[i] - b[i]) / (1 + fabs(b[i]));
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

/* ---- first-layer forward ----------------------------------------------------------------- */
static void test_forward(int unsorted)
{
    const int64_t n = 300, k = 77, m_out = 130; /* m_out > CSR_PART_COLS, rows > CSR_PART_ROWS */
    csr_t c = make_csr(n, k, 0.08, unsorted);
    double *W = random_vec(k * m_out, -1, 1), *b = random_vec(m_out, -1, 1);
    double *Zd = (double *)xcalloc((size_t)(n * m_out), sizeof(double));
    double *Zs = (double *)xcalloc((size_t)(n * m_out), sizeof(double));
    double *Zt = (double *)xcalloc((size_t)(n * m_out), sizeof(double));
    {
        nn_epilogue_f64 ep = {b, NN_ACT_IDENTITY, NULL, NN_ACT_IDENTITY};
        CHECK(nn_gemm_f64(Zd, c.dense, W, n, m_out, k, 0, 0, 1, 0, &ep) == NN_OK, "gemm");
    }
    CHECK(nn_csr_dense_forward_f64(Zs, c.indptr, c.indices, c.data, n, NULL, n, W, b, k,
                                   m_out) == NN_OK, "csr_dense_forward f64");
    /* float64: sums of at most k products in another order: 1e-12 relative */
    CHECK(max_rel(Zs, Zd, n * m_out) < 1e-12, "forward f64 unsorted=%d: max rel %g", unsorted,
          max_rel(Zs, Zd, n * m_out));
    /* the empty row is b exactly; the one-nonzero row is b + x W[j] with one rounding */
    CHECK(memcmp(Zs, b, (size_t)m_out * sizeof(double)) == 0, "empty row is not b");
    {
        int64_t j, bad = 0;
        const int64_t col = k / 2;
        for (j = 0; j < m_out; j++)
            bad += Zs[m_out + j] != b[j] + c.dense[k + col] * W[col * m_out + j];
        CHECK(bad == 0, "one-nonzero row differs in %lld outputs", (long long)bad);
    }
    /* thread-count independence: bit-identical with 1 and 2 threads */
    nn_set_num_threads(1);
    CHECK(nn_csr_dense_forward_f64(Zt, c.indptr, c.indices, c.data, n, NULL, n, W, b, k,
                                   m_out) == NN_OK, "forward 1 thread");
    nn_set_num_threads(2);
    CHECK(nn_csr_dense_forward_f64(Zs, c.indptr, c.indices, c.data, n, NULL, n, W, b, k,
                                   m_out) == NN_OK, "forward 2 threads");
    nn_set_num_threads(0);
    CHECK(memcmp(Zs, Zt, (size_t)(n * m_out) * sizeof(double)) == 0,
          "forward differs between 1 and 2 threads");
    /* a batch given as row numbers: row r of Z is row rows[r] of the full result */
    {
        const int64_t rows[5] = {7, 0, 299, 1, 7};
        double *Zb = (double *)xcalloc((size_t)(5 * m_out), sizeof(double));
        int64_t r, bad = 0;
        CHECK(nn_csr_dense_forward_f64(Zb, c.indptr, c.indices, c.data, n, rows, 5, W, b, k,
                                       m_out) == NN_OK, "forward rows");
        for (r = 0; r < 5; r++)
            bad += memcmp(Zb + r * m_out, Zt + rows[r] * m_out, (size_t)m_out * sizeof(double)) != 0;
        CHECK(bad == 0, "forward of selected rows differs in %lld rows", (long long)bad);
        free(Zb);
    }
    /* float32: 1e-5 relative to the float64 dense result */
    {
        float *Wf = to_f32(W, k * m_out), *bf = to_f32(b, m_out), *df = to_f32(c.data, c.nnz);
        float *Zf = (float *)xcalloc((size_t)(n * m_out), sizeof(float));
        CHECK(nn_csr_dense_forward_f32(Zf, c.indptr, c.indices, df, n, NULL, n, Wf, bf, k,
                                       m_out) == NN_OK, "csr_dense_forward f32");
        CHECK(max_rel_f32(Zf, Zd, n * m_out) < 1e-5, "forward f32: max rel %g",
              max_rel_f32(Zf, Zd, n * m_out));
        free(Wf);
        free(bf);
        free(df);
        free(Zf);
    }
    free(W);
    free(b);
    free(Zd);
    free(Zs);
    free(Zt);
    free_csr(&c);
}

/* ---- weight gradient --------------------------------------------------------------------- */
static void test_gradient(int unsorted)
{
    const int64_t n = 150, k = 41, m_out = 130;
    csr_t c = make_csr(n, k, 0.1, unsorted);
    double *delta = random_vec(n * m_out, -1, 1), *W = random_vec(k * m_out, -1, 1);
    double *dWd = random_vec(k * m_out, -1, 1);
    double *dWs = (double *)xcalloc((size_t)(k * m_out), sizeof(double));
    double *dWt = (double *)xcalloc((size_t)(k * m_out), sizeof(double));
    double *db = (double *)xcalloc((size_t)m_out, sizeof(double));
    memcpy(dWs, dWd, (size_t)(k * m_out) * sizeof(double));
    memcpy(dWt, dWd, (size_t)(k * m_out) * sizeof(double));
    CHECK(nn_dense_backward_f64(dWd, db, NULL, c.dense, W, delta, n, k, m_out,
                                NN_ACT_IDENTITY) == NN_OK, "dense_backward");
    nn_set_num_threads(1);
    CHECK(nn_csr_weight_gradient_f64(dWt, c.indptr, c.indices, c.data, n, NULL, n, delta, k,
                                     m_out, 1.0 / (double)n) == NN_OK, "gradient 1 thread");
    nn_set_num_threads(2);
    CHECK(nn_csr_weight_gradient_f64(dWs, c.indptr, c.indices, c.data, n, NULL, n, delta, k,
                                     m_out, 1.0 / (double)n) == NN_OK, "gradient 2 threads");
    nn_set_num_threads(0);
    /* float64: the accumulation (dW +=) onto values in [-1, 1): 1e-12 relative */
    CHECK(max_rel(dWs, dWd, k * m_out) < 1e-12, "gradient f64 unsorted=%d: max rel %g",
          unsorted, max_rel(dWs, dWd, k * m_out));
    CHECK(memcmp(dWs, dWt, (size_t)(k * m_out) * sizeof(double)) == 0,
          "gradient differs between 1 and 2 threads");
    /* rows selection: the gradient of rows {3, 5} equals the two rows' scatters */
    {
        const int64_t rows[2] = {5, 3};
        double *g = (double *)xcalloc((size_t)(k * m_out), sizeof(double));
        double *want = (double *)xcalloc((size_t)(k * m_out), sizeof(double));
        int64_t r, j, p;
        CHECK(nn_csr_weight_gradient_f64(g, c.indptr, c.indices, c.data, n, rows, 2,
                                         delta, k, m_out, 1.0) == NN_OK,
              "gradient rows");
        /* delta rows are taken in batch order: row r of delta belongs to rows[r] */
        for (r = 0; r < 2; r++)
            for (p = c.indptr[rows[r]]; p < c.indptr[rows[r] + 1]; p++)
                for (j = 0; j < m_out; j++)
                    want[c.indices[p] * m_out + j] += c.data[p] * delta[r * m_out + j];
        CHECK(max_rel(g, want, k * m_out) < 1e-15, "gradient of selected rows: max rel %g",
              max_rel(g, want, k * m_out));
        free(g);
        free(want);
    }
    free(delta);
    free(W);
    free(dWd);
    free(dWs);
    free(dWt);
    free(db);
    free_csr(&c);
}

/* ---- network forward ------------------------------------------------------------------ */
static void test_network_forward(void)
{
    const int64_t n = 600, k = 50; /* more rows than one chunk of the CSR forward */
    const int64_t sizes2[3] = {50, 9, 4}, sizes1[2] = {50, 3};
    nn_net nets[2] = {{2, sizes2, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CE, NULL, NULL, 0.0},
                      {1, sizes1, NN_ACT_RELU, NN_ACT_SIGMOID, NN_LOSS_BCE, NULL, NULL, 0.0}};
    csr_t c = make_csr(n, k, 0.1, 0);
    int t;
    for (t = 0; t < 2; t++) {
        int64_t n_params, n_out = nets[t].sizes[nets[t].n_layers];
        double *params, *od, *os;
        uint64_t seed = 5;
        CHECK(nn_net_check(&nets[t], &n_params) == NN_OK, "net");
        params = (double *)xcalloc((size_t)n_params, sizeof(double));
        od = (double *)xcalloc((size_t)(n * n_out), sizeof(double));
        os = (double *)xcalloc((size_t)(n * n_out), sizeof(double));
        CHECK(nn_init_params_f64(params, &nets[t], NN_INIT_GLOROT, &seed) == NN_OK, "init");
        CHECK(nn_forward_f64(od, params, &nets[t], c.dense, n) == NN_OK, "forward");
        CHECK(nn_csr_forward_f64(os, params, &nets[t], c.indptr, c.indices, c.data, n) == NN_OK,
              "csr_forward");
        CHECK(max_rel(os, od, n * n_out) < 1e-12, "network %d: max rel %g", t,
              max_rel(os, od, n * n_out));
        free(params);
        free(od);
        free(os);
    }
    free_csr(&c);
}

/* ---- perceptron SGD epoch ------------------------------------------------------------- */
/* One epoch on dense and CSR rows from w = 0; returns max |w_csr - w_dense| and checks b. */
static double perceptron_pair(const csr_t *c, double alpha, double l1_ratio, int exact)
{
    const int64_t n = c->n, k = c->k;
    double *wd = (double *)xcalloc((size_t)k, sizeof(double));
    double *ws = (double *)xcalloc((size_t)k, sizeof(double));
    double *qd = (double *)xcalloc((size_t)k, sizeof(double));
    double *qs = (double *)xcalloc((size_t)k, sizeof(double));
    double *y = (double *)xcalloc((size_t)n, sizeof(double));
    double *sw = (double *)xcalloc((size_t)n, sizeof(double));
    int64_t *order = (int64_t *)xcalloc((size_t)n, sizeof(int64_t));
    double bd = 0, bs = 0, ud = 0, us = 0, od = 0, os = 0, norms[2] = {0, 0}, worst = 0;
    uint64_t s = 9;
    int64_t i, e;
    for (i = 0; i < n; i++) {
        y[i] = draw(0, 1) < 0.5 ? -1.0 : 1.0;
        sw[i] = exact ? 1.0 : draw(0.5, 1.5); /* exact: every step a small integer */
    }
    nn_rng_permutation(order, n, &s);
    for (e = 0; e < 3; e++) {
        CHECK(nn_perceptron_sgd_epoch_f64(wd, &bd, &ud, qd, &od, c->dense, y, sw, order, n, k,
                                          exact ? 1.0 : 0.7, alpha, l1_ratio, 1) == NN_OK, "dense epoch");
        CHECK(nn_perceptron_sgd_csr_epoch_f64(ws, &bs, &us, qs, norms, &os, c->indptr, c->indices,
                                              c->data, y, sw, order, n, k, exact ? 1.0 : 0.7,
                                              alpha, l1_ratio, 1, 1.0) == NN_OK, "csr epoch");
    }
    for (i = 0; i < k; i++)
        if (fabs(ws[i] - wd[i]) > worst) worst = fabs(ws[i] - wd[i]);
    if (exact) {
        CHECK(memcmp(ws, wd, (size_t)k * sizeof(double)) == 0 || worst == 0,
              "csr perceptron w not bit-identical: max diff %g", worst);
        CHECK(bs == bd && os == od, "csr perceptron b %g vs %g, objective %g vs %g", bs, bd,
              os, od);
    }
    free(wd);
    free(ws);
    free(qd);
    free(qs);
    free(y);
    free(sw);
    free(order);
    return worst;
}

static void test_perceptron(void)
{
    csr_t c = make_csr(120, 37, 0.2, 0), cu = make_csr(120, 37, 0.2, 1);
    double d;
    /* no penalty: the dot products summed in another order, 1e-12 */
    d = perceptron_pair(&c, 0.0, 0.0, 0);
    CHECK(d < 1e-12, "csr perceptron: max diff %g", d);
    d = perceptron_pair(&cu, 0.0, 0.0, 0);
    CHECK(d < 1e-12, "unsorted csr perceptron: max diff %g", d);
    /* small integer counts (bag of words): every sum exact, so bit-identical in any order */
    {
        csr_t counts = make_csr(120, 37, 0.2, 1);
        int64_t p;
        for (p = 0; p < counts.nnz; p++) counts.data[p] = floor(fabs(counts.data[p]) * 2) + 1;
        for (p = 0; p < 120 * 37; p++)
            if (counts.dense[p] != 0) counts.dense[p] = floor(fabs(counts.dense[p]) * 2) + 1;
        perceptron_pair(&counts, 0.0, 0.0, 1);
        free_csr(&counts);
    }
    /* L2: scale * v against w shrunk in place, rounding only: 1e-12 */
    d = perceptron_pair(&c, 1e-3, 0.0, 0);
    CHECK(d < 1e-12, "L2 csr perceptron: max diff %g", d);
    /* L1 on CSR touches only each row's columns (scikit-learn's sparse semantics), so the
     * dense result differs; on a matrix with no zeros the two are the same rule: 1e-12 */
    {
        csr_t full = make_csr(60, 9, 2.0, 0); /* density > 1: every entry of rows 2.. set */
        int64_t i;
        /* rows 0 and 1 (empty / one nonzero) would see fewer L1 steps: fill them */
        for (i = 0; i < 2 * 9; i++)
            if (full.dense[i] == 0) full.dense[i] = 0.5;
        {
            int64_t p = 0, j;
            for (i = 0; i < 60; i++) {
                for (j = 0; j < 9; j++) {
                    full.indices[p] = (int32_t)j;
                    full.data[p++] = full.dense[i * 9 + j];
                }
                full.indptr[i + 1] = p;
            }
            full.nnz = p;
            d = perceptron_pair(&full, 1e-2, 0.5, 0);
            CHECK(d < 1e-12, "elasticnet csr perceptron on full rows: max diff %g", d);
        }
        free_csr(&full);
    }
    free_csr(&c);
    free_csr(&cu);
}

/* ---- the perceptron rule ----------------------------------------------------------------- */
static void test_perceptron_rule(int unsorted)
{
    const int64_t n = 90, k = 23, n_out = 3;
    csr_t c = make_csr(n, k, 0.2, unsorted);
    double *Y = (double *)xcalloc((size_t)(n * n_out), sizeof(double));
    double *Wd = random_vec(k * n_out, -0.5, 0.5), *bd = random_vec(n_out, -0.5, 0.5);
    double *Ws = (double *)xcalloc((size_t)(k * n_out), sizeof(double));
    double bs[3];
    int64_t i, md = -1, ms = -2, e, order[90];
    uint64_t s = 3;
    for (i = 0; i < n * n_out; i++) Y[i] = draw(0, 1) < 0.5 ? 0.0 : 1.0;
    memcpy(Ws, Wd, (size_t)(k * n_out) * sizeof(double));
    memcpy(bs, bd, sizeof bs);
    nn_rng_permutation(order, n, &s);
    for (e = 0; e < 4; e++) {
        CHECK(nn_perceptron_epoch_f64(Wd, bd, &md, c.dense, Y, order, n, k, n_out, 0.3) == NN_OK,
              "dense rule");
        CHECK(nn_perceptron_csr_epoch_f64(Ws, bs, &ms, c.indptr, c.indices, c.data, Y, order, n,
                                          k, n_out, 0.3) == NN_OK, "csr rule");
        CHECK(md == ms, "mistakes %lld (dense) vs %lld (csr)", (long long)md, (long long)ms);
    }
    if (unsorted) { /* the sums in another order: rounding */
        CHECK(max_rel(Ws, Wd, k * n_out) < 1e-12 && max_rel(bs, bd, n_out) < 1e-12,
              "unsorted csr rule: max rel %g", max_rel(Ws, Wd, k * n_out));
    } else { /* sorted: the dense sum's order with its zero terms left out, bit-identical */
        CHECK(memcmp(Ws, Wd, (size_t)(k * n_out) * sizeof(double)) == 0 &&
                  memcmp(bs, bd, sizeof bs) == 0,
              "csr rule not bit-identical: max rel %g", max_rel(Ws, Wd, k * n_out));
    }
    CHECK(md > 0, "the rule made no mistakes: the test learns nothing");
    c.indices[c.indptr[4]] = (int32_t)k;
    memcpy(bs, bd, sizeof bs);
    CHECK(nn_perceptron_csr_epoch_f64(Ws, bs, &ms, c.indptr, c.indices, c.data, Y, NULL, n, k,
                                      n_out, 0.3) == NN_EINVAL, "csr rule: index out of range");
    CHECK(memcmp(bs, bd, sizeof bs) == 0, "csr rule wrote before refusing");
    free(Y);
    free(Wd);
    free(bd);
    free(Ws);
    free_csr(&c);
}

/* ---- bad input ------------------------------------------------------------------------ */
static void test_errors(void)
{
    csr_t c = make_csr(10, 6, 0.5, 0);
    double W[6 * 3], b[3] = {1, 2, 3}, Z[10 * 3], dW[6 * 3], delta[10 * 3];
    double w[6] = {0}, q[6] = {0}, y[10], sw[10], bb = 0, u = 0, norms[2] = {0, 0}, obj = 0;
    int64_t i, bad_rows[1] = {10}, neg_rows[1] = {-1};
    for (i = 0; i < 18; i++) W[i] = dW[i] = 0.25;
    for (i = 0; i < 30; i++) Z[i] = delta[i] = 7;
    for (i = 0; i < 10; i++) {
        y[i] = 1;
        sw[i] = 1;
    }
    /* an index past the columns: refused, nothing written */
    c.indices[c.indptr[5]] = 6;
    CHECK(nn_csr_dense_forward_f64(Z, c.indptr, c.indices, c.data, 10, NULL, 10, W, b, 6, 3) ==
              NN_EINVAL, "index out of range accepted by forward");
    CHECK(Z[0] == 7, "forward wrote before refusing");
    CHECK(nn_csr_weight_gradient_f64(dW, c.indptr, c.indices, c.data, 10, NULL, 10, delta, 6,
                                     3, 1.0) == NN_EINVAL, "index out of range: gradient");
    CHECK(dW[0] == 0.25, "gradient wrote before refusing");
    CHECK(nn_perceptron_sgd_csr_epoch_f64(w, &bb, &u, q, norms, &obj, c.indptr, c.indices,
                                          c.data, y, sw, NULL, 10, 6, 1, 0, 0, 1, 1.0) == NN_EINVAL,
          "index out of range: perceptron");
    CHECK(w[0] == 0 && bb == 0, "perceptron wrote before refusing");
    c.indices[c.indptr[5]] = -1;
    CHECK(nn_csr_dense_forward_f64(Z, c.indptr, c.indices, c.data, 10, NULL, 10, W, b, 6, 3) ==
              NN_EINVAL, "negative index accepted");
    c.indices[c.indptr[5]] = 0;
    /* a decreasing indptr */
    {
        const int64_t keep = c.indptr[4];
        c.indptr[4] = c.indptr[5] + 1;
        CHECK(nn_csr_dense_forward_f64(Z, c.indptr, c.indices, c.data, 10, NULL, 10, W, b, 6,
                                       3) == NN_EINVAL, "decreasing indptr accepted");
        c.indptr[4] = keep;
    }
    /* an nnz too large to address */
    {
        const int64_t keep = c.indptr[10];
        c.indptr[10] = INT64_MAX;
        CHECK(nn_csr_dense_forward_f64(Z, c.indptr, c.indices, c.data, 10, NULL, 10, W, b, 6,
                                       3) == NN_EINVAL, "huge nnz accepted");
        c.indptr[10] = keep;
    }
    /* rows outside the matrix */
    CHECK(nn_csr_dense_forward_f64(Z, c.indptr, c.indices, c.data, 10, bad_rows, 1, W, b, 6,
                                   3) == NN_EINVAL, "row past the end accepted");
    CHECK(nn_csr_weight_gradient_f64(dW, c.indptr, c.indices, c.data, 10, neg_rows, 1, delta,
                                     6, 3, 1.0) == NN_EINVAL, "negative row accepted");
    /* sizes and NULLs */
    CHECK(nn_csr_dense_forward_f64(Z, c.indptr, c.indices, c.data, 0, NULL, 0, W, b, 6, 3) ==
              NN_EINVAL, "no rows accepted");
    CHECK(nn_csr_dense_forward_f64(Z, NULL, c.indices, c.data, 10, NULL, 10, W, b, 6, 3) ==
              NN_EINVAL, "NULL indptr accepted");
    CHECK(nn_perceptron_sgd_csr_epoch_f64(w, &bb, &u, q, norms, &obj, c.indptr, c.indices,
                                          c.data, y, sw, NULL, 10, 6, -1, 0, 0, 1, 1.0) == NN_EINVAL,
          "negative eta accepted");
    /* the valid call still works */
    CHECK(nn_csr_dense_forward_f64(Z, c.indptr, c.indices, c.data, 10, NULL, 10, W, b, 6, 3) ==
              NN_OK, "valid forward refused");
    free_csr(&c);
}

int main(void)
{
    test_forward(0);
    test_forward(1);
    test_gradient(0);
    test_gradient(1);
    test_network_forward();
    test_perceptron();
    test_perceptron_rule(0);
    test_perceptron_rule(1);
    test_errors();
    if (g_failures) {
        printf("%d of %d sparse checks failed\n", g_failures, g_checks);
        return 1;
    }
    printf("all %d sparse checks passed\n", g_checks);
    return 0;
}
