/* GEMM for one element type: C = alpha op(A) @ op(B) + beta C, then the fused epilogue.
 *
 * Organisation (BLIS):
 *   gemm()          checks, then the direct loop (small products) or the blocked path, on one
 *                   thread or split into parts over the thread pool (threads.c).
 *   gemm_range()    jc over NC columns, pc over KC of k: pack op(B)[pc, jc] (gemm_pack.c);
 *                   ic over MC rows: pack alpha op(A)[ic, pc]; the macro-kernel.
 *   macro_kernel()  jr over the NR-column panels, ir over the MR-row panels: the
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
 *                   of its own before the block.
 *   gemm_planned()  one op(B) packed once for many products (a layer's forward over chunks of
 *                   rows, network.c), then gemm_range against it.
 * Blocking (dispatch.c, from the caches the CPU reports): a kc x NR panel of B stays in L1, the
 * MC x kc block of A in L2, the kc x NC block of B in L3.
 * The other loop order (a_in_l1, chosen in dispatch.c for the AVX-512 kernels): ic over MC
 * rows (A's block in L3), pc, pack A; jc over NC columns (B's block in L2), pack B; then ir
 * outer, jr inner: A's MR x kc panel stays in L1 while B's panels stream from L2, and C is
 * written along a band of MR rows. The tiles and k blocks are computed the same way in both.
 *
 * Mid-size products (between the direct loop's 32^3 and ~2M multiply-adds, gemm_direct.c's
 * rule) take the direct kernels, which read op(A) in place: at these sizes packing costs as
 * much as the product. So does a C of at most 8 rows from 8192 to 1M multiply-adds, whatever
 * k: its one row of tiles reads op(B) once, where 8-row tiles would compute padding.
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
 * MR-row panels); the operand every range needs (A for column ranges, B for row ranges) is
 * packed once, in parallel, and shared. Parts are claimed dynamically (threads.c), so a thread
 * whose core is taken by another process leaves its parts to the others.
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
#include "internal.h"

#ifdef NN_ELEM_F32
#define UKR(kr) ((kr)->ukr_f32)
#define MR(kr) ((kr)->mr_f32)
#define NR(kr) ((kr)->nr_f32)
#define NARROW(kr) ((kr)->narrow_f32)
#define NARROW_BIP(kr) ((kr)->narrow_bip_f32)
#define VL(kr) ((kr)->vl_f32)
#define NARROW_W(kr) ((kr)->vl_f32 * (kr)->narrow_vecs_f32)
#define EDGE(kr) ((kr)->edge_f32)
#define UKR_IP(kr) ((kr)->ukr_ip_f32)
#define EDGE_IP(kr) ((kr)->edge_ip_f32)
#define UKR_ATP(kr) ((kr)->ukr_atp_f32)
#define EDGE_ATP(kr) ((kr)->edge_atp_f32)
#define UKR_BIP(kr) ((kr)->ukr_bip_f32)
#define EDGE_BIP(kr) ((kr)->edge_bip_f32)
#define UKR_BPACK(kr) ((kr)->ukr_bpack_f32)
#else
#define UKR(kr) ((kr)->ukr_f64)
#define MR(kr) ((kr)->mr_f64)
#define NR(kr) ((kr)->nr_f64)
#define NARROW(kr) ((kr)->narrow_f64)
#define NARROW_BIP(kr) ((kr)->narrow_bip_f64)
#define VL(kr) ((kr)->vl_f64)
#define NARROW_W(kr) ((kr)->vl_f64 * (kr)->narrow_vecs_f64)
#define EDGE(kr) ((kr)->edge_f64)
#define UKR_IP(kr) ((kr)->ukr_ip_f64)
#define EDGE_IP(kr) ((kr)->edge_ip_f64)
#define UKR_ATP(kr) ((kr)->ukr_atp_f64)
#define EDGE_ATP(kr) ((kr)->edge_atp_f64)
#define UKR_BIP(kr) ((kr)->ukr_bip_f64)
#define EDGE_BIP(kr) ((kr)->edge_bip_f64)
#define UKR_BPACK(kr) ((kr)->ukr_bpack_f64)
#endif

/* Products of at most this many multiply-adds take the direct loop (no packing), but a C of at
 * most 8 rows from 8192 (the direct kernels: gemm_direct.c's direct_applies). */
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
/* Parts per thread of a parallel product: enough that a late thread delays the product by
 * a small part, few enough that each part still fills whole macro-kernel passes.         */
#define GEMM_PARTS_PER_THREAD 4
/* A split product whose panel (the unit its runs are made of) is at least this much work
 * claims runs of a quarter of what is left on 2 threads, not half (gemm_split's divisor):
 * a first run of half of C could not be shared out again, and the thread that finished first
 * waited for the other's last panels. W4's products (a panel 25-50 MFLOP, ~0.1-0.2 ms),
 * 2 threads, Zen 5 KVM guest: the wait at the end of each product went from 130-265 us to
 * 65-150 us (timing build, indicative). W3's products (a panel under 1 MFLOP) keep their
 * halves, which keep each thread's share of the operands in its own L2 from call to call. */
#define GEMM_SMALL_RUNS_MIN_PANEL_FLOPS 4.0e6

/* gemm_args.a_in_place: A's rows read in place (A stored (m, k)), or A^T's ((k, m)) */
#define A_ROWS_IN_PLACE 1
#define A_T_IN_PLACE 2

#define DIRECT_CHUNK 256 /* columns of one row summed at once on the stack (direct loop)   */

typedef NN_F(epilogue) epilogue_t;
#ifdef NN_ELEM_F32
typedef nni_ukr_f32 ukr_t;
typedef nni_ukr_narrow_f32 narrow_t;
typedef nni_ukr_narrow_bip_f32 narrow_bip_t;
#else
typedef nni_ukr_f64 ukr_t;
typedef nni_ukr_narrow_f64 narrow_t;
typedef nni_ukr_narrow_bip_f64 narrow_bip_t;
#endif

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t x, int64_t r) { return (x + r - 1) / r * r; }

/* One row segment of C after its sums are final: c += bias; c = act(c); c *= act'(deriv_of). */
static void epilogue_row(NN_T *restrict c, int64_t len, const epilogue_t *ep, int64_t row_off,
                         int64_t col)
{
    int64_t j;
    if (ep->bias) {
        const NN_T *restrict bias = ep->bias + col; /* restrict: the loop vectorizes */
        for (j = 0; j < len; j++) c[j] += bias[j];
    }
    if (ep->act != NN_ACT_IDENTITY) nni_act_inplace(c, len, ep->act);
    if (ep->deriv_of) nni_deriv_mul(c, c, ep->deriv_of + row_off + col, len, ep->deriv_act);
}

