/* Linear SGD on the perceptron loss, one epoch over dense rows (scikit-learn's Perceptron),
 * written once for every instruction set. Included by perceptron.c (portable C) and
 * perceptron_<isa>.c, compiled once per element type without FMA contraction, after defining
 * (no include guard on purpose):
 *   PS_EPOCH             the epoch's name (an NNI_F(sgd_rows_fn), internal.h)
 *   PS_DOT(w, x, k)      p = w . x in double, in the order below
 *   PS_STEP(w, s, x, k)  w_j += s x_j for j < k in NN_T: the product rounded, then the sum
 *
 * The dot product's order, the same in every instruction set, so that all of them give the
 * same bits: sixteen partial sums s_l = sum of w_j x_j over j = l mod 16 (j ascending, each
 * product rounded, then added), then t_l = s_l + s_{l+8}, u_l = t_l + t_{l+4},
 * v_l = u_l + u_{l+2} and p = v_0 + v_1. Sixteen independent sums keep the adds pipelined
 * (two 8-lane or four 4-lane vectors); the order differs from scikit-learn's left-to-right
 * dot product by rounding only (exactly equal when every product and sum is exact). The
 * weight update and the penalty's loops run element by element in the same order
 * everywhere.
 */

/* Rows visited this many samples ahead are prefetched: a shuffled epoch reads its rows in a
 * random order the hardware prefetcher cannot follow, and the dot product of the current row
 * waits on its cache lines (digits, 1797 x 64 doubles: 900 KiB, in L2 at best). */
#define PS_AHEAD 2

#if defined(__GNUC__) || defined(__clang__)
#define PS_PREFETCH_LINE(p) __builtin_prefetch(p)
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define PS_PREFETCH_LINE(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define PS_PREFETCH_LINE(p) ((void)(p))
#endif

/* Every 64-byte line of the k elements at x, into the cache. */
static inline void ps_prefetch_row(const NN_T *x, int64_t k)
{
    const char *p = (const char *)x, *end = (const char *)(x + k);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
    for (; p < end; p += 64) PS_PREFETCH_LINE(p);
}

/* p = w . x + b over the rows in order (NULL: 0..n-1); the objective adds max(0, -y p) and
 * alpha ((1 - r)/2 |w|^2 + r |w|_1); a mistake (y p <= 0) moves w and b by s = eta y sw along
 * x; the L2 part of the penalty shrinks w by max(0, 1 - (1 - r) eta alpha) before that step;
 * the L1 part is the cumulative truncated penalty: u += r eta alpha, then w_j > 0 becomes
 * max(0, w_j - (u + q_j)), w_j < 0 becomes min(0, w_j + (u - q_j)), and q_j += the change
 * (Tsuruoka et al. 2009). Returns the epoch's summed objective. Without a penalty a row
 * costs its dot product and one predictable branch (a mistake is rare once w has learned). */
double PS_EPOCH(NN_T *w, double *b, double *u, NN_T *q, const NN_T *X, const NN_T *y,
                const NN_T *sw, const int64_t *order, int64_t n, int64_t k, double eta,
                double alpha, double l1_ratio, int fit_intercept)
{
    const double l2_shrink = 1.0 - (1.0 - l1_ratio) * eta * alpha;
    const int l1 = l1_ratio > 0 && alpha > 0;
    double obj = 0.0, bias = *b; /* the intercept in a register: w's stores cannot alias it */
    int64_t idx, j;
    for (idx = 0; idx < n; idx++) {
        const int64_t i = order ? order[idx] : idx;
        const NN_T *x = X + i * k;
        const double yi = (double)y[i];
        double yp;
        if (order && idx + PS_AHEAD < n) ps_prefetch_row(X + order[idx + PS_AHEAD] * k, k);
        yp = yi * (PS_DOT(w, x, k) + bias);
        /* the hinge max(0, -y p) (obj stays +0 or positive, so adding a 0 changes nothing) */
        if (yp <= 0) obj -= yp;
        if (alpha > 0) {
            double sq = 0.0, abs_sum = 0.0;
            for (j = 0; j < k; j++) {
                sq += (double)w[j] * (double)w[j];
                abs_sum += fabs((double)w[j]);
            }
            obj += alpha * ((1.0 - l1_ratio) * 0.5 * sq + l1_ratio * abs_sum);
            if (l1_ratio < 1) {
                /* never scale to negative values when eta alpha is large: set w to zero */
                const NN_T shrink = (NN_T)(l2_shrink > 0 ? l2_shrink : 0.0);
                for (j = 0; j < k; j++) w[j] *= shrink;
            }
        }
        if (yp <= 0) {
            const double step = eta * yi * (double)sw[i];
            if (step != 0.0) {
                PS_STEP(w, (NN_T)step, x, k);
                if (fit_intercept) bias += step;
            }
        }
        if (l1) {
            *u += l1_ratio * eta * alpha;
            for (j = 0; j < k; j++) {
                const NN_T z = w[j];
                if (z > 0) {
                    const NN_T v = z - (NN_T)(*u + (double)q[j]);
                    w[j] = v > 0 ? v : (NN_T)0;
                } else if (z < 0) {
                    const NN_T v = z + (NN_T)(*u - (double)q[j]);
                    w[j] = v < 0 ? v : (NN_T)0;
                }
                q[j] += w[j] - z;
            }
        }
    }
    *b = bias;
    return obj;
}
