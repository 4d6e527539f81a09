/* Private helpers of the C core, shared by every source file in src/nncore/.
 *
 * Untyped files (errors.c rng.c dispatch.c threads.c ...) include this with neither NN_ELEM_F32 nor
 * NN_ELEM_F64 defined and get only the untyped helpers. Typed files are compiled twice, with
 * -DNN_ELEM_F32 and -DNN_ELEM_F64, and get NN_T (element type), NN_F(name) (public name
 * mangler), NNI_F(name) (private name mangler), NN_WS, the math wrappers (NN_EXP, ...) and
 * the elementwise activation helpers that gemm.c, activations.c and losses.c share.
 *
 * Three parts live in headers of their own, included below: pool.h (the thread pool's
 * interface), gemm_kernels.h (the micro-kernels' table, blocking and the GEMM's untyped entry
 * points) and vecmath.h (the vector math's table).
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

/* ---- compiler helpers ---------------------------------------------------------------- */
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

#if defined(_MSC_VER)
#define NNI_ALIGN64 __declspec(align(64))
#elif defined(__GNUC__) || defined(__clang__)
#define NNI_ALIGN64 __attribute__((aligned(64)))
#else
#define NNI_ALIGN64
#endif

/* ---- threads: the pool (pool.h, threads.c) --------------------------------------------- */
#include "pool.h"

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

/* ---- GEMM micro-kernels, blocking, the kernel sets (gemm_kernels.h) -------------------- */
#include "gemm_kernels.h"

/* ---- run-time dispatch (dispatch.c) ---------------------------------------------------- */
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

/* ---- vector math (vecmath.h, vecmath.c, vecmath_<isa>.c) ------------------------------ */
#include "vecmath.h"


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
/* network_desc.c: NN_OK when output and loss go together (semantics.md's table), else
 * NN_EPAIR. */
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

/* sum_i W[i]^2 in double for the L2 penalty, in the order of NNI_SUMSQ_LANES (vecmath.h). */
static inline double nni_sum_squares(const NN_T *W, int64_t count)
{
#ifdef NN_ELEM_F32
    return nni_vecmath_get()->sum_squares_f32(W, count);
#else
    return nni_vecmath_get()->sum_squares_f64(W, count);
#endif
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
 * with momentum 0 that does not keep its velocity this step (w -= lr g; train.c).
 * l2_alpha > 0: the elements l2_begin .. l2_end-1 (a layer's W) step with the L2 term in
 * their gradient, g + l2_alpha w / l2_m (nn_l2_gradient's expression, the gradient's bits
 * with the term added after the product; optim_step.h's _l2 steps), computed in the step's
 * loop from w before its update, on the threads that step them (network.c); grads itself
 * is not written. 0: none.                                                                 */
typedef struct {
    NN_T *params, *state1, *state2;
    NN_T *grads;
    const nn_fit_config *cfg;
    int64_t t;
    NN_T l2_alpha, l2_m, l2_inv; /* l2_inv: NNI_F(l2_inverse)(l2_m) */
    int64_t l2_begin, l2_end;
} NNI_F(optim_step);
/* g[i] += alpha w[i] / m for i in i0 .. i1-1: nn_l2_gradient's expression, its bits (with m a
 * power of two, (alpha w) times 1 / m, exact: the same numbers without a division).         */
void NNI_F(l2_add)(NN_T *g, const NN_T *w, int64_t i0, int64_t i1, NN_T alpha, NN_T m,
                   NN_T inv);
/* l2_add's inv: 1 / m when m > 0 is a power of two (so x / m = x (1 / m) exactly), else 0. */
static inline NN_T NNI_F(l2_inverse)(NN_T m)
{
    int e;
    return frexp((double)m, &e) == 0.5 && e > -100 && e < 100 ? (NN_T)1 / m : (NN_T)0;
}
/* Elements off .. off+count-1 of every array take the step: the same arithmetic and bits as
 * sgd_update / adam_update over the whole vector, split over the pool the same way.        */
int NNI_F(optim_step_range)(const NNI_F(optim_step) *s, int64_t off, int64_t count);
/* 1 when a step over `count` elements runs over the pool (optim.c's rule).                 */
int NNI_F(optim_step_splits)(int64_t count);
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
/* gemm.c: 1 when gemm's product of m n k multiply-adds (B stored transposed: trans_b) may run
 * over the pool: the direct kernels' threshold where they take it, else the blocked path's. */
int NNI_F(gemm_may_split)(int64_t m, int64_t n, int64_t k, int trans_b);

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
/* The same tiles with a multiply and an add a term (no FMA): the portable rows' rounding.  */
void NNI_F(direct_rows_avx2_unfused)(const NNI_F(direct_args) *g, int64_t i0, int64_t i1);
void NNI_F(direct_rows_avx512_unfused)(const NNI_F(direct_args) *g, int64_t i0, int64_t i1);
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
