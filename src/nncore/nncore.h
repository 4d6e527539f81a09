/* nncore: the native core of nnfast. Plain C99, no Python headers.
 *
 * Conventions (docs/semantics.md has the math in full):
 * - Matrices are row-major and contiguous. Layer l maps n_l inputs to n_{l+1} outputs with
 *   W (n_l, n_{l+1}) and b (n_{l+1}); Z = A @ W + b, A_out = f(Z).
 * - A network's parameters are one flat vector: W0 (row-major), b0, W1, b1, ...
 * - Every function returns NN_OK or an error code; nothing here prints, aborts or exits.
 * - Outputs first, then inputs, then sizes. Backward kernels accumulate (dW +=).
 * - Each typed function exists for float (_f32) and double (_f64): nncore_typed.h is included
 *   twice below with NN_T / NN_F set.
 */
#ifndef NNCORE_H
#define NNCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ---------------------------------------------------------------------- */
enum {
    NN_OK = 0,
    NN_EINVAL = 1,     /* an argument is out of its domain (size <= 0, unknown enum, NULL)  */
    NN_ENOMEM = 2,     /* an allocation failed                                             */
    NN_EOVERFLOW = 3,  /* a size computation would overflow                                */
    NN_ENONFINITE = 4, /* the loss became NaN or infinite                                  */
    NN_EPAIR = 5,      /* the output activation and the loss do not go together            */
    NN_EINTR = 6       /* the caller's should_stop callback asked to stop                  */
};
const char *nn_strerror(int status);

/* ---- names (same order as the Python tables) ------------------------------------------- */
typedef enum {
    NN_ACT_IDENTITY = 0, NN_ACT_STEP = 1, NN_ACT_SIGMOID = 2, NN_ACT_TANH = 3, NN_ACT_RELU = 4,
    NN_ACT_SOFTMAX = 5, NN_ACT_EXP = 6 /* exp: an output activation only (poisson's) */
} nn_act;
#define NN_ACT_COUNT 7

typedef enum {
    NN_LOSS_MSE = 0, NN_LOSS_BCE = 1, NN_LOSS_CE = 2, NN_LOSS_MAE = 3, NN_LOSS_HUBER = 4,
    NN_LOSS_POISSON = 5
} nn_loss;
#define NN_LOSS_COUNT 6

typedef enum { NN_OPT_SGD = 0, NN_OPT_ADAM = 1 } nn_opt;
typedef enum { NN_INIT_GLOROT = 0, NN_INIT_ZEROS = 1 } nn_init;
/* The precision of a training step's three products (a layer's A W, delta W^T, A^T delta):
 * the element type's own, or bfloat16 operands with float sums (float32 only: the products
 * of nn_gemm_bf16_f32; parameters, optimizer state, activations and losses stay float32). */
typedef enum { NN_PRODUCTS_NATIVE = 0, NN_PRODUCTS_BF16 = 1 } nn_products;

/* ---- threads (threads.c) and time (clock.c) ------------------------------------------------------------------- */
/* n <= 0 restores the default: NNFAST_NUM_THREADS, else OMP_NUM_THREADS, else the cores.   */
void nn_set_num_threads(int n);
int nn_get_num_threads(void);
/* How parallel loops run: "pool" (the core's POSIX-thread pool), "openmp" (MSVC builds), or
 * "serial" (neither; nn_set_num_threads is then kept but every loop runs on one thread).    */
const char *nn_threading(void);
/* Seconds on a monotonic clock (for throttling callbacks; the origin is arbitrary).         */
double nn_seconds(void);
/* The clock the core runs at, in Hz, from a chain of dependent integer adds (one per cycle):
 * the fastest of `samples` timings of about sample_seconds each; 0 where it cannot be measured. */
double nn_measure_cpu_hz(double sample_seconds, int samples);
/* *flops = FLOP/s of one core running independent multiply-add chains in the SIMD of the GEMM
 * kernel `kernel` ("avx512", "avx2", "neon", "portable"; NULL: the one the dispatch chose),
 * float (elem_bytes 4) or double (8), on `threads` threads at once (<= 0: nn_get_num_threads()),
 * so wide code's all-core clock is the one measured: each thread's 90th percentile of
 * `samples` rates timed over about sample_seconds, averaged over the threads; 0 where the
 * timer fails. NN_EINVAL: an unknown kernel or one this CPU does not run, elem_bytes not 4 or 8,
 * sample_seconds not in (0, 1], samples < 1, threads > 1024. NN_ENOMEM.                     */
