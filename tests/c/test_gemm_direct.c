/* The direct mid-size products (gemm_direct.c) against gemm_naive, for every instruction set
 * this build and CPU run (chosen with nni_gemm_kernel_select: the direct rows follow the GEMM
 * kernel's instruction set):
 * - odd shapes, m, n, k from 1 to 300, every trans_a / trans_b, float and double, alpha and
 *   beta, with no epilogue, bias with each activation, and each derivative: every element
 *   within the rounding bound of its k-term sum, |c - ref| <= TOL_ULPS (k + 2) eps (S + 1),
 *   S = |alpha| sum_p |a_ip b_pj| + |beta c_ij| + |bias_j| (an activation and a derivative
 *   here are 1-Lipschitz on the data's range, and vector math adds a few ulps; the step
 *   activation is not compared where its input is within that bound of 0);
 * - products of at most 32^3 multiply-adds (the unfused tiles) give the portable rows' bits;
 * - the products a training step splits over threads give the same bits on 1, 2 and 3;
 * - direct_applies' rule: a C of few rows is direct whatever k and B's size (not B^T);
 *   one row in the wide one-row tiles.
 *
 * Run: ./build/test_gemm_direct (exit status 0 when every check passes); tests/test_c_core.py.
 */
#include "nncore.h"

#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

#define TOL_ULPS 4.0

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static double uniform(void) /* in [-1, 1) */
{
    g_rng ^= g_rng >> 12, g_rng ^= g_rng << 25, g_rng ^= g_rng >> 27;
    return (double)((g_rng * 0x2545f4914f6cdd1dull) >> 11) / 4503599627370496.0 - 1.0;
}

static const int64_t SIZES[] = {1, 2, 3, 5, 8, 9, 13, 17, 24, 33, 47};
#define N_SIZES ((int)(sizeof SIZES / sizeof SIZES[0]))
/* the digits step's products, and odd shapes up to 300 */
static const int64_t SHAPES[][3] = {{200, 100, 64}, {200, 10, 100}, {100, 10, 200},
                                    {200, 100, 10}, {64, 100, 200}, {300, 129, 67},
                                    {97, 250, 131}, {257, 31, 256}, {1, 300, 200},
                                    {300, 1, 150}, {131, 17, 255}, {23, 301, 97},
                                    /* few rows from a long k and a large B (direct_applies):
                                     * one sample through W3's first layer, odd ones; one row
                                     * in wide tiles of 16 and 8 vectors (float 13 vectors,
                                     * double 25) */
                                    {1, 256, 784}, {5, 250, 1030}, {8, 47, 2000},
                                    {1, 200, 300}};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

/* Products of at most this many multiply-adds round each term apart (gemm_direct.c's
 * DIRECT_UNFUSED_MAX_WORK): every instruction set's tiles give the portable rows' bits. */
#define UNFUSED_MAX_WORK (32.0 * 32.0 * 32.0)

/* epilogue cases: none, bias + {identity, relu, tanh, sigmoid, step}, deriv {relu, tanh,
 * sigmoid}, and alpha 1/k with beta 1 (the dW accumulation) */
#define N_CASES 10

