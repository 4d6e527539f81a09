/* The vector math (src/nncore/vecmath*.c) against a long-double oracle (expl, tanhl, log1pl).
 *
 * For every set this build and CPU run (portable = libm, avx2, avx512), selected with
 * nni_vecmath_select, each function is measured over dense sweeps, random draws and the edges
 * (the overflow and underflow thresholds, the vector forms' range limits, +-0, NaN, +-inf,
 * subnormal inputs and results). The error of a finite result is |got - exact| / ulp(exact),
 * ulp the spacing of the type at |exact| (the subnormal spacing below the smallest normal);
 * a non-finite exact result (inf, NaN) must come out the same. Prints the largest error per
 * function per set and fails beyond the bounds in BOUNDS below. Also: the vector sets give the
 * same bits (same algorithms lane by lane), and a value's result does not depend on its
 * position (a call on one value gives the bits of the call on the whole array). And each
 * set's finiteness check finds a NaN or an infinity wherever it is, and its sum of squares
 * sums in the order vecmath.h states.
 *
 * Run: ./build/test_vecmath (exit status 0 when every check passes); tests/test_c_core.py.
 */
#include "nncore.h"

#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

/* The asserted bounds in ulp: the largest error measured (Intel Xeon, glibc 2.36, GCC 12) over
 * the inputs below, rounded up a little; libm (the portable set) is held to the same. Measured:
 *              exp_f32 sigmoid_f32 tanh_f32 exp_f64 sigmoid_f64 tanh_f64 log1p_f64 softplus_f64
 *   portable    0.502    2.125      2.072    0.505    2.253      2.101    0.829     1.454
 *   avx2        1.226    2.565      1.329    0.869    2.253      1.369    0.797     1.583
 *   avx512      the same bits as avx2
 * (sigmoid's e / (1 + e) for x < 0 rounds three times; that is libm's 2.25 ulp too.)        */
enum { F_EXP32, F_SIG32, F_TANH32, F_EXP64, F_SIG64, F_TANH64, F_LOG1P64, F_SOFTPLUS64, N_FUNCS };
static const char *const NAMES[N_FUNCS] = {"exp_f32", "sigmoid_f32", "tanh_f32", "exp_f64",
                                           "sigmoid_f64", "tanh_f64", "log1p_f64",
                                           "softplus_f64"};
static const double BOUNDS[N_FUNCS] = {1.3, 2.7, 2.2, 1.0, 2.4, 2.2, 1.0, 1.7};

/* ---- oracles and scalar (libm) forms ------------------------------------------------------ */
static long double sigmoid_l(long double x) { return 1.0L / (1.0L + expl(-x)); }
static long double softplus_l(long double x)
{
    return x > 0 ? x + log1pl(expl(-x)) : log1pl(expl(x));
}
static long double oracle(int f, long double x)
{
    switch (f) {
    case F_EXP32: case F_EXP64: return expl(x);
    case F_SIG32: case F_SIG64: return sigmoid_l(x);
    case F_TANH32: case F_TANH64: return tanhl(x);
    case F_LOG1P64: return log1pl(x);
    default: return softplus_l(x);
    }
}
/* libm, as the core's fallbacks (internal.h, vecmath.h) compute it when a set's entry is NULL */
static double libm_f64(int f, double x)
{
    switch (f) {
    case F_EXP64: return exp(x);
    case F_SIG64: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    case F_TANH64: return tanh(x);
    case F_LOG1P64: return log1p(x);
    default: return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x)));
    }
}
static float libm_f32(int f, float x)
{
    switch (f) {
    case F_EXP32: return expf(x);
    case F_SIG32: return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    default: return tanhf(x);
    }
}

typedef void (*fn_f32)(float *, int64_t);
typedef void (*fn_f64)(double *, int64_t);

