/* Activations forward and backward (the derivative written from the output a = f(z)). */
#include "internal.h"

/* softmax row: a_j = e^(z_j - max z) / sum_i e^(z_i - max z); the max shift keeps e^x <= 1. */
static void softmax_row(NN_T *a, const NN_T *z, int64_t n)
{
    NN_T zmax = z[0], s = 0;
    int64_t j;
    for (j = 1; j < n; j++)
        if (z[j] > zmax) zmax = z[j];
    for (j = 0; j < n; j++) a[j] = z[j] - zmax;
    nni_exp_inplace(a, n);
    for (j = 0; j < n; j++) s += a[j];
    for (j = 0; j < n; j++) a[j] = a[j] / s;
}

/* A = f(Z): identity z, step [z >= 0], sigmoid, tanh, relu max(0, z), softmax row by row. */
int NN_F(activation_forward)(NN_T *A, const NN_T *Z, int64_t m, int64_t n, nn_act act)
{
    int64_t count, i;
    int st;
    if (!A || !Z || m <= 0 || n <= 0 || !nni_act_valid(act)) return NN_EINVAL;
    if ((st = nni_mul(&count, m, n)) != NN_OK) return st;
    if (act == NN_ACT_SOFTMAX) {
        for (i = 0; i < m; i++) softmax_row(A + i * n, Z + i * n, n);
        return NN_OK;
    }
    if (A != Z) memmove(A, Z, (size_t)count * sizeof(NN_T));
    nni_act_any_inplace(A, count, act);
    return NN_OK;
}

/* G_out = G * f'(A); exp: f' = a; softmax: the Jacobian-vector product
 * a_j (g_j - sum_i g_i a_i). */
int NN_F(activation_backward)(NN_T *G_out, const NN_T *A, const NN_T *G, int64_t m, int64_t n,
                              nn_act act)
{
    int64_t count, i, j;
    int st;
    if (!G_out || !A || !G || m <= 0 || n <= 0 || !nni_act_valid(act)) return NN_EINVAL;
    if (act == NN_ACT_STEP) return NN_EINVAL; /* not differentiable */
    if ((st = nni_mul(&count, m, n)) != NN_OK) return st;
    if (act == NN_ACT_EXP) {
        for (i = 0; i < count; i++) G_out[i] = G[i] * A[i];
        return NN_OK;
    }
    if (act != NN_ACT_SOFTMAX) {
        nni_deriv_mul(G_out, G, A, count, act);
        return NN_OK;
    }
    for (i = 0; i < m; i++) {
        const NN_T *a = A + i * n, *g = G + i * n;
        NN_T *go = G_out + i * n;
        NN_T s = 0;
        for (j = 0; j < n; j++) s += g[j] * a[j];
        for (j = 0; j < n; j++) go[j] = a[j] * (g[j] - s);
    }
    return NN_OK;
}

/* Inverted dropout, forward: per value in row-major order u = uniform (the stream's next),
 * S = 1 / (1 - p) when u >= p else 0, A = F S. u = (u64 >> 11) 2^-53, so u >= p is the integer
 * test (u64 >> 11) >= ceil(p 2^53) (p 2^53 is exact): the same decision without a division. */
void NNI_F(dropout_forward)(NN_T *A, NN_T *S, const NN_T *F, int64_t count, double p,
                            uint64_t *state)
{
    const uint64_t threshold = (uint64_t)ceil(p * 9007199254740992.0);
    const NN_T scale = (NN_T)(1.0 / (1.0 - p));
    uint64_t s = *state;
    int64_t i;
    for (i = 0; i < count; i++) {
        S[i] = (nni_splitmix64(&s) >> 11) >= threshold ? scale : (NN_T)0;
        A[i] = F[i] * S[i];
    }
    *state = s;
}

/* Inverted dropout, backward: G = (G S) f'(F), f' from the output before dropout (as
 * nni_deriv_mul writes it); the mask and the derivative in one pass over the layer. */
void NNI_F(dropout_backward)(NN_T *G, const NN_T *S, const NN_T *F, int64_t count, nn_act act)
{
    int64_t j;
    switch (act) {
    case NN_ACT_SIGMOID:
        for (j = 0; j < count; j++) G[j] = G[j] * S[j] * (F[j] * ((NN_T)1 - F[j]));
        break;
    case NN_ACT_TANH:
        for (j = 0; j < count; j++) G[j] = G[j] * S[j] * ((NN_T)1 - F[j] * F[j]);
        break;
    case NN_ACT_RELU:
        for (j = 0; j < count; j++) G[j] = F[j] > 0 ? G[j] * S[j] : (NN_T)0;
        break;
    default: /* identity */
        for (j = 0; j < count; j++) G[j] = G[j] * S[j];
        break;
    }
}