#define DEFINE_CHECK(T, SFX, EPS)                                                             \
    static void check_##SFX(const char *isa, int64_t m, int64_t n, int64_t k, int ta, int tb,  \
                            int cs)                                                           \
    {                                                                                         \
        T *A = malloc(sizeof(T) * m * k), *B = malloc(sizeof(T) * k * n);                     \
        T *C = malloc(sizeof(T) * m * n), *R = malloc(sizeof(T) * m * n);                     \
        T *C0 = malloc(sizeof(T) * m * n), *D = malloc(sizeof(T) * m * n);                    \
        T *bias = malloc(sizeof(T) * n);                                                      \
        nn_epilogue_##SFX ep = {NULL, NN_ACT_IDENTITY, NULL, NN_ACT_IDENTITY}, *pe = &ep;     \
        T alpha = 1, beta = 0;                                                                \
        int64_t i, j, p, bad = 0;                                                             \
        int st1, st2;                                                                         \
        for (i = 0; i < m * k; i++) A[i] = (T)uniform();                                      \
        for (i = 0; i < k * n; i++) B[i] = (T)uniform();                                      \
        for (i = 0; i < m * n; i++) C0[i] = (T)uniform();                                     \
        for (i = 0; i < n; i++) bias[i] = (T)uniform();                                       \
        if (cs == 0) pe = NULL;                                                               \
        if (cs >= 1 && cs <= 5) {                                                             \
            static const nn_act acts[] = {NN_ACT_IDENTITY, NN_ACT_RELU, NN_ACT_TANH,          \
                                          NN_ACT_SIGMOID, NN_ACT_STEP};                       \
            ep.bias = bias;                                                                   \
            ep.act = acts[cs - 1];                                                            \
        }                                                                                     \
        if (cs >= 6 && cs <= 8) {                                                             \
            static const nn_act ds[] = {NN_ACT_RELU, NN_ACT_TANH, NN_ACT_SIGMOID};            \
            ep.deriv_act = ds[cs - 6];                                                        \
            ep.deriv_of = D;                                                                  \
            for (i = 0; i < m * n; i++) /* outputs of the activation: in (0, 1) or (-1, 1) */ \
                D[i] = cs == 8 ? (T)(0.5 + 0.49 * uniform()) : (T)(0.99 * uniform());         \
        }                                                                                     \
        if (cs == 9) {                                                                        \
            alpha = (T)1 / (T)k;                                                              \
            beta = 1;                                                                         \
        }                                                                                     \
        if (cs == 5) { /* D: the step's input; near 0 it may step either way */           \
            memcpy(D, C0, sizeof(T) * m * n);                                                 \
            ep.act = NN_ACT_IDENTITY;                                                         \
            nn_gemm_naive_##SFX(D, A, B, m, n, k, ta, tb, alpha, beta, pe);                   \
            ep.act = NN_ACT_STEP;                                                             \
        }                                                                                     \
        memcpy(C, C0, sizeof(T) * m * n);                                                     \
        memcpy(R, C0, sizeof(T) * m * n);                                                     \
        st1 = nni_direct_gemm_##SFX(C, A, B, m, n, k, ta, tb, alpha, beta, pe);               \
        if ((double)m * (double)n * (double)k <= UNFUSED_MAX_WORK) {                          \
            /* the unfused tiles: the portable rows' bits */                                  \
            memcpy(R, C0, sizeof(T) * m * n);                                                 \
            nni_gemm_kernel_select("portable");                                               \
            st2 = nni_direct_gemm_##SFX(R, A, B, m, n, k, ta, tb, alpha, beta, pe);           \
            nni_gemm_kernel_select(isa);                                                      \
            CHECK(st2 == NN_OK && memcmp(C, R, sizeof(T) * m * n) == 0,                       \
                  "%s " #SFX " m=%lld n=%lld k=%lld ta=%d tb=%d case %d: not the portable "   \
                  "rows' bits", isa, (long long)m, (long long)n, (long long)k, ta, tb, cs);   \
            memcpy(R, C0, sizeof(T) * m * n);                                                 \
        }                                                                                     \
        st2 = nn_gemm_naive_##SFX(R, A, B, m, n, k, ta, tb, alpha, beta, pe);                 \
        CHECK(st1 == NN_OK && st2 == NN_OK, "%s status %d %d", isa, st1, st2);                \
        for (i = 0; i < m && !bad; i++)                                                       \
            for (j = 0; j < n; j++) {                                                         \
                double s = fabs((double)beta * C0[i * n + j]) + fabs((double)bias[j]);        \
                for (p = 0; p < k; p++)                                                       \
                    s += fabs((double)alpha * (ta ? A[p * m + i] : A[i * k + p]) *            \
                              (tb ? B[j * k + p] : B[p * n + j]));                            \
                const double bound = TOL_ULPS * (double)(k + 2) * EPS * (s + 1.0);            \
                if (cs == 5 && fabs((double)D[i * n + j]) <= bound) continue;                 \
                if (!(fabs((double)C[i * n + j] - (double)R[i * n + j]) <= bound)) {          \
                    CHECK(0, "%s " #SFX " m=%lld n=%lld k=%lld ta=%d tb=%d case %d: C[%lld,%lld] " \
                          "%.17g, naive %.17g", isa, (long long)m, (long long)n, (long long)k, \
                          ta, tb, cs, (long long)i, (long long)j, (double)C[i * n + j],        \
                          (double)R[i * n + j]);                                              \
                    bad = 1;                                                                  \
                    break;                                                                    \
                }                                                                             \
            }                                                                                 \
        if (!bad) CHECK(1, "ok");                                                               \
        free(A), free(B), free(C), free(R), free(C0), free(D), free(bias);                    \
    }