static int epilogue_is_empty(const epilogue_t *ep)
{
    return !ep || (!ep->bias && ep->act == NN_ACT_IDENTITY && !ep->deriv_of);
}

/* This thread's packing buffers (scratch.c): slots 0, 1 for float A, B; 2, 3 for double;
 * 4 (float), 5 (double) for the operand a parallel product packs once and shares. */
#ifdef NN_ELEM_F32
#define SCRATCH_A 0
#define SCRATCH_SHARED 4
#else
#define SCRATCH_A 2
#define SCRATCH_SHARED 5
#endif

/* ---- the blocked path ------------------------------------------------------------------- */
/* The product as the kernel sees it. When transposed, A and B are the caller's B and A with
 * flipped flags, m and n swapped, and the kernel's (i, j) is the caller's C[j, i].        */
typedef struct {
    NN_T *C;
    const NN_T *A, *B;
    int64_t m, n, k;
    int trans_a, trans_b;
    int transposed;
    int64_t ldc;          /* the caller's row stride of C: its n                              */
    NN_T alpha, beta;
    const epilogue_t *ep; /* NULL when empty                                                   */
    const nni_gemm_kernel *kr;
    int64_t mc, kc, nc;   /* blocking: MC, NC, and the k block (k in equal blocks <= KC)      */
    int64_t k0, k1;       /* the k blocks summed: those in [k0, k1) (0, k but for a k half)    */
    int a_in_l1;          /* the loop order (nni_gemm_blocking): A's panel in L1, B's block in L2 */
    int a_in_place;       /* the kernels read A's full row panels in place (gemm_prepare):
                           * A_ROWS_IN_PLACE (A stored (m, k)) or A_T_IN_PLACE ((k, m)), or 0 */
    int b_in_place;       /* the kernels read B's rows in place, B never packed (gemm_prepare) */
    int b_packing;        /* the first row panel's kernels pack B's full panels (gemm_prepare) */
    int bf16;             /* 0, or how a bfloat16 product packs: NNI_BF16_PAIRS / _TILES /
                           * _ROUNDED                                                          */
    int alpha_on_tiles;   /* a bfloat16 product's alpha, not a power of two, scales each tile  */
    int alpha_on_b;       /* alpha (a power of two) scales the packed B, not A: A^T in place  */
    const NNI_F(optim_step) *step; /* gemm_step's: each final block of C takes it, or NULL   */
    int step_tiles;       /* each tile takes the step from the kernel's sums, C never written
                           * (step_tiles_apply)                                                */
    int64_t step_off;     /* C's first element in the step's arrays                            */
    NN_T step_c[NNI_STEP_CONSTS];
} gemm_args;

/* Floats a lane of a packed panel of kc terms takes: kc, or for bfloat16 pairs (two terms a
 * 32-bit word) (kc + 1) / 2, so that a block's panels lie end to end as the float ones do;
 * for AMX's tiles that rounded up to whole tile rows of 16 pairs (at most kc: gemm_prepare
 * gives the tiles k blocks of NNI_BF16_TILES_MIN_K terms or more). */
static int64_t panel_kc(const gemm_args *g, int64_t kc)
{
    if (g->bf16 == NNI_BF16_TILES) return round_up((kc + 1) / 2, 16);
    return g->bf16 == NNI_BF16_PAIRS ? (kc + 1) / 2 : kc;
}

/* The tile (rows x cols, row stride nr) into C at the kernel's (i0, j0), then beta. */
static void write_tile(const gemm_args *g, const NN_T *tile, int nr, int64_t i0, int64_t j0,
                       int64_t rows, int64_t cols, NN_T beta)
{
    const int64_t rs = g->transposed ? 1 : g->ldc, cs = g->transposed ? g->ldc : 1;
    NN_T *c = g->C + i0 * rs + j0 * cs;
    int64_t i, j;
    for (i = 0; i < rows; i++) {
        const NN_T *tr = tile + i * nr;
        NN_T *cr = c + i * rs;
        if (g->alpha_on_tiles) { /* nn_gemm_bf16_f32's alpha (gemm_prepare) */
            if (beta == 0)
                for (j = 0; j < cols; j++) cr[j * cs] = g->alpha * tr[j];
            else
                for (j = 0; j < cols; j++) cr[j * cs] = beta * cr[j * cs] + g->alpha * tr[j];
        } else if (beta == 0)
            for (j = 0; j < cols; j++) cr[j * cs] = tr[j];
        else if (beta == 1)
            for (j = 0; j < cols; j++) cr[j * cs] = cr[j * cs] + tr[j];
        else
            for (j = 0; j < cols; j++) cr[j * cs] = beta * cr[j * cs] + tr[j];
    }
}

/* The epilogue on the kernel's rows i0 .. i0+rows-1, columns j0 .. j0+cols-1 of C, final. */
static void epilogue_tile(const gemm_args *g, int64_t i0, int64_t j0, int64_t rows,
                          int64_t cols)
{
    int64_t i;
    if (!g->transposed)
        for (i = 0; i < rows; i++)
            epilogue_row(g->C + (i0 + i) * g->ldc + j0, cols, g->ep, (i0 + i) * g->ldc, j0);
    else /* the caller's rows j0 .. j0+cols-1, its columns i0 .. i0+rows-1 */
        for (i = 0; i < cols; i++)
            epilogue_row(g->C + (j0 + i) * g->ldc + i0, rows, g->ep, (j0 + i) * g->ldc, i0);
}

/* The optimizer step (gemm_step) on the kernel's rows i0 .. i0+rows-1, columns j0 ..
 * j0+cols-1 of C, final: row by row of the caller's C, elementwise. */
static void step_tile(const gemm_args *g, int64_t i0, int64_t j0, int64_t rows, int64_t cols)
{
    int64_t i, e;
    if (!g->transposed)
        for (i = 0; i < rows; i++) {
            e = g->step_off + (i0 + i) * g->ldc + j0;
            NNI_F(optim_step_elems)(g->step, g->step_c, e, e + cols);
        }
    else /* the caller's rows j0 .. j0+cols-1, its columns i0 .. i0+rows-1 */
        for (i = 0; i < cols; i++) {
            e = g->step_off + (j0 + i) * g->ldc + i0;
            NNI_F(optim_step_elems)(g->step, g->step_c, e, e + rows);
        }
}

