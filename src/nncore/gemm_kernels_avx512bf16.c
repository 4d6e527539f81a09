/* The bfloat16 micro-kernel (AVX512_BF16): float32 C from bfloat16 panels, 8 x 48.
 *
 * The panels (gemm_pack.c, NNI_BF16_PAIRS) hold k in pairs: one
 * 32-bit word per lane and pair, op(X)[2q, l] in its low half and op(X)[2q+1, l] in its high
 * half, rounded to bfloat16 (nearest, ties to even). One vdpbf16ps per 16 columns and pair:
 *     c[i][j] = (c[i][j] + a[i][2q+1] b[2q+1][j]) + a[i][2q] b[2q][j]
 * each addition rounded to float32 (the products of two bfloat16 values are exact in float32),
 * subnormal inputs and results flushed to zero by the instruction: twice the terms of a float
 * FMA per instruction (bench/bench_bf16_gemm.py measures what the products gain).
 * Compiled with -mavx512f -mavx512bf16 by CMakeLists.txt; run only where the CPU reports
 * avx512_bf16 (dispatch.c). */
#include "internal.h"

#include <immintrin.h>
#include <string.h>

#define BF16_MR 8
#define BF16_NV 3 /* vectors of 16 float columns: 48 */

/* c (8 x 48, row stride ldc) = beta c + the sums over kc terms (kc / 2 pairs, rounded up)
 * of the packed panels a (8 lanes a pair) and b (48 lanes a pair). */
static void ukr_avx512bf16_8x48(int64_t kc, const float *a_panel, const float *b_panel,
                                float *c, int64_t ldc, float beta)
{
    const uint32_t *a = (const uint32_t *)(const void *)a_panel;
    const uint32_t *b = (const uint32_t *)(const void *)b_panel;
    const int64_t pairs = (kc + 1) / 2;
    __m512 acc[BF16_MR][BF16_NV];
    int64_t q;
    int i, j;
    for (i = 0; i < BF16_MR; i++)
        for (j = 0; j < BF16_NV; j++) acc[i][j] = _mm512_setzero_ps();
    for (q = 0; q < pairs; q++, a += BF16_MR, b += 16 * BF16_NV) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 16);
        const __m512bh b2 = (__m512bh)_mm512_loadu_si512(b + 32);
        for (i = 0; i < BF16_MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], ai, b2);
        }
    }
    for (i = 0; i < BF16_MR; i++)
        for (j = 0; j < BF16_NV; j++) {
            float *ci = c + i * ldc + 16 * j;
            __m512 v = acc[i][j];
            if (beta != 0) v = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(beta),
                                                           _mm512_loadu_ps(ci)), v);
            _mm512_storeu_ps(ci, v);
        }
}

/* The packing of NNI_BF16_PAIRS panels (nni_pack_bf16's contract, gemm_pack.c), with the
 * conversion instructions (vcvtneps2bf16: nearest, ties to even; a NaN stays a NaN; the
 * scalar nni_bf16_bits's results, bit for bit). With the scalar loop a 256 x 2048 x 2048
 * product ran at 0.94x the float one, one thread (bench_gemm_configs -o 16 -b 3 ... kernel
 * bf16, load ~1: indicative): B's 4 M elements converted one at a time.
 * ls == 1 (a panel's lanes side by side: op(B) = B, op(A) = A^T): rows p and p + 1 of the
 * block, 16 lanes at a time, converted and interleaved (p in the low halves).
 * ks == 1 (each lane's terms side by side: op(A) = A, op(B) = B^T): 32 terms of a lane,
 * converted in order, are the lane's words for 16 pairs. */
static __mmask16 lane_mask(int64_t lanes)
{
    return lanes >= 16 ? (__mmask16)0xffff : lanes <= 0 ? 0 : (__mmask16)((1u << lanes) - 1u);
}

void nni_pack_bf16_pairs_avx512(float *restrict dst, const float *restrict src, int64_t ks,
                                int64_t ls, int64_t kc, int64_t lanes, int w, float scale)
{
    const __m512 sv = _mm512_set1_ps(scale);
    int64_t q, p, l, r;
    for (q = 0; q < lanes; q += w, dst += w * ((kc + 1) / 2)) {
        const int64_t n = lanes - q < w ? lanes - q : w;
        const float *s = src + q * ls;
        uint32_t *d = (uint32_t *)(void *)dst;
        if (ls == 1) {
            for (p = 0; p < kc; p += 2, d += w) {
                const float *s0 = s + p * ks, *s1 = s + (p + 1) * ks;
                const int odd_end = p + 1 >= kc;
                for (l = 0; l < w; l += 16) {
                    /* the lanes read (n of the panel's w are the block's) and written */
                    const __mmask16 m = lane_mask(n - l), wm = lane_mask(w - l);
                    const __m512 x0 = _mm512_mul_ps(sv, _mm512_maskz_loadu_ps(m, s0 + l));
                    const __m512 x1 = odd_end ? _mm512_setzero_ps()
                                              : _mm512_mul_ps(sv, _mm512_maskz_loadu_ps(m, s1 + l));
                    const __m512i lo =
                        _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x0));
                    const __m512i hi =
                        _mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x1)),
                                          16);
                    _mm512_mask_storeu_epi32(d + l, wm, _mm512_or_si512(lo, hi));
                }
            }
        } else {
            for (l = 0; l < w; l++) {
                const float *sl = s + l * ls;
                uint32_t *dl = d + l;
                if (l >= n) {
                    for (r = 0; r < (kc + 1) / 2; r++) dl[r * w] = 0;
                    continue;
                }
                for (p = 0; p + 32 <= kc; p += 32) {
                    NNI_ALIGN64 uint32_t words[16];
                    const __m512bh v =
                        _mm512_cvtne2ps_pbh(_mm512_mul_ps(sv, _mm512_loadu_ps(sl + p + 16)),
                                            _mm512_mul_ps(sv, _mm512_loadu_ps(sl + p)));
                    _mm512_store_si512(words, (__m512i)v);
                    for (r = 0; r < 16; r++) dl[(p / 2 + r) * w] = words[r];
                }
                for (; p < kc; p += 2) /* the last terms, the scalar rounding's same bits */
                    dl[(p / 2) * w] = nni_bf16_bits(scale * sl[p]) |
                                      (p + 1 < kc ? nni_bf16_bits(scale * sl[p + 1]) : 0) << 16;
            }
        }
    }
}

/* Only the packed kernel: A and B are always packed (to bfloat16), C is never narrow-pathed,
 * edge tiles go through the full kernel and a buffer (gemm.c). */
const nni_gemm_kernel nni_kernel_avx512bf16 = {
    .name = "avx512bf16",
    .label_f32 = "avx512bf16 8x48",
    .label_f64 = "",
    .mr_f32 = BF16_MR,
    .nr_f32 = 16 * BF16_NV,
    .ukr_f32 = ukr_avx512bf16_8x48,
    .vl_f32 = 16,
};