DEFINE_CHECK(float, f32, (double)FLT_EPSILON)
DEFINE_CHECK(double, f64, DBL_EPSILON)

/* The digits step's products on 1, 2 and 3 threads: the same bits. */
#define DEFINE_THREADS(T, SFX)                                                                \
    static void threads_##SFX(const char *isa, int64_t m, int64_t n, int64_t k, int ta, int tb, \
                              int deriv)                                                      \
    {                                                                                         \
        T *A = malloc(sizeof(T) * m * k), *B = malloc(sizeof(T) * k * n);                     \
        T *C[3], *D = malloc(sizeof(T) * m * n), *bias = malloc(sizeof(T) * n);               \
        nn_epilogue_##SFX ep = {NULL, NN_ACT_RELU, NULL, NN_ACT_IDENTITY};                    \
        int64_t i;                                                                            \
        int t;                                                                                \
        for (i = 0; i < m * k; i++) A[i] = (T)uniform();                                      \
        for (i = 0; i < k * n; i++) B[i] = (T)uniform();                                      \
        for (i = 0; i < m * n; i++) D[i] = (T)uniform();                                      \
        for (i = 0; i < n; i++) bias[i] = (T)uniform();                                       \
        if (deriv) {                                                                          \
            ep.act = NN_ACT_IDENTITY;                                                         \
            ep.deriv_of = D;                                                                  \
            ep.deriv_act = NN_ACT_RELU;                                                       \
        } else {                                                                              \
            ep.bias = bias;                                                                   \
        }                                                                                     \
        for (t = 0; t < 3; t++) {                                                             \
            C[t] = malloc(sizeof(T) * m * n);                                                 \
            nn_set_num_threads(t + 1);                                                        \
            CHECK(nni_direct_gemm_##SFX(C[t], A, B, m, n, k, ta, tb, 1, 0, &ep) == NN_OK,     \
                  "%s status", isa);                                                          \
        }                                                                                     \
        CHECK(memcmp(C[0], C[1], sizeof(T) * m * n) == 0 &&                                   \
                  memcmp(C[0], C[2], sizeof(T) * m * n) == 0,                                 \
              "%s " #SFX " m=%lld n=%lld k=%lld: results differ between thread counts", isa,  \
              (long long)m, (long long)n, (long long)k);                                      \
        nn_set_num_threads(1);                                                                \
        for (t = 0; t < 3; t++) free(C[t]);                                                   \
        free(A), free(B), free(D), free(bias);                                                \
    }

DEFINE_THREADS(float, f32)
DEFINE_THREADS(double, f64)

/* Narrow C from A stored transposed (computed as its transpose, gemm_direct.c) against the
 * same product from A stored (m, k): the same bits, plain and with alpha 1/k, beta 1. */
