/* NumPy's legacy random orders: numpy.random.RandomState's MT19937, its seeding and its
 * permutation(n), so that the core draws the very orders RandomState(seed).permutation(n)
 * gives, without a Python call per order (nnfast.sklearn.Perceptron's shuffled epochs). */
#include "internal.h"

enum { MT_N = NNI_MT_WORDS, MT_M = 397 };

/* RandomState(seed)'s state for an integer seed (NumPy's mt19937_seed):
 * key[0] = seed;  key[i] = 1812433253 (key[i-1] ^ (key[i-1] >> 30)) + i mod 2^32;  pos = 624. */
static void mt_seed(uint32_t *key, int64_t *pos, uint32_t seed)
{
    uint32_t i;
    for (i = 0; i < MT_N; i++) {
        key[i] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + i + 1u;
    }
    *pos = MT_N;
}

/* The twist's step for word i from its neighbours (Matsumoto and Nishimura's MT19937):
 * y = upper bit of key[i] | lower 31 bits of key[i+1];
 * key[i] = key[(i + M) mod N] ^ (y >> 1) ^ (0x9908b0df if y is odd). */
static inline uint32_t mt_mix(uint32_t upper, uint32_t lower, uint32_t far)
{
    const uint32_t y = (upper & 0x80000000u) | (lower & 0x7fffffffu);
    return far ^ (y >> 1) ^ ((0u - (y & 1u)) & 0x9908b0dfu);
}

/* The next 624 words of the state, in place: the index arithmetic mod N split into three
 * loops without it (each reads words of the previous state only where the recurrence does),
 * so the first two vectorize. */
static void mt_twist(uint32_t *key)
{
    int i;
    for (i = 0; i < MT_N - MT_M; i++) key[i] = mt_mix(key[i], key[i + 1], key[i + MT_M]);
    for (; i < MT_N - 1; i++) key[i] = mt_mix(key[i], key[i + 1], key[i + MT_M - MT_N]);
    key[MT_N - 1] = mt_mix(key[MT_N - 1], key[0], key[MT_M - 1]);
}

/* The outputs of state words key[from .. 623], tempered, into out[from .. 623]. */
static void mt_temper(uint32_t *out, const uint32_t *key, int64_t from)
{
    int64_t i;
    for (i = from; i < MT_N; i++) {
        uint32_t y = key[i];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        out[i] = y ^ (y >> 18);
    }
}

/* A stream: the state (key, pos) as RandomState.get_state() gives it, and its words
 * key[pos ..] tempered ahead in out, so that drawing is a load. */
typedef struct {
    uint32_t *key;
    int64_t pos;
    uint32_t out[MT_N];
} mt_stream;

static void mt_open(mt_stream *s, uint32_t *key, int64_t pos)
{
    s->key = key;
    s->pos = pos;
    mt_temper(s->out, key, pos);
}

/* The next 32-bit output (twisting first when pos reaches 624). */
static inline uint32_t mt_next32(mt_stream *s)
{
    if (s->pos >= MT_N) {
        mt_twist(s->key);
        mt_temper(s->out, s->key, 0);
        s->pos = 0;
    }
    return s->out[s->pos++];
}

/* max with every bit below its highest set: the mask NumPy's random_interval draws under. */
static inline uint64_t mt_mask(uint64_t max)
{
#if defined(__GNUC__) || defined(__clang__)
    return max ? ~(uint64_t)0 >> __builtin_clzll(max) : 0;
#else
    max |= max >> 1;
    max |= max >> 2;
    max |= max >> 4;
    max |= max >> 8;
    max |= max >> 16;
    return max | max >> 32;
#endif
}

/* A uniform integer in [0, max], NumPy's legacy random_interval: draws masked to max's bit
 * length, rejected until one is <= max (64-bit draws, high word first, above 2^32 - 1). */
static uint64_t mt_interval(mt_stream *s, uint64_t max)
{
    const uint64_t mask = mt_mask(max);
    uint64_t value;
    if (max == 0) return 0;
    if (max <= 0xffffffffu) {
        while ((value = (mt_next32(s) & mask)) > max) {
        }
    } else {
        do {
            const uint64_t high = mt_next32(s);
            value = ((high << 32) | mt_next32(s)) & mask;
        } while (value > max);
    }
    return value;
}

