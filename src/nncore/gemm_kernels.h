/* The GEMM's machinery below gemm.c, part of internal.h, which includes it: the
 * micro-kernels' types and their table (one entry per instruction set, gemm_kernels_*.c),
 * the packers' helpers, bfloat16 rounding and packing, the blocking and the kernel's choice
 * (dispatch.c), the sets this build compiles, and the untyped entry points the C tests and
 * the network code call (the direct products, the k halves, planned products). */
#ifndef NNCORE_GEMM_KERNELS_H
#define NNCORE_GEMM_KERNELS_H

/* c (mr x nr, row stride ldc) = beta c + sum_p a[p mr + i] b[p nr + j], summed over
 * p = 0 .. kc-1 in order from 0; with beta == 0, c is never read. a and b are packed
 * micro-panels (gemm_pack.c), zero-padded to mr rows and nr columns.                      */
typedef void (*nni_ukr_f32)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                            float beta);
typedef void (*nni_ukr_f64)(int64_t kc, const double *a, const double *b, double *c,
                            int64_t ldc, double beta);
/* The same with A read in place: row i of the tile's A at a + i lda (A stored (m, k), alpha
 * 1), the same sums as the kernel on the packed panel.                                     */
typedef void (*nni_ukr_ip_f32)(int64_t kc, const float *a, int64_t lda, const float *b,
                               float *c, int64_t ldc, float beta);
typedef void (*nni_ukr_ip_f64)(int64_t kc, const double *a, int64_t lda, const double *b,
                               double *c, int64_t ldc, double beta);
/* The same with B read in place too: row p of the tile's B at b + p ldb (B stored (k, n));
 * A in place as above, or, lda == 0, the packed panel a.                                   */
typedef void (*nni_ukr_bip_f32)(int64_t kc, const float *a, int64_t lda, const float *b,
                                int64_t ldb, float *c, int64_t ldc, float beta);
typedef void (*nni_ukr_bip_f64)(int64_t kc, const double *a, int64_t lda, const double *b,
                                int64_t ldb, double *c, int64_t ldc, double beta);
/* The same with B read in place (as nni_ukr_bip_*) and each of its rows also copied, as read,
 * into the packed panel bp (row p at bp + p nr): the sums of the kernel on the panel, and the
 * panel the packing would write (gemm_blocked.c's first row panel of A, gemm_ukr_simd.h).   */
typedef void (*nni_ukr_bpack_f32)(int64_t kc, const float *a, int64_t lda, const float *b,
                                  int64_t ldb, float *bp, float *c, int64_t ldc, float beta);
typedef void (*nni_ukr_bpack_f64)(int64_t kc, const double *a, int64_t lda, const double *b,
                                  int64_t ldb, double *bp, double *c, int64_t ldc, double beta);
/* The narrow kernels: c (mr x w) = beta c + sum_p op(A)[i, p] b[p w + j] over p = 0 .. kc-1
 * in order from 0, A read in place (element (i, p) at a[i ars + p acs]), b one packed panel
 * of w = narrow_vecs vl columns (gemm_kernels_*.c); for C at most w wide.                  */
typedef void (*nni_ukr_narrow_f32)(int64_t kc, const float *a, int64_t ars, int64_t acs,
                                   const float *b, float *c, int64_t ldc, float beta);
typedef void (*nni_ukr_narrow_f64)(int64_t kc, const double *a, int64_t ars, int64_t acs,
                                   const double *b, double *c, int64_t ldc, double beta);
/* The narrow kernels with B read in place (B stored (k, n), alpha 1): row p of B at b + p ldb,
 * its first n <= w columns loaded with masks; the same sums, so the same bits, as the packed
 * kernels on B's columns padded with zeros (gemm_ukr_simd.h).                               */
typedef void (*nni_ukr_narrow_bip_f32)(int64_t kc, const float *a, int64_t ars, int64_t acs,
                                       const float *b, int64_t ldb, int64_t n, float *c,
                                       int64_t ldc, float beta);
typedef void (*nni_ukr_narrow_bip_f64)(int64_t kc, const double *a, int64_t ars, int64_t acs,
                                       const double *b, int64_t ldb, int64_t n, double *c,
                                       int64_t ldc, double beta);