#define DEFINE_NARROW(T, SFX)                                                                 \
    static void narrow_##SFX(const char *isa, int64_t m, int64_t n, int64_t k, int tb)        \
    {                                                                                         \
        T *A = malloc(sizeof(T) * m * k), *At = malloc(sizeof(T) * m * k);                    \
        T *B = malloc(sizeof(T) * k * n), *C = malloc(sizeof(T) * m * n);                     \
        T *R = malloc(sizeof(T) * m * n);                                                     \
        int64_t i, p;                                                                         \
        int acc;                                                                              \
        for (i = 0; i < m * k; i++) A[i] = (T)uniform();                                      \
        for (i = 0; i < m; i++)                                                               \
            for (p = 0; p < k; p++) At[p * m + i] = A[i * k + p];                             \
        for (i = 0; i < k * n; i++) B[i] = (T)uniform();                                      \
        for (acc = 0; acc < 2; acc++) {                                                       \
            const T alpha = acc ? (T)1 / (T)k : (T)1, beta = acc ? (T)1 : (T)0;               \
            for (i = 0; i < m * n; i++) C[i] = R[i] = (T)uniform();                           \
            CHECK(nni_direct_gemm_##SFX(C, At, B, m, n, k, 1, tb, alpha, beta, NULL) == NN_OK && \
                      nni_direct_gemm_##SFX(R, A, B, m, n, k, 0, tb, alpha, beta, NULL) == NN_OK, \
                  "%s status", isa);                                                          \
            CHECK(memcmp(C, R, sizeof(T) * m * n) == 0,                                       \
                  "%s " #SFX " m=%lld n=%lld k=%lld tb=%d beta=%d: A stored transposed "      \
                  "differs from A stored (m, k)", isa, (long long)m, (long long)n,            \
                  (long long)k, tb, acc);                                                     \
        }                                                                                     \
        free(A), free(At), free(B), free(C), free(R);                                         \
    }

DEFINE_NARROW(float, f32)
DEFINE_NARROW(double, f64)

/* The bias gradient's column sums against the scalar loop: the same bits, every width up to
 * and past 4 vectors, rows ld apart. */
#define DEFINE_COLSUMS(T, SFX)                                                                \
    static void colsums_##SFX(const char *isa, int64_t m, int64_t n)                          \
    {                                                                                         \
        const int64_t ld = n + 3;                                                             \
        T *X = malloc(sizeof(T) * m * ld), *s = malloc(sizeof(T) * n), *r = malloc(sizeof(T) * n); \
        int64_t i, j;                                                                         \
        for (i = 0; i < m * ld; i++) X[i] = (T)uniform();                                     \
        for (j = 0; j < n; j++) r[j] = 0;                                                     \
        for (i = 0; i < m; i++)                                                               \
            for (j = 0; j < n; j++) r[j] += X[i * ld + j];                                    \
        nni_column_sums_##SFX(s, X, m, n, ld);                                             \
        CHECK(memcmp(s, r, sizeof(T) * n) == 0, "%s " #SFX " column sums m=%lld n=%lld differ " \
              "from the scalar loop", isa, (long long)m, (long long)n);                       \
        free(X), free(s), free(r);                                                            \
    }

DEFINE_COLSUMS(float, f32)
DEFINE_COLSUMS(double, f64)

