/* nn_gemm_bf16_f32, the products in bfloat16, against the C core alone.
 *
 * For each way this build and CPU compute it (vdpbf16ps on bfloat16 pairs where the CPU has
 * AVX512_BF16; the float kernels of every set it runs, on operands rounded while packed):
 * - the rounding itself: nni_bf16_round on ties, the largest values, NaN and infinities;
 * - every shape m, n, k in a set of odd sizes and a few large ones, every trans_a / trans_b,
 *   alpha and beta, with and without an epilogue, against the same sum in double of the
 *   operands rounded to bfloat16, times alpha (1, -0.75, and powers of two, which scale the
 *   packed A), within the bound of a k-term float sum; and
 *   farther from the float product than that bound (the rounding happened);
 * - the same bits on 1, 2 and 3 threads, in both loop orders;
 * - vdpbf16ps against the float kernels on the rounded operands: within the bound.
 *
 * Run: ./build/test_gemm_bf16 (exit status 0 when every check passes); tests/test_c_core.py.
 */
#include "nncore.h"

#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

/* xorshift64*: the same data on every run */
static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static double uniform(void) /* in [-1, 1) */
{
    g_rng ^= g_rng >> 12, g_rng ^= g_rng << 25, g_rng ^= g_rng >> 27;
    return (double)((g_rng * 0x2545f4914f6cdd1dull) >> 11) / 4503599627370496.0 - 1.0;
}

static const int64_t SIZES[] = {1, 2, 3, 7, 16, 17, 33, 48, 49, 70};
#define N_SIZES ((int)(sizeof SIZES / sizeof SIZES[0]))
/* W3's and W4's products and odd edges past the blocking (k over two blocks, odd k); a short
 * C from k in three blocks or more, summed in two halves of k (gemm.c's k split); short Cs
 * whose k fits one block and still takes the halves (BF16_KSPLIT_MIN_K: 64 x 256 x 784,
 * 100 x 70 x 300) */
static const int64_t LARGE[][3] = {{64, 256, 784},  {784, 256, 64},  {257, 129, 301},
                                   {300, 10, 521},  {130, 1030, 67}, {256, 512, 1025},
                                   {64, 96, 2100}, {100, 70, 300}};
#define N_LARGE ((int)(sizeof LARGE / sizeof LARGE[0]))

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_rounding(void)
{
    /* 1 + 2^-8 is halfway between bfloat16's 1 and 1 + 2^-7: ties go to the even 1 */
    CHECK(nni_bf16_round(1.0f + 0x1p-8f) == 1.0f, "tie below rounds to even");
    CHECK(nni_bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f, "tie above rounds to even");
    CHECK(nni_bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f, "above a tie rounds up");
    CHECK(nni_bf16_round(-1.0f - 0x1p-9f) == -1.0f, "below half rounds down (negative)");
    CHECK(isinf(nni_bf16_round(FLT_MAX)) && nni_bf16_round(FLT_MAX) > 0,
          "FLT_MAX rounds to +inf (as the conversion instruction)");
    CHECK(isinf(nni_bf16_round(-INFINITY)), "-inf stays -inf");
    CHECK(isnan(nni_bf16_round(NAN)), "NaN stays NaN");
    CHECK(isnan(nni_bf16_round(bits_float(0x7f800001u))), "a NaN whose payload is low bits");
    CHECK(nni_bf16_round(0x1p-130f) == 0x1p-130f, "a subnormal power of two is exact");
    /* the branch-free loop that rounds the float kernels' panels in place: nni_bf16_bits's
     * bits on the specials above and on values of every exponent and sign */
    {
        enum { COUNT = 4099 }; /* an odd count: the vectorized loop's tail */
        float *x = malloc(sizeof(float) * COUNT), *y = malloc(sizeof(float) * COUNT);
        static const uint32_t specials[] = {0x3f808000u, 0x3f818000u, 0xbf804000u, 0x7f7fffffu,
                                            0xff800000u, 0x7fc00000u, 0x7f800001u, 0xff800001u,
                                            0x00100000u, 0x80000000u, 0x00000000u};
        int i, same = 1;
        for (i = 0; i < COUNT; i++)
            x[i] = i < (int)(sizeof specials / sizeof specials[0])
                       ? bits_float(specials[i])
                       : (float)ldexp(uniform(), (int)(uniform() * 140));
        memcpy(y, x, sizeof(float) * COUNT);
        nni_bf16_round_inplace(y, COUNT);
        for (i = 0; i < COUNT; i++) {
            uint32_t u;
            memcpy(&u, y + i, sizeof u);
            same &= u == nni_bf16_bits(x[i]) << 16;
        }
        CHECK(same, "nni_bf16_round_inplace differs from nni_bf16_bits");
        free(x), free(y);
    }
}