int nn_measure_fma_flops(double *flops, const char *kernel, int elem_bytes, int threads,
                         double sample_seconds, int samples);
/* *seconds = a cache line's round trip between CPUs cpu_a and cpu_b (core_latency.c): two
 * threads pinned to them, each waiting for the other's write; the median of 5 batches of
 * trips / 5 after 1000 untimed. 0 where it cannot be measured (not Linux, a CPU this process
 * may not run on, no answer for 0.5 s). NN_EINVAL: a CPU < 0, cpu_a == cpu_b, trips outside
 * 1 .. 10^7. NN_ENOMEM.                                                                      */
int nn_measure_core_round_trip(double *seconds, int cpu_a, int cpu_b, int64_t trips);
/* Where the core's time goes (profile.c), for benchmarks: nn_profile_start clears the rows and
 * switches profiling on; from then every product (nn_gemm_*, the training step's products and
 * their fused steps, bfloat16 products, the forward's chunks of rows against a packed W) adds
 * its wall time to the row of its shape, with the parallel loops it opened. nn_profile_stop
 * switches it off and copies up to max_rows rows into rows (NULL: none); returns how many
 * there are. Loops outside a product count in a row of shape 0 x 0 x 0. One profile per
 * process: profiling two fits at once mixes their rows.                                    */
typedef struct {
    int64_t m, n, k;        /* C (m, n), k terms                                             */
    int trans_a, trans_b;
    int elem_bytes;         /* 4 float, 8 double, 2 a bfloat16 product (float operands)      */
    int with_step;          /* 1: the optimizer step fused into the product (gemm_step)      */
    int64_t calls;
    double seconds;         /* wall time of the calls on the threads that made them          */
    int64_t loops;          /* parallel loops the calls opened                                */
    int64_t loops_alone;    /* of those, loops no pool worker took a part of                   */
    double end_wait;        /* seconds the calling thread waited at the loops' ends for parts
                             * still running on workers                                       */
} nn_profile_row;
void nn_profile_start(void);
int64_t nn_profile_stop(nn_profile_row *rows, int64_t max_rows);
/* Bytes of this core's level-1 data (level 1), level-2 (2) and last-level (3) cache as the CPU
 * reports them; 0 when unknown. The GEMM's blocking is computed from them.                 */
int64_t nn_cache_size(int level);

/* ---- build and run-time report (dispatch.c) -------------------------------------------------- */
typedef struct {
    const char *gemm_kernel_f32;  /* the micro-kernel chosen at run time for float          */
    const char *gemm_kernel_f64;  /* ... and for double                                     */
    const char *vecmath;          /* the vector exp/sigmoid/tanh set chosen at run time     */
    const char *cpu_features;     /* the instruction sets the CPU reports, space-separated */
    const char *compiler;         /* the compiler that built the core                      */
    const char *threading;        /* nn_threading(): "pool", "openmp" or "serial"           */
    int native_build;             /* 1 when built with NNFAST_NATIVE (-march=native)       */
    int num_threads;              /* nn_get_num_threads()                                  */
    /* nn_gemm_bf16_f32's kernel (bfloat16 training's products): "avx512bf16 8x48"
     * (vdpbf16ps), or "float kernel on rounded operands" (the float32 one above)           */
    const char *gemm_kernel_bf16;
} nn_build_info;
void nn_get_build_info(nn_build_info *info);

