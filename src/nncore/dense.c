/* The dense layer: forward through the fused GEMM, backward as two GEMMs and a column sum. */
#include "internal.h"

#define COLSUM_CHUNK 256 /* columns summed at once in a stack buffer */
/* db's column sums go over the thread pool from this many values of delta (W4's 256 x 2048:
 * ~0.1 ms a layer on one core; W3's 64 x 256 stays on the calling thread). */
#define COLSUM_PARALLEL_MIN ((int64_t)1 << 18)

/* Z = A @ W + b, then A_out = f(Z), with W's product planned (gemm.c: W packed once for
 * many calls, or not planned: gemm). */
static int dense_forward_with(NN_T *A_out, NN_T *Z_out, const NN_T *A, const NNI_F(gemm_plan) *W,
                              const NN_T *b, int64_t m, nn_act act)
{
    NN_F(epilogue) ep;
    NN_T *dst;
    int st;
    ep.bias = b;
    ep.deriv_of = NULL;
    ep.deriv_act = NN_ACT_IDENTITY;
    if (!Z_out && act != NN_ACT_SOFTMAX && act != NN_ACT_EXP) {
        ep.act = act; /* fused: A_out = f(A @ W + b) as each tile is written */
        return NNI_F(gemm_planned)(A_out, A, W, m, &ep);
    }
    ep.act = NN_ACT_IDENTITY;
    dst = Z_out ? Z_out : A_out;
    if ((st = NNI_F(gemm_planned)(dst, A, W, m, &ep)) != NN_OK) return st;
    return NN_F(activation_forward)(A_out, dst, m, W->n, act);
}

/* Z = A @ W + b, then A_out = f(Z). A (m, k), W (k, n), b (n), A_out and Z_out (m, n). */
int NN_F(dense_forward)(NN_T *A_out, NN_T *Z_out, const NN_T *A, const NN_T *W, const NN_T *b,
                        int64_t m, int64_t k, int64_t n, nn_act act)
{
    NNI_F(gemm_plan) unpacked;
    if (!A_out || !A || !W || !b || m <= 0 || k <= 0 || n <= 0 || !nni_act_valid(act))
        return NN_EINVAL;
    NNI_F(gemm_plan_init)(&unpacked, W, m, n, k, 0); /* W valid: NN_OK, nothing allocated */
    return dense_forward_with(A_out, Z_out, A, &unpacked, b, m, act);
}

/* dense_forward with the product prod->gemm (a training step's precision, internal.h). */
int NNI_F(dense_forward_products)(NN_T *A_out, NN_T *Z_out, const NN_T *A, const NN_T *W,
                                  const NN_T *b, int64_t m, int64_t k, int64_t n, nn_act act,
                                  const NNI_F(products) *prod)
{
    NNI_F(gemm_plan) unpacked;
    if (!A_out || !A || !W || !b || !prod || m <= 0 || k <= 0 || n <= 0 || !nni_act_valid(act))
        return NN_EINVAL;
    NNI_F(gemm_plan_init)(&unpacked, W, m, n, k, 0); /* W valid: NN_OK, nothing allocated */
    unpacked.gemm = prod->gemm;
    return dense_forward_with(A_out, Z_out, A, &unpacked, b, m, act);
}

/* A_out = f(A @ W + b) against W's plan (W->k inputs, W->n outputs), m rows. */
int NNI_F(dense_forward_planned)(NN_T *A_out, const NN_T *A, const NNI_F(gemm_plan) *W,
                                 const NN_T *b, int64_t m, nn_act act)
{
    if (!A_out || !A || !W || !b || m <= 0 || !nni_act_valid(act)) return NN_EINVAL;
    return dense_forward_with(A_out, NULL, A, W, b, m, act);
}

/* db[j] (+)= (sum_i delta[i, j]) / m for the columns of chunk c (COLSUM_CHUNK wide), each
 * column summed in row order: the same bits whichever thread sums it. */
typedef struct {
    NN_T *db;
    const NN_T *delta;
    int64_t m, n;
    int accumulate;
} colsum_job;

static int colsum_part(void *ctx, int64_t c)
{
    const colsum_job *j = (const colsum_job *)ctx;
    const int64_t j0 = c * COLSUM_CHUNK;
    const int64_t nc = j->n - j0 < COLSUM_CHUNK ? j->n - j0 : COLSUM_CHUNK;
    NN_T s[COLSUM_CHUNK];
    int64_t jj;
    NNI_F(column_sums)(s, j->delta + j0, j->m, nc, j->n);
    for (jj = 0; jj < nc; jj++)
        j->db[j0 + jj] = (j->accumulate ? j->db[j0 + jj] : (NN_T)0) + s[jj] / (NN_T)j->m;
    return NN_OK;
}

