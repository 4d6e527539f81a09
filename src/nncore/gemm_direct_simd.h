/* The direct mid-size product, written once for every SIMD instruction set: C rows i0 .. i1-1
 * of C = alpha op(A) op(B) + beta C with the epilogue, op(A) read where it is and op(B) (k, n)
 * row-major, no packing (gemm_direct.c). Included by gemm_direct_<isa>.c, compiled once per
 * element type, after defining (no include guard on purpose):
 *   DG_NAME              the function's name (an NNI_F(direct_rows_fn))
 *   DG_COLSUM_NAME       optional: the column sums' name (an NNI_F(column_sums_fn))
 *   DG_V, DG_VL          the vector type and its lanes; DG_MASK_T a lane mask
 *   DG_MR2, DG_MR3       rows of a tile of at most 2 vectors, of 3 vectors: the accumulators,
 *                        B's vectors and a broadcast fill the registers
 *   DG_WIDE_NV           optional (default 8): vectors of a one-row tile (a single row of C:
 *                        its accumulators, B's vectors folded into the FMAs)
 *   DG_MASK(cols)        the mask of the first cols lanes
 *   DG_LOAD(p) DG_LOADM(p, mask) DG_STORE(p, v) DG_STOREM(p, mask, v)   unaligned; masked
 *                        lanes load as 0 and are never written
 *   DG_BCAST(x) DG_ZERO() DG_FMA(a, b, c) = a b + c fused, DG_ADD DG_SUB DG_MUL DG_MAX
 *   DG_KEEP(a)           1 in the lanes where a > 0, else 0
 *   DG_HV                optional: a vector of half the lanes, for C's last vector when it
 *                        has at most half its lanes (on CPUs whose FMA units are half the
 *                        vector's width, as AMD Zen 4's, half the cycles of the full FMA);
 *                        with it DG_HZERO() DG_HLOADM(p, mask), DG_HBCAST(p) (*p in every
 *                        lane), DG_HFMA(a, b, c), DG_HWIDEN(h) the full vector of h, upper
 *                        lanes 0
 *
 * A tile is rows x nv vectors of C; for each p from 0 it loads op(B)'s row p (nv vectors),
 * broadcasts op(A)[i, p] of each row and adds their products, one FMA a term:
 *   acc[i, j] = fma(op(A)[i, p], op(B)[p, j], acc[i, j]),  p = 0 .. k-1, acc from 0,
 * so each sum is a function of its row and column alone, wherever the tiles and the threads'
 * row ranges fall. Then, while the tile is in registers,
 *   x = alpha acc (+ beta C) (+ bias[j]);  relu: x = max(x, 0);  x *= f'(deriv_of[i, j])
 * with f' written from the output: relu [a > 0], sigmoid a (1 - a), tanh 1 - a^2 (the rounding
 * of nni_deriv_mul). Another activation (sigmoid, tanh, step) runs over the block of rows just
 * stored, still in L1, through the vector math, followed by the derivative when there is one.
 * Column groups: n's vectors in groups of 3 (2 where 3 do not divide them), or one group of 1
 * or 2; only C's last vector is masked (in a half-width vector where the ISA has one and it
 * has at most half the lanes). A range of one row (the forward of one sample) takes its full
 * vectors in one-row tiles of DG_WIDE_NV, then of DG_WIDE_NV / 2 vectors, first: 3
 * accumulators waited on the FMA's latency, and a group of 3 vectors read B's rows 192 bytes
 * at a time. One sample through 784-256-128-10, AVX-512 (`python bench/bench_latency.py
 * --layers 784,256,128,10 --dtype D --rows 1`, Zen 5 KVM guest, load < 0.3): float 10.4 us
 * in groups of 3, 8.8 with these tiles; double 31.6 and 18.4 us (the same sums). The tiles'
 * loops have constant bounds and unroll, so the accumulators live in registers (GCC and
 * Clang). */
#if defined(__clang__)
#define DG_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define DG_UNROLL _Pragma("GCC unroll 16")
#else
#define DG_UNROLL
#endif
#ifndef DG_WIDE_NV
#define DG_WIDE_NV 8
#endif
/* accumulators and B's vectors a tile holds at most: 3 vectors, or one row of DG_WIDE_NV */
#define DG_TILE_NV (DG_WIDE_NV > 3 ? DG_WIDE_NV : 3)
#if defined(__GNUC__) || defined(__clang__)
#define DG_INLINE static inline __attribute__((always_inline))
#else
#define DG_INLINE static __forceinline
#endif

/* the derivative's code in a tile: none, relu, sigmoid, tanh */
enum { DG_D_NONE, DG_D_RELU, DG_D_SIGMOID, DG_D_TANH };

