/* The bfloat16 micro-kernel (AVX512_BF16): float32 C from bfloat16 panels, 8 x 48.
 *
 * The panels (gemm_pack.c, NNI_BF16_PAIRS) hold k in pairs: one
 * 32-bit word per lane and pair, op(X)[2q, l] in its low half and op(X)[2q+1, l] in its high
 * half, rounded to bfloat16 (nearest, ties to even). One vdpbf16ps per 16 columns and pair:
 *     c[i][j] = (c[i][j] + a[i][2q+1] b[2q+1][j]) + a[i][2q] b[2q][j]
 * each addition rounded to float32 (the products of two bfloat16 values are exact in float32),
 * subnormal inputs and results flushed to zero by the instruction: twice the terms of a float
 * FMA per instruction (bench/bench_bf16_gemm.py measures what the products gain).
 * Compiled with -mavx512f -mavx512bw -mavx512bf16 by CMakeLists.txt; run only where the CPU
 * reports avx512bw and avx512_bf16 (dispatch.c). */
#include "internal.h"

#include <immintrin.h>
#include <string.h>

#include "transpose_avx512.h"

#define BF16_MR 8
#define BF16_NV 3 /* vectors of 16 float columns: 48 */

/* c (8 x 16 nv, row stride ldc) = beta c + the sums over kc terms (kc / 2 pairs, rounded
 * up) of the packed panels a (8 lanes a pair) and the first nv vectors of b (48 lanes a
 * pair): nv = 3 the full kernel, 1 and 2 the edge kernels of a last panel of 16 or 32 of C's
 * columns (W3's 256 = 5 x 48 + 16), the same sums. */
__attribute__((always_inline)) static inline void
ukr_bf16(int nv, int64_t kc, const float *a_panel, const float *b_panel, float *c,
         int64_t ldc, float beta)
{
    const uint32_t *a = (const uint32_t *)(const void *)a_panel;
    const uint32_t *b = (const uint32_t *)(const void *)b_panel;
    const int64_t pairs = (kc + 1) / 2;
    __m512 acc[BF16_MR][BF16_NV];
    int64_t q;
    int i, j;
    for (i = 0; i < BF16_MR; i++)
        for (j = 0; j < nv; j++) acc[i][j] = _mm512_setzero_ps();
    for (q = 0; q < pairs; q++, a += BF16_MR, b += 16 * BF16_NV) {
        __m512bh bv[BF16_NV];
        for (j = 0; j < nv; j++) bv[j] = (__m512bh)_mm512_loadu_si512(b + 16 * j);
        for (i = 0; i < BF16_MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);
            for (j = 0; j < nv; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], ai, bv[j]);
        }
    }
    for (i = 0; i < BF16_MR; i++)
        for (j = 0; j < nv; j++) {
            float *ci = c + i * ldc + 16 * j;
            __m512 v = acc[i][j];
            if (beta != 0) v = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(beta),
                                                           _mm512_loadu_ps(ci)), v);
            _mm512_storeu_ps(ci, v);
        }
}

static void ukr_avx512bf16_8x48(int64_t kc, const float *a, const float *b, float *c,
                                int64_t ldc, float beta)
{
    ukr_bf16(3, kc, a, b, c, ldc, beta);
}

static void ukr_avx512bf16_8x16(int64_t kc, const float *a, const float *b, float *c,
                                int64_t ldc, float beta)
{
    ukr_bf16(1, kc, a, b, c, ldc, beta);
}

static void ukr_avx512bf16_8x32(int64_t kc, const float *a, const float *b, float *c,
                                int64_t ldc, float beta)
{
    ukr_bf16(2, kc, a, b, c, ldc, beta);
}

/* The packing of NNI_BF16_PAIRS panels (nni_pack_bf16_pairs' contract, gemm_pack.c), with the
 * conversion instructions (vcvtneps2bf16: nearest, ties to even; a NaN stays a NaN; the
 * scalar nni_bf16_bits's results, bit for bit). With the scalar loop a 256 x 2048 x 2048
 * product ran at 0.94x the float one, one thread (bench_gemm_configs -o 16 -b 3 ... kernel
 * bf16, load ~1: indicative): B's 4 M elements converted one at a time.
 * ls == 1 (a panel's lanes side by side: op(B) = B, op(A) = A^T): rows p and p + 1 of the
 * block, 16 lanes at a time, converted together and interleaved by one word permute (p in
 * the low halves); the rows 8 ahead requested into L2 as the float packing does
 * (nni_pack_rows_ahead): W's rows, 8 KiB apart in W4, had each waited for memory. W4's
 * bfloat16 fits 1.06x faster, W3's 1.036x (2 threads, Zen 5 KVM guest, fresh processes of
 * the two builds alternated, medians of 9 pairs' ratios; perf: this packing from 13 % of the
 * samples to 7.5 %).
 * ks == 1 (each lane's terms side by side: op(A) = A, op(B) = B^T): 32 terms of a lane,
 * converted in order, are the lane's words for 16 pairs; 16 lanes' words are transposed in
 * registers and stored 16 lanes at a time (pack_pairs_across). */
static __mmask16 lane_mask(int64_t lanes)
{
    return lanes >= 16 ? (__mmask16)0xffff : lanes <= 0 ? 0 : (__mmask16)((1u << lanes) - 1u);
}

