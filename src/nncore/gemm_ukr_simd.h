/* The UKR_MR x (UKR_NV vectors) GEMM micro-kernel, written once for every SIMD instruction set.
 * Included by gemm_kernels_<isa>.c after defining (no include guard on purpose):
 *   UKR_NAME          the function's name
 *   UKR_MR            rows of the tile
 *   UKR_NV            vectors per row of the tile (optional, 2 when not defined): UKR_MR
 *                     UKR_NV accumulators must fit in the registers, with UKR_NV for B and
 *                     one for the broadcast A
 *   UKR_T, UKR_V      the element type and its vector type; UKR_VL lanes per vector
 *   UKR_LOAD(p) UKR_STORE(p, v) UKR_BCAST(x) UKR_ZERO()   unaligned load/store, broadcast, 0
 *   UKR_FMA(a, b, c)  a * b + c, fused;  UKR_ADD(a, b), UKR_MUL(a, b)
 *   UKR_PREFETCH(p)   a hint to fetch the cache line at p into L1 (may be empty)
 *   UKR_PREFETCH_L2(p)  the same into L2 only (may be empty)
 *   UKR_KEEP_OPS      (optional) keep the type and operation macros defined afterwards, for
 *                     another kernel of the same type
 * The contract is nni_ukr_f32/_f64's (internal.h): c = beta c + a @ b, each of the MR x NR
 * sums started from 0 and accumulated over p in order, one fused multiply-add per term.
 * The row loops have constant bounds and are fully unrolled, so the accumulators live in
 * registers (GCC and Clang; other compilers may keep them on the stack, still correct). */
#if defined(__clang__)
#define UKR_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define UKR_UNROLL _Pragma("GCC unroll 16")
#else
#define UKR_UNROLL
#endif

#ifndef UKR_NV
#define UKR_NV 2
#endif

/* Iterations before the end of the k loop at which C's tile is fetched into L1: ~300 cycles
 * at 24 FMAs an iteration, the latency of L3. Fetched into L1 earlier, the tile's lines would
 * not survive the loop: with a power-of-two ldc (n = 2048: 8 KiB) its MR rows share one L1
 * set, which the A and B panels also pass through. */
#ifndef UKR_C_AHEAD
#define UKR_C_AHEAD 24
#endif
/* One k step: row p of the B panel (UKR_NV vectors), the MR values of the A panel's
 * column p: acc[i][j] += a[i] b[j], row by row. */
#define UKR_STEP()                                                                            \
    do {                                                                                      \
        UKR_V bv[UKR_NV];                                                                     \
        UKR_UNROLL                                                                            \
        for (j = 0; j < UKR_NV; j++) bv[j] = UKR_LOAD(b + j * UKR_VL);                        \
        UKR_UNROLL                                                                            \
        for (i = 0; i < UKR_MR; i++) {                                                        \
            const UKR_V ai = UKR_BCAST(a[i]);                                                 \
            UKR_UNROLL                                                                        \
            for (j = 0; j < UKR_NV; j++) acc[i][j] = UKR_FMA(ai, bv[j], acc[i][j]);           \
        }                                                                                     \
        a += UKR_MR;                                                                          \
        b += UKR_NV * UKR_VL;                                                                 \
    } while (0)

/* The first cache line of each vector of a row of C's tile, and the row's last element
 * (for 2 vectors: the row's first and last element, its two lines when C is aligned). */
#define UKR_C_LINE(cr, j) ((cr) + (j < UKR_NV - 1 ? j * UKR_VL : UKR_NV * UKR_VL - 1))

