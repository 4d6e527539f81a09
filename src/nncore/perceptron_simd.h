/* Linear SGD on the perceptron loss, one epoch over dense rows (scikit-learn's Perceptron),
 * written once for every instruction set. Included by perceptron.c (portable C) and
 * perceptron_<isa>.c, compiled once per element type without FMA contraction, after defining
 * (no include guard on purpose):
 *   PS_EPOCH               the epoch's name (an NNI_F(sgd_rows_fn), internal.h)
 *   PS_ROWS                rows whose dot products are taken together (1 or more)
 *   PS_DOT(w, x, k)        p = w . x in double, in the order below
 *   PS_DOTS(p, w, x, k)    p[r] = w . x[r] for the PS_ROWS rows x[r], each in that order
 *   PS_STEP(w, s, x, k)    w_j += s x_j for j < k in NN_T: the product rounded, then the sum
 *                          (ps_vector_step below, when the includer defines PS_V: the vector
 *                          type of PS_VL elements, PS_VLOAD, PS_VSTORE, PS_VSET1, PS_VADD,
 *                          PS_VMUL, and for the last vector PS_VMASK(valid) of PS_VMASK_T,
 *                          PS_VLOADM, PS_VSTOREM: masked lanes read as 0 and never written)
 *
 * The dot product's order, the same in every instruction set, so that all of them give the
 * same bits: sixteen partial sums s_l = sum of w_j x_j over j = l mod 16 (j ascending, each
 * product rounded, then added), then t_l = s_l + s_{l+8}, u_l = t_l + t_{l+4},
 * v_l = u_l + u_{l+2} and p = v_0 + v_1. Sixteen independent sums keep the adds pipelined
 * (two 8-lane or four 4-lane vectors); the order differs from scikit-learn's left-to-right
 * dot product by rounding only (exactly equal when every product and sum is exact). The
 * weight update and the penalty's loops run element by element in the same order
 * everywhere.
 *
 * Rows in batches: a row's decision waits on its dot product's chain of dependent adds (the
 * partial sums, then the four levels above: ~70 cycles from the loads), and one row's
 * instructions after another's do not reach far enough ahead for the processor to overlap
 * them. Without a penalty, w changes only on a mistake (rare once w has learned: ~1 % of the
 * rows on digits), so the products of PS_ROWS rows are taken together, their chains
 * interleaved, with the w of the first; the rows are then visited in order, and after a row
 * that changed w the batch ends and the next starts at the row after it. Every row's product
 * is so taken with the w it sees in order: the same bits as one row at a time. With a
 * penalty every row changes w: one row at a time.
 */

/* Rows visited this many samples ahead are prefetched: a shuffled epoch reads its rows in a
 * random order the hardware prefetcher cannot follow, and the dot product of the current row
 * waits on its cache lines (digits, 1797 x 64 doubles: 900 KiB, in L2 at best). */
#ifndef PS_AHEAD
#define PS_AHEAD 8
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PS_PREFETCH_LINE(p) __builtin_prefetch(p)
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define PS_PREFETCH_LINE(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define PS_PREFETCH_LINE(p) ((void)(p))
#endif

/* Every PS_PREFETCH_STEP-th byte of the k elements at x (every line: 64), into the cache. */
#ifndef PS_PREFETCH_STEP
#define PS_PREFETCH_STEP 64
#endif
static inline void ps_prefetch_row(const NN_T *x, int64_t k)
{
    const char *p = (const char *)x;
    int64_t at, bytes = k * (int64_t)sizeof(NN_T);
    for (at = 0; at < bytes; at += PS_PREFETCH_STEP) PS_PREFETCH_LINE(p + at);
}

#ifdef PS_V
/* w_j += s x_j, a vector at a time, the last one masked */
static inline void ps_vector_step(NN_T *w, NN_T s, const NN_T *x, int64_t k)
{
    const PS_V sv = PS_VSET1(s);
    int64_t j = 0;
    for (; j + PS_VL <= k; j += PS_VL)
        PS_VSTORE(w + j, PS_VADD(PS_VLOAD(w + j), PS_VMUL(sv, PS_VLOAD(x + j))));
    if (j < k) {
        const PS_VMASK_T m = PS_VMASK(k - j);
        PS_VSTOREM(w + j, m, PS_VADD(PS_VLOADM(w + j, m), PS_VMUL(sv, PS_VLOADM(x + j, m))));
    }
}
#endif

/* p = w . x + b over the rows in order (NULL: 0..n-1); the objective adds max(0, -y p); a
 * mistake (y p <= 0) moves w and b by s = eta y sw along x. No penalty (the penalized epochs
 * are perceptron_wscale.c's). Returns the epoch's summed objective. The hinge is added only on
 * a mistake: the objective stays +0 or positive, so adding a 0 would change nothing. */
double PS_EPOCH(NN_T *w, double *b, const NN_T *X, const NN_T *y, const NN_T *sw,
                const int64_t *order, int64_t n, int64_t k, double eta, int fit_intercept)
{
    double obj = 0.0, bias = *b; /* the intercept in a register: w's stores cannot alias it */
    int64_t idx = 0;
    while (idx < n) { /* batches of PS_ROWS rows (above) */
        const NN_T *x[PS_ROWS];
        double dot[PS_ROWS];
        const int64_t m = n - idx >= PS_ROWS ? PS_ROWS : 1;
        int64_t r;
        for (r = 0; r < m; r++) x[r] = X + (order ? order[idx + r] : idx + r) * k;
        for (r = 0; order && r < m && idx + PS_AHEAD + r < n; r++)
            ps_prefetch_row(X + order[idx + PS_AHEAD + r] * k, k);
        if (m == PS_ROWS)
            PS_DOTS(dot, w, x, k);
        else
            dot[0] = PS_DOT(w, x[0], k);
        for (r = 0; r < m; r++) {
            const int64_t i = order ? order[idx + r] : idx + r;
            const double yi = (double)y[i], yp = yi * (dot[r] + bias);
            if (yp <= 0) {
                const double step = eta * yi * (double)sw[i];
                obj -= yp;
                if (step != 0.0) { /* w changes: the batch's later products are stale */
                    PS_STEP(w, (NN_T)step, x[r], k);
                    if (fit_intercept) bias += step;
                    r++;
                    break;
                }
            }
        }
        idx += r;
    }
    *b = bias;
    return obj;
}
