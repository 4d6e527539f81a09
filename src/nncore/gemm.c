/* GEMM for one element type: C = alpha op(A) @ op(B) + beta C, then the fused epilogue.
 *
 * Organisation (BLIS), in three files (gemm_internal.h: what they share):
 *   gemm.c          gemm(): checks, then the path by the shape (gemm_prepare): the direct
 *                   kernels or loop (small products), the narrow path, or the blocked path, on
 *                   one thread or split over the thread pool; which short Cs are summed in two
 *                   halves of k (k_split_at); planned products; gemm_naive.
 *   gemm_parallel.c the blocked path over the thread pool (threads.c): runs of C's panels,
 *                   one shared block at a time, the two halves of k side by side.
 *   gemm_blocked.c  the blocked path's loops, on one thread:
 *   gemm_range()    jc over NC columns, pc over KC of k: pack op(B)[pc, jc] (gemm_pack.c);
 *                   ic over MC rows: pack alpha op(A)[ic, pc]; the macro-kernel.
 *   gemm_macro_kernel()  jr over the NR-column panels, ir over the MR-row panels: the
 *                   micro-kernel (gemm_kernels_*.c, the only per-instruction-set code,
 *                   chosen at run time in dispatch.c), then, after the last k block, the epilogue
 *                   on the MC x NC block just written. A last column panel that is mostly
 *                   padding takes an edge kernel (fewer vectors, tile_kernel); in the A-in-L1
 *                   order with A stored (m, k) and alpha 1 the kernels read A's rows in place
 *                   (a_in_place_applies) instead of a packed copy, in the other order A stored
 *                   (k, m) (A^T, a weight gradient's A_prev) with alpha 1 or a power of two
 *                   (on B's packing then) likewise; for a C of few rows and B
 *                   stored (k, n) in rows of whole lines, B's rows too (b_in_place_applies).
 *                   Otherwise B stored (k, n) is packed by the first row panel's kernels as
 *                   they read it (b_packing, where the set has such kernels), not in a pass
 *                   of its own before the block; where all of C's rows fit one block of A
 *                   in L2 and B does not fit there, in the other order, all columns in one
 *                   block, each panel into the same place in turn (b_stream: B streamed
 *                   through one panel).
 *   gemm_planned()  one op(B) packed once for many products (a layer's forward over chunks of
 *                   rows, network.c), then gemm_range against it.
 * Blocking (dispatch.c, from the caches the CPU reports): a kc x NR panel of B stays in L1, the
 * MC x kc block of A in L2, the kc x NC block of B in L3.
 * The other loop order (a_in_l1, chosen in dispatch.c for the AVX-512 kernels): ic over MC
 * rows (A's block in L3), pc, pack A; jc over NC columns (B's block in L2), pack B; then ir
 * outer, jr inner: A's MR x kc panel stays in L1 while B's panels stream from L2, and C is
 * written along a band of MR rows. The tiles and k blocks are computed the same way in both.
 *
 * Small and mid-size products (up to ~2M multiply-adds, gemm_direct.c's rule) take the direct
 * kernels, which read op(A) in place: at these sizes packing costs as much as the product. So
 * does a C of at most 8 rows up to 1M multiply-adds, whatever k: its one row of tiles reads
 * op(B) once, where 8-row tiles would compute padding. What is out of their range and at
 * most 32^3 multiply-adds (a long k, a large B^T) takes gemm's own scalar direct loop.
 *
 * Narrow outputs: C at most the narrow kernel wide (one vector, or two: n = 10 against 16
 * float lanes, or 2 x 8 double lanes with AVX-512), A stored (m, k), takes the narrow kernel,
 * which reads A's rows where they are (packing A would cost more than the product) against
 * B's rows in place (masked loads; B stored (k, n), alpha 1) or op(B) packed once, alpha
 * folded in, and sums over all of k at once (no k blocks).
 * Otherwise (A stored (k, m) included), when
 * most of an NR-wide tile would be padding, the product is computed transposed,
 * C^T = op(B)^T op(A)^T: n becomes the MR side and the tiles are written to C transposed.
 *
 * Threads: C is split into ranges of whole NR-column panels (or, when C has few of them, whole
 * MR-row panels), cut inside a panel on a tile boundary where the panels are too few to halve
 * evenly (gemm_units); the operand every range needs (A for column ranges, B for row ranges)
 * is packed whole by each thread or once, in parallel, and shared. Parts are claimed
 * dynamically (threads.c), so a thread whose core is taken by another process leaves its
 * parts to the others.
 *
 * A short C (at most KSPLIT_MAX_M rows) from k in two blocks or more is summed in two halves
 * of k, added at the end (gemm_k_split): on two threads each reads half of A's columns and of
 * B's rows.
 *
 * Determinism: C[i, j] = beta C + sum over the k blocks (one block on the narrow path) (k split
 * into equal blocks of at most KC, a function of k alone) in order of (the block's sum, from 0,
 * over p in order, one FMA per term); for a short C, (beta C + the first half's blocks) + (the
 * second half's, from 0). The blocks, halves, tile grid, edge tiles and the transposed path
 * depend on (m, n, k), the kernel and the machine's blocking only, never on the thread count,
 * so results are bit-identical for any count.
 * alpha is folded into the packed A (alpha a_ip b_pj; op(B)^T when transposed), so alpha != 1
 * may differ from gemm_naive's alpha * sum in the last bits; with A^T read in place, alpha (a
 * power of two there) into the packed B instead: a_ip (alpha b_pj), the same numbers.
 */
#include "gemm_internal.h"

/* Products of at most this many multiply-adds that the direct kernels do not take
 * (gemm_direct.c's direct_applies: k beyond 256, a large B stored transposed) take the direct
 * loop (no packing). */