static float *floats(int64_t count) { return malloc(sizeof(float) * (size_t)count); }

/* op(X)[r, c] of X stored with rows ld apart, transposed or not */
static float elem(const float *X, int64_t ld, int trans, int64_t r, int64_t c)
{
    return trans ? X[c * ld + r] : X[r * ld + c];
}

/* C = bf16 product against the double sum of the rounded operands (ref) and its bound, and
 * farther than the bound from the float product where any product's rounding shows. */
static void check_shape(int64_t m, int64_t n, int64_t k, int ta, int tb, float alpha,
                        float beta, int with_ep, const char *how)
{
    float *A = floats(m * k), *B = floats(k * n), *C = floats(m * n), *C0 = floats(m * n);
    float *F = floats(m * n), *bias = floats(n);
    nn_epilogue_f32 ep = {bias, NN_ACT_TANH, NULL, NN_ACT_IDENTITY};
    int64_t i, j, p, bad = 0, far = 0;
    for (i = 0; i < m * k; i++) A[i] = (float)uniform();
    for (i = 0; i < k * n; i++) B[i] = (float)uniform();
    for (i = 0; i < m * n; i++) C0[i] = C[i] = F[i] = (float)uniform();
    for (j = 0; j < n; j++) bias[j] = (float)uniform();
    CHECK(nn_gemm_bf16_f32(C, A, B, m, n, k, ta, tb, alpha, beta, with_ep ? &ep : NULL) ==
              NN_OK,
          "%s: bf16 gemm failed", how);
    nn_gemm_f32(F, A, B, m, n, k, ta, tb, alpha, beta, NULL);
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double s = 0, mag = 0, ref, bound;
            for (p = 0; p < k; p++) {
                const float a = elem(A, ta ? m : k, ta, i, p);
                const float b = elem(B, tb ? k : n, tb, p, j);
                const double t = (double)nni_bf16_round(a) * (double)nni_bf16_round(b);
                s += t;
                mag += fabs(t);
            }
            /* the float sums: one rounding a term and a block, and beta C's */
            bound = (double)(k + 4) * FLT_EPSILON *
                        (fabs(alpha) * mag + fabs(beta * C0[i * n + j])) + 1e-30;
            ref = alpha * s + (beta != 0 ? (double)beta * C0[i * n + j] : 0);
            if (with_ep) {
                /* tanh's derivative is at most 1: the bound carries over */
                ref = tanh(ref + bias[j]);
                bound += 8 * FLT_EPSILON;
            } else if (fabs(F[i * n + j] - ref) > 4 * bound)
                far++;
            if (!(fabs(C[i * n + j] - ref) <= bound)) bad++;
        }
    CHECK(bad == 0, "%s: %lld x %lld x %lld ta %d tb %d alpha %g beta %g ep %d: %lld of C off "
          "the rounded operands' sum", how, (long long)m, (long long)n, (long long)k, ta, tb,
          (double)alpha, (double)beta, with_ep, (long long)bad);
    /* (beyond ~100 terms the sum's own bound grows past the rounding's sqrt(k) drift) */
    if (!with_ep && k >= 16 && k <= 100 && m * n >= 64)
        CHECK(far * 2 > m * n, "%s: %lld x %lld x %lld: the float product is as close (%lld of "
              "%lld far): were the operands rounded?", how, (long long)m, (long long)n,
              (long long)k, (long long)far, (long long)(m * n));
    free(A), free(B), free(C), free(C0), free(F), free(bias);
}

/* alpha 1, -0.75 (scaling each k block's sum), powers of two (scaling the packed A) */
static const float ALPHAS[4] = {1.0f, -0.75f, 0.25f, -2.0f};

