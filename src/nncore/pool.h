/* The thread pool's interface (threads.c), part of internal.h, which includes it: how many
 * threads the kernels use, the parallel loop, the runs of work its parts claim, and the
 * profile's hooks into both. */
#ifndef NNCORE_POOL_H
#define NNCORE_POOL_H

/* The thread pool is built on POSIX threads where there are any, else on OpenMP (MSVC).      */
#if defined(__unix__) || defined(__APPLE__)
#define NNI_POOL_PTHREADS 1
#endif

/* Threads a parallel loop may use: nn_get_num_threads() with a pool, else 1.              */
static inline int nni_threads(void)
{
#if defined(NNI_POOL_PTHREADS) || defined(NN_HAVE_OPENMP)
    int t = nn_get_num_threads();
    return t > 0 ? t : 1;
#else
    return 1;
#endif
}

/* The profile (profile.c): nni_profile_on() is 0 unless nn_profile_start ran. A product
 * brackets itself with enter (its row found, the clock read; this thread's loops count there
 * until leave) and leave (its wall time to its row; returns st, the product's status);
 * nni_parallel_for reports each loop it ran on the pool.                                   */
extern int nni_profile_flag;
static inline int nni_profile_on(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return *(volatile int *)&nni_profile_flag;
#else
    return __atomic_load_n(&nni_profile_flag, __ATOMIC_RELAXED);
#endif
}
void nni_profile_enter(int64_t m, int64_t n, int64_t k, int trans_a, int trans_b,
                       int elem_bytes, int with_step);
int nni_profile_leave(int st);
void nni_profile_loop(int worker_took_part, double end_wait);

/* One part of a parallel loop: returns NN_OK or an error status.                          */
typedef int (*nni_part_fn)(void *ctx, int64_t part);
/* fn(ctx, c) once for every c in 0 .. n_parts-1, on up to `threads` threads (the caller and
 * pool workers; threads.c): parts are claimed one at a time, so a late thread leaves its
 * share to the others. Returns when every part is done: NN_OK, or a failing part's status.
 * Parts must not depend on which thread runs them or in what order.                       */
int nni_parallel_for(int threads, int64_t n_parts, nni_part_fn fn, void *ctx);
/* A parallel loop on up to `threads` threads is coming after some serial work: wakes the
 * pool's sleeping workers now, so that their wake-up (tens of microseconds in a VM) overlaps
 * that work, and keeps them spinning (at most POOL_SPIN_OPEN_SECONDS, threads.c) until the
 * loop comes. Nothing when another loop holds the pool or there is no worker yet.          */
void nni_pool_wake_ahead(int threads);
/* For the C tests (-1 without the POSIX pool): workers asleep now, waiting for a loop; and
 * how many times, so far, a worker left that sleep for a new job (a count, so a test sees a
 * wake however briefly the worker stays awake).                                            */
int nni_pool_sleepers(void);
int64_t nni_pool_wakeups(void);
/* Which thread of a parallel loop this is: 0 on the thread that called nni_parallel_for (and
 * on every thread outside the pool), 1 + the worker's index on a pool worker. A part may use it
 * to choose where to start (gemm_parallel.c: the same thread takes the same share of a product call
 * after call, so it finds its operands in its own cache), never to decide what it computes. */
int nni_thread_index(void);
/* Units 0 .. n-1 (n < 2^32) of work that the threads of a loop claim in runs, the caller's
 * thread from the front, the others from the back, each run a 1/divisor share (rounded up)
 * of the units left: the first runs split the work evenly, later ones shrink, so a thread
 * that falls behind delays the end by a small run. When the threads keep pace, the same
 * thread takes the same units call after call. nni_ends_claim: 1 and the run [*lo, *hi),
 * or 0 when every unit is taken.                                                            */
void nni_ends_init(int64_t *ends, int64_t n);
int nni_ends_claim(int64_t *ends, int from_back, int64_t divisor, int64_t *lo, int64_t *hi);
/* nni_ends_claim with the run's end that faces the other threads' moved out to a multiple of
 * align (not past the units the others took): runs after a thread's first keep whole groups of
 * units together (gemm_parallel.c: a panel's tiles). align 1 is nni_ends_claim.             */
int nni_ends_claim_aligned(int64_t *ends, int from_back, int64_t divisor, int64_t align,
                           int64_t *lo, int64_t *hi);

#endif /* NNCORE_POOL_H */
