/* Threads: how many the kernels use, and the pool that runs a parallel loop.
 *
 * The pool (POSIX threads; OpenMP where there are none, e.g. MSVC) never steals a core:
 * - a waiting thread spins for a bounded few microseconds (POOL_SPIN_SECONDS; while the loop
 *   it waits on is open, or the empty job of a wake-ahead, at most POOL_SPIN_OPEN_SECONDS,
 *   yielding its core), then sleeps on a condition variable, whatever the environment sets
 *   (OMP_WAIT_POLICY and GOMP_SPINCOUNT do not apply);
 * - the parts of a loop are claimed one at a time from a shared counter, by the caller as well
 *   as the workers: a worker that is late (its core held by another process) leaves its parts to
 *   the others, so a loop waits only for parts already started, never for a thread to wake.
 * Which thread runs a part never changes what the part computes, so results do not depend on
 * the thread count or on the timing.
 * One loop at a time uses the workers: a caller that finds them busy (another Python thread's
 * fit) runs its parts itself. A forked child starts with no workers (pthread_atfork).
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "internal.h"

#if defined(__linux__) || defined(NNI_POOL_PTHREADS)
#include <sched.h> /* sched_getaffinity, sched_yield */
#endif
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h> /* _InterlockedCompareExchange64 */
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

/* 0 = not chosen yet: the default is computed on first use. A plain int is enough: a
 * concurrent set and get at worst sees the old count, and any count gives the same results. */
static int g_num_threads = 0;

/* A positive thread count from the environment variable name, else 0. */
static int env_threads(const char *name)
{
    const char *env = getenv(name);
    if (env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        while (end && (*end == ' ' || *end == '\t' || *end == '\n')) end++;
        if (end && *end == '\0' && v > 0 && v <= 1 << 16) return (int)v;
    }
    return 0;
}

/* NNFAST_NUM_THREADS, else OMP_NUM_THREADS (joblib and Dask workers set it to avoid
 * oversubscription), else the cores this process may run on. */
static int default_num_threads(void)
{
    int n = env_threads("NNFAST_NUM_THREADS");
    if (n > 0) return n;
    if ((n = env_threads("OMP_NUM_THREADS")) > 0) return n;
#if defined(__linux__) && defined(CPU_COUNT)
    {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            int c = CPU_COUNT(&set);
            if (c > 0) return c;
        }
    }
#endif
#if defined(NNI_POOL_PTHREADS) && defined(_SC_NPROCESSORS_ONLN)
    {
        long p = sysconf(_SC_NPROCESSORS_ONLN);
        if (p > 0) return p > 1 << 16 ? 1 << 16 : (int)p;
    }
#endif
#ifdef NN_HAVE_OPENMP
    {
        int p = omp_get_num_procs();
        if (p > 0) return p;
    }
#endif
    return 1;
}

/* n <= 0 restores the default. Without threads in the build the count is kept but every
 * kernel is serial. */
void nn_set_num_threads(int n)
{
    g_num_threads = n > 0 ? n : default_num_threads();
}

int nn_get_num_threads(void)
{
    int n = g_num_threads;
    if (n <= 0) {
        n = default_num_threads();
        g_num_threads = n;
    }
    return n;
}

const char *nn_threading(void)
{
#if defined(NNI_POOL_PTHREADS)
    return "pool";
#elif defined(NN_HAVE_OPENMP)
    return "openmp";
#else
    return "serial";
#endif
}

#if defined(NNI_POOL_PTHREADS)
static NNI_THREAD_LOCAL int g_thread_index = 0; /* 1 + the index on a pool worker          */
int nni_thread_index(void) { return g_thread_index; }
#elif defined(NN_HAVE_OPENMP)
int nni_thread_index(void) { return omp_get_thread_num(); }
#else
int nni_thread_index(void) { return 0; }
#endif

/* The runs of work that the parts of a loop share out among themselves: one word holds the
 * units not yet claimed, [lo, hi), lo in the low 32 bits, hi in the high; a claim is a
 * compare-and-swap on the word. */