static void check_isa(const char *isa)
{
    int a, b, c, s, ta, tb, cs;
    for (ta = 0; ta < 2; ta++)
        for (tb = 0; tb < 2; tb++) {
            for (a = 0; a < N_SIZES; a++)
                for (b = 0; b < N_SIZES; b++)
                    for (c = 0; c < N_SIZES; c++) {
                        cs = (a + b + c) % N_CASES; /* each case over many shapes */
                        check_f32(isa, SIZES[a], SIZES[b], SIZES[c], ta, tb, cs);
                        check_f64(isa, SIZES[a], SIZES[b], SIZES[c], ta, tb, (cs + 3) % N_CASES);
                    }
            for (s = 0; s < N_SHAPES; s++)
                for (cs = 0; cs < N_CASES; cs++) {
                    check_f32(isa, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], ta, tb, cs);
                    check_f64(isa, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], ta, tb, cs);
                }
        }
    for (s = 0; s < 5; s++) {
        const int64_t *sh = SHAPES[s];
        /* forward (plain), dW (A^T), D1 (B^T with the derivative) */
        threads_f32(isa, sh[0], sh[1], sh[2], s == 2 || s == 4, s == 3, s == 3);
        threads_f64(isa, sh[0], sh[1], sh[2], s == 2 || s == 4, s == 3, s == 3);
    }
    for (s = 1; s <= 70; s += 3) {
        colsums_f32(isa, 200, s), colsums_f64(isa, 200, s);
        colsums_f32(isa, 1 + s % 5, s), colsums_f64(isa, 1 + s % 5, s);
    }
    for (s = 0; s < 2; s++) { /* dW of a 10-wide output layer, and odd narrow shapes */
        narrow_f32(isa, 64, 10, 200, s), narrow_f64(isa, 64, 10, 200, s);
        narrow_f32(isa, 100, 3, 97, s), narrow_f64(isa, 100, 3, 97, s);
        narrow_f32(isa, 257, 13, 33, s), narrow_f64(isa, 257, 15, 33, s);
    }
    threads_f64(isa, 300, 100, 60, 0, 0, 0); /* 3.6 MFLOP: split over the threads */
    threads_f32(isa, 260, 128, 56, 1, 0, 1);
    threads_f64(isa, 1000, 100, 64, 0, 0, 0);
    threads_f32(isa, 997, 33, 200, 1, 1, 1);
}

/* Which products are direct: small and mid-size ones with a short k and a small B; a C of at
 * most 8 rows from any k and B (one row of tiles reads B once) up to 1M multiply-adds, but for
 * B stored transposed. */
static void check_rule(void)
{
    CHECK(nni_direct_applies_f32(200, 100, 64, 0) && nni_direct_applies_f64(200, 100, 10, 1),
          "the digits step's products are direct");
    CHECK(!nni_direct_applies_f32(64, 256, 784, 0) && !nni_direct_applies_f32(9, 256, 784, 0),
          "a long k over many rows is blocked");
    CHECK(nni_direct_applies_f32(1, 256, 784, 0) && nni_direct_applies_f64(4, 256, 784, 0) &&
              nni_direct_applies_f32(8, 47, 2000, 0) && nni_direct_applies_f32(1, 128, 256, 0),
          "a few rows from a long k and a large B are direct");
    CHECK(!nni_direct_applies_f32(1, 256, 784, 1), "a few rows against a large B^T are not");
    CHECK(!nni_direct_applies_f32(5, 256, 784, 0) && !nni_direct_applies_f32(1, 2048, 2048, 0),
          "a few rows stay where the blocked path would run on one thread");
    CHECK(nni_direct_applies_f32(1, 10, 128, 0) && nni_direct_applies_f64(2, 3, 4, 0) &&
              nni_direct_applies_f32(32, 32, 32, 1) && nni_direct_applies_f32(128, 10, 16, 0),
          "the smallest products are direct");
    CHECK(!nni_direct_applies_f32(9, 3, 1000, 0) && !nni_direct_applies_f64(2, 100, 100, 1),
          "small products of a long k or a large B^T are not (gemm's direct loop)");
}

int main(void)
{
    static const char *names[] = {"avx512", "avx2", "neon", "portable"};
    int i, ran = 0;
    check_rule();
    for (i = 0; i < 4; i++) {
        if (nni_gemm_kernel_select(names[i]) != NN_OK) {
            printf("%s: not run on this CPU / build\n", names[i]);
            continue;
        }
        check_isa(names[i]);
        ran++;
        printf("%s: checked\n", names[i]);
    }
    CHECK(ran >= 1, "no kernel set ran");
    printf("%d checks, %d failures\n", g_checks, g_failures);
    if (!g_failures) printf("all direct product checks passed\n");
    return g_failures ? 1 : 0;
}
