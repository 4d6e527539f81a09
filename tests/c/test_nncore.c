/* Tests of the C core: GEMM against the naive loop, thread determinism, the random stream,
 * gradient checks by central differences, training, and the error codes.
 * Prints the largest difference of every failing comparison; exits nonzero on any failure. */
#include "nncore.h"
/* internal.h for the kernel table (gemm_kernels.h): the GEMM tests run once per kernel this CPU can run. */
#include "internal.h"

/* A should_stop callback that asks to stop on its fourth call (after three batches). */
static int stop_after_three(void *ctx)
{
    int *calls = (int *)ctx;
    return ++*calls > 3;
}

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#if defined(__linux__)
#include <unistd.h> /* access */
#endif

#define CHECK_STATUS(expr, want)                                                              \
    do {                                                                                      \
        int got_ = (expr);                                                                    \
        CHECK(got_ == (want), "%s returned %d (%s), want %d", #expr, got_, nn_strerror(got_), \
              (int)(want));                                                                   \
    } while (0)

/* Test data from the library's own stream: uniform in [lo, hi). */
static uint64_t g_data_rng = 12345;
static double draw(double lo, double hi) { return lo + (hi - lo) * nn_rng_uniform(&g_data_rng); }

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        printf("FAIL: test could not allocate %zu bytes\n", bytes);
        exit(2);
    }
    return p;
}

/* ---- the random stream --------------------------------------------------------------------- */
static void test_rng(void)
{
    /* SplitMix64 seeded with 0 (docs/semantics.md; python/nnfast/reference/rng.py) gives these */
    const double want[3] = {0.8833108082136426, 0.43152799704850997, 0.026433771592597743};
    uint64_t s = 0;
    int64_t order[10], seen[10] = {0}, i;
    for (i = 0; i < 3; i++) {
        const double u = nn_rng_uniform(&s);
        CHECK(u == want[i], "rng seed 0 uniform %d = %.17g, want %.17g", (int)i, u, want[i]);
    }
    s = 7;
    CHECK_STATUS(nn_rng_permutation(order, 10, &s), NN_OK);
    for (i = 0; i < 10; i++)
        if (order[i] >= 0 && order[i] < 10) seen[order[i]]++;
    for (i = 0; i < 10; i++) CHECK(seen[i] == 1, "permutation misses or repeats %d", (int)i);
    {
        /* the same draws by hand: order = 0..n-1, i = n-1..1, j = floor(u (i+1)) */
        int64_t ref[10];
        uint64_t s2 = 7;
        for (i = 0; i < 10; i++) ref[i] = i;
        for (i = 9; i >= 1; i--) {
            int64_t j = (int64_t)(nn_rng_uniform(&s2) * (double)(i + 1)), t = ref[i];
            ref[i] = ref[j];
            ref[j] = t;
        }
        CHECK(memcmp(ref, order, sizeof ref) == 0, "permutation differs from Fisher-Yates");
        CHECK(s == s2, "permutation drew a different number of values");
    }
}

/* ---- GEMM against the naive loop, per element type ---------------------------------------- */
/* Shapes not multiples of any block (MR 6 or 4, NR 4..32; the machine's MC, KC, NC, and tiny
 * ones set by the test): the direct loop (m n k <= 32^3), the direct kernels (a few rows from
 * a long k) and the packed path (a few rows past 1M multiply-adds too), edges in m, n and k
 * (k > KC, m > MC, n > NC), a single row or column, narrow C (the transposed path). */
static const int64_t g_shapes[][3] = {{1, 1, 1},      {7, 13, 5},    {67, 129, 131},
                                      {33, 5, 300},   {5, 300, 7},   {4, 8, 257},
                                      {1, 200, 3},    {130, 1, 9},   {146, 19, 259},
                                      {13, 4100, 3},  {1, 70, 600},  {290, 1, 300},
                                      {6, 16, 513},   {3, 700, 600}};
#define N_SHAPES ((int)(sizeof g_shapes / sizeof g_shapes[0]))

/* Epilogue variants: 0 none, 1 bias, 2..6 bias + act (identity step sigmoid tanh relu),
 * 7..10 derivative multiply (identity sigmoid tanh relu), 11 bias + tanh + derivative relu. */
#define N_EPILOGUES 12