static fn_f32 entry_f32(const nni_vecmath *vm, int f)
{
    return f == F_EXP32 ? vm->exp_f32 : f == F_SIG32 ? vm->sigmoid_f32 : vm->tanh_f32;
}
static fn_f64 entry_f64(const nni_vecmath *vm, int f)
{
    return f == F_EXP64     ? vm->exp_f64
           : f == F_SIG64   ? vm->sigmoid_f64
           : f == F_TANH64  ? vm->tanh_f64
           : f == F_LOG1P64 ? vm->log1p_f64
                            : vm->softplus_f64;
}

static void apply_f32(const nni_vecmath *vm, int f, float *x, int64_t n)
{
    const fn_f32 fn = entry_f32(vm, f);
    int64_t i;
    if (fn) fn(x, n);
    else
        for (i = 0; i < n; i++) x[i] = libm_f32(f, x[i]);
}
static void apply_f64(const nni_vecmath *vm, int f, double *x, int64_t n)
{
    const fn_f64 fn = entry_f64(vm, f);
    int64_t i;
    if (fn) fn(x, n);
    else
        for (i = 0; i < n; i++) x[i] = libm_f64(f, x[i]);
}

/* ---- error in ulp ----------------------------------------------------------------------- */
static long double ulp_of(long double exact, int is_f32)
{
    const long double a = fabsl(exact);
    const long double min_normal = is_f32 ? FLT_MIN : DBL_MIN;
    const int mant = is_f32 ? 23 : 52;
    if (a < min_normal) return ldexpl(1.0L, is_f32 ? -149 : -1074);
    return ldexpl(1.0L, ilogbl(a) - mant);
}

/* The error of got against exact; a huge value (1e30) for a wrong special value. */
static double error_ulp(long double got, long double exact, int is_f32)
{
    const long double rounded = is_f32 ? (long double)(float)exact : (long double)(double)exact;
    if (isnan(exact) || isnan(got)) return isnan(exact) && isnan(got) ? 0 : 1e30;
    if (isinf(rounded) || isinf(got)) return got == rounded ? 0 : 1e30;
    return (double)(fabsl(got - exact) / ulp_of(exact, is_f32));
}

/* ---- inputs ----------------------------------------------------------------------------- */
static uint64_t g_rng = 12345;
static double uniform01(void) { return nn_rng_uniform(&g_rng); }

typedef struct {
    double *x;
    int64_t n, cap;
} inputs;

static void push(inputs *in, double v)
{
    if (in->n == in->cap) {
        in->cap = in->cap ? 2 * in->cap : 1 << 16;
        in->x = (double *)realloc(in->x, (size_t)in->cap * sizeof(double));
        if (!in->x) {
            printf("out of memory\n");
            exit(2);
        }
    }
    in->x[in->n++] = v;
}
static void sweep(inputs *in, double lo, double hi, int64_t count)
{
    int64_t i;
    for (i = 0; i <= count; i++) push(in, lo + (hi - lo) * (double)i / (double)count);
}
static void draws(inputs *in, double lo, double hi, int64_t count)
{
    int64_t i;
    for (i = 0; i < count; i++) push(in, lo + (hi - lo) * uniform01());
}
/* v and its neighbours, a few ulp either side, with both signs */
static void around(inputs *in, double v, int both_signs)
{
    double a = v, b = v;
    int i;
    for (i = 0; i < 4; i++) {
        push(in, a);
        push(in, b);
        if (both_signs) {
            push(in, -a);
            push(in, -b);
        }
        a = nextafter(a, INFINITY);
        b = nextafter(b, -INFINITY);
    }
}

static void specials(inputs *in)
{
    push(in, 0.0);
    push(in, -0.0);
    push(in, NAN);
    push(in, INFINITY);
    push(in, -INFINITY);
    push(in, 4.9406564584124654e-324); /* the smallest subnormal */
    push(in, -4.9406564584124654e-324);
    push(in, 2.2250738585072009e-308); /* the largest subnormal */
    push(in, 1e-300);
    push(in, -1e-300);
    push(in, 1e-20);
    push(in, -1e-20);
    push(in, 1e300);
    push(in, -1e300);
}

