/* Vectorized exp, sigmoid, tanh (float and double), log1p and softplus (double), written once
 * for every SIMD instruction set. Included once by vecmath_<isa>.c after defining (no include
 * guard on purpose):
 *   VM_ISA                           the set's name, a string ("avx2")
 *   VM_FV, VM_FL / VM_DV, VM_DL      float / double vector type and lanes
 *   VM_F1(x) VM_FLOAD(p) VM_FSTORE(p, v)                    broadcast, unaligned load/store
 *   VM_FADD VM_FSUB VM_FMUL VM_FDIV VM_FMIN VM_FMAX (a, b)
 *   VM_FFMA(a, b, c) = a b + c, VM_FFNMA(a, b, c) = c - a b, fused
 *   VM_FABS(v), VM_FSIGN(v) (the sign bit alone), VM_FOR(a, b) (bitwise)
 *   VM_FSEL_LT(x, y, a, b)           per lane x < y ? b : a
 *   VM_FOK(v, lo, hi)                int bit mask of the lanes with lo <= v <= hi (not NaN)
 *   VM_FPOW2(t)                      2^n from t = n + 1.5 2^23 (n integral, in range)
 *   ... and the same VM_D* for double, plus VM_DEXPO(v): the biased exponent field of each
 *   positive v, as a double, and VM_DLOAD_F32(p): VM_DL floats at p as doubles.
 * Every function maps each lane alone (no cross-lane work), so a value's result does not depend
 * on where it sits in the array, nor on the set's width: avx2 and avx512 give the same bits.
 *
 * The algorithms (Cephes / fdlibm), each with the bound tests/c/test_vecmath.c measures:
 * exp:      x = n ln2 + r, |r| <= ln2/2, n = round(x log2e) by the 1.5 2^p trick, ln2 split in a
 *           high and a low part (Cody-Waite); e^r by a polynomial (float: 1 + r + r^2 P5(r),
 *           Cephes expf; double: the Taylor series to r^13, whose next term is < 2^-57);
 *           e^x = 2^n e^r with 2^n built in the exponent field.
 * sigmoid:  e = e^-|x|; 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0 (e never overflows).
 * tanh:     |x| < 0.625: x + x^3 P(x^2) (float: Cephes tanhf, degree 4; double: Cephes tanh,
 *           the rational P2(x^2) / Q3(x^2)); else 1 - 2 / (e^(2|x|) + 1) with the sign of x,
 *           |x| clamped to 20 (tanh is 1 in both types beyond) so e^(2|x|) stays finite.
 * log1p:    w = 1 + x = 2^k m, m in [sqrt(2)/2, sqrt(2)); log m = 2 atanh(f / (2 + f)), f = m - 1,
 *           by fdlibm's degree-7 polynomial in s^2; + k ln2 (split) + the rounding error of w,
 *           c = (x - (w - 1)) / w (fdlibm's s_log1p.c arrangement).
 * softplus: max(x, 0) + log1p(e^-|x|).
 * Lanes outside each function's range (the vector forms would leave the normal range), NaN and
 * infinities take libm one value at a time, so special values and subnormal results are libm's.
 */

/* ---- float ------------------------------------------------------------------------------- */
static inline VM_FV vm_exp_ps(VM_FV x)
{
    const VM_FV magic = VM_F1(12582912.0f); /* 1.5 2^23: adding it rounds to an integer */
    const VM_FV t = VM_FFMA(x, VM_F1(1.44269504088896341f), magic);
    const VM_FV n = VM_FSUB(t, magic);
    VM_FV r = VM_FFNMA(n, VM_F1(0.693359375f), x), p;
    r = VM_FFNMA(n, VM_F1(-2.12194440e-4f), r);
    p = VM_F1(1.9875691500e-4f);
    p = VM_FFMA(p, r, VM_F1(1.3981999507e-3f));
    p = VM_FFMA(p, r, VM_F1(8.3334519073e-3f));
    p = VM_FFMA(p, r, VM_F1(4.1665795894e-2f));
    p = VM_FFMA(p, r, VM_F1(1.6666665459e-1f));
    p = VM_FFMA(p, r, VM_F1(5.0000001201e-1f));
    p = VM_FFMA(p, VM_FMUL(r, r), VM_FADD(r, VM_F1(1.0f)));
    return VM_FMUL(p, VM_FPOW2(t));
}