/* The transposing panel packers (gemm_pack_<isa>.c; NULL: the portable loop of gemm_pack.c):
 * dst[p w + j] = alpha src[j ld + p] for j < rows, 0 for rows <= j < w, p = 0 .. kc-1: a
 * panel of w lanes from `rows` rows of a row-major matrix (A's rows for op(A) = A, B's rows
 * for op(B) = B^T), the same bits as the portable loop.                                    */
typedef void (*nni_pack_t_f32)(float *restrict dst, const float *restrict src, int64_t ld,
                               int64_t kc, int w, int rows, float alpha);
typedef void (*nni_pack_t_f64)(double *restrict dst, const double *restrict src, int64_t ld,
                               int64_t kc, int w, int rows, double alpha);
/* The optimizer's elementwise steps (optim_step.h) compiled for a set's instruction set
 * (optim_step_avx2.c, which the avx512 sets take too; NULL: optim.c's baseline build): sgd
 * with momentum over elements i0 .. i1-1, and adam's; alpha != 0: each element's gradient with
 * the L2 term (alpha w) / m (inv = 1 / m when exact, else 0; optim_step.h's _l2 steps). Every
 * element takes the same operations, never contracted into FMAs, so the bits are the
 * baseline's at any vector width. */
typedef void (*nni_sgd_step_f32)(float *w, float *v, const float *g, int64_t i0, int64_t i1,
                                 float mu, float eta, int nesterov, float alpha, float m,
                                 float inv);
typedef void (*nni_sgd_step_f64)(double *w, double *v, const double *g, int64_t i0,
                                 int64_t i1, double mu, double eta, int nesterov, double alpha,
                                 double m, double inv);
typedef void (*nni_adam_step_f32)(float *w, float *m, float *v, const float *g, int64_t i0,
                                  int64_t i1, float b1, float c1, float b2, float c2,
                                  float step, float eps, float alpha, float bm, float inv);
typedef void (*nni_adam_step_f64)(double *w, double *m, double *v, const double *g,
                                  int64_t i0, int64_t i1, double b1, double c1, double b2,
                                  double c2, double step, double eps, double alpha, double bm,
                                  double inv);