/* x shuffled in place as RandomState.shuffle shuffles a 1-d array, and one order of 0..n-1 as
 * RandomState.permutation(n) draws it (the shuffle of 0..n-1):
 * for i = n-1 .. 1: j = interval(i), swap(x[i], x[j]). The stream's position stays in
 * a register (through memory, each draw would wait on the previous one's store). A draw is
 * rejected with a chance of up to 1/2, which a branch cannot predict: the first two draws of
 * each interval are looked at together and the accepted one selected without a branch; only
 * when both are rejected (a chance of 1/4 at most) do the draws go on one at a time. The
 * draws taken, and so the stream, are mt_interval's. */
static void mt_shuffle(int64_t *order, int64_t n, mt_stream *s)
{
    const uint32_t *out = s->out;
    int64_t i, pos = s->pos;
    for (i = n - 1; i >= 1; i--) {
        const uint64_t max = (uint64_t)i, mask = mt_mask(max);
        uint64_t j;
        int64_t tmp;
        if (max <= 0xffffffffu && pos + 1 < MT_N) {
            const uint64_t first = out[pos] & mask, second = out[pos + 1] & mask;
            const int take_first = first <= max;
            j = take_first ? first : second;
            pos += 2 - take_first;
            if (!(take_first | (second <= max))) { /* both rejected: draw on, one at a time */
                s->pos = pos;
                while ((j = (mt_next32(s) & mask)) > max) {
                }
                pos = s->pos;
            }
        } else {
            s->pos = pos;
            j = mt_interval(s, max);
            pos = s->pos;
        }
        tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    s->pos = pos;
}

static void mt_permutation(int64_t *order, int64_t n, mt_stream *s)
{
    int64_t i;
    for (i = 0; i < n; i++) order[i] = i;
    mt_shuffle(order, n, s);
}

int nn_mt19937_shuffle(int64_t *x, int64_t n, uint32_t *key, int64_t *pos)
{
    mt_stream s;
    if (!x || !key || !pos || n < 0 || *pos < 0 || *pos > MT_N) return NN_EINVAL;
    if (n <= 1) return NN_OK; /* no swap, no draw */
    mt_open(&s, key, *pos);
    mt_shuffle(x, n, &s);
    *pos = s.pos;
    return NN_OK;
}

int nni_mt19937_permutation(int64_t *order, int64_t n, uint32_t *key, int64_t *pos)
{
    mt_stream s;
    if (!order || !key || !pos || n <= 0 || *pos < 0 || *pos > MT_N) return NN_EINVAL;
    mt_open(&s, key, *pos);
    mt_permutation(order, n, &s);
    *pos = s.pos;
    return NN_OK;
}

typedef struct {
    int64_t *orders, m, n, *pos;
    uint32_t *keys;
    const uint8_t *active;
} mt_job;

/* Stream `part`'s m orders, unless it is not active. */
static int mt_stream_orders(void *ctx, int64_t part)
{
    const mt_job *job = (const mt_job *)ctx;
    int64_t r;
    mt_stream s;
    if (job->active && !job->active[part]) return NN_OK;
    mt_open(&s, job->keys + part * MT_N, job->pos[part]);
    for (r = 0; r < job->m; r++)
        mt_permutation(job->orders + (part * job->m + r) * job->n, job->n, &s);
    job->pos[part] = s.pos;
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
    return nni_parallel_for(c > 1 ? nni_threads() : 1, c, mt_stream_orders, &job);
}

/* keys[s] (624 words), pos[s]: RandomState(seeds[s])'s state, for each of c seeds. */
int nn_mt19937_seed(uint32_t *keys, int64_t *pos, const uint32_t *seeds, int64_t c)
{
    int64_t s;
    if (!keys || !pos || !seeds || c <= 0 || c > NNI_MAX_ELEMS / MT_N) return NN_EINVAL;
    for (s = 0; s < c; s++) mt_seed(keys + s * MT_N, pos + s, seeds[s]);
    return NN_OK;
}
