/* The vector math's table (vecmath.c, vecmath_<isa>.c), part of internal.h, which includes
 * it: chosen once, apart from the GEMM's kernels; and the double-precision helpers the
 * losses call through it. */
#ifndef NNCORE_VECMATH_H
#define NNCORE_VECMATH_H

/* In place over n values, x[j] = f(x[j]); a NULL entry means libm, one value at a time.
 * softplus(x) = log(1 + e^x). Algorithms: vecmath_simd.h; measured ulp bounds per set:
 * tests/c/test_vecmath.c.                                                                   */
typedef struct {
    const char *name; /* the NNFAST_VECMATH value: "avx2"                                    */
    void (*exp_f32)(float *x, int64_t n);
    void (*sigmoid_f32)(float *x, int64_t n);
    void (*tanh_f32)(float *x, int64_t n);
    void (*exp_f64)(double *x, int64_t n);
    void (*sigmoid_f64)(double *x, int64_t n);
    void (*tanh_f64)(double *x, int64_t n);
    void (*log1p_f64)(double *x, int64_t n);
    void (*softplus_f64)(double *x, int64_t n);
    /* 1 when x[0:n] holds no NaN and no infinity (all_finite below; NULL: its loop) */
    int (*all_finite_f32)(const float *x, int64_t n);
    int (*all_finite_f64)(const double *x, int64_t n);
    /* sum_i x[i]^2 in double, in the order NNI_SUMSQ_LANES states (below) */
    double (*sum_squares_f32)(const float *x, int64_t n);
    double (*sum_squares_f64)(const double *x, int64_t n);
} nni_vecmath;

/* The L2 penalty's sum_i x[i]^2, in an order fixed by n alone (docs/semantics.md): partial
 * sums s_q, q < NNI_SUMSQ_LANES, value i into s_(i mod NNI_SUMSQ_LANES) in order (its square
 * rounded to double, then added), then combined by halves: s_q += s_(q+16) for q < 16, then
 * s_q += s_(q+8) for q < 8, ..., s_0 += s_1. 32 chains keep two vector adders busy on any
 * set (4 AVX-512 or 8 AVX2 registers of sums): 8 chains waited an add's latency per 8 values
 * (a 784 x 256 float layer: 24.6 us a call, 8.5 with 32; Zen 5, CHANGELOG). */
#define NNI_SUMSQ_LANES 32
static inline double nni_sum_squares_combine(double *s)
{
    int w, q;
    for (w = NNI_SUMSQ_LANES / 2; w >= 1; w /= 2)
        for (q = 0; q < w; q++) s[q] += s[q + w];
    return s[0];
}

/* The vector math chosen once: NNFAST_VECMATH when this CPU runs it, else the best it runs. */
const nni_vecmath *nni_vecmath_get(void);
/* Tests: switch to the set called name; NN_EINVAL (nothing changed) when unknown / not run. */
int nni_vecmath_select(const char *name);
extern const nni_vecmath nni_vecmath_portable;
#ifdef NN_HAVE_KERNEL_AVX2
extern const nni_vecmath nni_vecmath_avx2;
#endif
#ifdef NN_HAVE_VECMATH_AVX512
extern const nni_vecmath nni_vecmath_avx512;
#endif

/* x[j] = e^x[j] and x[j] = softplus(x[j]) = max(x, 0) + log1p(e^-|x|) over n doubles, with
 * the vector math in use (the losses compute in double for both element types).           */
static inline void nni_exp_f64_inplace(double *x, int64_t n)
{
    const nni_vecmath *vm = nni_vecmath_get();
    int64_t j;
    if (vm->exp_f64) {
        vm->exp_f64(x, n);
        return;
    }
    for (j = 0; j < n; j++) x[j] = exp(x[j]);
}
/* x[j] = log(1 + x[j]) over n doubles, -1 < x[j], with the vector math in use. */
static inline void nni_log1p_f64_inplace(double *x, int64_t n)
{
    const nni_vecmath *vm = nni_vecmath_get();
    int64_t j;
    if (vm->log1p_f64) {
        vm->log1p_f64(x, n);
        return;
    }
    for (j = 0; j < n; j++) x[j] = log1p(x[j]);
}
static inline void nni_softplus_f64_inplace(double *x, int64_t n)
{
    const nni_vecmath *vm = nni_vecmath_get();
    int64_t j;
    if (vm->softplus_f64) {
        vm->softplus_f64(x, n);
        return;
    }
    /* e^-|x| <= 1 never overflows */
    for (j = 0; j < n; j++) x[j] = (x[j] > 0 ? x[j] : 0.0) + log1p(exp(-fabs(x[j])));
}

#endif /* NNCORE_VECMATH_H */