/* The inputs of function f (float functions take the values rounded to float). */
static void make_inputs(inputs *in, int f)
{
    const int is_f32 = f <= F_TANH32;
    const int64_t N = 400000;
    in->n = 0;
    specials(in);
    if (is_f32) {
        /* every float in [-90, 90] at step 2^-11, random draws, the thresholds: e^x overflows
         * beyond 88.72, leaves the normal range below -87.34, rounds to 0 below -103.97;
         * the vector forms' range ends at |x| = 80 */
        sweep(in, -90, 90, 180 * 2048);
        draws(in, -110, 110, N);
        draws(in, -2, 2, N);
        around(in, 80.0, 1);
        around(in, 88.7228391, 1);
        around(in, 87.3365479, 1);
        around(in, 103.972084, 1);
        around(in, 0.625, 1);
        around(in, 20.0, 1);
        return;
    }
    switch (f) {
    case F_EXP64:
        sweep(in, -746, 710, 2 * N);
        draws(in, -746, 710, N);
        draws(in, -1, 1, N);
        around(in, 708.0, 1);
        around(in, 709.782712893384, 0);  /* e^x overflows beyond */
        around(in, -708.3964185322641, 0); /* e^x < DBL_MIN below */
        around(in, -745.1332191019411, 0); /* e^x rounds to 0 below */
        break;
    case F_SIG64:
    case F_SOFTPLUS64:
        sweep(in, -750, 750, 2 * N);
        draws(in, -40, 40, N);
        draws(in, -2, 2, N);
        around(in, 708.0, 1);
        around(in, 745.1332191019411, 1);
        around(in, 36.7368005696771, 1); /* sigmoid rounds to 1 beyond about here */
        break;
    case F_TANH64:
        sweep(in, -25, 25, 2 * N);
        draws(in, -1, 1, N);
        draws(in, -0.7, 0.7, N);
        around(in, 0.625, 1);
        around(in, 20.0, 1);
        around(in, 19.06154746539849, 1); /* tanh rounds to 1 beyond about here */
        around(in, 708.0, 1);
        break;
    default: { /* log1p: x > -1; log-uniform magnitudes; the edges at -1 and 0 */
        int64_t i;
        sweep(in, -0.9999, 2, 2 * N);
        draws(in, -1, 1, N);
        for (i = 0; i < N; i++) {
            const double mag = pow(10.0, -300.0 + 600.0 * uniform01());
            push(in, mag);
            if (mag < 1) push(in, -mag);
        }
        around(in, -1.0, 0);      /* -1: -inf; below: NaN */
        around(in, 1.0715086071862673e301, 0); /* the vector form's upper end */
        around(in, 5.5511151231257827e-17, 1); /* where log1p x rounds to x */
        around(in, 0.41421356237309503, 1);    /* 1 + x = sqrt(2): the reduction's edge */
        around(in, -0.29289321881345248, 1);   /* 1 + x = sqrt(2)/2 */
        push(in, -2.0);
        break;
    }
    }
}

/* ---- one set ---------------------------------------------------------------------------- */
/* The results of the first vector set, per function, to check the others give the same bits. */
static double *g_first_vector[N_FUNCS];
static const char *g_first_vector_name[N_FUNCS];

