/* The blocked path (BLIS's loops around the micro-kernel): gemm_range's jc / pc / ic loops
 * over the blocks of op(B) and op(A), packing each (gemm_pack.c) or reading it in place, and
 * macro_kernel's loops over the tiles, each a micro-kernel call (gemm_kernels_*.c), then the
 * epilogue or the optimizer step on the block just written. gemm.c's opening comment has the
 * whole organisation. */
#include "gemm_internal.h"

/* The tile (rows x cols, row stride nr) into C at the kernel's (i0, j0), then beta. */
void NNI_F(gemm_write_tile)(const gemm_args *g, const NN_T *tile, int nr, int64_t i0, int64_t j0,
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
void NNI_F(gemm_epilogue_tile)(const gemm_args *g, int64_t i0, int64_t j0, int64_t rows,
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

/* The source rows of B's panel at column jr of the block (b_src's), kc x nr, asked for into
 * L2 in shares, the share of tile t (1 .. tiles) of the column before it (b_stream): when its
 * packing tile comes, they are in L2 rather than in memory, 16 KiB apart (n = 2048 doubles)
 * where no prefetcher follows them. The lines of each row: nr values, and when the row does
 * not start a line (a NumPy array's data 16 bytes into one), the one more its last value
 * falls in. */
NNI_ALWAYS_INLINE static inline void prefetch_b_source(const gemm_args *g, const NN_T *b_src,
                                                       int64_t jr, int64_t kc, int64_t t,
                                                       int64_t tiles)
{
    const int64_t per = (kc + tiles - 1) / tiles, p1 = min64(kc, t * per);
    const size_t row = (size_t)NR(g->kr) * sizeof(NN_T) + ((uintptr_t)b_src % 64 ? 64 : 0);
    int64_t p;
    for (p = (t - 1) * per; p < p1; p++) nni_prefetch_l2(b_src + jr + p * g->n, row);
}

/* The kernel's C[ic : ic+mc, jc : jc+nc] = beta C + ap @ bp over one k block of kc; the
 * epilogue after the last block. a_rows (or NULL): A's rows ic .. at column pc in place, for
 * the full row panels (a_in_place); ap then holds only the last, partial, panel packed.
 * ldb > 0: bp is B's row pc from column jc in place (b_in_place), its rows ldb apart.
 * b_fill (or NULL): bp's full panels are still to be packed, from B's row pc at column jc
 * (b_src): the first row panel's kernels copy them in as they read them (b_packing); with
 * b_stream (B's panel in L1, all rows in this block) each into bp's first panel, in turn. */
void NNI_F(gemm_macro_kernel)(const gemm_args *g, const NN_T *ap, const NN_T *bp, int64_t ic,
                              int64_t jc, int64_t mc, int64_t nc, int64_t kc, NN_T beta,
                              int last, const NN_T *a_rows, int64_t ldb, NN_T *b_fill,
                              const NN_T *b_src)
{
    const int mr = MR(g->kr), nr = NR(g->kr);
    const int64_t pk = panel_kc(g, kc);
    /* A in place: row panel ir's first element at a_rows + ir a_ir; the kernels' lda (the
     * in-place and b_* kernels take A^T's as -m) */
    const int a_t = g->a_in_place == A_T_IN_PLACE;
    const int64_t a_ir = a_t ? 1 : g->k, a_ld = a_t ? -g->m : g->k;
    const int stream = b_fill && g->b_stream;
    const int64_t row_tiles = (mc + mr - 1) / mr;
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
            /* the column's full panel of B: its place in the block, or with b_stream the first */
            const int64_t bj = stream && cols == nr ? 0 : jr;
            if (g->step_tiles) prefetch_step_tile(g, ic + ir, jc + jr, rows, cols);
            if (b_fill && ir == 0 && e < 0 && cols == nr) /* B's panel packed as it is read */
                UKR_BPACK(g->kr)(kc, a_rows && rows == mr ? a_rows : ap,
                                 a_rows && rows == mr ? a_ld : 0, b_src + jr, g->n,
                                 b_fill + bj * pk, dst, ldd, b0);
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
                (e < 0 ? UKR(g->kr) : EDGE(g->kr)[e])(kc, ap + ir * pk, bp + bj * pk, dst, ldd,
                                                      b0);
            if (stream && ir > 0 && jr + 2 * nr <= nc) /* the next full panel's source */
                prefetch_b_source(g, b_src, jr + nr, kc, ir / mr, row_tiles - 1);
            if (g->step_tiles) step_from_tile(g, tile, nr, ic + ir, jc + jr, rows, cols);
            else if (!direct)
                NNI_F(gemm_write_tile)(g, tile, nr, ic + ir, jc + jr, rows, cols, beta);
        }
    }
    /* the epilogue once over the block, in rows of nc (or mc) values rather than tile rows of
     * NR: a call costs a few dozen instructions of dispatch, which a tile row of 8 or 16 values
     * never amortized (a fifth of the instructions of a digits-sized training step). The block
     * was just written; re-reading one value costs far less than the 2 kc FLOP of the last k
     * block spent on it. */
    if (last && g->ep) NNI_F(gemm_epilogue_tile)(g, ic, jc, mc, nc);
    if (last && g->step && !g->step_tiles) step_tile(g, ic, jc, mc, nc);
}

