/* GEMM configurations against each other, paired: the loop order, blocking, thread count and
 * kernel set of one product, alternated call by call in one process, so that the slow phases of
 * a shared or virtual machine hit every configuration alike. Prints per configuration the
 * median and best GFLOP/s, and the median (quartiles) of the per-round speed ratio to the first
 * one.
 *
 *   ./build/bench_gemm_configs [-d] M N K TRANS_A TRANS_B ROUNDS CONFIG...
 *   CONFIG = order:mc:kc:nc:threads[:kernel[:nobpack]]
 *            order -1 (the machine's), 0 (B's panel in L1), 1 (A's panel in L1) or 2 (B
 *            streamed through one panel where gemm.c's b_stream can, else 1);
 *            mc, kc, nc 0 = the machine's; kernel a NNFAST_GEMM_KERNEL name (avx512,
 *            avx512_12x32, ...), the default kernel when not given or `default`, or bf16:
 *            the default kernel's products in bfloat16 (nn_gemm_bf16_f32; float only);
 *            nobpack: B packed in a pass of its own, not by the first row panel's kernels
 *   -d: float64 (default float32)
 *   -o BYTES: the operands start BYTES past a 64-byte line (NumPy's arrays start 16 bytes
 *         past one: `-o 16` times what a NumPy caller gets)
 *   -b N: each round times N calls of a configuration back to back (their mean), as a training
 *         step's products and `nnfast bench` run them: the pool's workers are then awake
 *         between calls. Without it a configuration's call follows the other configurations'
 *         calls, so on more than one thread it starts with the workers asleep.
 * e.g. the loop orders of W4's 256 x 2048 x 2048 on 2 threads, 15 rounds:
 *   ./build/bench_gemm_configs 256 2048 2048 0 0 15 0:0:0:0:2 1:0:0:0:2
 * and the float32 AVX-512 tiles 12x32 and 8x48 on 2048^3, one thread:
 *   ./build/bench_gemm_configs 2048 2048 2048 0 0 9 -1:0:0:0:1:avx512_12x32 -1:0:0:0:1:avx512
 * Built with the C tests (cmake -DNNFAST_C_TESTS=ON). Operands on transparent huge pages
 * where the kernel offers them, as NumPy allocates large arrays. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#endif
#include "internal.h"
#include "nncore.h"
#include "bench_values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define MAX_CONFIGS 8
#define MAX_ROUNDS 1000

typedef struct {
    int order, threads;
    long mc, kc, nc;
    char kernel[32]; /* "" = the default */
    int no_bpack;    /* 1: nni_gemm_b_packing_set(0) */
    int bf16;        /* kernel "bf16": nn_gemm_bf16_f32 on the default kernel */
} config;

/* an operand of count elements of `size` bytes, on huge pages when offered, `offset` bytes past
 * the start of the allocation (*base, for free) */
static void *operand(long count, int size, unsigned seed, int offset, void **base)
{
    const size_t bytes = (size_t)count * (size_t)size + (size_t)offset;
    unsigned char *p = NULL;
#if defined(_WIN32)
    p = (unsigned char *)malloc(bytes);
#else
    void *q = NULL;
    if (posix_memalign(&q, (size_t)2 << 20, bytes) == 0) p = (unsigned char *)q;
#endif
    if (!p) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    *base = p;
    p += offset;
    fill_values(p, count, size, seed);
    return p;
}

