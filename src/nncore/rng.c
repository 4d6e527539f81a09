/* The random stream: SplitMix64, one per model, state = seed (docs/semantics.md). */
#include "internal.h"

/* SplitMix64's step: internal.h's nni_splitmix64 (the dropout masks inline it). */
uint64_t nn_rng_u64(uint64_t *state)
{
    return nni_splitmix64(state);
}

/* uniform = (u64 >> 11) * 2^-53: the top 53 bits, exactly representable, in [0, 1). */
double nn_rng_uniform(uint64_t *state)
{
    return (double)(nn_rng_u64(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Fisher-Yates: order = 0..n-1; for i = n-1..1: j = floor(uniform * (i+1)), swap(i, j). */
int nn_rng_permutation(int64_t *order, int64_t n, uint64_t *state)
{
    int64_t i;
    if (!order || !state || n <= 0) return NN_EINVAL;
    for (i = 0; i < n; i++) order[i] = i;
    for (i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)(nn_rng_uniform(state) * (double)(i + 1));
        int64_t tmp;
        /* u * (i+1) can round up to i+1 once i+1 > 2^53 / 2: clamp so we never index past i. */
        if (j > i) j = i;
        tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    return NN_OK;
}