/* x * f'(a), f' by code (DG_D_NONE: x) */
DG_INLINE DG_V dg_deriv(DG_V x, DG_V a, int code)
{
    const DG_V one = DG_BCAST((NN_T)1);
    switch (code) {
    case DG_D_RELU:
        return DG_MUL(x, DG_KEEP(a));
    case DG_D_SIGMOID:
        return DG_MUL(x, DG_MUL(a, DG_SUB(one, a)));
    case DG_D_TANH:
        return DG_MUL(x, DG_SUB(one, DG_MUL(a, a)));
    default:
        return x;
    }
}

/* C's last vector in a tile: full, masked, or masked to at most half its lanes and computed
 * in half-width vectors (DG_HALF: only where the ISA defines DG_HFMA) */
enum { DG_FULL, DG_MASKED, DG_HALF };
#ifdef DG_HV
#define DG_HALF_OK 1
#else /* no half width: the full vector's operations, never used (DG_HALF_OK 0) */
#define DG_HALF_OK 0
#define DG_HV DG_V
#define DG_HZERO() DG_ZERO()
#define DG_HLOADM(p, m) DG_LOADM(p, m)
#define DG_HBCAST(p) DG_BCAST(*(p))
#define DG_HFMA(a, b, c) DG_FMA(a, b, c)
#define DG_HWIDEN(h) (h)
#endif

/* One tile: C[i0 .. i0+rows, j0 .. j0 + nv VL] (the last vector masked when `masked`: its
 * kind, DG_FULL, DG_MASKED or DG_HALF). */
