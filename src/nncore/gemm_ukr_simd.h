/* The UKR_MR x (UKR_NV vectors) GEMM micro-kernel, written once for every SIMD instruction set.
 * Included by gemm_kernels_<isa>.c after defining (no include guard on purpose):
 *   UKR_NAME          the function's name
 *   UKR_MR            rows of the tile
 *   UKR_NV            vectors per row of the tile (optional, 2 when not defined): UKR_MR
 *                     UKR_NV accumulators must fit in the registers, with UKR_NV for B and
 *                     one for the broadcast A
 *   UKR_B_STRIDE      (optional) elements from one k step of the B panel to the next, when
 *                     the panel is wider than the tile: an edge kernel computes the first
 *                     UKR_NV vectors of a wider kernel's panel (UKR_NV UKR_VL when not defined)
 *   UKR_T, UKR_V      the element type and its vector type; UKR_VL lanes per vector
 *   UKR_LOAD(p) UKR_STORE(p, v) UKR_BCAST(x) UKR_ZERO()   unaligned load/store, broadcast, 0
 *   UKR_FMA(a, b, c)  a * b + c, fused;  UKR_ADD(a, b), UKR_MUL(a, b)
 *   UKR_PREFETCH(p)   a hint to fetch the cache line at p into L1 (may be empty)
 *   UKR_PREFETCH_L2(p)  the same into L2 only (may be empty)
 *   UKR_PREFETCH_W(p)  (optional) a hint to fetch the line at p for writing (prefetchw)
 *   UKR_KEEP_OPS      (optional) keep the type and operation macros defined afterwards, for
 *                     another kernel of the same type
 *   UKR_WITH_B_PACKING  (optional) also define UKR_NAME_b_packing: B read in place and
 *                     copied into its packed panel as it is read (nni_ukr_bpack_f32)
 *   UKR_WITH_A_T_IN_PLACE  (optional) also define UKR_NAME_at_in_place, A^T read in place
 *                     (A stored (k, m)), and take A^T in place (lda < 0) in the
 *                     _b_in_place and _b_packing kernels
 *   UKR_MASK_T, UKR_MASK(lanes), UKR_MASKLOAD(p, m)   (optional) a lane mask, the mask of the
 *                     first `lanes` (0 .. UKR_VL) lanes, and a load of those lanes (the others
 *                     0, their memory never touched): the narrow kernel then gets a variant
 *                     reading B in place
 * The contract is nni_ukr_f32/_f64's (gemm_kernels.h): c = beta c + a @ b, each of the MR x NR
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
#ifndef UKR_B_STRIDE
#define UKR_B_STRIDE (UKR_NV * UKR_VL)
#endif

/* Iterations before the end of the k loop at which C's tile is fetched into L1: ~300 cycles
 * at 24 FMAs an iteration, the latency of L3. Fetched into L1 earlier, the tile's lines would
 * not survive the loop: with a power-of-two ldc (n = 2048: 8 KiB) its MR rows share one L1
 * set, which the A and B panels also pass through. */
#ifndef UKR_C_AHEAD
#define UKR_C_AHEAD 24
#endif
/* Rows ahead of the one being read at which the packing variant (UKR_WITH_B_PACKING) asks
 * for B's source row into L2: B's rows lie a page or more apart (W4's n = 2048: 8 KiB), so
 * no hardware prefetcher follows them, and L3's latency, ~150 cycles, is a dozen k steps. */
#ifndef UKR_PACK_AHEAD
#define UKR_PACK_AHEAD 16
#endif
/* K steps ahead at which A^T read in place (UKR_WITH_A_T_IN_PLACE) asks for its row into L1:
 * each k step reads a line of its own, lda apart (1 KiB or more: a page every few steps, which
 * the hardware's stride prefetchers do not cross), and L2's latency is about as many steps.
 * Emerald Rapids guest, paired against the kernels without it (11 rounds, a noisy phase:
 * indicative): 0.95-0.99x without, 16 steps ahead level with 8. */
