/* GEMM for one element type: C = alpha op(A) @ op(B) + beta C, then the fused epilogue.
 *
 * Organisation (BLIS):
 *   gemm()          checks, then either the direct loop (small products) or the blocked
 *                   path; OpenMP splits C into column (or row) ranges, one per thread.
 *   gemm_range()    jc over NC columns, pc over KC of k: pack op(B)[pc, jc] (gemm_pack.c);
 *                   ic over MC rows: pack alpha op(A)[ic, pc]; the macro-kernel.
 *   macro_kernel()  jr over the NR-column panels, ir over the MR-row panels: the
 *                   micro-kernel (gemm_kernels_*.c, the only per-instruction-set code,
 *                   chosen at run time in dispatch.c), then, after the last k block, the epilogue
 *                   on the MR x NR tile while it is in L1.
 * Blocking: a kc x NR panel of B stays in L1 (KC 256: 16 KiB), the MC x kc block of A in L2
 * (144 x 256 floats or 72 x 256 doubles: 144 KiB), the kc x NC block of B in L3.
 *
 * Determinism: C[i, j] = beta C + sum over the k blocks (k split into equal blocks of at most
 * KC, a function of k alone) in order of (the block's sum, from 0,
 * over p in order, one FMA per term); the blocks, tile grid and edge tiles depend on (m, n, k)
 * and the kernel only, never on the thread count, so results are bit-identical for any count.
 * alpha is folded into the packed A (alpha a_ip b_pj), so alpha != 1 may differ from
 * gemm_naive's alpha * sum in the last bits.
 */
#include "internal.h"

#define KC 256
#ifdef NN_ELEM_F32
#define MC 144
#define UKR(kr) ((kr)->ukr_f32)
#define MR(kr) ((kr)->mr_f32)
#define NR(kr) ((kr)->nr_f32)
#else
#define MC 72
#define UKR(kr) ((kr)->ukr_f64)
#define MR(kr) ((kr)->mr_f64)
#define NR(kr) ((kr)->nr_f64)
#endif
#define NC 4096 /* a multiple of every kernel's NR, so edge tiles only at C's edge */

/* Products of at most this many multiply-adds take the direct loop (no packing). */
#define GEMM_DIRECT_MAX_WORK (32.0 * 32.0 * 32.0)
/* Products below this many multiply-adds run on one thread (no OpenMP region at all). */
#define GEMM_PARALLEL_MIN_WORK (64.0 * 64.0 * 64.0)

#define DIRECT_CHUNK 256 /* columns of one row summed at once on the stack (direct loop)   */

typedef NN_F(epilogue) epilogue_t;
#ifdef NN_ELEM_F32
typedef nni_ukr_f32 ukr_t;
#else
typedef nni_ukr_f64 ukr_t;
#endif

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One row segment of C after its sums are final: c += bias; c = act(c); c *= act'(deriv_of). */
static void epilogue_row(NN_T *c, int64_t len, const epilogue_t *ep, int64_t row_off,
                         int64_t col)
{
    int64_t j;
    if (ep->bias)
        for (j = 0; j < len; j++) c[j] += ep->bias[col + j];
    if (ep->act != NN_ACT_IDENTITY) nni_act_inplace(c, len, ep->act);
    if (ep->deriv_of) nni_deriv_mul(c, c, ep->deriv_of + row_off + col, len, ep->deriv_act);
}

static int epilogue_is_empty(const epilogue_t *ep)
{
    return !ep || (!ep->bias && ep->act == NN_ACT_IDENTITY && !ep->deriv_of);
}

/* This thread's packing buffers (scratch.c): slots 0, 1 for float A, B; 2, 3 for double. */
#ifdef NN_ELEM_F32
#define SCRATCH_A 0
#else
#define SCRATCH_A 2
#endif

/* ---- the blocked path ------------------------------------------------------------------- */
typedef struct {
    NN_T *C;
    const NN_T *A, *B;
    int64_t m, n, k;
    int trans_a, trans_b;
    NN_T alpha, beta;
    const epilogue_t *ep; /* NULL when empty */
    const nni_gemm_kernel *kr;
} gemm_args;

/* C[ic : ic+mc, jc : jc+nc] (= c, row stride n) = beta C + ap @ bp over one k block of kc;
 * the epilogue after the last block. */
