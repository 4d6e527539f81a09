/* Per-thread scratch buffers (the GEMM packing buffers): grown on demand, kept for the
 * thread's next calls, freed when the thread ends. */
#include "internal.h"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define HAVE_PTHREAD_KEYS 1
#endif

typedef struct {
    void *raw[NNI_SCRATCH_SLOTS];
    int64_t bytes[NNI_SCRATCH_SLOTS];
} thread_scratch;

static NNI_THREAD_LOCAL thread_scratch tl_scratch;

#ifdef HAVE_PTHREAD_KEYS
/* A thread that ends frees its buffers (a key's destructor runs at thread exit); the
 * process's last buffers go with the process. */
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *scratch)
{
    thread_scratch *ts = (thread_scratch *)scratch;
    int i;
    for (i = 0; i < NNI_SCRATCH_SLOTS; i++) {
        free(ts->raw[i]);
        ts->raw[i] = NULL;
        ts->bytes[i] = 0;
    }
}

static void scratch_key_create(void) { (void)pthread_key_create(&g_scratch_key, scratch_free); }
#endif

void *nni_thread_scratch(int slot, int64_t bytes)
{
    thread_scratch *ts = &tl_scratch;
    if (slot < 0 || slot >= NNI_SCRATCH_SLOTS || bytes < 0) return NULL;
    if (bytes > ts->bytes[slot]) {
        void *raw = malloc((size_t)bytes + 64);
        if (!raw) return NULL;
#ifdef HAVE_PTHREAD_KEYS
        pthread_once(&g_scratch_once, scratch_key_create);
        (void)pthread_setspecific(g_scratch_key, ts);
#endif
        free(ts->raw[slot]);
        ts->raw[slot] = raw;
        ts->bytes[slot] = bytes;
    }
    return (void *)(((uintptr_t)ts->raw[slot] + 63) & ~(uintptr_t)63);
}