#define DEFINE_GEMM_TESTS(T, S, TOL)                                                          \
    static void fill_##S(T *x, int64_t count, double lo, double hi)                           \
    {                                                                                         \
        int64_t i;                                                                            \
        for (i = 0; i < count; i++) x[i] = (T)draw(lo, hi);                                   \
    }                                                                                         \
    /* Largest |got - want| / (1 + |want|); NaN in either counts as infinite. */               \
    static double max_rel_diff_##S(const T *got, const T *want, int64_t count)                \
    {                                                                                         \
        double worst = 0;                                                                     \
        int64_t i;                                                                            \
        for (i = 0; i < count; i++) {                                                         \
            double d = fabs((double)got[i] - (double)want[i]) / (1 + fabs((double)want[i]));  \
            if (d != d) d = INFINITY;                                                         \
            if (d > worst) worst = d;                                                         \
        }                                                                                     \
        return worst;                                                                         \
    }                                                                                         \
    static void set_epilogue_##S(nn_epilogue_##S *ep, int variant, const T *bias,             \
                                 const T *deriv_of)                                           \
    {                                                                                         \
        static const nn_act acts[5] = {NN_ACT_IDENTITY, NN_ACT_STEP, NN_ACT_SIGMOID,          \
                                       NN_ACT_TANH, NN_ACT_RELU};                             \
        static const nn_act dacts[4] = {NN_ACT_IDENTITY, NN_ACT_SIGMOID, NN_ACT_TANH,         \
                                        NN_ACT_RELU};                                         \
        ep->bias = NULL;                                                                      \
        ep->act = NN_ACT_IDENTITY;                                                            \
        ep->deriv_of = NULL;                                                                  \
        ep->deriv_act = NN_ACT_IDENTITY;                                                      \
        if (variant >= 1 && variant <= 6) ep->bias = bias;                                    \
        if (variant >= 2 && variant <= 6) ep->act = acts[variant - 2];                        \
        if (variant >= 7 && variant <= 10) {                                                  \
            ep->deriv_of = deriv_of;                                                          \
            ep->deriv_act = dacts[variant - 7];                                               \
        }                                                                                     \
        if (variant == 11) {                                                                  \
            ep->bias = bias;                                                                  \
            ep->act = NN_ACT_TANH;                                                            \
            ep->deriv_of = deriv_of;                                                          \
            ep->deriv_act = NN_ACT_RELU;                                                      \
        }                                                                                     \
    }                                                                                         \
    static void test_gemm_##S(void)                                                           \
    {                                                                                         \
        static const double ab[3][2] = {{1, 0}, {0.5, 0}, {1.5, -0.75}};                      \
        int sh, ta, tb, v, e;                                                                 \
        double worst_all = 0;                                                                 \
        for (sh = 0; sh < N_SHAPES; sh++) {                                                   \
            const int64_t m = g_shapes[sh][0], n = g_shapes[sh][1], k = g_shapes[sh][2];      \
            /* both sides round once per term: the error bound grows linearly with k */       \
            const double tol = (TOL) * (1.0 + (double)k / 256.0);                             \
            T *A = (T *)xmalloc((size_t)(m * k) * sizeof(T));                                 \
            T *B = (T *)xmalloc((size_t)(k * n) * sizeof(T));                                 \
            T *C0 = (T *)xmalloc((size_t)(m * n) * sizeof(T));                                \
            T *C1 = (T *)xmalloc((size_t)(m * n) * sizeof(T));                                \
            T *C2 = (T *)xmalloc((size_t)(m * n) * sizeof(T));                                \
            T *D = (T *)xmalloc((size_t)(m * n) * sizeof(T));                                 \
            T *bias = (T *)xmalloc((size_t)n * sizeof(T));                                    \
            fill_##S(A, m * k, -1, 1);                                                        \
            fill_##S(B, k * n, -1, 1);                                                        \
            fill_##S(C0, m * n, -1, 1);                                                       \
            fill_##S(bias, n, -1, 1);                                                         \
            /* deriv_of: outputs of an activation, in (-1, 1) so every derivative is used */  \
            fill_##S(D, m * n, -0.95, 0.95);                                                  \
            for (ta = 0; ta < 2; ta++)                                                        \
                for (tb = 0; tb < 2; tb++)                                                    \
                    for (v = 0; v < 3; v++)                                                   \
                        for (e = 0; e < N_EPILOGUES; e++) {                                   \
                            nn_epilogue_##S ep;                                               \
                            const T alpha = (T)ab[v][0], beta = (T)ab[v][1];                  \
                            int64_t i;                                                        \
                            double d;                                                         \
                            int st1, st2;                                                     \
                            set_epilogue_##S(&ep, e, bias, D);                                \
                            for (i = 0; i < m * n; i++) {                                     \
                                /* beta == 0: C must never be read, so fill it with NaN */    \
                                C1[i] = beta == 0 ? (T)NAN : C0[i];                           \
                                C2[i] = C1[i];                                                \
                            }                                                                 \
                            st1 = nn_gemm_##S(C1, A, B, m, n, k, ta, tb, alpha, beta, &ep);   \
                            st2 = nn_gemm_naive_##S(C2, A, B, m, n, k, ta, tb, alpha, beta,   \
                                                    &ep);                                     \
                            d = max_rel_diff_##S(C1, C2, m * n);                              \
                            if (d > worst_all) worst_all = d;                                 \
                            CHECK(st1 == NN_OK && st2 == NN_OK && d <= tol,                   \
                                  #S " gemm %lldx%lldx%lld ta=%d tb=%d alpha=%g beta=%g "     \
                                     "epilogue=%d: status %d/%d, largest rel diff %.3g > %g", \
                                  (long long)m, (long long)n, (long long)k, ta, tb,           \
                                  (double)alpha, (double)beta, e, st1, st2, d, tol);          \
                        }                                                                     \
            free(A);                                                                          \
            free(B);                                                                          \
            free(C0);                                                                         \
            free(C1);                                                                         \
            free(C2);                                                                         \
            free(D);                                                                          \
            free(bias);                                                                       \
        }                                                                                     \
        printf("gemm " #S ": largest rel diff vs naive %.3g (tolerance %g (1 + k/256))\n",    \
               worst_all, (double)(TOL));                                                     \
    }                                                                                         \
    /* The same product with 1, 2 and 3 threads must be bit-identical: split by columns, by  \
     * rows, and transposed (n = 10), each with a shared packed operand. */                   \
    static void test_gemm_threads_##S(void)                                                   \
    {                                                                                         \
        static const int64_t shapes[4][3] = {{300, 257, 511}, {700, 10, 300},                 \
                                             {1000, 60, 64}, {64, 256, 784}};                 \
        int sh, ta, tb, nt;                                                                   \
        for (sh = 0; sh < 4; sh++) {                                                          \
            const int64_t m = shapes[sh][0], n = shapes[sh][1], k = shapes[sh][2];            \
            T *A = (T *)xmalloc((size_t)(m * k) * sizeof(T));                                 \
            T *B = (T *)xmalloc((size_t)(k * n) * sizeof(T));                                 \
            T *C1 = (T *)xmalloc((size_t)(m * n) * sizeof(T));                                \
            T *C2 = (T *)xmalloc((size_t)(m * n) * sizeof(T));                                \
            T *D = (T *)xmalloc((size_t)(m * n) * sizeof(T));                                 \
            T *bias = (T *)xmalloc((size_t)n * sizeof(T));                                    \
            fill_##S(A, m * k, -1, 1);                                                        \
            fill_##S(B, k * n, -1, 1);                                                        \
            fill_##S(D, m * n, -0.9, 0.9);                                                    \
            fill_##S(bias, n, -1, 1);                                                         \
            for (ta = 0; ta < 2; ta++)                                                        \
                for (tb = 0; tb < 2; tb++)                                                    \
                    for (nt = 2; nt <= 3; nt++) {                                             \
                        nn_epilogue_##S ep = {bias, NN_ACT_TANH, D, NN_ACT_TANH};             \
                        nn_set_num_threads(1);                                                \
                        CHECK_STATUS(nn_gemm_##S(C1, A, B, m, n, k, ta, tb, 1, 0, &ep), NN_OK); \
                        nn_set_num_threads(nt);                                               \
                        CHECK_STATUS(nn_gemm_##S(C2, A, B, m, n, k, ta, tb, 1, 0, &ep), NN_OK); \
                        CHECK(memcmp(C1, C2, (size_t)(m * n) * sizeof(T)) == 0,               \
                              #S " gemm %lldx%lldx%lld ta=%d tb=%d differs between 1 and %d " \
                                 "threads (largest rel diff %.3g)",                           \
                              (long long)m, (long long)n, (long long)k, ta, tb, nt,           \
                              max_rel_diff_##S(C1, C2, m * n));                               \
                    }                                                                         \
            free(A);                                                                          \
            free(B);                                                                          \
            free(C1);                                                                         \
            free(C2);                                                                         \
            free(D);                                                                          \
            free(bias);                                                                       \
        }                                                                                     \
        nn_set_num_threads(0);                                                                \
    }

DEFINE_GEMM_TESTS(float, f32, 1e-5)
DEFINE_GEMM_TESTS(double, f64, 1e-13)

/* ---- float activations (vectorized with some kernel sets) against double-precision math -- */
/* The spacing of floats at |v| (the subnormal spacing below FLT_MIN). */
static double ulp_f32(double v)
{
    const float f = (float)fabs(v);
    if (f < 1.17549435e-38f) return ldexp(1.0, -149);
    return (double)nextafterf(f, INFINITY) - (double)f;
}

/* sigmoid, tanh and softmax (through exp) in float within 2.4 ulp of the exact value (computed
 * in double) over [-90, 90] step 2^-10, which crosses the vector paths' libm fallback at
 * |x| = 80; infinities and NaN as libm's. Prints the largest error in ulp. */
static void test_float_activations(void)
{
    const int64_t n = 180 * 1024 + 1;
    float *Z = (float *)xmalloc((size_t)n * sizeof(float));
    float *A = (float *)xmalloc((size_t)n * sizeof(float));
    float row[2], out[2];
    const float special[5] = {INFINITY, -INFINITY, NAN, 0.0f, -0.0f};
    double worst_sig = 0, worst_tanh = 0, worst_soft = 0;
    int64_t i;
    for (i = 0; i < n; i++) Z[i] = (float)(-90.0 + (double)i / 1024.0);
    CHECK_STATUS(nn_activation_forward_f32(A, Z, 1, n, NN_ACT_SIGMOID), NN_OK);
    for (i = 0; i < n; i++) {
        const double ref = 1.0 / (1.0 + exp(-(double)Z[i]));
        const double e = fabs((double)A[i] - ref) / ulp_f32(ref);
        if (!(e <= worst_sig)) worst_sig = e;
    }
    CHECK_STATUS(nn_activation_forward_f32(A, Z, 1, n, NN_ACT_TANH), NN_OK);
    for (i = 0; i < n; i++) {
        const double ref = tanh((double)Z[i]);
        const double e = fabs((double)A[i] - ref) / ulp_f32(ref);
        if (!(e <= worst_tanh)) worst_tanh = e;
    }
    /* softmax of (x, 0): e^x / (e^x + 1), so exp over the whole range */
    for (i = 0; i < n; i += 7) {
        double ref, e;
        row[0] = Z[i];
        row[1] = 0;
        CHECK_STATUS(nn_activation_forward_f32(out, row, 1, 2, NN_ACT_SOFTMAX), NN_OK);
        ref = 1.0 / (1.0 + exp(-(double)Z[i]));
        e = fabs((double)out[0] - ref) / ulp_f32(ref);
        if (!(e <= worst_soft)) worst_soft = e;
    }
    printf("float activations: largest error sigmoid %.2f ulp, tanh %.2f ulp, softmax %.2f ulp\n",
           worst_sig, worst_tanh, worst_soft);
    /* measured: sigmoid 2.35, tanh 1.21 (libm 2.07 in test_vecmath), softmax 2.22 ulp;
     * test_vecmath.c measures each set over finer sweeps (sigmoid_f32 up to 2.57) */
    CHECK(worst_sig <= 2.4 && worst_tanh <= 2.4 && worst_soft <= 2.4,
          "float activations beyond 2.4 ulp: sigmoid %.3g tanh %.3g softmax %.3g", worst_sig,
          worst_tanh, worst_soft);
    /* specials, in a block of 8 and in a short tail */
    for (i = 0; i < 13; i++) Z[i] = special[i % 5];
    CHECK_STATUS(nn_activation_forward_f32(A, Z, 1, 13, NN_ACT_SIGMOID), NN_OK);
    for (i = 0; i < 13; i++) {
        const float want = i % 5 == 0 ? 1.0f : i % 5 == 1 ? 0.0f : i % 5 == 2 ? NAN : 0.5f;
        CHECK(i % 5 == 2 ? A[i] != A[i] : A[i] == want, "sigmoid(%g) = %g, want %g",
              (double)Z[i], (double)A[i], (double)want);
    }
    CHECK_STATUS(nn_activation_forward_f32(A, Z, 1, 13, NN_ACT_TANH), NN_OK);
    for (i = 0; i < 13; i++) {
        const float want = i % 5 == 0 ? 1.0f : i % 5 == 1 ? -1.0f : i % 5 == 2 ? NAN : Z[i];
        CHECK(i % 5 == 2 ? A[i] != A[i] : (A[i] == want && signbit(A[i]) == signbit(want)),
              "tanh(%g) = %g, want %g", (double)Z[i], (double)A[i], (double)want);
    }
    free(Z);
    free(A);
}

/* The optimizer steps of the selected kernel set (optim_step_<isa>.c, in wider vectors) give
 * the bits of the portable set's (optim.c's baseline loops): sgd with momentum, nesterov and
 * adam, through the public updates (over the pool past 16384 elements; the training step's
 * entry, optim_step_elems, takes the same sgd_elems / adam_elems), on lengths that end inside
 * a vector, from an offset that is not a vector's. The portable set runs first and records
 * the expected bits. */
#define OPT_N 40013
#define OPT_CASES 4 /* sgd momentum, nesterov, adam; sgd momentum on a short vector */
#define DEFINE_OPTIM_BITS_TEST(T, S)                                                          \
    static void test_optim_bits_##S(int record)                                                \
    {                                                                                         \
        static T want[OPT_CASES][3][OPT_N];                                                   \
        static T w[OPT_N], s1[OPT_N], s2[OPT_N], g[OPT_N];                                    \
        int cs, i;                                                                             \
        for (cs = 0; cs < OPT_CASES; cs++) {                                                   \
            uint64_t rng = 99 + (uint64_t)cs;                                                  \
            const int64_t n = cs == 3 ? 1001 : OPT_N, off = 3;                                 \
            for (i = 0; i < OPT_N; i++) {                                                      \
                w[i] = (T)(nn_rng_uniform(&rng) - 0.5);                                        \
                s1[i] = (T)(0.1 * (nn_rng_uniform(&rng) - 0.5));                               \
                s2[i] = (T)(0.01 * nn_rng_uniform(&rng));                                      \
                g[i] = (T)(nn_rng_uniform(&rng) - 0.5);                                        \
            }                                                                                 \
            if (cs != 2) {                                                                     \
                CHECK_STATUS(nn_sgd_update_##S(w + off, s1 + off, g + off, n - off, 0.05, 0.9, \
                                               cs == 1),                                       \
                             NN_OK);                                                           \
            } else {                                                                           \
                CHECK_STATUS(nn_adam_update_##S(w + off, s1 + off, s2 + off, g + off, n - off, \
                                                7, 1e-3, 0.9, 0.999, 1e-8),                    \
                             NN_OK);                                                           \
            }                                                                                 \
            if (record) {                                                                      \
                memcpy(want[cs][0], w, sizeof w);                                              \
                memcpy(want[cs][1], s1, sizeof s1);                                            \
                memcpy(want[cs][2], s2, sizeof s2);                                            \
                continue;                                                                      \
            }                                                                                 \
            CHECK(memcmp(want[cs][0], w, sizeof w) == 0 &&                                     \
                      memcmp(want[cs][1], s1, sizeof s1) == 0 &&                               \
                      memcmp(want[cs][2], s2, sizeof s2) == 0,                                 \
                  #S " optimizer case %d: kernel %s's step differs from the portable bits", cs, \
                  nni_gemm_kernel_get()->name);                                                \
        }                                                                                     \
    }
DEFINE_OPTIM_BITS_TEST(float, f32)
DEFINE_OPTIM_BITS_TEST(double, f64)

/* The GEMM tests for every kernel this build and CPU can run (each selected in turn), then
 * back to the default choice. The names are NNFAST_GEMM_KERNEL's values (dispatch.c). */
static void test_gemm_each_kernel(void)
{
    static const char *const names[] = {"portable", "avx2", "avx512", "neon"};
    const nni_gemm_kernel *dflt = nni_gemm_kernel_get();
    const uint64_t data_rng = g_data_rng; /* later tests draw the same data however many run */
    int i, ran = 0;
    for (i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        const nni_gemm_kernel *kr;
        if (nni_gemm_kernel_select(names[i]) != NN_OK) {
            printf("gemm kernel %s: not available on this build and CPU\n", names[i]);
            continue;
        }
        kr = nni_gemm_kernel_get();
        CHECK(strcmp(kr->name, names[i]) == 0, "selected kernel %s, got %s", names[i], kr->name);
        printf("gemm kernel %s (%s, %s)\n", kr->name, kr->label_f32, kr->label_f64);
        test_gemm_f32();
        test_gemm_f64();
        test_gemm_threads_f32();
        test_gemm_threads_f64();
        /* tiny blocks: every shape crosses the mc, kc and nc edges, on 1 and 2 threads */
        nni_gemm_blocking_set(13, 37, 70);
        test_gemm_f32();
        test_gemm_f64();
        test_gemm_threads_f32();
        test_gemm_threads_f64();
        nni_gemm_blocking_set(0, 0, 0);
        test_float_activations();
        test_optim_bits_f32(strcmp(kr->name, "portable") == 0);
        test_optim_bits_f64(strcmp(kr->name, "portable") == 0);
        ran++;
    }
    CHECK(ran >= 1 && nni_gemm_kernel_select("portable") == NN_OK,
          "the portable kernel must always be available");
    CHECK(nni_gemm_kernel_select("no-such-kernel") == NN_EINVAL, "unknown kernel accepted");
    CHECK(nni_gemm_kernel_select(dflt->name) == NN_OK && nni_gemm_kernel_get() == dflt,
          "could not restore the default kernel %s", dflt->name);
    g_data_rng = data_rng;
}

/* ---- activations and losses on extreme but finite input --------------------------------- */
static void test_activations_losses(void)
{
    /* one row of 3 logits, hand-checked: softmax(1000, 0, -1000) = (1, e^-1000, 0) */
    double z[3] = {1000, 0, -1000}, a[3], y[3] = {1, 0, 0}, g[3] = {1, 2, 3}, go[3], loss;
    double zb[2] = {1000, -1000}, ab[2], yb[2] = {0, 1};
    int i;
    CHECK_STATUS(nn_activation_forward_f64(a, z, 1, 3, NN_ACT_SOFTMAX), NN_OK);
    CHECK(a[0] == 1 && a[2] == 0 && isfinite(a[1]), "softmax of +-1000: %g %g %g", a[0], a[1],
          a[2]);
    /* ce: lse(z) - z_0 = 1000 + log(1 + e^-1000 + e^-2000) - 1000 = 0 */
    CHECK_STATUS(nn_loss_f64(&loss, z, a, y, 1, 3, NN_LOSS_CE), NN_OK);
    CHECK(loss == 0, "ce at the right class with logit 1000: %g, want 0", loss);
    y[0] = 0;
    y[2] = 1; /* the wrong class: lse(z) - z_2 = 1000 + 1000 = 2000 */
    CHECK_STATUS(nn_loss_f64(&loss, z, a, y, 1, 3, NN_LOSS_CE), NN_OK);
    CHECK(fabs(loss - 2000) < 1e-9, "ce at the wrong class: %.17g, want 2000", loss);
    /* sigmoid(1000) = 1, sigmoid(-1000) = e^-1000 / (1 + e^-1000) = 0, no overflow */
    CHECK_STATUS(nn_activation_forward_f64(ab, zb, 1, 2, NN_ACT_SIGMOID), NN_OK);
    CHECK(ab[0] == 1 && ab[1] == 0, "sigmoid(+-1000) = %g %g", ab[0], ab[1]);
    /* bce: softplus(1000) - 0 + softplus(-1000) - (-1000) = 1000 + 0 + 1000 = 2000 */
    CHECK_STATUS(nn_loss_f64(&loss, zb, ab, yb, 1, 2, NN_LOSS_BCE), NN_OK);
    CHECK(fabs(loss - 2000) < 1e-9, "bce of +-1000 logits: %.17g, want 2000", loss);
    /* bce at z = 0, y = 1: softplus(0) = log 2 */
    zb[0] = 0;
    yb[0] = 1;
    CHECK_STATUS(nn_loss_f64(&loss, zb, ab, yb, 1, 1, NN_LOSS_BCE), NN_OK);
    CHECK(fabs(loss - log(2.0)) < 1e-15, "bce(0, 1) = %.17g, want log 2", loss);
    /* softmax JVP: a = (0.5, 0.25, 0.25), g = (1, 2, 3): sum g a = 1.75;
     * go = (0.5 * -0.75, 0.25 * 0.25, 0.25 * 1.25) = (-0.375, 0.0625, 0.3125) */
    a[0] = 0.5;
    a[1] = 0.25;
    a[2] = 0.25;
    CHECK_STATUS(nn_activation_backward_f64(go, a, g, 1, 3, NN_ACT_SOFTMAX), NN_OK);
    CHECK(go[0] == -0.375 && go[1] == 0.0625 && go[2] == 0.3125, "softmax JVP %g %g %g", go[0],
          go[1], go[2]);
    /* f32: the same extremes stay finite */
    {
        float zf[3] = {1000, 0, -1000}, af[3], yf[3] = {0, 0, 1};
        CHECK_STATUS(nn_activation_forward_f32(af, zf, 1, 3, NN_ACT_SOFTMAX), NN_OK);
        CHECK_STATUS(nn_loss_f32(&loss, zf, af, yf, 1, 3, NN_LOSS_CE), NN_OK);
        CHECK(fabs(loss - 2000) < 1e-3, "f32 ce of +-1000 logits: %g", loss);
        CHECK_STATUS(nn_activation_forward_f32(af, zf, 1, 3, NN_ACT_SIGMOID), NN_OK);
        for (i = 0; i < 3; i++) CHECK(isfinite(af[i]), "f32 sigmoid not finite");
    }
}

/* ---- nets for the gradient checks and training ------------------------------------------- */
typedef struct {
    const char *name;
    nn_act hidden, output;
    nn_loss loss;
} net_case;

static const int64_t g_sizes[4] = {3, 5, 4, 2};
static const net_case g_cases[] = {
    {"tanh hidden, softmax + ce", NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CE},
    {"sigmoid hidden, sigmoid + bce", NN_ACT_SIGMOID, NN_ACT_SIGMOID, NN_LOSS_BCE},
    {"tanh hidden, identity + mse", NN_ACT_TANH, NN_ACT_IDENTITY, NN_LOSS_MSE},
    {"relu hidden, sigmoid + mse", NN_ACT_RELU, NN_ACT_SIGMOID, NN_LOSS_MSE},
    {"tanh hidden, softmax + mse", NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_MSE},
    {"identity hidden, tanh + mse", NN_ACT_IDENTITY, NN_ACT_TANH, NN_LOSS_MSE},
};
#define N_CASES ((int)(sizeof g_cases / sizeof g_cases[0]))

/* Targets for n rows of K outputs: one-hot (ce), 0/1 (bce), values in (-1, 1) (mse). */
static void make_targets(double *Y, int64_t n, int64_t K, nn_loss loss)
{
    int64_t i, j;
    for (i = 0; i < n; i++) {
        const int64_t cls = (int64_t)(draw(0, 1) * (double)K);
        for (j = 0; j < K; j++) {
            if (loss == NN_LOSS_CE) Y[i * K + j] = j == cls ? 1 : 0;
            else if (loss == NN_LOSS_BCE) Y[i * K + j] = draw(0, 1) < 0.5 ? 0 : 1;
            else Y[i * K + j] = draw(-0.9, 0.9);
        }
    }
}

/* Central differences on every parameter of nn_loss_gradient_f64 with alpha > 0. */
static void test_gradcheck(void)
{
    const int64_t n = 6;
    const double alpha = 0.3, h = 1e-6;
    double X[6 * 3], Y[6 * 2], params[64], grads[64], loss, lp, lm, worst = 0, gmax = 0;
    int c;
    for (c = 0; c < N_CASES; c++) {
        nn_net net = {3, g_sizes, g_cases[c].hidden, g_cases[c].output, g_cases[c].loss, NULL,
                      NULL, 0.0};
        int64_t n_params = 0, i;
        uint64_t seed = 42 + (uint64_t)c;
        worst = 0;
        gmax = 0;
        CHECK_STATUS(nn_net_check(&net, &n_params), NN_OK);
        CHECK(n_params == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2, "n_params %lld", (long long)n_params);
        CHECK_STATUS(nn_init_params_f64(params, &net, NN_INIT_GLOROT, &seed), NN_OK);
        for (i = 0; i < n * 3; i++) X[i] = draw(-2, 2);
        make_targets(Y, n, 2, net.loss);
        CHECK_STATUS(nn_loss_gradient_f64(&loss, grads, params, &net, X, Y, n, alpha), NN_OK);
        for (i = 0; i < n_params; i++) {
            const double keep = params[i];
            double num, d;
            params[i] = keep + h;
            nn_loss_gradient_f64(&lp, NULL, params, &net, X, Y, n, alpha);
            params[i] = keep - h;
            nn_loss_gradient_f64(&lm, NULL, params, &net, X, Y, n, alpha);
            params[i] = keep;
            num = (lp - lm) / (2 * h);
            d = fabs(num - grads[i]) / (1 + fabs(num));
            if (d > worst) worst = d;
            if (fabs(grads[i]) > gmax) gmax = fabs(grads[i]);
        }
        CHECK(worst < 1e-7, "gradcheck %s: largest rel diff %.3g", g_cases[c].name, worst);
        CHECK(gmax > 1e-3, "gradcheck %s: gradient is all (near) zero, max %.3g",
              g_cases[c].name, gmax);
        /* the loss from loss_gradient with grads == NULL is the same number */
        CHECK_STATUS(nn_loss_gradient_f64(&lp, NULL, params, &net, X, Y, n, alpha), NN_OK);
        CHECK(lp == loss, "loss with and without grads differ: %.17g %.17g", lp, loss);
        printf("gradcheck %-32s largest rel diff %.3g, max |g| %.3g\n", g_cases[c].name, worst,
               gmax);
    }
}

/* forward in chunks (n > 256 rows) equals the one-row forward of each row, bit for bit;
 * glorot's first value is (2u - 1) * sqrt(6 / (3 + 5)) with u the seed's first uniform. */
static void test_forward_init(void)
{
    const int64_t n = 600;
    nn_net net = {3, g_sizes, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CE, NULL, NULL, 0.0};
    double params[64], *X = (double *)xmalloc(n * 3 * sizeof(double));
    double *out = (double *)xmalloc(n * 2 * sizeof(double)), row[2];
    float paramsf[64], Xf[3 * 3], outf[3 * 2];
    uint64_t seed = 0;
    int64_t i, bad = 0;
    CHECK_STATUS(nn_init_params_f64(params, &net, NN_INIT_GLOROT, &seed), NN_OK);
    CHECK(params[0] == (2 * 0.8833108082136426 - 1) * sqrt(6.0 / 8.0), "glorot first value %.17g",
          params[0]);
    for (i = 0; i < n * 3; i++) X[i] = draw(-2, 2);
    CHECK_STATUS(nn_forward_f64(out, params, &net, X, n), NN_OK);
    for (i = 0; i < n; i++) {
        nn_forward_f64(row, params, &net, X + i * 3, 1);
        if (row[0] != out[i * 2] || row[1] != out[i * 2 + 1]) bad++;
    }
    CHECK(bad == 0, "forward of %lld rows differs from row-by-row forward in %lld rows",
          (long long)n, (long long)bad);
    seed = 0;
    CHECK_STATUS(nn_init_params_f32(paramsf, &net, NN_INIT_ZEROS, &seed), NN_OK);
    CHECK(seed == 0, "zeros init drew from the stream");
    for (i = 0; i < 9; i++) Xf[i] = (float)draw(-1, 1);
    CHECK_STATUS(nn_forward_f32(outf, paramsf, &net, Xf, 3), NN_OK);
    CHECK(outf[0] == 0.5f && outf[5] == 0.5f, "zero net softmax output %g %g", outf[0], outf[5]);
    free(X);
    free(out);
}

/* ---- training ------------------------------------------------------------------------------ */
typedef struct {
    const char *name;
    nn_opt opt;
    double lr, momentum;
    int nesterov;
} opt_case;

static void test_training(void)
{
    static const opt_case opts[] = {{"sgd", NN_OPT_SGD, 0.1, 0, 0},
                                    {"momentum", NN_OPT_SGD, 0.02, 0.9, 0},
                                    {"nesterov", NN_OPT_SGD, 0.02, 0.9, 1},
                                    {"adam", NN_OPT_ADAM, 0.01, 0, 0}};
    static const int64_t batches[] = {1, 7, 40}; /* 40 = 5 * 7 + 5: a short last batch */
    const int64_t n = 40;
    nn_net net = {3, g_sizes, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CE, NULL, NULL, 0.0};
    double X[40 * 3], Y[40 * 2], params[64];
    int64_t i, o, b;
    int shuffle;
    /* a learnable rule: class 1 when x0 + x1 - x2 > 0 */
    for (i = 0; i < n; i++) {
        X[i * 3] = draw(-1, 1);
        X[i * 3 + 1] = draw(-1, 1);
        X[i * 3 + 2] = draw(-1, 1);
        Y[i * 2 + 1] = X[i * 3] + X[i * 3 + 1] - X[i * 3 + 2] > 0 ? 1 : 0;
        Y[i * 2] = 1 - Y[i * 2 + 1];
    }
    for (o = 0; o < 4; o++)
        for (b = 0; b < 3; b++)
            for (shuffle = 0; shuffle < 2; shuffle++) {
                nn_fit_config cfg;
                nn_workspace_f64 *ws = NULL;
                uint64_t seed = 3, before;
                double first = 0, last = 0, el = 0;
                int e, st = NN_OK;
                memset(&cfg, 0, sizeof cfg);
                cfg.optimizer = opts[o].opt;
                cfg.lr = opts[o].lr;
                cfg.momentum = opts[o].momentum;
                cfg.nesterov = opts[o].nesterov;
                cfg.beta1 = 0.9;
                cfg.beta2 = 0.999;
                cfg.epsilon = 1e-8;
                cfg.alpha = 1e-3;
                cfg.shuffle = shuffle;
                nn_init_params_f64(params, &net, NN_INIT_GLOROT, &seed);
                CHECK_STATUS(nn_workspace_create_f64(&ws, &net, n, batches[b], opts[o].opt),
                             NN_OK);
                if (!ws) continue;
                for (e = 0; e < 40 && st == NN_OK; e++) {
                    before = seed;
                    st = nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, n, &seed);
                    if (e == 0) first = el;
                    last = el;
                    if (!shuffle) CHECK(seed == before, "no shuffle but the stream moved");
                    if (shuffle && e == 0) CHECK(seed != before, "shuffle drew nothing");
                }
                CHECK(st == NN_OK && isfinite(last) && last < 0.8 * first,
                      "train %s batch %lld shuffle %d: status %d, loss %.4g -> %.4g",
                      opts[o].name, (long long)batches[b], shuffle, st, first, last);
                nn_workspace_free_f64(ws);
            }

    /* train_epochs = repeated train_epoch; should_stop interrupts between batches */
    {
        nn_fit_config cfg = {NN_OPT_SGD, 0.1, 0.5, 0, 0.9, 0.999, 1e-8, 0.01, 1, NULL, NULL, NULL, 0, NN_PRODUCTS_NATIVE};
        nn_workspace_f64 *ws = NULL, *ws2 = NULL;
        double p1[64], p2[64], curve[5], el;
        uint64_t s1 = 5, s2 = 5;
        int64_t done = -1, e, i, np_;
        int calls = 0;
        CHECK_STATUS(nn_net_check(&net, &np_), NN_OK);
        CHECK(np_ <= 64, "test net too large for the buffers");
        CHECK_STATUS(nn_init_params_f64(p1, &net, NN_INIT_GLOROT, &s1), NN_OK);
        memcpy(p2, p1, sizeof p1);
        s2 = s1;
        CHECK_STATUS(nn_workspace_create_f64(&ws, &net, 40, 8, NN_OPT_SGD), NN_OK);
        CHECK_STATUS(nn_workspace_create_f64(&ws2, &net, 40, 8, NN_OPT_SGD), NN_OK);
        CHECK_STATUS(nn_train_epochs_f64(p1, curve, &done, ws, &net, &cfg, X, Y, 40, 5, &s1), NN_OK);
        CHECK(done == 5, "train_epochs did not count 5 epochs");
        for (e = 0; e < 5; e++) {
            CHECK_STATUS(nn_train_epoch_f64(p2, &el, ws2, &net, &cfg, X, Y, 40, &s2), NN_OK);
            CHECK(el == curve[e], "train_epochs loss differs from train_epoch");
        }
        for (i = 0; i < np_; i++) CHECK(p1[i] == p2[i], "train_epochs params differ");
        CHECK(s1 == s2, "train_epochs stream differs");
        cfg.should_stop = stop_after_three;
        cfg.stop_ctx = &calls;
        CHECK_STATUS(nn_train_epochs_f64(p1, curve, &done, ws, &net, &cfg, X, Y, 40, 5, &s1), NN_EINTR);
        CHECK(done == 0 && calls == 4, "should_stop was not called between batches");
        nn_workspace_free_f64(ws);
        nn_workspace_free_f64(ws2);
    }

    /* full batch, plain sgd, no shuffle: one epoch = params - lr * grads of loss_gradient,
     * and the epoch loss is the loss before the update, bit for bit */
    {
        nn_fit_config cfg = {NN_OPT_SGD, 0.1, 0, 0, 0.9, 0.999, 1e-8, 0.01, 0, NULL, NULL, NULL, 0, NN_PRODUCTS_NATIVE};
        nn_workspace_f64 *ws = NULL;
        double grads[64], expect[64], loss, el;
        uint64_t seed = 9;
        int64_t n_params;
        nn_net_check(&net, &n_params);
        nn_init_params_f64(params, &net, NN_INIT_GLOROT, &seed);
        nn_loss_gradient_f64(&loss, grads, params, &net, X, Y, n, cfg.alpha);
        for (i = 0; i < n_params; i++) expect[i] = params[i] + (0 * 0 - cfg.lr * grads[i]);
        CHECK_STATUS(nn_workspace_create_f64(&ws, &net, n, n, NN_OPT_SGD), NN_OK);
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, n, &seed), NN_OK);
        /* epoch_loss = (batch loss * rows) / n, rounded like that */
        CHECK(el == loss * 40 / 40, "epoch loss %.17g != loss before the step %.17g", el, loss);
        CHECK(memcmp(params, expect, (size_t)n_params * sizeof(double)) == 0,
              "one full-batch sgd epoch differs from params - lr * gradient");
        nn_workspace_free_f64(ws);
    }

    /* float32 trains too */
    {
        nn_fit_config cfg = {NN_OPT_ADAM, 0.01, 0, 0, 0.9, 0.999, 1e-8, 0, 1, NULL, NULL, NULL, 0, NN_PRODUCTS_NATIVE};
        nn_workspace_f32 *ws = NULL;
        float Xf[40 * 3], Yf[40 * 2], pf[64];
        double first = 0, el = 0;
        uint64_t seed = 5;
        int e;
        for (i = 0; i < n * 3; i++) Xf[i] = (float)X[i];
        for (i = 0; i < n * 2; i++) Yf[i] = (float)Y[i];
        nn_init_params_f32(pf, &net, NN_INIT_GLOROT, &seed);
        CHECK_STATUS(nn_workspace_create_f32(&ws, &net, n, 8, NN_OPT_ADAM), NN_OK);
        for (e = 0; e < 40; e++) {
            CHECK_STATUS(nn_train_epoch_f32(pf, &el, ws, &net, &cfg, Xf, Yf, n, &seed), NN_OK);
            if (e == 0) first = el;
        }
        CHECK(el < 0.8 * first, "f32 adam: loss %.4g -> %.4g", first, el);
        nn_workspace_free_f32(ws);
    }

    /* a diverging run stops with NN_ENONFINITE */
    {
        nn_net lin = {3, g_sizes, NN_ACT_IDENTITY, NN_ACT_IDENTITY, NN_LOSS_MSE, NULL, NULL, 0.0};
        nn_fit_config cfg = {NN_OPT_SGD, 1e3, 0, 0, 0.9, 0.999, 1e-8, 0, 0, NULL, NULL, NULL, 0, NN_PRODUCTS_NATIVE};
        nn_workspace_f64 *ws = NULL;
        uint64_t seed = 1;
        double el;
        int e, st = NN_OK;
        nn_init_params_f64(params, &lin, NN_INIT_GLOROT, &seed);
        nn_workspace_create_f64(&ws, &lin, n, n, NN_OPT_SGD);
        for (e = 0; e < 200 && st == NN_OK; e++)
            st = nn_train_epoch_f64(params, &el, ws, &lin, &cfg, X, Y, n, &seed);
        CHECK(st == NN_ENONFINITE, "diverging sgd returned %d, want NN_ENONFINITE", st);
        nn_workspace_free_f64(ws);
    }
}

