/* scikit-learn's sequential-dataset orders (sklearn.utils._seq_dataset's shuffle with
 * _random.our_rand_r): the row order of each epoch of scikit-learn's SGD (its Perceptron's
 * shuffled epochs), so that nnfast.sklearn.Perceptron visits the rows scikit-learn visits. */
#include "internal.h"

/* our_rand_r: xorshift32 on a uint32 state (Marsaglia 2003), 0 taken as 1:
 *   s ^= s << 13;  s ^= s >> 17;  s ^= s << 5;  return s mod 2^31. */
static inline uint32_t xorshift_next(uint32_t *state)
{
    uint32_t s = *state ? *state : 1u;
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    *state = s;
    return s & 0x7fffffffu;
}

/* SequentialDataset.shuffle(seed), the seed taken by value (so every call with the same seed
 * makes the same swaps, each on the array the last call left):
 *   for i = 0 .. n-2:  j = i + our_rand_r(&seed) mod (n - i);  swap(index[i], index[j])
 * all in uint32 (n < 2^31, as scikit-learn's int index). */
void nni_sgd_dataset_shuffle(int64_t *index, int64_t n, uint32_t seed)
{
    uint32_t i, count = (uint32_t)n;
    for (i = 0; i + 1 < count; i++) {
        const uint32_t j = i + xorshift_next(&seed) % (count - i);
        const int64_t tmp = index[i];
        index[i] = index[j];
        index[j] = tmp;
    }
}

typedef struct {
    int64_t *orders, *index, m, n;
    const uint32_t *seeds;
    const uint8_t *active;
} dataset_job;

/* Stream `part`'s m orders, unless it is not active. */
static int dataset_stream_orders(void *ctx, int64_t part)
{
    const dataset_job *job = (const dataset_job *)ctx;
    int64_t *index = job->index + part * job->n, r;
    if (job->active && !job->active[part]) return NN_OK;
    for (r = 0; r < job->m; r++) {
        nni_sgd_dataset_shuffle(index, job->n, job->seeds[part]);
        memcpy(job->orders + (part * job->m + r) * job->n, index,
               (size_t)job->n * sizeof(int64_t));
    }
    return NN_OK;
}

/* For each of c streams (active[s] nonzero, or all when active is NULL): index[s] (n rows)
 * shuffled m times with seeds[s], in place, each result written to orders[s, r] (c, m, n).
 * The streams are independent: on the core's threads, with the same orders whatever their
 * number. */
int nn_sgd_dataset_orders(int64_t *orders, int64_t c, int64_t m, int64_t n,
                          const uint32_t *seeds, int64_t *index, const uint8_t *active)
{
    dataset_job job = {orders, index, m, n, seeds, active};
    int64_t total;
    if (!orders || !seeds || !index || c <= 0 || m < 0 || n <= 0 || n > INT32_MAX)
        return NN_EINVAL;
    if (nni_mul(&total, c, m) != NN_OK || nni_mul(&total, total, n) != NN_OK) return NN_EINVAL;
    /* the index rows must hold row numbers: the shuffles only move them */
    if (nni_mul(&total, c, n) != NN_OK || nni_rows_in_range(index, total, n) != NN_OK)
        return NN_EINVAL;
    return nni_parallel_for(c > 1 ? nni_threads() : 1, c, dataset_stream_orders, &job);
}
