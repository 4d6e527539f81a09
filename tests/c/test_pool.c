/* The thread pool (threads.c) against the C core alone:
 * - a parallel loop runs every part exactly once and returns a failing part's status, on 1, 2
 *   and 3 threads, loop after loop;
 * - nni_pool_wake_ahead: it wakes a worker asleep in the pool, the worker spins for a bounded
 *   time and sleeps again when no loop comes, the loop that follows a wake (the empty job it
 *   left open, closed and rewritten) runs every part once, and a one-thread wake does nothing;
 * - the runs the threads of a split product claim from both ends (nni_ends_claim, and
 *   nni_ends_claim_aligned): every unit once, each run its share of what is left, its inner
 *   end on a multiple of the alignment asked.
 *
 * Run: ./build/test_pool (exit status 0 when every check passes); tests/test_c_core.py.
 */
#include "nncore.h"

#include "internal.h"

#include <stdio.h>
#include <string.h>
#include "check.h"

#if defined(__unix__) || defined(__APPLE__)
#include <time.h>
#endif

#define MAX_PARTS 1000

typedef struct {
    int count[MAX_PARTS];
    int64_t fail_part; /* this part returns NN_EINVAL (-1: none)                          */
    int by_worker;     /* a part ran on a pool worker                                     */
    double linger_until; /* the caller's parts wait for by_worker until then (0: never)    */
} loop_ctx;

static int count_part(void *ctx, int64_t part)
{
    loop_ctx *c = (loop_ctx *)ctx;
    __atomic_add_fetch(&c->count[part], 1, __ATOMIC_RELAXED);
    if (nni_thread_index() != 0) __atomic_store_n(&c->by_worker, 1, __ATOMIC_RELAXED);
    while (c->linger_until > 0 && nni_thread_index() == 0 &&
           !__atomic_load_n(&c->by_worker, __ATOMIC_RELAXED) && nn_seconds() < c->linger_until) {
    }
    return part == c->fail_part ? NN_EINVAL : NN_OK;
}

/* One loop of n parts on `threads` threads: every part once, the status of the failing one. */
static int check_loop(int threads, int64_t n, int64_t fail_part, const char *what)
{
    static loop_ctx c;
    int64_t i;
    int st, bad = 0;
    memset(&c, 0, sizeof c);
    c.fail_part = fail_part;
    st = nni_parallel_for(threads, n, count_part, &c);
    CHECK(st == (fail_part >= 0 ? NN_EINVAL : NN_OK), "%s: %d threads, %lld parts: status %d",
          what, threads, (long long)n, st);
    for (i = 0; i < n; i++) bad += c.count[i] != 1;
    CHECK(bad == 0, "%s: %d threads, %lld parts: %d parts not run exactly once", what, threads,
          (long long)n, bad);
    return c.by_worker;
}

static void test_every_part_once(void)
{
    static const int64_t sizes[] = {1, 2, 3, 7, 64, 999};
    int threads, s, r;
    for (threads = 1; threads <= 3; threads++)
        for (s = 0; s < (int)(sizeof sizes / sizeof sizes[0]); s++)
            for (r = 0; r < 50; r++)
                check_loop(threads, sizes[s], r % 3 == 0 ? sizes[s] / 2 : -1, "loop");
}

#if defined(NNI_POOL_PTHREADS)
static void sleep_ms(double ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1e3);
    ts.tv_nsec = (long)((ms - 1e3 * (double)ts.tv_sec) * 1e6);
    nanosleep(&ts, NULL);
}

/* Polls (up to 2 s) until `want` workers sleep; 1 when they do. */
static int sleepers_reach(int want)
{
    const double until = nn_seconds() + 2.0;
    while (nni_pool_sleepers() != want) {
        if (nn_seconds() > until) return 0;
        sleep_ms(0.05);
    }
    return 1;
}

/* Polls (up to 2 s) until a worker has left its sleep since `before` wake-ups; 1 when one
 * has. A count, not the sleepers: a woken worker may sleep again (its spin ends after at most
 * 1 ms) before a poll on a busy machine looks. */
static int woke_since(int64_t before)
{
    const double until = nn_seconds() + 2.0;
    while (nni_pool_wakeups() == before) {
        if (nn_seconds() > until) return 0;
        sleep_ms(0.05);
    }
    return 1;
}

/* A loop of 200 parts on 2 threads whose caller's parts wait (up to 2 s in all) until the
 * worker has claimed one, so the caller cannot claim every part first: 1 when the worker took
 * part. */
static int loop_with_worker(void)
{
    static loop_ctx c;
    memset(&c, 0, sizeof c);
    c.fail_part = -1;
    c.linger_until = nn_seconds() + 2.0;
    CHECK(nni_parallel_for(2, 200, count_part, &c) == NN_OK, "a lingering loop");
    return c.by_worker;
}

