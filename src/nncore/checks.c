/* Checks of the caller's data before a fit: every value finite (and within a range), read
 * once, in chunks over the thread pool when the array is large.
 *
 * A fit of MNIST-sized data (60000 x 784 floats, 188 MB) reads all of X once here: bound by
 * memory, ~8 ms on one core of the Zen 5 KVM guest, ~5 ms on two (all_finite's loop
 * vectorizes). */
#include "internal.h"

/* Elements per part: 1 MiB of floats, many parts for a large array (a late thread leaves its
 * share), few enough that claiming one costs nothing beside reading it. */
#define CHECK_CHUNK ((int64_t)1 << 18)
/* Below this many elements the check runs on the calling thread: 4 MiB of floats read in
 * ~0.2 ms, a few times the cost of waking the pool. */
#define CHECK_PARALLEL_MIN ((int64_t)1 << 20)

/* 1 when x[0:n] is finite (internal.h's all_finite) and in [low, high]; the comparisons are
 * false for NaN. */
static int range_ok(const NN_T *x, int64_t n, double low, double high)
{
    unsigned bad = 0;
    int64_t i;
    if (low == -INFINITY && high == INFINITY) return NNI_F(all_finite)(x, n);
    for (i = 0; i < n; i++) {
        const double v = (double)x[i]; /* exact: the bounds compare as given */
        bad |= !((v - v) == 0 && v >= low && v <= high);
    }
    return !bad;
}

typedef struct {
    const NN_T *x;
    int64_t n;
    double low, high;
} check_job;

/* Part c: NN_ENONFINITE when a value of its chunk is out of range (nni_parallel_for returns
 * a failing part's status, so no shared flag is needed). */
static int check_part(void *ctx, int64_t c)
{
    const check_job *j = (const check_job *)ctx;
    const int64_t i0 = c * CHECK_CHUNK;
    const int64_t len = j->n - i0 < CHECK_CHUNK ? j->n - i0 : CHECK_CHUNK;
    return range_ok(j->x + i0, len, j->low, j->high) ? NN_OK : NN_ENONFINITE;
}

int NN_F(all_within)(int *ok, const NN_T *x, int64_t n, double low, double high)
{
    const int threads = nni_threads();
    check_job j;
    int st;
    if (!ok || !x || n < 0 || isnan(low) || isnan(high)) return NN_EINVAL;
    if (threads <= 1 || n < CHECK_PARALLEL_MIN) {
        *ok = range_ok(x, n, low, high);
        return NN_OK;
    }
    j.x = x;
    j.n = n;
    j.low = low;
    j.high = high;
    st = nni_parallel_for(threads, (n + CHECK_CHUNK - 1) / CHECK_CHUNK, check_part, &j);
    *ok = st == NN_OK;
    return st == NN_ENONFINITE ? NN_OK : st;
}
