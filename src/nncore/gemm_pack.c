/* GEMM packing: copy a block of op(A) or op(B) into the micro-panel order the micro-kernels
 * read (gemm_kernels.h: nni_ukr_f32), zero-padding the edges to whole panels. The transposition
 * flags are applied here, while reading, so no transposed copy of A or B is ever made.
 *
 * Two kinds of source: where a panel's lanes lie side by side in memory (op(A) = A^T,
 * op(B) = B), each source row is copied along its length into all the panels at once; where
 * they lie across rows (op(A) = A, op(B) = B^T), each panel reads mr (nr) rows side by side,
 * through an in-register transpose when the kernel has a packer for it (gemm_pack_<isa>.c).
 * The panel width is a compile-time constant in the specializations below (every kernel's MR
 * and NR), so the lane loops unroll and vectorize.                                          */
#include "internal.h"

#ifdef NN_ELEM_F32
#define PACK_T_OF(kr) ((kr)->pack_t_f32)
#else
#define PACK_T_OF(kr) ((kr)->pack_t_f64)
#endif

/* One panel of mr rows of A (op(A) = A): ap[p mr + i] = alpha A[i ars + p],
 * rows >= `rows` zero; the portable path of the packing that reads across rows. */
static inline void pack_a_panel(NN_T *restrict ap, const NN_T *restrict A, int64_t ars,
                                int64_t kc, int64_t rows, const int mr, NN_T alpha)
{
    int64_t p, i;
    if (rows == mr) { /* mr rows of A side by side */
        for (p = 0; p < kc; p++)
            for (i = 0; i < mr; i++) ap[p * mr + i] = alpha * A[i * ars + p];
    } else {
        for (p = 0; p < kc; p++) {
            for (i = 0; i < rows; i++) ap[p * mr + i] = alpha * A[i * ars + p];
            for (; i < mr; i++) ap[p * mr + i] = 0;
        }
    }
}

/* One panel of nr columns of op(B) = B^T: bp[p nr + j] = scale B[j bcs + p], columns
 * >= `cols` zero; the portable path of the packing that reads across rows. */
static inline void pack_b_panel(NN_T *restrict bp, const NN_T *restrict B, int64_t bcs,
                                int64_t kc, int64_t cols, const int nr, NN_T scale)
{
    int64_t p, j;
    if (cols == nr) { /* each of B's rows read along, in blocks of 8 p so the writes stay
                       * within a few cache lines of the panel */
        for (p = 0; p + 8 <= kc; p += 8)
            for (j = 0; j < nr; j++) {
                const NN_T *src = B + j * bcs + p;
                NN_T *dst = bp + p * nr + j;
                dst[0] = scale * src[0], dst[nr] = scale * src[1];
                dst[2 * nr] = scale * src[2], dst[3 * nr] = scale * src[3];
                dst[4 * nr] = scale * src[4], dst[5 * nr] = scale * src[5];
                dst[6 * nr] = scale * src[6], dst[7 * nr] = scale * src[7];
            }
        for (; p < kc; p++)
            for (j = 0; j < nr; j++) bp[p * nr + j] = scale * B[j * bcs + p];
    } else {
        for (p = 0; p < kc; p++) {
            for (j = 0; j < cols; j++) bp[p * nr + j] = scale * B[j * bcs + p];
            for (; j < nr; j++) bp[p * nr + j] = 0;
        }
    }
}

/* Blocks of A^T up to this many bytes of source rows are packed panel by panel
 * (pack_rows_by_panel); larger ones (W4's 256 x 2048 blocks, 2 MiB) row by row, each row
 * read along its pages. */
#define PACK_BY_PANEL_MAX_BYTES ((int64_t)256 * 1024)

/* Panels of w lanes from a matrix whose lane values lie side by side in memory (op(A) = A^T:
 * A's row p holds the rows of op(A); op(B) = B: B's row p holds the columns):
 * dst (panel q at q w kc) [p w + l] = scale src[p ld + q w + l], l < lanes - q w, else 0.
 * Row p of the source is read once along its length into every panel's line p, so the reads
 * run through memory in order and the hardware prefetcher follows them; reading one panel
 * at a time instead would step ld (8 KiB for n = 2048) per p, every read a new page that no
 * prefetcher crosses (perf, a 256 x 2048 x 2048 product: the packing 13 % of the samples
 * that way, 10 % row by row). w is a constant in the specializations, so the lane loop
 * vectorizes.                                                                               */
