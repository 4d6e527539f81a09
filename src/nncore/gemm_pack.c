/* GEMM packing: copy a block of op(A) or op(B) into the micro-panel order the micro-kernels
 * read (internal.h: nni_ukr_f32), zero-padding the edges to whole panels. The transposition
 * flags are applied here, while reading, so no transposed copy of A or B is ever made.
 *
 * Each panel is written in order (p outer, the mr or nr lanes inner), reading mr rows of A
 * or nr rows of B^T side by side. The panel width is a compile-time constant in the
 * specializations below (every kernel's MR and NR), so the lane loops unroll and vectorize.
 * The panels that read across rows (A's rows for op(A) = A, B's rows for op(B) = B^T) are
 * in-register transposes when the kernel has a packer for them (gemm_pack_<isa>.c).          */
#include "internal.h"

#ifdef NN_ELEM_F32
#define PACK_T_OF(kr) ((kr)->pack_t_f32)
#else
#define PACK_T_OF(kr) ((kr)->pack_t_f64)
#endif

/* One panel of mr rows: ap[p mr + i] = alpha op(A)[i0 + i, p0 + p], rows >= `rows` zero.
 * op(A)[i, p] = A[i ars + p acs]. */
static inline void pack_a_panel(NN_T *restrict ap, const NN_T *restrict A, int64_t ars,
                                int64_t acs, int64_t kc, int64_t rows, const int mr,
                                NN_T alpha)
{
    int64_t p, i;
    if (rows == mr && acs == 1) { /* mr rows of A side by side */
        for (p = 0; p < kc; p++)
            for (i = 0; i < mr; i++) ap[p * mr + i] = alpha * A[i * ars + p];
    } else if (rows == mr) { /* op(A) rows are A's columns: each p reads mr contiguous */
        for (p = 0; p < kc; p++)
            for (i = 0; i < mr; i++) ap[p * mr + i] = alpha * A[p * acs + i];
    } else {
        for (p = 0; p < kc; p++) {
            for (i = 0; i < rows; i++) ap[p * mr + i] = alpha * A[i * ars + p * acs];
            for (; i < mr; i++) ap[p * mr + i] = 0;
        }
    }
}

/* One panel of nr columns: bp[p nr + j] = op(B)[p0 + p, j0 + j], columns >= `cols` zero.
 * op(B)[p, j] = B[p brs + j bcs]. */
static inline void pack_b_panel(NN_T *restrict bp, const NN_T *restrict B, int64_t brs,
                                int64_t bcs, int64_t kc, int64_t cols, const int nr)
{
    int64_t p, j;
    if (cols == nr && bcs == 1) { /* a row of nr contiguous values per p */
        for (p = 0; p < kc; p++)
            for (j = 0; j < nr; j++) bp[p * nr + j] = B[p * brs + j];
    } else if (cols == nr) { /* op(B) columns are B's rows: each read along, in blocks of 8 p
                              * so the writes stay within a few cache lines of the panel */
        for (p = 0; p + 8 <= kc; p += 8)
            for (j = 0; j < nr; j++) {
                const NN_T *src = B + j * bcs + p;
                NN_T *dst = bp + p * nr + j;
                dst[0] = src[0], dst[nr] = src[1], dst[2 * nr] = src[2], dst[3 * nr] = src[3];
                dst[4 * nr] = src[4], dst[5 * nr] = src[5], dst[6 * nr] = src[6];
                dst[7 * nr] = src[7];
            }
        for (; p < kc; p++)
            for (j = 0; j < nr; j++) bp[p * nr + j] = B[j * bcs + p];
    } else {
        for (p = 0; p < kc; p++) {
            for (j = 0; j < cols; j++) bp[p * nr + j] = B[p * brs + j * bcs];
            for (; j < nr; j++) bp[p * nr + j] = 0;
        }
    }
}

/* ap = alpha op(A)[i0 : i0+mc, p0 : p0+kc] as panels of mr rows: the panel of rows
 * ir .. ir+mr-1 starts at ap + ir kc and holds element (i, p) at p mr + (i - ir).
 * op(A)[i, p] = A[i k + p], or A[p m + i] when trans_a (A stored (k, m)).                    */
void NNI_F(pack_a)(const nni_gemm_kernel *kr, NN_T *restrict ap, const NN_T *restrict A,
                   int64_t m, int64_t k, int trans_a, int64_t i0, int64_t p0, int64_t mc,
                   int64_t kc, int mr, NN_T alpha)
{
    const int64_t ars = trans_a ? 1 : k, acs = trans_a ? m : 1;
    int64_t ir;
    for (ir = 0; ir < mc; ir += mr, ap += mr * kc) {
        const int64_t rows = mc - ir < mr ? mc - ir : mr;
        const NN_T *src = A + (i0 + ir) * ars + p0 * acs;
        if (!trans_a && PACK_T_OF(kr)) {
            PACK_T_OF(kr)(ap, src, ars, kc, mr, (int)rows, alpha);
            continue;
        }
        switch (mr) {
        case 4: pack_a_panel(ap, src, ars, acs, kc, rows, 4, alpha); break;
        case 6: pack_a_panel(ap, src, ars, acs, kc, rows, 6, alpha); break;
        case 12: pack_a_panel(ap, src, ars, acs, kc, rows, 12, alpha); break;
        default: pack_a_panel(ap, src, ars, acs, kc, rows, mr, alpha); break;
        }
    }
}

/* bp = op(B)[p0 : p0+kc, j0 : j0+nc] as panels of nr columns: the panel of columns
 * jr .. jr+nr-1 starts at bp + jr kc and holds element (p, j) at p nr + (j - jr).
 * op(B)[p, j] = B[p n + j], or B[j k + p] when trans_b (B stored (n, k)).                    */
void NNI_F(pack_b)(const nni_gemm_kernel *kr, NN_T *restrict bp, const NN_T *restrict B,
                   int64_t n, int64_t k, int trans_b, int64_t p0, int64_t j0, int64_t kc,
                   int64_t nc, int nr)
{
    const int64_t brs = trans_b ? 1 : n, bcs = trans_b ? k : 1;
    int64_t jr;
    for (jr = 0; jr < nc; jr += nr, bp += nr * kc) {
        const int64_t cols = nc - jr < nr ? nc - jr : nr;
        const NN_T *src = B + p0 * brs + (j0 + jr) * bcs;
        if (trans_b && PACK_T_OF(kr)) {
            PACK_T_OF(kr)(bp, src, bcs, kc, nr, (int)cols, 1);
            continue;
        }
        switch (nr) {
        case 4: pack_b_panel(bp, src, brs, bcs, kc, cols, 4); break;
        case 8: pack_b_panel(bp, src, brs, bcs, kc, cols, 8); break;
        case 16: pack_b_panel(bp, src, brs, bcs, kc, cols, 16); break;
        case 32: pack_b_panel(bp, src, brs, bcs, kc, cols, 32); break;
        default: pack_b_panel(bp, src, brs, bcs, kc, cols, nr); break;
        }
    }
}