/* ---- the perceptron rule: the AND gate is learned (seed 002) ------------------------------ */
static void test_perceptron(void)
{
    const double X[8] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[4] = {0, 0, 0, 1};
    double W[2] = {0, 0}, b[1] = {0};
    int64_t mistakes = -1, order[4] = {3, 2, 1, 0};
    int e;
    for (e = 0; e < 20 && mistakes != 0; e++)
        CHECK_STATUS(nn_perceptron_epoch_f64(W, b, &mistakes, X, Y, NULL, 4, 2, 1, 1.0), NN_OK);
    CHECK(mistakes == 0, "perceptron did not learn AND: %lld mistakes", (long long)mistakes);
    CHECK_STATUS(nn_perceptron_epoch_f64(W, b, &mistakes, X, Y, order, 4, 2, 1, 1.0), NN_OK);
    CHECK(mistakes == 0, "perceptron with an order: %lld mistakes", (long long)mistakes);
    order[0] = 4;
    CHECK_STATUS(nn_perceptron_epoch_f64(W, b, &mistakes, X, Y, order, 4, 2, 1, 1.0), NN_EINVAL);
}

/* ---- error codes ----------------------------------------------------------------------------- */
static void test_errors(void)
{
    const int64_t huge = (int64_t)1 << 62;
    const int64_t big_sizes[3] = {3, huge, 2}, zero_sizes[3] = {3, 0, 2};
    nn_net net = {3, g_sizes, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CE, NULL, NULL, 0.0};
    nn_net bad;
    nn_workspace_f64 *ws = NULL;
    double A[16] = {0}, B[16] = {0}, C[16] = {0}, loss;
    int64_t n_params, order[4];
    uint64_t s = 0;
    nn_epilogue_f64 ep = {NULL, NN_ACT_IDENTITY, NULL, NN_ACT_IDENTITY};
    int code;

    for (code = 0; code <= 5; code++)
        CHECK(nn_strerror(code) && strcmp(nn_strerror(code), nn_strerror(99)) != 0,
              "nn_strerror(%d)", code);

    /* net description */
    CHECK_STATUS(nn_net_check(NULL, &n_params), NN_EINVAL);
    bad = net;
    bad.sizes = NULL;
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EINVAL);
    bad = net;
    bad.n_layers = 0;
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EINVAL);
    bad = net;
    bad.n_layers = 2;
    bad.sizes = zero_sizes;
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EINVAL);
    bad = net;
    bad.hidden = (nn_act)99;
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EINVAL);
    bad = net;
    bad.loss = (nn_loss)-1;
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EINVAL);
    bad = net;
    bad.hidden = NN_ACT_SOFTMAX;
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EINVAL);
    bad = net;
    bad.n_layers = 2;
    bad.sizes = big_sizes;
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EOVERFLOW);
    CHECK_STATUS(nn_workspace_create_f64(&ws, &bad, 10, 10, NN_OPT_SGD), NN_EOVERFLOW);
    CHECK(ws == NULL, "failed workspace_create left a pointer");

    /* output / loss pairs */
    bad = net;
    bad.output = NN_ACT_SIGMOID; /* sigmoid + ce */
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EPAIR);
    CHECK_STATUS(nn_workspace_create_f64(&ws, &bad, 10, 10, NN_OPT_SGD), NN_EPAIR);
    bad.output = NN_ACT_SOFTMAX;
    bad.loss = NN_LOSS_BCE; /* softmax + bce */
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EPAIR);
    bad.output = NN_ACT_IDENTITY; /* identity + bce */
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_EPAIR);
    bad.output = NN_ACT_STEP;
    bad.loss = NN_LOSS_MSE; /* step + mse: a forward-only network, never trained */
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_OK);
    CHECK_STATUS(nn_workspace_create_f64(&ws, &bad, 10, 10, NN_OPT_SGD), NN_EINVAL);
    bad.output = NN_ACT_SOFTMAX; /* softmax + mse is differentiable: fine */
    CHECK_STATUS(nn_net_check(&bad, &n_params), NN_OK);
    CHECK_STATUS(nn_output_delta_f64(C, NULL, A, B, 2, 2, NN_ACT_TANH, NN_LOSS_CE), NN_EPAIR);
    CHECK_STATUS(nn_output_delta_f64(C, NULL, A, B, 2, 2, NN_ACT_STEP, NN_LOSS_MSE), NN_EINVAL);
    CHECK_STATUS(nn_output_delta_f64(C, NULL, A, B, 2, 2, (nn_act)NN_ACT_COUNT, NN_LOSS_MSE),
                 NN_EINVAL);

    /* workspace sizes */
    CHECK_STATUS(nn_workspace_create_f64(NULL, &net, 10, 10, NN_OPT_SGD), NN_EINVAL);
    CHECK_STATUS(nn_workspace_create_f64(&ws, &net, 10, 0, NN_OPT_SGD), NN_EINVAL);
    CHECK_STATUS(nn_workspace_create_f64(&ws, &net, 10, 11, NN_OPT_SGD), NN_EINVAL);
    CHECK_STATUS(nn_workspace_create_f64(&ws, &net, 0, 1, NN_OPT_SGD), NN_EINVAL);
    CHECK_STATUS(nn_workspace_create_f64(&ws, &net, 10, 5, (nn_opt)3), NN_EINVAL);
    bad = net;
    bad.hidden = NN_ACT_STEP;
    CHECK_STATUS(nn_workspace_create_f64(&ws, &bad, 10, 5, NN_OPT_SGD), NN_EINVAL);
    {
        double g[64];
        CHECK_STATUS(nn_loss_gradient_f64(&loss, g, g, &bad, A, B, 2, 0), NN_EINVAL);
    }

    /* train_epoch with another shape than the workspace's */
    CHECK_STATUS(nn_workspace_create_f64(&ws, &net, 4, 2, NN_OPT_SGD), NN_OK);
    if (ws) {
        const int64_t other[4] = {3, 6, 4, 2};
        nn_net net2 = net;
        nn_fit_config cfg = {NN_OPT_SGD, 0.1, 0, 0, 0.9, 0.999, 1e-8, 0, 0, NULL, NULL, NULL, 0, NN_PRODUCTS_NATIVE};
        double params[64] = {0}, X[12] = {0}, Y[8] = {0}, el;
        Y[0] = Y[3] = Y[4] = Y[7] = 1;
        net2.sizes = other;
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, 4, &s), NN_OK);
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net2, &cfg, X, Y, 4, &s), NN_EINVAL);
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, 3, &s), NN_EINVAL);
        cfg.optimizer = NN_OPT_ADAM;
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, 4, &s), NN_EINVAL);
        cfg.optimizer = NN_OPT_SGD;
        cfg.lr = 0;
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, 4, &s), NN_EINVAL);
        cfg.lr = 0.1;
        cfg.products = NN_PRODUCTS_BF16; /* bfloat16 products: float32 only */
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, 4, &s), NN_EINVAL);
        cfg.products = (nn_products)2;
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, 4, &s), NN_EINVAL);
        cfg.products = NN_PRODUCTS_NATIVE;
        cfg.shuffle = 1;
        CHECK_STATUS(nn_train_epoch_f64(params, &el, ws, &net, &cfg, X, Y, 4, NULL), NN_EINVAL);
        CHECK_STATUS(nn_train_epoch_f64(NULL, &el, ws, &net, &cfg, X, Y, 4, &s), NN_EINVAL);
        nn_workspace_free_f64(ws);
        ws = NULL;
    }
    nn_workspace_free_f64(NULL); /* a no-op */

    /* kernels: NULL, sizes <= 0, bad enums, overflowing sizes, step in backward */
    CHECK_STATUS(nn_gemm_f64(NULL, A, B, 2, 2, 2, 0, 0, 1, 0, NULL), NN_EINVAL);
    CHECK_STATUS(nn_gemm_f64(C, A, NULL, 2, 2, 2, 0, 0, 1, 0, NULL), NN_EINVAL);
    CHECK_STATUS(nn_gemm_f64(C, A, B, 0, 2, 2, 0, 0, 1, 0, NULL), NN_EINVAL);
    CHECK_STATUS(nn_gemm_f64(C, A, B, 2, 2, -1, 0, 0, 1, 0, NULL), NN_EINVAL);
    CHECK_STATUS(nn_gemm_f64(C, A, B, 2, 2, 2, 2, 0, 1, 0, NULL), NN_EINVAL);
    CHECK_STATUS(nn_gemm_f64(C, A, B, huge, huge, 2, 0, 0, 1, 0, NULL), NN_EOVERFLOW);
    CHECK_STATUS(nn_gemm_naive_f64(C, A, B, 2, huge, huge, 0, 0, 1, 0, NULL), NN_EOVERFLOW);
    ep.act = NN_ACT_SOFTMAX;
    CHECK_STATUS(nn_gemm_f64(C, A, B, 2, 2, 2, 0, 0, 1, 0, &ep), NN_EINVAL);
    ep.act = NN_ACT_IDENTITY;
    ep.deriv_of = A;
    ep.deriv_act = NN_ACT_STEP;
    CHECK_STATUS(nn_gemm_f64(C, A, B, 2, 2, 2, 0, 0, 1, 0, &ep), NN_EINVAL);
    CHECK_STATUS(nn_activation_forward_f64(C, A, 2, 2, (nn_act)NN_ACT_COUNT), NN_EINVAL);
    CHECK_STATUS(nn_activation_forward_f64(C, A, huge, huge, NN_ACT_TANH), NN_EOVERFLOW);
    CHECK_STATUS(nn_activation_backward_f64(C, A, B, 2, 2, NN_ACT_STEP), NN_EINVAL);
    CHECK_STATUS(nn_dense_backward_f64(C, C, C, A, B, A, 2, 2, 2, NN_ACT_STEP), NN_EINVAL);
    CHECK_STATUS(nn_dense_backward_f64(C, C, NULL, A, B, A, 2, 2, 2, NN_ACT_STEP), NN_EINVAL);
    CHECK_STATUS(nn_dense_backward_f64(NULL, C, C, A, B, A, 2, 2, 2, NN_ACT_TANH), NN_EINVAL);
    CHECK_STATUS(nn_dense_forward_f64(C, NULL, A, B, NULL, 2, 2, 2, NN_ACT_TANH), NN_EINVAL);
    CHECK_STATUS(nn_dense_forward_f64(C, NULL, A, B, A, 2, 0, 2, NN_ACT_TANH), NN_EINVAL);
    CHECK_STATUS(nn_loss_f64(&loss, A, A, B, 2, 2, (nn_loss)NN_LOSS_COUNT), NN_EINVAL);
    CHECK_STATUS(nn_loss_f64(NULL, A, A, B, 2, 2, NN_LOSS_MSE), NN_EINVAL);
    CHECK_STATUS(nn_l2_penalty_f64(&loss, A, 4, -1, 2), NN_EINVAL);
    CHECK_STATUS(nn_l2_gradient_f64(C, A, 4, 0.1, 0), NN_EINVAL);
    CHECK_STATUS(nn_sgd_update_f64(A, B, C, 4, 0.1, 1.0, 0), NN_EINVAL);
    CHECK_STATUS(nn_sgd_update_f64(A, B, C, 0, 0.1, 0.5, 0), NN_EINVAL);
    CHECK_STATUS(nn_adam_update_f64(A, B, C, C, 4, 0, 0.1, 0.9, 0.999, 1e-8), NN_EINVAL);
    CHECK_STATUS(nn_rng_permutation(order, 0, &s), NN_EINVAL);
    CHECK_STATUS(nn_rng_permutation(NULL, 4, &s), NN_EINVAL);
    CHECK_STATUS(nn_init_params_f64(A, &net, (nn_init)2, &s), NN_EINVAL);
    CHECK_STATUS(nn_init_params_f64(A, &net, NN_INIT_GLOROT, NULL), NN_EINVAL);
    CHECK_STATUS(nn_forward_f64(C, A, &net, B, 0), NN_EINVAL);
    CHECK_STATUS(nn_perceptron_epoch_f64(A, B, NULL, A, B, NULL, 0, 1, 1, 1.0), NN_EINVAL);
}

