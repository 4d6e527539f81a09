/* AVX-512F packing of the panels that read across rows (gemm_pack.c): the rows of A for
 * op(A) = A, the rows of B for op(B) = B^T. Each 16 x 16 (float) or 8 x 8 (double) block is
 * loaded along the rows, transposed in registers and stored as 16 (8) consecutive p of the
 * panel; edges are loaded and stored under masks. Only data moves (and alpha multiplies, as
 * in the portable loop), so the panels are bit for bit the portable packing's.
 * Compiled with -mavx512f (/arch:AVX512) by CMakeLists.txt; run only when the CPU reports
 * avx512f, through the kernel table (dispatch.c). */
#include "internal.h"

#include <immintrin.h>

#include "transpose_avx512.h"

/* The same for 8 x 8 doubles: unpack pairs rows, then two rounds of 128-bit lane moves. */
static inline void transpose8_f64(__m512d r[8])
{
    __m512d t[8];
    int i;
    for (i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    for (i = 0; i < 8; i += 4) { /* r[i + c]: columns c, c + 4 (c even), c + 2, c + 6 ...  */
        r[i] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0x88);     /* columns 0, 4 */
        r[i + 1] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0xdd); /* 2, 6 */
        r[i + 2] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0x88); /* 1, 5 */
        r[i + 3] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0xdd); /* 3, 7 */
    }
    t[0] = _mm512_shuffle_f64x2(r[0], r[4], 0x88);
    t[4] = _mm512_shuffle_f64x2(r[0], r[4], 0xdd);
    t[2] = _mm512_shuffle_f64x2(r[1], r[5], 0x88);
    t[6] = _mm512_shuffle_f64x2(r[1], r[5], 0xdd);
    t[1] = _mm512_shuffle_f64x2(r[2], r[6], 0x88);
    t[5] = _mm512_shuffle_f64x2(r[2], r[6], 0xdd);
    t[3] = _mm512_shuffle_f64x2(r[3], r[7], 0x88);
    t[7] = _mm512_shuffle_f64x2(r[3], r[7], 0xdd);
    for (i = 0; i < 8; i++) r[i] = t[i];
}

#define PACK_T_NAME nni_pack_t_avx512_f32
#define PACK_T float
#define PACK_V __m512
#define PACK_VL 16
#define PACK_MASK_T __mmask16
#define PACK_MASK(n) ((__mmask16)((1u << (n)) - 1u))
#define PACK_LOAD(p) _mm512_loadu_ps(p)
#define PACK_MASK_LOAD(p, mk) _mm512_maskz_loadu_ps(mk, p)
#define PACK_STORE(p, v) _mm512_storeu_ps(p, v)
#define PACK_MASK_STORE(p, mk, v) _mm512_mask_storeu_ps(p, mk, v)
#define PACK_ZERO() _mm512_setzero_ps()
#define PACK_MUL(a, b) _mm512_mul_ps(a, b)
#define PACK_BCAST(x) _mm512_set1_ps(x)
#define PACK_TRANSPOSE(r) nni_transpose16_f32(r)
#include "gemm_pack_simd.h"

#define PACK_T_NAME nni_pack_t_avx512_f64
#define PACK_T double
#define PACK_V __m512d
#define PACK_VL 8
#define PACK_MASK_T __mmask8
#define PACK_MASK(n) ((__mmask8)((1u << (n)) - 1u))
#define PACK_LOAD(p) _mm512_loadu_pd(p)
#define PACK_MASK_LOAD(p, mk) _mm512_maskz_loadu_pd(mk, p)
#define PACK_STORE(p, v) _mm512_storeu_pd(p, v)
#define PACK_MASK_STORE(p, mk, v) _mm512_mask_storeu_pd(p, mk, v)
#define PACK_ZERO() _mm512_setzero_pd()
#define PACK_MUL(a, b) _mm512_mul_pd(a, b)
#define PACK_BCAST(x) _mm512_set1_pd(x)
#define PACK_TRANSPOSE(r) transpose8_f64(r)
#include "gemm_pack_simd.h"