DG_INLINE void dg_tile(const NNI_F(direct_args) *g, int64_t i0, int64_t j0, const int rows,
                       const int nv, const int masked, DG_MASK_T mask, int dcode)
{
    DG_V acc[DG_MR2 > DG_MR3 ? DG_MR2 : DG_MR3][DG_TILE_NV];
    DG_HV hacc[DG_MR2 > DG_MR3 ? DG_MR2 : DG_MR3]; /* the half-width last vector's sums */
    /* full-width vectors of the tile (DG_HALF: all but the last) */
    const int nf = masked == DG_HALF ? nv - 1 : nv;
    const int64_t n = g->n, k = g->k, ars = g->ars, acs = g->acs;
    /* op(A)'s rows through 4 pointers 3 rows apart and one byte stride, so row r's element
     * is at base[r / 3] + (r % 3) stride: an x86 address (base + index * 1 or 2), not one
     * register per row (12 rows' pointers would not fit in the general registers) */
    const int64_t sb = ars * (int64_t)sizeof(NN_T), pb = acs * (int64_t)sizeof(NN_T);
    const char *base[4];
    const NN_T *b = g->B + j0;
    int64_t p;
    int r, v;
    DG_UNROLL
    for (r = 0; r < 4; r++) base[r] = (const char *)(g->A + i0 * ars) + 3 * r * sb;
    DG_UNROLL
    for (r = 0; r < rows; r++) {
        DG_UNROLL
        for (v = 0; v < nf; v++) acc[r][v] = DG_ZERO();
        if (masked == DG_HALF) hacc[r] = DG_HZERO();
    }
    /* 4 k steps an iteration: the pointer updates and the loop test, 7 scalar instructions a
     * step against 27-35 vector ones, held the front end near the FMA units' rate. Paired on
     * the digits step's five products (float64, 1 thread, Ice Lake Xeon): 1.08x, dW1 = X^T d1
     * 1.11x; AVX2 on the same machine 1.09-1.11x. The sums and their order are the same. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (p = 0; p < k; p++) {
        DG_V bv[DG_TILE_NV];
        DG_HV hb = DG_HZERO();
        DG_UNROLL
        for (v = 0; v < nf; v++)
            bv[v] = masked == DG_MASKED && v == nv - 1 ? DG_LOADM(b + v * DG_VL, mask)
                                                       : DG_LOAD(b + v * DG_VL);
        if (masked == DG_HALF) hb = DG_HLOADM(b + nf * DG_VL, mask);
        DG_UNROLL
        for (r = 0; r < rows; r++) {
            const NN_T *const ap = (const NN_T *)(base[r / 3] + (r % 3) * sb);
            const DG_V ar = DG_BCAST(*ap);
            DG_UNROLL
            for (v = 0; v < nf; v++) acc[r][v] = DG_FMA(ar, bv[v], acc[r][v]);
            /* the half vector's own broadcast: the low half of ar cost 1.82 cycles a row and
             * k step against 1.62 (64 x 12 x 128 float64, Zen 4: 1.5 is the FMA bound) */
            if (masked == DG_HALF) hacc[r] = DG_HFMA(DG_HBCAST(ap), hb, hacc[r]);
        }
        DG_UNROLL
        for (r = 0; r < 4; r++) base[r] += pb;
        b += n;
    }
    if (masked == DG_HALF) {
        DG_UNROLL
        for (r = 0; r < rows; r++) acc[r][nv - 1] = DG_HWIDEN(hacc[r]);
    }
    /* the epilogue, one step at a time over the whole tile: each setting is tested once a
     * tile (the fields are read into locals first: C's stores could alias them), and every
     * element still gets alpha, beta, bias, relu and f' in that order */
    {
        const NN_T alpha = g->alpha, beta = g->beta;
        const NN_T *const bias = g->bias, *const deriv_of = g->deriv_of;
        NN_T *const c0 = g->C + i0 * n + j0;
#define DG_AT(base, r, v) ((base) + (r) * n + (v) * DG_VL)
#define DG_GET(base, r, v) (masked && (v) == nv - 1 ? DG_LOADM(DG_AT(base, r, v), mask) \
                                                     : DG_LOAD(DG_AT(base, r, v)))
        if (alpha != 1) {
            const DG_V av = DG_BCAST(alpha);
            DG_UNROLL
            for (r = 0; r < rows; r++) {
                DG_UNROLL
                for (v = 0; v < nv; v++) acc[r][v] = DG_MUL(av, acc[r][v]);
            }
        }
        if (beta != 0) {
            const DG_V bv = DG_BCAST(beta);
            DG_UNROLL
            for (r = 0; r < rows; r++) {
                DG_UNROLL
                for (v = 0; v < nv; v++) {
                    const DG_V old = DG_GET(c0, r, v);
                    acc[r][v] = DG_ADD(acc[r][v], beta == 1 ? old : DG_MUL(bv, old));
                }
            }
        }
        if (bias) {
            DG_UNROLL
            for (v = 0; v < nv; v++) {
                const DG_V bb = DG_GET(bias + j0, 0, v);
                DG_UNROLL
                for (r = 0; r < rows; r++) acc[r][v] = DG_ADD(acc[r][v], bb);
            }
        }
        if (g->relu) {
            DG_UNROLL
            for (r = 0; r < rows; r++) {
                DG_UNROLL
                for (v = 0; v < nv; v++) acc[r][v] = DG_MAX(acc[r][v], DG_ZERO());
            }
        }
        if (dcode != DG_D_NONE) { /* one loop per derivative, its code a constant in each */
            const NN_T *const d0 = deriv_of + i0 * n + j0;
#define DG_DERIV_ALL(code)                                                                 \
    do {                                                                                   \
        DG_UNROLL                                                                          \
        for (r = 0; r < rows; r++) {                                                       \
            DG_UNROLL                                                                      \
            for (v = 0; v < nv; v++) acc[r][v] = dg_deriv(acc[r][v], DG_GET(d0, r, v), code); \
        }                                                                                  \
    } while (0)
            if (dcode == DG_D_RELU)
                DG_DERIV_ALL(DG_D_RELU);
            else if (dcode == DG_D_SIGMOID)
                DG_DERIV_ALL(DG_D_SIGMOID);
            else
                DG_DERIV_ALL(DG_D_TANH);
#undef DG_DERIV_ALL
        }
        DG_UNROLL
        for (r = 0; r < rows; r++) {
            DG_UNROLL
            for (v = 0; v < nv; v++) {
                if (masked && v == nv - 1)
                    DG_STOREM(DG_AT(c0, r, v), mask, acc[r][v]);
                else
                    DG_STORE(DG_AT(c0, r, v), acc[r][v]);
            }
        }
#undef DG_GET
#undef DG_AT
    }
}

/* The tile of `rows` (1 .. DG_MR2) rows, compiled for each, in one function per (vectors,
 * kind of the last vector): one function of all of them (over 100 tiles, 400 KiB) got
 * GCC's register allocation for huge functions, which spilled the tiles' pointers (k 10
 * products 1.2-1.4x slower when a third kind was added). */
#define DG_ROWS_CASE(R, NV, KIND)                                                          \
    case R:                                                                                \
        dg_tile(g, i0, j0, (R) <= max_rows ? (R) : 1, NV, KIND, mask, dcode);              \
        break;