/* ---- the optimizers by hand ------------------------------------------------------------------ */
/* ---- per-layer activations, dropout, mae / huber / poisson -------------------------------- */
static double finite_difference_error(const nn_net *net, double *params, int64_t n_params,
                                      const double *X, const double *Y, int64_t n)
{
    const double h = 1e-6;
    double grads[64], loss, lp, lm, worst = 0;
    int64_t i;
    nn_loss_gradient_f64(&loss, grads, params, net, X, Y, n, 0.1);
    for (i = 0; i < n_params; i++) {
        const double keep = params[i];
        double d;
        params[i] = keep + h;
        nn_loss_gradient_f64(&lp, NULL, params, net, X, Y, n, 0.1);
        params[i] = keep - h;
        nn_loss_gradient_f64(&lm, NULL, params, net, X, Y, n, 0.1);
        params[i] = keep;
        d = fabs((lp - lm) / (2 * h) - grads[i]) / (1 + fabs(grads[i]));
        if (d > worst) worst = d;
    }
    return worst;
}

static void test_layer_features(void)
{
    static const nn_act acts[2] = {NN_ACT_SIGMOID, NN_ACT_TANH};
    static const struct {
        const char *name;
        nn_act output;
        nn_loss loss;
    } cases[] = {{"mae identity", NN_ACT_IDENTITY, NN_LOSS_MAE},
                 {"huber tanh", NN_ACT_TANH, NN_LOSS_HUBER},
                 {"poisson exp", NN_ACT_EXP, NN_LOSS_POISSON}};
    const int64_t n = 6;
    double X[6 * 3], Y[6 * 2], params[64], loss;
    int64_t n_params, i;
    int c;
    for (c = 0; c < 3; c++) {
        nn_net net = {3, g_sizes, NN_ACT_RELU, cases[c].output, cases[c].loss, acts, NULL, 0.4};
        uint64_t seed = 7;
        CHECK_STATUS(nn_net_check(&net, &n_params), NN_OK);
        CHECK(nn_net_layer_act(&net, 0) == NN_ACT_SIGMOID &&
                  nn_net_layer_act(&net, 1) == NN_ACT_TANH &&
                  nn_net_layer_act(&net, 2) == cases[c].output,
              "per-layer activations");
        CHECK_STATUS(nn_init_params_f64(params, &net, NN_INIT_GLOROT, &seed), NN_OK);
        for (i = 0; i < n * 3; i++) X[i] = draw(-2, 2);
        for (i = 0; i < n * 2; i++) /* poisson's targets are counts: y >= 0 */
            Y[i] = cases[c].loss == NN_LOSS_POISSON ? draw(0, 3) : draw(-1, 1);
        CHECK(finite_difference_error(&net, params, n_params, X, Y, n) < 1e-7, "gradcheck %s",
              cases[c].name);
    }
    { /* the formulas: huber (delta 2) of residuals 0.3, 5, -5; poisson e^z - y z */
        const double A[3] = {0.3, 5.0, -5.0}, Z0[3] = {0, 0, 0}, Zp[2] = {700.0, -800.0},
                     Yp[2] = {2.0, 3.0};
        double delta[3];
        CHECK_STATUS(nn_loss_ex_f64(&loss, NULL, A, Z0, NULL, 1, 3, NN_LOSS_HUBER, 2.0), NN_OK);
        CHECK(fabs(loss - (0.045 + 8.0 + 8.0) / 3) < 1e-15, "huber %.17g", loss);
        CHECK_STATUS(nn_output_delta_ex_f64(delta, NULL, A, Z0, 1, 3, NN_ACT_IDENTITY,
                                            NN_LOSS_HUBER, 2.0), NN_OK);
        CHECK(fabs(delta[0] - 0.1) < 1e-15 && delta[1] == 2.0 / 3 && delta[2] == -2.0 / 3,
              "huber delta %g %g %g", delta[0], delta[1], delta[2]);
        CHECK_STATUS(nn_loss_f64(&loss, NULL, A, A, 1, 3, NN_LOSS_MAE), NN_OK);
        CHECK(loss == 0, "mae of a = y is %g", loss);
        CHECK_STATUS(nn_output_delta_f64(delta, NULL, A, A, 1, 3, NN_ACT_IDENTITY, NN_LOSS_MAE),
                     NN_OK);
        CHECK(delta[0] == 0 && delta[1] == 0 && delta[2] == 0, "mae's derivative at a = y");
        CHECK_STATUS(nn_loss_f64(&loss, Zp, NULL, Yp, 1, 2, NN_LOSS_POISSON), NN_OK);
        CHECK(isfinite(loss) && fabs(loss / (exp(700.0) + 1000.0) - 1) < 1e-14, "poisson %g",
              loss);
        CHECK_STATUS(nn_loss_ex_f64(&loss, NULL, A, Z0, NULL, 1, 3, NN_LOSS_HUBER, 0.0), NN_EINVAL);
        {
            const double negative[2] = {1.0, -0.5};
            CHECK_STATUS(nn_loss_f64(&loss, Zp, NULL, negative, 1, 2, NN_LOSS_POISSON), NN_EINVAL);
        }
    }
    { /* descriptions the core refuses */
        static const nn_act softmax_hidden[2] = {NN_ACT_TANH, NN_ACT_SOFTMAX};
        static const nn_act exp_hidden[2] = {NN_ACT_EXP, NN_ACT_TANH};
        static const double one[2] = {0.2, 1.0}, negative[2] = {-0.1, 0.0};
        nn_net bad = {3, g_sizes, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CE, NULL, NULL, 0.0};
        bad.hidden_acts = softmax_hidden;
        CHECK_STATUS(nn_net_check(&bad, NULL), NN_EINVAL);
        bad.hidden_acts = exp_hidden;
        CHECK_STATUS(nn_net_check(&bad, NULL), NN_EINVAL);
        bad.hidden_acts = NULL;
        bad.dropout = one;
        CHECK_STATUS(nn_net_check(&bad, NULL), NN_EINVAL);
        bad.dropout = negative;
        CHECK_STATUS(nn_net_check(&bad, NULL), NN_EINVAL);
        bad.dropout = NULL;
        bad.loss = NN_LOSS_HUBER;
        bad.output = NN_ACT_IDENTITY;
        CHECK_STATUS(nn_net_check(&bad, NULL), NN_EINVAL); /* huber_delta 0 */
        bad.loss = NN_LOSS_POISSON;
        CHECK_STATUS(nn_net_check(&bad, NULL), NN_EPAIR);
    }
    { /* dropout: one draw per unit of each dropout layer and row, in order; none at rate 0 */
        static const double rates[2] = {0.5, 0.0}, tiny[2] = {1e-300, 1e-300};
        nn_net plain = {3, g_sizes, NN_ACT_TANH, NN_ACT_SOFTMAX, NN_LOSS_CE, NULL, NULL, 0.0};
        nn_net dropped = plain;
        nn_fit_config cfg;
        nn_workspace_f64 *ws = NULL;
        double Xd[20 * 3], Yd[20 * 2], p1[64], p2[64], epoch_loss;
        uint64_t state = 99, seed = 3;
        int64_t np_;
        memset(&cfg, 0, sizeof cfg);
        cfg.optimizer = NN_OPT_SGD;
        cfg.lr = 0.1;
        for (i = 0; i < 20 * 3; i++) Xd[i] = draw(-1, 1);
        make_targets(Yd, 20, 2, NN_LOSS_CE);
        dropped.dropout = rates;
        CHECK_STATUS(nn_net_check(&dropped, &np_), NN_OK);
        CHECK_STATUS(nn_init_params_f64(p1, &dropped, NN_INIT_GLOROT, &seed), NN_OK);
        CHECK_STATUS(nn_workspace_create_f64(&ws, &dropped, 20, 8, NN_OPT_SGD), NN_OK);
        CHECK_STATUS(nn_train_epoch_f64(p1, &epoch_loss, ws, &dropped, &cfg, Xd, Yd, 20, NULL),
                     NN_EINVAL); /* the masks need the stream, also without shuffle */
        CHECK_STATUS(nn_train_epoch_f64(p1, &epoch_loss, ws, &dropped, &cfg, Xd, Yd, 20, &state),
                     NN_OK);
        CHECK(state == 99 + UINT64_C(0x9E3779B97F4A7C15) * 20 * 5, "dropout drew %llu",
              (unsigned long long)state);
        /* the same workspace cannot run a net whose dropout layers it has no buffers for */
        dropped.dropout = tiny;
        CHECK_STATUS(nn_train_epoch_f64(p1, &epoch_loss, ws, &dropped, &cfg, Xd, Yd, 20, &state),
                     NN_EINVAL);
        nn_workspace_free_f64(ws);
        /* a rate so small that every unit is kept (scale 1): the network without dropout */
        seed = 3;
        CHECK_STATUS(nn_init_params_f64(p1, &plain, NN_INIT_GLOROT, &seed), NN_OK);
        memcpy(p2, p1, sizeof p1);
        CHECK_STATUS(nn_workspace_create_f64(&ws, &dropped, 20, 8, NN_OPT_SGD), NN_OK);
        CHECK_STATUS(nn_train_epoch_f64(p1, &epoch_loss, ws, &dropped, &cfg, Xd, Yd, 20, &state),
                     NN_OK);
        nn_workspace_free_f64(ws);
        CHECK_STATUS(nn_workspace_create_f64(&ws, &plain, 20, 8, NN_OPT_SGD), NN_OK);
        CHECK_STATUS(nn_train_epoch_f64(p2, &epoch_loss, ws, &plain, &cfg, Xd, Yd, 20, &state),
                     NN_OK);
        nn_workspace_free_f64(ws);
        for (i = 0; i < np_; i++)
            CHECK(fabs(p1[i] - p2[i]) < 1e-12, "kept-all dropout differs at %lld",
                  (long long)i);
    }
}

