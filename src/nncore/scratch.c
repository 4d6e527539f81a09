/* Per-thread scratch buffers (the GEMM packing buffers): grown on demand, kept for the
 * thread's next calls, freed when the thread ends. And kept blocks: the large buffers of a
 * workspace or a call (nni_block_alloc), which on release wait for the thread's next
 * allocation of their size instead of going back to the system. */
#include "internal.h"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define HAVE_PTHREAD_KEYS 1
#endif
#if defined(__linux__)
#include <sys/mman.h> /* madvise */
#endif

/* A buffer of at least HUGE_PAGE_BYTES starts on a 2 MiB boundary, its length rounded up to
 * whole 2 MiB pages, and on Linux asks for transparent huge pages (MADV_HUGEPAGE; honoured
 * where /sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise", NumPy asks the
 * same for its arrays of 4 MiB and more). W4's gradient, velocity, batch buffers and packed
 * blocks otherwise span 4 KiB pages, one TLB entry each, and in a virtual machine each TLB
 * miss walks two page tables. W4 float32, 2 threads, Zen 5 KVM guest, 9 paired processes of
 * 3 fits: 1.022x (quartiles 1.005-1.029); W3 1.005x and W4 bfloat16 0.993x, within noise.
 * The cost: up to 2 MiB of address space, and of memory once touched, a buffer. */
#define HUGE_PAGE_BYTES ((int64_t)2 << 20)

/* 0 when the environment sets NNFAST_HUGE_PAGES=0 (read once): the buffers keep their 2 MiB
 * boundaries but do not ask for huge pages (a fault in an madvised region may compact memory
 * first, a latency some programs do not want). A benign race: every reader computes the same. */
static int huge_pages_wanted(void)
{
    static int wanted = -1;
    if (wanted < 0) wanted = !nni_env_is_zero("NNFAST_HUGE_PAGES");
    return wanted;
}

/* malloc's memory for `bytes` (> 0), and where its 64-byte-aligned use starts (*use). */
static void *raw_alloc(int64_t bytes, void **use)
{
    void *raw = NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= HUGE_PAGE_BYTES) {
        const int64_t len = (bytes + HUGE_PAGE_BYTES - 1) & ~(HUGE_PAGE_BYTES - 1);
        if (posix_memalign(&raw, (size_t)HUGE_PAGE_BYTES, (size_t)len) != 0) return NULL;
        if (huge_pages_wanted()) /* a hint: refused, the pages are 4 KiB */
            (void)madvise(raw, (size_t)len, MADV_HUGEPAGE);
        *use = raw;
        return raw;
    }
#endif
    if (!(raw = malloc((size_t)bytes + 63))) return NULL;
    *use = (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    return raw;
}

/* Blocks released by nni_block_free that this thread keeps: at most NNI_KEPT_BLOCKS, at most
 * KEPT_MAX_BYTES together (a bound on the memory a program holds after its last fit, per
 * thread that ran one: W4's workspace is 58 MiB). Blocks below KEPT_MIN_BYTES go straight
 * back to malloc, whose heap reuses them without new pages anyway. */
#define NNI_KEPT_BLOCKS 4
#define KEPT_MIN_BYTES ((int64_t)1 << 20)
#define KEPT_MAX_BYTES ((int64_t)128 << 20)

typedef struct {
    void *raw[NNI_SCRATCH_SLOTS];
    void *use[NNI_SCRATCH_SLOTS]; /* raw, aligned (raw_alloc)                                */
    int64_t bytes[NNI_SCRATCH_SLOTS];
    void *kept[NNI_KEPT_BLOCKS]; /* block headers (block_header), or NULL                  */
} thread_scratch;

/* What precedes a block's 64-byte-aligned data: its usable size and malloc's pointer. */
typedef struct {
    int64_t bytes;
    void *raw;
} block_header;
#define BLOCK_HEADER_BYTES 64

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
        ts->raw[i] = ts->use[i] = NULL;
        ts->bytes[i] = 0;
    }
    for (i = 0; i < NNI_KEPT_BLOCKS; i++) {
        if (ts->kept[i]) free(((block_header *)ts->kept[i])->raw);
        ts->kept[i] = NULL;
    }
}

