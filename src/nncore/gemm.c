/* GEMM for one element type: C = alpha op(A) @ op(B) + beta C, then the fused epilogue.
 *
 * Organisation (BLIS-like; a packed, per-ISA micro-kernel can replace micro_kernel later):
 *   macro-kernel  gemm()      C is cut into tiles of MC x NC; OpenMP shares the tiles.
 *   tile          gemm_tile() the tile's sums live in a local accumulator; k is walked in
 *                             blocks of KC, each block strip by strip (NR columns of op(B)),
 *                             MR rows of op(A) at a time.
 *   micro-kernel  MR x NR register tile: c[r][:] += op(A)[r, p] * op(B)[p, :], p in order.
 *   write-back    alpha, beta, then the epilogue (bias, activation, derivative) on the tile.
 * op(B) rows must be contiguous for the micro-kernel: they are for NN and TN; for NT and TT a
 * KC x NR strip of B^T is packed first (B rows are read contiguously while packing).
 *
 * Determinism: every element of C is summed over p = 0 .. k-1 in order, starting from 0, in
 * one thread, whatever the tile, block or thread count. So the result is bit-identical for any
 * number of threads, and equal to gemm_naive's (up to FMA contraction on targets that have it).
 */
#include "internal.h"

#define MC 32                           /* rows of a tile (a thread's unit of work)          */
#define NC 128                          /* columns of a tile                                  */
#define KC 256                          /* depth of one k block                               */
#define MR 4                            /* micro-kernel rows                                  */
#define NR (32 / (int)sizeof(NN_T))     /* micro-kernel columns: 8 floats or 4 doubles        */

/* Products below this many multiply-adds run serially: no OpenMP start-up cost. */
#define GEMM_PARALLEL_MIN_WORK (64.0 * 64.0 * 64.0)

typedef NN_F(epilogue) epilogue_t;

/* GCC's loop vectorizer turns the micro-kernel's p loop into 4-row gathers and shuffles
 * (4x slower for float); without it, its SLP pass vectorizes along j as intended. */
#if defined(__GNUC__) && !defined(__clang__)
#define MICRO_KERNEL_ATTR __attribute__((optimize("no-tree-loop-vectorize")))
#else
#define MICRO_KERNEL_ATTR
#endif

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* acc (MR x NR, row stride NC) += op(A)[0:MR, 0:kc] @ op(B)[0:kc, 0:NR].
 * op(A)[r, p] = a[r * ars + p * acs]; op(B)[p, j] = b[p * ldb + j]. */
MICRO_KERNEL_ATTR
static void micro_kernel(NN_T *restrict acc, const NN_T *restrict a, int64_t ars, int64_t acs,
                         const NN_T *restrict b, int64_t ldb, int64_t kc)
{
    NN_T c[MR][NR];
    int64_t p;
    int r, j;
    for (r = 0; r < MR; r++)
        for (j = 0; j < NR; j++) c[r][j] = acc[r * NC + j];
    for (p = 0; p < kc; p++) {
        const NN_T *bp = b + p * ldb;
        for (r = 0; r < MR; r++) {
            const NN_T ar = a[r * ars + p * acs];
            for (j = 0; j < NR; j++) c[r][j] += ar * bp[j];
        }
    }
    for (r = 0; r < MR; r++)
        for (j = 0; j < NR; j++) acc[r * NC + j] = c[r][j];
}

/* The same for an edge block of mr <= MR rows and nr <= NR columns, same summation order. */
static void edge_kernel(NN_T *restrict acc, const NN_T *restrict a, int64_t ars, int64_t acs,
                        const NN_T *restrict b, int64_t ldb, int64_t kc, int64_t mr, int64_t nr)
{
    int64_t r, j, p;
    for (r = 0; r < mr; r++) {
        for (j = 0; j < nr; j++) {
            NN_T s = acc[r * NC + j];
            for (p = 0; p < kc; p++) s += a[r * ars + p * acs] * b[p * ldb + j];
            acc[r * NC + j] = s;
        }
    }
}

/* bp (kc x NR, row stride NR) = B^T[0:kc, 0:nr] for B stored (n, ldk): bp[p, j] = B[j, p]. */
static void pack_bt_strip(NN_T *restrict bp, const NN_T *restrict B, int64_t ldk, int64_t kc,
                          int64_t nr)
{
    int64_t p, j;
    for (j = 0; j < nr; j++) {
        const NN_T *row = B + j * ldk;
        for (p = 0; p < kc; p++) bp[p * NR + j] = row[p];
    }
}

/* One row of C: c = alpha acc + beta c (c not read when beta == 0); c += bias; c = act(c);
 * c *= act'(deriv_of). */
static void write_back_row(NN_T *c, const NN_T *acc, int64_t nc, NN_T alpha, NN_T beta,
                           const NN_T *bias, nn_act act, const NN_T *deriv_of, nn_act deriv_act)
{
    int64_t j;
    if (beta == 0)
        for (j = 0; j < nc; j++) c[j] = alpha * acc[j];
    else
        for (j = 0; j < nc; j++) c[j] = alpha * acc[j] + beta * c[j];
    if (bias)
        for (j = 0; j < nc; j++) c[j] += bias[j];
    if (act != NN_ACT_IDENTITY) nni_act_inplace(c, nc, act);
    if (deriv_of) nni_deriv_mul(c, c, deriv_of, nc, deriv_act);
}