/* alpha op(A)[i0 : i0+len, pc : pc+kc] in panels of mr rows (a_side), or op(B)[pc : pc+kc,
 * i0 : i0+len] in panels of nr columns, packed at dst (gemm_pack.c). */
void NNI_F(gemm_pack_side)(const gemm_args *g, int a_side, NN_T *dst, int64_t i0, int64_t len,
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

/* The k block at pc of op(A)'s rows ic .. ic+mc-1 (a_side), or of op(B)'s columns, packed:
 * its place in `all`, the whole operand packed by pack_shared (the block at pc starts at
 * all + pc m_pad (n_pad), its panel of rows (columns) i at i kc), or packed now into buf.   */
static const NN_T *packed_block(const gemm_args *g, int a_side, const NN_T *all, NN_T *buf,
                                int64_t i0, int64_t len, int64_t pc, int64_t kc)
{
    if (all) return all + pc * round_up(a_side ? g->m : g->n, a_side ? MR(g->kr) : NR(g->kr)) +
                    i0 * panel_kc(g, kc);
    NNI_F(gemm_pack_side)(g, a_side, buf, i0, len, pc, kc);
    return buf;
}

/* The k block at pc of op(B)'s columns jc .. jc+nc-1 for macro_kernel, as packed_block, but
 * with b_packing (and no shared `all`) only its partial last panel packed now: the full ones
 * are left to the first row panel's kernels, from B's row pc at column jc (*src) into buf
 * (*fill). Otherwise *fill and *src are NULL. */
const NN_T *NNI_F(gemm_b_block)(const gemm_args *g, const NN_T *all, NN_T *buf, int64_t jc,
                                int64_t nc, int64_t pc, int64_t kc, NN_T **fill,
                                const NN_T **src)
{
    *fill = NULL;
    *src = NULL;
    if (!all && g->b_packing) {
        const int64_t full = nc / NR(g->kr) * NR(g->kr);
        if (full < nc) NNI_F(gemm_pack_side)(g, 0, buf + full * kc, jc + full, nc - full, pc, kc);
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
    if (full < mc) NNI_F(gemm_pack_side)(g, 1, buf + full * kc, ic + full, mc - full, pc, kc);
    return g->a_in_place == A_T_IN_PLACE ? g->A + pc * g->m + ic : g->A + ic * g->k + pc;
}

/* Rows r0 .. r1-1 and columns c0 .. c1-1 of the kernel's C, serially. The packed operands are
 * this thread's buffers, or ap_all / bp_all: the whole of alpha op(A) (r0 = 0) or op(B)
 * (c0 = 0) packed by pack_shared. */
int NNI_F(gemm_range)(const gemm_args *g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
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
                    const NN_T *b =
                        ldb ? g->B + pc * ldb + jc
                            : NNI_F(gemm_b_block)(g, bp_all, bp, jc, nc, pc, kc, &fill, &src);
                    NNI_F(gemm_macro_kernel)(g, a, b, ic, jc, mc, nc, kc, beta,
                                             pc + kc == g->k1, a_rows, ldb, fill, src);
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
                                : NNI_F(gemm_b_block)(g, bp_all, bp, jc, nc, pc, kc, &fill, &src);
            for (ic = r0; ic < r1; ic += g->mc) {
                const int64_t mc = min64(g->mc, r1 - ic);
                const NN_T *a_rows = a_in_place_block(g, ap_all, ap, ic, mc, pc, kc);
                const NN_T *a = a_rows ? ap : packed_block(g, 1, ap_all, ap, ic, mc, pc, kc);
                NNI_F(gemm_macro_kernel)(g, a, b, ic, jc, mc, nc, kc, beta, pc + kc == g->k1,
                                         a_rows, ldb, fill, src);
                fill = NULL; /* packed by the first block of rows */
            }
        }
    }
    return NN_OK;
}