static void scratch_key_create(void) { (void)pthread_key_create(&g_scratch_key, scratch_free); }
#endif

/* This thread's buffers are freed when it ends (POSIX). */
static void scratch_register(thread_scratch *ts)
{
#ifdef HAVE_PTHREAD_KEYS
    pthread_once(&g_scratch_once, scratch_key_create);
    (void)pthread_setspecific(g_scratch_key, ts);
#else
    (void)ts;
#endif
}

void *nni_thread_scratch(int slot, int64_t bytes)
{
    thread_scratch *ts = &tl_scratch;
    if (slot < 0 || slot >= NNI_SCRATCH_SLOTS || bytes < 0) return NULL;
    if (bytes > ts->bytes[slot] || !ts->raw[slot]) {
        void *use, *raw = raw_alloc(bytes > 0 ? bytes : 1, &use);
        if (!raw) return NULL;
        scratch_register(ts);
        free(ts->raw[slot]);
        ts->raw[slot] = raw;
        ts->use[slot] = use;
        ts->bytes[slot] = bytes;
    }
    return ts->use[slot];
}

/* A block of at least `bytes`, 64-byte aligned: the smallest block this thread keeps that
 * holds it and is at most twice as large (its pages are already the process's: no page
 * faults, no zeroing by the kernel), else a new one. W4's workspace (1024-2048-2048-10,
 * float32, batch 256: gradient, velocity and batch buffers, 58 MiB) was otherwise returned
 * to the system at every fit's end and faulted in page by page at the next. */
void *nni_block_alloc(int64_t bytes)
{
    thread_scratch *ts = &tl_scratch;
    block_header *h;
    void *raw, *use;
    int i, best = -1;
    if (bytes < 0) return NULL;
    for (i = 0; i < NNI_KEPT_BLOCKS; i++) {
        const block_header *k = (const block_header *)ts->kept[i];
        if (k && k->bytes >= bytes && k->bytes / 2 <= bytes &&
            (best < 0 || k->bytes < ((const block_header *)ts->kept[best])->bytes))
            best = i;
    }
    if (best >= 0) {
        h = (block_header *)ts->kept[best];
        ts->kept[best] = NULL;
        return (char *)h + BLOCK_HEADER_BYTES;
    }
    if (!(raw = raw_alloc(bytes + BLOCK_HEADER_BYTES, &use))) return NULL;
    h = (block_header *)use;
    h->bytes = bytes;
    h->raw = raw;
    return (char *)h + BLOCK_HEADER_BYTES;
}

/* Release a block of nni_block_alloc (NULL: nothing): kept for this thread's next
 * allocations when it is large enough to be worth keeping and fits the limits (in place of
 * the smallest kept block when that is smaller), else freed. */
void nni_block_free(void *p)
{
    thread_scratch *ts = &tl_scratch;
    block_header *h;
    int64_t total = 0;
    int i, empty = -1, smallest = -1, slot;
    if (!p) return;
    h = (block_header *)((char *)p - BLOCK_HEADER_BYTES);
    for (i = 0; i < NNI_KEPT_BLOCKS; i++) {
        const block_header *k = (const block_header *)ts->kept[i];
        if (!k) {
            if (empty < 0) empty = i;
            continue;
        }
        total += k->bytes;
        if (smallest < 0 || k->bytes < ((const block_header *)ts->kept[smallest])->bytes)
            smallest = i;
    }
    slot = empty;
    if (slot < 0 && ((const block_header *)ts->kept[smallest])->bytes < h->bytes) {
        slot = smallest; /* all taken: this one replaces the smallest */
        total -= ((const block_header *)ts->kept[smallest])->bytes;
    }
    if (h->bytes < KEPT_MIN_BYTES || slot < 0 || total + h->bytes > KEPT_MAX_BYTES) {
        free(h->raw);
        return;
    }
    if (ts->kept[slot]) free(((block_header *)ts->kept[slot])->raw);
    ts->kept[slot] = h;
    scratch_register(ts);
}
