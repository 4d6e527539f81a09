/* Direct products for small and mid-size shapes: C = alpha op(A) op(B) + beta C with gemm's
 * epilogue, op(A) read where it is, op(B) read by rows (transposed once into a buffer when
 * stored (n, k)), no packing (the ISA kernels: gemm_direct_simd.h; the portable loop below).
 *
 * When (direct_applies): products of up to DIRECT_MAX_WORK multiply-adds, with k <=
 * DIRECT_MAX_K, op(B) within DIRECT_MAX_B_BYTES and, when B is stored transposed, B small
 * enough to transpose on the stack (a layer's weights, as delta W^T's; a large B^T costs as
 * much to transpose as a thin product does to compute). The
 * digits step (batch 200, 64 -> 100 -> 10, float64: Z1 200x100x64 with bias and relu,
 * Z2 200x10x100, dW2 100x10x200 and dW1 64x100x200 accumulated with alpha = 1/m, D1
 * 200x100x10 from W2^T with relu') is the case in point: the packed path spent as long packing
 * and on its epilogue pass as multiplying. Measured on the 2-core Ice Lake Xeon, float64, one
 * thread, the machine shared (best of 7 x 300 calls, indicative): the five products took
 * 372 us direct against 691 us through gemm (1.9x); with no epilogue, 256x100x64 and
 * 200x100x256 ran level with gemm (0.92-1.06), 256^3 0.82-0.94, 64x256x784 0.74, B^T
 * 256x256x128 0.61-0.74, 128x512x200 0.71: beyond ~2M multiply-adds the packed path's larger
 * tiles and blocking win, and the range stops there (W3's 2^21 multiply-add products stay on
 * the packed path). A C of at most DIRECT_FEW_ROWS rows (a forward of a few samples) is
 * direct up to DIRECT_FEW_MAX_WORK multiply-adds whatever k and op(B)'s size, but for B stored
 * transposed. The smallest products too (DIRECT_UNFUSED_MAX_WORK: their own rounding): the
 * kernels' register tiles beat gemm's scalar direct loop, which now takes only what is out of
 * this range (a long k, a large B^T) and at most 32^3. One thread, `_core.gemm` a call at a
 * time, the two builds alternated (ABBA, medians of 15 samples, Zen 4 EPYC KVM guest):
 * float32 32^3 4.6-4.8 -> 1.8-2.3 us; W3's batch-16 products 128 x 10 x 16 A^T B 6.2-10.1 ->
 * 2.3-3.0, 16 x 10 x 128 5.3-5.4 -> 2.1-2.3, 16 x 128 x 10 A B^T 3.6-3.7 -> 1.9; 1 x 10 x 128
 * 1.3 -> 1.0; float64 32^3 6.9 -> 2.7, 128 x 10 x 16 A^T B 6.8-7.0 -> 2.4-2.5, 16^3 2.0 -> 1.1;
 * 2 x 3 x 4 level (~1 us: the call's own cost).
 *
 * Threads: the rows of C are split into ranges of whole DIRECT_PART_ROWS blocks. Each C
 * element is one sum over p in order (one FMA a term in the ISA kernels, a multiply and an add
 * in their unfused tiles and the portable loop) whatever tile or range it falls in, so
 * results are bit-identical for any thread count. */
#include "internal.h"

/* k (the sum's length) up to which the product is direct: a tile's rows of op(A) (8 x k) stay
 * in L1 across the column groups. */
#define DIRECT_MAX_K 256
/* op(B) (k x n) up to this size: every block of rows re-reads it, from L2. */
#define DIRECT_MAX_B_BYTES ((int64_t)256 * 1024)
/* Multiply-adds up to which the product is direct; beyond, the packed GEMM's larger tiles and
 * blocking pay for its packing. */