static void test_shapes(const char *how)
{
    int a, b, c, t;
    for (t = 0; t < 4; t++)
        for (a = 0; a < N_SIZES; a++)
            for (b = 0; b < N_SIZES; b++)
                for (c = 0; c < N_SIZES; c++)
                    if ((a + b + c + t) % 3 == 0) /* a third of the grid, every size in each */
                        check_shape(SIZES[a], SIZES[b], SIZES[c], t & 1, t >> 1,
                                    ALPHAS[(a + c) % 4], (b + c) % 3 ? 0.0f : 0.5f,
                                    (a + b) % 5 == 0, how);
    for (a = 0; a < N_LARGE; a++)
        for (t = 0; t < 4; t++)
            check_shape(LARGE[a][0], LARGE[a][1], LARGE[a][2], t & 1, t >> 1, ALPHAS[(a + t) % 4],
                        t == 3 ? 1.0f : 0.0f, a == 0 && t == 0, how);
}

/* The pairs' packing with the conversion instructions (nni_pack_bf16_pairs where vdpbf16ps
 * runs) against the scalar loop, bit for bit, both layouts of the source (lanes side by
 * side, or each lane's terms side by side), panels of 8 and 48 lanes, every lane count, odd and even
 * kc; values of every sign and a wide range of exponents, ties, NaN and infinities (no
 * subnormals: the conversion takes those as zero). Past the panels, nothing is written. */
static void test_pack_pairs(void)
{
    static const int widths[] = {8, 48};
    enum { MAXK = 75, MAXL = 100, LD = 101 }; /* rows of LD floats: MAXL of them */
    float *src = floats(MAXL * LD), *simd = floats(2 * 48 * MAXK + 16),
          *scalar = floats(2 * 48 * MAXK + 16);
    int64_t i, kc, lanes;
    int wi, layout;
    for (i = 0; i < MAXL * LD; i++) {
        const double u = uniform();
        src[i] = (float)ldexp(u, (int)(uniform() * 40));
        if (i % 97 == 3) src[i] = 1.0f + 0x1p-8f; /* a tie */
        if (i % 211 == 5) src[i] = NAN;
        if (i % 223 == 7) src[i] = -INFINITY;
    }
    for (wi = 0; wi < 2; wi++)
        for (layout = 0; layout < 2; layout++)
            for (kc = 1; kc <= MAXK; kc += kc < 40 ? 1 : 7)
                for (lanes = 1; lanes <= MAXL; lanes += 1 + lanes / 8) {
                    const int w = widths[wi];
                    const int64_t ks = layout ? 1 : LD, ls = layout ? LD : 1;
                    const int64_t panels = (lanes + w - 1) / w;
                    const int64_t used = panels * w * ((kc + 1) / 2); /* the panels' floats */
                    for (i = 0; i < used + 16; i++) simd[i] = scalar[i] = -7.0f;
                    const float scale = kc % 3 ? 1.0f : 0.25f; /* a power-of-two alpha */
                    nni_pack_bf16_pairs(simd, src, ks, ls, kc, lanes, w, (kc + 1) / 2, scale);
                    nni_pack_bf16_pairs_scalar(scalar, src, ks, ls, kc, lanes, w, (kc + 1) / 2,
                                               scale);
                    CHECK(memcmp(simd, scalar, sizeof(float) * (size_t)(used + 16)) == 0,
                          "pairs packing: w %d, %s side by side, kc %lld, lanes %lld: the "
                          "conversion instructions differ from the scalar loop", w,
                          layout ? "terms" : "lanes", (long long)kc, (long long)lanes);
                }
    free(src), free(simd), free(scalar);
}

/* AMX's A panels (nni_pack_bf16_tiles, gemm_kernels_amx.c) against their layout computed
 * term by term with nni_bf16_bits: 32 lanes a panel, each block of 16 pairs 32 rows of 16
 * words, word (q, i) at (q / 16) 512 + 16 i + q % 16 holding terms 2q (low half) and 2q + 1
 * of lane i; lanes past `lanes` and pairs past kc zero; both layouts of the source, every
 * lane count to 100, kc from 1 to 75 (one to three blocks). Past the panels, nothing is
 * written. The pairs' packing with 16-word rows (AMX's B) is checked above with pk equal to
 * the pairs; here with pk rounded up to 16, its extra rows zero. */