#if defined(_MSC_VER) && !defined(__clang__)
#define ENDS_LOAD(p) (*(volatile const int64_t *)(p)) /* acquire on x86 and x64 */
static int cas64(int64_t *x, int64_t *expected, int64_t desired)
{
    const int64_t old = _InterlockedCompareExchange64(x, desired, *expected);
    if (old == *expected) return 1;
    *expected = old;
    return 0;
}
#else
#define ENDS_LOAD(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
static int cas64(int64_t *x, int64_t *expected, int64_t desired)
{
    return __atomic_compare_exchange_n(x, expected, desired, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}
#endif

void nni_ends_init(int64_t *ends, int64_t n) { *ends = (int64_t)((uint64_t)n << 32); }

int nni_ends_claim_aligned(int64_t *ends, int from_back, int64_t divisor, int64_t align,
                           int64_t *lo, int64_t *hi)
{
    int64_t w = ENDS_LOAD(ends);
    for (;;) {
        const uint64_t l = (uint64_t)w & 0xffffffffu, h = (uint64_t)w >> 32, a = (uint64_t)align;
        uint64_t take, cut;
        if (l >= h) return 0;
        take = (h - l + (uint64_t)divisor - 1) / (uint64_t)divisor;
        /* the run's inner end moved out to a multiple of align, not past the other end */
        if (from_back) {
            cut = (h - take) / a * a;
            cut = cut < l ? l : cut;
        } else {
            cut = (l + take + a - 1) / a * a;
            cut = cut > h ? h : cut;
        }
        if (cas64(ends, &w, from_back ? (int64_t)((cut << 32) | l) : (int64_t)((h << 32) | cut))) {
            *lo = (int64_t)(from_back ? cut : l);
            *hi = (int64_t)(from_back ? h : cut);
            return 1;
        }
    }
}

int nni_ends_claim(int64_t *ends, int from_back, int64_t divisor, int64_t *lo, int64_t *hi)
{
    return nni_ends_claim_aligned(ends, from_back, divisor, 1, lo, hi);
}

/* Run every part on the calling thread, in order; the first failing status. */
static int run_serially(int64_t n_parts, nni_part_fn fn, void *ctx)
{
    int64_t c;
    int st = NN_OK, s;
    for (c = 0; c < n_parts; c++)
        if ((s = fn(ctx, c)) != NN_OK && st == NN_OK) st = s;
    return st;
}

#if defined(NNI_POOL_PTHREADS)
#include <pthread.h>

/* How long a waiting thread spins before it sleeps. Wider than the gap between the products of
 * one training step (a few microseconds of elementwise work), so a step's products find the
 * workers awake; short enough that on a busy machine a spinning worker costs the other
 * process little. Waking a sleeping thread costs ~5-50 us (more in a VM); spinning longer than
 * that gains nothing.                                                                        */
#define POOL_SPIN_SECONDS 30e-6
/* How long, at most, a thread spins while the loop it waits on is still open: a worker that
 * ran out of parts while the caller finishes its own (the caller's next loop, the next
 * product of a training step, follows that closely), a caller waiting for the parts workers
 * are running. A thread that went to sleep in the middle of a product costs the next one a
 * wake-up: on the 2-core KVM guest 50-100 us, as long as W3's products; a worker that slept
 * through every call left its share to the caller (W3's 64 x 256 x 784, 2 threads back to
 * back: the worker ran a third of the micro-kernel's samples, the caller spent 8 % of its
 * own in waking it). Past POOL_SPIN_SECONDS a spinning thread yields its core at every check,
 * so a thread of the loop that lost its core to another process gets it back.               */
#define POOL_SPIN_OPEN_SECONDS 1e-3
#define POOL_MAX_WORKERS 255

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define LOAD(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)

/* The job word: generation (high 32 bits) and the next part to claim (low 32 bits). The caller
 * closes a job (index CLOSED) before it rewrites the job's fields, and a part is claimed by a
 * compare-and-swap on the whole word, so a late thread can never claim a part of a finished
 * job with the fields of the next one (the fields are read, then the word is checked
 * unchanged: a sequence lock).                                                              */
#define JOB_CLOSED 0xffffffffu

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers sleep here waiting for a new generation             */
    pthread_cond_t done_cv; /* the caller sleeps here waiting for the parts in flight         */
    int n_workers;          /* started so far                                               */
    int in_use;             /* 1 while a caller runs a loop on the pool                      */
    int work_sleepers, done_sleepers;
    int64_t wakeups; /* times a worker left its sleep for a new job (for the C tests)        */
    uint64_t word;
    /* the job (written only while it is closed)                                              */
    nni_part_fn fn;
    void *ctx;
    int64_t n_parts;
    int helpers; /* workers 0 .. helpers-1 take part                                         */
    int64_t done; /* parts finished                                                           */
    int status;
    int worker_claimed; /* a worker claimed a part of the job (read by the profile)           */
} thread_pool;