static inline VM_FV vm_sigmoid_ps(VM_FV x)
{
    const VM_FV one = VM_F1(1.0f);
    const VM_FV e = vm_exp_ps(VM_FOR(x, VM_F1(-0.0f))); /* e^-|x| */
    const VM_FV d = VM_FADD(one, e);
    return VM_FSEL_LT(x, VM_F1(0.0f), VM_FDIV(one, d), VM_FDIV(e, d));
}

static inline VM_FV vm_tanh_ps(VM_FV x)
{
    const VM_FV one = VM_F1(1.0f), ax = VM_FABS(x), s = VM_FMUL(x, x), sign = VM_FSIGN(x);
    VM_FV q, big;
    q = VM_F1(-5.70498872745e-3f);
    q = VM_FFMA(q, s, VM_F1(2.06390887954e-2f));
    q = VM_FFMA(q, s, VM_F1(-5.37397155531e-2f));
    q = VM_FFMA(q, s, VM_F1(1.33314422036e-1f));
    q = VM_FFMA(q, s, VM_F1(-3.33332819422e-1f));
    q = VM_FFMA(VM_FMUL(q, s), x, x);
    q = VM_FOR(VM_FABS(q), sign); /* tanh(-0) = -0 */
    big = VM_FMIN(ax, VM_F1(20.0f));
    big = vm_exp_ps(VM_FADD(big, big));
    big = VM_FSUB(one, VM_FDIV(VM_F1(2.0f), VM_FADD(big, one)));
    big = VM_FOR(big, sign);
    return VM_FSEL_LT(ax, VM_F1(0.625f), big, q);
}

/* ---- double ------------------------------------------------------------------------------ */
static inline VM_DV vm_exp_pd(VM_DV x)
{
    const VM_DV magic = VM_D1(6755399441055744.0); /* 1.5 2^52 */
    const VM_DV t = VM_DFMA(x, VM_D1(1.4426950408889634074), magic);
    const VM_DV n = VM_DSUB(t, magic);
    VM_DV r = VM_DFNMA(n, VM_D1(6.93147180369123816490e-01), x), p; /* ln2 high part */
    r = VM_DFNMA(n, VM_D1(1.90821492927058770002e-10), r);           /* ln2 low part */
    p = VM_D1(1.0 / 6227020800.0);                                    /* 1/13! */
    p = VM_DFMA(p, r, VM_D1(1.0 / 479001600.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 39916800.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 3628800.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 362880.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 40320.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 5040.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 720.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 120.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 24.0));
    p = VM_DFMA(p, r, VM_D1(1.0 / 6.0));
    p = VM_DFMA(p, r, VM_D1(0.5));
    p = VM_DFMA(p, r, VM_D1(1.0));
    p = VM_DFMA(p, r, VM_D1(1.0));
    return VM_DMUL(p, VM_DPOW2(t));
}

static inline VM_DV vm_sigmoid_pd(VM_DV x)
{
    const VM_DV one = VM_D1(1.0);
    const VM_DV e = vm_exp_pd(VM_DOR(x, VM_D1(-0.0))); /* e^-|x| */
    const VM_DV d = VM_DADD(one, e);
    return VM_DSEL_LT(x, VM_D1(0.0), VM_DDIV(one, d), VM_DDIV(e, d));
}

static inline VM_DV vm_tanh_pd(VM_DV x)
{
    const VM_DV one = VM_D1(1.0), ax = VM_DABS(x), z = VM_DMUL(x, x), sign = VM_DSIGN(x);
    VM_DV p, q, small, big;
    p = VM_D1(-9.64399179425052238628e-1);
    p = VM_DFMA(p, z, VM_D1(-9.92877231001918586564e1));
    p = VM_DFMA(p, z, VM_D1(-1.61468768441708447952e3));
    q = VM_DADD(z, VM_D1(1.12811678491632931402e2));
    q = VM_DFMA(q, z, VM_D1(2.23548839060100448583e3));
    q = VM_DFMA(q, z, VM_D1(4.84406305325125486048e3));
    big = VM_DMIN(ax, VM_D1(20.0));
    big = vm_exp_pd(VM_DADD(big, big));
    {
        /* one division serves both forms: p / q for |x| < 0.625, else 2 / (e^2|x| + 1) (the
         * same quotients, so the same bits as two divisions) */
        const VM_DV ratio = VM_DDIV(VM_DSEL_LT(ax, VM_D1(0.625), VM_D1(2.0), p),
                                    VM_DSEL_LT(ax, VM_D1(0.625), VM_DADD(big, one), q));
        small = VM_DFMA(VM_DMUL(x, z), ratio, x);
        small = VM_DOR(VM_DABS(small), sign); /* tanh(-0) = -0 */
        big = VM_DOR(VM_DSUB(one, ratio), sign);
    }
    return VM_DSEL_LT(ax, VM_D1(0.625), big, small);
}