/* ---- random stream (rng.c): SplitMix64, one per model, state = seed --------------------- */
/* state += 0x9E3779B97F4A7C15; z = mix(state)                                               */
uint64_t nn_rng_u64(uint64_t *state);
/* (u64 >> 11) * 2^-53, in [0, 1)                                                            */
double nn_rng_uniform(uint64_t *state);
/* order = 0..n-1, then for i = n-1..1: j = floor(uniform * (i+1)), swap(order[i], order[j]) */
int nn_rng_permutation(int64_t *order, int64_t n, uint64_t *state);
/* For each of c streams (active[s] != 0; active NULL: all): its next m orders into orders
 * (c, m, n) as numpy.random.RandomState's permutation(n) draws them, from its MT19937 state
 * (keys (c, 624), pos (c) in 0..624, as get_state() gives them), advanced in place          */
int nn_mt19937_permutations(int64_t *orders, int64_t c, int64_t m, int64_t n, uint32_t *keys,
                            int64_t *pos, const uint8_t *active);
/* x (n values) shuffled in place as numpy.random.RandomState.shuffle(x) shuffles it, from the
 * MT19937 state key (624 words), pos (0..624) as get_state() gives them, advanced in place   */
int nn_mt19937_shuffle(int64_t *x, int64_t n, uint32_t *key, int64_t *pos);
/* keys (c, 624), pos (c): numpy.random.RandomState(seeds[s])'s MT19937 state for each of the
 * c integer seeds, as get_state() gives it                                                  */
int nn_mt19937_seed(uint32_t *keys, int64_t *pos, const uint32_t *seeds, int64_t c);
/* For each of c streams (active[s] != 0; active NULL: all): its index row index[s] (n rows,
 * n < 2^31) shuffled m times in place as scikit-learn's SequentialDataset.shuffle(seeds[s])
 * shuffles it (xorshift32 Fisher-Yates, the seed taken by value: the same swaps each time),
 * each result written to orders[s, r] (c, m, n): the epoch orders of scikit-learn's SGD    */
int nn_sgd_dataset_orders(int64_t *orders, int64_t c, int64_t m, int64_t n,
                          const uint32_t *seeds, int64_t *index, const uint8_t *active);

/* ---- network description ---------------------------------------------------------------- */
typedef struct {
    int64_t n_layers;      /* L, number of dense layers (>= 1)                               */
    const int64_t *sizes;  /* L + 1 widths: n_0 (inputs) ... n_L (outputs), each >= 1        */
    nn_act hidden;         /* activation of layers 0 .. L-2 (when hidden_acts is NULL)       */
    nn_act output;         /* activation of layer L-1                                        */
    nn_loss loss;
    /* Appended fields: a description that leaves them zero means what it meant before.      */
    const nn_act *hidden_acts; /* L-1 activations, one per hidden layer, or NULL: `hidden`    */
    const double *dropout; /* L-1 rates p in [0, 1), one per hidden layer, or NULL: none.
                            * Training only: a kept unit is scaled by 1 / (1 - p)            */
    double huber_delta;    /* huber's delta (> 0); read only when loss is NN_LOSS_HUBER      */
} nn_net;

/* Checks the description (sizes, names, rates, output/loss pair) and counts parameters:
 * sum_l n_l * n_{l+1} + n_{l+1}, with overflow checks.                                      */
int nn_net_check(const nn_net *net, int64_t *n_params);
/* Activation of layer l: hidden_acts[l] (or hidden) for l < L-1, output for l = L-1.        */
nn_act nn_net_layer_act(const nn_net *net, int64_t l);
/* Dropout rate of layer l's output during training: dropout[l] for l < L-1, else 0.         */
double nn_net_layer_dropout(const nn_net *net, int64_t l);