#ifndef UKR_AT_AHEAD
#define UKR_AT_AHEAD 8
#endif
/* The includer's `static` (or nothing) before the #include applies to this first declaration */
void UKR_NAME(int64_t kc, const UKR_T *a, const UKR_T *b, UKR_T *c, int64_t ldc, UKR_T beta);

#define UKR_CAT_(x, y) x##y
#define UKR_CAT(x, y) UKR_CAT_(x, y)
/* Rows of A in place: row r's element at ab[r / 3] + (r % 3) lda_b bytes, an x86 address
 * (base + index * 1 or 2) from a base per 3 rows and one stride, not a register per row. */
#define UKR_A_BASES ((UKR_MR + 2) / 3)
#define UKR_A(i) (in_place == 1 ? *(const UKR_T *)(ab[(i) / 3] + ((i) % 3) * lda_b) : a[i])

/* One k step: row p of the B panel (UKR_NV vectors), the MR values of A's column p (the
 * packed panel's, or the rows' in place): acc[i][j] += a[i] b[j], row by row. */
#define UKR_STEP()                                                                            \
    do {                                                                                      \
        UKR_V bv[UKR_NV];                                                                     \
        UKR_UNROLL                                                                            \
        for (j = 0; j < UKR_NV; j++) bv[j] = UKR_LOAD(b + j * UKR_VL);                        \
        if (bpk) { /* the packed panel's row p, and the source row to come into L2 */          \
            UKR_UNROLL                                                                        \
            for (j = 0; j < UKR_NV; j++) UKR_STORE(bpk + j * UKR_VL, bv[j]);                  \
            bpk += UKR_B_STRIDE;                                                              \
            if (p + UKR_PACK_AHEAD < kc)                                                      \
                UKR_ROW_PREFETCH(UKR_PREFETCH_L2, b + UKR_PACK_AHEAD * b_step);               \
        }                                                                                     \
        if (in_place == 2) /* A^T in place: its row UKR_AT_AHEAD k steps on into L1 */      \
            UKR_PREFETCH(a + UKR_AT_AHEAD * a_step);                                          \
        UKR_UNROLL                                                                            \
        for (i = 0; i < UKR_MR; i++) {                                                        \
            const UKR_V ai = UKR_BCAST(UKR_A(i));                                             \
            UKR_UNROLL                                                                        \
            for (j = 0; j < UKR_NV; j++) acc[i][j] = UKR_FMA(ai, bv[j], acc[i][j]);           \
        }                                                                                     \
        if (in_place == 1) {                                                                  \
            UKR_UNROLL                                                                        \
            for (i = 0; i < UKR_A_BASES; i++) ab[i] += sizeof(UKR_T);                         \
        } else {                                                                              \
            a += a_step;                                                                      \
        }                                                                                     \
        b += b_step;                                                                          \
    } while (0)

/* Every cache line of a row of UKR_NV vectors from r (a row of C's tile, or B's source row
 * being packed) asked for by PF (which may be empty): the lines from r's, and when r does not
 * start a line (a NumPy array's data 16 bytes into one), the one more line its last element
 * falls in. Without that line, each row of a C written with a short k stalled on one fetch
 * (256 x 2048 x 10 A B^T, C 16 bytes off a line, float32, one thread: 1.2x faster with it;
 * CHANGELOG). */
#define UKR_ROW_LINES ((UKR_NV * UKR_VL * (int)sizeof(UKR_T) + 63) / 64)
#define UKR_ROW_PREFETCH(PF, r)                                                               \
    do {                                                                                      \
        int l_;                                                                               \
        UKR_UNROLL                                                                            \
        for (l_ = 0; l_ < UKR_ROW_LINES; l_++) {                                              \
            PF((const char *)(r) + 64 * l_);                                                  \
        }                                                                                     \
        if ((uintptr_t)(r) % 64) {                                                            \
            PF((r) + UKR_NV * UKR_VL - 1);                                                    \
        }                                                                                     \
    } while (0)