static void test_optimizers(void)
{
    /* sgd momentum 0.5, lr 0.1: v = 0.5 * 1 - 0.1 * 2 = 0.3; w = 1 + 0.3 = 1.3;
     * nesterov: w = 1 + 0.5 * 0.3 - 0.1 * 2 = 0.95 */
    double w = 1, v = 1, g = 2, m1 = 0, v2 = 0;
    CHECK_STATUS(nn_sgd_update_f64(&w, &v, &g, 1, 0.1, 0.5, 0), NN_OK);
    CHECK(fabs(v - 0.3) < 1e-15 && fabs(w - 1.3) < 1e-15, "sgd momentum: v %g w %g", v, w);
    w = 1;
    v = 1;
    CHECK_STATUS(nn_sgd_update_f64(&w, &v, &g, 1, 0.1, 0.5, 1), NN_OK);
    CHECK(fabs(w - 0.95) < 1e-15, "sgd nesterov: w %g", w);
    /* adam step 1: m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1;
     * w -= lr_t m / (sqrt(v) + eps) = lr * g / (|g| + eps / sqrt(0.001)) ~ lr */
    w = 1;
    CHECK_STATUS(nn_adam_update_f64(&w, &m1, &v2, &g, 1, 1, 0.01, 0.9, 0.999, 1e-8), NN_OK);
    CHECK(fabs(w - 0.99) < 1e-8, "adam first step: w %.17g, want ~0.99", w);
}

