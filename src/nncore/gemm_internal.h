/* The parts the GEMM's three files share, for one element type (gemm.c: the entry points and
 * the choice of path; gemm_blocked.c: the blocked path's loops around the micro-kernel;
 * gemm_parallel.c: a product split over the thread pool): the product as the blocked path
 * sees it (gemm_args), the kernel set's fields of this type, the packing buffers' slots, and
 * the functions one of the files calls in another. Private to those files. */
#ifndef NN_GEMM_INTERNAL_H
#define NN_GEMM_INTERNAL_H

#include "internal.h"

#ifdef NN_ELEM_F32
#define UKR(kr) ((kr)->ukr_f32)
#define MR(kr) ((kr)->mr_f32)
#define NR(kr) ((kr)->nr_f32)
#define NARROW(kr) ((kr)->narrow_f32)
#define NARROW_BIP(kr) ((kr)->narrow_bip_f32)
#define VL(kr) ((kr)->vl_f32)
#define NARROW_W(kr) ((kr)->vl_f32 * (kr)->narrow_vecs_f32)
#define EDGE(kr) ((kr)->edge_f32)
#define UKR_IP(kr) ((kr)->ukr_ip_f32)
#define EDGE_IP(kr) ((kr)->edge_ip_f32)
#define UKR_ATP(kr) ((kr)->ukr_atp_f32)
#define EDGE_ATP(kr) ((kr)->edge_atp_f32)
#define UKR_BIP(kr) ((kr)->ukr_bip_f32)
#define EDGE_BIP(kr) ((kr)->edge_bip_f32)
#define UKR_BPACK(kr) ((kr)->ukr_bpack_f32)
#else
#define UKR(kr) ((kr)->ukr_f64)
#define MR(kr) ((kr)->mr_f64)
#define NR(kr) ((kr)->nr_f64)
#define NARROW(kr) ((kr)->narrow_f64)
#define NARROW_BIP(kr) ((kr)->narrow_bip_f64)
#define VL(kr) ((kr)->vl_f64)
#define NARROW_W(kr) ((kr)->vl_f64 * (kr)->narrow_vecs_f64)
#define EDGE(kr) ((kr)->edge_f64)
#define UKR_IP(kr) ((kr)->ukr_ip_f64)
#define EDGE_IP(kr) ((kr)->edge_ip_f64)
#define UKR_ATP(kr) ((kr)->ukr_atp_f64)
#define EDGE_ATP(kr) ((kr)->edge_atp_f64)
#define UKR_BIP(kr) ((kr)->ukr_bip_f64)
#define EDGE_BIP(kr) ((kr)->edge_bip_f64)
#define UKR_BPACK(kr) ((kr)->ukr_bpack_f64)
#endif

/* Parts per thread of a parallel product: enough that a late thread delays the product by
 * a small part, few enough that each part still fills whole macro-kernel passes.         */
#define GEMM_PARTS_PER_THREAD 4

/* gemm_args.a_in_place: A's rows read in place (A stored (m, k)), or A^T's ((k, m)) */
#define A_ROWS_IN_PLACE 1
#define A_T_IN_PLACE 2

typedef NN_F(epilogue) epilogue_t;

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round_up(int64_t x, int64_t r) { return (x + r - 1) / r * r; }

/* This thread's packing buffers (scratch.c): slots 0, 1 for float A, B; 2, 3 for double;
 * 4 (float), 5 (double) for the operand a parallel product packs once and shares. */
#ifdef NN_ELEM_F32
#define SCRATCH_A 0
#define SCRATCH_SHARED 4
#else
#define SCRATCH_A 2
#define SCRATCH_SHARED 5
#endif

/* The product as the kernel sees it. When transposed, A and B are the caller's B and A with
 * flipped flags, m and n swapped, and the kernel's (i, j) is the caller's C[j, i].        */
typedef struct {
    NN_T *C;
    const NN_T *A, *B;
    int64_t m, n, k;
    int trans_a, trans_b;
    int transposed;
    int64_t ldc;          /* the caller's row stride of C: its n                              */
    NN_T alpha, beta;
    const epilogue_t *ep; /* NULL when empty                                                   */
    const nni_gemm_kernel *kr;
    int64_t mc, kc, nc;   /* blocking: MC, NC, and the k block (k in equal blocks <= KC)      */
    int64_t k0, k1;       /* the k blocks summed: those in [k0, k1) (0, k but for a k half)    */
    int a_in_l1;          /* the loop order (nni_gemm_blocking): A's panel in L1, B's block in L2 */
    int a_in_place;       /* the kernels read A's full row panels in place (gemm_prepare):
                           * A_ROWS_IN_PLACE (A stored (m, k)) or A_T_IN_PLACE ((k, m)), or 0 */
    int b_in_place;       /* the kernels read B's rows in place, B never packed (gemm_prepare) */
    int b_packing;        /* the first row panel's kernels pack B's full panels (gemm_prepare) */
    int b_stream;         /* ... each into the same place, one panel (b_packing, not a_in_l1,
                           * all of the rows in one block: gemm_prepare)                      */
    int bf16;             /* 0, or how a bfloat16 product packs: NNI_BF16_PAIRS / _TILES /
                           * _ROUNDED                                                          */
    int alpha_on_tiles;   /* a bfloat16 product's alpha, not a power of two, scales each tile  */
    int alpha_on_b;       /* alpha (a power of two) scales the packed B, not A: A^T in place  */
    const NNI_F(optim_step) *step; /* gemm_step's: each final block of C takes it, or NULL   */
    int step_tiles;       /* each tile takes the step from the kernel's sums, C never written
                           * (step_tiles_apply)                                                */
    int64_t step_off;     /* C's first element in the step's arrays                            */
    NN_T step_c[NNI_STEP_CONSTS];
} gemm_args;