#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline)) static inline
#else
static __forceinline
#endif
/* The kernel, A packed (in_place 0: a the panel, its k steps a_step = UKR_MR apart), its rows
 * in place (1: a row 0's first element, row i lda_b bytes after row i - 1) or A^T in place (2:
 * as packed, the k steps a_step = A's row stride apart); in_place a constant where it is
 * inlined. B's row p at b + p b_step: the packed panel's (UKR_B_STRIDE) or B's own rows (its
 * row stride). */
void UKR_CAT(UKR_NAME, _body)(int64_t kc, const UKR_T *a, int64_t lda_b, int64_t a_step,
                               const UKR_T *b, int64_t b_step, UKR_T *c, int64_t ldc,
                               UKR_T beta, const int in_place, UKR_T *bpk)
{
    UKR_V acc[UKR_MR][UKR_NV];
    const char *ab[UKR_A_BASES];
    const int64_t k_main = kc > UKR_C_AHEAD ? kc - UKR_C_AHEAD : 0;
#ifdef UKR_PREFETCH_W
    /* a short k and C written, not read (beta 0): C's lines asked for writing at once, the
     * loop too short to hide the read prefetches' two steps */
    const int c_for_writing = beta == 0 && kc <= UKR_C_AHEAD;
#else
    const int c_for_writing = 0;
#endif
    int64_t p;
    int i, j;
    UKR_UNROLL
    for (i = 0; i < UKR_A_BASES; i++) ab[i] = (const char *)a + 3 * i * lda_b;
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) {
        UKR_UNROLL
        for (j = 0; j < UKR_NV; j++) acc[i][j] = UKR_ZERO();
#ifdef UKR_PREFETCH_W
        if (c_for_writing) {
            UKR_ROW_PREFETCH(UKR_PREFETCH_W, c + i * ldc);
            continue;
        }
#endif
        /* C's rows are written at the end: start fetching them into L2 now, behind the loop */
        UKR_ROW_PREFETCH(UKR_PREFETCH_L2, c + i * ldc);
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (p = 0; p < k_main; p++) UKR_STEP();
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) /* ... and from L2 into L1 just before they are needed */
        if (!c_for_writing) UKR_ROW_PREFETCH(UKR_PREFETCH, c + i * ldc);
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

void UKR_NAME(int64_t kc, const UKR_T *a, const UKR_T *b, UKR_T *c, int64_t ldc, UKR_T beta)
{
    UKR_CAT(UKR_NAME, _body)(kc, a, 0, UKR_MR, b, UKR_B_STRIDE, c, ldc, beta, 0, NULL);
}

/* The same sums with A read in place: row i of the tile at a + i lda (gemm.c: op(A) = A
 * stored (m, k), alpha 1), no packing. */
static void UKR_CAT(UKR_NAME, _a_in_place)(int64_t kc, const UKR_T *a, int64_t lda,
                                            const UKR_T *b, UKR_T *c, int64_t ldc, UKR_T beta)
{
    UKR_CAT(UKR_NAME, _body)(kc, a, lda * (int64_t)sizeof(UKR_T), UKR_MR, b, UKR_B_STRIDE, c,
                             ldc, beta, 1, NULL);
}

#ifdef UKR_WITH_A_T_IN_PLACE
/* The same sums with A^T in place: A stored (k, m), the tile's rows side by side in A's row p
 * (element (i, p) at a + p lda + i): the packed kernel's reads, lda apart instead of mr. */
static void UKR_CAT(UKR_NAME, _at_in_place)(int64_t kc, const UKR_T *a, int64_t lda,
                                             const UKR_T *b, UKR_T *c, int64_t ldc, UKR_T beta)
{
    UKR_CAT(UKR_NAME, _body)(kc, a, 0, lda, b, UKR_B_STRIDE, c, ldc, beta, 2, NULL);
}
#endif

