/* The bfloat16 micro-kernel on AMX tiles (AMX-BF16): float32 C from bfloat16 panels, 32 x 32.
 *
 * A tile register holds 16 rows of 64 bytes. tdpbf16ps C, A, B multiplies a 16 x 16 tile of
 * A's words (each a pair of terms, two bfloat16 values) by a 16 x 16 tile of B's (row r: the
 * pairs r of 16 columns) into C's 16 x 16 floats: c[i][j] += the 32 products
 * a[i][p] b[p][j] of a block of 32 terms, each exact in float32. Intel documents the sum as
 * pair after pair, each addition rounded to float32 (nearest, ties to even), subnormal
 * operands and results flushed to zero; probed on the AMX machine (Emerald Rapids) the
 * instruction sums a block's products first and adds them to c after (c = 1 plus two
 * products of 2^-24 in different pairs gives 1 + 2^-23, not 1), with roundings inside the
 * block (1 + 2^-30 - 1 over three pairs gives 0) but a pair's two products kept together
 * (1 + 2^-30 in one pair, -1 in the next, gives 2^-30). So the order is the hardware's: the
 * tests hold the results within a k-term float sum's bound of the exact one, and the same for
 * any thread count; the bits may differ between AMX generations.
 * The tile: C 32 x 32 in four tile registers (0-3), two of A's rows (4, 5), two of B's
 * columns (6, 7); each 32 terms load four tiles and run four products.
 *
 * Panels (gemm.c: NNI_BF16_TILES), pk = (kc + 1) / 2 pairs rounded up to 16 words a lane:
 * - A: 32 rows of C a panel; each block of 16 pairs is 32 rows of 16 words, row i's words
 *   side by side (a tile of rows 0-15, then one of rows 16-31): word (q, i) at
 *   (q / 16) 512 + 16 i + q % 16 (nni_pack_bf16_tiles below);
 * - B: the pairs' panels (nni_pack_bf16_pairs) 32 lanes wide: word (q, j) at 32 q + j, a tile
 *   16 of those rows, 128 bytes apart.
 * Pairs past kc and lanes past the operand's edge are zero: they add +0 to every sum.
 * Compiled with -mamx-tile -mamx-bf16 -mavx512f -mavx512bw -mavx512bf16 (CMakeLists.txt); run
 * only where the CPU reports AMX-BF16 and the OS grants the tile state (dispatch.c). */
#include "internal.h"

#include <immintrin.h>

#include "transpose_avx512.h"

#define AMX_MR 32
#define AMX_NR 32
#define AMX_BLOCK_PAIRS 16 /* pairs of terms a tile row holds: 64 bytes */

/* ldtilecfg's operand: palette 1, every tile 16 rows of 64 bytes */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_tile_config;

static const amx_tile_config g_tile_config = {
    1, 0, {0}, {64, 64, 64, 64, 64, 64, 64, 64}, {16, 16, 16, 16, 16, 16, 16, 16}};

/* c (32 x 32, row stride ldc) = beta c + the sums over kc terms of the panels a and b.
 * beta 0: the sums from 0, stored straight into c. beta 1 (a k block after the first): the
 * sums continue from c, loaded into the tiles -- not from 0 and then added, as the other
 * sets' kernels do: a different rounding, and still the same for any thread count (the k
 * blocks are the shape's). Storing the tiles to a buffer and adding it to c with vector
 * loads halved the kernel's speed (256 x 2048 x 2048, one thread: 294 against 597 GFLOP/s,
 * bench_gemm_configs at load ~1, indicative): the vector loads waited on the tile stores.
 * Other betas take that way. The tiles are configured by amx_begin, below. */