static thread_pool g_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                             PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0,
                             (uint64_t)JOB_CLOSED, NULL, NULL, 0, 0, 0, NN_OK, 0};
static pthread_once_t g_pool_once = PTHREAD_ONCE_INIT;

/* A forked child has only the thread that forked: no workers, and a pool no one holds. */
static void pool_after_fork_child(void)
{
    pthread_mutex_init(&g_pool.mu, NULL);
    pthread_cond_init(&g_pool.work_cv, NULL);
    pthread_cond_init(&g_pool.done_cv, NULL);
    g_pool.n_workers = 0;
    g_pool.in_use = 0;
    g_pool.work_sleepers = g_pool.done_sleepers = 0;
    g_pool.word = (uint64_t)JOB_CLOSED;
}

static void pool_init_once(void) { (void)pthread_atfork(NULL, NULL, pool_after_fork_child); }

/* Claim and run parts of the job in word w (and its successors) until none is left. */
static void run_parts(thread_pool *p, uint64_t w)
{
    for (;;) {
        const uint32_t next = (uint32_t)w;
        nni_part_fn fn;
        void *ctx;
        int64_t n_parts;
        int s;
        if (next == JOB_CLOSED) return;
        fn = __atomic_load_n(&p->fn, __ATOMIC_RELAXED);
        ctx = __atomic_load_n(&p->ctx, __ATOMIC_RELAXED);
        n_parts = __atomic_load_n(&p->n_parts, __ATOMIC_RELAXED);
        if ((int64_t)next >= n_parts) return;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!__atomic_compare_exchange_n(&p->word, &w, w + 1, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue; /* w now holds the current word: try again */
        /* for the profile only: off, a worker writes nothing more to the pool's lines */
        if (g_thread_index != 0 && nni_profile_on() &&
            !__atomic_load_n(&p->worker_claimed, __ATOMIC_RELAXED))
            __atomic_store_n(&p->worker_claimed, 1, __ATOMIC_RELAXED);
        s = fn(ctx, (int64_t)next);
        if (s != NN_OK) {
            int ok = NN_OK;
            __atomic_compare_exchange_n(&p->status, &ok, s, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED);
        }
        if (__atomic_add_fetch(&p->done, 1, __ATOMIC_SEQ_CST) == n_parts &&
            __atomic_load_n(&p->done_sleepers, __ATOMIC_SEQ_CST) > 0) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
        w = LOAD(&p->word);
    }
}

static void *worker_main(void *arg)
{
    thread_pool *p = &g_pool;
    const int index = (int)(intptr_t)arg;
    /* not the current generation: the first pass looks at the job that may be open now */
    uint32_t seen = (uint32_t)(LOAD(&p->word) >> 32) - 1u;
    g_thread_index = index + 1;
    for (;;) {
        uint64_t w = LOAD(&p->word);
        if ((uint32_t)(w >> 32) == seen) { /* no new job: spin a while, then sleep */
            const double start = nn_seconds();
            double until = start + POOL_SPIN_SECONDS, now;
            int i = 0;
            while ((uint32_t)((w = LOAD(&p->word)) >> 32) == seen) {
                CPU_RELAX();
                if (++i % 64 != 0) continue;
                now = nn_seconds();
                /* the job is still open: the spin counts from its close */
                if ((uint32_t)w != JOB_CLOSED && now - start < POOL_SPIN_OPEN_SECONDS)
                    until = now + POOL_SPIN_SECONDS;
                if (now - start > POOL_SPIN_SECONDS) sched_yield();
                if (now > until) {
                    pthread_mutex_lock(&p->mu);
                    __atomic_add_fetch(&p->work_sleepers, 1, __ATOMIC_SEQ_CST);
                    while ((uint32_t)((w = __atomic_load_n(&p->word, __ATOMIC_SEQ_CST)) >>
                                      32) == seen)
                        pthread_cond_wait(&p->work_cv, &p->mu);
                    __atomic_sub_fetch(&p->work_sleepers, 1, __ATOMIC_SEQ_CST);
                    __atomic_add_fetch(&p->wakeups, 1, __ATOMIC_SEQ_CST);
                    pthread_mutex_unlock(&p->mu);
                    break;
                }
            }
        }
        seen = (uint32_t)(w >> 32);
        if (index < __atomic_load_n(&p->helpers, __ATOMIC_RELAXED)) run_parts(p, w);
    }
    return NULL;
}

/* Start workers until there are n; fewer when the system refuses threads. */
static void pool_grow(thread_pool *p, int n)
{
    while (p->n_workers < n) {
        pthread_t tid;
        pthread_attr_t attr;
        int ok;
        if (pthread_attr_init(&attr) != 0) return;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&tid, &attr, worker_main, (void *)(intptr_t)p->n_workers) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) return;
        p->n_workers++;
    }
}