/* Kept blocks (scratch.c): a released large block serves the thread's next allocation of
 * its size (same pages) and keeps the workspace's data; small or much smaller requests get
 * their own block; every block is 64-byte aligned and usable over its whole length. */
static void test_kept_blocks(void)
{
    const int64_t mib = (int64_t)1 << 20;
    unsigned char *a = (unsigned char *)nni_block_alloc(8 * mib), *b, *c, *d;
    CHECK(a != NULL && ((uintptr_t)a & 63) == 0, "8 MiB block: %p, want 64-byte aligned",
          (void *)a);
    if (!a) return;
    memset(a, 0x5a, (size_t)(8 * mib));
    nni_block_free(a);
    b = (unsigned char *)nni_block_alloc(6 * mib); /* fits the kept 8 MiB: taken */
    CHECK(b == a, "a 6 MiB block after releasing 8 MiB: %p, want the kept %p", (void *)b,
          (void *)a);
    c = (unsigned char *)nni_block_alloc(6 * mib); /* nothing kept now: a new block */
    CHECK(c != NULL && c != b, "a second 6 MiB block %p must not be the first %p", (void *)c,
          (void *)b);
    if (c) memset(c, 1, (size_t)(6 * mib));
    nni_block_free(b);
    d = (unsigned char *)nni_block_alloc(2 * mib); /* 8 MiB is over twice 2 MiB: not taken */
    CHECK(d != NULL && d != a, "a 2 MiB block took the kept 8 MiB one");
    if (d) memset(d, 2, (size_t)(2 * mib));
    nni_block_free(d);
    nni_block_free(c);
    nni_block_free(NULL);
    b = (unsigned char *)nni_block_alloc(100); /* small: a block of its own, aligned */
    CHECK(b != NULL && ((uintptr_t)b & 63) == 0 && b != a && b != c, "a small block");
    if (b) memset(b, 3, 100);
    nni_block_free(b);
    b = (unsigned char *)nni_block_alloc(-1);
    CHECK(b == NULL, "a block of -1 bytes must be refused");
}