/* The lines of the step's parameters and state of the tile at the kernel's (i0, j0), rows x
 * cols, asked for into L2 before the kernel computes the tile, so that the step after it finds
 * them there (step_tiles). L2, not L1: the kernel's k x NR panel of B fills L1 (256 x 48
 * floats: 48 KiB), and lines fetched into L1 had left it again by the step (W4, 2 threads,
 * fits alternating in one process, 15 rounds: L1 1.012x against the sweep, L2 1.025x). */
NNI_ALWAYS_INLINE static inline void prefetch_step_tile(const gemm_args *g, int64_t i0,
                                                        int64_t j0, int64_t rows, int64_t cols)
{
    const NNI_F(optim_step) *s = g->step;
    NN_T *const arrays[3] = {s->params, s->state1, s->state2};
    int64_t i, a;
    for (i = 0; i < rows; i++) {
        const int64_t e = g->step_off + (i0 + i) * g->ldc + j0;
        for (a = 0; a < 3 && arrays[a]; a++) {
            const uintptr_t first = (uintptr_t)(arrays[a] + e) & ~(uintptr_t)63;
            nni_prefetch_l2((const void *)first,
                            (size_t)((uintptr_t)(arrays[a] + e + cols) - first));
        }
    }
}

/* The step on the tile the kernel just wrote into `tile` (row stride nr), at the kernel's
 * (i0, j0), rows x cols: the gradient read from the tile, not from C (step_tiles). */
static void step_from_tile(const gemm_args *g, const NN_T *tile, int nr, int64_t i0, int64_t j0,
                           int64_t rows, int64_t cols)
{
    NNI_F(optim_step_rows_from)(g->step, g->step_c, g->step_off + i0 * g->ldc + j0, g->ldc, rows,
                                cols, tile, nr);
}

/* The kernel for a tile of `cols` columns (of a panel nr wide): -1, the full kernel, or
 * v, when the columns fit v + 1 vectors, the edge kernel that computes only those (*width:
 * the columns it writes). n = 256 against 8 x 48 tiles ends in a panel of 16 columns: the
 * full kernel would spend two thirds of that panel's FMAs on padding (11 % of the product). */
static int tile_kernel(const nni_gemm_kernel *kr, int64_t cols, int *width)
{
    const int64_t vl = VL(kr), vecs = vl > 0 ? (cols + vl - 1) / vl : NNI_UKR_MAX_EDGE + 1;
    if (vecs <= NNI_UKR_MAX_EDGE && vecs * vl < NR(kr) && EDGE(kr)[vecs - 1]) {
        *width = (int)(vecs * vl);
        return (int)vecs - 1;
    }
    *width = NR(kr);
    return -1;
}

/* The kernel's C[ic : ic+mc, jc : jc+nc] = beta C + ap @ bp over one k block of kc; the
 * epilogue after the last block. a_rows (or NULL): A's rows ic .. at column pc in place, for
 * the full row panels (a_in_place); ap then holds only the last, partial, panel packed.
 * ldb > 0: bp is B's row pc from column jc in place (b_in_place), its rows ldb apart.
 * b_fill (or NULL): bp's full panels are still to be packed, from B's row pc at column jc
 * (b_src): the first row panel's kernels copy them in as they read them (b_packing). */
static void macro_kernel(const gemm_args *g, const NN_T *ap, const NN_T *bp, int64_t ic,
                         int64_t jc, int64_t mc, int64_t nc, int64_t kc, NN_T beta, int last,
                         const NN_T *a_rows, int64_t ldb, NN_T *b_fill, const NN_T *b_src)
{
    const int mr = MR(g->kr), nr = NR(g->kr);
    const int64_t pk = panel_kc(g, kc);
    /* A in place: row panel ir's first element at a_rows + ir a_ir; the kernels' lda (the
     * in-place and b_* kernels take A^T's as -m) */
    const int a_t = g->a_in_place == A_T_IN_PLACE;
    const int64_t a_ir = a_t ? 1 : g->k, a_ld = a_t ? -g->m : g->k;
    NNI_ALIGN64 NN_T tile[NNI_UKR_MAX_TILE];
    /* a_in_l1: ir outer (A's panel stays in L1), jr inner (B's panels stream from L2);
     * else jr outer (B's panel stays in L1), ir inner. The same tiles either way. */
    const int64_t outer_end = g->a_in_l1 ? mc : nc, outer_step = g->a_in_l1 ? mr : nr;
    const int64_t inner_end = g->a_in_l1 ? nc : mc, inner_step = g->a_in_l1 ? nr : mr;
    int64_t o, in;
    if (g->kr->begin) g->kr->begin(); /* AMX: the tile configuration */
    for (o = 0; o < outer_end; o += outer_step) {
        for (in = 0; in < inner_end; in += inner_step) {
            const int64_t ir = g->a_in_l1 ? o : in, jr = g->a_in_l1 ? in : o;
            const int64_t rows = min64(mr, mc - ir), cols = min64(nr, nc - jr);
            int width;
            const int e = tile_kernel(g->kr, cols, &width);
            /* a full tile straight into C; an edge or transposed one into a buffer first */
            const int direct = rows == mr && cols == width && !g->transposed &&
                               !g->alpha_on_tiles && !g->step_tiles;
            NN_T *dst = direct ? g->C + (ic + ir) * g->ldc + jc + jr : tile;
            const int64_t ldd = direct ? g->ldc : nr;
            const NN_T b0 = direct ? beta : (NN_T)0;
            if (g->step_tiles) prefetch_step_tile(g, ic + ir, jc + jr, rows, cols);
            if (b_fill && ir == 0 && e < 0 && cols == nr) /* B's panel packed as it is read */
                UKR_BPACK(g->kr)(kc, a_rows && rows == mr ? a_rows : ap,
                                 a_rows && rows == mr ? a_ld : 0, b_src + jr, g->n,
                                 b_fill + jr * pk, dst, ldd, b0);
            else if (ldb) /* B in place; A in place too (lda k) or packed (lda 0) */
                (e < 0 ? UKR_BIP(g->kr) : EDGE_BIP(g->kr)[e])(
                    kc, a_rows && rows == mr ? a_rows + ir * a_ir : ap + ir * pk,
                    a_rows && rows == mr ? a_ld : 0, bp + jr, ldb, dst, ldd, b0);
            else if (a_rows && rows == mr && a_t)
                (e < 0 ? UKR_ATP(g->kr) : EDGE_ATP(g->kr)[e])(kc, a_rows + ir, g->m,
                                                              bp + jr * pk, dst, ldd, b0);
            else if (a_rows && rows == mr)
                (e < 0 ? UKR_IP(g->kr) : EDGE_IP(g->kr)[e])(kc, a_rows + ir * g->k, g->k,
                                                            bp + jr * pk, dst, ldd, b0);
            else
                (e < 0 ? UKR(g->kr) : EDGE(g->kr)[e])(kc, ap + ir * pk, bp + jr * pk, dst, ldd,
                                                      b0);
            if (g->step_tiles) step_from_tile(g, tile, nr, ic + ir, jc + jr, rows, cols);
            else if (!direct) write_tile(g, tile, nr, ic + ir, jc + jr, rows, cols, beta);
        }
    }
    /* the epilogue once over the block, in rows of nc (or mc) values rather than tile rows of
     * NR: a call costs a few dozen instructions of dispatch, which a tile row of 8 or 16 values
     * never amortized (a fifth of the instructions of a digits-sized training step). The block
     * was just written; re-reading one value costs far less than the 2 kc FLOP of the last k
     * block spent on it. */
    if (last && g->ep) epilogue_tile(g, ic, jc, mc, nc);
    if (last && g->step && !g->step_tiles) step_tile(g, ic, jc, mc, nc);
}