int main(int argc, char **argv)
{
    int f64 = 0, burst = 1, offset = 0, n_configs, c, r, rounds, b;
    long m, n, k;
    int trans_a, trans_b;
    config cfg[MAX_CONFIGS];
    static double t[MAX_CONFIGS][MAX_ROUNDS], sorted[MAX_ROUNDS], ratio[MAX_ROUNDS];
    void *A, *B, *C, *base[3] = {NULL, NULL, NULL};
    const char *default_kernel = nni_gemm_kernel_get()->name;
    for (;;) {
        if (argc > 1 && strcmp(argv[1], "-d") == 0) f64 = 1, argv++, argc--;
        else if (argc > 2 && strcmp(argv[1], "-b") == 0) burst = atoi(argv[2]), argv += 2, argc -= 2;
        else if (argc > 2 && strcmp(argv[1], "-o") == 0) offset = atoi(argv[2]), argv += 2, argc -= 2;
        else break;
    }
    if (argc < 8 || burst < 1 || offset < 0 || offset > 4096) {
        fprintf(stderr, "usage: %s [-d] [-b N] [-o BYTES] M N K TRANS_A TRANS_B ROUNDS "
                        "order:mc:kc:nc:threads[:kernel]...\n", argv[0]);
        return 2;
    }
    m = atol(argv[1]), n = atol(argv[2]), k = atol(argv[3]);
    trans_a = atoi(argv[4]), trans_b = atoi(argv[5]), rounds = atoi(argv[6]);
    n_configs = argc - 7;
    if (m <= 0 || n <= 0 || k <= 0 || rounds < 1 || rounds > MAX_ROUNDS ||
        n_configs > MAX_CONFIGS) {
        fprintf(stderr, "bad arguments (ROUNDS 1..%d, at most %d configs)\n", MAX_ROUNDS,
                MAX_CONFIGS);
        return 2;
    }
    for (c = 0; c < n_configs; c++) {
        char flag[16] = "";
        const int fields = sscanf(argv[7 + c], "%d:%ld:%ld:%ld:%d:%31[^:]:%15s", &cfg[c].order,
                                  &cfg[c].mc, &cfg[c].kc, &cfg[c].nc, &cfg[c].threads,
                                  cfg[c].kernel, flag);
        if (fields == 5 || strcmp(cfg[c].kernel, "default") == 0) cfg[c].kernel[0] = '\0';
        cfg[c].no_bpack = strcmp(flag, "nobpack") == 0;
        cfg[c].bf16 = strcmp(cfg[c].kernel, "bf16") == 0 && !f64;
        if (cfg[c].bf16) cfg[c].kernel[0] = '\0';
        if (fields < 5 || cfg[c].threads < 1 || (flag[0] && !cfg[c].no_bpack) ||
            (cfg[c].kernel[0] && nni_gemm_kernel_select(cfg[c].kernel) != NN_OK)) {
            fprintf(stderr, "bad config '%s' (order:mc:kc:nc:threads[:kernel[:nobpack]], a "
                    "kernel this build and CPU run)\n", argv[7 + c]);
            return 2;
        }
    }
    A = operand(m * k, f64 ? 8 : 4, 1, offset, &base[0]);
    B = operand(k * n, f64 ? 8 : 4, 2, offset, &base[1]);
    C = operand(m * n, f64 ? 8 : 4, 3, offset, &base[2]);
    if (!A || !B || !C) return 1;
    for (r = -1; r < rounds; r++) /* round -1 warms caches, pages and the thread pool */
        for (c = 0; c < n_configs; c++) {
            double start;
            int st;
            if (cfg[c].kernel[0]) nni_gemm_kernel_select(cfg[c].kernel);
            else nni_gemm_kernel_select(default_kernel);
            nni_gemm_loop_order_set(cfg[c].order);
            nni_gemm_blocking_set(cfg[c].mc, cfg[c].kc, cfg[c].nc);
            nni_gemm_b_packing_set(!cfg[c].no_bpack);
            nn_set_num_threads(cfg[c].threads);
            start = nn_seconds();
            for (b = 0; b < burst; b++) {
                st = f64 ? nn_gemm_f64((double *)C, (const double *)A, (const double *)B, m, n,
                                       k, trans_a, trans_b, 1, 0, NULL)
                     : cfg[c].bf16
                         ? nn_gemm_bf16_f32((float *)C, (const float *)A, (const float *)B, m, n,
                                            k, trans_a, trans_b, 1, 0, NULL)
                         : nn_gemm_f32((float *)C, (const float *)A, (const float *)B, m, n, k,
                                       trans_a, trans_b, 1, 0, NULL);
                if (st != NN_OK) {
                    fprintf(stderr, "gemm failed: %d\n", st);
                    return 1;
                }
            }
            if (r >= 0) t[c][r] = (nn_seconds() - start) / burst;
        }
    printf("%s %ld x %ld x %ld trans_a %d trans_b %d, operands %d bytes past a line, %d rounds "
           "of %d call(s) (default gemm %s)\n", f64 ? "float64" : "float32", m, n, k, trans_a,
           trans_b, offset, rounds, burst, default_kernel);
    for (c = 0; c < n_configs; c++) {
        const double gflop = 2.0 * (double)m * (double)n * (double)k / 1e9;
        for (r = 0; r < rounds; r++) sorted[r] = t[c][r], ratio[r] = t[0][r] / t[c][r];
        qsort(sorted, (size_t)rounds, sizeof(double), by_value);
        qsort(ratio, (size_t)rounds, sizeof(double), by_value);
        printf("  %-30s median %7.1f GFLOP/s  best %7.1f  speed / first: median %.3f "
               "(quartiles %.3f %.3f)\n",
               argv[7 + c], gflop / sorted[rounds / 2], gflop / sorted[0], ratio[rounds / 2],
               ratio[rounds / 4], ratio[3 * rounds / 4]);
    }
    free(base[0]), free(base[1]), free(base[2]);
    return 0;
}