static void test_function(const nni_vecmath *vm, int f, double *worst_out)
{
    const int is_f32 = f <= F_TANH32;
    const int vector = is_f32 ? entry_f32(vm, f) != NULL : entry_f64(vm, f) != NULL;
    inputs in = {NULL, 0, 0};
    double worst = 0, worst_x = 0, *got;
    int64_t i, n;
    make_inputs(&in, f);
    n = in.n;
    got = (double *)malloc((size_t)n * sizeof(double));
    if (!got) exit(2);
    if (is_f32) {
        float *xf = (float *)malloc((size_t)n * sizeof(float));
        if (!xf) exit(2);
        for (i = 0; i < n; i++) xf[i] = (float)in.x[i];
        apply_f32(vm, f, xf, n);
        for (i = 0; i < n; i++) {
            const float x = (float)in.x[i];
            const double e = error_ulp(xf[i], oracle(f, x), 1);
            if (e > worst) worst = e, worst_x = x;
            got[i] = xf[i];
        }
        /* position independence: each of the first 40 values alone gives the same bits */
        for (i = 0; i < 40 && i < n; i++) {
            float one = (float)in.x[i];
            apply_f32(vm, f, &one, 1);
            CHECK(memcmp(&one, &xf[i], sizeof one) == 0, "%s %s(%a): alone %a, in the array %a",
                  vm->name, NAMES[f], in.x[i], one, xf[i]);
        }
        free(xf);
    } else {
        memcpy(got, in.x, (size_t)n * sizeof(double));
        apply_f64(vm, f, got, n);
        for (i = 0; i < n; i++) {
            const double e = error_ulp(got[i], oracle(f, in.x[i]), 0);
            if (e > worst) worst = e, worst_x = in.x[i];
        }
        for (i = 0; i < 40 && i < n; i++) {
            double one = in.x[i];
            apply_f64(vm, f, &one, 1);
            CHECK(memcmp(&one, &got[i], sizeof one) == 0, "%s %s(%a): alone %a, in the array %a",
                  vm->name, NAMES[f], in.x[i], one, got[i]);
        }
    }
    CHECK(worst <= BOUNDS[f], "%s %s: %.3g ulp at x = %.17g, bound %.2g", vm->name, NAMES[f],
          worst, worst_x, BOUNDS[f]);
    if (vector) {
        if (!g_first_vector[f]) {
            g_first_vector[f] = got;
            g_first_vector_name[f] = vm->name;
            got = NULL;
        } else {
            int64_t differ = 0;
            for (i = 0; i < n; i++)
                if (memcmp(&got[i], &g_first_vector[f][i], sizeof(double)) != 0) differ++;
            CHECK(differ == 0, "%s and %s give different bits for %s in %lld of %lld values",
                  vm->name, g_first_vector_name[f], NAMES[f], (long long)differ,
                  (long long)n);
        }
    }
    *worst_out = worst;
    free(got);
    free(in.x);
}

/* The set's finiteness check (all_finite_f32/_f64, NULL: the loop) against the scalar one:
 * every length up to 300 and a long one, NaN, +inf or -inf at the front, in the vector body,
 * at the body's end and in the tail, and none (finite values of every magnitude). */