int nni_parallel_for(int threads, int64_t n_parts, nni_part_fn fn, void *ctx)
{
    thread_pool *p = &g_pool;
    int helpers = threads - 1, st;
    const int prof = nni_profile_on();
    double wait_start = 0, waited = 0;
    uint64_t w;
    if (n_parts <= 0) return NN_OK;
    if (helpers > n_parts - 1) helpers = (int)(n_parts - 1);
    if (helpers > POOL_MAX_WORKERS) helpers = POOL_MAX_WORKERS;
    if (helpers <= 0 || n_parts >= (int64_t)JOB_CLOSED ||
        __atomic_exchange_n(&p->in_use, 1, __ATOMIC_ACQUIRE))
        return run_serially(n_parts, fn, ctx);
    pthread_once(&g_pool_once, pool_init_once);
    if (p->n_workers < helpers) pool_grow(p, helpers);
    if (helpers > p->n_workers) helpers = p->n_workers;

    /* close the job before writing it: the last loop closed it, nni_pool_wake_ahead left an
     * empty one open (a worker that read the old fields then fails its claim) */
    w = LOAD(&p->word);
    if ((uint32_t)w != JOB_CLOSED) {
        w = (w & ~(uint64_t)0xffffffffu) | JOB_CLOSED;
        __atomic_store_n(&p->word, w, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&p->fn, fn, __ATOMIC_RELAXED);
    __atomic_store_n(&p->ctx, ctx, __ATOMIC_RELAXED);
    __atomic_store_n(&p->n_parts, n_parts, __ATOMIC_RELAXED);
    __atomic_store_n(&p->helpers, helpers, __ATOMIC_RELAXED);
    __atomic_store_n(&p->done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->status, NN_OK, __ATOMIC_RELAXED);
    __atomic_store_n(&p->worker_claimed, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->word, (uint64_t)((uint32_t)(w >> 32) + 1u) << 32, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->work_sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->work_cv);
        pthread_mutex_unlock(&p->mu);
    }

    run_parts(p, LOAD(&p->word));

    /* every part is claimed; wait for the ones still running on workers */
    if (prof) wait_start = nn_seconds();
    if (LOAD(&p->done) < n_parts) {
        const double start = nn_seconds();
        double now;
        int i = 0;
        while (LOAD(&p->done) < n_parts) {
            CPU_RELAX();
            if (++i % 64 != 0) continue;
            now = nn_seconds();
            if (now - start > POOL_SPIN_SECONDS) sched_yield();
            if (now - start > POOL_SPIN_OPEN_SECONDS) {
                pthread_mutex_lock(&p->mu);
                __atomic_add_fetch(&p->done_sleepers, 1, __ATOMIC_SEQ_CST);
                while (__atomic_load_n(&p->done, __ATOMIC_SEQ_CST) < n_parts)
                    pthread_cond_wait(&p->done_cv, &p->mu);
                __atomic_sub_fetch(&p->done_sleepers, 1, __ATOMIC_SEQ_CST);
                pthread_mutex_unlock(&p->mu);
            }
        }
    }
    if (prof) waited = nn_seconds() - wait_start;
    st = LOAD(&p->status);
    if (prof) nni_profile_loop(__atomic_load_n(&p->worker_claimed, __ATOMIC_RELAXED), waited);
    /* close the job before anyone may rewrite it */
    w = LOAD(&p->word);
    __atomic_store_n(&p->word, (w & ~(uint64_t)0xffffffffu) | JOB_CLOSED, __ATOMIC_SEQ_CST);
    STORE(&p->in_use, 0);
    return st;
}

