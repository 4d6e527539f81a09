/* How far apart two CPUs are: the round trip of a cache line between two threads pinned to
 * them, each waiting for the other's write before it writes.
 *
 * Why a benchmark wants it: a virtual machine's CPUs are placed by the host, and the place
 * changes while the guest runs. On the 2-core Zen 5 KVM guest the round trip moved between
 * 55-100 ns (the two CPUs sharing an L3) and 350-400 ns (on different L3s) from minute to
 * minute, and W3's 2-thread fit with it: 0.157-0.164 s near, 0.198-0.207 s far (its 1-thread
 * fit level): every product of the step reads data the other core wrote last (a layer's
 * output, a half of k's sums, the rows of W the other thread stepped). A 2-thread figure
 * means little without the placement it was timed on. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#endif
#include "internal.h"

#if defined(__linux__) && defined(NNI_POOL_PTHREADS)
#include <pthread.h>
#include <sched.h>

#define LOAD(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)
/* a thread that waits this long for the other gives up: its CPU is not running it */
#define GIVE_UP_SECONDS 0.5
#define WARM_UP_TRIPS 1000
#define BATCHES 5

typedef struct {
    int64_t turn __attribute__((aligned(64))); /* 2i + 1: the ping of trip i; 2i + 2: its pong */
    char pad[64 - sizeof(int64_t)];
    int64_t trips;      /* warm-up included                                                  */
    int cpu[2];         /* thread 0 pings from cpu[0], thread 1 answers from cpu[1]          */
    int failed;         /* a thread could not be pinned, or waited GIVE_UP_SECONDS: 1        */
    double batch[BATCHES]; /* thread 0's seconds a trip, per batch                           */
} trip_job;

/* Spin until *turn is `want`; 0 when it came, -1 when the other thread failed or gave up. */
static int wait_turn(trip_job *j, int64_t want)
{
    double deadline = 0.0;
    int64_t spins = 0;
    while (LOAD(&j->turn) != want) {
        if (++spins % 4096 != 0) continue;
        if (LOAD(&j->failed)) return -1;
        if (deadline == 0.0) deadline = nn_seconds() + GIVE_UP_SECONDS;
        else if (nn_seconds() > deadline) {
            STORE(&j->failed, 1);
            return -1;
        }
    }
    return 0;
}

static int pin(int cpu)
{
    cpu_set_t set;
    if (cpu >= CPU_SETSIZE) return -1;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0 ? 0 : -1;
}

static void *answer(void *arg)
{
    trip_job *j = (trip_job *)arg;
    int64_t i;
    if (pin(j->cpu[1]) != 0) {
        STORE(&j->failed, 1);
        return NULL;
    }
    for (i = 0; i < j->trips; i++) {
        if (wait_turn(j, 2 * i + 1) != 0) return NULL;
        STORE(&j->turn, 2 * i + 2);
    }
    return NULL;
}

static void *ping(void *arg)
{
    trip_job *j = (trip_job *)arg;
    const int64_t per_batch = (j->trips - WARM_UP_TRIPS) / BATCHES;
    int64_t i = 0;
    int b;
    if (pin(j->cpu[0]) != 0) {
        STORE(&j->failed, 1);
        return NULL;
    }
    for (b = -1; b < BATCHES; b++) { /* batch -1: the warm-up, untimed */
        const int64_t end = b < 0 ? WARM_UP_TRIPS : i + per_batch;
        const double t0 = nn_seconds();
        for (; i < end; i++) {
            STORE(&j->turn, 2 * i + 1);
            if (wait_turn(j, 2 * i + 2) != 0) return NULL;
        }
        if (b >= 0) j->batch[b] = (nn_seconds() - t0) / (double)per_batch;
    }
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
#endif

/* *seconds = the median over 5 batches of a round trip between CPUs cpu_a and cpu_b (two new
 * threads, each pinned to one; the caller's own affinity is untouched), after 1000 untimed
 * trips; 0 where it cannot be measured: not Linux, a CPU this process may not run on, or a
 * thread that got no answer for 0.5 s. NN_EINVAL: a CPU < 0, cpu_a == cpu_b, trips outside
 * 1 .. 10^7. */
int nn_measure_core_round_trip(double *seconds, int cpu_a, int cpu_b, int64_t trips)
{
    if (!seconds || cpu_a < 0 || cpu_b < 0 || cpu_a == cpu_b || trips < 1 || trips > 10000000)
        return NN_EINVAL;
    *seconds = 0.0;
#if defined(__linux__) && defined(NNI_POOL_PTHREADS)
    {
        trip_job *j = (trip_job *)nni_block_alloc((int64_t)sizeof(trip_job));
        pthread_t t[2];
        int started = 0;
        if (!j) return NN_ENOMEM;
        memset(j, 0, sizeof *j);
        if (trips < BATCHES) trips = BATCHES;
        j->trips = WARM_UP_TRIPS + trips / BATCHES * BATCHES;
        j->cpu[0] = cpu_a;
        j->cpu[1] = cpu_b;
        if (pthread_create(&t[0], NULL, ping, j) == 0) started |= 1;
        if (pthread_create(&t[1], NULL, answer, j) == 0) started |= 2;
        if (started != 3) STORE(&j->failed, 1);
        if (started & 1) pthread_join(t[0], NULL);
        if (started & 2) pthread_join(t[1], NULL);
        if (!j->failed) {
            qsort(j->batch, BATCHES, sizeof j->batch[0], by_value);
            *seconds = j->batch[BATCHES / 2];
        }
        nni_block_free(j);
    }
#endif
    return NN_OK;
}