static void test_pack_tiles(void)
{
    enum { MAXK = 75, MAXL = 100, LD = 101 };
    float *src = floats(MAXL * LD), *got = floats(4 * 32 * 48 + 16), *pairs = floats(4 * 32 * 48 + 16);
    int64_t i, kc, lanes;
    int layout;
    for (i = 0; i < MAXL * LD; i++) {
        src[i] = (float)ldexp(uniform(), (int)(uniform() * 40));
        if (i % 97 == 3) src[i] = 1.0f + 0x1p-8f; /* a tie */
        if (i % 211 == 5) src[i] = NAN;
    }
    for (layout = 0; layout < 2; layout++)
        for (kc = 1; kc <= MAXK; kc += kc < 40 ? 1 : 7)
            for (lanes = 1; lanes <= MAXL; lanes += 1 + lanes / 8) {
                const int64_t ks = layout ? 1 : LD, ls = layout ? LD : 1;
                const int64_t pk = ((kc + 1) / 2 + 15) / 16 * 16, panels = (lanes + 31) / 32;
                const int64_t used = panels * 32 * pk;
                const float scale = kc % 3 ? 1.0f : 0.25f;
                const uint32_t *w = (const uint32_t *)(const void *)got;
                int64_t bad = 0, q, r, l;
                for (i = 0; i < used + 16; i++) got[i] = pairs[i] = -7.0f;
                nni_pack_bf16_tiles(got, src, ks, ls, kc, lanes, scale);
                for (q = 0; q < panels; q++)
                    for (r = 0; r < pk; r++)
                        for (l = 0; l < 32; l++) {
                            const int64_t lane = q * 32 + l, p = 2 * r;
                            uint32_t want = 0;
                            if (lane < lanes && p < kc)
                                want = nni_bf16_bits(scale * src[p * ks + lane * ls]) |
                                       (p + 1 < kc
                                            ? nni_bf16_bits(scale * src[(p + 1) * ks + lane * ls])
                                            : 0u)
                                           << 16;
                            bad += w[q * 32 * pk + (r / 16) * 512 + l * 16 + r % 16] != want;
                        }
                for (i = used; i < used + 16; i++) bad += got[i] != -7.0f;
                CHECK(bad == 0, "tiles packing: %s side by side, kc %lld, lanes %lld: %lld "
                      "words off their layout", layout ? "terms" : "lanes", (long long)kc,
                      (long long)lanes, (long long)bad);
                /* B's panels: the pairs with pk words a lane, the rows past the pairs zero */
                nni_pack_bf16_pairs(pairs, src, ks, ls, kc, lanes, 32, pk, scale);
                nni_pack_bf16_pairs_scalar(got, src, ks, ls, kc, lanes, 32, pk, scale);
                w = (const uint32_t *)(const void *)pairs;
                bad = memcmp(pairs, got, sizeof(float) * (size_t)used) != 0;
                for (q = 0; q < panels; q++)
                    for (i = (kc + 1) / 2 * 32; i < pk * 32; i++) bad += w[q * 32 * pk + i] != 0;
                for (i = used; i < used + 16; i++) bad += pairs[i] != -7.0f;
                CHECK(bad == 0, "pairs packing with pk %lld: %s side by side, kc %lld, lanes "
                      "%lld: differs from the scalar loop, or its extra rows are not zero",
                      (long long)pk, layout ? "terms" : "lanes", (long long)kc, (long long)lanes);
            }
    free(src), free(got), free(pairs);
}