#define NNI_UKR_MAX_EDGE 2 /* edge kernels of a kernel set: 1 and 2 vectors (of 8 x 48's 3) */
typedef struct nni_gemm_kernel {
    const char *name;                 /* the NNFAST_GEMM_KERNEL value: "avx2"               */
    const char *label_f32, *label_f64; /* for nn_get_build_info: "avx2+fma 6x16"            */
    int mr_f32, nr_f32, mr_f64, nr_f64;
    nni_ukr_f32 ukr_f32;
    nni_ukr_f64 ukr_f64;
    /* the narrow kernels (NULL: none): mr_* rows, narrow_vecs_* vectors of vl_* columns;
     * vl_* is also the vector of the edge kernels                                          */
    int vl_f32, vl_f64;
    nni_ukr_narrow_f32 narrow_f32;
    nni_ukr_narrow_f64 narrow_f64;
    nni_pack_t_f32 pack_t_f32; /* the packers that transpose (NULL: portable)           */
    nni_pack_t_f64 pack_t_f64;
    /* edge kernels (NULL: none): edge_*[v] computes the first v + 1 vectors of a full
     * kernel's packed panel (mr rows, b read with the panel's stride nr), the same sums;
     * for a last panel of C's columns that is mostly padding                              */
    nni_ukr_f32 edge_f32[NNI_UKR_MAX_EDGE];
    nni_ukr_f64 edge_f64[NNI_UKR_MAX_EDGE];
    /* the full and edge kernels with A in place (NULL: none; gemm.c packs A)               */
    nni_ukr_ip_f32 ukr_ip_f32, edge_ip_f32[NNI_UKR_MAX_EDGE];
    nni_ukr_ip_f64 ukr_ip_f64, edge_ip_f64[NNI_UKR_MAX_EDGE];
    /* (NULL: none) a set with taller tiles, for a product whose C (as the kernel sees it) has
     * at most its mr rows and would be padded more by this set's: 10 rows are one 12-row
     * panel, two 8-row ones. Chosen per product by its shape alone (gemm.c).              */
    const struct nni_gemm_kernel *few_rows;
    int narrow_vecs_f32, narrow_vecs_f64;
    /* the full and edge kernels with B in place (NULL: none; gemm.c packs B)               */
    nni_ukr_bip_f32 ukr_bip_f32, edge_bip_f32[NNI_UKR_MAX_EDGE];
    nni_ukr_bip_f64 ukr_bip_f64, edge_bip_f64[NNI_UKR_MAX_EDGE];
    /* the narrow kernels with B in place (NULL: none, B is packed; a set with masked loads) */
    nni_ukr_narrow_bip_f32 narrow_bip_f32;
    nni_ukr_narrow_bip_f64 narrow_bip_f64;
    /* the optimizer steps for this set's instruction set (NULL: the baseline's)            */
    nni_sgd_step_f32 sgd_f32;
    nni_sgd_step_f64 sgd_f64;
    nni_adam_step_f32 adam_f32;
    nni_adam_step_f64 adam_f64;
    /* a bfloat16 set's panels (NNI_BF16_PAIRS, NNI_BF16_TILES; 0 for the float sets)     */
    int bf16_layout;
    /* (NULL: none) called on the thread before a block's kernels (gemm_macro_kernel): AMX
     * loads its tile configuration                                                         */
    void (*begin)(void);
    /* (NULL: none) the full kernels that pack B's panel as they read it                     */
    nni_ukr_bpack_f32 ukr_bpack_f32;
    nni_ukr_bpack_f64 ukr_bpack_f64;
    /* (NULL: none) the full and edge kernels with A^T in place: A stored (k, m), the tile's
     * rows side by side in each of A's rows (lda = m); such a set's b_in_place and b_packing
     * kernels take A^T in place as lda = -m                                                */
    nni_ukr_ip_f32 ukr_atp_f32, edge_atp_f32[NNI_UKR_MAX_EDGE];
    nni_ukr_ip_f64 ukr_atp_f64, edge_atp_f64[NNI_UKR_MAX_EDGE];
} nni_gemm_kernel;
/* Packing rows read along (op(B) = B, op(A) = A^T; gemm_pack.c, and the bfloat16 pairs'
 * packer): the source rows this many rows ahead of the one being copied are requested into
 * L2 when each row is a short stretch (at most 2 KiB) on a page of its own (rows 4 KiB apart
 * or more): the hardware prefetchers stop at a page's end and need a few misses to start
 * again, so every row waited for L3 or memory (the AVX-512 order's blocks of B, nc = 288
 * floats: 18 lines, n = 2048: rows 8 KiB apart). perf, 256 x 2048 x 2048 float32 on one
 * thread (Ice Lake Xeon): the packing of B 17 % of the samples without, 13.6 % with 8 rows
 * into L2 (prefetcht1), 16.5 % with 8 rows into L1 (prefetcht0: the L1's few fill buffers
 * fill up), 14.3-14.8 % with 16 or 32 rows into L2; the whole product 1.06x (paired runs,
 * median of 5). Long or contiguous rows (the AVX2 order's nc = n) are left to the hardware:
 * prefetching them too cost the AVX2 kernel 4 %. Returns kc (none ahead) when the rule does
 * not apply. */
static inline int64_t nni_pack_rows_ahead(int64_t row_stride_bytes, int64_t row_bytes,
                                          int64_t kc)
{
    return row_stride_bytes >= 4096 && row_bytes <= 2048 ? 8 : kc;
}

/* How a bfloat16 product packs: pairs of terms, two bfloat16 values a 32-bit word
 * (nni_pack_bf16_pairs), for the vdpbf16ps set (nni_gemm_kernel_bf16), or the float
 * kernels' panels with each value rounded (nni_bf16_round_inplace), on a CPU without
 * AVX512_BF16.                                                                            */
#define NNI_BF16_PAIRS 1
#define NNI_BF16_ROUNDED 2
/* AMX's tiles (gemm_kernels_amx.c): B as the pairs, A's panels in rows of 16 pairs, each
 * lane's pairs rounded up to 16; a product of fewer terms than this takes the float kernels
 * on rounded operands (gemm_prepare) */