/* x > -1, finite. */
static inline VM_DV vm_log1p_pd(VM_DV x)
{
    const VM_DV one = VM_D1(1.0), w = VM_DADD(one, x);
    /* w = 2^k m: shift w's bits so m's exponent field lands on sqrt(2)/2 <= m < sqrt(2) */
    const VM_DV wk = VM_DADDBITS(w, 0x3ff0000000000000LL - 0x3fe6a09e00000000LL);
    const VM_DV k = VM_DSUB(VM_DEXPO(wk), VM_D1(1023.0));
    const VM_DV m = VM_DMANT(wk, 0x3fe6a09e00000000LL);
    const VM_DV f = VM_DSUB(m, one);
    const VM_DV c = VM_DDIV(VM_DSUB(x, VM_DSUB(w, one)), w); /* the rounding error of 1 + x */
    const VM_DV s = VM_DDIV(f, VM_DADD(VM_D1(2.0), f)), z = VM_DMUL(s, s);
    const VM_DV hfsq = VM_DMUL(VM_D1(0.5), VM_DMUL(f, f));
    VM_DV R = VM_D1(1.479819860511658591e-01);
    R = VM_DFMA(R, z, VM_D1(1.531383769920937332e-01));
    R = VM_DFMA(R, z, VM_D1(1.818357216161805012e-01));
    R = VM_DFMA(R, z, VM_D1(2.222219843214978396e-01));
    R = VM_DFMA(R, z, VM_D1(2.857142874366239149e-01));
    R = VM_DFMA(R, z, VM_D1(3.999999999940941908e-01));
    R = VM_DFMA(R, z, VM_D1(6.666666666666735130e-01));
    R = VM_DMUL(R, z);
    /* k ln2_hi - ((hfsq - (s (hfsq + R) + (k ln2_lo + c))) - f); k ln2_hi is exact */
    {
        const VM_DV lo = VM_DFMA(k, VM_D1(1.90821492927058770002e-10), c);
        const VM_DV t = VM_DSUB(VM_DSUB(hfsq, VM_DFMA(s, VM_DADD(hfsq, R), lo)), f);
        const VM_DV y = VM_DSUB(VM_DMUL(k, VM_D1(6.93147180369123816490e-01)), t);
        /* |x| < 2^-54: log1p x rounds to x (this also keeps log1p(-0) = -0) */
        return VM_DSEL_LT(VM_DABS(x), VM_D1(5.5511151231257827e-17), y, x);
    }
}

static inline VM_DV vm_softplus_pd(VM_DV x)
{
    const VM_DV e = vm_exp_pd(VM_DOR(x, VM_D1(-0.0))); /* e^-|x| <= 1 */
    return VM_DADD(VM_DMAX(x, VM_D1(0.0)), vm_log1p_pd(e));
}

/* ---- the scalar forms for lanes out of range ------------------------------------------------ */
static inline float vm_sigmoid_f(float z)
{
    float e;
    if (z >= 0) return 1.0f / (1.0f + expf(-z));
    e = expf(z);
    return e / (1.0f + e);
}
static inline double vm_sigmoid_d(double z)
{
    double e;
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    e = exp(z);
    return e / (1.0 + e);
}
static inline double vm_softplus_d(double z)
{
    return (z > 0 ? z : 0.0) + log1p(exp(-fabs(z)));
}

/* x[0:n] = f(x[0:n]) in blocks of the vector width; lanes outside [LO, HI] (or NaN) from
 * SCALAR_F. A tail shorter than a block goes through the same code in a padded buffer, so
 * each value's result is a function of the value alone. */