#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline)) static inline
#else
static __forceinline
#endif
/* The kernel with B read in place (row p of the tile's B at b + p ldb: B stored (k, n), no
 * packing), each row also copied into the packed panel bp when bp is not NULL (row p at bp + p
 * UKR_B_STRIDE), and A's rows in place (lda > 0), A^T in place (lda < 0, its row stride -lda,
 * with UKR_WITH_A_T_IN_PLACE) or A packed (lda == 0: a the panel). */
void UKR_CAT(UKR_NAME, _b_rows)(int64_t kc, const UKR_T *a, int64_t lda, const UKR_T *b,
                                int64_t ldb, UKR_T *bp, UKR_T *c, int64_t ldc, UKR_T beta)
{
    if (lda > 0)
        UKR_CAT(UKR_NAME, _body)(kc, a, lda * (int64_t)sizeof(UKR_T), UKR_MR, b, ldb, c, ldc,
                                 beta, 1, bp);
#ifdef UKR_WITH_A_T_IN_PLACE
    else if (lda < 0)
        UKR_CAT(UKR_NAME, _body)(kc, a, 0, -lda, b, ldb, c, ldc, beta, 2, bp);
#endif
    else
        UKR_CAT(UKR_NAME, _body)(kc, a, 0, UKR_MR, b, ldb, c, ldc, beta, 0, bp);
}

/* The same sums with B read in place (_b_rows without bp). */
static void UKR_CAT(UKR_NAME, _b_in_place)(int64_t kc, const UKR_T *a, int64_t lda,
                                            const UKR_T *b, int64_t ldb, UKR_T *c, int64_t ldc,
                                            UKR_T beta)
{
    UKR_CAT(UKR_NAME, _b_rows)(kc, a, lda, b, ldb, NULL, c, ldc, beta);
}

#ifdef UKR_WITH_B_PACKING
/* The same sums with B read in place, each row copied as it is read into the packed panel bp:
 * the first row panel of A packs B's panel for the others while it multiplies (gemm.c),
 * rather than in a pass of its own that waits on L3 with the FMA units idle. */
static void UKR_CAT(UKR_NAME, _b_packing)(int64_t kc, const UKR_T *a, int64_t lda,
                                           const UKR_T *b, int64_t ldb, UKR_T *bp, UKR_T *c,
                                           int64_t ldc, UKR_T beta)
{
    UKR_CAT(UKR_NAME, _b_rows)(kc, a, lda, b, ldb, bp, c, ldc, beta);
}
#endif

#ifdef UKR_NARROW_NAME
#ifndef UKR_NARROW_NV
#define UKR_NARROW_NV 1
#endif
#ifdef UKR_MASKLOAD
#define UKR_B_ROW(p, j, m) (masked ? UKR_MASKLOAD(p, m) : UKR_LOAD(p))
#else
#define UKR_B_ROW(p, j, m) UKR_LOAD(p)
#endif
/* The narrow kernel, for C at most UKR_NARROW_NV vectors wide (n = 10 against 16 float lanes,
 * or 2 x 8 double lanes): c (UKR_MR x w, w = UKR_NARROW_NV UKR_VL, row stride ldc) = beta c
 * + sum_p op(A)[i, p] b[p b_step + j], p = 0 .. kc-1 in order from 0, one FMA per term. A is
 * read where it is (element (i, p) at a[i ars + p acs]): for a narrow C, packing A would cost
 * more than the product. b is one packed panel (gemm_pack.c; b_step w, masked 0) or, masked
 * 1, B's own rows (b_step its row stride), of which the first n columns are loaded (masked
 * loads: the other lanes 0, their memory not read): the same sums on the same values, so
 * the same bits, without packing B.                                                         */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline)) static inline
