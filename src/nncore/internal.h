/* Private helpers of the C core, shared by every source file in src/nncore/.
 *
 * Untyped files (errors.c rng.c dispatch.c threads.c ...) include this with neither NN_ELEM_F32 nor
 * NN_ELEM_F64 defined and get only the untyped helpers. Typed files are compiled twice, with
 * -DNN_ELEM_F32 and -DNN_ELEM_F64, and get NN_T (element type), NN_F(name) (public name
 * mangler), NNI_F(name) (private name mangler), NN_WS, the math wrappers (NN_EXP, ...) and
 * the elementwise activation helpers that gemm.c, activations.c and losses.c share.
 */
#ifndef NNCORE_INTERNAL_H
#define NNCORE_INTERNAL_H

#include "nncore.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef NN_HAVE_OPENMP
#include <omp.h>
#endif

/* ---- sizes ---------------------------------------------------------------------------- */
/* The largest element count any buffer may have: its size in bytes, even for double, must fit
 * in size_t and ptrdiff_t, so every index computed in int64_t is also a valid pointer offset. */
#define NNI_MAX_BYTES ((uint64_t)PTRDIFF_MAX < (uint64_t)SIZE_MAX ? (uint64_t)PTRDIFF_MAX \
                                                                : (uint64_t)SIZE_MAX)
#define NNI_MAX_ELEMS ((int64_t)(NNI_MAX_BYTES / 16u))

/* *out = a * b for 0 <= a, b; NN_EOVERFLOW when the product exceeds NNI_MAX_ELEMS.        */
static inline int nni_mul(int64_t *out, int64_t a, int64_t b)
{
    if (a < 0 || b < 0) return NN_EINVAL;
    if (a != 0 && b > NNI_MAX_ELEMS / a) return NN_EOVERFLOW;
    *out = a * b;
    return NN_OK;
}

/* *out = a + b for 0 <= a, b; NN_EOVERFLOW when the sum exceeds NNI_MAX_ELEMS.            */
static inline int nni_add(int64_t *out, int64_t a, int64_t b)
{
    if (a < 0 || b < 0) return NN_EINVAL;
    if (a > NNI_MAX_ELEMS - b) return NN_EOVERFLOW;
    *out = a + b;
    return NN_OK;
}

/* malloc of count elements of elem bytes (count <= NNI_MAX_ELEMS checked by the caller);
 * at least one byte so a zero count still gives a pointer we own.                          */
static inline void *nni_alloc(int64_t count, size_t elem)
{
    size_t bytes = (size_t)count * elem;
    return malloc(bytes ? bytes : 1);
}

/* NN_OK when each of the count row numbers (NULL: none given) is in [0, n): an order of
 * rows a kernel visits; NN_EINVAL otherwise.                                               */
static inline int nni_rows_in_range(const int64_t *rows, int64_t count, int64_t n)
{
    int64_t i;
    if (rows)
        for (i = 0; i < count; i++)
            if (rows[i] < 0 || rows[i] >= n) return NN_EINVAL;
    return NN_OK;
}

/* The L2 weight of a training run's reported loss: cfg->loss_alpha when set, else alpha. */
static inline double nni_loss_alpha(const nn_fit_config *cfg)
{
    return cfg->loss_alpha > 0 ? cfg->loss_alpha : cfg->alpha;
}

/* ---- NumPy's legacy MT19937 (mt19937.c) ------------------------------------------------- */
#define NNI_MT_WORDS 624 /* words of an MT19937 state                                      */
/* order = the next RandomState.permutation(n) of the state key (624 words), pos (0..624),
 * both advanced in place: nn_mt19937_permutations for one order of one stream.            */
int nni_mt19937_permutation(int64_t *order, int64_t n, uint32_t *key, int64_t *pos);

/* ---- scikit-learn's sequential-dataset shuffle (sgd_dataset_order.c) -------------------- */
/* index (n < 2^31 rows) shuffled in place as scikit-learn's SequentialDataset.shuffle(seed)
 * shuffles it, the seed taken by value: nn_sgd_dataset_orders for one order of one stream.  */
void nni_sgd_dataset_shuffle(int64_t *index, int64_t n, uint32_t seed);

/* ---- threads (threads.c) ---------------------------------------------------------------- */
/* The thread pool is built on POSIX threads where there are any, else on OpenMP (MSVC).      */
#if defined(__unix__) || defined(__APPLE__)
#define NNI_POOL_PTHREADS 1
#endif

/* Threads a parallel loop may use: nn_get_num_threads() with a pool, else 1.              */
static inline int nni_threads(void)
{
#if defined(NNI_POOL_PTHREADS) || defined(NN_HAVE_OPENMP)
    int t = nn_get_num_threads();
    return t > 0 ? t : 1;
#else
    return 1;
#endif
}

/* 1 when the environment sets the variable `name` to "0": the core's switches (NNFAST_FUSED_STEP,
 * NNFAST_SMALL_ENGINE, NNFAST_HUGE_PAGES) are on unless set so.                           */
static inline int nni_env_is_zero(const char *name)
{
    const char *env = getenv(name);
    return env && strcmp(env, "0") == 0;
}

/* 1 unless NNFAST_FUSED_STEP=0 (read once per file): the gradient is written rather than
 * added to zeroed buffers, and training steps each layer right after its backward. 0: the
 * whole gradient into zeroed buffers, then one step over every parameter: the same bits,
 * kept as the oracle tests/test_fused_step.py compares the fused step with.                 */
static inline int nni_fused_step_enabled(void)
{
    static int enabled = -1; /* a benign race: every reader computes the same value */
    if (enabled < 0) enabled = !nni_env_is_zero("NNFAST_FUSED_STEP");
    return enabled;
}

/* The profile (profile.c): nni_profile_on() is 0 unless nn_profile_start ran. A product
 * brackets itself with enter (its row found, the clock read; this thread's loops count there
 * until leave) and leave (its wall time to its row; returns st, the product's status);
 * nni_parallel_for reports each loop it ran on the pool.                                   */
extern int nni_profile_flag;
static inline int nni_profile_on(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return *(volatile int *)&nni_profile_flag;
#else
    return __atomic_load_n(&nni_profile_flag, __ATOMIC_RELAXED);
#endif
}
void nni_profile_enter(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                       int elem_bytes, int with_step);
int nni_profile_leave(int st);
void nni_profile_loop(int worker_took_part, double end_wait);

