/* The chains of the FMA throughput probe (fma_probe.h), written once for every instruction
 * set. Included by fma_probe_<isa>.c after defining (no include guard on purpose):
 *   FP_NAME                 the function's name
 *   FP_T, FP_V              the element and vector types
 *   FP_SET1(x)              broadcast
 *   FP_FMA(a, b, c)         a b + c (fused where the set has it: 2 FLOP a lane either way)
 *   FP_SUM(v)               the lanes' sum, as a double
 *
 * Each accumulator follows x <- 0.75 x + 0.25, whose fixed point is 1: the values stay normal
 * numbers (no subnormal slow path) and finite however long it runs, and each step waits for
 * the one before, so the chains are exactly as independent as there are accumulators.    */
static double FP_NAME(int64_t iterations)
{
    const FP_V m = FP_SET1((FP_T)0.75), c = FP_SET1((FP_T)0.25);
    FP_V x0 = FP_SET1((FP_T)0.1), x1 = FP_SET1((FP_T)0.2), x2 = FP_SET1((FP_T)0.3);
    FP_V x3 = FP_SET1((FP_T)0.4), x4 = FP_SET1((FP_T)0.5), x5 = FP_SET1((FP_T)0.6);
    FP_V x6 = FP_SET1((FP_T)0.7), x7 = FP_SET1((FP_T)0.8), x8 = FP_SET1((FP_T)0.9);
    FP_V x9 = FP_SET1((FP_T)1.1), x10 = FP_SET1((FP_T)1.2), x11 = FP_SET1((FP_T)1.3);
    int64_t i;
    for (i = 0; i < iterations; i++) {
        int u;
        for (u = 0; u < NNI_FMA_UNROLL; u++) { /* NNI_FMA_CHAINS = 12 independent steps */
            x0 = FP_FMA(x0, m, c), x1 = FP_FMA(x1, m, c), x2 = FP_FMA(x2, m, c);
            x3 = FP_FMA(x3, m, c), x4 = FP_FMA(x4, m, c), x5 = FP_FMA(x5, m, c);
            x6 = FP_FMA(x6, m, c), x7 = FP_FMA(x7, m, c), x8 = FP_FMA(x8, m, c);
            x9 = FP_FMA(x9, m, c), x10 = FP_FMA(x10, m, c), x11 = FP_FMA(x11, m, c);
        }
    }
    return FP_SUM(x0) + FP_SUM(x1) + FP_SUM(x2) + FP_SUM(x3) + FP_SUM(x4) + FP_SUM(x5) +
           FP_SUM(x6) + FP_SUM(x7) + FP_SUM(x8) + FP_SUM(x9) + FP_SUM(x10) + FP_SUM(x11);
}

#undef FP_NAME
#undef FP_T
#undef FP_V
#undef FP_SET1
#undef FP_FMA
#undef FP_SUM