#define NNI_BF16_TILES 3
#define NNI_BF16_TILES_MIN_K 32
/* pk: the words a lane takes in a panel, (kc + 1) / 2 or more; those past (kc + 1) / 2 zero */
void nni_pack_bf16_pairs(float *restrict dst, const float *restrict src, int64_t ks,
                         int64_t ls, int64_t kc, int64_t lanes, int w, int64_t pk, float scale);
void nni_pack_bf16_tiles(float *restrict dst, const float *restrict src, int64_t ks,
                         int64_t ls, int64_t kc, int64_t lanes, float scale);
/* Its scalar loop (what nni_pack_bf16_pairs runs in a build without the vdpbf16ps set), and
 * the pairs with AVX512_BF16's conversions (gemm_kernels_avx512bf16.c): the same bits, but
 * for subnormal inputs, which the conversion (and vdpbf16ps) takes as zero. */
void nni_pack_bf16_pairs_scalar(float *restrict dst, const float *restrict src, int64_t ks,
                                int64_t ls, int64_t kc, int64_t lanes, int w, int64_t pk,
                                float scale);
void nni_pack_bf16_pairs_avx512(float *restrict dst, const float *restrict src, int64_t ks,
                                int64_t ls, int64_t kc, int64_t lanes, int w, int64_t pk,
                                float scale);
void nni_bf16_round_inplace(float *x, int64_t count);

/* x rounded to bfloat16 (nearest, ties to even; a NaN stays a NaN): the high 16 bits of the
 * float it returns, the low 16 zero. */