static inline void pack_rows_panels(NN_T *restrict dst, const NN_T *restrict src, int64_t ld,
                                    int64_t kc, int64_t lanes, const int w, NN_T scale)
{
    const int64_t full = lanes / w, rest = lanes - full * w;
    const int64_t ahead = nni_pack_rows_ahead(ld * (int64_t)sizeof(NN_T),
                                              lanes * (int64_t)sizeof(NN_T), kc);
    int64_t p, q, l;
    for (p = 0; p < kc; p++) {
        const NN_T *restrict s = src + p * ld;
        NN_T *restrict d = dst + p * w;
        if (p + ahead < kc) nni_prefetch_l2(s + ahead * ld, (size_t)lanes * sizeof(NN_T));
        for (q = 0; q < full; q++, s += w, d += w * kc)
            if (scale == 1) /* op(B): a plain copy */
                for (l = 0; l < w; l++) d[l] = s[l];
            else
                for (l = 0; l < w; l++) d[l] = scale * s[l];
        if (rest) {
            for (l = 0; l < rest; l++) d[l] = scale * s[l];
            for (; l < w; l++) d[l] = 0;
        }
    }
}

/* The same panels written one after the other, each panel's kc x w block in order: its
 * writes contiguous, its lanes read from the kc source rows, whose lines the next panel reads
 * again from L1 (w = 8 floats: two panels a line). For short blocks of A^T (the weight
 * gradients' A_prev^T of a batch of 64: kc = 64 rows), where writing every panel's row p
 * before row p + 1 spread its stores over as many lines as panels: perf put that packing at
 * 8-14 % of the samples of 784 x 256 x 64 (trans_a, float32, one thread), this order at 4 %. */
static inline void pack_rows_by_panel(NN_T *restrict dst, const NN_T *restrict src,
                                      int64_t ld, int64_t kc, int64_t lanes, const int w,
                                      NN_T scale)
{
    int64_t q, p, l;
    for (q = 0; q < lanes; q += w, src += w, dst += w * kc) {
        const int64_t n = lanes - q < w ? lanes - q : w;
        if (n == w)
            for (p = 0; p < kc; p++)
                for (l = 0; l < w; l++) dst[p * w + l] = scale * src[p * ld + l];
        else
            for (p = 0; p < kc; p++) {
                for (l = 0; l < n; l++) dst[p * w + l] = scale * src[p * ld + l];
                for (; l < w; l++) dst[p * w + l] = 0;
            }
    }
}

static void pack_rows(NN_T *restrict dst, const NN_T *restrict src, int64_t ld, int64_t kc,
                      int64_t lanes, int w, NN_T scale)
{
    switch (w) {
    case 4: pack_rows_panels(dst, src, ld, kc, lanes, 4, scale); break;
    case 6: pack_rows_panels(dst, src, ld, kc, lanes, 6, scale); break;
    case 8: pack_rows_panels(dst, src, ld, kc, lanes, 8, scale); break;
    case 12: pack_rows_panels(dst, src, ld, kc, lanes, 12, scale); break;
    case 16: pack_rows_panels(dst, src, ld, kc, lanes, 16, scale); break;
    case 32: pack_rows_panels(dst, src, ld, kc, lanes, 32, scale); break;
    case 48: pack_rows_panels(dst, src, ld, kc, lanes, 48, scale); break;
    default: pack_rows_panels(dst, src, ld, kc, lanes, w, scale); break;
    }
}

#ifdef NN_ELEM_F32
/* Bfloat16 pairs' panels (nn_gemm_bf16_f32 on the vdpbf16ps set, and B's for AMX) from the
 * block whose element (p, l) is src[p ks + l ls] (p < kc, l < lanes), scaled, then rounded
 * to bfloat16, in panels of w lanes end to end, lanes past `lanes` zero: pk w words a panel
 * (pk >= (kc + 1) / 2), word [r w + l] holding the terms 2r (low half) and 2r + 1 (high half;
 * zero past kc), the rows r >= (kc + 1) / 2 zero. */
void nni_pack_bf16_pairs_scalar(float *restrict dst, const float *restrict src, int64_t ks,
                                int64_t ls, int64_t kc, int64_t lanes, int w, int64_t pk,
                                float scale)
{
    int64_t q, p, l;
    for (q = 0; q < lanes; q += w, dst += w * pk) {
        const int64_t n = lanes - q < w ? lanes - q : w;
        const float *s = src + q * ls;
        uint32_t *d = (uint32_t *)(void *)dst;
        for (p = 0; p < kc; p += 2, d += w) {
            for (l = 0; l < n; l++) {
                const uint32_t lo = nni_bf16_bits(scale * s[p * ks + l * ls]);
                const uint32_t hi =
                    p + 1 < kc ? nni_bf16_bits(scale * s[(p + 1) * ks + l * ls]) : 0;
                d[l] = lo | hi << 16;
            }
            for (; l < w; l++) d[l] = 0;
        }
        memset(d, 0, sizeof *d * (size_t)(w * (pk - (kc + 1) / 2)));
    }
}

void nni_pack_bf16_pairs(float *restrict dst, const float *restrict src, int64_t ks,
                         int64_t ls, int64_t kc, int64_t lanes, int w, int64_t pk, float scale)
{
#ifdef NN_HAVE_KERNEL_AVX512BF16
    /* pairs are packed only for the sets with vdpbf16ps or AMX, so this CPU converts with
     * vdpbf16ps's conversions too */
    nni_pack_bf16_pairs_avx512(dst, src, ks, ls, kc, lanes, w, pk, scale);
#else
    nni_pack_bf16_pairs_scalar(dst, src, ks, ls, kc, lanes, w, pk, scale);
#endif
}

