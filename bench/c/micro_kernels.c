/* The GEMM micro-kernels on their own: how much of one core's peak the chosen kernel set's
 * float32 and float64 kernels reach over packed panels, apart from packing, edge tiles, the
 * macro-kernel's loops and threads -- the ceiling of every product the set runs.
 *
 *   ./build/bench_micro_kernels [ROUNDS [KERNEL]]     (default 9 rounds, the chosen set)
 *
 * For each element type: the panel that stays in L1 in the set's loop order (A's mr x kc in
 * the A-in-L1 order, else B's kc x nr; kc the machine's blocking for a long k, as gemm.c takes
 * it) against the other operand's panels, one kernel call (C's mr x nr tile, beta 1: read and
 * written, as for every k block after the first) per panel, the panels passed over in order:
 *   L1   both panels in half of L1 (a shorter kc), the same panel again every call: the
 *        kernel's loop alone
 *   L2   panels of a quarter of L2 streaming past the one in L1 (as within a block of B)
 *   L3   panels of 4 x L2 (from L3, or memory where L3 is smaller)
 * Each figure is the median GFLOP/s over ROUNDS rounds (each round at least 20 ms of calls)
 * and its ratio to the FMA probe on one core (nn_measure_fma_flops: independent FMA chains in
 * the kernel's SIMD), the higher of the probes timed before and after. KERNEL is a
 * NNFAST_GEMM_KERNEL name (avx512, avx512_12x32, avx2, portable, neon) this CPU runs. Built
 * with the C tests (cmake -DNNFAST_C_TESTS=ON). */
#include "internal.h"
#include "nncore.h"
#include "bench_values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUNDS 101
#define ROUND_SECONDS 0.02

/* count values in [-0.5, 0.5), 64-byte aligned (as the packing buffers are) */
static void *filled(int64_t count, int elem_bytes, unsigned seed)
{
    void *p = nni_block_alloc(count * elem_bytes);
    if (p) fill_values(p, count, elem_bytes, seed);
    return p;
}

typedef struct {
    const nni_gemm_kernel *kr;
    int f64, a_in_l1, mr, nr;
    int64_t kc, panels; /* the streamed operand's panels (1: the same panel every call) */
    const void *fixed, *streamed;
    void *c;
} kernel_run;

/* One pass: a kernel call per streamed panel, each into its own tile of C. */
static void pass(const kernel_run *r)
{
    const int64_t panel_len = r->kc * (r->a_in_l1 ? r->nr : r->mr);
    /* C: the tiles side by side along the streamed operand (mr rows of panels x nr columns
     * with B streaming, panels x mr rows of nr columns with A) */
    const int64_t ldc = r->a_in_l1 ? r->panels * r->nr : r->nr;
    int64_t s;
    for (s = 0; s < r->panels; s++) {
        const int64_t c_off = r->a_in_l1 ? s * r->nr : s * r->mr * r->nr;
        if (r->f64) {
            const double *fx = (const double *)r->fixed;
            const double *st = (const double *)r->streamed + s * panel_len;
            r->kr->ukr_f64(r->kc, r->a_in_l1 ? fx : st, r->a_in_l1 ? st : fx,
                           (double *)r->c + c_off, ldc, 1.0);
        } else {
            const float *fx = (const float *)r->fixed;
            const float *st = (const float *)r->streamed + s * panel_len;
            r->kr->ukr_f32(r->kc, r->a_in_l1 ? fx : st, r->a_in_l1 ? st : fx,
                           (float *)r->c + c_off, ldc, 1.0f);
        }
    }
}

/* The median GFLOP/s of `rounds` rounds of passes. */
static double kernel_gflops(const kernel_run *r, int rounds)
{
    static double rate[MAX_ROUNDS];
    const double flop = 2.0 * r->mr * r->nr * (double)r->kc * (double)r->panels;
    int64_t passes = 1, p;
    double t0, t;
    int i;
    for (;;) { /* warm up, and passes enough for a round of ROUND_SECONDS */
        t0 = nn_seconds();
        for (p = 0; p < passes; p++) pass(r);
        t = nn_seconds() - t0;
        if (t >= ROUND_SECONDS) break;
        passes = t <= 0 ? passes * 2 : (int64_t)((double)passes * ROUND_SECONDS * 1.2 / t) + 1;
    }
    for (i = 0; i < rounds; i++) {
        t0 = nn_seconds();
        for (p = 0; p < passes; p++) pass(r);
        rate[i] = flop * (double)passes / (nn_seconds() - t0) * 1e-9;
    }
    qsort(rate, (size_t)rounds, sizeof rate[0], by_value);
    return rate[rounds / 2];
}