#define GEMM_DIRECT_MAX_WORK (32.0 * 32.0 * 32.0)
/* Products of fewer FLOP (2 m n k) than this run on one thread: no parallel loop at all.
 * Measured on the 2-core Xeon (AVX-512, float32, best of 2000 calls, the machine shared with
 * other builds, so indicative): 2 threads / 1 thread time at 0.26 MFLOP 0.95, 0.52 MFLOP
 * 0.94-1.06, 1.05 MFLOP 0.97, 1.64 MFLOP 0.98-1.01, 2.1 MFLOP (64x128x128) 1.33, 2.4 MFLOP 1.22,
 * 25.7 MFLOP (W3's 64x256x784) 1.84. A parallel loop costs ~1-3 us of waking and waiting; one
 * thread runs these at 70-110 GFLOP/s, so below ~2 MFLOP there is nothing to win.          */
#ifndef GEMM_PARALLEL_MIN_FLOPS /* -D for measuring it */
#define GEMM_PARALLEL_MIN_FLOPS 2.0e6
#endif

#define DIRECT_CHUNK 256 /* columns of one row summed at once on the stack (direct loop)   */

static int epilogue_is_empty(const epilogue_t *ep)
{
    return !ep || (!ep->bias && ep->act == NN_ACT_IDENTITY && !ep->deriv_of);
}

/* ---- a short C from a long k: the two halves of k ---------------------------------------- */
/* A C of at most KSPLIT_MAX_M rows (a batch of 64 through a 784-wide first layer) from k in
 * two blocks or more is summed in two halves: C = (beta C + the first half's k blocks) + the
 * second half's, split at a block boundary (k_split_at: the shape and the blocking alone).
 * On one thread the halves run one after the other; on two, side by side: each thread reads
 * half of op(A)'s columns and half of op(B)'s rows. In training those are the rows of W that
 * the same thread stepped at the end of the last step (the weight gradient's product splits
 * its rows the same way, the caller's thread taking the front: gemm_parallel), still in its
 * core's L2; a split of C's columns instead read every row of W, half of them from the other
 * core. More threads split each half's columns too. The sums do not depend on the count. */
#define KSPLIT_MAX_M 128
/* A bfloat16 pairs' product's short C takes the halves of k from this many terms (gemm_prepare),
 * though its k fits one block: a column split of W3's 64 x 256 x 784 gave one thread 3 of
 * the 6 panels (144 columns), the other 112, and each read every row of W. W3
 * `dtype="bfloat16"` fits on 2 threads 1.086x faster (quartiles 1.08-1.11, 11 pairs of fresh
 * processes alternated, Zen 5 KVM guest); 1 thread 0.995x (0.985-1.003, 7 pairs: the halves
 * one after the other, C summed once more). */
#define BF16_KSPLIT_MIN_K 256

/* Where the second half of k starts (a k-block boundary), or 0: no split. */
static int64_t k_split_at(const gemm_args *g)
{
    const int64_t blocks = (g->k + g->kc - 1) / g->kc;
    if (g->transposed || g->step || g->m > KSPLIT_MAX_M || blocks < 2) return 0;
    return blocks / 2 * g->kc;
}

/* ---- the narrow path: C at most the narrow kernel wide ----------------------------------- */
#ifdef NN_ELEM_F32
typedef nni_ukr_narrow_f32 narrow_t;
typedef nni_ukr_narrow_bip_f32 narrow_bip_t;
#else
typedef nni_ukr_narrow_f64 narrow_t;
typedef nni_ukr_narrow_bip_f64 narrow_bip_t;
#endif

typedef struct {
    const gemm_args *g;
    const NN_T *bp;   /* alpha op(B) packed: one panel of NARROW_W columns, k rows, or NULL:
                       * B read in place (NARROW_BIP)                                      */
    int64_t n_parts;
} narrow_job;

/* Part c: a range of mr-row panels of C. A panel with fewer than mr rows is packed first (the
 * kernel reads mr rows), zero-padded. */
static int narrow_part(void *ctx, int64_t c)
{
    const narrow_job *s = (const narrow_job *)ctx;
    const gemm_args *g = s->g;
    const narrow_t ukr = NARROW(g->kr);
    const narrow_bip_t bip = NARROW_BIP(g->kr);
    const int64_t mr = MR(g->kr), w = NARROW_W(g->kr);
    const int64_t ars = g->trans_a ? 1 : g->k, acs = g->trans_a ? g->m : 1;
    const int64_t panels = (g->m + mr - 1) / mr;
    const int64_t p0 = panels * c / s->n_parts, p1 = panels * (c + 1) / s->n_parts;
    NNI_ALIGN64 NN_T tile[NNI_UKR_MAX_TILE];
    int64_t ip;
    for (ip = p0; ip < p1; ip++) {
        const int64_t i0 = ip * mr, rows = min64(mr, g->m - i0);
        const NN_T *a = g->A + i0 * ars;
        int64_t rs = ars, cs = acs;
        if (rows < mr) {
            NN_T *ap = (NN_T *)nni_thread_scratch(SCRATCH_A, mr * g->k * (int64_t)sizeof(NN_T));
            if (!ap) return NN_ENOMEM;
            NNI_F(pack_a)(g->kr, ap, g->A, g->m, g->k, g->trans_a, i0, 0, rows, g->k, (int)mr, 1);
            a = ap, rs = 1, cs = mr;
        }
        if (s->bp)
            ukr(g->k, a, rs, cs, s->bp, tile, w, 0);
        else
            bip(g->k, a, rs, cs, g->B, g->n, g->n, tile, w, 0);
        NNI_F(gemm_write_tile)(g, tile, (int)w, i0, 0, rows, g->n, g->beta);
        if (g->ep) NNI_F(gemm_epilogue_tile)(g, i0, 0, rows, g->n);
    }
    return NN_OK;
}