/* the same bits on 1, 2 and 3 threads, both loop orders */
static void test_threads(const char *how)
{
    int s, t, order;
    for (s = 0; s < N_LARGE; s++) {
        const int64_t m = LARGE[s][0], n = LARGE[s][1], k = LARGE[s][2];
        float *A = floats(m * k), *B = floats(k * n), *C1 = floats(m * n), *Ct = floats(m * n);
        int64_t i;
        for (i = 0; i < m * k; i++) A[i] = (float)uniform();
        for (i = 0; i < k * n; i++) B[i] = (float)uniform();
        for (order = 0; order < 2; order++) {
            nni_gemm_loop_order_set(order);
            for (t = 0; t < 4; t++) {
                int threads;
                nn_set_num_threads(1);
                nn_gemm_bf16_f32(C1, A, B, m, n, k, t & 1, t >> 1, 1.0f, 0.0f, NULL);
                for (threads = 2; threads <= 3; threads++) {
                    nn_set_num_threads(threads);
                    nn_gemm_bf16_f32(Ct, A, B, m, n, k, t & 1, t >> 1, 1.0f, 0.0f, NULL);
                    CHECK(memcmp(C1, Ct, sizeof(float) * (size_t)(m * n)) == 0,
                          "%s: %lld x %lld x %lld ta %d tb %d order %d: %d threads differ from 1",
                          how, (long long)m, (long long)n, (long long)k, t & 1, t >> 1, order,
                          threads);
                }
            }
        }
        nni_gemm_loop_order_set(-1);
        nn_set_num_threads(1);
        free(A), free(B), free(C1), free(Ct);
    }
}

int main(void)
{
    static const char *const names[] = {"portable", "avx2", "avx512", "avx512_12x32", "neon"};
    /* the bfloat16 sets beside a float set: the best (NULL), then each by name */
    static const char *const bf16_names[] = {NULL, "avx512bf16", "amx"};
    const int threads = nn_get_num_threads();
    int i, b, ran = 0, pairs = 0, tiles = 0;
    test_rounding();
    for (i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        if (nni_gemm_kernel_select(names[i]) != NN_OK) continue;
        for (b = 0; b < (int)(sizeof bf16_names / sizeof bf16_names[0]); b++) {
            const nni_gemm_kernel *set;
            char how[64];
            if (nni_gemm_kernel_bf16_select(bf16_names[b]) != NN_OK) continue;
            set = nni_gemm_kernel_bf16();
            if (b > 0 && !set) continue; /* a float set without bfloat16 sets */
            if (b == 0 && set) continue;  /* the best: run below by its name */
            nn_set_num_threads(1);
            snprintf(how, sizeof how, "%s%s%s", names[i], set ? " bf16 " : "",
                     set ? set->name : " (rounded, float kernels)");
            printf("bf16 gemm on %s\n", how);
            if (set && set->bf16_layout == NNI_BF16_PAIRS && !pairs) test_pack_pairs();
            if (set && set->bf16_layout == NNI_BF16_TILES && !tiles) test_pack_tiles();
            pairs += set && set->bf16_layout == NNI_BF16_PAIRS;
            tiles += set && set->bf16_layout == NNI_BF16_TILES;
            test_shapes(how);
            test_threads(how);
            ran++;
        }
        nni_gemm_kernel_bf16_select(NULL);
    }
    nn_set_num_threads(threads);
    CHECK(ran >= 1, "no kernel set ran");
    /* the selection: unknown names refused (the set in use unchanged), the best again with
     * NULL, AMX first where it runs */
    if (nni_gemm_kernel_select("avx512") == NN_OK) {
        const nni_gemm_kernel *best;
        nni_gemm_kernel_bf16_select(NULL);
        best = nni_gemm_kernel_bf16();
        CHECK(nni_gemm_kernel_bf16_select("no-such-set") == NN_EINVAL &&
                  nni_gemm_kernel_bf16() == best,
              "an unknown bfloat16 set was taken, or changed the one in use");
        CHECK(!tiles || (best && best->bf16_layout == NNI_BF16_TILES),
              "AMX runs here but is not the bfloat16 set chosen by default");
        CHECK(!best || nni_gemm_kernel_bf16_select("portable") == NN_EINVAL,
              "a float set was taken as a bfloat16 set");
    }
    if (nni_gemm_kernel_select("avx2") == NN_OK)
        CHECK(nni_gemm_kernel_bf16() == NULL, "a bfloat16 set beside the AVX2 float set");
    printf("(vdpbf16ps %s, AMX %s on this CPU and build)\n", pairs ? "ran" : "did not run",
           tiles ? "ran" : "did not run");
    if (g_failures) {
        printf("%d of %d bf16 gemm checks failed\n", g_failures, g_checks);
        return 1;
    }
    printf("all %d bf16 gemm checks passed (%d kernel sets)\n", g_checks, ran);
    return 0;
}