/* x[i] = nni_bf16_round(x[i]) for i < count: the bits of nni_bf16_bits, branch-free so that
 * the compiler vectorizes the loop (a float kernel's packed panel, rounded in place). */
void nni_bf16_round_inplace(float *x, int64_t count)
{
    int64_t i;
    for (i = 0; i < count; i++) {
        uint32_t u, r;
        memcpy(&u, x + i, sizeof u);
        r = (u & 0x7fffffffu) > 0x7f800000u ? u | 0x00400000u /* quiet NaN */
                                             : u + 0x7fffu + ((u >> 16) & 1u);
        r &= 0xffff0000u;
        memcpy(x + i, &r, sizeof r);
    }
}
#endif

/* ap = alpha op(A)[i0 : i0+mc, p0 : p0+kc] as panels of mr rows: the panel of rows
 * ir .. ir+mr-1 starts at ap + ir kc and holds element (i, p) at p mr + (i - ir).
 * op(A)[i, p] = A[i k + p], or A[p m + i] when trans_a (A stored (k, m)).                    */
void NNI_F(pack_a)(const nni_gemm_kernel *kr, NN_T *restrict ap, const NN_T *restrict A,
                   int64_t m, int64_t k, int trans_a, int64_t i0, int64_t p0, int64_t mc,
                   int64_t kc, int mr, NN_T alpha)
{
    int64_t ir;
    if (trans_a) { /* A's row p holds op(A)'s column p: read it along, into every panel */
        /* float panels of 8 (half a line) from a block whose rows span the L1 TLB's reach
         * or less (64 pages): panel by panel. Doubles fill a line a panel, with no line
         * to read again: 256 x 128 x 64 ran 0.79x that way. */
        if (sizeof(NN_T) == 4 && mr == 8 &&
            kc * m * (int64_t)sizeof(NN_T) <= PACK_BY_PANEL_MAX_BYTES) {
            pack_rows_by_panel(ap, A + p0 * m + i0, m, kc, mc, 8, alpha);
            return;
        }
        pack_rows(ap, A + p0 * m + i0, m, kc, mc, mr, alpha);
        return;
    }
    for (ir = 0; ir < mc; ir += mr, ap += mr * kc) {
        const int64_t rows = mc - ir < mr ? mc - ir : mr;
        const NN_T *src = A + (i0 + ir) * k + p0;
        if (PACK_T_OF(kr)) {
            PACK_T_OF(kr)(ap, src, k, kc, mr, (int)rows, alpha);
            continue;
        }
        switch (mr) {
        case 4: pack_a_panel(ap, src, k, kc, rows, 4, alpha); break;
        case 6: pack_a_panel(ap, src, k, kc, rows, 6, alpha); break;
        case 8: pack_a_panel(ap, src, k, kc, rows, 8, alpha); break;
        case 12: pack_a_panel(ap, src, k, kc, rows, 12, alpha); break;
        default: pack_a_panel(ap, src, k, kc, rows, mr, alpha); break;
        }
    }
}

/* bp = scale op(B)[p0 : p0+kc, j0 : j0+nc] as panels of nr columns (scale: gemm.c's
 * alpha_on_b, the narrow path's alpha; else 1): the panel of columns
 * jr .. jr+nr-1 starts at bp + jr kc and holds element (p, j) at p nr + (j - jr).
 * op(B)[p, j] = B[p n + j], or B[j k + p] when trans_b (B stored (n, k)).                    */
void NNI_F(pack_b)(const nni_gemm_kernel *kr, NN_T *restrict bp, const NN_T *restrict B,
                   int64_t n, int64_t k, int trans_b, int64_t p0, int64_t j0, int64_t kc,
                   int64_t nc, int nr, NN_T scale)
{
    int64_t jr;
    if (!trans_b) { /* B's row p holds op(B)'s row p: read it along, into every panel */
        pack_rows(bp, B + p0 * n + j0, n, kc, nc, nr, scale);
        return;
    }
    for (jr = 0; jr < nc; jr += nr, bp += nr * kc) {
        const int64_t cols = nc - jr < nr ? nc - jr : nr;
        const NN_T *src = B + (j0 + jr) * k + p0;
        if (PACK_T_OF(kr)) {
            PACK_T_OF(kr)(bp, src, k, kc, nr, (int)cols, scale);
            continue;
        }
        switch (nr) {
        case 4: pack_b_panel(bp, src, k, kc, cols, 4, scale); break;
        case 8: pack_b_panel(bp, src, k, kc, cols, 8, scale); break;
        case 16: pack_b_panel(bp, src, k, kc, cols, 16, scale); break;
        case 32: pack_b_panel(bp, src, k, kc, cols, 32, scale); break;
        case 48: pack_b_panel(bp, src, k, kc, cols, 48, scale); break;
        default: pack_b_panel(bp, src, k, kc, cols, nr, scale); break;
        }
    }
}