/* alpha op(A)[i0 : i0+len, pc : pc+kc] in panels of mr rows (a_side), or op(B)[pc : pc+kc,
 * i0 : i0+len] in panels of nr columns, packed at dst (gemm_pack.c). */
static void pack_side(const gemm_args *g, int a_side, NN_T *dst, int64_t i0, int64_t len,
                      int64_t pc, int64_t kc)
{
#ifdef NN_ELEM_F32
    if (g->bf16 == NNI_BF16_PAIRS || g->bf16 == NNI_BF16_TILES) {
        /* element (p, l) of the block at src[p ks + l ls] */
        const int t = a_side ? g->trans_a : !g->trans_b; /* lanes side by side in memory */
        const int64_t ld = a_side ? (t ? g->m : g->k) : (t ? g->n : g->k);
        const float *src = (a_side ? g->A : g->B) + (t ? pc * ld + i0 : i0 * ld + pc);
        const float scale = a_side && !g->alpha_on_tiles ? g->alpha : 1;
#ifdef NN_HAVE_KERNEL_AMX
        if (a_side && g->bf16 == NNI_BF16_TILES) {
            nni_pack_bf16_tiles(dst, src, t ? ld : 1, t ? 1 : ld, kc, len, scale);
            return;
        }
#endif
        nni_pack_bf16_pairs(dst, src, t ? ld : 1, t ? 1 : ld, kc, len,
                            a_side ? MR(g->kr) : NR(g->kr), panel_kc(g, kc), scale);
        return;
    }
#endif
    if (a_side)
        NNI_F(pack_a)(g->kr, dst, g->A, g->m, g->k, g->trans_a, i0, pc, len, kc, MR(g->kr),
                      g->alpha_on_tiles || g->alpha_on_b ? 1 : g->alpha);
    else
        NNI_F(pack_b)(g->kr, dst, g->B, g->n, g->k, g->trans_b, pc, i0, kc, len, NR(g->kr),
                      g->alpha_on_b ? g->alpha : 1);
#ifdef NN_ELEM_F32
    /* rounded: the set's own float packing (its SIMD transposes), then each value rounded
     * while the panels are in cache; the same values as rounding each term as it is read */
    if (g->bf16 == NNI_BF16_ROUNDED)
        nni_bf16_round_inplace(dst, round_up(len, a_side ? MR(g->kr) : NR(g->kr)) * kc);
#endif
}

/* Part c of n_parts over `panels` panels, each `width` wide: [*lo, *hi), cut at `size`. */
static void panel_part_range(int64_t panels, int64_t n_parts, int64_t c, int64_t width,
                             int64_t size, int64_t *lo, int64_t *hi)
{
    *lo = panels * c / n_parts * width;
    *hi = min64(panels * (c + 1) / n_parts * width, size);
}

/* The k block at pc of op(A)'s rows ic .. ic+mc-1 (a_side), or of op(B)'s columns, packed:
 * its place in `all`, the whole operand packed by pack_shared (the block at pc starts at
 * all + pc m_pad (n_pad), its panel of rows (columns) i at i kc), or packed now into buf.   */
static const NN_T *packed_block(const gemm_args *g, int a_side, const NN_T *all, NN_T *buf,
                                int64_t i0, int64_t len, int64_t pc, int64_t kc)
{
    if (all) return all + pc * round_up(a_side ? g->m : g->n, a_side ? MR(g->kr) : NR(g->kr)) +
                    i0 * panel_kc(g, kc);
    pack_side(g, a_side, buf, i0, len, pc, kc);
    return buf;
}

/* The k block at pc of op(B)'s columns jc .. jc+nc-1 for macro_kernel, as packed_block, but
 * with b_packing (and no shared `all`) only its partial last panel packed now: the full ones
 * are left to the first row panel's kernels, from B's row pc at column jc (*src) into buf
 * (*fill). Otherwise *fill and *src are NULL. */
static const NN_T *b_block(const gemm_args *g, const NN_T *all, NN_T *buf, int64_t jc,
                           int64_t nc, int64_t pc, int64_t kc, NN_T **fill, const NN_T **src)
{
    *fill = NULL;
    *src = NULL;
    if (!all && g->b_packing) {
        const int64_t full = nc / NR(g->kr) * NR(g->kr);
        if (full < nc) pack_side(g, 0, buf + full * kc, jc + full, nc - full, pc, kc);
        *fill = buf;
        *src = g->B + pc * g->n + jc;
        return buf;
    }
    return packed_block(g, 0, all, buf, jc, nc, pc, kc);
}

/* A in place (a_in_place, no shared packed A): the rows ic .. ic+mc-1 from column pc where
 * they are, and the last row panel, when partial, packed into buf at its place; else NULL. */