#define DIRECT_MAX_WORK 2.0e6
/* A C of at most this many rows (one row of the widest kernels' tiles: AVX-512's 3-vector
 * tiles are 8 rows high) is direct whatever k and op(B)'s size: its one row of tiles reads
 * op(B) once, while the blocked path's 8-row tiles spend the padding rows' FMAs (7 of 8 for
 * one row). One sample through 784-256-128-10, float32 (`python bench/bench_latency.py
 * --layers 784,256,128,10 --dtype float32 --rows 1`, Zen 5 KVM guest, load < 0.3): 18.9 us
 * blocked, 10.4 us direct. Up to DIRECT_FEW_MAX_WORK, where the blocked path still runs on
 * one thread (gemm.c's GEMM_PARALLEL_MIN_FLOPS, 2 MFLOP); above, its split over 2 threads beat
 * one row of direct tiles on one (the same forward of 8 rows on 2 threads: 11.7 us blocked
 * against 15.4 direct; a scratch timing at load 0.6, indicative).
 * Not for B stored (n, k): the transposed B goes on the stack (DIRECT_STACK_ELEMS). */
#define DIRECT_FEW_ROWS 8
#define DIRECT_FEW_MAX_WORK 1.0e6
/* Products of fewer FLOP (2 m n k) than this run on one thread. A region costs ~1-3 us when
 * the pool's workers are awake, but a training step's products come with tens of
 * microseconds of serial work between them (loss, delta, the other layers), longer than the
 * pool's spin (threads.c), so each region pays for waking a sleeping worker: 20-50 us in a
 * VM. With 2.0e6 the digits fit (batch 200, 64 -> 100 -> 10, adam; bench/bench_sklearn.py)
 * split its 2.6 MFLOP Z1 and dW1 (~50 us each) and took 0.186 s on 2 threads against 0.128 s
 * on 1 (2-core Ice Lake Xeon, quiet, medians of 5); perf put the pool's waiting and waking at
 * ~15 % of the samples. Above that step's products, the largest direct ones (4 MFLOP,
 * ~80 us) still halve. */
#ifndef DIRECT_PARALLEL_MIN_FLOPS
#define DIRECT_PARALLEL_MIN_FLOPS 3.0e6
#endif
/* Products of at most this many multiply-adds round each term as gemm's scalar direct loop
 * does, a multiply and an add (the unfused tiles: the loop's bits, and the portable rows'),
 * which the one-neuron and small-network engines reproduce (neuron_train.c, small_net.h: no
 * FMA), so their results equal the general path's. The unfused tiles ran the products above
 * at 0.6-1.0x the fused ones' speed (float32 32^3 1.8-2.7 us against 1.6-1.7, 16 x 128 x 10
 * A B^T 2.7-2.9 against 1.8; 128 x 10 x 16 A^T B level), still 2-3x the scalar loop. */
#define DIRECT_UNFUSED_MAX_WORK (32.0 * 32.0 * 32.0)
/* Rows per block of a thread's range: a multiple of every kernel's tile heights (4, 6, 8, 12),
 * so ranges end on tile boundaries: only the last range's tiles are shorter (and of equal
 * height, gemm_direct_simd.h). */
#define DIRECT_PART_ROWS 24
#define DIRECT_PARTS_PER_THREAD 2
/* Elements of op(B) transposed on the stack (else on the heap). */
#define DIRECT_STACK_ELEMS 4096
/* Elements of C^T a narrow product computed as its transpose keeps on the stack (its limit). */
#define NARROW_MAX_ELEMS 2048
/* Columns of one row summed at once (portable loop). */
#define DIRECT_CHUNK 128

typedef NNI_F(direct_args) direct_args;

/* 1 when the product rounds each term's product and sum apart (the unfused tiles): one of at
 * most DIRECT_UNFUSED_MAX_WORK multiply-adds. */
static int unfused_applies(int64_t m, int64_t n, int64_t k)
{
    return (double)m * (double)n * (double)k <= DIRECT_UNFUSED_MAX_WORK;
}