#define VM_APPLY(NAME, T, V, VL, LOAD, STORE, OK, VEC_F, SCALAR_F, LO, HI, PAD)                \
    static inline void NAME##_block(T *x)                                                        \
    {                                                                                        \
        const V v = LOAD(x);                                                                 \
        int bad = ~OK(v, LO, HI) & ((1 << (VL)) - 1), i;                                     \
        T in[VL];                                                                            \
        STORE(in, v);                                                                        \
        STORE(x, VEC_F(v));                                                                  \
        for (i = 0; bad; i++, bad >>= 1)                                                     \
            if (bad & 1) x[i] = SCALAR_F(in[i]);                                             \
    }                                                                                        \
    static inline void NAME(T *x, int64_t n)                                                     \
    {                                                                                        \
        int64_t j;                                                                           \
        for (j = 0; j + (VL) <= n; j += (VL)) NAME##_block(x + j);                           \
        if (j < n) {                                                                         \
            T pad[VL];                                                                       \
            int i;                                                                           \
            for (i = 0; i < (VL); i++) pad[i] = (T)(PAD);                                    \
            memcpy(pad, x + j, (size_t)(n - j) * sizeof(T));                                 \
            NAME##_block(pad);                                                               \
            memcpy(x + j, pad, (size_t)(n - j) * sizeof(T));                                 \
        }                                                                                    \
    }

/* float: e^x leaves the normal range beyond |x| = 80 (e^-80 = 1.8e-35 > FLT_MIN) */
VM_APPLY(vm_exp_f32, float, VM_FV, VM_FL, VM_FLOAD, VM_FSTORE, VM_FOK, vm_exp_ps, expf,
         -80.0f, 80.0f, 0)
VM_APPLY(vm_sigmoid_f32, float, VM_FV, VM_FL, VM_FLOAD, VM_FSTORE, VM_FOK, vm_sigmoid_ps,
         vm_sigmoid_f, -80.0f, 80.0f, 0)
VM_APPLY(vm_tanh_f32, float, VM_FV, VM_FL, VM_FLOAD, VM_FSTORE, VM_FOK, vm_tanh_ps, tanhf,
         -80.0f, 80.0f, 0)
/* double: beyond |x| = 708 (e^-708 = 3.3e-308 > DBL_MIN, 2^1021 < DBL_MAX) */
VM_APPLY(vm_exp_f64, double, VM_DV, VM_DL, VM_DLOAD, VM_DSTORE, VM_DOK, vm_exp_pd, exp, -708.0,
         708.0, 0)
VM_APPLY(vm_sigmoid_f64, double, VM_DV, VM_DL, VM_DLOAD, VM_DSTORE, VM_DOK, vm_sigmoid_pd,
         vm_sigmoid_d, -708.0, 708.0, 0)
VM_APPLY(vm_tanh_f64, double, VM_DV, VM_DL, VM_DLOAD, VM_DSTORE, VM_DOK, vm_tanh_pd, tanh,
         -708.0, 708.0, 0)
/* log1p: -1 < x (the largest double above -1 is -1 + 2^-53) and x <= 2^1000 */
VM_APPLY(vm_log1p_f64, double, VM_DV, VM_DL, VM_DLOAD, VM_DSTORE, VM_DOK, vm_log1p_pd, log1p,
         -0.99999999999999988898, 1.0715086071862673e301, 0)
VM_APPLY(vm_softplus_f64, double, VM_DV, VM_DL, VM_DLOAD, VM_DSTORE, VM_DOK, vm_softplus_pd,
         vm_softplus_d, -708.0, 708.0, 0)

#undef VM_APPLY

/* 1 when x[0:n] holds no NaN and no infinity: x - x is +0 for a finite x and NaN otherwise,
 * and a sum of them is 0 until a NaN joins it (NaN stays NaN). Four vectors of sums; the
 * tail one value at a time (internal.h's all_finite). Reads x once: a model's 235 K float
 * weights (_core.ready_vector, medians of 9 x 1000 calls, Zen 5 KVM guest at load < 0.3)
 * 5.8-6.0 us through AVX-512, 31.6-31.7 us through the baseline loop (NNFAST_VECMATH=portable). */