static double probe_gflops(const char *kernel, int elem_bytes)
{
    double flops = 0;
    return nn_measure_fma_flops(&flops, kernel, elem_bytes, 1, 0.01, 5) == NN_OK ? flops * 1e-9
                                                                                 : 0;
}

/* The three working sets of one element type; 0, or -1 when out of memory. */
static int run_type(const nni_gemm_kernel *kr, int f64, int rounds)
{
    const int elem = f64 ? 8 : 4;
    const int mr = f64 ? kr->mr_f64 : kr->mr_f32, nr = f64 ? kr->nr_f64 : kr->nr_f32;
    const int64_t l1 = nn_cache_size(1) > 0 ? nn_cache_size(1) : 32 << 10;
    const int64_t l2 = nn_cache_size(2) > 0 ? nn_cache_size(2) : 256 << 10;
    const char *where[3] = {"L1", "L2", "L3"};
    double probe_before, probe_after, probe, g[3];
    int64_t kc[3], panels[3];
    nni_gemm_blocking bl;
    kernel_run r;
    int w;
    nni_gemm_blocking_get(&bl, mr, nr, elem, 4096, (int64_t)1 << 30, 1);
    r.kr = kr, r.f64 = f64, r.a_in_l1 = bl.a_in_l1, r.mr = mr, r.nr = nr;
    probe_before = probe_gflops(kr->name, elem);
    for (w = 0; w < 3; w++) {
        const int64_t fixed_rows = r.a_in_l1 ? mr : nr, panel_rows = r.a_in_l1 ? nr : mr;
        const int64_t bytes = w == 1 ? l2 / 4 : 4 * l2;
        r.kc = w == 0 ? (l1 / 2 / ((int64_t)(mr + nr) * elem)) / 8 * 8 : bl.kc;
        if (r.kc < 8) r.kc = 8;
        r.panels = w == 0 ? 1 : bytes / (r.kc * panel_rows * elem);
        if (r.panels < 1) r.panels = 1;
        r.fixed = filled(r.kc * fixed_rows, elem, 1);
        r.streamed = filled(r.kc * panel_rows * r.panels, elem, 2);
        r.c = filled((int64_t)mr * nr * r.panels, elem, 3);
        g[w] = r.fixed && r.streamed && r.c ? kernel_gflops(&r, rounds) : -1;
        nni_block_free((void *)r.fixed);
        nni_block_free((void *)r.streamed);
        nni_block_free(r.c);
        if (g[w] < 0) return -1;
        kc[w] = r.kc, panels[w] = r.panels;
    }
    probe_after = probe_gflops(kr->name, elem);
    probe = probe_before > probe_after ? probe_before : probe_after;
    printf("%s %s (%s in L1, kc %ld), FMA probe %.1f GFLOP/s (before %.1f, after %.1f)\n",
           f64 ? "float64" : "float32", f64 ? kr->label_f64 : kr->label_f32,
           r.a_in_l1 ? "A's panel" : "B's panel", (long)bl.kc, probe, probe_before,
           probe_after);
    for (w = 0; w < 3; w++)
        printf("  %s  kc %4ld, %5ld panel(s) of %4ld KiB  %7.1f GFLOP/s  %5.1f %% of the probe\n",
               where[w], (long)kc[w], (long)panels[w],
               (long)(kc[w] * (r.a_in_l1 ? nr : mr) * elem >> 10), g[w],
               probe > 0 ? 100.0 * g[w] / probe : 0.0);
    return 0;
}

int main(int argc, char **argv)
{
    const int rounds = argc > 1 ? atoi(argv[1]) : 9;
    const nni_gemm_kernel *kr;
    if (rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: %s [ROUNDS (1..%d) [KERNEL]]\n", argv[0], MAX_ROUNDS);
        return 2;
    }
    if (argc > 2 && nni_gemm_kernel_select(argv[2]) != NN_OK) {
        fprintf(stderr, "kernel '%s' is unknown or does not run on this CPU\n", argv[2]);
        return 2;
    }
    kr = nni_gemm_kernel_get();
    if (kr->bf16_layout) {
        fprintf(stderr, "kernel '%s' is a bfloat16 set: name a float set\n", kr->name);
        return 2;
    }
    printf("kernel set %s; L1d %ld KiB, L2 %ld KiB; median of %d rounds\n", kr->name,
           (long)(nn_cache_size(1) >> 10), (long)(nn_cache_size(2) >> 10), rounds);
    if (run_type(kr, 0, rounds) != 0 || run_type(kr, 1, rounds) != 0) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    return 0;
}