static int gemm_narrow(const gemm_args *g, int threads)
{
    const int64_t mr = MR(g->kr), w = NARROW_W(g->kr);
    const int64_t panels = (g->m + mr - 1) / mr;
    narrow_job s;
    NN_T *bp = NULL;
    /* B stored (k, n), alpha 1: read in place where the set has masked loads */
    if (!NARROW_BIP(g->kr) || g->trans_b || g->alpha != 1) {
        bp = (NN_T *)nni_thread_scratch(SCRATCH_SHARED, g->k * w * (int64_t)sizeof(NN_T));
        if (!bp) return NN_ENOMEM;
        NNI_F(pack_b)(g->kr, bp, g->B, g->n, g->k, g->trans_b, 0, 0, g->k, g->n, (int)w,
                      g->alpha);
    }
    s.g = g;
    s.bp = bp;
    s.n_parts = threads > 1 ? min64(panels, (int64_t)threads * GEMM_PARTS_PER_THREAD) : 1;
    return nni_parallel_for(threads, s.n_parts, narrow_part, &s);
}

/* ---- the direct path for small products: no packing, no threads -------------------------- */
/* Elements of op(B) the direct loop writes out row-major on the stack when B is stored
 * transposed (n, k); more go on the heap. */
#define DIRECT_BT_ELEMS 2048

/* C[i, j] = alpha sum_p op(A)[i, p] op(B)[p, j] (+ beta C), p in order; then the epilogue.
 * The sums run along C's rows, vectorized. B stored transposed is written out row-major first
 * when C has rows to share the copy; a single row takes a dot product per element (the same
 * terms in the same order: the same bits either way). Zen 4 KVM guest, 1 thread, against dot
 * products for every C (2 ABBA rounds of fresh processes, ranges): 5 x 7 x 900 (a long k: the
 * loop's kind now) 1.6-2.2x faster; 16 x 128 x 10 2-4x and 8 x 64 x 64 double 1.1-2.2x, which
 * the direct kernels take now; the copy for a single row ran 1 x 256 x 128 at 0.92x, so one
 * row keeps the dot products.
 * NN_ENOMEM when the copy finds no memory. */