/* delta_prev (m, k) = delta (m, n) @ W^T (n, k), times f'(A_prev) on write-back. */
static int dense_backward_delta(NN_T *delta_prev, const NN_T *A_prev, const NN_T *W,
                                const NN_T *delta, int64_t m, int64_t k, int64_t n,
                                nn_act act_prev, const NNI_F(products) *prod)
{
    NN_F(epilogue) ep;
    ep.bias = NULL;
    ep.act = NN_ACT_IDENTITY;
    ep.deriv_of = act_prev == NN_ACT_IDENTITY ? NULL : A_prev;
    ep.deriv_act = act_prev;
    return prod->gemm(delta_prev, delta, W, m, k, n, 0, 1, 1, 0, &ep);
}

/* dW (+)= A_prev^T @ delta / m;  db (+)= sum_rows(delta) / m  (accumulate: +=, else =);
 * delta_prev = (delta @ W^T) * f'(A_prev) when delta_prev != NULL.
 * Written, dW is the product with beta = 0 (C never read) and db 0 + s / m: the bits of
 * adding to zeros (the kernels' sums start at +0, so they are never -0).                  */
int NNI_F(dense_backward_into)(NN_T *dW, NN_T *db, NN_T *delta_prev, const NN_T *A_prev,
                               const NN_T *W, const NN_T *delta, int64_t m, int64_t k,
                               int64_t n, nn_act act_prev, int accumulate,
                               const NNI_F(optim_step) *step, int64_t off,
                               const NNI_F(products) *prod)
{
    const NN_T inv_m = (NN_T)1 / (NN_T)m;
    /* the step inside the product when dW fits in L2, or when the product steps each tile as
     * its kernel computes it (prod->step_tiles: W4's 2048 x 2048, 16 MiB, from a batch in one
     * k block); else after it in one sweep: stepping W's rows block by block, as the product
     * finished each block, ran W4 1.04x slower (paired runs at load ~0.9: indicative, but no
     * sign of a gain) */
    const int fuse = step && ((double)k * (double)n * sizeof(NN_T) <= (double)nn_cache_size(2) ||
                              prod->step_tiles(k, n, m, 1, 0, inv_m, accumulate ? 1 : 0));
    colsum_job cs;
    int64_t chunks;
    int st;
    if (!dW || !db || !A_prev || !delta || !prod || m <= 0 || k <= 0 || n <= 0)
        return NN_EINVAL;
    if (!nni_act_differentiable_elementwise(act_prev)) return NN_EINVAL;
    if (delta_prev && !W) return NN_EINVAL;

    if (fuse && delta_prev) { /* it reads W: before the step changes W */
        st = dense_backward_delta(delta_prev, A_prev, W, delta, m, k, n, act_prev, prod);
        if (st != NN_OK) return st;
    }

    /* dW (k, n) (+)= (1/m) A_prev^T (k, m) @ delta (m, n), with step stepped as written */
    st = fuse ? prod->gemm_step(dW, A_prev, delta, k, n, m, 1, 0, inv_m, accumulate ? 1 : 0,
                                step, off)
              : prod->gemm(dW, A_prev, delta, k, n, m, 1, 0, inv_m, accumulate ? 1 : 0, NULL);
    if (st != NN_OK) return st;

    /* db (+)= sum_rows(delta) / m, in chunks of columns */
    cs.db = db;
    cs.delta = delta;
    cs.m = m;
    cs.n = n;
    cs.accumulate = accumulate;
    chunks = (n + COLSUM_CHUNK - 1) / COLSUM_CHUNK;
    st = nni_parallel_for(m * n >= COLSUM_PARALLEL_MIN ? nni_threads() : 1, chunks, colsum_part,
                          &cs);
    if (st != NN_OK) return st;

    if (!fuse && delta_prev &&
        (st = dense_backward_delta(delta_prev, A_prev, W, delta, m, k, n, act_prev, prod)) !=
            NN_OK)
        return st;
    if (!step) return NN_OK;
    /* db's step, or the whole layer's once delta_prev has used W */
    return fuse ? NNI_F(optim_step_range)(step, off + k * n, n)
                : NNI_F(optim_step_range)(step, off, k * n + n);
}

/* dW += A_prev^T @ delta / m;  db += sum_rows(delta) / m;
 * delta_prev = (delta @ W^T) * f'(A_prev) when delta_prev != NULL.
 * act_prev step (not differentiable) or softmax (not elementwise): NN_EINVAL. */
int NN_F(dense_backward)(NN_T *dW, NN_T *db, NN_T *delta_prev, const NN_T *A_prev,
                         const NN_T *W, const NN_T *delta, int64_t m, int64_t k, int64_t n,
                         nn_act act_prev)
{
    return NNI_F(dense_backward_into)(dW, db, delta_prev, A_prev, W, delta, m, k, n, act_prev,
                                      1, NULL, 0, NNI_F(products_of)(NN_PRODUCTS_NATIVE));
}