static void macro_kernel(const gemm_args *g, NN_T *c, const NN_T *ap, const NN_T *bp,
                         int64_t ic, int64_t jc, int64_t mc, int64_t nc, int64_t kc, NN_T beta,
                         int last)
{
    const ukr_t ukr = UKR(g->kr);
    const int mr = MR(g->kr), nr = NR(g->kr);
    const int64_t ldc = g->n;
    NN_T tile[NNI_UKR_MAX_TILE];
    int64_t jr, ir, i, j;
    for (jr = 0; jr < nc; jr += nr) {
        const int64_t cols = min64(nr, nc - jr);
        for (ir = 0; ir < mc; ir += mr) {
            const int64_t rows = min64(mr, mc - ir);
            NN_T *ct = c + ir * ldc + jr;
            if (rows == mr && cols == nr) {
                ukr(kc, ap + ir * kc, bp + jr * kc, ct, ldc, beta);
            } else { /* edge tile: the full tile into a buffer, the valid part into C */
                ukr(kc, ap + ir * kc, bp + jr * kc, tile, nr, 0);
                for (i = 0; i < rows; i++) {
                    NN_T *cr = ct + i * ldc;
                    const NN_T *tr = tile + i * nr;
                    if (beta == 0)
                        for (j = 0; j < cols; j++) cr[j] = tr[j];
                    else if (beta == 1)
                        for (j = 0; j < cols; j++) cr[j] = cr[j] + tr[j];
                    else
                        for (j = 0; j < cols; j++) cr[j] = beta * cr[j] + tr[j];
                }
            }
            if (last && g->ep)
                for (i = 0; i < rows; i++)
                    epilogue_row(ct + i * ldc, cols, g->ep, (ic + ir + i) * ldc, jc + jr);
        }
    }
}

/* The rows r0 .. r1-1 and columns c0 .. c1-1 of C, serially, with this thread's buffers. */
static int gemm_range(const gemm_args *g, int64_t r0, int64_t r1, int64_t c0, int64_t c1)
{
    const int mr = MR(g->kr), nr = NR(g->kr);
    /* k in equal blocks of at most KC (784 = 4 x 196, not 3 x 256 + 16): C is read and
     * written once per block, so a short last block costs a whole pass for little work */
    const int64_t k_blocks = (g->k + KC - 1) / KC;
    const int64_t kc_max = (g->k + k_blocks - 1) / k_blocks;
    const int64_t mc_max = min64(MC, (r1 - r0 + mr - 1) / mr * mr);
    const int64_t nc_max = min64(NC, (c1 - c0 + nr - 1) / nr * nr);
    NN_T *ap = (NN_T *)nni_thread_scratch(SCRATCH_A, mc_max * kc_max * (int64_t)sizeof(NN_T));
    NN_T *bp =
        (NN_T *)nni_thread_scratch(SCRATCH_A + 1, nc_max * kc_max * (int64_t)sizeof(NN_T));
    int64_t jc, pc, ic;
    if (!ap || !bp) return NN_ENOMEM;
    for (jc = c0; jc < c1; jc += NC) {
        const int64_t nc = min64(NC, c1 - jc);
        for (pc = 0; pc < g->k; pc += kc_max) {
            const int64_t kc = min64(kc_max, g->k - pc);
            const NN_T beta = pc == 0 ? g->beta : (NN_T)1;
            NNI_F(pack_b)(bp, g->B, g->n, g->k, g->trans_b, pc, jc, kc, nc, nr);
            for (ic = r0; ic < r1; ic += MC) {
                const int64_t mc = min64(MC, r1 - ic);
                NNI_F(pack_a)(ap, g->A, g->m, g->k, g->trans_a, ic, pc, mc, kc, mr, g->alpha);
                macro_kernel(g, g->C + ic * g->n + jc, ap, bp, ic, jc, mc, nc, kc, beta,
                             pc + kc == g->k);
            }
        }
    }
    return NN_OK;
}

#ifdef NN_HAVE_OPENMP
/* Thread t of nt takes whole NR-column panels when there are enough of them, else whole
 * MR-row panels: ranges start on panel boundaries, so the tile grid is the serial one. */