/* The tile of C at (i0, j0), of at most MC x NC. */
static void gemm_tile(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
                      int trans_a, int trans_b, NN_T alpha, NN_T beta, const epilogue_t *ep,
                      int64_t i0, int64_t j0)
{
    NN_T acc[MC * NC];
    NN_T bpack[KC * NR];
    const int64_t mc = min64(MC, m - i0), nc = min64(NC, n - j0);
    const int64_t ars = trans_a ? 1 : k, acs = trans_a ? m : 1;
    int64_t p0, ii, jj, r;

    for (r = 0; r < mc; r++) memset(acc + r * NC, 0, (size_t)nc * sizeof(NN_T));

    for (p0 = 0; p0 < k; p0 += KC) {
        const int64_t kc = min64(KC, k - p0);
        for (jj = 0; jj < nc; jj += NR) {
            const int64_t nr = min64(NR, nc - jj);
            const NN_T *b;
            int64_t ldb;
            if (!trans_b) {
                b = B + p0 * n + (j0 + jj);
                ldb = n;
            } else {
                pack_bt_strip(bpack, B + (j0 + jj) * k + p0, k, kc, nr);
                b = bpack;
                ldb = NR;
            }
            for (ii = 0; ii < mc; ii += MR) {
                const int64_t mr = min64(MR, mc - ii);
                const NN_T *a = A + (i0 + ii) * ars + p0 * acs;
                NN_T *c = acc + ii * NC + jj;
                if (mr == MR && nr == NR)
                    micro_kernel(c, a, ars, acs, b, ldb, kc);
                else
                    edge_kernel(c, a, ars, acs, b, ldb, kc, mr, nr);
            }
        }
    }

    for (r = 0; r < mc; r++) {
        const int64_t off = (i0 + r) * n + j0;
        write_back_row(C + off, acc + r * NC, nc, alpha, beta,
                       ep && ep->bias ? ep->bias + j0 : NULL,
                       ep ? ep->act : NN_ACT_IDENTITY,
                       ep && ep->deriv_of ? ep->deriv_of + off : NULL,
                       ep ? ep->deriv_act : NN_ACT_IDENTITY);
    }
}

/* Shared argument checks of gemm and gemm_naive. */
static int gemm_check(const NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n,
                      int64_t k, int trans_a, int trans_b, const epilogue_t *ep)
{
    int64_t t;
    int st;
    if (!C || !A || !B || m <= 0 || n <= 0 || k <= 0) return NN_EINVAL;
    if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) return NN_EINVAL;
    if ((st = nni_mul(&t, m, n)) != NN_OK || (st = nni_mul(&t, m, k)) != NN_OK ||
        (st = nni_mul(&t, k, n)) != NN_OK)
        return st;
    if (ep) {
        if (!nni_act_valid(ep->act) || ep->act == NN_ACT_SOFTMAX) return NN_EINVAL;
        if (ep->deriv_of && !nni_act_differentiable_elementwise(ep->deriv_act))
            return NN_EINVAL;
    }
    return NN_OK;
}

/* C (m, n) = alpha op(A) @ op(B) + beta C, then the epilogue. OpenMP over output tiles only:
 * a k reduction is never split, and the blocking does not depend on the thread count. */
int NN_F(gemm)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
               int trans_a, int trans_b, NN_T alpha, NN_T beta, const NN_F(epilogue) *ep)
{
    int64_t tiles_m, tiles_n, tiles, t;
    int st = gemm_check(C, A, B, m, n, k, trans_a, trans_b, ep);
    if (st != NN_OK) return st;
    tiles_m = (m + MC - 1) / MC;
    tiles_n = (n + NC - 1) / NC;
    tiles = tiles_m * tiles_n;
#ifdef NN_HAVE_OPENMP
    {
        const int threads = nni_threads();
        const int parallel = threads > 1 && tiles > 1 &&
                             (double)m * (double)n * (double)k >= GEMM_PARALLEL_MIN_WORK;
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
        for (t = 0; t < tiles; t++)
            gemm_tile(C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep,
                      (t / tiles_n) * MC, (t % tiles_n) * NC);
    }
#else
    for (t = 0; t < tiles; t++)
        gemm_tile(C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep,
                  (t / tiles_n) * MC, (t % tiles_n) * NC);
#endif
    return NN_OK;
}

/* The plain triple loop: C[i,j] = alpha sum_p op(A)[i,p] op(B)[p,j] + beta C[i,j], epilogue. */
int NN_F(gemm_naive)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
                     int trans_a, int trans_b, NN_T alpha, NN_T beta, const NN_F(epilogue) *ep)
{
    int64_t i, j, p;
    int st = gemm_check(C, A, B, m, n, k, trans_a, trans_b, ep);
    if (st != NN_OK) return st;
    for (i = 0; i < m; i++) {
        NN_T *c = C + i * n;
        for (j = 0; j < n; j++) {
            NN_T s = 0;
            for (p = 0; p < k; p++) {
                const NN_T a = trans_a ? A[p * m + i] : A[i * k + p];
                const NN_T b = trans_b ? B[j * k + p] : B[p * n + j];
                s += a * b;
            }
            c[j] = beta == 0 ? alpha * s : alpha * s + beta * c[j];
            if (ep && ep->bias) c[j] += ep->bias[j];
        }
        if (ep && ep->act != NN_ACT_IDENTITY) nni_act_inplace(c, n, ep->act);
        if (ep && ep->deriv_of) nni_deriv_mul(c, c, ep->deriv_of + i * n, n, ep->deriv_act);
    }
    return NN_OK;
}
