/* A product split over the thread pool (threads.c): runs of whole panels of C's columns or
 * rows, claimed from both ends; one shared block of an operand at a time for the largest
 * products; a short C from a long k in two halves of k. gemm.c's opening comment has the
 * whole organisation. */
#include "gemm_internal.h"

/* ---- threads ------------------------------------------------------------------------------ */
/* A split product whose panel (what its runs are made of) is at least this much work
 * claims runs of a quarter of what is left on 2 threads, not half (gemm_split's divisor):
 * a first run of half of C could not be shared out again, and the thread that finished first
 * waited for the other's last panels. W4's products (a panel 25-50 MFLOP, ~0.1-0.2 ms),
 * 2 threads, Zen 5 KVM guest: the wait at the end of each product went from 130-265 us to
 * 65-150 us (timing build, indicative). W3's products (a panel under 1 MFLOP) keep their
 * halves, which keep each thread's share of the operands in its own L2 from call to call. */
#define GEMM_SMALL_RUNS_MIN_PANEL_FLOPS 4.0e6

/* Part c of n_parts over `panels` panels, each `width` wide: [*lo, *hi), cut at `size`. */
static void panel_part_range(int64_t panels, int64_t n_parts, int64_t c, int64_t width,
                             int64_t size, int64_t *lo, int64_t *hi)
{
    *lo = panels * c / n_parts * width;
    *hi = min64(panels * (c + 1) / n_parts * width, size);
}