/* One part of a parallel loop: returns NN_OK or an error status.                          */
typedef int (*nni_part_fn)(void *ctx, int64_t part);
/* fn(ctx, c) once for every c in 0 .. n_parts-1, on up to `threads` threads (the caller and
 * pool workers; threads.c): parts are claimed one at a time, so a late thread leaves its
 * share to the others. Returns when every part is done: NN_OK, or a failing part's status.
 * Parts must not depend on which thread runs them or in what order.                       */
int nni_parallel_for(int threads, int64_t n_parts, nni_part_fn fn, void *ctx);
/* Which thread of a parallel loop this is: 0 on the thread that called nni_parallel_for (and
 * on every thread outside the pool), 1 + the worker's index on a pool worker. A part may use it
 * to choose where to start (gemm_parallel.c: the same thread takes the same share of a product call
 * after call, so it finds its operands in its own cache), never to decide what it computes. */
int nni_thread_index(void);
/* Units 0 .. n-1 (n < 2^32) of work that the threads of a loop claim in runs, the caller's
 * thread from the front, the others from the back, each run a 1/divisor share (rounded up)
 * of the units left: the first runs split the work evenly, later ones shrink, so a thread
 * that falls behind delays the end by a small run. When the threads keep pace, the same
 * thread takes the same units call after call. nni_ends_claim: 1 and the run [*lo, *hi),
 * or 0 when every unit is taken.                                                            */
void nni_ends_init(int64_t *ends, int64_t n);
int nni_ends_claim(int64_t *ends, int from_back, int64_t divisor, int64_t *lo, int64_t *hi);

static inline int nni_act_valid(nn_act act)
{
    return (int)act >= 0 && (int)act < NN_ACT_COUNT;
}

static inline int nni_loss_valid(nn_loss loss)
{
    return (int)loss >= 0 && (int)loss < NN_LOSS_COUNT;
}

/* Activations with an elementwise derivative written from the output.                     */
static inline int nni_act_differentiable_elementwise(nn_act act)
{
    return act == NN_ACT_IDENTITY || act == NN_ACT_SIGMOID || act == NN_ACT_TANH ||
           act == NN_ACT_RELU;
}

/* SplitMix64's step (rng.c's nn_rng_u64), inline for loops that draw one number per value:
 * state += 0x9E3779B97F4A7C15; z = state; z = (z ^ z>>30) * 0xBF58476D1CE4E5B9;
 * z = (z ^ z>>27) * 0x94D049BB133111EB; return z ^ z>>31, all mod 2^64.                    */
#define NNI_SPLITMIX64_GAMMA UINT64_C(0x9E3779B97F4A7C15)
static inline uint64_t nni_splitmix64_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
static inline uint64_t nni_splitmix64(uint64_t *state)
{
    *state += NNI_SPLITMIX64_GAMMA;
    return nni_splitmix64_mix(*state);
}
/* The draw i (0-based) of the stream that starts at state s: the state after it is
 * s + (i + 1) gamma, so any draw can be made without the ones before it (in parallel). */
static inline uint64_t nni_splitmix64_at(uint64_t s, int64_t i)
{
    return nni_splitmix64_mix(s + ((uint64_t)i + 1) * NNI_SPLITMIX64_GAMMA);
}

/* Losses computed from the output logits Z (the others from the outputs A).               */
static inline int nni_loss_needs_logits(nn_loss loss)
{
    return loss == NN_LOSS_BCE || loss == NN_LOSS_CE || loss == NN_LOSS_POISSON;
}

