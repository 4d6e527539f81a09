/* What the two CPUs' placement costs a parallel product: the pool's loop overhead and the
 * price of cache lines passed between the two threads, next to the CPUs' round trip (a VM's
 * host may put its CPUs on one L3 or on two, and move them).
 *
 *   ./build/bench_placement_costs [ROUNDS]        (default 5)
 *
 * Each round prints:
 *   rt      a cache line's round trip between CPUs 0 and 1 (nn_measure_core_round_trip), ns
 *   loop    a 2-part parallel loop's overhead beyond its parts' own 2 us (mean of 20,000), us
 *   read    one thread reading SIZE bytes (a float every 64 bytes) that it wrote itself (own)
 *           or that the other thread just wrote (other), us
 *   write   one thread writing SIZE bytes (every float, in the vector stores a fill loop
 *           compiles to, as the kernels and the optimizer step store) that it alone touched
 *           (own), that the other thread read after this one wrote them (shared: both hold
 *           the lines, so each store must invalidate the other's copy), or that the other
 *           thread wrote (modified), us; and the other thread writing the lines it read
 *           after this one wrote them (reader: both hold them, the reader stores), us
 * Every part spins 2 us first, so both threads take part in every loop; the times are each
 * part's own, read from the thread that ran it, means of 2,000 loops. Built with the C tests
 * (cmake -DNNFAST_C_TESTS=ON); needs 2 threads (nn_set_num_threads(2) is called). */
#include "internal.h"
#include "nncore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOPS 2000

static void spin(double us)
{
    const double until = nn_seconds() + us * 1e-6;
    while (nn_seconds() < until) {
    }
}

static int spin_part(void *ctx, int64_t part)
{
    (void)ctx, (void)part;
    spin(2);
    return NN_OK;
}

typedef struct {
    float *buf[2];     /* read: one buffer per part; write: buf[0] only                     */
    int writer[2];     /* the thread that last wrote buf[p]                                 */
    int64_t n;         /* floats in each                                                    */
    int mode;          /* read: 0 own, 1 other; write: 0 own, 1 shared, 2 modified, 3 shared
                        * and written by the reader                                        */
    double seconds[2]; /* the timed parts' sums, by part (a part runs on one thread at once) */
    int64_t timed[2];
    volatile float sink[2];
} job;

/* Part p writes buffer p (every 16th float) and notes its thread. */
static int write_own(void *ctx, int64_t p)
{
    job *j = (job *)ctx;
    int64_t i;
    spin(2);
    for (i = 0; i < j->n; i += 16) j->buf[p][i] += 1.0f;
    j->writer[p] = nni_thread_index();
    return NN_OK;
}

/* Part p reads buffer p (own) or 1 - p (other); timed when that is what the mode asks for. */
static int read_part(void *ctx, int64_t p)
{
    job *j = (job *)ctx;
    const int64_t b = j->mode ? 1 - p : p;
    const int other = j->writer[b] != nni_thread_index();
    double t;
    float s = 0;
    int64_t i;
    spin(2);
    t = nn_seconds();
    for (i = 0; i < j->n; i += 16) s += j->buf[b][i];
    t = nn_seconds() - t;
    j->sink[p] = s;
    if (other == j->mode) j->seconds[p] += t, j->timed[p]++;
    return NN_OK;
}

/* The write modes, on buffer 0: the thread of part 0 writes it first (the writer W). */
static int prepare_part(void *ctx, int64_t p)
{
    job *j = (job *)ctx;
    int64_t i;
    spin(2);
    if (p != 0) return NN_OK;
    for (i = 0; i < j->n; i += 16) j->buf[0][i] += 0.5f;
    j->writer[0] = nni_thread_index();
    return NN_OK;
}

/* The other thread reads W's lines (shared, both modes) or writes them (modified), or leaves
 * them (own). */
