/* Activations forward and backward (the derivative written from the output a = f(z)). */
#include "internal.h"

/* Rows of softmax whose exps go through the vector math in one call: up to this many values. */
#define SOFTMAX_CHUNK 1024

/* softmax of m rows of n: a_j = e^(z_j - max z) / sum_i e^(z_i - max z), the max shift keeping
 * e^x <= 1. The exps of a chunk of rows are taken in one call (each value's exp is a function
 * of the value alone, so every row comes out as it would alone); each row's sum is taken in
 * column order. zmax, zsum (m each, or NULL): each row's max z and sum of e^(z - max z). A may
 * be Z. delta (or NULL), with Y: delta = A - Y. */
void NNI_F(softmax_rows_delta)(NN_T *A, const NN_T *Z, int64_t m, int64_t n, NN_T *zmax,
                               NN_T *zsum, NN_T *delta, const NN_T *Y)
{
    const int64_t rows = n < SOFTMAX_CHUNK ? SOFTMAX_CHUNK / n : 1;
    int64_t i0, i, j;
    for (i0 = 0; i0 < m; i0 += rows) {
        const int64_t R = m - i0 < rows ? m - i0 : rows;
        for (i = i0; i < i0 + R; i++) {
            const NN_T *z = Z + i * n;
            NN_T *a = A + i * n, mx = z[0];
            for (j = 1; j < n; j++)
                if (z[j] > mx) mx = z[j];
            for (j = 0; j < n; j++) a[j] = z[j] - mx;
            if (zmax) zmax[i] = mx;
        }
        nni_exp_inplace(A + i0 * n, R * n);
        for (i = i0; i < i0 + R; i++) {
            NN_T *a = A + i * n, sum = 0;
            for (j = 0; j < n; j++) sum += a[j];
            for (j = 0; j < n; j++) a[j] = a[j] / sum;
            if (zsum) zsum[i] = sum;
            if (delta)
                for (j = 0; j < n; j++) delta[i * n + j] = a[j] - Y[i * n + j];
        }
    }
}

/* A = f(Z): identity z, step [z >= 0], sigmoid, tanh, relu max(0, z), softmax row by row. */
int NN_F(activation_forward)(NN_T *A, const NN_T *Z, int64_t m, int64_t n, nn_act act)
{
    int64_t count;
    int st;
    if (!A || !Z || m <= 0 || n <= 0 || !nni_act_valid(act)) return NN_EINVAL;
    if ((st = nni_mul(&count, m, n)) != NN_OK) return st;
    if (act == NN_ACT_SOFTMAX) {
        NNI_F(softmax_rows_delta)(A, Z, m, n, NULL, NULL, NULL, NULL);
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
 * test (u64 >> 11) >= ceil(p 2^53) (p 2^53 is exact): the same decision without a division.
 * Value i's draw is the stream's draw i (nni_splitmix64_at), so a large layer is cut into
 * chunks shared over the pool: the same masks, and the same state after, for any thread
 * count. */
#define DROPOUT_CHUNK 2048           /* values one part draws                               */
#define DROPOUT_PARALLEL_MIN 8192    /* values below which one thread draws them all: ~3 ns a
                                      * draw, against ~1-3 us of waking the pool             */
typedef struct {
    NN_T *A, *S;
    const NN_T *F;
    int64_t count;
    uint64_t s0, threshold;
    NN_T scale;
} NNI_F(dropout_job);

/* An unsigned integer as wide as NN_T, for its bits. */
#ifdef NN_ELEM_F32
typedef uint32_t dropout_bits;
#else
typedef uint64_t dropout_bits;
#endif

static void NNI_F(dropout_range)(const NNI_F(dropout_job) *j, int64_t i0, int64_t i1)
{
    dropout_bits scale_bits;
    int64_t i;
    memcpy(&scale_bits, &j->scale, sizeof scale_bits);
    for (i = i0; i < i1; i++) {
        /* S = scale or +0 by masking scale's bits with the comparison, not by a branch (a
         * dropped unit is unpredictable, and compilers turn a select of two floats into one) */
        const dropout_bits keep =
            (dropout_bits)0 - (dropout_bits)((nni_splitmix64_at(j->s0, i) >> 11) >= j->threshold);
        const dropout_bits bits = scale_bits & keep;
        NN_T s;
        memcpy(&s, &bits, sizeof s);
        j->S[i] = s;
        j->A[i] = j->F[i] * s;
    }
}

static int NNI_F(dropout_part)(void *ctx, int64_t c)
{
    const NNI_F(dropout_job) *j = (const NNI_F(dropout_job) *)ctx;
    const int64_t i0 = c * DROPOUT_CHUNK;
    NNI_F(dropout_range)(j, i0, i0 + DROPOUT_CHUNK < j->count ? i0 + DROPOUT_CHUNK : j->count);
    return NN_OK;
}

void NNI_F(dropout_forward)(NN_T *A, NN_T *S, const NN_T *F, int64_t count, double p,
                            uint64_t *state)
{
    NNI_F(dropout_job) j;
    const int threads = count >= DROPOUT_PARALLEL_MIN ? nni_threads() : 1;
    j.A = A;
    j.S = S;
    j.F = F;
    j.count = count;
    j.s0 = *state;
    j.threshold = (uint64_t)ceil(p * 9007199254740992.0);
    j.scale = (NN_T)(1.0 / (1.0 - p));
    /* the parts never fail: a pool that cannot run them leaves the whole layer to this thread */
    if (threads <= 1 || nni_parallel_for(threads, (count + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK,
                                         NNI_F(dropout_part), &j) != NN_OK)
        NNI_F(dropout_range)(&j, 0, count);
    *state = j.s0 + (uint64_t)count * NNI_SPLITMIX64_GAMMA;
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
        for (j = 0; j < count; j++) { /* the 0/1 factor in its own variable: it vectorizes */
            const NN_T keep = F[j] > 0 ? (NN_T)1 : (NN_T)0;
            G[j] = G[j] * S[j] * keep;
        }
        break;
    default: /* identity */
        for (j = 0; j < count; j++) G[j] = G[j] * S[j];
        break;
    }
}
