/* NumPy's legacy random orders: numpy.random.RandomState's MT19937 and its permutation(n),
 * so that the core draws the very orders RandomState(seed).permutation(n) gives, without a
 * Python call per order (nnfast.sklearn.Perceptron's shuffled epochs). */
#include "internal.h"

enum { MT_N = 624, MT_M = 397 };

/* The twist: the next 624 words of the state (Matsumoto and Nishimura's MT19937):
 * y = upper bit of key[i] | lower 31 bits of key[i+1];
 * key[i] = key[(i + M) mod N] ^ (y >> 1) ^ (0x9908b0df if y is odd). */
static void mt_twist(uint32_t *key)
{
    int i;
    for (i = 0; i < MT_N; i++) {
        const uint32_t y = (key[i] & 0x80000000u) | (key[(i + 1) % MT_N] & 0x7fffffffu);
        key[i] = key[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((0u - (y & 1u)) & 0x9908b0dfu);
    }
}

/* The next 32-bit output: the word at pos, tempered (twisting first when pos reaches 624). */
static uint32_t mt_next32(uint32_t *key, int64_t *pos)
{
    uint32_t y;
    if (*pos >= MT_N) {
        mt_twist(key);
        *pos = 0;
    }
    y = key[(*pos)++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* A uniform integer in [0, max], NumPy's legacy random_interval: draws masked to max's bit
 * length, rejected until one is <= max (64-bit draws, high word first, above 2^32 - 1). */
static uint64_t mt_interval(uint32_t *key, int64_t *pos, uint64_t max)
{
    uint64_t mask = max, value;
    if (max == 0) return 0;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xffffffffu) {
        while ((value = (mt_next32(key, pos) & mask)) > max) {
        }
    } else {
        do {
            const uint64_t high = mt_next32(key, pos);
            value = ((high << 32) | mt_next32(key, pos)) & mask;
        } while (value > max);
    }
    return value;
}

/* m orders of 0..n-1 into orders (m, n), each RandomState.permutation(n): order = 0..n-1;
 * for i = n-1 .. 1: j = interval(i), swap(order[i], order[j]). */
static void mt_permutations(int64_t *orders, int64_t m, int64_t n, uint32_t *key, int64_t *pos)
{
    int64_t r, i;
    for (r = 0; r < m; r++) {
        int64_t *order = orders + r * n;
        for (i = 0; i < n; i++) order[i] = i;
        for (i = n - 1; i >= 1; i--) {
            const int64_t j = (int64_t)mt_interval(key, pos, (uint64_t)i);
            const int64_t tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
    }
}

typedef struct {
    int64_t *orders, m, n, *pos;
    uint32_t *keys;
    const uint8_t *active;
} mt_job;

/* Stream `part`'s m orders, unless it is not active. */
static int mt_stream(void *ctx, int64_t part)
{
    const mt_job *job = (const mt_job *)ctx;
    if (!job->active || job->active[part])
        mt_permutations(job->orders + part * job->m * job->n, job->m, job->n,
                        job->keys + part * MT_N, job->pos + part);
    return NN_OK;
}

/* For each of c streams (active[s] nonzero, or all when active is NULL): its next m orders
 * into orders[s] (c, m, n), from its state keys[s] (624 words) and pos[s] (0 .. 624), as
 * RandomState.get_state() gives them, advanced in place. The streams are independent: on the
 * core's threads, with the same orders whatever their number. */
int nn_mt19937_permutations(int64_t *orders, int64_t c, int64_t m, int64_t n, uint32_t *keys,
                            int64_t *pos, const uint8_t *active)
{
    mt_job job;
    int64_t s, total;
    if (!orders || !keys || !pos || c <= 0 || m < 0 || n <= 0) return NN_EINVAL;
    if (nni_mul(&total, c, m) != NN_OK || nni_mul(&total, total, n) != NN_OK) return NN_EINVAL;
    for (s = 0; s < c; s++)
        if (pos[s] < 0 || pos[s] > MT_N) return NN_EINVAL;
    job.orders = orders;
    job.m = m;
    job.n = n;
    job.pos = pos;
    job.keys = keys;
    job.active = active;
    return nni_parallel_for(c > 1 ? nni_threads() : 1, c, mt_stream, &job);
}