static int gemm_thread_part(const gemm_args *g, int t, int nt)
{
    const int64_t mr = MR(g->kr), nr = NR(g->kr);
    const int64_t col_panels = (g->n + nr - 1) / nr, row_panels = (g->m + mr - 1) / mr;
    if (col_panels >= 2 * nt || col_panels >= row_panels) {
        const int64_t p0 = col_panels * t / nt, p1 = col_panels * (t + 1) / nt;
        if (p0 == p1) return NN_OK;
        return gemm_range(g, 0, g->m, p0 * nr, min64(p1 * nr, g->n));
    } else {
        const int64_t p0 = row_panels * t / nt, p1 = row_panels * (t + 1) / nt;
        if (p0 == p1) return NN_OK;
        return gemm_range(g, p0 * mr, min64(p1 * mr, g->m), 0, g->n);
    }
}
#endif

/* ---- the direct path for small products: no packing, no threads -------------------------- */
/* C[i, j] = alpha sum_p op(A)[i, p] op(B)[p, j] (+ beta C), p in order; then the epilogue. */
static void gemm_direct(const gemm_args *g)
{
    const int64_t m = g->m, n = g->n, k = g->k;
    const int64_t ars = g->trans_a ? 1 : k, acs = g->trans_a ? m : 1;
    NN_T acc[DIRECT_CHUNK];
    int64_t i, j0, j, p;
    for (i = 0; i < m; i++) {
        const NN_T *a = g->A + i * ars;
        NN_T *c = g->C + i * n;
        for (j0 = 0; j0 < n; j0 += DIRECT_CHUNK) {
            const int64_t nc = min64(DIRECT_CHUNK, n - j0);
            if (!g->trans_b) {
                for (j = 0; j < nc; j++) acc[j] = 0;
                for (p = 0; p < k; p++) {
                    const NN_T aip = a[p * acs];
                    const NN_T *b = g->B + p * n + j0;
                    for (j = 0; j < nc; j++) acc[j] += aip * b[j];
                }
            } else { /* op(B)[p, j] = B[j k + p]: a dot product with B's row j */
                for (j = 0; j < nc; j++) {
                    const NN_T *b = g->B + (j0 + j) * k;
                    NN_T s = 0;
                    for (p = 0; p < k; p++) s += a[p * acs] * b[p];
                    acc[j] = s;
                }
            }
            if (g->beta == 0)
                for (j = 0; j < nc; j++) c[j0 + j] = g->alpha * acc[j];
            else
                for (j = 0; j < nc; j++) c[j0 + j] = g->alpha * acc[j] + g->beta * c[j0 + j];
            if (g->ep) epilogue_row(c + j0, nc, g->ep, i * n, j0);
        }
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

/* C (m, n) = alpha op(A) @ op(B) + beta C, then the epilogue. OpenMP over output ranges only:
 * a k reduction is never split, and the blocking does not depend on the thread count. */
int NN_F(gemm)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
               int trans_a, int trans_b, NN_T alpha, NN_T beta, const NN_F(epilogue) *ep)
{
    gemm_args g;
    double work;
    int st = gemm_check(C, A, B, m, n, k, trans_a, trans_b, ep);
    if (st != NN_OK) return st;
    g.C = C;
    g.A = A;
    g.B = B;
    g.m = m;
    g.n = n;
    g.k = k;
    g.trans_a = trans_a;
    g.trans_b = trans_b;
    g.alpha = alpha;
    g.beta = beta;
    g.ep = epilogue_is_empty(ep) ? NULL : ep;
    g.kr = nni_gemm_kernel_get();
    work = (double)m * (double)n * (double)k;
    if (work <= GEMM_DIRECT_MAX_WORK) {
        gemm_direct(&g);
        return NN_OK;
    }
#ifdef NN_HAVE_OPENMP
    {
        const int threads = nni_threads();
        if (threads > 1 && work >= GEMM_PARALLEL_MIN_WORK) {
            st = NN_OK;
#pragma omp parallel num_threads(threads)
            {
                const int s = gemm_thread_part(&g, omp_get_thread_num(), omp_get_num_threads());
                if (s != NN_OK) {
#pragma omp critical(nn_gemm_status)
                    st = s;
                }
            }
            return st;
        }
    }
#endif
    return gemm_range(&g, 0, m, 0, n);
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