/* ks == 1: lanes l .. l+15 (those < n read, those < w written) by terms p .. p+31: each
 * lane's 32 terms converted in order are its words for 16 pairs (cvtne2ps_pbh: term p + 2r
 * in word r's low half), 16 lanes of 16 words transposed in registers, then stored as 16
 * pairs of the panel, 16 lanes each. Terms past kc and lanes past n are +0 (masked multiply:
 * the scalar packing's padding, bit for bit). */
static inline void pack_pairs_across(uint32_t *d, const float *s, int64_t ls, int64_t kc,
                                     int64_t n, int w, int64_t l, int64_t p, __m512 sv)
{
    const int64_t pn = kc - p < 32 ? kc - p : 32;
    const __mmask16 m0 = lane_mask(pn), m1 = lane_mask(pn - 16), wm = lane_mask(w - l);
    __m512 r[16];
    int i;
    for (i = 0; i < 16; i++) {
        if (l + i < n) {
            const float *sl = s + (l + i) * ls + p;
            const __m512 x0 = _mm512_maskz_mul_ps(m0, sv, _mm512_maskz_loadu_ps(m0, sl));
            const __m512 x1 = _mm512_maskz_mul_ps(m1, sv, _mm512_maskz_loadu_ps(m1, sl + 16));
            r[i] = _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(x1, x0));
        } else {
            r[i] = _mm512_setzero_ps();
        }
    }
    nni_transpose16_f32(r);
    for (i = 0; i < 16 && 2 * i < pn; i++)
        _mm512_mask_storeu_epi32(d + (p / 2 + i) * w + l, wm, _mm512_castps_si512(r[i]));
}

void nni_pack_bf16_pairs_avx512(float *restrict dst, const float *restrict src, int64_t ks,
                                int64_t ls, int64_t kc, int64_t lanes, int w, int64_t pk,
                                float scale)
{
    const __m512 sv = _mm512_set1_ps(scale);
    const int64_t panel_words = w * pk, pairs = (kc + 1) / 2;
    int64_t q, p, l;
    /* the rows past the pairs (AMX's blocks of 16) zero, panel by panel */
    if (pk > pairs)
        for (q = 0; q < lanes; q += w)
            memset((uint32_t *)(void *)dst + (q / w) * panel_words + pairs * w, 0,
                   sizeof(uint32_t) * (size_t)(w * (pk - pairs)));
    if (ls == 1) {
        /* word r of a lane pair: 16-bit elements r (row p) and 16 + r (row p + 1) */
        const __m512i interleave = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5,
            20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        /* p outer: rows p and p + 1 read along, across every panel (a W of 2048 columns:
         * each row in its own page, read once rather than once a panel) */
        const int64_t ahead = nni_pack_rows_ahead(ks * (int64_t)sizeof *src,
                                                  lanes * (int64_t)sizeof *src, kc);
        for (p = 0; p < kc; p += 2) {
            const float *s0 = src + p * ks, *s1 = s0 + ks;
            const int odd_end = p + 1 >= kc;
            uint32_t *d = (uint32_t *)(void *)dst + (p / 2) * w;
            /* rows p + ahead and p + ahead + 1 into L2 (nni_pack_rows_ahead) */
            if (p + ahead + 1 < kc) {
                nni_prefetch_l2(s0 + ahead * ks, (size_t)lanes * sizeof *src);
                nni_prefetch_l2(s1 + ahead * ks, (size_t)lanes * sizeof *src);
            }
            for (q = 0; q < lanes; q += w, d += panel_words) {
                for (l = 0; l < w; l += 16) {
                    /* the lanes read (those of the block) and written (the panel's w) */
                    const __mmask16 m = lane_mask(lanes - q - l), wm = lane_mask(w - l);
                    const __m512 x0 =
                        _mm512_maskz_mul_ps(m, sv, _mm512_maskz_loadu_ps(m, s0 + q + l));
                    const __m512 x1 = odd_end ? _mm512_setzero_ps()
                                              : _mm512_maskz_mul_ps(
                                                    m, sv, _mm512_maskz_loadu_ps(m, s1 + q + l));
                    /* row p's 16 values, then row p + 1's, interleaved into words */
                    const __m512i v = _mm512_permutexvar_epi16(
                        interleave, (__m512i)_mm512_cvtne2ps_pbh(x1, x0));
                    _mm512_mask_storeu_epi32(d + l, wm, v);
                }
            }
        }
        return;
    }
    for (q = 0; q < lanes; q += w, dst += panel_words) {
        const int64_t n = lanes - q < w ? lanes - q : w;
        for (l = 0; l < w; l += 16)
            for (p = 0; p < kc; p += 32)
                pack_pairs_across((uint32_t *)(void *)dst, src + q * ls, ls, kc, n, w, l, p, sv);
    }
}

/* The packed kernels only: A and B are always packed (to bfloat16), C is never
 * narrow-pathed; a last panel of 16 or 32 columns takes an edge kernel (gemm.c). */
const nni_gemm_kernel nni_kernel_avx512bf16 = {
    .name = "avx512bf16",
    .label_f32 = "avx512bf16 8x48",
    .label_f64 = "",
    .mr_f32 = BF16_MR,
    .nr_f32 = 16 * BF16_NV,
    .ukr_f32 = ukr_avx512bf16_8x48,
    .vl_f32 = 16,
    .edge_f32 = {ukr_avx512bf16_8x16, ukr_avx512bf16_8x32},
    .bf16_layout = NNI_BF16_PAIRS,
};