static int gemm_direct(const gemm_args *g)
{
    const int64_t m = g->m, n = g->n, k = g->k;
    const int64_t ars = g->trans_a ? 1 : k, acs = g->trans_a ? m : 1;
    NN_T acc[DIRECT_CHUNK];
    NN_T stack_bt[DIRECT_BT_ELEMS];
    const NN_T *B = g->B;
    NN_T *bt = NULL;
    int trans_b = g->trans_b;
    int64_t i, j0, j, p;
    if (trans_b && m > 1) { /* op(B)[p, j] = B[j k + p] */
        bt = k * n <= DIRECT_BT_ELEMS ? stack_bt : (NN_T *)nni_alloc(k * n, sizeof(NN_T));
        if (!bt) return NN_ENOMEM;
        for (p = 0; p < k; p++)
            for (j = 0; j < n; j++) bt[p * n + j] = g->B[j * k + p];
        B = bt;
        trans_b = 0;
    }
    for (i = 0; i < m; i++) {
        const NN_T *a = g->A + i * ars;
        NN_T *c = g->C + i * n;
        for (j0 = 0; j0 < n; j0 += DIRECT_CHUNK) {
            const int64_t nc = min64(DIRECT_CHUNK, n - j0);
            if (!trans_b) {
                for (j = 0; j < nc; j++) acc[j] = 0;
                for (p = 0; p < k; p++) {
                    const NN_T aip = a[p * acs];
                    const NN_T *b = B + p * n + j0;
                    for (j = 0; j < nc; j++) acc[j] += aip * b[j];
                }
            } else { /* one row: a dot product with B's row j */
                for (j = 0; j < nc; j++) {
                    const NN_T *b = B + (j0 + j) * k;
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
    if (bt != stack_bt) free(bt);
    return NN_OK;
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
        /* softmax is row-wise; exp, an output activation, is applied after the product */
        if (!nni_act_valid(ep->act) || ep->act == NN_ACT_SOFTMAX || ep->act == NN_ACT_EXP)
            return NN_EINVAL;
        if (ep->deriv_of && !nni_act_differentiable_elementwise(ep->deriv_act))
            return NN_EINVAL;
    }
    return NN_OK;
}

/* Whether the kernels read A's full row panels where they are (macro_kernel): A stored
 * (m, k) and alpha 1, so the panel would be a plain copy, in the A-in-L1 order, where a
 * panel, once read, serves every column tile from L1. The copy was 9 % of the perf samples
 * of 256 x 256 x 784 (W3's first layer over a forward chunk, one thread). The same bits: the
 * same sums over the same values.
 * A's rows a multiple of 4 KiB apart (a 4 KiB way of L1: W4's 1024 and 2048 floats) put the
 * panel's mr lines of each k in one L1 set, which B's lines pass through too: in place only
 * where L1 has 4 ways to spare (mr 8: 12 ways, as Zen 5's and the Xeons' 48 KiB; Zen 4's
 * 32 KiB has 8). There no thread packs A, nor reads panels another core packed: Zen 5 KVM
 * guest, bench_gemm_configs -o 16 -b 3, in place against packed, medians of 9-11 rounds (runs
 * back to back, load 0.3-0.9: indicative), 1 / 2 threads: float32 256 x 2048 x 2048
 * 1.00-1.01 / 1.04-1.09, 256 x 2048 x 1024 1.02 / 1.05, 2048^3 0.99 / 1.10; float64 256 x 2048
 * x 2048 1.01 / 1.06, 2048^3 0.98 / 0.99; W4's fits (2 threads, alternating in one process)
 * 1.04x (quartiles 0.99-1.06, 9 rounds). */
#define A_IN_PLACE_SPARE_WAYS 4
/* A^T in place (A stored (k, m): op(A)'s tile rows side by side in each of A's rows, the
 * packed panel's layout with A's row stride), in the B-in-L1 order, where A's panels stream
 * from L2 past B's panel in L1, one line a k step either way: the pass that packed them is
 * gone. alpha, when not 1, must be a power of two, and scales B as it is packed instead of
 * A (alpha_on_b): (alpha a) b and a (alpha b) are the same number, so the bits are those of
 * A packed (but where alpha a or alpha b would leave the normal range). A weight gradient,
 * A_prev^T delta / m, is such a product for a batch of 64 or 256 rows. Intel Xeon (Emerald
 * Rapids KVM guest, avx512f 8 x 48 / 8 x 24), alpha 1, main's and the changed `_core.gemm`
 * alternating in one process, medians of 11-15 paired rounds (started at load < 0.3), 1
 * thread: float32 256 x 128 x 64 1.068x (quartiles 1.06-1.08), 512 x 128 x 64 1.079x, 1024 x
 * 128 x 64 (rows 4 KiB apart) 1.063x, 784 x 256 x 64 1.024x, 256 x 256 x 100 1.020x; float64
 * 256 x 128 x 64 1.081x, 784 x 256 x 64 1.081x; 2 threads 256 x 128 x 64 1.067x, 784 x 256 x
 * 64 1.004x. W3's fits (its weight gradients' 1/64 on B) 1.02-1.03x on 1 and on 2 threads.
 * Not in the A-in-L1 order, where the panel stays in L1 over B's block: kc lines of A's rows,
 * a multiple of 4 KiB apart for W4's 2048 (one L1 set), ran 2048 x 2048 x 256 at 0.83x on
 * one thread, float64 0.53x on two. */
/* alpha a power of two (a batch's 1/m for 64 or 256 rows) within 2^+-100: alpha x is then
 * exact for every x but where it leaves the type's normal range */
static int power_of_two(NN_T alpha)
{
    int e;
    return alpha != 0 && fabs(frexp((double)alpha, &e)) == 0.5 && e > -100 && e < 100;
}

static int a_in_place_applies(const gemm_args *g)
{
    const int64_t row_bytes = g->k * (int64_t)sizeof(NN_T);
    int v;
    if (g->trans_a) {
        if (!UKR_ATP(g->kr) || !(g->alpha == 1 || power_of_two(g->alpha)) || g->a_in_l1 ||
            nni_gemm_a_t_in_place_off())
            return 0;
        for (v = 0; v < NNI_UKR_MAX_EDGE; v++)
            if (EDGE(g->kr)[v] && !EDGE_ATP(g->kr)[v]) return 0;
        return A_T_IN_PLACE;
    }
    if (!UKR_IP(g->kr) || g->trans_a || g->alpha != 1 || !g->a_in_l1) return 0;
    if (row_bytes % 4096 == 0 && nni_l1d_ways() < MR(g->kr) + A_IN_PLACE_SPARE_WAYS) return 0;
    for (v = 0; v < NNI_UKR_MAX_EDGE; v++)
        if (EDGE(g->kr)[v] && !EDGE_IP(g->kr)[v]) return 0;
    return A_ROWS_IN_PLACE;
}

/* B is read in place (b_in_place_applies) by products of at most this many rows of C ... */
#define B_IN_PLACE_MAX_M 128
/* ... whose rows of B are at most this many bytes apart (a page holds 2 of the rows a k block
 * walks through; at 4 KiB each row has a page of its own, and the rows share L1 sets: 64 x
 * 1024 x 784 float32 ran 0.79x in place on one thread, 64 x 1024 x 1024 0.68x on two, 64 x
 * 512 x 784 float64 0.95x). Rows of 2 KiB (n = 512 floats, 256 doubles), Emerald Rapids
 * Xeon guest, main's and the changed `_core.gemm` alternating in one process, medians of
 * 15-21 paired rounds started at load < 0.3, in place against packed by the first row
 * panel's kernels: float64 64 x 256 x 784 (W3's first layer in double) 1.072x (quartiles
 * 1.05-1.09) on 1 thread, 1.068x on 2; 32 x 256 x 784 1.20x, 128 x 256 x 784 1.02x; float32
 * 64 x 512 x 784 1.12x / 1.08x, 128 x 512 x 256 1.03x. (1 KiB until then: on a Sapphire
 * Rapids-class guest, before B was packed by the kernels, rows of 512 floats had run level
 * or slower.) */
#define B_IN_PLACE_MAX_ROW_BYTES 2048

/* Whether the kernels read B's rows where they are (macro_kernel) instead of a packed copy:
 * B stored (k, n), every row starting on a cache line and made of whole vectors (a panel's
 * last vector never reads past its row; no load splits a line), rows close together, and C
 * short, so that each packed element would serve few row panels: the packing then costs as
 * much as the reads it would save. W3's forward products (batch 64, the weights a row of
 * 256 or 128 floats). bench_gemm_configs, alternating processes with and without the rule, 1 thread
 * (2 threads), Sapphire Rapids-class Xeon guest, load ~1 from the runs themselves:
 * 64 x 256 x 784 1.19x (1.10x), 64 x 128 x 256 1.2x (1.5x); 128 and 256 rows, or rows of 512
 * and 1024 floats, level or slower; with B 16 bytes past a line 64 x 256 x 784 ran 0.92x on 2
 * threads. The forward of 784-256-128-10 float32 (bench/bench_latency.py --layers, 2 threads,
 * load 0.24, medians of 3 paired runs): 1 row 1.6x, 16 rows 1.4x, 64 rows 1.13x faster. In
 * W3's training, where the weights were just stepped, level (the packing's share moved into
 * the kernel's). B need not start on a line with AVX-512's vectors (vl 16 floats or 8
 * doubles): read in place 16 bytes past one (NumPy's arrays), every load split across two
 * lines, it still beat the packed copy, which pays for its own reads of the same rows.
 * Emerald Rapids Xeon guest, bench_gemm_configs -o 16, medians of 11-15 rounds (load < 0.3),
 * in place against packed (the first row panel packing B, b_packing), 1 thread / 2 threads:
 * 64 x 256 x 784 1.08x / 1.06x, 64 x 128 x 256 1.05x / 1.3x, 32 x 256 x 784 1.25x (1 thread),
 * 64 x 64 x 520 1.2x, 128 x 128 x 128 1.07x; 128 x 256 x 784 moved too much to call. The
 * narrower sets keep the rule's alignment: not measured on the machines that run them. The
 * same sums over the same values: no bits change (test_gemm: in place, B aligned and 16 bytes
 * on, against packed). */
static int b_in_place_applies(const gemm_args *g)
{
    const int64_t vl = VL(g->kr), row_bytes = g->n * (int64_t)sizeof(NN_T);
    int v;
    if (!UKR_BIP(g->kr) || g->trans_b || g->transposed || vl <= 0 || g->n % vl != 0 ||
        g->m > B_IN_PLACE_MAX_M || row_bytes > B_IN_PLACE_MAX_ROW_BYTES || row_bytes % 64 != 0 ||
        ((uintptr_t)g->B % 64 != 0 && vl * (int64_t)sizeof(NN_T) < 64) ||
        nni_gemm_b_in_place_off())
        return 0;
    for (v = 0; v < NNI_UKR_MAX_EDGE; v++)
        if (EDGE(g->kr)[v] && !EDGE_BIP(g->kr)[v]) return 0;
    return 1;
}

/* The path a product takes (gemm_prepare). */
enum { PATH_DIRECT_KERNELS, PATH_DIRECT_LOOP, PATH_NARROW, PATH_BLOCKED };

/* A product with the optimizer step whose every tile is final after one kernel call (k in one
 * block, beta 0: C not read) and whose C is larger than L2 steps each tile from the kernel's
 * sums as soon as they are computed, the tile's parameters asked for while the kernel runs,
 * and never writes C: the gradient of a training step is not read again once stepped. W4's
 * 2048 x 2048 x 256 dW then moves W through the core once (read, written) where the product
 * wrote dW and the step after it (dense.c: a C beyond L2 is stepped in one sweep) read dW and
 * W and wrote W: W4, 2 threads, fits alternating in one process, 15 rounds: 1.011x and 1.025x
 * (quartiles 0.98-1.11); 1 thread 1.064x (7 rounds, 0.93-1.10). A C within L2 keeps the step
 * of each block as the block is final: W3's 784 x 256 x 64 (k 64: a short kernel a tile, the
 * step's 8 calls of 48 elements beside it) ran 0.95x with tile steps. The same elements take
 * the same step from the same sums: the bits of the product followed by the step. Not with a
 * transposed product (tiles in the caller's columns) or a bfloat16 alpha that scales tiles. */
static int step_tiles_apply(const gemm_args *g, NN_T beta)
{
    return g->step && beta == 0 && g->kc >= g->k && !g->transposed && !g->alpha_on_tiles &&
           (double)g->m * (double)g->n * sizeof(NN_T) > (double)nn_cache_size(2);
}

/* g for C (m, n) = alpha op(A) @ op(B) + beta C, then the epilogue ep or the optimizer step
 * (each may be NULL): the path, and for the blocked path the orientation (transposed or not)
 * and the blocking. A function of the shape, the transpositions, whether C has an epilogue
 * or a step, the kernel and the machine's caches, never of the thread count. */
static int gemm_prepare(gemm_args *g, NN_T *C, const NN_T *A, const NN_T *B, int64_t m,
                        int64_t n, int64_t k, int trans_a, int trans_b, NN_T alpha, NN_T beta,
                        const epilogue_t *ep, const NNI_F(optim_step) *step, int bf16)
{
    nni_gemm_blocking bl;
    int64_t mr, nr;
    g->C = C;
    g->A = A;
    g->B = B;
    g->m = m;
    g->n = n;
    g->k = k;
    g->trans_a = trans_a;
    g->trans_b = trans_b;
    g->transposed = 0;
    g->a_in_l1 = 0;
    g->a_in_place = 0;
    g->b_in_place = 0;
    g->b_packing = 0;
    g->b_stream = 0;
    g->ldc = n;
    g->k0 = 0;
    g->k1 = k;
    g->step = step;
    g->step_tiles = 0;
    g->alpha = alpha;
    g->beta = beta;
    g->ep = epilogue_is_empty(ep) ? NULL : ep;
    g->kr = nni_gemm_kernel_get();
    g->bf16 = 0;
    g->alpha_on_tiles = 0;
    g->alpha_on_b = 0;
    /* a bfloat16 product (nn_gemm_bf16_f32) packs both operands, whatever its size: the
     * packing is where they are rounded; vdpbf16ps where there is a set for it */
    if (bf16) {
        const nni_gemm_kernel *set = nni_gemm_kernel_bf16();
        /* AMX's tiles take 32 terms at a time: fewer take the float kernels on rounded
         * operands (W4's 256 x 2048 x 10 delta W^T; vdpbf16ps runs at ~0.6x the float
         * kernels on the Xeons that have AMX) */
        if (set && set->bf16_layout == NNI_BF16_TILES && k < NNI_BF16_TILES_MIN_K) set = NULL;
        if (set) g->kr = set;
        g->bf16 = set ? set->bf16_layout : NNI_BF16_ROUNDED;
        /* alpha a power of two (W's gradient's 1/m for a batch of 64 or 256), or 1: alpha
         * bf16(a) = bf16(alpha a) exactly (but where alpha a leaves float's normal range), so
         * alpha scales A as it is packed and every tile goes straight to C; any other alpha
         * scales each tile's sums as they are written (write_tile) */
        g->alpha_on_tiles = !power_of_two(alpha);
    } else {
        /* mid-size products: the direct kernels (gemm_direct.c; its rule), as a layer's are */
        if (NNI_F(direct_applies)(m, n, k, trans_b)) return PATH_DIRECT_KERNELS;
        if ((double)m * (double)n * (double)k <= GEMM_DIRECT_MAX_WORK) return PATH_DIRECT_LOOP;
    }
    mr = MR(g->kr);
    nr = NR(g->kr);
    /* narrow C from A stored (m, k): the narrow kernel reads A's rows in place. A stored (k, m)
     * would be read down its columns, a cache line per term (W4's dW2 = A^T delta, 2048 x 10
     * x 256: 17 GFLOP/s); the transposed product below streams A's rows as packed panels
     * instead (32 GFLOP/s, 1.9x, paired runs, Ice Lake Xeon, 1 thread) */
    if (NARROW(g->kr) && n <= NARROW_W(g->kr) && !trans_a && !g->bf16) return PATH_NARROW;
    /* narrow C: the transposed product has a quarter fewer padded lanes or better */
    if (4 * round_up(n, mr) * round_up(m, nr) < 3 * round_up(m, mr) * round_up(n, nr)) {
        g->A = B;
        g->B = A;
        g->m = n;
        g->n = m;
        g->trans_a = !trans_b;
        g->trans_b = !trans_a;
        g->transposed = 1;
    }
    /* few rows: a set with taller tiles pads fewer (10 rows: one 12-row panel, not two 8-row
     * ones; W4's 10-wide layer's products, transposed) */
    if (g->kr->few_rows && g->m <= MR(g->kr->few_rows) &&
        round_up(g->m, mr) > MR(g->kr->few_rows)) {
        g->kr = g->kr->few_rows;
        mr = MR(g->kr);
        nr = NR(g->kr);
    }
    /* bfloat16 pairs: a panel holds 2 bytes a term, so k blocks twice as long fill the
     * caches as the float ones do (their panels keep the float ones' places: half used) */
    nni_gemm_blocking_get(&bl, (int)mr, (int)nr,
                          g->bf16 == NNI_BF16_PAIRS || g->bf16 == NNI_BF16_TILES
                              ? 2
                              : (int)sizeof(NN_T),
                          k,
                          m * n * (int64_t)sizeof(NN_T), !g->trans_b && !g->ep && !g->step);
    {
        int64_t k_blocks = (k + bl.kc - 1) / bl.kc;
        /* a short C summed in two halves of k (k_split_at): an even count of blocks, so that
         * the halves are equal (784 at kc 336, float 12 x 32 on a 32 KiB L1: 4 blocks of 196,
         * two a half; 3 of 262 gave one half a block and the other two) */
        if (!g->transposed && g->m <= KSPLIT_MAX_M && k_blocks > 2 && k_blocks % 2) k_blocks++;
        /* a bfloat16 pairs' short C from k >= BF16_KSPLIT_MIN_K in one block (its panels hold
         * twice the float terms, so W3's 784 is one block): two, so that it takes the halves
         * of k as the float product does (k_split_at). The rounded float panels block k as
         * float does. */
        if ((g->bf16 == NNI_BF16_PAIRS || g->bf16 == NNI_BF16_TILES) && !g->transposed &&
            !g->step && g->m <= KSPLIT_MAX_M &&
            k_blocks == 1 && k >= BF16_KSPLIT_MIN_K)
            k_blocks = 2;
        /* k in equal blocks of at most KC (784 = 4 x 196, not 3 x 256 + 16): C is read and
         * written once per block, so a short last block costs a whole pass for little work */
        g->kc = (k + k_blocks - 1) / k_blocks;
        g->mc = bl.mc;
        g->nc = bl.nc;
        g->a_in_l1 = bl.a_in_l1;
        g->a_in_place = g->bf16 ? 0 : a_in_place_applies(g);
        /* A^T in place takes alpha on the packed B (so B is packed, never read in place) */
        g->alpha_on_b = g->a_in_place == A_T_IN_PLACE && alpha != 1;
        g->b_in_place = !g->bf16 && !g->alpha_on_b && b_in_place_applies(g);
        g->b_packing = !g->bf16 && !g->alpha_on_b && !g->b_in_place && UKR_BPACK(g->kr) &&
                       !g->trans_b && !g->transposed && !nni_gemm_b_packing_off();
        /* B streamed through one panel (dispatch.c's rule): the other order, all rows in one
         * block; A is then packed (a_in_place_applies needs the A-in-L1 order for A (m, k)).
         * All columns in one block too: a block's first panel is packed before its source
         * could be asked for (the next is asked for over the column before it), and the packed
         * panel takes no room in L3 whatever the block's width. W4's float32 256 x 2048 x 2048
         * on one thread in the 240 columns a product with an epilogue gets (dispatch.c):
         * 0.92x one block (bench_gemm_configs -o 16, 11 rounds), 0.96x the A-in-L1 order. */
        if (g->a_in_l1 && g->b_packing && !g->trans_a &&
            nni_gemm_b_stream_applies(round_up(g->m, mr) * g->kc * (int64_t)sizeof(NN_T),
                                      g->k * g->n * (int64_t)sizeof(NN_T))) {
            g->a_in_l1 = 0;
            g->a_in_place = 0;
            g->b_stream = 1;
            g->mc = round_up(g->m, mr);
            g->nc = min64(round_up(g->n, nr), NNI_GEMM_NC_MAX / nr * nr);
        }
        g->step_tiles = step_tiles_apply(g, beta);
        if (g->a_in_l1) { /* m in equal L3 blocks too (2048 rows: 2 x 1032, not 2040 + 8) */
            const int64_t m_blocks = (g->m + bl.mc - 1) / bl.mc;
            g->mc = round_up((g->m + m_blocks - 1) / m_blocks, mr);
        }
    }
    return PATH_BLOCKED;
}

int NNI_F(gemm_may_split)(int64_t m, int64_t n, int64_t k, int trans_b)
{
    if (NNI_F(direct_applies)(m, n, k, trans_b)) return NNI_F(direct_splits)(m, n, k);
    return nni_threads() > 1 &&
           2.0 * (double)m * (double)n * (double)k >= GEMM_PARALLEL_MIN_FLOPS;
}

/* A prepared product on the narrow or the blocked path, on as many threads as pay. */
static int gemm_run(const gemm_args *g, int path)
{
    int64_t threads = nni_threads(), ks;
    if (threads > 1 && 2.0 * (double)g->m * (double)g->n * (double)g->k < GEMM_PARALLEL_MIN_FLOPS)
        threads = 1;
    if (path == PATH_NARROW) return gemm_narrow(g, (int)threads);
    if ((ks = k_split_at(g)) > 0) return NNI_F(gemm_k_split)(g, ks, (int)threads, NULL);
    if (threads > 1) return NNI_F(gemm_parallel)(g, (int)threads);
    return NNI_F(gemm_range)(g, 0, g->m, 0, g->n, NULL, NULL);
}

/* C (m, n) = alpha op(A) @ op(B) + beta C, then the epilogue. Threads split C's output
 * ranges, or a short C's two halves of k (summed in that order on any count); the blocking
 * does not depend on the count. */
static int gemm_any(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
                    int trans_a, int trans_b, NN_T alpha, NN_T beta, const NN_F(epilogue) *ep)
{
    gemm_args g;
    int path, st = gemm_check(C, A, B, m, n, k, trans_a, trans_b, ep);
    if (st != NN_OK) return st;
    path = gemm_prepare(&g, C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep, NULL, 0);
    if (path == PATH_DIRECT_KERNELS)
        return NNI_F(direct_gemm)(C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep);
    if (path == PATH_DIRECT_LOOP) return gemm_direct(&g);
    return gemm_run(&g, path);
}

int NN_F(gemm)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
               int trans_a, int trans_b, NN_T alpha, NN_T beta, const NN_F(epilogue) *ep)
{
    if (nni_profile_on()) {
        nni_profile_enter(m, n, k, trans_a, trans_b, (int)sizeof(NN_T), 0);
        return nni_profile_leave(gemm_any(C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep));
    }
    return gemm_any(C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep);
}

#ifdef NN_ELEM_F32
/* C (m, n) = alpha op(A) @ op(B) + beta C, then the epilogue, the products in bfloat16: gemm's
 * blocked path, whose packing rounds op(A) and op(B) to bfloat16 (gemm_prepare), on the
 * bfloat16 set where there is one; the sums in float, in blocks and halves of k that do not
 * depend on the thread count, so neither do the bits. alpha (W's gradient's 1/m) scales each
 * k block's sum as the block's tile is written; folded into a packed operand it would change
 * the operand's rounding (and which operand is packed as A depends on the shape), but for a
 * power of two (gemm_prepare). */
static int gemm_bf16_any(float *C, const float *A, const float *B, int64_t m, int64_t n,
                         int64_t k, int trans_a, int trans_b, float alpha, float beta,
                         const nn_epilogue_f32 *ep)
{
    gemm_args g;
    int st = gemm_check(C, A, B, m, n, k, trans_a, trans_b, ep);
    if (st != NN_OK) return st;
    gemm_prepare(&g, C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep, NULL, 1);
    return gemm_run(&g, PATH_BLOCKED);
}

int nn_gemm_bf16_f32(float *C, const float *A, const float *B, int64_t m, int64_t n, int64_t k,
                     int trans_a, int trans_b, float alpha, float beta,
                     const nn_epilogue_f32 *ep)
{
    if (nni_profile_on()) {
        nni_profile_enter(m, n, k, trans_a, trans_b, 2, 0);
        return nni_profile_leave(
            gemm_bf16_any(C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep));
    }
    return gemm_bf16_any(C, A, B, m, n, k, trans_a, trans_b, alpha, beta, ep);
}

/* gemm_step's contract (internal.h) with nn_gemm_bf16_f32's products: the bits of
 * nn_gemm_bf16_f32 followed by the step, each block of C stepped as soon as it is final. */
static int gemm_step_bf16(float *C, const float *A, const float *B, int64_t m, int64_t n,
                          int64_t k, int trans_a, int trans_b, float alpha, float beta,
                          const nni_optim_step_f32 *s, int64_t off)
{
    gemm_args g;
    const int prof = nni_profile_on();
    int st;
    if (prof) nni_profile_enter(m, n, k, trans_a, trans_b, 2, 1);
    st = gemm_check(C, A, B, m, n, k, trans_a, trans_b, NULL);
    if (st == NN_OK && (!s || C != s->grads + off)) st = NN_EINVAL;
    if (st == NN_OK) {
        gemm_prepare(&g, C, A, B, m, n, k, trans_a, trans_b, alpha, beta, NULL, s, 1);
        g.step_off = off;
        NNI_F(optim_step_consts)(s, g.step_c);
        st = gemm_run(&g, PATH_BLOCKED);
    }
    return prof ? nni_profile_leave(st) : st;
}
#endif

/* Whether a product of this shape takes the blocked path, g then prepared for it (operands
 * all at *dummy, never read): the shape queries below, which ask what gemm would do. */
static int blocked_shape(gemm_args *g, NN_T *dummy, int64_t m, int64_t n, int64_t k,
                         int trans_a, int trans_b, NN_T alpha, NN_T beta,
                         const NNI_F(optim_step) *step, int bf16)
{
    return m > 0 && n > 0 && k > 0 &&
           gemm_prepare(g, dummy, dummy, dummy, m, n, k, trans_a, trans_b, alpha, beta, NULL,
                        step, bf16) == PATH_BLOCKED;
}

/* The training products by precision (internal.h): nn_products' values index the table. */
static int step_tiles_of(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                         NN_T alpha, NN_T beta, int bf16)
{
    gemm_args g;
    NN_T dummy = 0;
    NNI_F(optim_step) s;
    memset(&s, 0, sizeof s);
    return blocked_shape(&g, &dummy, m, n, k, trans_a, trans_b, alpha, beta, &s, bf16)
               ? g.step_tiles
               : 0;
}

static int step_tiles_native(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                             NN_T alpha, NN_T beta)
{
    return step_tiles_of(m, n, k, trans_a, trans_b, alpha, beta, 0);
}

static const NNI_F(products) products_native = {NN_F(gemm), NNI_F(gemm_step),
                                                step_tiles_native};
#ifdef NN_ELEM_F32
static int step_tiles_bf16(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                           float alpha, float beta)
{
    return step_tiles_of(m, n, k, trans_a, trans_b, alpha, beta, 1);
}

static const NNI_F(products) products_bf16 = {nn_gemm_bf16_f32, gemm_step_bf16,
                                              step_tiles_bf16};
static const NNI_F(products) *const products_table[] = {&products_native, &products_bf16};
#else
static const NNI_F(products) *const products_table[] = {&products_native, NULL};
#endif

const NNI_F(products) *NNI_F(products_of)(nn_products p)
{
    return (int)p >= 0 && (int)p < (int)(sizeof products_table / sizeof *products_table)
               ? products_table[p]
               : NULL;
}

int NNI_F(gemm_step)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
                     int trans_a, int trans_b, NN_T alpha, NN_T beta,
                     const NNI_F(optim_step) *s, int64_t off)
{
    gemm_args g;
    const int prof = nni_profile_on();
    int path, st;
    if (prof) nni_profile_enter(m, n, k, trans_a, trans_b, (int)sizeof(NN_T), 1);
    st = gemm_check(C, A, B, m, n, k, trans_a, trans_b, NULL);
    if (st == NN_OK && (!s || C != s->grads + off)) st = NN_EINVAL;
    if (st == NN_OK) {
        path = gemm_prepare(&g, C, A, B, m, n, k, trans_a, trans_b, alpha, beta, NULL, s, 0);
        if (path != PATH_BLOCKED) { /* the product whole, then its step */
            st = gemm_any(C, A, B, m, n, k, trans_a, trans_b, alpha, beta, NULL);
            if (st == NN_OK) st = NNI_F(optim_step_range)(s, off, m * n);
        } else {
            g.step_off = off;
            NNI_F(optim_step_consts)(s, g.step_c);
            st = gemm_run(&g, path);
        }
    }
    return prof ? nni_profile_leave(st) : st;
}

int64_t NNI_F(gemm_k_split_at)(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b)
{
    gemm_args g;
    NN_T dummy = 0;
    return blocked_shape(&g, &dummy, m, n, k, trans_a, trans_b, 1, 0, NULL, 0) ? k_split_at(&g)
                                                                                : 0;
}

int NNI_F(gemm_a_in_place)(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                           NN_T alpha)
{
    gemm_args g;
    NN_T dummy = 0;
    return blocked_shape(&g, &dummy, m, n, k, trans_a, trans_b, alpha, 0, NULL, 0) ? g.a_in_place
                                                                                   : 0;
}

/* ---- planned products: one op(B), many A ------------------------------------------------ */
/* A layer's forward over many chunks of rows multiplies each chunk by the same W: op(B) is
 * packed once, as gemm_range reads a whole packed operand, instead of once per chunk (4 % of
 * the perf samples of a 10,000-row forward of 784-256-128-10 on one thread). The planned call
 * computes exactly what gemm computes for the same arguments (same path, blocking, tiles and
 * sums), so the plan changes no bits. */
int NNI_F(gemm_plan_init)(NNI_F(gemm_plan) *p, const NN_T *B, int64_t m, int64_t n, int64_t k,
                          int pack)
{
    gemm_args g;
    NN_T dummy = 0;
    int64_t pad, pc;
    int st = gemm_check(&dummy, &dummy, B, m, n, k, 0, 0, NULL);
    p->B = B;
    p->m = m;
    p->n = n;
    p->k = k;
    p->bp = NULL;
    p->gemm = NN_F(gemm);
    if (st != NN_OK || !pack) return st;
    if (gemm_prepare(&g, &dummy, &dummy, B, m, n, k, 0, 0, 1, 0, NULL, NULL, 0) !=
            PATH_BLOCKED ||
        g.transposed)
        return NN_OK; /* the product takes gemm */
    pad = round_up(n, NR(g.kr));
    if (!(p->bp = (NN_T *)nni_block_alloc(pad * k * (int64_t)sizeof(NN_T)))) return NN_ENOMEM;
    for (pc = 0; pc < k; pc += g.kc) /* the block at pc at pc n_pad, as pack_shared_part */
        NNI_F(gemm_pack_side)(&g, 0, p->bp + pc * pad, 0, n, pc, min64(g.kc, k - pc));
    return NN_OK;
}

void NNI_F(gemm_plan_free)(NNI_F(gemm_plan) *p)
{
    if (p->bp) nni_block_free(p->bp);
    p->bp = NULL;
}

/* C (m, n) = A (m, k) @ B + the epilogue (alpha 1, beta 0, neither transposed), on this
 * thread: against the plan's packed B when it was planned for m rows, else through the
 * plan's gemm. */
int NNI_F(gemm_planned)(NN_T *C, const NN_T *A, const NNI_F(gemm_plan) *p, int64_t m,
                        const NN_F(epilogue) *ep)
{
    gemm_args g;
    int64_t ks;
    int st, prof;
    if (!p->bp || m != p->m) return p->gemm(C, A, p->B, m, p->n, p->k, 0, 0, 1, 0, ep);
    if ((st = gemm_check(C, A, p->B, m, p->n, p->k, 0, 0, ep)) != NN_OK) return st;
    if ((prof = nni_profile_on()) != 0)
        nni_profile_enter(m, p->n, p->k, 0, 0, (int)sizeof(NN_T), 0);
    gemm_prepare(&g, C, A, p->B, m, p->n, p->k, 0, 0, 1, 0, ep, NULL, 0);
    st = (ks = k_split_at(&g)) > 0 ? NNI_F(gemm_k_split)(&g, ks, 1, p->bp)
                                   : NNI_F(gemm_range)(&g, 0, g.m, 0, g.n, NULL, p->bp);
    return prof ? nni_profile_leave(st) : st;
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