void UKR_NAME(int64_t kc, const UKR_T *a, const UKR_T *b, UKR_T *c, int64_t ldc, UKR_T beta)
{
    UKR_V acc[UKR_MR][UKR_NV];
    const int64_t k_main = kc > UKR_C_AHEAD ? kc - UKR_C_AHEAD : 0;
    int64_t p;
    int i, j;
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) {
        UKR_UNROLL
        for (j = 0; j < UKR_NV; j++) {
            acc[i][j] = UKR_ZERO();
            /* C's rows are written at the end: start fetching them into L2 now, behind the
             * loop */
            UKR_PREFETCH_L2(UKR_C_LINE(c + i * ldc, j));
        }
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (p = 0; p < k_main; p++) UKR_STEP();
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) { /* ... and from L2 into L1 just before they are needed */
        UKR_UNROLL
        for (j = 0; j < UKR_NV; j++) UKR_PREFETCH(UKR_C_LINE(c + i * ldc, j));
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (p = k_main; p < kc; p++) UKR_STEP();
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) {
        UKR_T *cr = c + i * ldc;
        if (beta == 0) {
            UKR_UNROLL
            for (j = 0; j < UKR_NV; j++) UKR_STORE(cr + j * UKR_VL, acc[i][j]);
        } else if (beta == 1) {
            UKR_UNROLL
            for (j = 0; j < UKR_NV; j++)
                UKR_STORE(cr + j * UKR_VL, UKR_ADD(UKR_LOAD(cr + j * UKR_VL), acc[i][j]));
        } else {
            const UKR_V bv = UKR_BCAST(beta);
            UKR_UNROLL
            for (j = 0; j < UKR_NV; j++)
                UKR_STORE(cr + j * UKR_VL,
                          UKR_ADD(UKR_MUL(bv, UKR_LOAD(cr + j * UKR_VL)), acc[i][j]));
        }
    }
}

#ifdef UKR_NARROW_NAME
/* The narrow kernel, for C at most one vector wide (n = 10 against 16 float lanes): c (UKR_MR x
 * UKR_VL, row stride ldc) = beta c + sum_p op(A)[i, p] b[p UKR_VL + j], p = 0 .. kc-1 in order
 * from 0, one FMA per term. A is read where it is (element (i, p) at a[i ars + p acs]): for a
 * narrow C, packing A would cost more than the product. b is one packed panel (gemm_pack.c).
 * (Static, like UKR_NAME, whose includer writes `static` before the #include.)            */
static void UKR_NARROW_NAME(int64_t kc, const UKR_T *a, int64_t ars, int64_t acs, const UKR_T *b,
                     UKR_T *c, int64_t ldc, UKR_T beta)
{
    UKR_V c0[UKR_MR];
    int64_t p;
    int i;
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) c0[i] = UKR_ZERO();
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (p = 0; p < kc; p++) {
        const UKR_V b0 = UKR_LOAD(b + p * UKR_VL);
        const UKR_T *ap = a + p * acs;
        UKR_UNROLL
        for (i = 0; i < UKR_MR; i++) c0[i] = UKR_FMA(UKR_BCAST(ap[i * ars]), b0, c0[i]);
    }
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) {
        UKR_T *cr = c + i * ldc;
        if (beta == 0)
            UKR_STORE(cr, c0[i]);
        else if (beta == 1)
            UKR_STORE(cr, UKR_ADD(UKR_LOAD(cr), c0[i]));
        else
            UKR_STORE(cr, UKR_ADD(UKR_MUL(UKR_BCAST(beta), UKR_LOAD(cr)), c0[i]));
    }
}
#undef UKR_NARROW_NAME
#endif

#undef UKR_UNROLL
#undef UKR_NAME
#undef UKR_MR
#undef UKR_NV
#undef UKR_STEP
#undef UKR_C_LINE
#ifndef UKR_KEEP_OPS /* else the includer defines another kernel of the same type next */
#undef UKR_T
#undef UKR_V
#undef UKR_VL
#undef UKR_LOAD
#undef UKR_STORE
#undef UKR_BCAST
#undef UKR_ZERO
#undef UKR_FMA
#undef UKR_ADD
#undef UKR_MUL
#undef UKR_PREFETCH
#undef UKR_PREFETCH_L2
#endif