/* Floats a lane of a packed panel of kc terms takes: kc, or for bfloat16 pairs (two terms a
 * 32-bit word) (kc + 1) / 2, so that a block's panels lie end to end as the float ones do;
 * for AMX's tiles that rounded up to whole tile rows of 16 pairs (at most kc: gemm_prepare
 * gives the tiles k blocks of NNI_BF16_TILES_MIN_K terms or more). */
static inline int64_t panel_kc(const gemm_args *g, int64_t kc)
{
    if (g->bf16 == NNI_BF16_TILES) return round_up((kc + 1) / 2, 16);
    return g->bf16 == NNI_BF16_PAIRS ? (kc + 1) / 2 : kc;
}

/* One row segment of C after its sums are final: c += bias; c = act(c); c *= act'(deriv_of). */
static inline void epilogue_row(NN_T *restrict c, int64_t len, const epilogue_t *ep,
                                int64_t row_off, int64_t col)
{
    int64_t j;
    if (ep->bias) {
        const NN_T *restrict bias = ep->bias + col; /* restrict: the loop vectorizes */
        for (j = 0; j < len; j++) c[j] += bias[j];
    }
    if (ep->act != NN_ACT_IDENTITY) nni_act_inplace(c, len, ep->act);
    if (ep->deriv_of) nni_deriv_mul(c, c, ep->deriv_of + row_off + col, len, ep->deriv_act);
}

/* gemm_blocked.c */
/* Rows r0 .. r1-1 and columns c0 .. c1-1 of the kernel's C, serially, against ap_all or bp_all
 * (the whole of alpha op(A) or op(B) packed) where not NULL. */
int NNI_F(gemm_range)(const gemm_args *g, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                      const NN_T *ap_all, const NN_T *bp_all);
/* The kernel's C[ic : ic+mc, jc : jc+nc] = beta C + ap @ bp over one k block of kc (the
 * comment above its definition has the in-place and b_packing arguments). */
void NNI_F(gemm_macro_kernel)(const gemm_args *g, const NN_T *ap, const NN_T *bp, int64_t ic,
                              int64_t jc, int64_t mc, int64_t nc, int64_t kc, NN_T beta,
                              int last, const NN_T *a_rows, int64_t ldb, NN_T *b_fill,
                              const NN_T *b_src);
/* The k block at pc of op(B)'s columns jc .. jc+nc-1 for the macro-kernel, from `all` or
 * packed into buf (b_packing: only its partial last panel; *fill, *src for the kernels). */
const NN_T *NNI_F(gemm_b_block)(const gemm_args *g, const NN_T *all, NN_T *buf, int64_t jc,
                                int64_t nc, int64_t pc, int64_t kc, NN_T **fill,
                                const NN_T **src);
/* alpha op(A)[i0 : i0+len, pc : pc+kc] in panels of mr rows (a_side), or op(B)[pc : pc+kc,
 * i0 : i0+len] in panels of nr columns, packed at dst. */
void NNI_F(gemm_pack_side)(const gemm_args *g, int a_side, NN_T *dst, int64_t i0, int64_t len,
                           int64_t pc, int64_t kc);
/* A tile (rows x cols, row stride nr) into C at the kernel's (i0, j0), then beta. */
void NNI_F(gemm_write_tile)(const gemm_args *g, const NN_T *tile, int nr, int64_t i0, int64_t j0,
                            int64_t rows, int64_t cols, NN_T beta);
/* The epilogue on the kernel's rows i0 .. i0+rows-1, columns j0 .. j0+cols-1 of C, final. */
void NNI_F(gemm_epilogue_tile)(const gemm_args *g, int64_t i0, int64_t j0, int64_t rows,
                               int64_t cols);

/* gemm_parallel.c */
/* The product over `threads` threads (> 1): runs of C's columns or rows, or blocks of the
 * shared operand for products too large to share it whole. */
int NNI_F(gemm_parallel)(const gemm_args *g, int threads);
/* C summed in two halves of k split at ks, on `threads` threads (1: one after the other),
 * against bp_all (op(B) packed whole) where not NULL. */
int NNI_F(gemm_k_split)(const gemm_args *g, int64_t ks, int threads, const NN_T *bp_all);

#endif
