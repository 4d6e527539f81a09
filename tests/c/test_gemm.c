/* The GEMM's packing and threads, and the optimizer's threads, against the C core alone.
 *
 * For every kernel set this build and CPU run (selected with nni_gemm_kernel_select):
 * - its edge kernels (the first vectors of a panel) against its full kernel, and its kernels
 *   that read A (or A^T) in place against the same kernels on A packed, bit for bit;
 * - its narrow kernels that read B in place (masked loads) against the same kernels on B
 *   packed, bit for bit, never loading past B's last column (a guard page);
 * - its transposing packer (gemm_pack_<isa>.c), when it has one, against the scalar
 *   definition dst[p w + j] = alpha src[j ld + p] (zero for j >= rows), bit for bit, for every
 *   panel width the kernel uses, every row count, kc 1..70 and longer, row strides past kc;
 * - gemm against gemm_naive on every shape m, n, k in a set of odd sizes in 1..70 and a few
 *   large ones, every trans_a / trans_b, float and double, alpha and beta, with and without an
 *   epilogue, within the rounding bound of a k-term sum;
 * - the products the pool splits (the narrow kernel's rows, the column split of a short C, the
 *   row split, the transposed product, one shared block of op(B) at a time for products too
 *   large to share a whole packed operand: of op(B), or of op(A) in the other loop order),
 *   each in both loop orders (A's panel in L1 or B's), and the optimizer steps (sgd, nesterov, adam over a long
 *   vector) give the same bits on 1, 2 and 3 threads;
 * - products whose A's rows are a multiple of 4 KiB apart, A read in place (an L1 of 16 ways)
 *   and packed (8 ways), against gemm_naive and on 1-3 threads;
 * - A^T read in place (alpha on B's packing) against A^T packed, bit for bit, on 1 and 2
 *   threads, and against gemm_naive;
 * - planned products (op(B) packed once, gemm_plan) against gemm, bit for bit.
 * (The runs the threads of a split product claim: tests/c/test_pool.c.)
 *
 * Run: ./build/test_gemm (exit status 0 when every check passes); tests/test_c_core.py.
 */
#include "nncore.h"

#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

/* xorshift64*: the same data on every run */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double uniform(void) /* in [-1, 1) */
{
    g_rng ^= g_rng >> 12, g_rng ^= g_rng << 25, g_rng ^= g_rng >> 27;
    return (double)((g_rng * 0x2545f4914f6cdd1dull) >> 11) / 4503599627370496.0 - 1.0;
}

static const int64_t SIZES[] = {1, 2, 3, 5, 7, 12, 13, 16, 17, 31, 33, 47, 64, 70};
#define N_SIZES ((int)(sizeof SIZES / sizeof SIZES[0]))
/* m, n, k beyond the blocking and the panels: W3's and W4-like products, odd edges, and
 * power-of-two leading dimensions (C's tile rows, A's and B's rows 4-8 KiB apart); whole
 * 48-column panels and one column past them, with k over two blocks (the 8 x 48 kernel);
 * rows of B (64 x 1024) and of a stored-transposed A (1100 x 40) at least a page apart, read
 * in short stretches, so that the packing requests rows ahead (gemm_pack.c) */
static const int64_t LARGE[][3] = {{64, 256, 784}, {784, 256, 64}, {64, 784, 256},
                                   {257, 129, 301}, {300, 10, 520}, {130, 1030, 67},
                                   {64, 1024, 256}, {256, 512, 128}, {48, 2048, 64},
                                   {17, 96, 600},   {200, 145, 1030}, {1100, 40, 150}};
#define N_LARGE ((int)(sizeof LARGE / sizeof LARGE[0]))

/* `bytes` (rounded up to whole pages, stored in *bytes) followed by a page that cannot be read
 * (Linux; elsewhere plain memory): an access past the end faults. */
static unsigned char *guarded_alloc(size_t want, size_t *bytes)
{
#if defined(__linux__)
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p;
    *bytes = (want + page - 1) / page * page;
    p = (unsigned char *)mmap(NULL, *bytes + page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("mmap failed\n");
        exit(2);
    }
    mprotect(p + *bytes, page, PROT_NONE);
    return p;
#else
    *bytes = want;
    return (unsigned char *)malloc(want);
#endif
}

static void guarded_free(unsigned char *p, size_t bytes)
{
#if defined(__linux__)
    munmap(p, bytes + (size_t)sysconf(_SC_PAGESIZE));
#else
    (void)bytes;
    free(p);
#endif
}

