/* AVX2 packing of the float panels that read across rows (gemm_pack.c): the rows of A for
 * op(A) = A, the rows of B for op(B) = B^T, in 8 x 8 blocks transposed in registers
 * (gemm_pack_simd.h); edges under maskload / maskstore. Only data moves (and alpha
 * multiplies, as in the portable loop): the panels are the portable ones.
 * Doubles keep the portable loop: callgrind counts 6 % more instructions for 4 x 4 blocks than
 * for the scalar copy (64 x 256 x 128 with op(B) = B^T), four lanes move too little per shuffle.
 * Compiled with -mavx2 -mfma (/arch:AVX2) by CMakeLists.txt; run only when the CPU reports
 * avx2, through the kernel table (dispatch.c). */
#include "internal.h"

#include <immintrin.h>

/* The first n lanes' mask: 8 - n entries into this table. */
static const int32_t g_mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* r[0..7] (8 floats each) into columns: unpack pairs rows, shuffle_ps makes 4 x 4 blocks in
 * each 128-bit half, permute2f128 joins the halves of column c and c + 4. */
static inline void transpose8_f32(__m256 r[8])
{
    __m256 t[8];
    int i;
    for (i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (i = 0; i < 8; i += 4) { /* r[i + c]: columns c and c + 4 of rows i .. i+3 */
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (i = 0; i < 4; i++) {
        t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
        t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
    for (i = 0; i < 8; i++) r[i] = t[i];
}

#define PACK_T_NAME nni_pack_t_avx2_f32
#define PACK_T float
#define PACK_V __m256
#define PACK_VL 8
#define PACK_MASK_T __m256i
#define PACK_MASK(n) _mm256_loadu_si256((const __m256i *)(g_mask32 + 8 - (n)))
#define PACK_LOAD(p) _mm256_loadu_ps(p)
#define PACK_MASK_LOAD(p, mk) _mm256_maskload_ps(p, mk)
#define PACK_STORE(p, v) _mm256_storeu_ps(p, v)
#define PACK_MASK_STORE(p, mk, v) _mm256_maskstore_ps(p, mk, v)
#define PACK_ZERO() _mm256_setzero_ps()
#define PACK_MUL(a, b) _mm256_mul_ps(a, b)
#define PACK_BCAST(x) _mm256_set1_ps(x)
#define PACK_TRANSPOSE(r) transpose8_f32(r)
#include "gemm_pack_simd.h"
