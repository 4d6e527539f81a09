/* What the C benchmarks share (gemm_configs.c, micro_kernels.c): operand values and the
 * comparison that sorts their timings for a median. */
#ifndef NNFAST_BENCH_VALUES_H
#define NNFAST_BENCH_VALUES_H

#include <stdint.h>

/* qsort's comparison of doubles, ascending */
static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* count values in [-0.5, 0.5), floats (elem_bytes 4) or doubles, a fixed sequence per seed */
static void fill_values(void *p, int64_t count, int elem_bytes, unsigned seed)
{
    int64_t i;
    for (i = 0; i < count; i++) {
        const double v = (double)(((uint64_t)i * 2654435761u + seed) % 1000) / 1000.0 - 0.5;
        if (elem_bytes == 4) ((float *)p)[i] = (float)v;
        else ((double *)p)[i] = v;
    }
}

#endif