#if DG_MR2 >= 8
#define DG_ROWS_7_8(NV, KIND) DG_ROWS_CASE(7, NV, KIND) DG_ROWS_CASE(8, NV, KIND)
#else
#define DG_ROWS_7_8(NV, KIND)
#endif
#if DG_MR2 >= 12
#define DG_ROWS_9_12(NV, KIND)                                                             \
    DG_ROWS_CASE(9, NV, KIND) DG_ROWS_CASE(10, NV, KIND) DG_ROWS_CASE(11, NV, KIND)         \
    DG_ROWS_CASE(12, NV, KIND)
#else
#define DG_ROWS_9_12(NV, KIND)
#endif
#define DG_ROWS_FN(NAME, NV, KIND)                                                         \
    static void NAME(const NNI_F(direct_args) *g, int64_t i0, int64_t j0, int rows,        \
                     DG_MASK_T mask, int dcode)                                            \
    {                                                                                      \
        enum { max_rows = (NV) == 3 ? DG_MR3 : DG_MR2 };                                   \
        switch (rows) {                                                                    \
            DG_ROWS_CASE(1, NV, KIND) DG_ROWS_CASE(2, NV, KIND) DG_ROWS_CASE(3, NV, KIND)  \
            DG_ROWS_CASE(4, NV, KIND) DG_ROWS_CASE(5, NV, KIND) DG_ROWS_CASE(6, NV, KIND)  \
            DG_ROWS_7_8(NV, KIND) DG_ROWS_9_12(NV, KIND)                                   \
        default: break;                                                                    \
        }                                                                                  \
    }
DG_ROWS_FN(dg_rows_1, 1, DG_FULL)
DG_ROWS_FN(dg_rows_2, 2, DG_FULL)
DG_ROWS_FN(dg_rows_3, 3, DG_FULL)
DG_ROWS_FN(dg_rows_1m, 1, DG_MASKED)
DG_ROWS_FN(dg_rows_2m, 2, DG_MASKED)
DG_ROWS_FN(dg_rows_3m, 3, DG_MASKED)
#if DG_HALF_OK
DG_ROWS_FN(dg_rows_1h, 1, DG_HALF)
DG_ROWS_FN(dg_rows_2h, 2, DG_HALF)
DG_ROWS_FN(dg_rows_3h, 3, DG_HALF)
#endif
#undef DG_ROWS_FN
/* one-row tiles of NV full vectors */
#define DG_WIDE_FN(NAME, NV)                                                               \
    static void NAME(const NNI_F(direct_args) *g, int64_t i0, int64_t j0, DG_MASK_T mask,  \
                     int dcode)                                                            \
    {                                                                                      \
        dg_tile(g, i0, j0, 1, NV, DG_FULL, mask, dcode);                                   \
    }
DG_WIDE_FN(dg_wide, DG_WIDE_NV)
DG_WIDE_FN(dg_wide_half, DG_WIDE_NV / 2)
#undef DG_WIDE_FN
#undef DG_ROWS_9_12
#undef DG_ROWS_7_8
#undef DG_ROWS_CASE

static void dg_tile_any(const NNI_F(direct_args) *g, int64_t i0, int64_t j0, int rows, int nv,
                        int masked, DG_MASK_T mask, int dcode)
{
    typedef void (*rows_fn)(const NNI_F(direct_args) *, int64_t, int64_t, int, DG_MASK_T, int);
    static const rows_fn by_kind[3][3] = {
        {dg_rows_1, dg_rows_2, dg_rows_3},
        {dg_rows_1m, dg_rows_2m, dg_rows_3m},
#if DG_HALF_OK
        {dg_rows_1h, dg_rows_2h, dg_rows_3h},
#else
        {dg_rows_1m, dg_rows_2m, dg_rows_3m},
#endif
    };
    by_kind[masked][nv - 1](g, i0, j0, rows, mask, dcode);
}

/* Rows i .. i+rows-1 of C over its vectors vj .. nvec-1, in column groups of 3 vectors (2
 * where 3 do not divide them), or one group of 1 or 2. */
static void dg_groups(const NNI_F(direct_args) *g, int64_t i, int rows, int64_t vj,
                      int64_t nvec, int tail, DG_MASK_T mask, int dcode)
{
    const int64_t left = nvec - vj;
    const int64_t groups = left <= 2 ? 1 : (left + 2) / 3;
    const int64_t twos = left <= 2 ? 0 : 3 * groups - left; /* groups of 2 vectors, first */
    int64_t gi;
    for (gi = 0; gi < groups && vj < nvec; gi++) {
        const int nv = left <= 2 ? (int)left : gi < twos ? 2 : 3;
        const int masked = vj + nv != nvec || tail == DG_VL ? DG_FULL
                           : DG_HALF_OK && 2 * tail <= DG_VL ? DG_HALF
                                                             : DG_MASKED;
        dg_tile_any(g, i, vj * DG_VL, rows, nv, masked, mask, dcode);
        vj += nv;
    }
}

