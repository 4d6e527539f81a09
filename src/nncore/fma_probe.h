/* The FMA throughput probe (clock.c): independent multiply-add chains in the SIMD a GEMM
 * kernel runs, one set per instruction set, compiled with that set's flags
 * (fma_probe_<isa>.c) and run only when the CPU reports the set (dispatch.c's tests).     */
#ifndef NNCORE_FMA_PROBE_H
#define NNCORE_FMA_PROBE_H

#include <stdint.h>

/* Multiply-adds per iteration of a chain function: NNI_FMA_CHAINS independent accumulators
 * (the FMA latency, 4-5 cycles, times two pipes needs 8-10 in flight; 12 fill both pipes on
 * every x86-64 and AArch64 core and leave 4 of 16 vector registers for the constants),
 * NNI_FMA_UNROLL times per loop trip, each on a vector of `lanes` elements.               */
#define NNI_FMA_CHAINS 12
#define NNI_FMA_UNROLL 4

/* Runs `iterations` loop trips; returns the accumulators' sum (positive and finite), which
 * keeps the work from being optimized away.                                                */
typedef double (*nni_fma_chains_fn)(int64_t iterations);

typedef struct {
    int lanes_f32, lanes_f64; /* elements per vector: avx512 16 / 8 */
    nni_fma_chains_fn chains_f32, chains_f64;
} nni_fma_probe;

#ifdef NN_HAVE_KERNEL_AVX512
extern const nni_fma_probe nni_fma_probe_avx512; /* zmm, vfmadd (fma_probe_avx512.c) */
#endif
#ifdef NN_HAVE_KERNEL_AVX2
extern const nni_fma_probe nni_fma_probe_avx2; /* ymm, vfmadd (fma_probe_avx2.c) */
#endif
/* the SIMD every CPU of the target runs (fma_probe_base.c): NEON's fused multiply-add on
 * AArch64, SSE2's separate multiply and add on x86 (what the portable kernel compiles to),
 * scalar elsewhere */
extern const nni_fma_probe nni_fma_probe_base;

#endif
