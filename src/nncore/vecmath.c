/* Vector math dispatch: exp, sigmoid, tanh (float and double), log1p and softplus (double)
 * over arrays, one set per instruction set, chosen once per process apart from the GEMM
 * kernel, so NNFAST_GEMM_KERNEL never changes how an activation is computed.
 * NNFAST_VECMATH=portable|avx2|avx512 forces a set (tests, debugging). The avx2 and avx512
 * sets run the same algorithms lane by lane (vecmath_simd.h) and give the same bits. */
#include "internal.h"

/* sum_i x[i]^2 in NNI_SUMSQ_LANES partial sums (vecmath.h); the inner loop over the lanes
 * vectorizes for the baseline's registers. Compiled without FMA contraction: a float64
 * square is rounded before its add, on every target. */
#define SUM_SQUARES(NAME, T)                                                                 \
    static double NAME(const T *x, int64_t n)                                                \
    {                                                                                        \
        double s[NNI_SUMSQ_LANES] = {0};                                                     \
        int64_t i = 0;                                                                       \
        int q;                                                                               \
        for (; i + NNI_SUMSQ_LANES <= n; i += NNI_SUMSQ_LANES)                               \
            for (q = 0; q < NNI_SUMSQ_LANES; q++) s[q] += (double)x[i + q] * (double)x[i + q]; \
        for (q = 0; i < n; i++, q++) s[q] += (double)x[i] * (double)x[i];                    \
        return nni_sum_squares_combine(s);                                                   \
    }
SUM_SQUARES(sum_squares_f32, float)
SUM_SQUARES(sum_squares_f64, double)
#undef SUM_SQUARES

/* NULL entries: libm, one value at a time (internal.h's nni_act_inplace). */
const nni_vecmath nni_vecmath_portable = {"portable", NULL, NULL, NULL, NULL, NULL,
                                          NULL,       NULL, NULL, NULL, NULL,
                                          sum_squares_f32, sum_squares_f64};

/* Every set compiled in, best first, with the test of whether this CPU runs it. */
static const nni_dispatch_entry g_vecmath_table[] = {
#ifdef NN_HAVE_VECMATH_AVX512
    {"avx512", &nni_vecmath_avx512, nni_cpu_runs_avx512},
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    {"avx2", &nni_vecmath_avx2, nni_cpu_runs_avx2},
#endif
    {"portable", &nni_vecmath_portable, nni_cpu_runs_any},
};
#define N_SETS ((int)(sizeof g_vecmath_table / sizeof g_vecmath_table[0]))

/* The set in use; NULL until first use (a racing first use picks the same one). */
static const nni_vecmath *volatile g_vecmath = NULL;

int nni_vecmath_select(const char *name)
{
    const nni_vecmath *vm = (const nni_vecmath *)nni_dispatch_find(g_vecmath_table, N_SETS, name);
    if (!vm) return NN_EINVAL;
    g_vecmath = vm;
    return NN_OK;
}

const nni_vecmath *nni_vecmath_get(void)
{
    if (!g_vecmath)
        g_vecmath = (const nni_vecmath *)nni_dispatch_choose(g_vecmath_table, N_SETS,
                                                             getenv("NNFAST_VECMATH"));
    return g_vecmath;
}