/* Typed tests, written once: T the element type, S the suffix (f32, f64), EPS its epsilon. */
#define DEFINE_TYPED_TESTS(T, S, EPS)                                                         \
    /* The kernel's transposing packer against its definition, exactly. */                    \
    static void test_pack_t_##S(nni_pack_t_##S pack, const int *widths, int n_widths)        \
    {                                                                                         \
        static const int64_t kcs[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 70, 208,  \
                                      257};                                                   \
        static const T alphas[] = {1, (T)0.5, (T)-1.5};                                       \
        const int64_t ld_max = 257 + 3, w_max = 48;                                           \
        T *src = (T *)malloc((size_t)(w_max * ld_max) * sizeof(T));                           \
        T *dst = (T *)malloc((size_t)(w_max * 257 + 64) * sizeof(T));                         \
        int64_t i, p, ki;                                                                     \
        int wi, rows, ai, j;                                                                  \
        for (i = 0; i < w_max * ld_max; i++) src[i] = (T)uniform();                           \
        for (wi = 0; wi < n_widths; wi++) {                                                   \
            const int w = widths[wi];                                                         \
            for (ki = 0; ki < (int64_t)(sizeof kcs / sizeof kcs[0]); ki++) {                  \
                const int64_t kc = kcs[ki];                                                   \
                for (rows = 0; rows <= w; rows++)                                             \
                    for (ai = 0; ai < 3; ai++) {                                              \
                        const int64_t ld = kc + (rows % 2 ? 3 : 0);                           \
                        int bad = 0;                                                          \
                        /* a sentinel past the panel: the packer writes kc w values only */   \
                        for (i = 0; i < kc * w + 64; i++) dst[i] = (T)7;                      \
                        pack(dst, src, ld, kc, w, rows, alphas[ai]);                          \
                        for (p = 0; p < kc; p++)                                              \
                            for (j = 0; j < w; j++) {                                         \
                                const T want = j < rows ? alphas[ai] * src[j * ld + p] : 0;   \
                                if (dst[p * w + j] != want) bad++;                            \
                            }                                                                 \
                        for (i = kc * w; i < kc * w + 64; i++)                                \
                            if (dst[i] != (T)7) bad++;                                        \
                        CHECK(bad == 0,                                                       \
                              #S " packer: w %d rows %d kc %lld alpha %g: %d wrong values", w, \
                              rows, (long long)kc, (double)alphas[ai], bad);                  \
                    }                                                                         \
            }                                                                                 \
        }                                                                                     \
        free(src);                                                                            \
        free(dst);                                                                            \
    }                                                                                         \
                                                                                              \
    /* A kernel with A in place against the same kernel on A packed (rows kc + 3 apart, the \
     * packed panel a[p mr + i] = A[i lda + p]): the same bits, every kc and beta. */         \
    static void test_in_place_##S(nni_ukr_##S packed, nni_ukr_ip_##S in_place, const T *a,    \
                                  const T *b, int mr, int nr, int width)                      \
    {                                                                                         \
        static const int64_t kcs[] = {1, 3, 24, 25, 64, 257};                                 \
        static const T betas[] = {0, 1, (T)0.5};                                              \
        const int64_t lda = 257 + 3, ldc = nr + 1;                                            \
        T *A = (T *)malloc((size_t)(mr * lda) * sizeof(T));                                   \
        T *c0 = (T *)malloc((size_t)(mr * ldc) * sizeof(T));                                  \
        T *c1 = (T *)malloc((size_t)(mr * ldc) * sizeof(T));                                  \
        int64_t i, p, ki;                                                                     \
        int bi, r, j;                                                                         \
        for (r = 0; r < mr; r++)                                                              \
            for (p = 0; p < lda; p++) A[r * lda + p] = p < 257 ? a[p * mr + r] : (T)1e30;      \
        for (ki = 0; ki < (int64_t)(sizeof kcs / sizeof kcs[0]); ki++)                        \
            for (bi = 0; bi < 3; bi++) {                                                      \
                int bad = 0;                                                                  \
                for (i = 0; i < mr * ldc; i++) c0[i] = c1[i] = (T)uniform();                  \
                packed(kcs[ki], a, b, c0, ldc, betas[bi]);                                    \
                in_place(kcs[ki], A, lda, b, c1, ldc, betas[bi]);                             \
                for (r = 0; r < mr; r++)                                                      \
                    for (j = 0; j < ldc; j++)                                                 \
                        if (c0[r * ldc + j] != c1[r * ldc + j]) bad++;                        \
                CHECK(bad == 0, #S " kernel of %d columns, A in place, kc %lld beta %g: %d wrong", \
                      width, (long long)kcs[ki], (double)betas[bi], bad);                     \
            }                                                                                 \
        free(A), free(c0), free(c1);                                                          \
    }                                                                                         \
                                                                                              \
    /* A kernel with A^T in place against the same kernel on A packed (A stored (k, m): row p \
     * holds the packed panel's mr values of column p, then padding; rows mr + 5 apart): the  \
     * same bits, every kc and beta. */                                                       \
    static void test_at_in_place_##S(nni_ukr_##S packed, nni_ukr_ip_##S at_in_place,          \
                                     const T *a, const T *b, int mr, int nr, int width)       \
    {                                                                                         \
        static const int64_t kcs[] = {1, 3, 8, 9, 24, 25, 64, 257};                           \
        static const T betas[] = {0, 1, (T)0.5};                                              \
        const int64_t lda = mr + 5, ldc = nr + 1;                                             \
        T *At = (T *)malloc((size_t)(257 * lda) * sizeof(T));                                 \
        T *c0 = (T *)malloc((size_t)(mr * ldc) * sizeof(T));                                  \
        T *c1 = (T *)malloc((size_t)(mr * ldc) * sizeof(T));                                  \
        int64_t i, p, ki;                                                                     \
        int bi, r, j;                                                                         \
        for (p = 0; p < 257; p++)                                                             \
            for (r = 0; r < lda; r++) At[p * lda + r] = r < mr ? a[p * mr + r] : (T)1e30;     \
        for (ki = 0; ki < (int64_t)(sizeof kcs / sizeof kcs[0]); ki++)                        \
            for (bi = 0; bi < 3; bi++) {                                                      \
                int bad = 0;                                                                  \
                for (i = 0; i < mr * ldc; i++) c0[i] = c1[i] = (T)uniform();                  \
                packed(kcs[ki], a, b, c0, ldc, betas[bi]);                                    \
                at_in_place(kcs[ki], At, lda, b, c1, ldc, betas[bi]);                         \
                for (r = 0; r < mr; r++)                                                      \
                    for (j = 0; j < ldc; j++)                                                 \
                        if (c0[r * ldc + j] != c1[r * ldc + j]) bad++;                        \
                CHECK(bad == 0, #S " kernel of %d columns, A^T in place, kc %lld "            \
                      "beta %g: %d wrong", width, (long long)kcs[ki], (double)betas[bi],      \
                      bad);                                                                   \
            }                                                                                 \
        free(At), free(c0), free(c1);                                                         \
    }                                                                                         \
    /* The edge kernels against the full kernel on the same packed panels: the first v vectors \
     * of its tile, bit for bit (the same sums in the same order), every beta, C's values past \
     * the edge kernel's columns untouched. */                                               \
    /* The narrow kernel reading B in place (masked loads) against the same kernel on B       \
     * packed and zero-padded, bit for bit, for every width n up to the panel's w, with B's   \
     * last row ending at a page that cannot be read (Linux): a lane past n that is loaded    \
     * faults.                                                                                \
     */                                                                                       \
    static void test_narrow_bip_##S(nni_ukr_narrow_##S narrow, nni_ukr_narrow_bip_##S bip,    \
                                    int mr, int w)                                            \
    {                                                                                         \
        static const int64_t kcs[] = {1, 2, 7, 64, 301};                                      \
        static const T betas[] = {0, 1, (T)0.5};                                              \
        const int64_t kc_max = 301;                                                           \
        T *a = (T *)malloc((size_t)(kc_max * mr) * sizeof(T));                                \
        T *bp = (T *)malloc((size_t)(kc_max * w) * sizeof(T));                                \
        T *c0 = (T *)malloc((size_t)(mr * w) * sizeof(T));                                    \
        T *c1 = (T *)malloc((size_t)(mr * w) * sizeof(T));                                    \
        T *c2 = (T *)malloc((size_t)(mr * w) * sizeof(T));                                    \
        size_t bytes = 0;                                                                     \
        unsigned char *region = guarded_alloc((size_t)(kc_max * w) * sizeof(T), &bytes);      \
        int64_t i, p, ki, n;                                                                  \
        int bi, r;                                                                            \
        for (i = 0; i < kc_max * mr; i++) a[i] = (T)uniform();                                \
        for (n = 1; n <= w; n++)                                                              \
            for (ki = 0; ki < (int64_t)(sizeof kcs / sizeof kcs[0]); ki++) {                  \
                const int64_t kc = kcs[ki];                                                   \
                /* B (kc, n) ending where the unreadable page starts */                       \
                T *b = (T *)(region + bytes) - kc * n;                                        \
                for (i = 0; i < kc * n; i++) b[i] = (T)uniform();                             \
                for (p = 0; p < kc; p++)                                                      \
                    for (i = 0; i < w; i++) bp[p * w + i] = i < n ? b[p * n + i] : (T)0;      \
                for (bi = 0; bi < 3; bi++) {                                                  \
                    for (i = 0; i < mr * w; i++) c0[i] = (T)uniform();                        \
                    memcpy(c1, c0, (size_t)(mr * w) * sizeof(T));                             \
                    memcpy(c2, c0, (size_t)(mr * w) * sizeof(T));                             \
                    narrow(kc, a, kc, 1, bp, c1, w, betas[bi]);                               \
                    bip(kc, a, kc, 1, b, n, n, c2, w, betas[bi]);                             \
                    for (r = 0; r < mr; r++)                                                  \
                        CHECK(memcmp(c1 + r * w, c2 + r * w, (size_t)n * sizeof(T)) == 0,     \
                              #S " narrow kernel, B in place: n %lld kc %lld beta %g row %d " \
                                 "differs from B packed", (long long)n, (long long)kc,        \
                              (double)betas[bi], r);                                          \
                }                                                                             \
            }                                                                                 \
        guarded_free(region, bytes);                                                          \
        free(a), free(bp), free(c0), free(c1), free(c2);                                      \
    }                                                                                         \
                                                                                              \
    static void test_edge_##S(nni_ukr_##S full, const nni_ukr_##S *edge, int mr, int nr,      \
                              int vl, nni_ukr_ip_##S full_ip, const nni_ukr_ip_##S *edge_ip,  \
                              nni_ukr_ip_##S full_atp, const nni_ukr_ip_##S *edge_atp)        \
    {                                                                                         \
        static const int64_t kcs[] = {1, 2, 5, 23, 24, 25, 64, 257};                          \
        static const T betas[] = {0, 1, (T)0.5};                                              \
        const int64_t kc_max = 257, ldc = nr + 3;                                             \
        T *a = (T *)malloc((size_t)(kc_max * mr) * sizeof(T));                                \
        T *b = (T *)malloc((size_t)(kc_max * nr) * sizeof(T));                                \
        T *c0 = (T *)malloc((size_t)(mr * ldc) * sizeof(T));                                  \
        T *c1 = (T *)malloc((size_t)(mr * ldc) * sizeof(T));                                  \
        int64_t i, ki;                                                                        \
        int v, bi, r, j;                                                                      \
        for (i = 0; i < kc_max * mr; i++) a[i] = (T)uniform();                                \
        for (i = 0; i < kc_max * nr; i++) b[i] = (T)uniform();                                \
        if (full_ip) test_in_place_##S(full, full_ip, a, b, mr, nr, nr);                      \
        for (v = 0; v < NNI_UKR_MAX_EDGE; v++) {                                              \
            CHECK(!edge[v] || !full_ip || edge_ip[v],                                         \
                  #S " edge kernel %d has no in-place twin", v);                              \
            if (edge[v] && full_ip && edge_ip[v])                                             \
                test_in_place_##S(edge[v], edge_ip[v], a, b, mr, nr, (v + 1) * vl);            \
        }                                                                                     \
        if (full_atp) test_at_in_place_##S(full, full_atp, a, b, mr, nr, nr);                 \
        for (v = 0; v < NNI_UKR_MAX_EDGE; v++) {                                              \
            CHECK(!edge[v] || !full_atp || edge_atp[v],                                       \
                  #S " edge kernel %d has no A^T-in-place twin", v);                          \
            if (edge[v] && full_atp && edge_atp[v])                                           \
                test_at_in_place_##S(edge[v], edge_atp[v], a, b, mr, nr, (v + 1) * vl);       \
        }                                                                                     \
        for (v = 0; v < NNI_UKR_MAX_EDGE; v++) {                                              \
            const int width = (v + 1) * vl;                                                   \
            if (!edge[v]) continue;                                                           \
            CHECK(width < nr, #S " edge kernel %d: %d columns, not fewer than the panel's %d", \
                  v, width, nr);                                                              \
            for (ki = 0; ki < (int64_t)(sizeof kcs / sizeof kcs[0]); ki++)                    \
                for (bi = 0; bi < 3; bi++) {                                                  \
                    int bad = 0;                                                              \
                    for (i = 0; i < mr * ldc; i++) c0[i] = c1[i] = (T)uniform();              \
                    full(kcs[ki], a, b, c0, ldc, betas[bi]);                                  \
                    edge[v](kcs[ki], a, b, c1, ldc, betas[bi]);                               \
                    for (r = 0; r < mr; r++)                                                  \
                        for (j = 0; j < width; j++)                                           \
                            if (c0[r * ldc + j] != c1[r * ldc + j]) bad++;                    \
                    /* past the edge: c1 keeps its values; full wrote them in c0 */          \
                    for (r = 0; r < mr; r++)                                                  \
                        for (j = width; j < ldc; j++)                                         \
                            if (j >= nr && c0[r * ldc + j] != c1[r * ldc + j]) bad++;         \
                    CHECK(bad == 0, #S " edge kernel of %d columns, kc %lld beta %g: %d wrong",\
                          width, (long long)kcs[ki], (double)betas[bi], bad);                 \
                }                                                                             \
        }                                                                                     \
        free(a), free(b), free(c0), free(c1);                                                 \
    }                                                                                         \
                                                                                              \
    /* gemm against gemm_naive: |C - C_naive| within 2 (k + 2) eps times the same product of  \
     * |A|, |B| (plus |beta C|, |bias|): the rounding of two k-term sums; the activations are \
     * at most 1-Lipschitz and the derivatives of relu 0 or 1. */                             \
    static void check_gemm_##S(int64_t m, int64_t n, int64_t k, int ta, int tb, T alpha,      \
                               T beta, int with_ep)                                           \
    {                                                                                         \
        T *A = (T *)malloc((size_t)(m * k) * sizeof(T));                                      \
        T *B = (T *)malloc((size_t)(k * n) * sizeof(T));                                      \
        T *Aa = (T *)malloc((size_t)(m * k) * sizeof(T));                                     \
        T *Ba = (T *)malloc((size_t)(k * n) * sizeof(T));                                     \
        T *C = (T *)malloc((size_t)(m * n) * sizeof(T));                                      \
        T *R = (T *)malloc((size_t)(m * n) * sizeof(T));                                      \
        T *E = (T *)malloc((size_t)(m * n) * sizeof(T));                                      \
        T *D = (T *)malloc((size_t)(m * n) * sizeof(T));                                      \
        T *bias = (T *)malloc((size_t)n * sizeof(T));                                         \
        NN_##S##_EPILOGUE ep;                                                                 \
        int64_t i, worst = -1;                                                                \
        int st1, st2;                                                                         \
        for (i = 0; i < m * k; i++) A[i] = (T)uniform(), Aa[i] = (T)fabs((double)A[i]);       \
        for (i = 0; i < k * n; i++) B[i] = (T)uniform(), Ba[i] = (T)fabs((double)B[i]);       \
        for (i = 0; i < m * n; i++) C[i] = R[i] = (T)uniform(), D[i] = (T)uniform();          \
        for (i = 0; i < n; i++) bias[i] = (T)uniform();                                       \
        ep.bias = bias;                                                                       \
        ep.act = NN_ACT_RELU;                                                                 \
        ep.deriv_of = D;                                                                      \
        ep.deriv_act = NN_ACT_RELU;                                                           \
        for (i = 0; i < m * n; i++) E[i] = (T)fabs((double)C[i]);                             \
        st1 = nn_gemm_##S(C, A, B, m, n, k, ta, tb, alpha, beta, with_ep ? &ep : NULL);       \
        st2 = nn_gemm_naive_##S(R, A, B, m, n, k, ta, tb, alpha, beta, with_ep ? &ep : NULL); \
        nn_gemm_naive_##S(E, Aa, Ba, m, n, k, ta, tb, (T)fabs((double)alpha),                 \
                          (T)fabs((double)beta), NULL);                                       \
        CHECK(st1 == NN_OK && st2 == NN_OK, "gemm status %d, naive %d", st1, st2);            \
        for (i = 0; i < m * n; i++) {                                                         \
            const double bound =                                                              \
                2.0 * (double)(k + 2) * EPS * ((double)E[i] + fabs((double)bias[i % n]));     \
            if (!(fabs((double)C[i] - (double)R[i]) <= bound)) worst = i;                     \
        }                                                                                     \
        CHECK(worst < 0,                                                                      \
              #S " gemm %lldx%lldx%lld ta %d tb %d alpha %g beta %g ep %d: C[%lld] %.9g, "    \
                 "naive %.9g",                                                                \
              (long long)m, (long long)n, (long long)k, ta, tb, (double)alpha, (double)beta,  \
              with_ep, (long long)worst, worst < 0 ? 0.0 : (double)C[worst],                  \
              worst < 0 ? 0.0 : (double)R[worst]);                                            \
        free(A), free(B), free(Aa), free(Ba), free(C), free(R), free(E), free(D), free(bias); \
    }                                                                                         \
                                                                                              \
    static void test_gemm_shapes_##S(void)                                                    \
    {                                                                                         \
        int mi, ni, ki, t, li;                                                                \
        for (mi = 0; mi < N_SIZES; mi++)                                                      \
            for (ni = 0; ni < N_SIZES; ni++)                                                  \
                for (ki = 0; ki < N_SIZES; ki++)                                              \
                    for (t = 0; t < 4; t++) {                                                 \
                        const int v = mi + ni + ki + t; /* vary alpha, beta, the epilogue */  \
                        check_gemm_##S(SIZES[mi], SIZES[ni], SIZES[ki], t & 1, t >> 1,        \
                                       v % 3 == 0 ? (T)0.75 : (T)1, v % 4 == 1 ? (T)1 : 0,    \
                                       v % 2);                                                \
                    }                                                                         \
        for (li = 0; li < N_LARGE; li++)                                                      \
            for (t = 0; t < 8; t++)                                                           \
                check_gemm_##S(LARGE[li][0], LARGE[li][1], LARGE[li][2], t & 1, (t >> 1) & 1, \
                               (T)1, t & 4 ? (T)0.5 : 0, t >> 2);                             \
    }                                                                                         \
                                                                                              \
    /* One product on 1, 2 and 3 threads, with an epilogue or plain: the same bits. */       \
    static void check_threads_ep_##S(int64_t m, int64_t n, int64_t k, int ta, int tb,         \
                                     int with_ep)                                             \
    {                                                                                         \
        T *A = (T *)malloc((size_t)(m * k) * sizeof(T));                                      \
        T *B = (T *)malloc((size_t)(k * n) * sizeof(T));                                      \
        T *C[3];                                                                              \
        T *bias = (T *)malloc((size_t)n * sizeof(T));                                         \
        NN_##S##_EPILOGUE ep;                                                                 \
        int64_t i;                                                                            \
        int t;                                                                                \
        for (i = 0; i < m * k; i++) A[i] = (T)uniform();                                      \
        for (i = 0; i < k * n; i++) B[i] = (T)uniform();                                      \
        for (i = 0; i < n; i++) bias[i] = (T)uniform();                                       \
        ep.bias = bias;                                                                       \
        ep.act = NN_ACT_TANH;                                                                 \
        ep.deriv_of = NULL;                                                                   \
        ep.deriv_act = NN_ACT_IDENTITY;                                                       \
        for (t = 0; t < 3; t++) {                                                             \
            C[t] = (T *)malloc((size_t)(m * n) * sizeof(T));                                  \
            nn_set_num_threads(t + 1);                                                        \
            CHECK(nn_gemm_##S(C[t], A, B, m, n, k, ta, tb, (T)0.5, 0, with_ep ? &ep : NULL) ==  \
                      NN_OK,                                                                  \
                  "gemm failed");                                                             \
        }                                                                                     \
        CHECK(memcmp(C[0], C[1], (size_t)(m * n) * sizeof(T)) == 0 &&                         \
                  memcmp(C[0], C[2], (size_t)(m * n) * sizeof(T)) == 0,                       \
              #S " gemm %lldx%lldx%lld ta %d tb %d ep %d: threads change the bits",           \
              (long long)m, (long long)n, (long long)k, ta, tb, with_ep);                     \
        free(A), free(B), free(bias), free(C[0]), free(C[1]), free(C[2]);                     \
    }                                                                                         \
                                                                                              \
    static void check_threads_##S(int64_t m, int64_t n, int64_t k, int ta, int tb)            \
    {                                                                                         \
        check_threads_ep_##S(m, n, k, ta, tb, 1);                                             \
    }                                                                                         \
                                                                                              \
    static void test_threads_##S(void)                                                        \
    {                                                                                         \
        /* narrow C (n <= a vector), column split of a short C (batch 64), row split, the     \
         * transposed product (n much narrower than the kernel's panels), W4's k = 10; W3-like \
         * products (columns split, rows split: the smaller operand packed by each thread); \
         * panels of more than GEMM_SMALL_RUNS_MIN_PANEL_FLOPS (quarter runs), by columns and  \
         * by rows */                                                                         \
        static const int64_t shapes[][3] = {{4096, 10, 128}, {2000, 7, 300}, {64, 2048, 256}, \
                                            {64, 512, 128},  {40, 1000, 100}, {3000, 40, 64}, \
                                            {1100, 20, 256}, {256, 2048, 10}, {64, 256, 200}, \
                                            {400, 256, 64},  {64, 128, 256}, {256, 128, 64}, \
                                            {128, 480, 512}, {480, 96, 4096}};                \
        /* limits of the shared packing at which these products on 3 threads pack the operand \
         * every run needs once and share it, where on 2 each thread packs its own copy */    \
        static const int64_t limits[] = {24 << 10, 48 << 10, 96 << 10};                      \
        int s, t, l;                                                                          \
        for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                         \
            for (t = 0; t < 4; t++)                                                           \
                check_threads_##S(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1);   \
        for (l = 0; l < (int)(sizeof limits / sizeof limits[0]); l++) {                       \
            nni_gemm_shared_max_set(limits[l]);                                               \
            for (s = 8; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                     \
                for (t = 0; t < 4; t++)                                                       \
                    check_threads_##S(shapes[s][0], shapes[s][1], shapes[s][2], t & 1,       \
                                      t >> 1);                                                \
        }                                                                                     \
        nni_gemm_shared_max_set(0);                                                           \
    }                                                                                         \
                                                                                              \
    /* B read in place (gemm.c, b_in_place_applies: C of at most 128 rows, B's rows whole   \
     * vectors on cache lines, at most 2 KiB apart): the same product with B 64-byte aligned \
     * (read in place) and 16 bytes past a line (packed) gives the same bits, on 1 and 2    \
     * threads, and matches gemm_naive. Full and edge panels (n = 48 j + 16, + 32), a last   \
     * row panel short of the tile, one and several k blocks, A in place and packed (ta).   */ \
    static void test_b_in_place_##S(void)                                                     \
    {                                                                                         \
        static const int64_t shapes[][3] = {{64, 256, 784}, {64, 128, 300}, {37, 96, 1030},   \
                                            {128, 64, 520}, {9, 112, 600},  {64, 32, 2000},   \
                                            {100, 256, 257}, {64, 512, 300}};                 \
        int s, ta, t;                                                                         \
        for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                         \
            for (ta = 0; ta < 2; ta++) {                                                      \
                const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];           \
                char *raw = (char *)malloc((size_t)(k * n) * sizeof(T) + 128);                \
                T *Bal = (T *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);                       \
                T *Bmis = (T *)((char *)Bal + 16);                                            \
                T *A = (T *)malloc((size_t)(m * k) * sizeof(T));                              \
                T *C[4], *R = (T *)malloc((size_t)(m * n) * sizeof(T));                       \
                T *E = (T *)malloc((size_t)(m * n) * sizeof(T));                              \
                int64_t i, worst = -1;                                                        \
                for (i = 0; i < m * k; i++) A[i] = (T)uniform();                              \
                for (i = 0; i < k * n; i++) Bal[i] = (T)uniform();                            \
                nn_gemm_naive_##S(R, A, Bal, m, n, k, ta, 0, 1, 0, NULL);                     \
                for (t = 0; t < 4; t++) C[t] = (T *)malloc((size_t)(m * n) * sizeof(T));     \
                for (t = 0; t < 2; t++) { /* B in place, on 1 and 2 threads */                \
                    nn_set_num_threads(t + 1);                                                \
                    CHECK(nn_gemm_##S(C[t], A, Bal, m, n, k, ta, 0, 1, 0, NULL) == NN_OK,     \
                          "gemm failed");                                                     \
                }                                                                             \
                nn_set_num_threads(1); /* B packed */                                         \
                nni_gemm_b_in_place_set(0);                                                   \
                CHECK(nn_gemm_##S(C[3], A, Bal, m, n, k, ta, 0, 1, 0, NULL) == NN_OK,         \
                      "gemm failed");                                                         \
                nni_gemm_b_in_place_set(1);                                                   \
                /* the same values 16 bytes further on: in place with 64-byte vectors, else    \
                 * packed */                                                                  \
                memmove(Bmis, Bal, (size_t)(k * n) * sizeof(T));                              \
                CHECK(nn_gemm_##S(C[2], A, Bmis, m, n, k, ta, 0, 1, 0, NULL) == NN_OK,        \
                      "gemm failed");                                                         \
                memmove(Bal, Bmis, (size_t)(k * n) * sizeof(T));                              \
                for (i = 0; i < m * k; i++) A[i] = (T)fabs((double)A[i]);                     \
                for (i = 0; i < k * n; i++) Bal[i] = (T)fabs((double)Bal[i]);                 \
                nn_gemm_naive_##S(E, A, Bal, m, n, k, ta, 0, 1, 0, NULL);                     \
                for (i = 0; i < m * n; i++)                                                   \
                    if (!(fabs((double)C[0][i] - (double)R[i]) <=                             \
                          2.0 * (double)(k + 2) * EPS * (double)E[i]))                        \
                        worst = i;                                                            \
                CHECK(worst < 0, #S " gemm, B in place, %lldx%lldx%lld ta %d: C[%lld] off",   \
                      (long long)m, (long long)n, (long long)k, ta, (long long)worst);        \
                CHECK(memcmp(C[0], C[1], (size_t)(m * n) * sizeof(T)) == 0 &&                 \
                          memcmp(C[0], C[2], (size_t)(m * n) * sizeof(T)) == 0 &&             \
                          memcmp(C[0], C[3], (size_t)(m * n) * sizeof(T)) == 0,               \
                      #S " gemm %lldx%lldx%lld ta %d: B in place (1 and 2 threads, on a line " \
                         "and 16 bytes on) and packed differ", (long long)m, (long long)n,    \
                      (long long)k, ta);                                                      \
                free(raw), free(A), free(R), free(E), free(C[0]), free(C[1]), free(C[2]);     \
                free(C[3]);                                                                   \
            }                                                                                 \
    }                                                                                         \
                                                                                              \
    /* A's rows a multiple of 4 KiB apart (gemm.c, a_in_place_applies): read in place on an  \
     * L1 of 16 ways, packed on one of 8 (nni_l1d_ways_set); either way gemm_naive's values  \
     * and the same bits on 1-3 threads (the kernels read A in place with the bits of A      \
     * packed: test_in_place). W4-like products of 256 rows, and one short of a tile.     */ \
    static void test_a_rows_a_way_apart_##S(void)                                             \
    {                                                                                         \
        static const int64_t shapes[][3] = {{256, 200, 4096 / sizeof(T)},                     \
                                            {77, 96, 8192 / sizeof(T)}};                      \
        int s, ways;                                                                          \
        for (ways = 8; ways <= 16; ways += 8)                                                 \
            for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {                   \
                nni_l1d_ways_set(ways);                                                       \
                nn_set_num_threads(2);                                                        \
                check_gemm_##S(shapes[s][0], shapes[s][1], shapes[s][2], 0, 0, 1, 0, 0);      \
                check_threads_ep_##S(shapes[s][0], shapes[s][1], shapes[s][2], 0, 0, 0);      \
            }                                                                                 \
        nni_l1d_ways_set(0);                                                                  \
        nn_set_num_threads(1);                                                                \
    }                                                                                         \
                                                                                              \
    /* A short C from a long k (gemm_parallel.c, gemm_k_split): C = (beta C + the first half  \
     * of k's blocks) + the second half's. The halves computed apart by the same gemm with    \
     * the other half of op(A) zeroed (x * 0 terms add nothing: the same shape, the same      \
     * blocks), summed here: the same bits as the product, on 1, 2 and 3 threads; a product   \
     * summed over k in one run, with no split, gives other last bits and fails. Shapes up to \
     * 128 rows with k in 2 or more blocks split (k 2000: more than any kernel's KC), 129     \
     * rows do not. */                                                                        \
    static void test_k_split_##S(void)                                                        \
    {                                                                                         \
        static const int64_t shapes[][3] = {{64, 256, 784}, {37, 96, 2000}, {128, 64, 2000},  \
                                            {9, 112, 2600}, {100, 200, 2000}, {129, 64, 2000}}; \
        int s, t, tr;                                                                         \
        for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                         \
            for (tr = 0; tr < 4; tr++) {                                                      \
                const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];           \
                const int ta = tr & 1, tb = tr >> 1;                                          \
                const int64_t ks = nni_gemm_k_split_at_##S(m, n, k, ta, tb);                  \
                T *A = (T *)malloc((size_t)(m * k) * sizeof(T));                              \
                T *Alo = (T *)malloc((size_t)(m * k) * sizeof(T));                            \
                T *Ahi = (T *)malloc((size_t)(m * k) * sizeof(T));                            \
                T *B = (T *)malloc((size_t)(k * n) * sizeof(T));                              \
                T *C0 = (T *)malloc((size_t)(m * n) * sizeof(T));                             \
                T *C[3], *L = (T *)malloc((size_t)(m * n) * sizeof(T));                       \
                T *H = (T *)malloc((size_t)(m * n) * sizeof(T));                              \
                int64_t i, p, differ = 0;                                                     \
                CHECK(m > 128 ? ks == 0 : k < 2000 || (ks > 0 && ks < k),                     \
                      #S " %lldx%lldx%lld: k split at %lld", (long long)m, (long long)n,      \
                      (long long)k, (long long)ks);                                           \
                /* equal halves of k blocks: two threads take as long as each other */        \
                CHECK(ks == 0 || (ks >= k - ks && 4 * (k - ks) >= 3 * ks),                    \
                      #S " %lldx%lldx%lld: k halves %lld and %lld", (long long)m,             \
                      (long long)n, (long long)k, (long long)ks, (long long)(k - ks));        \
                for (i = 0; i < m * k; i++) A[i] = (T)uniform();                              \
                for (i = 0; i < k * n; i++) B[i] = (T)uniform();                              \
                for (i = 0; i < m * n; i++) C0[i] = (T)uniform();                             \
                for (i = 0; i < m; i++) /* op(A)[i, p] zeroed in one half or the other */     \
                    for (p = 0; p < k; p++) {                                                 \
                        const int64_t at = ta ? p * m + i : i * k + p;                        \
                        Alo[at] = p < ks ? A[at] : (T)0;                                      \
                        Ahi[at] = p < ks ? (T)0 : A[at];                                      \
                    }                                                                         \
                for (t = 0; t < 3; t++) {                                                     \
                    C[t] = (T *)malloc((size_t)(m * n) * sizeof(T));                          \
                    memcpy(C[t], C0, (size_t)(m * n) * sizeof(T));                            \
                    nn_set_num_threads(t + 1);                                                \
                    CHECK(nn_gemm_##S(C[t], A, B, m, n, k, ta, tb, 1, (T)0.5, NULL) == NN_OK,  \
                          "gemm failed");                                                     \
                }                                                                             \
                nn_set_num_threads(1);                                                        \
                memcpy(L, C0, (size_t)(m * n) * sizeof(T));                                   \
                CHECK(nn_gemm_##S(L, Alo, B, m, n, k, ta, tb, 1, (T)0.5, NULL) == NN_OK &&    \
                          nn_gemm_##S(H, Ahi, B, m, n, k, ta, tb, 1, 0, NULL) == NN_OK,       \
                      "gemm failed");                                                         \
                for (i = 0; i < m * n; i++) differ += C[0][i] != L[i] + H[i];                 \
                if (ks > 0)                                                                   \
                    CHECK(differ == 0,                                                        \
                          #S " %lldx%lldx%lld ta %d tb %d, k split at %lld: %lld of C not "   \
                             "(first half) + (second half)", (long long)m, (long long)n,      \
                          (long long)k, ta, tb, (long long)ks, (long long)differ);            \
                CHECK(memcmp(C[0], C[1], (size_t)(m * n) * sizeof(T)) == 0 &&                 \
                          memcmp(C[0], C[2], (size_t)(m * n) * sizeof(T)) == 0,               \
                      #S " %lldx%lldx%lld ta %d tb %d: 1, 2, 3 threads differ", (long long)m, \
                      (long long)n, (long long)k, ta, tb);                                    \
                free(A), free(Alo), free(Ahi), free(B), free(C0), free(L), free(H);           \
                free(C[0]), free(C[1]), free(C[2]);                                           \
            }                                                                                 \
    }                                                                                         \
                                                                                              \
    /* B packed by the first row panel's kernels as they read it (gemm.c's b_packing, where  \
     * the set has such kernels) against B packed in a pass of its own: the same bits, on 1  \
     * and 2 threads, with the machine's blocks and small ones (several k and column blocks, \
     * a partial last panel), m below, at and above one row panel, B on a line and 16 bytes \
     * past one, alpha and beta, the epilogue; and within the bound of gemm_naive. */         \
    static void test_b_packing_##S(void)                                                      \
    {                                                                                         \
        /* each takes the blocked path with B packed (none is small enough for the direct   \
         * kernels, B read in place, narrow or transposed): 5 rows, one row panel of 8, more */ \
        static const int64_t shapes[][3] = {{257, 300, 301}, {5, 300, 1000}, {8, 100, 1400},  \
                                            {130, 1030, 67}, {64, 512, 600}, {100, 200, 520}}; \
        int s, v, t, b;                                                                       \
        if (!nni_gemm_kernel_get()->ukr_bpack_##S) return; /* packs B in a pass: as below */   \
        for (b = 0; b < 2; b++) {                                                             \
            nni_gemm_blocking_set(b ? 100 : 0, b ? 37 : 0, b ? 100 : 0);                      \
            for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                     \
                for (v = 0; v < 4; v++) {                                                     \
                    const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];       \
                    const T alpha = v & 1 ? (T)0.5 : (T)1, beta = v & 1 ? (T)0.25 : 0;        \
                    char *raw = (char *)malloc((size_t)(k * n) * sizeof(T) + 128);            \
                    T *B = (T *)((((uintptr_t)raw + 63) & ~(uintptr_t)63) + (v & 2 ? 16 : 0)); \
                    T *A = (T *)malloc((size_t)(m * k) * sizeof(T));                          \
                    T *C0 = (T *)malloc((size_t)(m * n) * sizeof(T));                         \
                    T *C[4];                                                                  \
                    int64_t i;                                                                \
                    for (i = 0; i < m * k; i++) A[i] = (T)uniform();                          \
                    for (i = 0; i < k * n; i++) B[i] = (T)uniform();                          \
                    for (i = 0; i < m * n; i++) C0[i] = (T)uniform();                         \
                    for (t = 0; t < 4; t++) { /* on / off, 1 / 2 threads */                   \
                        C[t] = (T *)malloc((size_t)(m * n) * sizeof(T));                      \
                        memcpy(C[t], C0, (size_t)(m * n) * sizeof(T));                        \
                        nni_gemm_b_packing_set(!(t & 1));                                     \
                        nn_set_num_threads(1 + (t >> 1));                                     \
                        CHECK(nn_gemm_##S(C[t], A, B, m, n, k, 0, 0, alpha, beta, NULL) ==    \
                                  NN_OK,                                                      \
                              "gemm failed");                                                 \
                    }                                                                         \
                    nni_gemm_b_packing_set(1);                                                \
                    nn_set_num_threads(1);                                                    \
                    for (t = 1; t < 4; t++)                                                   \
                        CHECK(memcmp(C[0], C[t], (size_t)(m * n) * sizeof(T)) == 0,           \
                              #S " %lldx%lldx%lld blocks %d variant %d: B packed while read " \
                                 "and packed first (1, 2 threads) differ (%d)",               \
                              (long long)m, (long long)n, (long long)k, b, v, t);             \
                    if (v == 3) check_gemm_##S(m, n, k, 0, 0, alpha, beta, 1);                 \
                    free(raw), free(A), free(C0);                                             \
                    for (t = 0; t < 4; t++) free(C[t]);                                       \
                }                                                                             \
        }                                                                                     \
        nni_gemm_blocking_set(0, 0, 0);                                                       \
    }                                                                                         \
                                                                                              \
    /* A^T read in place (gemm.c, a_in_place_applies: A stored (k, m), the B-in-L1 order,     \
     * alpha 1 or a power of two, which then scales B as it is packed) against A^T packed     \
     * (nni_gemm_a_t_in_place_set(0)): the same bits, on 1 and 2 threads, and gemm_naive's    \
     * values. Full and edge panels (n = 48 j + 16, + 32), a last row panel short of the      \
     * tile, one and several k blocks, B read in place (C of 128 rows), packed by the first   \
     * row panel's kernels and packed first (B^T), alpha 1, a power of two and not, beta. */  \
    static void test_a_t_in_place_##S(void)                                                   \
    {                                                                                         \
        static const int64_t shapes[][3] = {{256, 128, 64}, {250, 130, 70}, {128, 256, 64},   \
                                            {784, 256, 64}, {200, 100, 400}, {17, 250, 130}}; \
        static const T alphas[] = {1, (T)0.25, (T)0.75};                                      \
        int s, tb, ai, t;                                                                     \
        for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                         \
            for (tb = 0; tb < 2; tb++)                                                        \
                for (ai = 0; ai < 3; ai++) {                                                  \
                    const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];       \
                    const T alpha = alphas[ai], beta = (s + ai) % 2 ? (T)0.5 : 0;             \
                    T *A = (T *)malloc((size_t)(m * k) * sizeof(T));                          \
                    T *B = (T *)malloc((size_t)(k * n) * sizeof(T));                          \
                    T *C0 = (T *)malloc((size_t)(m * n) * sizeof(T));                         \
                    T *C[3];                                                                  \
                    int64_t i;                                                                \
                    for (i = 0; i < m * k; i++) A[i] = (T)uniform();                          \
                    for (i = 0; i < k * n; i++) B[i] = (T)uniform();                          \
                    for (i = 0; i < m * n; i++) C0[i] = (T)uniform();                         \
                    for (t = 0; t < 3; t++) { /* in place on 1, 2 threads; packed */          \
                        C[t] = (T *)malloc((size_t)(m * n) * sizeof(T));                      \
                        memcpy(C[t], C0, (size_t)(m * n) * sizeof(T));                        \
                        nni_gemm_a_t_in_place_set(t < 2);                                     \
                        nn_set_num_threads(t == 1 ? 2 : 1);                                   \
                        CHECK(nn_gemm_##S(C[t], A, B, m, n, k, 1, tb, alpha, beta, NULL) ==   \
                                  NN_OK,                                                      \
                              "gemm failed");                                                 \
                    }                                                                         \
                    nni_gemm_a_t_in_place_set(1);                                             \
                    nn_set_num_threads(1);                                                    \
                    for (t = 1; t < 3; t++)                                                   \
                        CHECK(memcmp(C[0], C[t], (size_t)(m * n) * sizeof(T)) == 0,           \
                              #S " %lldx%lldx%lld tb %d alpha %g: A^T in place (1 thread) "   \
                                 "and %s differ",                                             \
                              (long long)m, (long long)n, (long long)k, tb, (double)alpha,    \
                              t == 1 ? "in place on 2 threads" : "packed");                   \
                    check_gemm_##S(m, n, k, 1, tb, alpha, beta, 0);                           \
                    free(A), free(B), free(C0);                                               \
                    for (t = 0; t < 3; t++) free(C[t]);                                       \
                }                                                                             \
    }                                                                                         \
    /* Products too large to share a whole packed operand (made so here by a small limit and \
     * small blocks: several column and k blocks): one block of op(B) at a time, shared, C's   \
     * rows split (gemm_parallel.c, gemm_parallel_blocks), or in the other loop order one      \
     * block of op(A), C's columns split; a product whose column runs read A                   \
     * in place (gemm.c's a_in_place_applies) takes the runs instead (test_in_place_runs).     \
     * Against gemm_naive on 3 threads, with and without alpha, beta, the epilogue, every      \
     * transposition; the same bits on 1-3.                                                    \
     */                                                                                        \
    static void test_block_split_##S(void)                                                    \
    {                                                                                         \
        static const int64_t shapes[][3] = {{257, 300, 301}, {130, 1030, 67}, {512, 256, 256}}; \
        int s, t, w;                                                                          \
        nni_gemm_shared_max_set(4096);                                                        \
        nni_gemm_blocking_set(100, 37, 70);                                                   \
        for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                         \
            for (t = 0; t < 8; t++) {                                                         \
                nn_set_num_threads(3);                                                        \
                check_gemm_##S(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, (t >> 1) & 1, \
                               t & 4 ? (T)0.5 : (T)1, t & 4 ? (T)0.25 : 0, t & 1);            \
                if (t < 4)                                                                    \
                    check_threads_##S(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1); \
            }                                                                                 \
        /* the machine's blocks, then a block of B as wide as C's columns (Zen 4's for a     \
         * plain product, here on every machine), with one part of C's columns a thread      \
         * (dispatch.c, B_WIDE_MAX_BYTES; gemm.c); plain / with the epilogue alike */         \
        for (w = 0; w < 2; w++) {                                                             \
            nni_gemm_blocking_set(0, 0, w ? 4096 : 0);                                        \
            for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                     \
                for (t = 0; t < 8; t++) {                                                     \
                    nn_set_num_threads(3);                                                    \
                    check_gemm_##S(shapes[s][0], shapes[s][1], shapes[s][2], t & 1,           \
                                   (t >> 1) & 1, t & 4 ? (T)0.5 : (T)1, t & 4 ? (T)0.25 : 0,  \
                                   t >> 2);                                                   \
                    if (t < 4)                                                                \
                        check_threads_ep_##S(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, \
                                             t >> 1, 0);                                      \
                }                                                                             \
        }                                                                                     \
        nni_gemm_blocking_set(0, 0, 0);                                                       \
        nni_gemm_shared_max_set(0);                                                           \
        nn_set_num_threads(1);                                                                \
    }                                                                                         \
                                                                                              \
    /* A product too large to share its packed A whose runs read A in place (gemm.c,       \
     * gemm_parallel: nothing to share) splits C's columns in one parallel loop, not the     \
     * two loops a block of gemm_parallel_blocks; with A packed it takes the blocks. The     \
     * core's profile counts the loops; the bits are those of one thread either way. C of    \
     * more rows than a k split takes (KSPLIT_MAX_M), one k block and several.             */ \
    static void test_in_place_runs_##S(void)                                                  \
    {                                                                                         \
        static const int64_t shapes[][3] = {{256, 1024, 300}, {136, 2000, 700}};             \
        int s, ta, t;                                                                         \
        nni_gemm_shared_max_set(4096);                                                        \
        for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)                         \
            for (ta = 0; ta < 2; ta++) {                                                      \
                const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];           \
                const int in_place = nni_gemm_a_in_place_##S(m, n, k, ta, 0, 1);              \
                T *A = (T *)malloc((size_t)(m * k) * sizeof(T));                              \
                T *B = (T *)malloc((size_t)(k * n) * sizeof(T));                              \
                T *C[2];                                                                      \
                nn_profile_row row;                                                           \
                int64_t i;                                                                    \
                for (i = 0; i < m * k; i++) A[i] = (T)uniform();                              \
                for (i = 0; i < k * n; i++) B[i] = (T)uniform();                              \
                for (t = 0; t < 2; t++) {                                                     \
                    C[t] = (T *)malloc((size_t)(m * n) * sizeof(T));                          \
                    nn_set_num_threads(t + 1);                                                \
                    if (t) nn_profile_start();                                                \
                    CHECK(nn_gemm_##S(C[t], A, B, m, n, k, ta, 0, 1, 0, NULL) == NN_OK,       \
                          "gemm failed");                                                     \
                }                                                                             \
                CHECK(nn_profile_stop(&row, 1) == 1, "no profile row");                       \
                CHECK(in_place ? row.loops == 1 : row.loops > 1,                              \
                      #S " %lldx%lldx%lld ta %d: A %s, %lld parallel loops on 2 threads",     \
                      (long long)m, (long long)n, (long long)k, ta,                           \
                      in_place ? "in place" : "packed", (long long)row.loops);                \
                CHECK(memcmp(C[0], C[1], (size_t)(m * n) * sizeof(T)) == 0,                   \
                      #S " %lldx%lldx%lld ta %d: 1 and 2 threads differ", (long long)m,       \
                      (long long)n, (long long)k, ta);                                        \
                check_gemm_##S(m, n, k, ta, 0, 1, 0, 0);                                      \
                free(A), free(B), free(C[0]), free(C[1]);                                     \
            }                                                                                 \
        nni_gemm_shared_max_set(0);                                                           \
        nn_set_num_threads(1);                                                                \
    }                                                                                         \
                                                                                              \
    /* Planned products (gemm_plan: op(B) packed once for many A) against gemm: the same    \
     * bits for the planned row count, through gemm for other counts and for the shapes gemm  \
     * does not take the blocked path for (those not planned), the epilogue fused. */        \
    static void test_plan_##S(void)                                                           \
    {                                                                                         \
        static const int64_t shapes[][3] = {{256, 256, 784}, {256, 128, 256}, {130, 200, 300}, \
                                            {256, 10, 128},  {70, 33, 64},   {5, 7, 3}};      \
        int s, r;                                                                             \
        for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {                       \
            const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];               \
            T *A = (T *)malloc((size_t)(m * k) * sizeof(T));                                  \
            T *B = (T *)malloc((size_t)(k * n) * sizeof(T));                                  \
            T *bias = (T *)malloc((size_t)n * sizeof(T));                                     \
            T *C0 = (T *)malloc((size_t)(m * n) * sizeof(T));                                 \
            T *C1 = (T *)malloc((size_t)(m * n) * sizeof(T));                                 \
            NN_##S##_EPILOGUE ep;                                                             \
            nni_gemm_plan_##S plan;                                                           \
            int64_t i;                                                                        \
            for (i = 0; i < m * k; i++) A[i] = (T)uniform();                                  \
            for (i = 0; i < k * n; i++) B[i] = (T)uniform();                                  \
            for (i = 0; i < n; i++) bias[i] = (T)uniform();                                   \
            ep.bias = bias;                                                                   \
            ep.act = NN_ACT_RELU;                                                             \
            ep.deriv_of = NULL;                                                               \
            ep.deriv_act = NN_ACT_IDENTITY;                                                   \
            CHECK(nni_gemm_plan_init_##S(&plan, B, m, n, k, 1) == NN_OK, "plan failed");         \
            if (s < 3) /* blocked, not transposed: planned with every kernel */               \
                CHECK(plan.bp != NULL, #S " %lldx%lldx%lld not planned", (long long)m,        \
                      (long long)n, (long long)k);                                            \
            for (r = 0; r < 2; r++) {                                                         \
                const int64_t rows = r == 0 ? m : (m + 1) / 2;                                \
                CHECK(nn_gemm_##S(C0, A, B, rows, n, k, 0, 0, 1, 0, &ep) == NN_OK &&          \
                          nni_gemm_planned_##S(C1, A, &plan, rows, &ep) == NN_OK,             \
                      "gemm failed");                                                         \
                CHECK(memcmp(C0, C1, (size_t)(rows * n) * sizeof(T)) == 0,                    \
                      #S " planned %lldx%lldx%lld: not gemm's bits", (long long)rows,         \
                      (long long)n, (long long)k);                                            \
            }                                                                                 \
            nni_gemm_plan_free_##S(&plan);                                                    \
            free(A), free(B), free(bias), free(C0), free(C1);                                 \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    /* sgd (plain, nesterov) and adam over a vector long enough to be split: the same bits on \
     * 1, 2 and 3 threads, and the values of the update written out here. */                  \
    static void test_optim_threads_##S(void)                                                  \
    {                                                                                         \
        const int64_t count = 200003;                                                         \
        T *g = (T *)malloc((size_t)count * sizeof(T));                                        \
        T *w[3], *s1[3], *s2[3];                                                              \
        int64_t i;                                                                            \
        int t, kind, bad;                                                                     \
        for (i = 0; i < count; i++) g[i] = (T)uniform();                                      \
        for (kind = 0; kind < 3; kind++) {                                                    \
            for (t = 0; t < 3; t++) {                                                         \
                w[t] = (T *)malloc((size_t)count * sizeof(T));                                \
                s1[t] = (T *)malloc((size_t)count * sizeof(T));                               \
                s2[t] = (T *)malloc((size_t)count * sizeof(T));                               \
                for (i = 0; i < count; i++)                                                   \
                    w[t][i] = (T)(i % 97) / 97, s1[t][i] = (T)(i % 13) / 50,                  \
                    s2[t][i] = (T)(i % 11) / 40;                                              \
                nn_set_num_threads(t + 1);                                                    \
                CHECK((kind < 2 ? nn_sgd_update_##S(w[t], s1[t], g, count, 0.01, 0.9, kind)   \
                                : nn_adam_update_##S(w[t], s1[t], s2[t], g, count, 3, 0.01,   \
                                                     0.9, 0.999, 1e-8)) == NN_OK,             \
                      "optimizer step failed");                                               \
            }                                                                                 \
            for (t = 1; t < 3; t++)                                                           \
                CHECK(memcmp(w[0], w[t], (size_t)count * sizeof(T)) == 0 &&                   \
                          memcmp(s1[0], s1[t], (size_t)count * sizeof(T)) == 0 &&             \
                          memcmp(s2[0], s2[t], (size_t)count * sizeof(T)) == 0,               \
                      #S " optimizer %d: %d threads change the bits", kind, t + 1);           \
            for (i = 0, bad = 0; i < count; i++) { /* the update, in double */                \
                const double w0 = (double)(T)((T)(i % 97) / 97), gi = (double)g[i];           \
                const double m0 = (double)(T)((T)(i % 13) / 50);                              \
                const double v0 = (double)(T)((T)(i % 11) / 40);                              \
                double want;                                                                  \
                if (kind < 2) {                                                               \
                    const double v = 0.9 * m0 - 0.01 * gi;                                    \
                    want = w0 + (kind ? 0.9 * v - 0.01 * gi : v);                             \
                } else {                                                                      \
                    const double m = 0.9 * m0 + 0.1 * gi, v = 0.999 * v0 + 0.001 * gi * gi;   \
                    const double lr_t = 0.01 * sqrt(1 - pow(0.999, 3)) / (1 - pow(0.9, 3));   \
                    want = w0 - lr_t * m / (sqrt(v) + 1e-8);                                  \
                }                                                                             \
                if (!(fabs((double)w[0][i] - want) <= 64 * EPS * (1 + fabs(want)))) bad++;    \
            }                                                                                 \
            CHECK(bad == 0, #S " optimizer %d: %d values off the update", kind, bad);         \
            for (t = 0; t < 3; t++) free(w[t]), free(s1[t]), free(s2[t]);                     \
        }                                                                                     \
        free(g);                                                                              \
    }

#define NN_f32_EPILOGUE nn_epilogue_f32
#define NN_f64_EPILOGUE nn_epilogue_f64
DEFINE_TYPED_TESTS(float, f32, FLT_EPSILON)
DEFINE_TYPED_TESTS(double, f64, DBL_EPSILON)

int main(void)
{
    static const char *const names[] = {"portable", "avx2", "avx512", "avx512_12x32", "neon"};
    const int threads = nn_get_num_threads();
    int i, order, ran = 0;
    for (i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        const nni_gemm_kernel *kr;
        if (nni_gemm_kernel_select(names[i]) != NN_OK) {
            printf("gemm kernel %s: not available on this build and CPU\n", names[i]);
            continue;
        }
        kr = nni_gemm_kernel_get();
        printf("gemm kernel %s: packer f32 %s, f64 %s\n", kr->name,
               kr->pack_t_f32 ? "simd" : "portable", kr->pack_t_f64 ? "simd" : "portable");
        if (kr->pack_t_f32) {
            const int widths[] = {kr->mr_f32, kr->nr_f32, kr->vl_f32 ? kr->vl_f32 : 1,
                                  kr->vl_f32 * kr->narrow_vecs_f32 + !kr->vl_f32, 1, 5};
            test_pack_t_f32(kr->pack_t_f32, widths, 6);
        }
        if (kr->pack_t_f64) {
            const int widths[] = {kr->mr_f64, kr->nr_f64, kr->vl_f64 ? kr->vl_f64 : 1,
                                  kr->vl_f64 * kr->narrow_vecs_f64 + !kr->vl_f64, 1, 5};
            test_pack_t_f64(kr->pack_t_f64, widths, 6);
        }
        /* few_rows (gemm.c takes it for a C of at most its mr rows) must pad fewer rows */
        CHECK(!kr->few_rows || (kr->few_rows->mr_f32 > kr->mr_f32 &&
                                kr->few_rows->mr_f64 > kr->mr_f64 && !kr->few_rows->few_rows),
              "kernel %s: its few_rows set has no taller tiles", kr->name);
        if (kr->narrow_bip_f32)
            test_narrow_bip_f32(kr->narrow_f32, kr->narrow_bip_f32, kr->mr_f32,
                                kr->vl_f32 * kr->narrow_vecs_f32);
        if (kr->narrow_bip_f64)
            test_narrow_bip_f64(kr->narrow_f64, kr->narrow_bip_f64, kr->mr_f64,
                                kr->vl_f64 * kr->narrow_vecs_f64);
        test_edge_f32(kr->ukr_f32, kr->edge_f32, kr->mr_f32, kr->nr_f32, kr->vl_f32,
                      kr->ukr_ip_f32, kr->edge_ip_f32, kr->ukr_atp_f32, kr->edge_atp_f32);
        test_edge_f64(kr->ukr_f64, kr->edge_f64, kr->mr_f64, kr->nr_f64, kr->vl_f64,
                      kr->ukr_ip_f64, kr->edge_ip_f64, kr->ukr_atp_f64, kr->edge_atp_f64);
        for (order = 0; order < 2; order++) { /* both loop orders (nni_gemm_blocking) */
            nni_gemm_loop_order_set(order);
            nn_set_num_threads(1);
            test_gemm_shapes_f32();
            test_gemm_shapes_f64();
            test_threads_f32();
            test_threads_f64();
            test_b_in_place_f32();
            test_b_in_place_f64();
            test_b_packing_f32();
            test_b_packing_f64();
            test_a_t_in_place_f32();
            test_a_t_in_place_f64();
            test_a_rows_a_way_apart_f32();
            test_a_rows_a_way_apart_f64();
            test_k_split_f32();
            test_k_split_f64();
            test_block_split_f32();
            test_block_split_f64();
            test_in_place_runs_f32();
            test_in_place_runs_f64();
            test_plan_f32();
            test_plan_f64();
        }
        /* B streamed through one panel (gemm.c's b_stream) wherever B is packed by the first
         * row panel's kernels and A stored (m, k), whatever the sizes: against gemm_naive,
         * and (test_b_packing) bit for bit against B packed first in the A-in-L1 order */
        nni_gemm_loop_order_set(2);
        nn_set_num_threads(1);
        test_gemm_shapes_f32();
        test_gemm_shapes_f64();
        test_threads_f32();
        test_threads_f64();
        test_b_packing_f32();
        test_b_packing_f64();
        test_k_split_f32();
        test_k_split_f64();
        test_block_split_f32();
        test_block_split_f64();
        test_plan_f32();
        test_plan_f64();
        nni_gemm_loop_order_set(-1);
        ran++;
    }
    test_optim_threads_f32();
    test_optim_threads_f64();
    nn_set_num_threads(threads);
    CHECK(ran >= 1, "no kernel ran");
    if (g_failures) {
        printf("%d gemm checks failed\n", g_failures);
        return 1;
    }
    printf("all gemm checks passed (%d kernel sets)\n", ran);
    return 0;
}