int NNI_F(direct_applies)(int64_t m, int64_t n, int64_t k, int trans_b)
{
    const double work = (double)m * (double)n * (double)k, kn = (double)k * (double)n;
    if (m <= DIRECT_FEW_ROWS && !trans_b && work <= DIRECT_FEW_MAX_WORK) return 1;
    return work <= DIRECT_MAX_WORK && k <= DIRECT_MAX_K &&
           kn * (double)sizeof(NN_T) <= (double)DIRECT_MAX_B_BYTES &&
           (!trans_b || kn <= DIRECT_STACK_ELEMS);
}

int NNI_F(direct_splits)(int64_t m, int64_t n, int64_t k)
{
    return nni_threads() > 1 &&
           2.0 * (double)m * (double)n * (double)k >= DIRECT_PARALLEL_MIN_FLOPS;
}

/* x * f'(a) as nni_deriv_mul rounds it (identity: x). */
static NN_T deriv_times(NN_T x, NN_T a, nn_act act)
{
    switch (act) {
    case NN_ACT_RELU:
        return x * (a > 0 ? (NN_T)1 : (NN_T)0);
    case NN_ACT_SIGMOID:
        return x * (a * ((NN_T)1 - a));
    case NN_ACT_TANH:
        return x * ((NN_T)1 - a * a);
    default:
        return x;
    }
}

/* The portable rows: one row at a time, DIRECT_CHUNK columns of sums on the stack. */
void NNI_F(direct_rows_portable)(const direct_args *g, int64_t i0, int64_t i1)
{
    const int64_t n = g->n, k = g->k;
    const int late = g->late_act != NN_ACT_IDENTITY;
    NN_T acc[DIRECT_CHUNK];
    int64_t i, j0, j, p;
    for (i = i0; i < i1; i++) {
        NN_T *c = g->C + i * n;
        for (j0 = 0; j0 < n; j0 += DIRECT_CHUNK) {
            const int64_t nc = n - j0 < DIRECT_CHUNK ? n - j0 : DIRECT_CHUNK;
            const NN_T *a = g->A + i * g->ars;
            for (j = 0; j < nc; j++) acc[j] = 0;
            for (p = 0; p < k; p++) {
                const NN_T aip = a[p * g->acs];
                const NN_T *b = g->B + p * n + j0;
                for (j = 0; j < nc; j++) acc[j] += aip * b[j];
            }
            for (j = 0; j < nc; j++) {
                NN_T x = acc[j];
                if (g->alpha != 1) x = g->alpha * x;
                if (g->beta != 0) x = x + (g->beta == 1 ? c[j0 + j] : g->beta * c[j0 + j]);
                if (g->bias) x = x + g->bias[j0 + j];
                if (g->relu) x = x > 0 ? x : (NN_T)0;
                if (g->deriv_of && !late)
                    x = deriv_times(x, g->deriv_of[i * n + j0 + j], g->deriv_act);
                c[j0 + j] = x;
            }
        }
        if (late) {
            nni_act_inplace(c, n, g->late_act);
            if (g->deriv_of) nni_deriv_mul(c, c, g->deriv_of + i * n, n, g->deriv_act);
        }
    }
}

#ifdef NN_HAVE_KERNEL_AVX512
/* 1 when the GEMM kernel in use is AVX-512 and the CPU runs the AVX-512 direct file (it is
 * compiled with VL, for its half-width tail: a CPU without VL gets the AVX2 rows) */
static int direct_avx512(const char *kernel)
{
    static int vl = -1;
    if (strncmp(kernel, "avx512", 6) != 0) return 0;
    if (vl < 0) vl = nni_cpu_runs_avx512vl(); /* a race writes the same value */
    return vl;
}
#endif

/* The rows function of the GEMM kernel's instruction set in use (NNFAST_GEMM_KERNEL=avx2
 * runs the AVX2 rows on an AVX-512 machine); unfused: its tiles that round each term's
 * product and sum apart (the portable rows always do). */