#else
static __forceinline
#endif
void UKR_CAT(UKR_NARROW_NAME, _body)(int64_t kc, const UKR_T *a, int64_t ars, int64_t acs,
                                      const UKR_T *b, int64_t b_step, int64_t n, UKR_T *c,
                                      int64_t ldc, UKR_T beta, const int masked)
{
    UKR_V c0[UKR_MR][UKR_NARROW_NV];
#ifdef UKR_MASKLOAD
    UKR_MASK_T mask[UKR_NARROW_NV];
#endif
    int64_t p;
    int i, j;
    (void)n;
#ifdef UKR_MASKLOAD
    UKR_UNROLL
    for (j = 0; j < UKR_NARROW_NV; j++) {
        const int64_t lanes = n - (int64_t)j * UKR_VL;
        mask[j] = UKR_MASK(lanes < 0 ? 0 : lanes > UKR_VL ? UKR_VL : (int)lanes);
    }
#endif
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) {
        UKR_UNROLL
        for (j = 0; j < UKR_NARROW_NV; j++) c0[i][j] = UKR_ZERO();
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (p = 0; p < kc; p++) {
        UKR_V bv[UKR_NARROW_NV];
        const UKR_T *ap = a + p * acs;
        UKR_UNROLL
        for (j = 0; j < UKR_NARROW_NV; j++)
            bv[j] = UKR_B_ROW(b + p * b_step + j * UKR_VL, j, mask[j]);
        UKR_UNROLL
        for (i = 0; i < UKR_MR; i++) {
            const UKR_V ai = UKR_BCAST(ap[i * ars]);
            UKR_UNROLL
            for (j = 0; j < UKR_NARROW_NV; j++) c0[i][j] = UKR_FMA(ai, bv[j], c0[i][j]);
        }
    }
    UKR_UNROLL
    for (i = 0; i < UKR_MR; i++) {
        UKR_UNROLL
        for (j = 0; j < UKR_NARROW_NV; j++) {
            UKR_T *cr = c + i * ldc + j * UKR_VL;
            if (beta == 0)
                UKR_STORE(cr, c0[i][j]);
            else if (beta == 1)
                UKR_STORE(cr, UKR_ADD(UKR_LOAD(cr), c0[i][j]));
            else
                UKR_STORE(cr, UKR_ADD(UKR_MUL(UKR_BCAST(beta), UKR_LOAD(cr)), c0[i][j]));
        }
    }
}

/* (Static, like UKR_NAME, whose includer writes `static` before the #include.) */
static void UKR_NARROW_NAME(int64_t kc, const UKR_T *a, int64_t ars, int64_t acs, const UKR_T *b,
                            UKR_T *c, int64_t ldc, UKR_T beta)
{
    UKR_CAT(UKR_NARROW_NAME, _body)(kc, a, ars, acs, b, UKR_NARROW_NV * UKR_VL,
                                    UKR_NARROW_NV * UKR_VL, c, ldc, beta, 0);
}

#ifdef UKR_MASKLOAD
/* B in place: row p at b + p ldb, n (<= w) columns. On two threads packing B cost more than
 * the product: 256 x 10 x 2048, a 128 KiB panel written by one core and read by both, 2
 * threads 168 us against 75 us with the panel already in both caches (Zen 4 EPYC). */
static void UKR_CAT(UKR_NARROW_NAME, _b_in_place)(int64_t kc, const UKR_T *a, int64_t ars,
                                                   int64_t acs, const UKR_T *b, int64_t ldb,
                                                   int64_t n, UKR_T *c, int64_t ldc, UKR_T beta)
{
    UKR_CAT(UKR_NARROW_NAME, _body)(kc, a, ars, acs, b, ldb, n, c, ldc, beta, 1);
}
#endif
#undef UKR_B_ROW
#undef UKR_NARROW_NAME
#undef UKR_NARROW_NV
#endif

#undef UKR_UNROLL
#undef UKR_NAME
#undef UKR_MR
#undef UKR_NV
#undef UKR_B_STRIDE
#undef UKR_WITH_B_PACKING
#undef UKR_WITH_A_T_IN_PLACE
#undef UKR_STEP
#undef UKR_ROW_LINES
#undef UKR_ROW_PREFETCH
#undef UKR_A
#undef UKR_A_BASES
#undef UKR_AT_AHEAD
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
#undef UKR_PREFETCH_W
#undef UKR_MASK_T
#undef UKR_MASK
#undef UKR_MASKLOAD
#endif