typedef struct {
    nn_opt optimizer;
    double lr;             /* > 0                                                           */
    double momentum;       /* sgd: 0 <= mu < 1                                              */
    int nesterov;          /* sgd: 0 or 1                                                   */
    double beta1, beta2, epsilon;  /* adam                                                  */
    double alpha;          /* L2 penalty, >= 0                                              */
    int shuffle;           /* 0 or 1                                                        */
    /* Called between batches when not NULL (never inside a kernel); a nonzero return stops
     * training with NN_EINTR. The binding uses it to let Python handle Ctrl-C.             */
    int (*should_stop)(void *ctx);
    void *stop_ctx;
    /* The caller's order of the rows (n indices in [0, n)), or NULL. With shuffle = 0, each
     * epoch visits the rows in this order, gathered batch by batch as a shuffled epoch's are
     * (an epoch equals the unshuffled one on the rows X[order]); with shuffle = 1 it is an
     * error (NN_EINVAL).                                                                   */
    const int64_t *order;
    /* The L2 weight of the reported loss (epoch_loss, loss_curve) when > 0, else alpha: the
     * batch loss adds loss_alpha/2 sum W^2 / m while the gradient keeps alpha W / m. For a
     * caller whose reported loss is not the one it differentiates (scikit-learn's
     * MLPRegressor with several outputs). Must be finite and >= 0.                         */
    double loss_alpha;
    /* The training products' precision (nn_products); NN_PRODUCTS_BF16 with float64, or any
     * other value, is an error (NN_EINVAL). Bfloat16 training runs the general engine (never
     * the fused small-net or one-neuron ones). Forward, loss and gradients outside training
     * keep the native products.                                                            */
    nn_products products;
} nn_fit_config;

/* scikit-learn's Perceptron trained for many epochs in one call (perceptron_sgd_fit): the
 * epoch's rule and the stopping rule every class shares.                                    */
typedef struct {
    double eta, alpha, l1_ratio;   /* as perceptron_sgd_epoch: eta > 0, alpha >= 0, r in [0, 1] */
    /* stop after n_iter_no_change epochs in a row whose mean objective is > best - tol
     * (-inf: never stop early; NaN is refused)                                             */
    double tol;
    double intercept_decay;        /* CSR rows only: the intercept moves by this of each step */
    int64_t n_iter_no_change;      /* >= 1                                                  */
    int64_t max_iter;              /* >= 1: no class runs more epochs in total              */
    int fit_intercept;             /* 0 or 1                                                */
} nn_perceptron_sgd_options;

/* A class's training state, carried from call to call (start: b the initial intercept,
 * u = 0, norms = [|w|^2, |w|_1], wscale = 1, best_objective = +inf, the counts 0).        */
typedef struct {
    double b, u;                   /* intercept, cumulative L1 penalty                      */
    double norms[2];               /* scikit-learn's running |w|^2 and |w|_1 (CSR rows, or
                                      dense rows with an L2 penalty)                        */
    double wscale;                 /* the weights are wscale * W's row (scikit-learn's
                                      WeightVector, > 0); 1 once the class is done          */
    double best_objective;         /* lowest mean objective so far                          */
    int64_t no_improvement;        /* epochs in a row without an improvement by tol        */
    int64_t epochs;                /* epochs run                                            */
    int64_t status;                /* NN_SGD_TRAINING, NN_SGD_CONVERGED or NN_SGD_NONFINITE */
} nn_perceptron_sgd_class;

enum { NN_SGD_TRAINING = 0, NN_SGD_CONVERGED = 1, NN_SGD_NONFINITE = 2 };

typedef struct nn_workspace_f32 nn_workspace_f32;
typedef struct nn_workspace_f64 nn_workspace_f64;

#define NN_T float
#define NN_F(name) nn_##name##_f32
#define NN_WS nn_workspace_f32
#include "nncore_typed.h"
#undef NN_T
#undef NN_F
#undef NN_WS

#define NN_T double
#define NN_F(name) nn_##name##_f64
#define NN_WS nn_workspace_f64
#include "nncore_typed.h"
#undef NN_T
#undef NN_F
#undef NN_WS

/* nn_gemm_f32's contract with the products in bfloat16: op(A) and op(B) rounded to bfloat16
 * (nearest, ties to even), the products (exact in float) summed in float, alpha times each
 * block of k's sums (a power of two: exactly alpha times the whole sum). Where the CPU has
 * AVX512_BF16 two terms at a time, (c + a1 b1) + a0 b0 (vdpbf16ps; subnormals flushed to
 * zero), else one at a time on the float kernels; the same bits on any thread count.       */
int nn_gemm_bf16_f32(float *C, const float *A, const float *B, int64_t m, int64_t n, int64_t k,
                     int trans_a, int trans_b, float alpha, float beta,
                     const nn_epilogue_f32 *ep);

#ifdef __cplusplus
}
#endif
#endif /* NNCORE_H */