static NNI_F(direct_rows_fn) direct_rows(int unfused)
{
    const char *kernel = nni_gemm_kernel_get()->name;
#ifdef NN_HAVE_KERNEL_AVX512
    if (direct_avx512(kernel))
        return unfused ? NNI_F(direct_rows_avx512_unfused) : NNI_F(direct_rows_avx512);
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    if (strcmp(kernel, "avx2") == 0 || strncmp(kernel, "avx512", 6) == 0)
        return unfused ? NNI_F(direct_rows_avx2_unfused) : NNI_F(direct_rows_avx2);
#endif
    (void)kernel, (void)unfused;
    return NNI_F(direct_rows_portable);
}

/* The column sums of the instruction set the direct rows use; portable: the scalar loop. */
void NNI_F(column_sums)(NN_T *s, const NN_T *X, int64_t m, int64_t n, int64_t ld)
{
    const char *kernel = nni_gemm_kernel_get()->name;
    int64_t i, j;
#ifdef NN_HAVE_KERNEL_AVX512
    if (direct_avx512(kernel)) {
        NNI_F(column_sums_avx512)(s, X, m, n, ld);
        return;
    }
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    if (strcmp(kernel, "avx2") == 0 || strncmp(kernel, "avx512", 6) == 0) {
        NNI_F(column_sums_avx2)(s, X, m, n, ld);
        return;
    }
#endif
    (void)kernel;
    for (j = 0; j < n; j++) s[j] = 0;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) s[j] += X[i * ld + j];
}

typedef struct {
    const direct_args *g;
    NNI_F(direct_rows_fn) rows;
    int64_t blocks, n_parts;
} direct_split;

static int direct_part(void *ctx, int64_t c)
{
    const direct_split *s = (const direct_split *)ctx;
    const int64_t b0 = s->blocks * c / s->n_parts, b1 = s->blocks * (c + 1) / s->n_parts;
    const int64_t i1 = b1 * DIRECT_PART_ROWS < s->g->m ? b1 * DIRECT_PART_ROWS : s->g->m;
    if (b0 * DIRECT_PART_ROWS < i1) s->rows(s->g, b0 * DIRECT_PART_ROWS, i1);
    return NN_OK;
}

/* Narrow C from A stored transposed (a weight gradient of a narrow layer, dW = A_prev^T delta
 * with delta 10 wide): computed as its transpose C^T (n, m) = op(B)^T op(A)^T, whose rows are
 * m wide (no padded lanes), with A as stored for op(A)^T (k, m), then written back transposed.
 * Each element is the same sum, term by term, and the same alpha and beta steps, so the bits
 * are the product's. Taken without an epilogue, when the product runs on one thread (C^T's
 * n rows are too few to split) and C^T fits NARROW_MAX_ELEMS on the stack. Measured on the
 * 2-core Ice Lake Xeon, float64, one thread, paired call by call: digits' dW2 = A1^T delta
 * (64 x 10 x 200, beta 1) 1.29x (quartiles 1.26-1.41), 9.7 against 7.2 us. */
static int narrow_transposed(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n,
                             int64_t k, int trans_b, NN_T alpha, NN_T beta)
{
    NN_T T[NARROW_MAX_ELEMS];
    direct_args g;
    int64_t i, j;
    if (beta != 0)
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++) T[j * m + i] = C[i * n + j];
    g.C = T;
    g.A = B; /* op(B)^T[j, p] = op(B)[p, j]: B stored (k, n) or, transposed, (n, k) */
    g.ars = trans_b ? k : 1;
    g.acs = trans_b ? 1 : n;
    g.B = A; /* op(A)^T (k, m): A as stored */
    g.m = n;
    g.n = m;
    g.k = k;
    g.alpha = alpha;
    g.beta = beta;
    g.bias = NULL;
    g.relu = 0;
    g.late_act = NN_ACT_IDENTITY;
    g.deriv_of = NULL;
    g.deriv_act = NN_ACT_IDENTITY;
    direct_rows(unfused_applies(m, n, k))(&g, 0, n);
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) C[i * n + j] = T[j * m + i];
    return NN_OK;
}

