/* Where the C core's time goes: the products a fit runs, by shape, and the parallel loops they
 * open (nn_profile_start / nn_profile_stop, nncore.h; bench/profile_products.py prints it).
 *
 * Off unless switched on: a product then costs one load and a branch more. On, each product
 * call adds its wall time to the row of its shape (found under a lock: one per call, a few
 * hundred nanoseconds against microseconds of product), and each parallel loop the call opens
 * adds whether a worker took part and how long the calling thread waited at its end for the
 * parts still running on workers. Loops outside a product (an optimizer sweep, column sums,
 * the forward's row chunks) go to one row of shape 0 x 0 x 0. The rows hold what the calls
 * measured on the thread that made them: a loop's parts on workers are inside its wall time.
 */
#include "internal.h"

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h> /* _InterlockedExchange */
#endif

#define PROFILE_MAX_ROWS 128

int nni_profile_flag = 0; /* read by nni_profile_on (pool.h) */
static nn_profile_row g_rows[PROFILE_MAX_ROWS];
static int64_t g_n_rows = 0;
static volatile long g_lock = 0;
/* the row of the product this thread is in (its loops count there), or -1, and its start */
static NNI_THREAD_LOCAL int64_t t_current_row = -1;
static NNI_THREAD_LOCAL double t_start = 0;

static void lock(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    while (_InterlockedExchange(&g_lock, 1)) {
    }
#else
    while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE)) {
    }
#endif
}

static void unlock(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    _InterlockedExchange(&g_lock, 0);
#else
    __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE);
#endif
}

/* The row of this shape (made when new), or -1 when the table is full. Under the lock. */
static int64_t row_of(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                      int elem_bytes, int with_step)
{
    int64_t r;
    for (r = 0; r < g_n_rows; r++) {
        const nn_profile_row *x = &g_rows[r];
        if (x->m == m && x->n == n && x->k == k && x->trans_a == trans_a &&
            x->trans_b == trans_b && x->elem_bytes == elem_bytes && x->with_step == with_step)
            return r;
    }
    if (g_n_rows == PROFILE_MAX_ROWS) return -1;
    memset(&g_rows[r], 0, sizeof g_rows[r]);
    g_rows[r].m = m, g_rows[r].n = n, g_rows[r].k = k;
    g_rows[r].trans_a = trans_a, g_rows[r].trans_b = trans_b;
    g_rows[r].elem_bytes = elem_bytes, g_rows[r].with_step = with_step;
    g_n_rows++;
    return r;
}

void nni_profile_enter(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                       int elem_bytes, int with_step)
{
    int64_t r;
    lock();
    r = row_of(m, n, k, trans_a, trans_b, elem_bytes, with_step);
    unlock();
    t_current_row = r;
    t_start = nn_seconds();
}

int nni_profile_leave(int st)
{
    const double seconds = nn_seconds() - t_start;
    const int64_t r = t_current_row;
    t_current_row = -1;
    if (r < 0) return st;
    lock();
    g_rows[r].calls++;
    g_rows[r].seconds += seconds;
    unlock();
    return st;
}

void nni_profile_loop(int worker_took_part, double end_wait)
{
    int64_t r = t_current_row;
    lock();
    if (r < 0) r = row_of(0, 0, 0, 0, 0, 0, 0);
    if (r >= 0) {
        g_rows[r].loops++;
        g_rows[r].loops_alone += !worker_took_part;
        g_rows[r].end_wait += end_wait;
    }
    unlock();
}

void nn_profile_start(void)
{
    lock();
    g_n_rows = 0;
    unlock();
#if defined(_MSC_VER) && !defined(__clang__)
    _InterlockedExchange((volatile long *)&nni_profile_flag, 1);
#else
    __atomic_store_n(&nni_profile_flag, 1, __ATOMIC_RELAXED);
#endif
}

int64_t nn_profile_stop(nn_profile_row *rows, int64_t max_rows)
{
    int64_t n;
#if defined(_MSC_VER) && !defined(__clang__)
    _InterlockedExchange((volatile long *)&nni_profile_flag, 0);
#else
    __atomic_store_n(&nni_profile_flag, 0, __ATOMIC_RELAXED);
#endif
    lock();
    n = g_n_rows < max_rows ? g_n_rows : max_rows < 0 ? 0 : max_rows;
    if (rows && n > 0) memcpy(rows, g_rows, (size_t)n * sizeof *rows);
    unlock();
    return n;
}