/* A parallel product is one parallel loop, one part a thread (a late thread's part finds the
 * work taken). C is split into runs of whole panels of its columns (or rows), or, where the
 * panels are few, of a panel's tiles (gemm_units), so every run starts on a tile boundary and
 * the tile grid is the serial one. The runs are claimed from both ends (nni_ends_claim):
 * the caller's thread from the front, the others from the back, each run half of what is
 * left on 2 threads: when the threads keep pace, each computes the same half of C call after
 * call and finds its half of the other operand and of C in its own L2; when one falls
 * behind (a worker still waking, a core taken by another process) the other takes smaller
 * and smaller runs from its end. Products with panels of
 * GEMM_SMALL_RUNS_MIN_PANEL_FLOPS or more claim a quarter of what is left instead.
 * The operand every run needs -- alpha op(A) for column runs, op(B) for row runs -- is packed
 * whole by each thread into its own buffer, before its first run, while it fits in 3/4 of a
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
    int64_t ends;    /* C's units not yet claimed (nni_ends_claim)                          */
    int64_t divisor; /* each run 1/divisor of the units left (GEMM_SMALL_RUNS_MIN_PANEL_FLOPS) */
    int64_t panels;  /* C's panels: of columns (by_cols) or of rows                        */
    int64_t tiles;   /* C's tiles across a panel: its rows' (by_cols) or its columns'       */
    int64_t groups;  /* units a panel: 1, or up to tiles (gemm_units)                       */
    int64_t last;    /* units of the last panel: fewer when it is narrower than the others  */
    int64_t units;   /* all of them: (panels - 1) groups + last                             */
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
        NNI_F(gemm_pack_side)(g, s->by_cols, s->shared + pc * pad + i0 * panel_kc(g, kc), i0,
                              i1 - i0, pc,
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

/* Panels p0 .. p1-1 of C's columns (rows), their tiles t0 .. t1-1 across (rows' tiles for
 * column panels), against `all` (or NULL). */
static int compute_panels(const gemm_split *s, const NN_T *all, int64_t p0, int64_t p1,
                          int64_t t0, int64_t t1)
{
    const gemm_args *g = s->g;
    const int64_t mr = MR(g->kr), nr = NR(g->kr);
    if (s->by_cols)
        return NNI_F(gemm_range)(g, t0 * mr, min64(t1 * mr, g->m), p0 * nr,
                                 min64(p1 * nr, g->n), all, NULL);
    return NNI_F(gemm_range)(g, p0 * mr, min64(p1 * mr, g->m), t0 * nr, min64(t1 * nr, g->n),
                             NULL, all);
}

/* Units u0 .. u1-1 of the split (gemm_units): the whole panels among them at once, a panel
 * cut by the run's ends as the tiles across it that the run's units hold. */
static int compute_units(const gemm_split *s, const NN_T *all, int64_t u0, int64_t u1)
{
    const int64_t units = s->units;
    int st = NN_OK, cs;
    while (u0 < u1) {
        const int64_t p = min64(u0 / s->groups, s->panels - 1), first = p * s->groups;
        const int64_t g = p == s->panels - 1 ? s->last : s->groups;
        const int64_t q0 = u0 - first, q1 = min64(u1 - first, g);
        const int64_t whole_end = u1 >= units ? s->panels : u1 / s->groups; /* panels < it */
        if (q0 == 0 && whole_end > p) {
            cs = compute_panels(s, all, p, whole_end, 0, s->tiles);
            u0 = whole_end == s->panels ? units : whole_end * s->groups;
        } else {
            cs = compute_panels(s, all, p, p + 1, s->tiles * q0 / g, s->tiles * q1 / g);
            u0 = first + q1;
        }
        if (cs != NN_OK && st == NN_OK) st = cs;
    }
    return st;
}

static int split_part(void *ctx, int64_t part)
{
    gemm_split *s = (gemm_split *)ctx;
    const int from_back = nni_thread_index() != 0;
    const NN_T *all = s->shared;
    int64_t p0, p1, runs = 0;
    int st = NN_OK, cs;
    (void)part;
    while (nni_ends_claim_aligned(&s->ends, from_back, s->divisor, runs ? s->groups : 1, &p0,
                                  &p1)) {
        if (runs++ == 0 && s->pack_own) all = pack_whole(s);
        if ((cs = compute_units(s, all, p0, p1)) != NN_OK && st == NN_OK) st = cs;
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
    if (i0 < i1)
        NNI_F(gemm_pack_side)(s->g, s->share_a, s->sp + i0 * s->kc, s->s0 + i0, i1 - i0, s->pc,
                              s->kc);
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
            NNI_F(gemm_b_block)(g, NULL, op, o, len, s->pc, s->kc, &fill, &src);
            NNI_F(gemm_macro_kernel)(g, s->sp, op, s->s0, o, s->slen, len, s->kc, beta, last,
                                     NULL, 0, fill,
                         src);
        } else {
            NNI_F(gemm_pack_side)(g, 1, op, o, len, s->pc, s->kc);
            NNI_F(gemm_macro_kernel)(g, op, s->sp, o, s->s0, len, s->slen, s->kc, beta, last,
                                     NULL, 0, NULL,
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

/* The largest operand each thread packs whole for itself: three quarters of a core's L2 (a
 * quarter left for the other operand's stream and C's tiles). A copy that stays in the core's
 * L2 is read from there by every run; a larger one is read from L3 either way, and packing it
 * once, in parallel, costs each thread half the packing. W4's products (A 1-2 MiB), 2
 * threads, Zen 5 KVM guest (1 MiB L2), three paired runs: shared instead of own, each product
 * 2-5 % faster, the training step 1.7-3.6 %. Half of L2 until the first layer of
 * scikit-learn's default network on MNIST-sized data, float64 200 x 100 x 784 (op(B) 752
 * KiB, shared by row runs), ran at 1.57x its 1-thread speed on 2 threads and at 0.93x NumPy's
 * (Zen 4 KVM guest, 1 MiB L2); its own copies: CHANGELOG. */
static int64_t own_pack_max(void)
{
    const int64_t l2 = nn_cache_size(2);
    return (l2 > 0 ? l2 : 256 << 10) / 4 * 3;
}

/* The units runs are claimed in: whole panels, or, when C has fewer than
 * GEMM_TILE_UNITS_PANELS panels a thread, each panel's tiles across (its rows' tiles, for
 * column panels), in up to GEMM_TILE_UNITS_MAX groups. Halves of whole panels split 6 panels
 * of 48 columns, the last one 16 wide (n = 256 on the 8 x 48 kernel), 3 against 2 1/3 panels
 * of work: the thread with the 3 set the product's time, 12 % over an even split. A panel
 * narrower than the others counts its share of the groups, so halves of the units are halves
 * of the work to a tile. The panel the two first runs cut is packed (its columns of op(B), for
 * column panels) by both threads; a thread's later runs end on whole panels
 * (nni_ends_claim_aligned), or each of its pieces of a panel would pack it again. The tile
 * grid is the serial one whatever the cut: every element of C has the same sum on any thread
 * count. 2 threads, Zen 4 EPYC KVM guest, 8 rounds of the two builds alternated (scratch
 * loops, medians): float32 64 x 256 x 128 A B^T (6 panels) 25.6 against 27.4 us, float64
 * 64 x 128 x 256 (6 panels, the last 8 wide of 24) 42.2 against 48.1. */
#define GEMM_TILE_UNITS_PANELS 16
#define GEMM_TILE_UNITS_MAX 64

static void gemm_units(gemm_split *s, int64_t col_panels, int64_t row_panels)
{
    const gemm_args *g = s->g;
    const int64_t r = s->by_cols ? NR(g->kr) : MR(g->kr), size = s->by_cols ? g->n : g->m;
    const int64_t last_width = size - (size - 1) / r * r;
    s->panels = s->by_cols ? col_panels : row_panels;
    s->tiles = s->by_cols ? row_panels : col_panels;
    s->groups = s->panels < GEMM_TILE_UNITS_PANELS * s->threads
                    ? min64(s->tiles, GEMM_TILE_UNITS_MAX)
                    : 1;
    s->last = (s->groups * last_width + r / 2) / r;
    if (s->last < 1) s->last = 1;
    s->units = (s->panels - 1) * s->groups + s->last;
    nni_ends_init(&s->ends, s->units);
}

/* C split by columns shares alpha op(A) (m x k), by rows op(B) (k x n): when both sides have
 * panels enough for every thread, the smaller operand is the one shared and read by every
 * thread (W3's 784 x 256 x 64 A^T delta: by rows, op(B) 64 KiB shared, not op(A)'s 200). */
int NNI_F(gemm_parallel)(const gemm_args *g, int threads)
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
    gemm_units(&s, col_panels, row_panels);
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
/* C = (beta C + the first half's k blocks) + the second half's, for the short Cs gemm.c's
 * k_split_at names (its comment: why the halves, and where they split). On one thread the
 * halves run one after the other; on two, side by side. */
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
    return c0 < c1 ? NNI_F(gemm_range)(&h, 0, h.m, c0, c1, NULL, s->bp_all) : NN_OK;
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
    if (g->ep && i1 > i0) NNI_F(gemm_epilogue_tile)(g, i0, 0, i1 - i0, g->n);
    return NN_OK;
}

/* C = (beta C + op(A)[:, :ks] op(B)[:ks, :]) + op(A)[:, ks:] op(B)[ks:, :], then the
 * epilogue; the second half's sums in the caller's SCRATCH_SHARED buffer (this path's
 * gemm_range calls use only the A and B slots). The sum is split by rows over the threads:
 * each half of C was written by one core, so one thread summing it read half from the
 * other's cache, on its own. */
int NNI_F(gemm_k_split)(const gemm_args *g, int64_t ks, int threads, const NN_T *bp_all)
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
