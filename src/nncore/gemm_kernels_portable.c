/* The portable micro-kernels (plain C, any CPU): float 4x8, double 4x4. The compiler may
 * vectorize the j loops for the baseline instruction set (SSE2 on x86-64). */
#include "internal.h"

#define PORTABLE_MR 4

#define DEFINE_PORTABLE_UKR(T, S, NR)                                                        \
    static void nni_ukr_portable_##S(int64_t kc, const T *a, const T *b, T *c, int64_t ldc,    \
                                     T beta)                                                  \
    {                                                                                         \
        T ab[PORTABLE_MR][NR];                                                                \
        int64_t p;                                                                            \
        int i, j;                                                                             \
        for (i = 0; i < PORTABLE_MR; i++)                                                     \
            for (j = 0; j < NR; j++) ab[i][j] = 0;                                            \
        for (p = 0; p < kc; p++, a += PORTABLE_MR, b += NR)                                   \
            for (i = 0; i < PORTABLE_MR; i++)                                                 \
                for (j = 0; j < NR; j++) ab[i][j] += a[i] * b[j];                             \
        for (i = 0; i < PORTABLE_MR; i++) {                                                   \
            T *cr = c + i * ldc;                                                              \
            if (beta == 0)                                                                    \
                for (j = 0; j < NR; j++) cr[j] = ab[i][j];                                    \
            else if (beta == 1)                                                               \
                for (j = 0; j < NR; j++) cr[j] = cr[j] + ab[i][j];                            \
            else                                                                              \
                for (j = 0; j < NR; j++) cr[j] = beta * cr[j] + ab[i][j];                     \
        }                                                                                     \
    }

DEFINE_PORTABLE_UKR(float, f32, 8)
DEFINE_PORTABLE_UKR(double, f64, 4)

const nni_gemm_kernel nni_kernel_portable = {
    "portable", "portable C 4x8", "portable C 4x4", PORTABLE_MR, 8, PORTABLE_MR, 4,
    nni_ukr_portable_f32, nni_ukr_portable_f64, 0, 0, NULL, NULL, NULL, NULL, {NULL, NULL},
    {NULL, NULL}, NULL, {NULL, NULL}, NULL, {NULL, NULL}, NULL, 1, 1, NULL, {NULL, NULL}, NULL,
    {NULL, NULL}, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL,
    NULL, {NULL, NULL}, NULL, {NULL, NULL}};