#define DEFINE_FINITE(T, SFX, MAXV)                                                           \
    static void finite_##SFX(const nni_vecmath *vm)                                          \
    {                                                                                        \
        static const double bad[] = {NAN, INFINITY, -INFINITY};                              \
        const int64_t lengths[] = {0, 1, 7, 15, 16, 17, 63, 64, 65, 255, 256, 257, 300, 4099};  \
        T *x = malloc(sizeof(T) * 4099);                                                     \
        int li, b, w;                                                                        \
        int64_t i;                                                                           \
        for (li = 0; li < (int)(sizeof lengths / sizeof lengths[0]); li++) {                 \
            const int64_t n = lengths[li];                                                   \
            const int64_t where[] = {0, n / 2, n - (n % 64) - 1, n - 1};                     \
            for (i = 0; i < n; i++) x[i] = (T)((2 * uniform01() - 1) * (i % 3 ? 1.0 : (MAXV)));  \
            CHECK(!vm->all_finite_##SFX || vm->all_finite_##SFX(x, n) == 1,                 \
                  "%s all_finite_" #SFX " n=%lld: finite values seen as not", vm->name,      \
                  (long long)n);                                                             \
            for (b = 0; b < 3 && vm->all_finite_##SFX; b++)                                  \
                for (w = 0; w < 4; w++) {                                                    \
                    const int64_t at = where[w];                                             \
                    T keep;                                                                  \
                    if (at < 0 || at >= n) continue;                                         \
                    keep = x[at];                                                            \
                    x[at] = (T)bad[b];                                                       \
                    CHECK(vm->all_finite_##SFX(x, n) == 0,                                   \
                          "%s all_finite_" #SFX " n=%lld: %g at %lld not seen", vm->name,    \
                          (long long)n, bad[b], (long long)at);                              \
                    x[at] = keep;                                                            \
                }                                                                            \
        }                                                                                    \
        free(x);                                                                             \
    }
DEFINE_FINITE(float, f32, FLT_MAX)
DEFINE_FINITE(double, f64, DBL_MAX)

/* The set's sum of squares (the L2 penalty's, vecmath.h) against the order written out here:
 * value i squared in double (rounded: the volatile keeps an FMA out), added to partial sum
 * i mod 32 in order, the partial sums combined by halves (16, 8, 4, 2, 1); bit for bit, for
 * lengths around the vector blocks and W3's first layer (784 x 256), values of magnitudes
 * 2^-30..2^30. */
#define DEFINE_SUMSQ(T, SFX)                                                                  \
    static void sum_squares_##SFX(const nni_vecmath *vm)                                     \
    {                                                                                        \
        const int64_t lengths[] = {0, 1, 7, 31, 32, 33, 63, 64, 65, 100, 1000, 4099, 200709};    \
        T *x = malloc(sizeof(T) * 200709);                                                   \
        int li, q, w;                                                                        \
        int64_t i;                                                                           \
        for (li = 0; li < (int)(sizeof lengths / sizeof lengths[0]); li++) {                 \
            const int64_t n = lengths[li];                                                   \
            double s[32] = {0}, got;                                                         \
            for (i = 0; i < n; i++)                                                          \
                x[i] = (T)((2 * uniform01() - 1) * ldexp(1.0, (int)(60 * uniform01()) - 30));  \
            for (i = 0; i < n; i++) {                                                        \
                volatile double sq = (double)x[i] * (double)x[i];                            \
                s[i % 32] += sq;                                                             \
            }                                                                                \
            for (w = 16; w >= 1; w /= 2)                                                     \
                for (q = 0; q < w; q++) s[q] += s[q + w];                                    \
            got = vm->sum_squares_##SFX(x, n);                                               \
            CHECK(got == s[0], "%s sum_squares_" #SFX " n=%lld: %.17g, the order gives %.17g", \
                  vm->name, (long long)n, got, s[0]);                                        \
        }                                                                                    \
        free(x);                                                                             \
    }
DEFINE_SUMSQ(float, f32)
DEFINE_SUMSQ(double, f64)

int main(void)
{
    static const char *const sets[] = {"portable", "avx2", "avx512"};
    int s, f;
    for (s = 0; s < (int)(sizeof sets / sizeof sets[0]); s++) {
        const nni_vecmath *vm;
        double worst[N_FUNCS];
        if (nni_vecmath_select(sets[s]) != NN_OK) {
            printf("vecmath %-8s not in this build or not run by this CPU: skipped\n", sets[s]);
            continue;
        }
        vm = nni_vecmath_get();
        CHECK(strcmp(vm->name, sets[s]) == 0, "selected %s, got %s", sets[s], vm->name);
        for (f = 0; f < N_FUNCS; f++) {
            g_rng = 12345 + (uint64_t)f; /* the same inputs for every set */
            test_function(vm, f, &worst[f]);
        }
        finite_f32(vm);
        finite_f64(vm);
        sum_squares_f32(vm);
        sum_squares_f64(vm);
        printf("vecmath %-8s largest error (ulp):", vm->name);
        for (f = 0; f < N_FUNCS; f++)
            printf("%s%s %.3f", f == 4 ? "\n                                     " : " ",
                   NAMES[f], worst[f]);
        printf("\n");
    }
    for (f = 0; f < N_FUNCS; f++) free(g_first_vector[f]);
    printf("bounds asserted (ulp):");
    for (f = 0; f < N_FUNCS; f++) printf(" %s %.1f", NAMES[f], BOUNDS[f]);
    printf("\n");
    if (g_failures) {
        printf("%d checks FAILED\n", g_failures);
        return 1;
    }
    printf("all vecmath checks passed\n");
    return 0;
}