static void test_wake_ahead(void)
{
    int r;
    int64_t before;
    nn_set_num_threads(2);
    /* the pool's first loop starts the worker; it takes part (so it has seen the latest job:
     * asleep after this, it sleeps waiting for the next one, not for this one) */
    CHECK(loop_with_worker(), "the pool's first loop of 200 parts ran none on the worker");
    /* the worker's spin is bounded (tens of microseconds, at most 1 ms): then it sleeps */
    CHECK(sleepers_reach(1), "the worker still awake 2 s after a loop: %d asleep",
          nni_pool_sleepers());
    before = nni_pool_wakeups();
    nni_pool_wake_ahead(1); /* one thread: no worker to wake */
    sleep_ms(1);
    CHECK(nni_pool_wakeups() == before && nni_pool_sleepers() == 1,
          "a one-thread wake woke the worker");
    nni_pool_wake_ahead(2);
    CHECK(woke_since(before), "nni_pool_wake_ahead left the worker asleep");
    /* no loop follows: the wake's spin is bounded too */
    CHECK(sleepers_reach(1), "the worker still awake 2 s after a wake with no loop");
    /* loops right after a wake, the worker asleep or woken; wakes back to back */
    for (r = 0; r < 2000; r++) {
        nni_pool_wake_ahead(2);
        if (r % 3 == 0) nni_pool_wake_ahead(2);
        check_loop(2, 1 + r % 9, r % 5 == 0 ? 0 : -1, "a loop after a wake");
        if (r % 500 == 0) sleepers_reach(1);
    }
    CHECK(loop_with_worker(), "a loop of 200 parts on 2 threads ran none on the worker");
}
#endif

/* The runs of a parallel product (threads.c, nni_ends_claim_aligned): a front and a back
 * claimer, in turn or one after the other, take every unit once, in runs of ceil(left /
 * divisor) whose inner end is moved out to a multiple of align (not past the other end), the
 * front's from 0 upwards, the back's from n downwards. align 1 is nni_ends_claim's runs. */
static void check_ends(int64_t n, int64_t divisor, int64_t align, int pattern)
{
    static int taken[1000];
    int64_t ends, lo, hi, front = 0, back = n, i, step = 0;
    memset(taken, 0, sizeof taken);
    nni_ends_init(&ends, n);
    for (;;) {
        /* pattern 0: alternate; 1: the front claims until none is left; 2: the back */
        const int from_back = pattern == 0 ? (int)(step & 1) : pattern == 2;
        const int64_t take = (back - front + divisor - 1) / divisor;
        int64_t inner, x, multiples = 0;
        if (align == 1 ? !nni_ends_claim(&ends, from_back, divisor, &lo, &hi)
                       : !nni_ends_claim_aligned(&ends, from_back, divisor, align, &lo, &hi))
            break;
        CHECK(from_back ? hi == back : lo == front, "ends: a run not at its end");
        CHECK(hi - lo >= take, "ends %lld / %lld: a run of %lld of %lld left", (long long)n,
              (long long)divisor, (long long)(hi - lo), (long long)(back - front));
        /* the inner end: the other end, or a multiple of align, and none passed on the way */
        inner = from_back ? lo : hi;
        for (x = from_back ? lo + 1 : hi - 1; x != (from_back ? hi - take + 1 : lo + take - 1);
             x += from_back ? 1 : -1)
            multiples += x % align == 0;
        CHECK((inner == (from_back ? front : back) || inner % align == 0) && multiples == 0,
              "ends %lld / %lld, align %lld: run [%lld, %lld) of [%lld, %lld)", (long long)n,
              (long long)divisor, (long long)align, (long long)lo, (long long)hi,
              (long long)front, (long long)back);
        for (i = lo; i < hi; i++) taken[i]++;
        if (from_back) back = lo;
        else front = hi;
        step++;
    }
    CHECK(front == back, "ends %lld: units left unclaimed", (long long)n);
    for (i = 0; i < n; i++) CHECK(taken[i] == 1, "ends %lld: unit %lld taken %d times",
                                  (long long)n, (long long)i, taken[i]);
    CHECK(!nni_ends_claim(&ends, 0, divisor, &lo, &hi) &&
              !nni_ends_claim(&ends, 1, divisor, &lo, &hi), "ends: a claim after the last");
}

static void test_ends(void)
{
    static const int64_t sizes[] = {1, 2, 3, 6, 7, 43, 98, 999};
    static const int64_t aligns[] = {1, 3, 8};
    int s, d, a, pattern;
    for (s = 0; s < (int)(sizeof sizes / sizeof sizes[0]); s++)
        for (d = 1; d <= 4; d++)
            for (a = 0; a < 3; a++)
                for (pattern = 0; pattern < 3; pattern++)
                    check_ends(sizes[s], d, aligns[a], pattern);
}

int main(void)
{
#if defined(NNI_POOL_PTHREADS)
    test_wake_ahead(); /* first: the pool then has one worker */
#else
    printf("no POSIX thread pool in this build: the wake-ahead checks do not apply\n");
#endif
    test_every_part_once();
    test_ends();
    printf("%d checks, %d failures\n", g_checks, g_failures);
    if (g_failures) return 1;
    printf("all pool checks passed\n");
    return 0;
}