void DG_NAME(const NNI_F(direct_args) *g, int64_t i0, int64_t i1)
{
    const int64_t n = g->n, nvec = (n + DG_VL - 1) / DG_VL;
    const int tail = (int)(n - (nvec - 1) * DG_VL); /* lanes of C's last vector */
    const DG_MASK_T mask = DG_MASK(tail);
    const int mr = nvec <= 2 ? DG_MR2 : DG_MR3;
    const int late = g->late_act != NN_ACT_IDENTITY;
    int dcode = DG_D_NONE;
    int64_t t, tiles;
    if (g->deriv_of && !late)
        dcode = g->deriv_act == NN_ACT_RELU      ? DG_D_RELU
                : g->deriv_act == NN_ACT_SIGMOID ? DG_D_SIGMOID
                : g->deriv_act == NN_ACT_TANH    ? DG_D_TANH
                                                 : DG_D_NONE;
    /* tiles of equal height (10 rows: 5 + 5, not 8 + 2: a 2-row tile loads B's row for 2
     * rows' FMAs); C^T of the narrow A^T products (128 x 10 x 64: 10 rows) 1.16x on Zen 4 */
    tiles = (i1 - i0 + mr - 1) / mr;
    for (t = 0; t < tiles; t++) {
        const int64_t i = i0 + (i1 - i0) * t / tiles, ie = i0 + (i1 - i0) * (t + 1) / tiles;
        const int rows = (int)(ie - i);
        int64_t vj = 0;
        if (i1 - i0 == 1) { /* one row: its full vectors in wide tiles first */
            const int64_t full = tail == DG_VL ? nvec : nvec - 1;
            for (; full - vj >= DG_WIDE_NV; vj += DG_WIDE_NV)
                dg_wide(g, i, vj * DG_VL, mask, dcode);
            if (DG_WIDE_NV / 2 > 3 && full - vj >= DG_WIDE_NV / 2) {
                dg_wide_half(g, i, vj * DG_VL, mask, dcode);
                vj += DG_WIDE_NV / 2;
            }
        }
        if (vj < nvec) dg_groups(g, i, rows, vj, nvec, tail, mask, dcode);
        if (late) { /* the rows just stored are in L1: the activation, then f' */
            NN_T *c = g->C + i * n;
            nni_act_inplace(c, rows * n, g->late_act);
            if (g->deriv_of)
                nni_deriv_mul(c, c, g->deriv_of + i * n, rows * n, g->deriv_act);
        }
    }
}

#ifdef DG_COLSUM_NAME
/* The bias gradient's sums, 1^T X: s[j] = sum_i X[i, j] (m rows of n, ld apart), each column
 * summed in row order from 0, as the scalar loop sums it (the same bits), up to 4 vectors of
 * columns at a time in registers. */
void DG_COLSUM_NAME(NN_T *s, const NN_T *X, int64_t m, int64_t n, int64_t ld)
{
    int64_t j0, i;
    for (j0 = 0; j0 < n; j0 += 4 * DG_VL) {
        const int64_t nc = n - j0 < 4 * DG_VL ? n - j0 : 4 * DG_VL;
        const int nv = (int)((nc + DG_VL - 1) / DG_VL);
        const int tail = (int)(nc - (nv - 1) * DG_VL); /* lanes of the last vector */
        const DG_MASK_T mask = DG_MASK(tail);
        DG_V acc[4];
        int v;
        DG_UNROLL
        for (v = 0; v < 4; v++) acc[v] = DG_ZERO();
        for (i = 0; i < m; i++) {
            const NN_T *row = X + i * ld + j0;
            DG_UNROLL
            for (v = 0; v < 4; v++)
                if (v < nv)
                    acc[v] = DG_ADD(acc[v], v == nv - 1 ? DG_LOADM(row + v * DG_VL, mask)
                                                        : DG_LOAD(row + v * DG_VL));
        }
        DG_UNROLL
        for (v = 0; v < 4; v++)
            if (v < nv) {
                if (v == nv - 1)
                    DG_STOREM(s + j0 + v * DG_VL, mask, acc[v]);
                else
                    DG_STORE(s + j0 + v * DG_VL, acc[v]);
            }
    }
}

#endif /* DG_COLSUM_NAME */

#undef DG_UNROLL
#undef DG_INLINE
#undef DG_HALF_OK
#undef DG_HV
#undef DG_HZERO
#undef DG_HFMA
#undef DG_HBCAST
#undef DG_HLOADM
#undef DG_HWIDEN
