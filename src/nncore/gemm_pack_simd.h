/* The transposing panel packer, written once for every SIMD instruction set (gemm_pack.c
 * calls it through the kernel table). Included by gemm_pack_<isa>.c after defining (no
 * include guard on purpose):
 *   PACK_T_NAME         the function's name (type nni_pack_t_f32 / _f64, gemm_kernels.h)
 *   PACK_T, PACK_V      the element type and its vector type; PACK_VL lanes per vector
 *   PACK_MASK_T, PACK_MASK(n)   a mask type and the mask of the first n lanes
 *   PACK_LOAD(p) PACK_STORE(p, v)      unaligned load and store
 *   PACK_MASK_LOAD(p, mk)              load of the masked lanes, the others 0
 *   PACK_MASK_STORE(p, mk, v)          store of the masked lanes only
 *   PACK_ZERO() PACK_MUL(a, b) PACK_BCAST(x)
 *   PACK_TRANSPOSE(r)   r[0 .. PACK_VL-1] transposed in registers: r[c][i] = old r[i][c]
 *
 * dst[p w + j] = alpha src[j ld + p] for j < rows, 0 for rows <= j < w, p < kc: the panel of
 * w lanes, p outer, that the micro-kernels read, from rows of a row-major matrix read along.
 * Square blocks of PACK_VL rows x PACK_VL p: the rows loaded (masked past kc), transposed,
 * stored as PACK_VL consecutive p of the panel (masked past w). The multiply by alpha is the
 * portable loop's, so the panel is the same bit for bit (but for the sign of the zero padding
 * when alpha < 0: padding only ever meets padding, never a result). */
#if defined(__clang__)
#define PACK_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define PACK_UNROLL _Pragma("GCC unroll 16")
#else
#define PACK_UNROLL
#endif

/* Every loop over r has constant bounds and unrolls, so r lives in registers; edges are
 * masked lanes or zero rows, not shorter loops. */
void PACK_T_NAME(PACK_T *restrict dst, const PACK_T *restrict src, int64_t ld, int64_t kc,
                 int w, int rows, PACK_T alpha)
{
    PACK_V r[PACK_VL];
    const PACK_V va = PACK_BCAST(alpha);
    int64_t p0;
    int j0, i;
    for (j0 = 0; j0 < w; j0 += PACK_VL) {
        const int jn = w - j0 < PACK_VL ? w - j0 : PACK_VL;            /* lanes stored */
        const int jr = rows - j0 < 0 ? 0 : rows - j0 < jn ? rows - j0 : jn; /* rows read */
        const PACK_MASK_T jmask = PACK_MASK(jn);
        const PACK_T *s = src + (int64_t)j0 * ld;
        for (p0 = 0; p0 < kc; p0 += PACK_VL) {
            const int pn = kc - p0 < PACK_VL ? (int)(kc - p0) : PACK_VL;
            PACK_T *d = dst + p0 * w + j0;
            if (pn == PACK_VL && jr == PACK_VL) {
                PACK_UNROLL
                for (i = 0; i < PACK_VL; i++) r[i] = PACK_LOAD(s + i * ld + p0);
            } else if (pn == PACK_VL) {
                PACK_UNROLL
                for (i = 0; i < PACK_VL; i++)
                    r[i] = i < jr ? PACK_LOAD(s + i * ld + p0) : PACK_ZERO();
            } else {
                const PACK_MASK_T pmask = PACK_MASK(pn);
                PACK_UNROLL
                for (i = 0; i < PACK_VL; i++)
                    r[i] = i < jr ? PACK_MASK_LOAD(s + i * ld + p0, pmask) : PACK_ZERO();
            }
            if (alpha != 1) {
                PACK_UNROLL
                for (i = 0; i < PACK_VL; i++) r[i] = PACK_MUL(va, r[i]);
            }
            PACK_TRANSPOSE(r);
            if (pn == PACK_VL && jn == PACK_VL) {
                PACK_UNROLL
                for (i = 0; i < PACK_VL; i++) PACK_STORE(d + i * w, r[i]);
            } else {
                PACK_UNROLL
                for (i = 0; i < PACK_VL; i++)
                    if (i < pn) PACK_MASK_STORE(d + i * w, jmask, r[i]);
            }
        }
    }
}

#undef PACK_UNROLL
#undef PACK_T_NAME
#undef PACK_T
#undef PACK_V
#undef PACK_VL
#undef PACK_MASK_T
#undef PACK_MASK
#undef PACK_LOAD
#undef PACK_MASK_LOAD
#undef PACK_STORE
#undef PACK_MASK_STORE
#undef PACK_ZERO
#undef PACK_MUL
#undef PACK_BCAST
#undef PACK_TRANSPOSE