static const NN_T *a_in_place_block(const gemm_args *g, const NN_T *ap_all, NN_T *buf,
                                    int64_t ic, int64_t mc, int64_t pc, int64_t kc)
{
    const int64_t full = mc / MR(g->kr) * MR(g->kr);
    if (!g->a_in_place || ap_all) return NULL;
    if (full < mc) pack_side(g, 1, buf + full * kc, ic + full, mc - full, pc, kc);
    return g->a_in_place == A_T_IN_PLACE ? g->A + pc * g->m + ic : g->A + ic * g->k + pc;
}

/* Rows r0 .. r1-1 and columns c0 .. c1-1 of the kernel's C, serially. The packed operands are
 * this thread's buffers, or ap_all / bp_all: the whole of alpha op(A) (r0 = 0) or op(B)
 * (c0 = 0) packed by pack_shared. */
static int gemm_range(const gemm_args *g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                      const NN_T *ap_all, const NN_T *bp_all)
{
    const int mr = MR(g->kr), nr = NR(g->kr);
    const int64_t mc_max = min64(g->mc, round_up(r1 - r0, mr));
    const int64_t nc_max = min64(g->nc, round_up(c1 - c0, nr));
    const int64_t ldb = g->b_in_place && !bp_all ? g->n : 0; /* B read in place */
    NN_T *ap = NULL, *bp = NULL;
    int64_t jc, pc, ic;
    if (!ap_all) {
        ap = (NN_T *)nni_thread_scratch(SCRATCH_A, mc_max * g->kc * (int64_t)sizeof(NN_T));
        if (!ap) return NN_ENOMEM;
    }
    if (!bp_all && !ldb) {
        bp = (NN_T *)nni_thread_scratch(SCRATCH_A + 1, nc_max * g->kc * (int64_t)sizeof(NN_T));
        if (!bp) return NN_ENOMEM;
    }
    if (g->a_in_l1) { /* ic over L3 blocks of A, pc, jc over L2 blocks of B */
        for (ic = r0; ic < r1; ic += g->mc) {
            const int64_t mc = min64(g->mc, r1 - ic);
            for (pc = g->k0; pc < g->k1; pc += g->kc) {
                const int64_t kc = min64(g->kc, g->k1 - pc);
                const NN_T beta = pc == g->k0 ? g->beta : (NN_T)1;
                const NN_T *a_rows = a_in_place_block(g, ap_all, ap, ic, mc, pc, kc);
                const NN_T *a = a_rows ? ap : packed_block(g, 1, ap_all, ap, ic, mc, pc, kc);
                for (jc = c0; jc < c1; jc += g->nc) {
                    const int64_t nc = min64(g->nc, c1 - jc);
                    NN_T *fill = NULL;
                    const NN_T *src = NULL;
                    const NN_T *b = ldb ? g->B + pc * ldb + jc
                                        : b_block(g, bp_all, bp, jc, nc, pc, kc, &fill, &src);
                    macro_kernel(g, a, b, ic, jc, mc, nc, kc, beta, pc + kc == g->k1, a_rows,
                                 ldb, fill, src);
                }
            }
        }
        return NN_OK;
    }
    for (jc = c0; jc < c1; jc += g->nc) { /* jc over L3 blocks of B, pc, ic over L2 blocks of A */
        const int64_t nc = min64(g->nc, c1 - jc);
        for (pc = g->k0; pc < g->k1; pc += g->kc) {
            const int64_t kc = min64(g->kc, g->k1 - pc);
            const NN_T beta = pc == g->k0 ? g->beta : (NN_T)1;
            NN_T *fill = NULL;
            const NN_T *src = NULL;
            const NN_T *b = ldb ? g->B + pc * ldb + jc
                                : b_block(g, bp_all, bp, jc, nc, pc, kc, &fill, &src);
            for (ic = r0; ic < r1; ic += g->mc) {
                const int64_t mc = min64(g->mc, r1 - ic);
                const NN_T *a_rows = a_in_place_block(g, ap_all, ap, ic, mc, pc, kc);
                const NN_T *a = a_rows ? ap : packed_block(g, 1, ap_all, ap, ic, mc, pc, kc);
                macro_kernel(g, a, b, ic, jc, mc, nc, kc, beta, pc + kc == g->k1, a_rows, ldb,
                             fill, src);
                fill = NULL; /* packed by the first block of rows */
            }
        }
    }
    return NN_OK;
}

/* ---- threads ------------------------------------------------------------------------------ */
/* A parallel product is one parallel loop, one part a thread (a late thread's part finds the
 * work taken). C is split into runs of whole panels of its columns (or rows), so every run
 * starts on a panel boundary and the tile grid is the serial one. The runs are claimed from
 * both ends (nni_ends_claim): the caller's thread from the front, the others from the back,
 * each run half of what is left on 2 threads: when the threads keep pace, each computes the
 * same half of C call after call and finds its half of the other operand and of C in its
 * own L2; when one falls behind (a worker still waking, a core taken by another process)
 * the other takes smaller and smaller runs from its end. Products with panels of
 * GEMM_SMALL_RUNS_MIN_PANEL_FLOPS or more claim a quarter of what is left instead.
 * The operand every run needs -- alpha op(A) for column runs, op(B) for row runs -- is packed
 * whole by each thread into its own buffer, before its first run, while it fits in half of a
 * core's L2 and the copies together fit the shared-packing limit (nni_gemm_shared_max: W3 on
 * 2 threads; W4's 1-2 MiB operands are shared on a 1 MiB L2, own_pack_max): reading the
 * caller's A or B, which no one writes, costs each core less than reading a buffer that the
 * other core has just written, and no thread waits for another's packing. W3's 64 x 128 x 256
 * on the 2-core Ice Lake Xeon, 2 threads, mean of 2000 calls back to back (the machine
 * shared, indicative): 33 us packing for itself, 58 us packing once in parallel and sharing
 * (1 thread: 56 us). With more threads the operand is packed once, in parallel, and shared:
 * every thread packing all of it would cost a thread count's worth of packing and memory.  */
typedef struct {
    const gemm_args *g;
    int by_cols;
    int64_t threads; /* the loop's threads                                                  */
    int pack_own;    /* each thread packs the operand every run needs whole, for itself     */
    NN_T *shared;    /* else that operand packed once, in parallel, shared (or NULL: every
                      * run packs its blocks)                                              */
    int64_t pack_parts; /* parts of that packing                                            */
    int64_t ends;    /* C's panels not yet claimed (nni_ends_claim)                         */
    int64_t divisor; /* each run 1/divisor of the panels left (GEMM_SMALL_RUNS_MIN_PANEL_FLOPS) */
} gemm_split;