static void ukr_amx_32x32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                          float beta)
{
    const int64_t blocks = ((kc + 1) / 2 + AMX_BLOCK_PAIRS - 1) / AMX_BLOCK_PAIRS;
    const char *ap = (const char *)a, *bp = (const char *)b;
    int64_t q;
    const int64_t ldb = ldc * (int64_t)sizeof(float);
    if (beta == 1) { /* the sums continue from c */
        _tile_loadd(0, c, ldb);
        _tile_loadd(1, c + 16, ldb);
        _tile_loadd(2, c + 16 * ldc, ldb);
        _tile_loadd(3, c + 16 * ldc + 16, ldb);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (q = 0; q < blocks; q++, ap += AMX_MR * 64, bp += AMX_BLOCK_PAIRS * AMX_NR * 4) {
        _tile_loadd(4, ap, 64);
        _tile_loadd(6, bp, AMX_NR * 4);
        _tile_loadd(5, ap + 16 * 64, 64);
        _tile_loadd(7, bp + 64, AMX_NR * 4);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    if (beta == 0 || beta == 1) {
        _tile_stored(0, c, ldb);
        _tile_stored(1, c + 16, ldb);
        _tile_stored(2, c + 16 * ldc, ldb);
        _tile_stored(3, c + 16 * ldc + 16, ldb);
    } else { /* the sums from 0, then beta c + sums, as every kernel (nni_ukr_f32) */
        NNI_ALIGN64 float t[4][256];
        const __m512 bv = _mm512_set1_ps(beta);
        int i, h;
        _tile_stored(0, t[0], 64);
        _tile_stored(1, t[1], 64);
        _tile_stored(2, t[2], 64);
        _tile_stored(3, t[3], 64);
        for (i = 0; i < AMX_MR; i++)
            for (h = 0; h < 2; h++) {
                float *ci = c + i * ldc + 16 * h;
                const __m512 s = _mm512_load_ps(t[(i / 16) * 2 + h] + (i % 16) * 16);
                const __m512 old = _mm512_loadu_ps(ci);
                _mm512_storeu_ps(ci, beta == 1 ? _mm512_add_ps(old, s)
                                               : _mm512_add_ps(_mm512_mul_ps(bv, old), s));
            }
    }
}

/* The set's begin (gemm_macro_kernel, before a block's kernels): the tile configuration,
 * once a block rather than once a kernel call. A block is one thread's run of kernels with
 * nothing else between them, so no other library's tiles (PyTorch's, in the same process)
 * can change it meanwhile. ldtilecfg waits for every tile instruction before it: once a
 * call, 20 % of the kernel's perf samples sat just after it (W4 bfloat16 fit, 2 threads).
 * Paired in one process (indicative: the VM in a slow phase), once a block against once a
 * call, time ratios (medians of 11, quartiles): 256 x 2048 x 2048 1.14x (1.10-1.15) on one
 * thread, 1.10x (1.08-1.14) on two; 2048 x 2048 x 256 (A^T B) 1.46x (1.45-1.50) and 1.42x
 * (1.40-1.47); with B^T 1.13x and 1.12x. */
static void amx_begin(void) { _tile_loadconfig(&g_tile_config); }

static __mmask16 lane_mask(int64_t lanes)
{
    return lanes >= 16 ? (__mmask16)0xffff : lanes <= 0 ? 0 : (__mmask16)((1u << lanes) - 1u);
}

/* A's panels for the tiles (the layout above) from the block whose element (p, l) is
 * src[p ks + l ls] (p < kc, l < lanes), scaled, rounded to bfloat16 (nearest, ties to even;
 * vcvtne2ps2bf16, nni_bf16_bits's bits but for subnormals, taken as zero), 32 lanes a panel,
 * (kc + 1) / 2 pairs rounded up to 16 words a lane; lanes past `lanes` and pairs past kc
 * zero.
 * ls == 1 (lanes side by side: op(A) = A^T, W's gradient A^T delta): rows p and p + 1 of 16
 * lanes interleaved into words (pair r of the 16), 16 pairs transposed in registers into the
 * 16 lanes' rows of the tile.
 * ks == 1 (a lane's terms side by side: op(A) = A, a layer's X W): a lane's 32 terms
 * converted in order are its row of the block's tile. */
void nni_pack_bf16_tiles(float *restrict dst, const float *restrict src, int64_t ks,
                         int64_t ls, int64_t kc, int64_t lanes, float scale)
{
    const __m512 sv = _mm512_set1_ps(scale);
    const int64_t pairs = (kc + 1) / 2;
    const int64_t blocks = (pairs + AMX_BLOCK_PAIRS - 1) / AMX_BLOCK_PAIRS;
    int64_t q, blk, p;
    int i, l;
    for (q = 0; q < lanes; q += AMX_MR, dst += AMX_MR * blocks * AMX_BLOCK_PAIRS) {
        const int64_t n = lanes - q < AMX_MR ? lanes - q : AMX_MR;
        uint32_t *d = (uint32_t *)(void *)dst;
        if (ls == 1) {
            /* word r of a lane pair: 16-bit elements r (row p) and 16 + r (row p + 1) */
            const __m512i interleave = _mm512_set_epi16(
                31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21,
                5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
            for (blk = 0; blk < blocks; blk++)
                for (l = 0; l < AMX_MR; l += 16) {
                    const __mmask16 m = lane_mask(n - l);
                    __m512 r[16];
                    for (i = 0; i < 16; i++) {
                        p = blk * 2 * AMX_BLOCK_PAIRS + 2 * i;
                        if (p < kc && m) {
                            const float *s0 = src + p * ks + q + l;
                            const __m512 x0 =
                                _mm512_maskz_mul_ps(m, sv, _mm512_maskz_loadu_ps(m, s0));
                            const __m512 x1 =
                                p + 1 < kc
                                    ? _mm512_maskz_mul_ps(m, sv, _mm512_maskz_loadu_ps(m, s0 + ks))
                                    : _mm512_setzero_ps();
                            r[i] = _mm512_castsi512_ps(_mm512_permutexvar_epi16(
                                interleave, (__m512i)_mm512_cvtne2ps_pbh(x1, x0)));
                        } else {
                            r[i] = _mm512_setzero_ps();
                        }
                    }
                    nni_transpose16_f32(r); /* r[i]: lane l + i's 16 pairs */
                    for (i = 0; i < 16; i++)
                        _mm512_storeu_ps((float *)(void *)(d + blk * AMX_MR * 16 + (l + i) * 16),
                                         r[i]);
                }
        } else {
            for (i = 0; i < AMX_MR; i++) {
                const float *s = src + (q + i) * ls;
                for (blk = 0; blk < blocks; blk++) {
                    uint32_t *di = d + blk * AMX_MR * 16 + i * 16;
                    p = blk * 2 * AMX_BLOCK_PAIRS;
                    if (i < n && p < kc) {
                        const int64_t pn = kc - p < 32 ? kc - p : 32;
                        const __mmask16 m0 = lane_mask(pn), m1 = lane_mask(pn - 16);
                        const __m512 x0 =
                            _mm512_maskz_mul_ps(m0, sv, _mm512_maskz_loadu_ps(m0, s + p * ks));
                        const __m512 x1 = _mm512_maskz_mul_ps(
                            m1, sv, _mm512_maskz_loadu_ps(m1, s + p * ks + 16));
                        _mm512_storeu_si512(di, (__m512i)_mm512_cvtne2ps_pbh(x1, x0));
                    } else {
                        _mm512_storeu_si512(di, _mm512_setzero_si512());
                    }
                }
            }
        }
    }
}

/* The tiles' set: A and B always packed (gemm.c), no edge kernels (a partial tile goes
 * through gemm_blocked.c's tile buffer); products of fewer than NNI_BF16_TILES_MIN_K terms, for
 * which a tile's 32 would be mostly padding, take the float kernels on rounded operands. */
const nni_gemm_kernel nni_kernel_amx = {
    .name = "amx",
    .label_f32 = "amx-bf16 32x32",
    .label_f64 = "",
    .mr_f32 = AMX_MR,
    .nr_f32 = AMX_NR,
    .ukr_f32 = ukr_amx_32x32,
    .bf16_layout = NNI_BF16_TILES,
    .begin = amx_begin,
};