#if defined(__linux__)
/* 1 when /proc/self/smaps marks the mapping holding p for huge pages (VmFlags "hg", set by
 * madvise(MADV_HUGEPAGE)), 0 when not, -1 when p is in no mapping or smaps cannot be read. */
static int mapping_asks_huge_pages(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int in = 0, found = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            found = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}
#endif

/* A block or scratch buffer of 2 MiB or more starts on a 2 MiB boundary (its data after the
 * block's 64-byte header) and, where the kernel has transparent huge pages, its mapping asks
 * for them (scratch.c), unless NNFAST_HUGE_PAGES=0 (tests/test_c_core.py runs both); it is
 * usable over its whole length. */
static void test_huge_page_blocks(void)
{
    const int64_t mib = (int64_t)1 << 20;
    unsigned char *b = (unsigned char *)nni_block_alloc(3 * mib);
    unsigned char *s = (unsigned char *)nni_thread_scratch(NNI_SCRATCH_SLOTS - 1, 5 * mib);
    CHECK(b != NULL && s != NULL, "3 MiB block %p, 5 MiB scratch %p", (void *)b, (void *)s);
    if (!b || !s) return;
    memset(b, 7, (size_t)(3 * mib));
    memset(s, 8, (size_t)(5 * mib));
#if defined(__linux__)
    CHECK(((uintptr_t)b - 64) % (uintptr_t)(2 * mib) == 0,
          "a 3 MiB block's header at %p, want a 2 MiB boundary", (void *)(b - 64));
    CHECK((uintptr_t)s % (uintptr_t)(2 * mib) == 0, "5 MiB scratch at %p, want a 2 MiB boundary",
          (void *)s);
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0) {
        const char *env = getenv("NNFAST_HUGE_PAGES");
        const int want = !(env && strcmp(env, "0") == 0);
        CHECK(mapping_asks_huge_pages(b) == want, "the 3 MiB block's mapping: hg %d, want %d",
              mapping_asks_huge_pages(b), want);
        CHECK(mapping_asks_huge_pages(s + 4 * mib) == want,
              "the 5 MiB scratch's mapping: hg %d, want %d", mapping_asks_huge_pages(s + 4 * mib),
              want);
    }
#endif
    nni_block_free(b);
}

int main(void)
{
    printf("nncore tests: threading %s, %d threads by default\n", nn_threading(),
           nn_get_num_threads());
    test_rng();
    test_gemm_each_kernel();
    test_activations_losses();
    test_gradcheck();
    test_forward_init();
    test_training();
    test_perceptron();
    test_optimizers();
    test_kept_blocks();
    test_huge_page_blocks();
    test_layer_features();
    test_errors();
    if (g_failures) {
        printf("%d of %d checks FAILED\n", g_failures, g_checks);
        return 1;
    }
    printf("all %d checks passed\n", g_checks);
    return 0;
}