/* Part c of packing the shared operand once: a range of its panels, every k block. The block
 * at pc starts at shared + pc m_pad (or n_pad); in it the panel of rows (columns) i at i kc. */
static int pack_shared_part(void *ctx, int64_t c)
{
    const gemm_split *s = (const gemm_split *)ctx;
    const gemm_args *g = s->g;
    const int64_t r = s->by_cols ? MR(g->kr) : NR(g->kr);
    const int64_t size = s->by_cols ? g->m : g->n, pad = round_up(size, r);
    int64_t pc, i0, i1;
    panel_part_range(pad / r, s->pack_parts, c, r, size, &i0, &i1);
    if (i0 >= i1) return NN_OK;
    for (pc = 0; pc < g->k; pc += g->kc) {
        const int64_t kc = min64(g->kc, g->k - pc);
        pack_side(g, s->by_cols, s->shared + pc * pad + i0 * panel_kc(g, kc), i0, i1 - i0, pc,
                  kc);
    }
    return NN_OK;
}

/* The operand every run needs, packed whole into this thread's buffer as gemm_range reads it
 * (the block at pc starts at pc m_pad (n_pad); in it the panel of rows (columns) i at i kc),
 * or NULL when there is no memory for it: gemm_range then packs block by block. */
static const NN_T *pack_whole(const gemm_split *s)
{
    const gemm_args *g = s->g;
    const int64_t r = s->by_cols ? MR(g->kr) : NR(g->kr);
    const int64_t size = s->by_cols ? g->m : g->n, pad = round_up(size, r);
    gemm_split own = *s;
    own.shared = (NN_T *)nni_thread_scratch(SCRATCH_SHARED, pad * g->k * (int64_t)sizeof(NN_T));
    own.pack_parts = 1;
    if (!own.shared) return NULL;
    pack_shared_part(&own, 0);
    return own.shared;
}

/* Panels p0 .. p1-1 of C's columns (rows), all rows (columns), against `all` (or NULL). */
static int compute_panels(const gemm_split *s, const NN_T *all, int64_t p0, int64_t p1)
{
    const gemm_args *g = s->g;
    if (s->by_cols) {
        const int64_t nr = NR(g->kr);
        return gemm_range(g, 0, g->m, p0 * nr, min64(p1 * nr, g->n), all, NULL);
    } else {
        const int64_t mr = MR(g->kr);
        return gemm_range(g, p0 * mr, min64(p1 * mr, g->m), 0, g->n, NULL, all);
    }
}

static int split_part(void *ctx, int64_t part)
{
    gemm_split *s = (gemm_split *)ctx;
    const int from_back = nni_thread_index() != 0;
    const NN_T *all = s->shared;
    int64_t p0, p1, runs = 0;
    int st = NN_OK, cs;
    (void)part;
    while (nni_ends_claim(&s->ends, from_back, s->divisor, &p0, &p1)) {
        if (runs++ == 0 && s->pack_own) all = pack_whole(s);
        if ((cs = compute_panels(s, all, p0, p1)) != NN_OK && st == NN_OK) st = cs;
    }
    return st;
}

/* ---- threads, large products: one shared block of one operand at a time -------------- */
/* When neither operand fits the shared packing (2048 x 2048 floats: 16 MiB each), every
 * column range above would pack all of A again (8 parts: 8 times). Instead, as BLIS does, the
 * blocks of one operand are taken in the serial order -- (jc, pc) of op(B) in the order with
 * B's panel in L1, (ic, pc) of alpha op(A) in the A-in-L1 order -- and each is packed once, in
 * parallel; then C's ranges along the other dimension (rows, or columns) are computed in
 * parallel against it, each packing its own blocks of the other operand. Each element of A
 * and B is packed once per block, as on one thread. Two parallel loops a block: an operand
 * the runs read in place (a_in_place, b_in_place) is never packed, and such a product takes
 * the runs of gemm_parallel however large it is.                                          */
typedef struct {
    const gemm_args *g;
    int share_a;              /* the shared operand: alpha op(A) (a_in_l1) or op(B)          */
    int64_t s0, slen, pc, kc; /* the shared block: rows (columns) s0 .. s0+slen-1, k block  */
    NN_T *sp;                 /* the shared block packed: kc x slen, panels of mr (nr)       */
    int64_t panels, n_parts;  /* panels (of the block to pack, or of C's other side), parts */
} block_job;

static int pack_block_part(void *ctx, int64_t c)
{
    const block_job *s = (const block_job *)ctx;
    const int64_t width = s->share_a ? MR(s->g->kr) : NR(s->g->kr);
    int64_t i0, i1;
    panel_part_range(s->panels, s->n_parts, c, width, s->slen, &i0, &i1);
    if (i0 < i1) pack_side(s->g, s->share_a, s->sp + i0 * s->kc, s->s0 + i0, i1 - i0, s->pc, s->kc);
    return NN_OK;
}

static int compute_block_part(void *ctx, int64_t c)
{
    const block_job *s = (const block_job *)ctx;
    const gemm_args *g = s->g;
    const int other_a = !s->share_a; /* the operand this part packs itself */
    const int64_t width = other_a ? MR(g->kr) : NR(g->kr), size = other_a ? g->m : g->n;
    const int64_t step = other_a ? g->mc : g->nc;
    const NN_T beta = s->pc == 0 ? g->beta : (NN_T)1;
    const int last = s->pc + s->kc == g->k;
    NN_T *op;
    int64_t o, lo, hi;
    panel_part_range(s->panels, s->n_parts, c, width, size, &lo, &hi);
    if (lo >= hi) return NN_OK;
    op = (NN_T *)nni_thread_scratch(other_a ? SCRATCH_A : SCRATCH_A + 1,
                                    min64(step, round_up(hi - lo, width)) * s->kc *
                                        (int64_t)sizeof(NN_T));
    if (!op) return NN_ENOMEM;
    for (o = lo; o < hi; o += step) {
        const int64_t len = min64(step, hi - o);
        NN_T *fill = NULL;
        const NN_T *src = NULL;
        if (s->share_a) {
            b_block(g, NULL, op, o, len, s->pc, s->kc, &fill, &src);
            macro_kernel(g, s->sp, op, s->s0, o, s->slen, len, s->kc, beta, last, NULL, 0, fill,
                         src);
        } else {
            pack_side(g, 1, op, o, len, s->pc, s->kc);
            macro_kernel(g, op, s->sp, o, s->s0, len, s->slen, s->kc, beta, last, NULL, 0, NULL,
                         NULL);
        }
    }
    return NN_OK;
}

