/* The 6 x (2 vectors) GEMM micro-kernel, written once for every SIMD instruction set.
 * Included by gemm_kernels_<isa>.c after defining (no include guard on purpose):
 *   UKR_NAME          the function's name
 *   UKR_T, UKR_V      the element type and its vector type; UKR_VL lanes per vector
 *   UKR_LOAD(p) UKR_STORE(p, v) UKR_BCAST(x) UKR_ZERO()   unaligned load/store, broadcast, 0
 *   UKR_FMA(a, b, c)  a * b + c, fused;  UKR_ADD(a, b), UKR_MUL(a, b)
 *   UKR_PREFETCH(p)   a hint to fetch the cache line at p (may be empty)
 * The contract is nni_ukr_f32/_f64's (internal.h): c = beta c + a @ b, each of the 6 x NR
 * sums started from 0 and accumulated over p in order, one fused multiply-add per term. */

void UKR_NAME(int64_t kc, const UKR_T *a, const UKR_T *b, UKR_T *c, int64_t ldc, UKR_T beta)
{
    UKR_V c00 = UKR_ZERO(), c01 = UKR_ZERO(), c10 = UKR_ZERO(), c11 = UKR_ZERO();
    UKR_V c20 = UKR_ZERO(), c21 = UKR_ZERO(), c30 = UKR_ZERO(), c31 = UKR_ZERO();
    UKR_V c40 = UKR_ZERO(), c41 = UKR_ZERO(), c50 = UKR_ZERO(), c51 = UKR_ZERO();
    int64_t p;
    /* C's rows are written at the end: start fetching them now, behind the k loop. */
    UKR_PREFETCH(c);
    UKR_PREFETCH(c + ldc);
    UKR_PREFETCH(c + 2 * ldc);
    UKR_PREFETCH(c + 3 * ldc);
    UKR_PREFETCH(c + 4 * ldc);
    UKR_PREFETCH(c + 5 * ldc);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (p = 0; p < kc; p++) {
        const UKR_V b0 = UKR_LOAD(b), b1 = UKR_LOAD(b + UKR_VL);
        UKR_V ai;
        ai = UKR_BCAST(a[0]);
        c00 = UKR_FMA(ai, b0, c00);
        c01 = UKR_FMA(ai, b1, c01);
        ai = UKR_BCAST(a[1]);
        c10 = UKR_FMA(ai, b0, c10);
        c11 = UKR_FMA(ai, b1, c11);
        ai = UKR_BCAST(a[2]);
        c20 = UKR_FMA(ai, b0, c20);
        c21 = UKR_FMA(ai, b1, c21);
        ai = UKR_BCAST(a[3]);
        c30 = UKR_FMA(ai, b0, c30);
        c31 = UKR_FMA(ai, b1, c31);
        ai = UKR_BCAST(a[4]);
        c40 = UKR_FMA(ai, b0, c40);
        c41 = UKR_FMA(ai, b1, c41);
        ai = UKR_BCAST(a[5]);
        c50 = UKR_FMA(ai, b0, c50);
        c51 = UKR_FMA(ai, b1, c51);
        a += 6;
        b += 2 * UKR_VL;
    }
#define UKR_WRITE_ROW(r, x0, x1)                                                              \
    do {                                                                                      \
        UKR_T *cr = c + (r) * ldc;                                                            \
        if (beta == 0) {                                                                      \
            UKR_STORE(cr, x0);                                                                \
            UKR_STORE(cr + UKR_VL, x1);                                                       \
        } else if (beta == 1) {                                                               \
            UKR_STORE(cr, UKR_ADD(UKR_LOAD(cr), x0));                                         \
            UKR_STORE(cr + UKR_VL, UKR_ADD(UKR_LOAD(cr + UKR_VL), x1));                       \
        } else {                                                                              \
            const UKR_V bv = UKR_BCAST(beta);                                                 \
            UKR_STORE(cr, UKR_ADD(UKR_MUL(bv, UKR_LOAD(cr)), x0));                            \
            UKR_STORE(cr + UKR_VL, UKR_ADD(UKR_MUL(bv, UKR_LOAD(cr + UKR_VL)), x1));          \
        }                                                                                     \
    } while (0)
    UKR_WRITE_ROW(0, c00, c01);
    UKR_WRITE_ROW(1, c10, c11);
    UKR_WRITE_ROW(2, c20, c21);
    UKR_WRITE_ROW(3, c30, c31);
    UKR_WRITE_ROW(4, c40, c41);
    UKR_WRITE_ROW(5, c50, c51);
#undef UKR_WRITE_ROW
}

#undef UKR_NAME
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
