/* The 16 x 16 float transpose in AVX-512 registers, shared by the packers that read across
 * rows (gemm_pack_avx512.c, and the bfloat16 packing of gemm_kernels_avx512bf16.c on 32-bit
 * words). Included only by files compiled with -mavx512f. */
#ifndef NN_TRANSPOSE_AVX512_H
#define NN_TRANSPOSE_AVX512_H
#include <immintrin.h>

/* Rows r[0..15] (16 floats each) into columns: afterwards r[c][i] = the old r[i][c].
 * unpack pairs rows, shuffle_ps makes 4 x 4 blocks in each 128-bit lane, shuffle_f32x4
 * twice moves the lanes so that column c gathers its 4 blocks of 4 rows. */
static inline void nni_transpose16_f32(__m512 r[16])
{
    __m512 t[16];
    int i;
    for (i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (i = 0; i < 16; i += 4) { /* r[i + c]: columns c, c + 4, c + 8, c + 12 of rows i..i+3 */
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

#endif