static int gemm_parallel_blocks(const gemm_args *g, int threads)
{
    const int64_t mr = MR(g->kr), nr = NR(g->kr);
    const int share_a = g->a_in_l1;
    const int64_t width = share_a ? mr : nr, size = share_a ? g->m : g->n;
    const int64_t step = share_a ? g->mc : g->nc;
    const int64_t other_panels = share_a ? (g->n + nr - 1) / nr : (g->m + mr - 1) / mr;
    /* C's parts: GEMM_PARTS_PER_THREAD a thread, but one a thread where the A-in-L1 order's
     * block of B spans all of C's columns (on Zen 4, a plain product's: dispatch.c): parts of
     * 240-264 columns would cut C's rows and B's into the short pieces the wide block avoids.
     * Zen 4 EPYC, float64 2048^3, 2 threads, bench_gemm_configs -o 16, 11 rounds: a part a
     * thread against 4, 1.09x (quartiles 1.05-1.13); float32 1.01x (0.99-1.02). */
    const int64_t parts = share_a && g->nc >= g->n ? (int64_t)threads
                                                   : (int64_t)threads * GEMM_PARTS_PER_THREAD;
    block_job s;
    int st;
    s.g = g;
    s.share_a = share_a;
    s.sp = (NN_T *)nni_thread_scratch(SCRATCH_SHARED, round_up(min64(step, size), width) * g->kc *
                                                          (int64_t)sizeof(NN_T));
    if (!s.sp) return NN_ENOMEM;
    for (s.s0 = 0; s.s0 < size; s.s0 += step) {
        s.slen = min64(step, size - s.s0);
        for (s.pc = 0; s.pc < g->k; s.pc += g->kc) {
            s.kc = min64(g->kc, g->k - s.pc);
            s.panels = (s.slen + width - 1) / width;
            s.n_parts = min64(s.panels, threads);
            if ((st = nni_parallel_for(threads, s.n_parts, pack_block_part, &s)) != NN_OK)
                return st;
            s.panels = other_panels;
            s.n_parts = min64(other_panels, parts);
            if ((st = nni_parallel_for(threads, s.n_parts, compute_block_part, &s)) != NN_OK)
                return st;
        }
    }
    return NN_OK;
}

/* The largest operand each thread packs whole for itself: half of a core's L2. A copy that
 * stays in the core's L2 is read from there by every run; a larger one is read from L3 either
 * way, and packing it once, in parallel, costs each thread half the packing. W4's products
 * (A 1-2 MiB), 2 threads, Zen 5 KVM guest (1 MiB L2), three paired runs: shared instead of
 * own, each product 2-5 % faster, the training step 1.7-3.6 %. */
static int64_t own_pack_max(void)
{
    const int64_t l2 = nn_cache_size(2);
    return (l2 > 0 ? l2 : 256 << 10) / 2;
}

/* C split by columns shares alpha op(A) (m x k), by rows op(B) (k x n): when both sides have
 * panels enough for every thread, the smaller operand is the one shared and read by every
 * thread (W3's 784 x 256 x 64 A^T delta: by rows, op(B) 64 KiB shared, not op(A)'s 200). */