#define VM_ALL_FINITE(NAME, T, V, VL, ONE, LOAD, STORE, ADD, SUB)                              \
    static inline int NAME(const T *x, int64_t n)                                            \
    {                                                                                        \
        V s0 = ONE((T)0), s1 = s0, s2 = s0, s3 = s0;                                         \
        T lane[VL];                                                                          \
        unsigned bad = 0;                                                                    \
        int64_t j = 0;                                                                       \
        int i;                                                                               \
        for (; j + 4 * (VL) <= n; j += 4 * (VL)) {                                           \
            const V a = LOAD(x + j), b = LOAD(x + j + (VL));                                 \
            const V c = LOAD(x + j + 2 * (VL)), d = LOAD(x + j + 3 * (VL));                  \
            s0 = ADD(s0, SUB(a, a));                                                         \
            s1 = ADD(s1, SUB(b, b));                                                         \
            s2 = ADD(s2, SUB(c, c));                                                         \
            s3 = ADD(s3, SUB(d, d));                                                         \
        }                                                                                    \
        STORE(lane, ADD(ADD(s0, s1), ADD(s2, s3)));                                          \
        for (i = 0; i < (VL); i++) bad |= lane[i] != 0;                                      \
        for (; j < n; j++) bad |= (x[j] - x[j]) != 0;                                        \
        return !bad;                                                                         \
    }
VM_ALL_FINITE(vm_all_finite_f32, float, VM_FV, VM_FL, VM_F1, VM_FLOAD, VM_FSTORE, VM_FADD,
              VM_FSUB)
VM_ALL_FINITE(vm_all_finite_f64, double, VM_DV, VM_DL, VM_D1, VM_DLOAD, VM_DSTORE, VM_DADD,
              VM_DSUB)
#undef VM_ALL_FINITE

/* sum_i x[i]^2 in double in NNI_SUMSQ_LANES partial sums (vecmath.h): NNI_SUMSQ_LANES / VM_DL
 * registers of sums, lane l of register r holding s_(r VM_DL + l); the tail and the halving in
 * the portable set's scalar order. The square is rounded before its add (VM_NO_CONTRACT keeps
 * the compiler from fusing the two: the -mfma build would), so every set gives the same bits.
 * LOAD_D(p) loads VM_DL values at p as doubles. A float's square is exact in double
 * (EXACT = 1): there one FMA adds it, rounded once as the add alone rounds it, the same bits
 * for an instruction fewer a vector. W3's first layer (784 x 256 floats, `_core.l2_penalty`,
 * Zen 4 KVM guest, medians of 7 x 2000 calls): 17.9 -> 14.5 us in the avx512 set, 14.8 ->
 * 10.1 in the avx2 one (Zen 4's 512-bit conversions take twice the 256-bit ones' cycles). */
#if defined(__GNUC__) || defined(__clang__)
#define VM_NO_CONTRACT(v) __asm__("" : "+v"(v))
#else /* MSVC does not contract intrinsics */
#define VM_NO_CONTRACT(v) (void)0
#endif
#define VM_SUM_SQUARES(NAME, T, LOAD_D, EXACT)                                               \
    static inline double NAME(const T *x, int64_t n)                                         \
    {                                                                                        \
        VM_DV acc[NNI_SUMSQ_LANES / VM_DL];                                                  \
        double s[NNI_SUMSQ_LANES];                                                           \
        int64_t i = 0;                                                                       \
        int r, q;                                                                            \
        for (r = 0; r < NNI_SUMSQ_LANES / VM_DL; r++) acc[r] = VM_D1(0.0);                   \
        for (; i + NNI_SUMSQ_LANES <= n; i += NNI_SUMSQ_LANES)                               \
            for (r = 0; r < NNI_SUMSQ_LANES / VM_DL; r++) {                                  \
                const VM_DV v = LOAD_D(x + i + r * VM_DL);                                   \
                if (EXACT) {                                                                 \
                    acc[r] = VM_DFMA(v, v, acc[r]);                                          \
                } else {                                                                     \
                    VM_DV p = VM_DMUL(v, v);                                                 \
                    VM_NO_CONTRACT(p);                                                       \
                    acc[r] = VM_DADD(acc[r], p);                                             \
                }                                                                            \
            }                                                                                \
        for (r = 0; r < NNI_SUMSQ_LANES / VM_DL; r++) VM_DSTORE(s + r * VM_DL, acc[r]);       \
        for (q = 0; i < n; i++, q++) {                                                       \
            double p = (double)x[i] * (double)x[i];                                          \
            VM_NO_CONTRACT(p);                                                               \
            s[q] += p;                                                                       \
        }                                                                                    \
        return nni_sum_squares_combine(s);                                                   \
    }
VM_SUM_SQUARES(vm_sum_squares_f32, float, VM_DLOAD_F32, 1)
VM_SUM_SQUARES(vm_sum_squares_f64, double, VM_DLOAD, 0)
#undef VM_SUM_SQUARES
#undef VM_NO_CONTRACT