/* ---- GEMM micro-kernels (gemm_kernels_*.c), one table entry per instruction set -------- */
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
 * (optim_step_avx2.c, which the avx512 sets take too; NULL: optim.c's baseline build): sgd with momentum over elements i0 ..
 * i1-1, and adam's. Every element takes the same operations, never contracted into FMAs, so
 * the bits are the baseline's at any vector width.                                         */
typedef void (*nni_sgd_step_f32)(float *w, float *v, const float *g, int64_t i0, int64_t i1,
                                 float mu, float eta, int nesterov);
typedef void (*nni_sgd_step_f64)(double *w, double *v, const double *g, int64_t i0,
                                 int64_t i1, double mu, double eta, int nesterov);
typedef void (*nni_adam_step_f32)(float *w, float *m, float *v, const float *g, int64_t i0,
                                  int64_t i1, float b1, float c1, float b2, float c2,
                                  float step, float eps);
typedef void (*nni_adam_step_f64)(double *w, double *m, double *v, const double *g,
                                  int64_t i0, int64_t i1, double b1, double c1, double b2,
                                  double c2, double step, double eps);
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
/* GCC takes a function of prefetches alone for one without effects and may drop its calls:
 * such functions are inlined, always. */
#if defined(__GNUC__) || defined(__clang__)
#define NNI_ALWAYS_INLINE __attribute__((always_inline))
#else
#define NNI_ALWAYS_INLINE
#endif
/* Ask for the lines of bytes at p to be brought into L2 (a hint: no effect on results). */
NNI_ALWAYS_INLINE static inline void nni_prefetch_l2(const void *p, size_t bytes)
{
#if defined(__GNUC__) || defined(__clang__)
    const char *c = (const char *)p;
    size_t off;
    for (off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 2);
#else
    (void)p;
    (void)bytes;
#endif
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

#if defined(_MSC_VER)
#define NNI_ALIGN64 __declspec(align(64))
#elif defined(__GNUC__) || defined(__clang__)
#define NNI_ALIGN64 __attribute__((aligned(64)))
#else
#define NNI_ALIGN64
#endif

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
/* The blocking of a product with k terms per C element and C of c_bytes (the loop order
 * depends on both); wide_b: B stored (k, n), and no epilogue or optimizer step on C. */
void nni_gemm_blocking_get(nni_gemm_blocking *bl, int mr, int nr, int elem_bytes, int64_t k,
                           int64_t c_bytes, int wide_b);
/* Tests: use these blocks (rounded to the kernel's mr and nr) instead; all 0 = the machine's. */
void nni_gemm_blocking_set(int64_t mc, int64_t kc, int64_t nc);
/* Tests: force the loop order (0 or 1); -1 = the machine's. */
void nni_gemm_loop_order_set(int a_in_l1);
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

/* dispatch.c: a run-time table entry: an implementation (a kernel set, a vector-math set),
 * the name an environment variable may give, and whether this CPU (and OS) runs it.        */
typedef struct {
    const char *name;
    const void *impl;
    int (*cpu_runs)(void);
} nni_dispatch_entry;
/* The implementation called name when this CPU runs it, else NULL.                          */
const void *nni_dispatch_find(const nni_dispatch_entry *table, int count, const char *name);
/* name's implementation when the CPU runs it, else the first (best) entry the CPU runs.    */
const void *nni_dispatch_choose(const nni_dispatch_entry *table, int count, const char *name);
int nni_cpu_runs_any(void);

/* dispatch.c: does this CPU (and OS) run the instruction set? 1 or 0; portable always 1. */
int nni_cpu_runs_avx2(void);
int nni_cpu_runs_avx512(void);
int nni_cpu_runs_avx512vl(void); /* AVX-512F with the 128/256-bit forms (VL) */

/* ---- vector math (vecmath.c, vecmath_<isa>.c), its own table, chosen apart from the GEMM -- */
/* In place over n values, x[j] = f(x[j]); a NULL entry means libm, one value at a time.
 * softplus(x) = log(1 + e^x). Algorithms: vecmath_simd.h; measured ulp bounds per set:
 * tests/c/test_vecmath.c.                                                                   */
typedef struct {
    const char *name; /* the NNFAST_VECMATH value: "avx2"                                    */
    void (*exp_f32)(float *x, int64_t n);
    void (*sigmoid_f32)(float *x, int64_t n);
    void (*tanh_f32)(float *x, int64_t n);
    void (*exp_f64)(double *x, int64_t n);
    void (*sigmoid_f64)(double *x, int64_t n);
    void (*tanh_f64)(double *x, int64_t n);
    void (*log1p_f64)(double *x, int64_t n);
    void (*softplus_f64)(double *x, int64_t n);
    /* 1 when x[0:n] holds no NaN and no infinity (all_finite below; NULL: its loop) */
    int (*all_finite_f32)(const float *x, int64_t n);
    int (*all_finite_f64)(const double *x, int64_t n);
} nni_vecmath;

/* The vector math chosen once: NNFAST_VECMATH when this CPU runs it, else the best it runs. */
const nni_vecmath *nni_vecmath_get(void);
/* Tests: switch to the set called name; NN_EINVAL (nothing changed) when unknown / not run. */
int nni_vecmath_select(const char *name);
extern const nni_vecmath nni_vecmath_portable;
#ifdef NN_HAVE_KERNEL_AVX2
extern const nni_vecmath nni_vecmath_avx2;
#endif
#ifdef NN_HAVE_VECMATH_AVX512
extern const nni_vecmath nni_vecmath_avx512;
#endif

/* x[j] = e^x[j] and x[j] = softplus(x[j]) = max(x, 0) + log1p(e^-|x|) over n doubles, with
 * the vector math in use (the losses compute in double for both element types).           */
static inline void nni_exp_f64_inplace(double *x, int64_t n)
{
    const nni_vecmath *vm = nni_vecmath_get();
    int64_t j;
    if (vm->exp_f64) {
        vm->exp_f64(x, n);
        return;
    }
    for (j = 0; j < n; j++) x[j] = exp(x[j]);
}
/* x[j] = log(1 + x[j]) over n doubles, -1 < x[j], with the vector math in use. */
static inline void nni_log1p_f64_inplace(double *x, int64_t n)
{
    const nni_vecmath *vm = nni_vecmath_get();
    int64_t j;
    if (vm->log1p_f64) {
        vm->log1p_f64(x, n);
        return;
    }
    for (j = 0; j < n; j++) x[j] = log1p(x[j]);
}
static inline void nni_softplus_f64_inplace(double *x, int64_t n)
{
    const nni_vecmath *vm = nni_vecmath_get();
    int64_t j;
    if (vm->softplus_f64) {
        vm->softplus_f64(x, n);
        return;
    }
    /* e^-|x| <= 1 never overflows */
    for (j = 0; j < n; j++) x[j] = (x[j] > 0 ? x[j] : 0.0) + log1p(exp(-fabs(x[j])));
}

/* The kernel sets compiled into this build (gemm_kernels_*.c).                            */
extern const nni_gemm_kernel nni_kernel_portable;
extern const nni_gemm_kernel nni_kernel_avx512bf16; /* NN_HAVE_KERNEL_AVX512BF16 */
extern const nni_gemm_kernel nni_kernel_amx;        /* NN_HAVE_KERNEL_AMX */
#ifdef NN_HAVE_KERNEL_AVX2
extern const nni_gemm_kernel nni_kernel_avx2;
void nni_pack_t_avx2_f32(float *restrict dst, const float *restrict src, int64_t ld, int64_t kc,
                         int w, int rows, float alpha);
void nni_sgd_step_avx2_f32(float *w, float *v, const float *g, int64_t i0, int64_t i1,
                          float mu, float eta, int nesterov);
void nni_sgd_step_avx2_f64(double *w, double *v, const double *g, int64_t i0, int64_t i1,
                          double mu, double eta, int nesterov);
void nni_adam_step_avx2_f32(float *w, float *m, float *v, const float *g, int64_t i0,
                           int64_t i1, float b1, float c1, float b2, float c2, float step,
                           float eps);
void nni_adam_step_avx2_f64(double *w, double *m, double *v, const double *g, int64_t i0,
                           int64_t i1, double b1, double c1, double b2, double c2,
                           double step, double eps);
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

/* scratch.c: this thread's scratch buffer number slot (< NNI_SCRATCH_SLOTS), aligned to 64 bytes
 * and at least bytes long: grown on demand, kept for the thread's next calls, freed when the
 * thread ends (POSIX). NULL when out of memory. The GEMM packs A and B into these.          */
#define NNI_SCRATCH_SLOTS 6
void *nni_thread_scratch(int slot, int64_t bytes);
/* scratch.c: a block of at least bytes, aligned to 64 bytes, for a buffer that outlives the
 * call (a workspace's) or is large: taken from the blocks this thread keeps when one fits, and
 * released with nni_block_free (NULL allowed), which keeps large blocks for the thread's next
 * allocations (their pages stay mapped: no page faults) and frees the rest. A block may be
 * released on another thread than the one that took it. NULL when out of memory.          */
void *nni_block_alloc(int64_t bytes);
void nni_block_free(void *p);

/* Thread-local storage (scratch.c's per-thread buffers).                               */
#if defined(_MSC_VER)
#define NNI_THREAD_LOCAL __declspec(thread)
#elif defined(__GNUC__) || defined(__clang__)
#define NNI_THREAD_LOCAL __thread
#else
#define NNI_THREAD_LOCAL _Thread_local
#endif

/* network_desc.c: sizes and names only (no loss pairing), for forward and init which also serve the
 * step perceptron; n_params may be NULL.                                                   */
int nni_net_check_shape(const nn_net *net, int64_t *n_params);
/* network_desc.c: NN_OK when output and loss go together (semantics.md's table), else NN_EPAIR.     */
int nni_pair_check(nn_act output, nn_loss loss);
int nni_net_trainable(const nn_net *net);
/* network_desc.c: 1 when a hidden layer has a dropout rate above 0, else 0.                */
int nni_net_has_dropout(const nn_net *net);

/* ---- the element type ------------------------------------------------------------------ */
#if defined(NN_ELEM_F32) && defined(NN_ELEM_F64)
#error "define only one of NN_ELEM_F32 and NN_ELEM_F64"
#endif

#if defined(NN_ELEM_F32) || defined(NN_ELEM_F64)

#ifdef NN_ELEM_F32
#define NN_T float
#define NN_F(name) nn_##name##_f32
#define NNI_F(name) nni_##name##_f32
#define NN_WS nn_workspace_f32
#define NN_EXP expf
#define NN_LOG logf
#define NN_LOG1P log1pf
#define NN_TANH tanhf
#define NN_SQRT sqrtf
#define NN_FABS fabsf
#else
#define NN_T double
#define NN_F(name) nn_##name##_f64
#define NNI_F(name) nni_##name##_f64
#define NN_WS nn_workspace_f64
#define NN_EXP exp
#define NN_LOG log
#define NN_LOG1P log1p
#define NN_TANH tanh
#define NN_SQRT sqrt
#define NN_FABS fabs
#endif

/* sigmoid(z) = 1 / (1 + e^-z); for z < 0 written e^z / (1 + e^z) so e^-z never overflows.  */
static inline NN_T nni_sigmoid(NN_T z)
{
    if (z >= 0) return (NN_T)1 / ((NN_T)1 + NN_EXP(-z));
    NN_T e = NN_EXP(z);
    return e / ((NN_T)1 + e);
}

/* 1 when no value of x[0:n] is NaN or infinite: x - x is 0 for a finite x, NaN otherwise
 * (NaN != 0). The comparisons' results are ORed, which the compiler may reorder and so
 * vectorizes, for the build's baseline; from a few vectors on, the vector set's loop
 * (vecmath_simd.h). */
static inline int NNI_F(all_finite)(const NN_T *x, int64_t n)
{
    unsigned bad = 0;
    int64_t i;
#ifdef NN_ELEM_F32
    int (*const vec)(const float *, int64_t) = n >= 256 ? nni_vecmath_get()->all_finite_f32 : 0;
#else
    int (*const vec)(const double *, int64_t) = n >= 256 ? nni_vecmath_get()->all_finite_f64 : 0;
#endif
    if (vec) return vec(x, n);
    for (i = 0; i < n; i++) bad |= (x[i] - x[i]) != 0;
    return !bad;
}

/* The vectorized math in use for this element type: exp, sigmoid, tanh, or NULL for libm. */
typedef void (*nni_vec_fn)(NN_T *x, int64_t n);
static inline nni_vec_fn nni_vec_exp(void)
{
#ifdef NN_ELEM_F32
    return nni_vecmath_get()->exp_f32;
#else
    return nni_vecmath_get()->exp_f64;
#endif
}
static inline nni_vec_fn nni_vec_act(nn_act act)
{
    const nni_vecmath *vm = nni_vecmath_get();
#ifdef NN_ELEM_F32
    return act == NN_ACT_SIGMOID ? vm->sigmoid_f32 : act == NN_ACT_TANH ? vm->tanh_f32 : NULL;
#else
    return act == NN_ACT_SIGMOID ? vm->sigmoid_f64 : act == NN_ACT_TANH ? vm->tanh_f64 : NULL;
#endif
}

/* delta (m, n) row i *= sw_i m / S, S = sum_i sw_i: the weighted mean's 1/S in place of the
 * kernels' 1/m (network.c's batch_loss_gradient and the fused small engine share it).     */
static inline void nni_scale_rows_by_weight(NN_T *delta, const double *sw, int64_t m,
                                            int64_t n)
{
    double sw_sum = 0.0;
    int64_t i, j;
    for (i = 0; i < m; i++) sw_sum += sw[i];
    for (i = 0; i < m; i++) {
        const NN_T scale = (NN_T)(sw[i] * (double)m / sw_sum);
        for (j = 0; j < n; j++) delta[i * n + j] *= scale;
    }
}

/* sum_i W[i]^2 in double, for the L2 penalty: NNI_SUMSQ_LANES partial sums, lane q adding
 * W[i]^2 for i = q mod NNI_SUMSQ_LANES in order, then combined pairwise ((s0 + s1) + (s2 + s3))
 * + ((s4 + s5) + (s6 + s7)): independent chains that vectorize, in an order fixed by count
 * alone (one chain, as before, was an add's latency per value: a tenth of a digits step). */
#define NNI_SUMSQ_LANES 8
static inline double nni_sum_squares(const NN_T *W, int64_t count)
{
    double s[NNI_SUMSQ_LANES] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    int q;
    for (; i + NNI_SUMSQ_LANES <= count; i += NNI_SUMSQ_LANES)
        for (q = 0; q < NNI_SUMSQ_LANES; q++) s[q] += (double)W[i + q] * (double)W[i + q];
    for (q = 0; i < count; i++, q++) s[q] += (double)W[i] * (double)W[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* x[j] = e^x[j] in place over n values.                                                     */
static inline void nni_exp_inplace(NN_T *x, int64_t n)
{
    const nni_vec_fn vexp = nni_vec_exp();
    int64_t j;
    if (vexp) {
        vexp(x, n);
        return;
    }
    for (j = 0; j < n; j++) x[j] = NN_EXP(x[j]);
}

/* x[j] = f(x[j]) for an elementwise activation (not softmax), in place over n values.     */
static inline void nni_act_inplace(NN_T *x, int64_t n, nn_act act)
{
    const nni_vec_fn vact = nni_vec_act(act);
    int64_t j;
    if (vact) {
        vact(x, n);
        return;
    }
    switch (act) {
    case NN_ACT_STEP:
        for (j = 0; j < n; j++) x[j] = x[j] >= 0 ? (NN_T)1 : (NN_T)0;
        break;
    case NN_ACT_SIGMOID:
        for (j = 0; j < n; j++) x[j] = nni_sigmoid(x[j]);
        break;
    case NN_ACT_TANH:
        for (j = 0; j < n; j++) x[j] = NN_TANH(x[j]);
        break;
    case NN_ACT_RELU:
        for (j = 0; j < n; j++) x[j] = x[j] > 0 ? x[j] : (NN_T)0;
        break;
    default: /* identity; softmax (row-wise) and exp (nni_act_any_inplace) never reach here */
        break;
    }
}

/* x[j] = f(x[j]) for any activation but softmax: exp (an output activation only) as well.
 * exp is kept out of nni_act_inplace, which the GEMM's write-out inlines: the hidden layers'
 * epilogue stays as it was.                                                                 */
static inline void nni_act_any_inplace(NN_T *x, int64_t n, nn_act act)
{
    if (act == NN_ACT_EXP) nni_exp_inplace(x, n);
    else nni_act_inplace(x, n, act);
}

/* g[j] = g_in[j] * f'(a[j]), f' written from the output a: sigmoid a(1-a), tanh 1-a^2,
 * relu [a>0], identity 1. g may alias g_in. Only elementwise differentiable activations.    */
static inline void nni_deriv_mul(NN_T *g, const NN_T *g_in, const NN_T *a, int64_t n,
                                 nn_act act)
{
    int64_t j;
    switch (act) {
    case NN_ACT_SIGMOID:
        for (j = 0; j < n; j++) g[j] = g_in[j] * (a[j] * ((NN_T)1 - a[j]));
        break;
    case NN_ACT_TANH:
        for (j = 0; j < n; j++) g[j] = g_in[j] * ((NN_T)1 - a[j] * a[j]);
        break;
    case NN_ACT_RELU:
        for (j = 0; j < n; j++) { /* the factor in its own variable: the loop vectorizes */
            const NN_T keep = a[j] > 0 ? (NN_T)1 : (NN_T)0;
            g[j] = g_in[j] * keep;
        }
        break;
    default: /* identity */
        if (g != g_in) memmove(g, g_in, (size_t)n * sizeof(NN_T));
        break;
    }
}

/* gemm_pack.c: pack a block of alpha op(A) (mc x kc at (i0, p0)) in panels of mr rows, and
 * of op(B) (kc x nc at (p0, j0)) in panels of nr columns, zero-padded (see the file); the
 * panels that read across rows through kr's transposing packer when it has one.           */
void NNI_F(pack_a)(const nni_gemm_kernel *kr, NN_T *restrict ap, const NN_T *restrict A,
                   int64_t m, int64_t k, int trans_a, int64_t i0, int64_t p0, int64_t mc,
                   int64_t kc, int mr, NN_T alpha);
void NNI_F(pack_b)(const nni_gemm_kernel *kr, NN_T *restrict bp, const NN_T *restrict B,
                   int64_t n, int64_t k, int trans_b, int64_t p0, int64_t j0, int64_t kc,
                   int64_t nc, int nr, NN_T scale);

/* dense.c: A_out (m, W->n) = f(A @ W + b), dense_forward against W's plan. */
int NNI_F(dense_forward_planned)(NN_T *A_out, const NN_T *A, const NNI_F(gemm_plan) *W,
                                 const NN_T *b, int64_t m, nn_act act);

/* activations.c: inverted dropout of one layer's output F (count values, row-major), rate
 * p in (0, 1): value by value, u = the stream's next uniform, S = 1 / (1 - p) when u >= p
 * (kept) else 0, A = F S. dropout_backward: G = G S f'(F), the mask and the derivative in one
 * pass (elementwise differentiable act only).                                               */
void NNI_F(dropout_forward)(NN_T *A, NN_T *S, const NN_T *F, int64_t count, double p,
                            uint64_t *state);
void NNI_F(dropout_backward)(NN_T *G, const NN_T *S, const NN_T *F, int64_t count, nn_act act);

/* activations.c: softmax of m rows of n (A may be Z); zmax, zsum (m each, or NULL) get each
 * row's max z and sum of e^(z - max z); with delta (or NULL) also delta = A - Y.
 * losses.c: the softmax output layer and its cross-entropy in one pass: A = softmax(Z),
 * loss = mean over rows of y . (lse(z) - z), and with delta (or NULL) delta = A - Y. */
void NNI_F(softmax_rows_delta)(NN_T *A, const NN_T *Z, int64_t m, int64_t n, NN_T *zmax,
                               NN_T *zsum, NN_T *delta, const NN_T *Y);
int NNI_F(softmax_cross_entropy)(double *loss, NN_T *A, const NN_T *Z, const NN_T *Y,
                                 int64_t m, int64_t n, NN_T *delta);

/* network.c: one batch of m rows through the network, as nn_loss_gradient and
 * nn_train_epoch need it: forward keeping every layer's output, the batch loss
 * (mean + alpha/2 sum W^2 / m) and, when grads != NULL, its gradient (overwritten).         */
typedef struct NNI_F(batch_buffers) {
    NN_T **A;        /* L layer outputs, each (batch, n_{l+1}); after dropout when it applies */
    NN_T *Z;         /* output logits (batch, n_L)                                            */
    NN_T *delta[2];  /* ping-pong deltas (batch, max_l n_{l+1})                               */
    NN_T *data;      /* the one allocation A, Z and delta point into                          */
    /* Only for a net with dropout (else NULL): per hidden layer with a rate above 0, its
     * output before dropout F = f(Z) and the mask's scale S (0 or 1 / (1 - p)), A = F S.    */
    NN_T **F, **S;
    NN_T *drop_data; /* the one allocation F and S point into                                 */
} NNI_F(batch_buffers);

/* One optimizer step of training (optim.c), taken a slice of the parameters at a time: the
 * parameters, their gradient and the optimizer state (sgd: the velocity; adam: the moments),
 * a checked fit configuration and adam's step count t >= 1 of this step. state1 NULL: sgd
 * with momentum 0 that does not keep its velocity this step (w -= lr g; train.c).          */
typedef struct {
    NN_T *params, *state1, *state2;
    const NN_T *grads;
    const nn_fit_config *cfg;
    int64_t t;
} NNI_F(optim_step);
/* Elements off .. off+count-1 of every array take the step: the same arithmetic and bits as
 * sgd_update / adam_update over the whole vector, split over the pool the same way.        */
int NNI_F(optim_step_range)(const NNI_F(optim_step) *s, int64_t off, int64_t count);
/* The step's constants in the element type, as optim_step_range converts them (sgd: mu, eta;
 * adam: b1, 1 - b1, b2, 1 - b2, lr_t, eps), and the step of elements i0 .. i1-1 with them on
 * the calling thread: the bits of optim_step_range over the same elements.                */
#define NNI_STEP_CONSTS 6
void NNI_F(optim_step_consts)(const NNI_F(optim_step) *s, NN_T c[NNI_STEP_CONSTS]);
void NNI_F(optim_step_elems)(const NNI_F(optim_step) *s, const NN_T c[NNI_STEP_CONSTS],
                             int64_t i0, int64_t i1);
/* The step of `rows` runs of `cols` elements, run r at e + r lde, with their gradient read
 * from g + r ldg instead of s->grads: the same arithmetic, so the bits of storing g there
 * first (gemm_blocked.c's tiles stepped as the kernel computes them). */
void NNI_F(optim_step_rows_from)(const NNI_F(optim_step) *s, const NN_T c[NNI_STEP_CONSTS],
                                 int64_t e, int64_t lde, int64_t rows, int64_t cols,
                                 const NN_T *g, int64_t ldg);
/* gemm.c: C (m, n) = alpha op(A) @ op(B) + beta C (no epilogue), C = s->grads + off, then
 * its m n elements take the step s (a layer's dW): on the blocked path each block of C as
 * soon as it is final, on the thread that computed it, while it is in cache; on the others
 * after the product. The bits of gemm followed by optim_step_range(s, off, m n). A C larger
 * than L2 from k in one block with beta 0 (products' step_tiles) takes the step tile by tile
 * from the kernel's sums and is left unwritten: its values are the step's gradient only.  */
int NNI_F(gemm_step)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
                     int trans_a, int trans_b, NN_T alpha, NN_T beta,
                     const NNI_F(optim_step) *s, int64_t off);

/* gemm.c: the products of a training step in one precision (nn_products): gemm and
 * gemm_step (alpha op(A) op(B) + beta C, with an epilogue or the optimizer step), the
 * element type's own or, float32 only, with op(A) and op(B) rounded to bfloat16
 * (nn_gemm_bf16_f32). network.c and dense.c call the table's functions, never branching on
 * the precision. products_of: the table for p, or NULL when this element type has none.   */
typedef struct {
    int (*gemm)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
                int trans_a, int trans_b, NN_T alpha, NN_T beta, const NN_F(epilogue) *ep);
    int (*gemm_step)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n, int64_t k,
                     int trans_a, int trans_b, NN_T alpha, NN_T beta,
                     const NNI_F(optim_step) *s, int64_t off);
    /* 1 when gemm_step of this shape steps each tile as the kernel computes it and leaves C
     * unwritten (gemm.c's step_tiles_apply)                                                */
    int (*step_tiles)(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, NN_T alpha,
                      NN_T beta);
} NNI_F(products);
const NNI_F(products) *NNI_F(products_of)(nn_products p);

/* dense.c: dense_backward writing dW and db (accumulate = 0: dW = A_prev^T delta / m, C never
 * read) or adding to them (accumulate = 1: nn_dense_backward's contract). With step (or
 * NULL), dW and db are step->grads + off and take the step: when dW fits in L2 or the
 * product steps its tiles (step_tiles), delta_prev first (it reads W), then dW, stepped as the
 * product computes it (gemm_step; dW's values then unspecified with step_tiles), then db;
 * else the layer's step after delta_prev, in one sweep.                                   */
int NNI_F(dense_backward_into)(NN_T *dW, NN_T *db, NN_T *delta_prev, const NN_T *A_prev,
                               const NN_T *W, const NN_T *delta, int64_t m, int64_t k,
                               int64_t n, nn_act act_prev, int accumulate,
                               const NNI_F(optim_step) *step, int64_t off,
                               const NNI_F(products) *prod);
/* dense.c: dense_forward (A_out, and Z_out when not NULL) with the product prod->gemm. */
int NNI_F(dense_forward_products)(NN_T *A_out, NN_T *Z_out, const NN_T *A, const NN_T *W,
                                  const NN_T *b, int64_t m, int64_t k, int64_t n, nn_act act,
                                  const NNI_F(products) *prod);

/* Needs a checked net (nn_net_check), m <= the batch buf was allocated for, and no step
 * hidden layer when grads != NULL.                                                          */
/* sw (m) are per-sample weights, or NULL for all 1: the loss is then sum_i sw_i loss_i / S and
 * the L2 term alpha/2 sum W^2 / S, S = sum_i sw_i (S = m without weights).                  */
/* loss_alpha: the L2 weight of the loss value (nn_fit_config's loss_alpha); the gradient's is
 * alpha. Equal to alpha for the loss whose gradient grads is.                               */
/* dropout_rng: training's stream, from which the dropout masks are drawn (nncore_typed.h's
 * order), or NULL: no dropout (the loss and gradient of the network as it predicts).        */
/* step: training's optimizer step (above; step->params is params), or NULL. With it, each
 * layer's parameters take the step as soon as the layer's backward has returned (its dW and
 * db still in cache; the layer below is computed with the layer's W as it was), and a
 * non-finite loss returns NN_ENONFINITE before the backward, every parameter unchanged.
 * NULL: grads is the whole gradient, params untouched.                                      */
/* prod: the products (products_of): a layer's forward, its delta_prev and its dW.           */
int NNI_F(batch_loss_gradient)(double *loss, NN_T *grads, const NNI_F(batch_buffers) *buf,
                               const NN_T *params, const nn_net *net, const NN_T *X,
                               const NN_T *Y, const double *sw, int64_t m, double alpha,
                               double loss_alpha, uint64_t *dropout_rng,
                               const NNI_F(optim_step) *step, const NNI_F(products) *prod);

/* network.c: allocate / free the buffers above for batches of at most batch rows; with
 * dropout != 0 also F and S for the net's dropout layers.                                  */
int NNI_F(batch_buffers_alloc)(NNI_F(batch_buffers) *buf, const nn_net *net, int64_t batch,
                               int dropout);
void NNI_F(batch_buffers_free)(NNI_F(batch_buffers) *buf);

/* ---- direct mid-size products (gemm_direct.c, gemm_direct_simd.h) --------------------- */
/* The product as the rows functions see it: op(A)[i, p] = A[i ars + p acs], op(B) (k, n)
 * row-major, C (m, n) row-major; the epilogue split into what runs in registers (bias, relu,
 * the derivative) and late_act, an activation run over the stored rows (then the derivative). */
typedef struct NNI_F(direct_args) {
    NN_T *C;
    const NN_T *A, *B;
    int64_t ars, acs, m, n, k;
    NN_T alpha, beta;
    const NN_T *bias;     /* (n) or NULL                                                    */
    int relu;             /* C = max(C, 0) after the bias                                  */
    nn_act late_act;      /* identity, or sigmoid / tanh / step over the stored rows        */
    const NN_T *deriv_of; /* (m, n): C *= deriv_act'(deriv_of), or NULL                     */
    nn_act deriv_act;
} NNI_F(direct_args);
/* Rows i0 .. i1-1 of C, whole: the sums, then the epilogue. */
typedef void (*NNI_F(direct_rows_fn))(const NNI_F(direct_args) *g, int64_t i0, int64_t i1);
void NNI_F(direct_rows_portable)(const NNI_F(direct_args) *g, int64_t i0, int64_t i1);
void NNI_F(direct_rows_avx2)(const NNI_F(direct_args) *g, int64_t i0, int64_t i1);
void NNI_F(direct_rows_avx512)(const NNI_F(direct_args) *g, int64_t i0, int64_t i1);
/* The bias gradient's column sums s[j] = sum_i X[i, j] (m rows of n, ld apart), each in row
 * order from 0: one per instruction set (the same bits), and the one of the GEMM kernel's set
 * in use. */
typedef void (*NNI_F(column_sums_fn))(NN_T *s, const NN_T *X, int64_t m, int64_t n,
                                      int64_t ld);
void NNI_F(column_sums_avx2)(NN_T *s, const NN_T *X, int64_t m, int64_t n, int64_t ld);
void NNI_F(column_sums_avx512)(NN_T *s, const NN_T *X, int64_t m, int64_t n, int64_t ld);
void NNI_F(column_sums)(NN_T *s, const NN_T *X, int64_t m, int64_t n, int64_t ld);

/* ---- one neuron trained full-batch (neuron_train.c) ------------------------------------ */
/* What neuron_epochs works on: the training loop's state (train.c's workspace).             */
typedef struct NNI_F(neuron_ctx) {
    const nn_net *net;
    const nn_fit_config *cfg;
    NN_T *grads, *state1, *state2;  /* (n_0 + 1) each; state2 adam's only                    */
    int64_t *step;                  /* adam's t                                               */
    int64_t *order;                 /* (n) the epoch's permutation when shuffling             */
    NN_T *Xb, *Yb;                  /* (n, n_0), (n): the rows gathered in that order          */
} NNI_F(neuron_ctx);

/* 1 when neuron_epochs can train this net with batches of `batch` rows out of n_samples:
 * one layer, one output, sigmoid + bce or identity + mse, full batch, small data, and the
 * small engines not turned off (NNFAST_SMALL_ENGINE=0). Sample weights and L2 are the
 * caller's to exclude.                                                                      */
int NNI_F(neuron_applies)(const nn_net *net, int64_t batch, int64_t n_samples);
/* `epochs` full-batch epochs over X (n, n_0), Y (n, 1), as train_epochs: loss_curve[e] and
 * *epochs_done as it fills them, NN_ENONFINITE / NN_EINTR as it stops.                      */
int NNI_F(neuron_epochs)(NN_T *params, double *loss_curve, int64_t *epochs_done,
                         const NNI_F(neuron_ctx) *c, const NN_T *X, const NN_T *Y, int64_t n,
                         int64_t epochs, uint64_t *rng_state);
int NNI_F(neuron_epochs_avx2)(NN_T *params, double *loss_curve, int64_t *epochs_done,
                              const NNI_F(neuron_ctx) *c, const NN_T *X, const NN_T *Y,
                              int64_t n, int64_t epochs, uint64_t *rng_state);

/* ---- the fused small-network engine (small_net.c, small_net.h, small_kernels_<isa>.c) ---- */
/* What one fused step works on: the training loop's state (train.c's workspace).            */
typedef struct NNI_F(small_ctx) {
    const nn_net *net;
    const nn_fit_config *cfg;
    int64_t n_params;
    NN_T *params, *grads, *state1, *state2;
    int64_t *step;                 /* adam's t, incremented by the step                      */
    NN_T *WT;                      /* max_l n_l n_{l+1}: W^T of one layer                     */
    const NNI_F(batch_buffers) *buf;
} NNI_F(small_ctx);

/* One batch of m rows: forward, loss (before the update, as batch_loss_gradient's), backward
 * and the optimizer step. NN_ENONFINITE (nothing updated) when the loss is not finite.       */
typedef int (*NNI_F(small_step_fn))(double *loss, const NNI_F(small_ctx) *c, const NN_T *X,
                                    const NN_T *Y, const double *sw, int64_t m);
int NNI_F(small_step_portable)(double *loss, const NNI_F(small_ctx) *c, const NN_T *X,
                               const NN_T *Y, const double *sw, int64_t m);
int NNI_F(small_step_avx2)(double *loss, const NNI_F(small_ctx) *c, const NN_T *X,
                           const NN_T *Y, const double *sw, int64_t m);
int NNI_F(small_step_avx512)(double *loss, const NNI_F(small_ctx) *c, const NN_T *X,
                             const NN_T *Y, const double *sw, int64_t m);
/* out (m, n_L) = the net's output for X (m, n_0), via the ping-pong buffers h0, h1 (each at
 * least m x the widest hidden layer): the fused step's forward.                              */
typedef void (*NNI_F(small_forward_fn))(NN_T *out, const NN_T *params, const nn_net *net,
                                        const NN_T *X, int64_t m, NN_T *h0, NN_T *h1);
void NNI_F(small_forward_portable)(NN_T *out, const NN_T *params, const nn_net *net,
                                   const NN_T *X, int64_t m, NN_T *h0, NN_T *h1);
void NNI_F(small_forward_avx2)(NN_T *out, const NN_T *params, const nn_net *net, const NN_T *X,
                               int64_t m, NN_T *h0, NN_T *h1);
void NNI_F(small_forward_avx512)(NN_T *out, const NN_T *params, const nn_net *net,
                                 const NN_T *X, int64_t m, NN_T *h0, NN_T *h1);
/* The forward for a checked net whose parameters fit the engine's budget, else NULL.         */
NNI_F(small_forward_fn) NNI_F(small_forward_engine)(const nn_net *net);
/* The step for a checked, trainable net at this batch size, or NULL for the general path
 * (too big for the rule in small_net.c, or NNFAST_SMALL_ENGINE=0).                           */
NNI_F(small_step_fn) NNI_F(small_engine)(const nn_net *net, int64_t batch, nn_opt optimizer);

/* ---- the dense perceptron SGD epoch (perceptron_simd.h), one per instruction set --------- */
/* perceptron_sgd_epoch's rule without a penalty over rows in order (NULL: 0..n-1): the summed
 * objective. The portable, avx2 and avx512 epochs give the same bits (perceptron.c picks
 * one).                                                                                      */
typedef double (*NNI_F(sgd_rows_fn))(NN_T *w, double *b, const NN_T *X, const NN_T *y,
                                     const NN_T *sw, const int64_t *order, int64_t n, int64_t k,
                                     double eta, int fit_intercept);
double NNI_F(sgd_rows_portable)(NN_T *w, double *b, const NN_T *X, const NN_T *y,
                                const NN_T *sw, const int64_t *order, int64_t n, int64_t k,
                                double eta, int fit_intercept);
double NNI_F(sgd_rows_avx2)(NN_T *w, double *b, const NN_T *X, const NN_T *y, const NN_T *sw,
                            const int64_t *order, int64_t n, int64_t k, double eta,
                            int fit_intercept);
double NNI_F(sgd_rows_avx512)(NN_T *w, double *b, const NN_T *X, const NN_T *y,
                              const NN_T *sw, const int64_t *order, int64_t n, int64_t k,
                              double eta, int fit_intercept);

/* ---- scikit-learn's WeightVector epoch (perceptron_wscale.c): CSR rows, dense with L2 ---- */
/* One epoch over CSR rows (indptr, cols = indices, data) or dense rows (indptr NULL, data
 * (n, k), cols 0..k-1): w holds v, the weights are s->wscale * v; s's b, u, norms and wscale
 * in/out. The summed objective.                                                              */
double NNI_F(wscale_sgd_epoch)(NN_T *w, NN_T *q, nn_perceptron_sgd_class *s,
                               const int64_t *indptr, const int32_t *cols, const NN_T *data,
                               const NN_T *y, const NN_T *sw, const int64_t *order, int64_t n,
                               int64_t k, const nn_perceptron_sgd_options *opt);
/* w *= s->wscale, s->wscale = 1.                                                             */
void NNI_F(wscale_fold)(NN_T *w, nn_perceptron_sgd_class *s, int64_t k);
/* wscale_sgd_epoch on a plain w (scale 1 at the start, folded in at the end).                */
double NNI_F(wscale_sgd_epoch_plain)(NN_T *w, double *b, double *u, NN_T *q, double *norms,
                                     const int64_t *indptr, const int32_t *cols,
                                     const NN_T *data, const NN_T *y, const NN_T *sw,
                                     const int64_t *order, int64_t n, int64_t k, double eta,
                                     double alpha, double l1_ratio, int fit_intercept,
                                     double intercept_decay);
/* 0 .. k-1 (int32, nni_alloc'd; free), NULL when out of memory or k > INT32_MAX.            */
int32_t *NNI_F(wscale_columns)(int64_t k);

/* ---- perceptron_sgd_fit's driver (perceptron.c), shared by the dense and CSR rows ------ */
/* One epoch of class state s on w (q its L1 memory), labels y, weights sw, rows in order
 * (NULL: 0..n-1): the epoch's summed objective. rows is the caller's description of X.     */
typedef double (*NNI_F(sgd_epoch_fn))(const void *rows, NN_T *w, NN_T *q,
                                      nn_perceptron_sgd_class *s, const NN_T *y,
                                      const NN_T *sw, const int64_t *order,
                                      const nn_perceptron_sgd_options *opt);
/* perceptron_sgd_fit with the epoch given: checks everything but the rows themselves (the
 * caller checked X), then trains the classes on the pool.                                   */
int NNI_F(perceptron_sgd_fit_run)(NNI_F(sgd_epoch_fn) epoch, const void *rows, NN_T *W,
                                  NN_T *Q, nn_perceptron_sgd_class *cls, const NN_T *Y,
                                  const NN_T *SW, const int64_t *orders, int64_t c, int64_t n,
                                  int64_t k, int64_t n_epochs,
                                  const nn_perceptron_sgd_options *opt);

#endif /* NN_ELEM_F32 || NN_ELEM_F64 */

#endif /* NNCORE_INTERNAL_H */