static int gemm_parallel(const gemm_args *g, int threads)
{
    const int64_t mr = MR(g->kr), nr = NR(g->kr);
    const int64_t col_panels = (g->n + nr - 1) / nr, row_panels = (g->m + mr - 1) / mr;
    const int cols_ok = col_panels >= 2 * threads, rows_ok = row_panels >= 2 * threads;
    const int64_t shared_max = nni_gemm_shared_max();
    gemm_split s;
    int64_t shared_bytes;
    int st, nothing_shared;
    s.g = g;
    if (cols_ok && rows_ok) s.by_cols = row_panels * mr <= col_panels * nr;
    else s.by_cols = cols_ok || (!rows_ok && col_panels >= row_panels);
    s.threads = threads;
    nni_ends_init(&s.ends, s.by_cols ? col_panels : row_panels);
    s.divisor = 2.0 * (double)g->m * (double)g->n * (double)g->k /
                            (double)(s.by_cols ? col_panels : row_panels) >=
                        GEMM_SMALL_RUNS_MIN_PANEL_FLOPS
                    ? 2 * (int64_t)threads
                    : threads;
    shared_bytes = (s.by_cols ? row_panels * mr : col_panels * nr) * g->k * (int64_t)sizeof(NN_T);
    /* A read in place by every column run, or B by every row run: nothing to pack and share,
     * at any size. float64 2048^3 (A 32 MiB, in place), 2 threads, Emerald Rapids guest, in
     * one process against the blocks (16 parallel loops a product): 1.017x (quartiles
     * 1.014-1.030, 11 rounds), 1.01x NumPy's (OpenBLAS) where the blocks ran 0.99x. */
    nothing_shared = s.by_cols ? g->a_in_place : g->b_in_place;
    /* the blocks split C's columns in the A-in-L1 order, its rows in the other */
    if (!nothing_shared && shared_bytes > shared_max &&
        (g->a_in_l1 ? col_panels : row_panels) >= 2 * threads)
        return gemm_parallel_blocks(g, threads);
    s.pack_own = !nothing_shared && shared_bytes * threads <= shared_max &&
                 shared_bytes <= own_pack_max();
    s.shared = NULL;
    if (!nothing_shared && !s.pack_own && shared_bytes <= shared_max) {
        s.shared = (NN_T *)nni_thread_scratch(SCRATCH_SHARED, shared_bytes);
        /* parts claimed one at a time: a thread whose part reads slower memory (the other
         * core's writes) leaves more of the others to its partner. W4's 2048 x 2048 x 256
         * (A^T delta), 2 threads: 2 parts 423 us, 8 parts 291 us; 1024 x 2048 x 256 185 us
         * and 84 us (timing build, indicative) */
        s.pack_parts = min64(s.by_cols ? row_panels : col_panels,
                             (int64_t)threads * GEMM_PARTS_PER_THREAD);
        if (s.shared && (st = nni_parallel_for(threads, s.pack_parts, pack_shared_part, &s)))
            return st;
    }
    return nni_parallel_for(threads, threads, split_part, &s);
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

typedef struct {
    const gemm_args *g;
    const NN_T *bp_all; /* op(B) packed whole (gemm_planned), or NULL                         */
    NN_T *hi;           /* the second half's sums, m x n                                      */
    int64_t ks;         /* the first k of the second half                                     */
    int64_t chunks;     /* column chunks per half                                             */
    int64_t threads;
    int64_t ends;       /* units not yet claimed (nni_ends_claim): half-major, chunk-minor     */
} ksplit_job;

/* Unit u: half u / chunks of k, over that half's column chunk u % chunks (whole panels). */
static int ksplit_unit(const ksplit_job *s, int64_t u)
{
    gemm_args h = *s->g;
    const int64_t nr = NR(h.kr), panels = (h.n + nr - 1) / nr, q = u % s->chunks;
    const int64_t c0 = panels * q / s->chunks * nr;
    const int64_t c1 = min64(panels * (q + 1) / s->chunks * nr, h.n);
    h.ep = NULL; /* after the sum */
    if (u / s->chunks == 0) {
        h.k1 = s->ks;
    } else { /* into hi (row stride n, as C's), from 0 */
        h.k0 = s->ks;
        h.C = s->hi;
        h.beta = 0;
    }
    return c0 < c1 ? gemm_range(&h, 0, h.m, c0, c1, NULL, s->bp_all) : NN_OK;
}

/* The units a thread claims: the caller's from the front (the first half), the others' from
 * the back, each claim a thread count's share of what is left (as split_part's runs). */
static int ksplit_part(void *ctx, int64_t part)
{
    ksplit_job *s = (ksplit_job *)ctx;
    const int from_back = nni_thread_index() != 0;
    int64_t u0, u1, u;
    int st = NN_OK, cs;
    (void)part;
    while (nni_ends_claim(&s->ends, from_back, s->threads, &u0, &u1))
        for (u = u0; u < u1; u++)
            if ((cs = ksplit_unit(s, u)) != NN_OK && st == NN_OK) st = cs;
    return st;
}

typedef struct {
    const gemm_args *g;
    const NN_T *hi;
    int64_t parts;
} ksum_job;

/* Part c of C's rows: C += hi, then the epilogue, row by row (elementwise: any split gives
 * the same values). */
static int ksum_part(void *ctx, int64_t c)
{
    const ksum_job *s = (const ksum_job *)ctx;
    const gemm_args *g = s->g;
    const int64_t i0 = g->m * c / s->parts, i1 = g->m * (c + 1) / s->parts;
    int64_t i, j;
    for (i = i0; i < i1; i++) {
        NN_T *restrict row = g->C + i * g->ldc;
        const NN_T *restrict h = s->hi + i * g->n;
        for (j = 0; j < g->n; j++) row[j] = row[j] + h[j];
    }
    if (g->ep && i1 > i0) epilogue_tile(g, i0, 0, i1 - i0, g->n);
    return NN_OK;
}

/* C = (beta C + op(A)[:, :ks] op(B)[:ks, :]) + op(A)[:, ks:] op(B)[ks:, :], then the
 * epilogue; the second half's sums in the caller's SCRATCH_SHARED buffer (this path's
 * gemm_range calls use only the A and B slots). The sum is split by rows over the threads:
 * each half of C was written by one core, so one thread summing it read half from the
 * other's cache, on its own. */
static int gemm_k_split(const gemm_args *g, int64_t ks, int threads, const NN_T *bp_all)
{
    ksplit_job s;
    ksum_job sum;
    int st;
    s.g = g;
    s.bp_all = bp_all;
    s.ks = ks;
    s.threads = threads;
    s.chunks = threads > 2 ? (threads + 1) / 2 : 1;
    s.hi = (NN_T *)nni_thread_scratch(SCRATCH_SHARED, g->m * g->n * (int64_t)sizeof(NN_T));
    if (!s.hi) return NN_ENOMEM;
    nni_ends_init(&s.ends, 2 * s.chunks);
    st = threads > 1 ? nni_parallel_for(threads, threads, ksplit_part, &s) : ksplit_part(&s, 0);
    if (st != NN_OK) return st;
    sum.g = g;
    sum.hi = s.hi;
    sum.parts = threads > 1 ? threads : 1;
    return sum.parts > 1 ? nni_parallel_for(threads, sum.parts, ksum_part, &sum)
                         : ksum_part(&sum, 0);
}

/* ---- the narrow path: C at most the narrow kernel wide ----------------------------------- */
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
        write_tile(g, tile, (int)w, i0, 0, rows, g->n, g->beta);
        if (g->ep) epilogue_tile(g, i0, 0, rows, g->n);
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
        g->step_tiles = step_tiles_apply(g, beta);
        if (g->a_in_l1) { /* m in equal L3 blocks too (2048 rows: 2 x 1032, not 2040 + 8) */
            const int64_t m_blocks = (g->m + bl.mc - 1) / bl.mc;
            g->mc = round_up((g->m + m_blocks - 1) / m_blocks, mr);
        }
    }
    return PATH_BLOCKED;
}

/* A prepared product on the narrow or the blocked path, on as many threads as pay. */
static int gemm_run(const gemm_args *g, int path)
{
    int64_t threads = nni_threads(), ks;
    if (threads > 1 && 2.0 * (double)g->m * (double)g->n * (double)g->k < GEMM_PARALLEL_MIN_FLOPS)
        threads = 1;
    if (path == PATH_NARROW) return gemm_narrow(g, (int)threads);
    if ((ks = k_split_at(g)) > 0) return gemm_k_split(g, ks, (int)threads, NULL);
    if (threads > 1) return gemm_parallel(g, (int)threads);
    return gemm_range(g, 0, g->m, 0, g->n, NULL, NULL);
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
    if (path == PATH_DIRECT_LOOP) {
        gemm_direct(&g);
        return NN_OK;
    }
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
 * the perf samples of a 10,000-row forward of 784-256-128-10 on one thread). The planned call computes exactly
 * what gemm computes for the same arguments (same path, blocking, tiles and sums), so the
 * plan changes no bits. */
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
        pack_side(&g, 0, p->bp + pc * pad, 0, n, pc, min64(g.kc, k - pc));
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
    st = (ks = k_split_at(&g)) > 0 ? gemm_k_split(&g, ks, 1, p->bp)
                                   : gemm_range(&g, 0, g.m, 0, g.n, NULL, p->bp);
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