/* 1 when narrow_transposed computes this product (the rule above its definition): C at most
 * NARROW_MAX_N wide with padded lanes, m wider, A stored (k, m), no epilogue, one thread. */
#define NARROW_MAX_N 16
static int takes_narrow_transposed(int64_t m, int64_t n, int64_t k, int trans_a,
                                   const NN_F(epilogue) *ep, int threads)
{
    return trans_a && threads <= 1 && n <= NARROW_MAX_N && n % 8 != 0 && m > n &&
           m * n <= NARROW_MAX_ELEMS && k > 0 &&
           (!ep || (!ep->bias && ep->act == NN_ACT_IDENTITY &&
                    (!ep->deriv_of || ep->deriv_act == NN_ACT_IDENTITY)));
}

int NNI_F(direct_gemm)(NN_T *C, const NN_T *A, const NN_T *B, int64_t m, int64_t n,
                       int64_t k, int trans_a, int trans_b, NN_T alpha, NN_T beta,
                       const NN_F(epilogue) *ep)
{
    NN_T stack_bt[DIRECT_STACK_ELEMS];
    NN_T *bt = NULL;
    direct_args g;
    direct_split s;
    int threads = 1, st;
    if (!C || !A || !B || m <= 0 || n <= 0 || k <= 0) return NN_EINVAL;
    if (ep && (!nni_act_valid(ep->act) || ep->act == NN_ACT_SOFTMAX || ep->act == NN_ACT_EXP ||
               (ep->deriv_of && !nni_act_differentiable_elementwise(ep->deriv_act))))
        return NN_EINVAL;
    if (NNI_F(direct_splits)(m, n, k)) threads = nni_threads();
    if (takes_narrow_transposed(m, n, k, trans_a, ep, threads))
        return narrow_transposed(C, A, B, m, n, k, trans_b, alpha, beta);
    if (trans_b) { /* op(B)[p, j] = B[j k + p], written out row-major (k, n) */
        int64_t p, j;
        if (k * n <= DIRECT_STACK_ELEMS) bt = stack_bt;
        else if (!(bt = (NN_T *)nni_alloc(k * n, sizeof(NN_T)))) return NN_ENOMEM;
        for (j = 0; j < n; j++)
            for (p = 0; p < k; p++) bt[p * n + j] = B[j * k + p];
        B = bt;
    }
    g.C = C;
    g.A = A;
    g.ars = trans_a ? 1 : k;
    g.acs = trans_a ? m : 1;
    g.B = B;
    g.m = m;
    g.n = n;
    g.k = k;
    g.alpha = alpha;
    g.beta = beta;
    g.bias = ep ? ep->bias : NULL;
    g.relu = ep && ep->act == NN_ACT_RELU;
    g.late_act = ep && ep->act != NN_ACT_RELU ? ep->act : NN_ACT_IDENTITY;
    g.deriv_of = ep && ep->deriv_act != NN_ACT_IDENTITY ? ep->deriv_of : NULL;
    g.deriv_act = ep ? ep->deriv_act : NN_ACT_IDENTITY;
    s.g = &g;
    s.rows = direct_rows(unfused_applies(m, n, k));
    s.blocks = (m + DIRECT_PART_ROWS - 1) / DIRECT_PART_ROWS;
    s.n_parts = threads > 1 ? (int64_t)threads * DIRECT_PARTS_PER_THREAD : 1;
    if (s.n_parts > s.blocks) s.n_parts = s.blocks;
    if (s.n_parts <= 1) {
        s.rows(&g, 0, m);
        st = NN_OK;
    } else {
        st = nni_parallel_for(threads, s.n_parts, direct_part, &s);
    }
    if (bt && bt != stack_bt) free(bt);
    return st;
}