/* The wake-ahead: a new generation whose job has no parts, left open until the next loop
 * closes it. A sleeping worker wakes for it (the broadcast) and, finding the job open, spins
 * as it does for an open loop's; a spinning one spins on. W3's network at batch 16 on 2
 * threads, the wake at the start of the backward (network.c): the worker had slept through
 * the step's serial middle, and dW2's optimizer step over the pool (32,768 elements) ran
 * without it 99.7-99.8 % of the time; with the wake, 0.3-0.9 % (Zen 4 KVM guest; CHANGELOG). */
void nni_pool_wake_ahead(int threads)
{
    thread_pool *p = &g_pool;
    int helpers = threads - 1;
    uint64_t w;
    if (helpers <= 0 || __atomic_exchange_n(&p->in_use, 1, __ATOMIC_ACQUIRE)) return;
    if (helpers > p->n_workers) helpers = p->n_workers;
    if (helpers > 0) {
        /* an empty job (no parts), left open: the workers take nothing from it and, while it
         * is open, spin (at most POOL_SPIN_OPEN_SECONDS) instead of sleeping */
        w = LOAD(&p->word); /* closed, or an earlier wake's empty job: no one claims in it */
        __atomic_store_n(&p->n_parts, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&p->helpers, helpers, __ATOMIC_RELAXED);
        __atomic_store_n(&p->word, (uint64_t)((uint32_t)(w >> 32) + 1u) << 32, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&p->work_sleepers, __ATOMIC_SEQ_CST) > 0) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->work_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
    STORE(&p->in_use, 0);
}

int nni_pool_sleepers(void) { return __atomic_load_n(&g_pool.work_sleepers, __ATOMIC_SEQ_CST); }
int64_t nni_pool_wakeups(void) { return __atomic_load_n(&g_pool.wakeups, __ATOMIC_SEQ_CST); }

#elif defined(NN_HAVE_OPENMP)
/* No POSIX threads (MSVC): an OpenMP loop with parts handed out one at a time. */
int nni_parallel_for(int threads, int64_t n_parts, nni_part_fn fn, void *ctx)
{
    int st = NN_OK;
    int c;
    if (threads <= 1 || n_parts <= 1 || n_parts > 1 << 30) return run_serially(n_parts, fn, ctx);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (c = 0; c < (int)n_parts; c++) {
        const int s = fn(ctx, c);
        if (s != NN_OK) {
#pragma omp critical(nn_parallel_status)
            if (st == NN_OK) st = s;
        }
    }
    return st;
}

void nni_pool_wake_ahead(int threads) { (void)threads; }
int nni_pool_sleepers(void) { return -1; }
int64_t nni_pool_wakeups(void) { return -1; }

#else
int nni_parallel_for(int threads, int64_t n_parts, nni_part_fn fn, void *ctx)
{
    (void)threads;
    return run_serially(n_parts, fn, ctx);
}

void nni_pool_wake_ahead(int threads) { (void)threads; }
int nni_pool_sleepers(void) { return -1; }
int64_t nni_pool_wakeups(void) { return -1; }
#endif