static inline uint32_t nni_bf16_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u | 0x00400000u) >> 16; /* quiet NaN */
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
static inline float nni_bf16_round(float x)
{
    const uint32_t u = nni_bf16_bits(x) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

#define NNI_UKR_MAX_TILE 1024 /* mr * nr of the largest micro-kernel (AMX's 32 x 32) */


/* GEMM blocking in elements (dispatch.c): a kc x nr panel of B fills about half of L1, the
 * mc x kc block of A half of L2, the kc x nc block of B a share of L3 (in the A-in-L1 order:
 * A's mr x kc panel half of L1, B's kc x nc block half of L2 -- on AMD CPUs, for a plain
 * product (wide_b), a share of L3 --, A's mc x kc block a share of L3); mc a multiple of mr,
 * nc of nr. From the caches the CPU reports (sane fallbacks where it reports none); a function
 * of the machine, the kernel, k, the size of C and wide_b, never of the thread count. */
typedef struct {
    int64_t mc, kc, nc;
    /* the loop order (gemm.c): 0, op(B)'s kc x nr panel stays in L1 while the A panels of an
     * mc x kc block in L2 stream past it; 1, A's mr x kc panel stays in L1 while the B panels
     * of a kc x nc block in L2 stream past it (then mc is the L3 block, nc the L2 one)      */
    int a_in_l1;
} nni_gemm_blocking;
/* The widest block of B's columns any blocking takes, in values (rounded down to nr) */
#define NNI_GEMM_NC_MAX 8192
/* The blocking of a product with k terms per C element and C of c_bytes (the loop order
 * depends on both); wide_b: B stored (k, n), and no epilogue or optimizer step on C. */
void nni_gemm_blocking_get(nni_gemm_blocking *bl, int mr, int nr, int elem_bytes, int64_t k,
                           int64_t c_bytes, int wide_b);
/* Tests: use these blocks (rounded to the kernel's mr and nr) instead; all 0 = the machine's. */
void nni_gemm_blocking_set(int64_t mc, int64_t kc, int64_t nc);
/* Tests: force the loop order (0 or 1, or 2: B streamed through one panel where gemm.c's
 * b_stream can, else 1); -1 = the machine's. */
void nni_gemm_loop_order_set(int order);
/* Whether a product the A-in-L1 order would run, with B packed by the first row panel's
 * kernels, streams B through one panel instead (gemm.c's b_stream): A's packed block of all
 * of C's rows of a_bytes, B of b_bytes. */
int nni_gemm_b_stream_applies(int64_t a_bytes, int64_t b_bytes);
/* The L1 data cache's ways (cpuid, or the OS), 0 when unknown. Tests: _set(ways), 0 = the
 * machine's. */
int nni_l1d_ways(void);
void nni_l1d_ways_set(int ways);
/* Bytes up to which a parallel product packs a whole operand once and shares it (16 MiB);
 * beyond, it shares one block of op(B) at a time. Tests: _set(bytes), 0 = the default.     */
int64_t nni_gemm_shared_max(void);
void nni_gemm_shared_max_set(int64_t bytes);
/* Whether the first row panel's kernels pack B as they read it (gemm.c's b_packing) where
 * the kernel set can; tests and benchmarks: _set(0) packs B in a pass of its own, as before. */
int nni_gemm_b_packing_off(void);
void nni_gemm_b_packing_set(int on);
/* Tests: _set(0) packs B where gemm.c would read it in place (b_in_place_applies). */
int nni_gemm_b_in_place_off(void);
void nni_gemm_b_in_place_set(int on);
/* Tests: _set(0) packs A^T where gemm.c would read it in place (a_in_place_applies). */
int nni_gemm_a_t_in_place_off(void);
void nni_gemm_a_t_in_place_set(int on);

/* The kernel chosen once (dispatch.c): NNFAST_GEMM_KERNEL when it is available on this CPU,
 * else the best the CPU supports.                                                           */
const nni_gemm_kernel *nni_gemm_kernel_get(void);
/* Tests and debugging: switch to the kernel called name; NN_EINVAL when it is unknown or
 * this CPU / build cannot run it (the kernel in use is then unchanged).                    */
int nni_gemm_kernel_select(const char *name);
/* The set with vdpbf16ps (dispatch.c) where this build has it, the CPU runs it and the chosen
 * set is AVX-512's; else NULL, and bfloat16 products run the chosen set's float kernels on
 * operands rounded while packed. */
const nni_gemm_kernel *nni_gemm_kernel_bf16(void);
/* Tests and benchmarks: the bfloat16 set by name ("amx", "avx512bf16"), when this build and
 * CPU run it beside the chosen float set; NULL: the best again. NN_EINVAL when it does not
 * run (the set in use is then unchanged). NNFAST_BF16_KERNEL names it too. */
int nni_gemm_kernel_bf16_select(const char *name);


/* The kernel sets compiled into this build (gemm_kernels_*.c).                            */
extern const nni_gemm_kernel nni_kernel_portable;
extern const nni_gemm_kernel nni_kernel_avx512bf16; /* NN_HAVE_KERNEL_AVX512BF16 */
extern const nni_gemm_kernel nni_kernel_amx;        /* NN_HAVE_KERNEL_AMX */
#ifdef NN_HAVE_KERNEL_AVX2
extern const nni_gemm_kernel nni_kernel_avx2;
void nni_pack_t_avx2_f32(float *restrict dst, const float *restrict src, int64_t ld, int64_t kc,
                         int w, int rows, float alpha);
void nni_sgd_step_avx2_f32(float *w, float *v, const float *g, int64_t i0, int64_t i1,
                          float mu, float eta, int nesterov, float alpha, float m, float inv);
void nni_sgd_step_avx2_f64(double *w, double *v, const double *g, int64_t i0, int64_t i1,
                          double mu, double eta, int nesterov, double alpha, double m,
                          double inv);
void nni_adam_step_avx2_f32(float *w, float *m, float *v, const float *g, int64_t i0,
                           int64_t i1, float b1, float c1, float b2, float c2, float step,
                           float eps, float alpha, float bm, float inv);
void nni_adam_step_avx2_f64(double *w, double *m, double *v, const double *g, int64_t i0,
                           int64_t i1, double b1, double c1, double b2, double c2,
                           double step, double eps, double alpha, double bm, double inv);
#endif
#ifdef NN_HAVE_KERNEL_AVX512
extern const nni_gemm_kernel nni_kernel_avx512;
extern const nni_gemm_kernel nni_kernel_avx512_12x32;
void nni_pack_t_avx512_f32(float *restrict dst, const float *restrict src, int64_t ld,
                           int64_t kc, int w, int rows, float alpha);
void nni_pack_t_avx512_f64(double *restrict dst, const double *restrict src, int64_t ld,
                           int64_t kc, int w, int rows, double alpha);
#endif
#ifdef NN_HAVE_KERNEL_NEON
extern const nni_gemm_kernel nni_kernel_neon;
#endif

/* gemm_direct.c: the direct mid-size product, C = alpha op(A) op(B) + beta C with gemm's
 * contract and epilogue, no packing, and the bias gradient's column sums (for the C tests:
 * both element types). direct_applies:
 * 1 when (m, n, k) is in its range (the rule in gemm_direct.c).                            */
int nni_direct_gemm_f32(float *C, const float *A, const float *B, int64_t m, int64_t n,
                        int64_t k, int trans_a, int trans_b, float alpha, float beta,
                        const nn_epilogue_f32 *ep);
int nni_direct_gemm_f64(double *C, const double *A, const double *B, int64_t m, int64_t n,
                        int64_t k, int trans_a, int trans_b, double alpha, double beta,
                        const nn_epilogue_f64 *ep);
void nni_column_sums_f32(float *s, const float *X, int64_t m, int64_t n, int64_t ld);
void nni_column_sums_f64(double *s, const double *X, int64_t m, int64_t n, int64_t ld);
int nni_direct_applies_f32(int64_t m, int64_t n, int64_t k, int trans_b);
int nni_direct_applies_f64(int64_t m, int64_t n, int64_t k, int trans_b);
/* gemm_direct.c: 1 when a direct product of m n k multiply-adds runs over the pool.       */
int nni_direct_splits_f32(int64_t m, int64_t n, int64_t k);
int nni_direct_splits_f64(int64_t m, int64_t n, int64_t k);
/* gemm.c: where gemm (m, n, k) sums the second half of k apart from the first (a short C
 * from a long k: gemm_k_split), or 0 when it does not; for the C tests. */
int64_t nni_gemm_k_split_at_f32(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b);
int64_t nni_gemm_k_split_at_f64(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b);
/* gemm.c: whether gemm (m, n, k) on the blocked path reads the kernels' A in place (its rows,
 * or A^T's), 0 when it packs it or takes another path; for the C tests. */
int nni_gemm_a_in_place_f32(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                            float alpha);
int nni_gemm_a_in_place_f64(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                            double alpha);

/* gemm.c: a planned product, one op(B) = B (k, n) against many A of m rows (a layer's
 * forward over chunks of rows): gemm_plan_init packs B once (pack 1) when gemm would take
 * the blocked path for (m, n, k), or records the product unpacked (pack 0);
 * gemm_planned(C, A, p, rows) computes C = A @ B + the epilogue (alpha 1, beta 0) on the
 * calling thread, the same bits as gemm, through the plan's gemm when rows != m or the
 * product was not planned (bp NULL). gemm_plan_free frees the packed B. Both element types
 * declared here (typed code: NNI_F(gemm_plan)), for the C tests.                          */
#define NNI_DECLARE_GEMM_PLAN(T, S)                                                           \
    typedef struct nni_gemm_plan_##S {                                                        \
        const T *B;                                                                           \
        int64_t m, n, k;                                                                      \
        T *bp; /* op(B) packed whole (nni_block_alloc), or NULL */                           \
        /* the product when not against bp: gemm (gemm_plan_init), or a training step's       \
         * (products: dense_forward_products) */                                            \
        int (*gemm)(T *C, const T *A, const T *B, int64_t m, int64_t n, int64_t k,           \
                    int trans_a, int trans_b, T alpha, T beta, const nn_epilogue_##S *ep);   \
    } nni_gemm_plan_##S;                                                                      \
    int nni_gemm_plan_init_##S(nni_gemm_plan_##S *p, const T *B, int64_t m, int64_t n,        \
                               int64_t k, int pack);                                          \
    int nni_gemm_planned_##S(T *C, const T *A, const nni_gemm_plan_##S *p, int64_t m,         \
                             const nn_epilogue_##S *ep);                                      \
    void nni_gemm_plan_free_##S(nni_gemm_plan_##S *p);
NNI_DECLARE_GEMM_PLAN(float, f32)
NNI_DECLARE_GEMM_PLAN(double, f64)

#endif /* NNCORE_GEMM_KERNELS_H */