static int other_touch_part(void *ctx, int64_t p)
{
    job *j = (job *)ctx;
    int64_t i;
    float s = 0;
    spin(2);
    if (nni_thread_index() == j->writer[0]) return NN_OK;
    if (j->mode == 1 || j->mode == 3)
        for (i = 0; i < j->n; i += 16) s += j->buf[0][i];
    else if (j->mode == 2)
        for (i = 0; i < j->n; i += 16) j->buf[0][i] = 1.0f;
    j->sink[p] = s;
    return NN_OK;
}

/* W (mode 3: the other thread, which read W's lines) writes every float of buffer 0, timed. */
static int write_part(void *ctx, int64_t p)
{
    job *j = (job *)ctx;
    float *restrict buf = j->buf[0];
    const int64_t n = j->n;
    const float v = (float)j->timed[p]; /* a value of this call's: the stores stay */
    double t;
    int64_t i;
    spin(2);
    if ((nni_thread_index() == j->writer[0]) != (j->mode != 3)) return NN_OK;
    t = nn_seconds();
    for (i = 0; i < n; i++) buf[i] = v;
    t = nn_seconds() - t;
    j->seconds[p] += t, j->timed[p]++;
    return NN_OK;
}

/* LOOPS times the 2-part loops of a, b and c (NULL: none) in turn, in `mode`; the timed
 * parts' mean, us (0 when none was timed). */
static double timed_us(job *j, int mode, nni_part_fn a, nni_part_fn b, nni_part_fn c)
{
    int64_t n;
    int i;
    memset(j->seconds, 0, sizeof j->seconds);
    memset(j->timed, 0, sizeof j->timed);
    j->mode = mode;
    for (i = 0; i < LOOPS; i++) {
        nni_parallel_for(2, 2, a, j);
        nni_parallel_for(2, 2, b, j);
        if (c) nni_parallel_for(2, 2, c, j);
    }
    n = j->timed[0] + j->timed[1];
    return n ? (j->seconds[0] + j->seconds[1]) / (double)n * 1e6 : 0.0;
}

static float *zeroed(int64_t bytes)
{
    float *b = (float *)nni_block_alloc(bytes);
    if (b) memset(b, 0, (size_t)bytes);
    return b;
}

int main(int argc, char **argv)
{
    static const int64_t sizes[] = {32 << 10, 128 << 10};
    const int rounds = argc > 1 ? atoi(argv[1]) : 5;
    int r, s, mode, i;
    nn_set_num_threads(2);
    printf("rt ns, loop us | read: size, own and other us | write: size, own, shared, "
           "modified and reader us\n");
    for (r = 0; r < rounds; r++) {
        double rt = 0, t0, loop;
        nn_measure_core_round_trip(&rt, 0, 1, 20000);
        t0 = nn_seconds();
        for (i = 0; i < 20000; i++) nni_parallel_for(2, 2, spin_part, NULL);
        loop = (nn_seconds() - t0) / 20000 - 2e-6;
        printf("%6.0f %6.2f |", rt * 1e9, loop * 1e6);
        for (s = 0; s < 2; s++) {
            job j;
            memset(&j, 0, sizeof j);
            j.n = sizes[s] / (int64_t)sizeof(float);
            j.buf[0] = zeroed(sizes[s]);
            j.buf[1] = zeroed(sizes[s]);
            if (!j.buf[0] || !j.buf[1]) return 1;
            printf(" %3lldK", (long long)(sizes[s] >> 10));
            for (mode = 0; mode < 2; mode++) {
                printf(" %5.2f", timed_us(&j, mode, write_own, read_part, NULL));
            }
            nni_block_free(j.buf[0]);
            nni_block_free(j.buf[1]);
        }
        printf(" |");
        for (s = 0; s < 2; s++) {
            job j;
            memset(&j, 0, sizeof j);
            j.n = sizes[s] / (int64_t)sizeof(float);
            j.buf[0] = zeroed(sizes[s]);
            if (!j.buf[0]) return 1;
            printf(" %3lldK", (long long)(sizes[s] >> 10));
            for (mode = 0; mode < 4; mode++) {
                printf(" %5.2f", timed_us(&j, mode, prepare_part, other_touch_part, write_part));
            }
            nni_block_free(j.buf[0]);
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
