/* Run-time dispatch: which instruction sets this CPU runs, the GEMM kernel table (best
 * first, chosen once), and the build report. */
#include "internal.h"

#include <stdio.h>

/* The instruction sets this CPU reports (x86 through the compiler's cpuid support). */
static const char *cpu_features(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    static char buf[96];
    if (!buf[0]) {
        __builtin_cpu_init();
        snprintf(buf, sizeof buf, "sse2%s%s%s%s", __builtin_cpu_supports("avx") ? " avx" : "",
                 __builtin_cpu_supports("avx2") ? " avx2" : "",
                 __builtin_cpu_supports("fma") ? " fma" : "",
                 __builtin_cpu_supports("avx512f") ? " avx512f" : "");
    }
    return buf;
#elif defined(__aarch64__)
    return "neon";
#else
    return "";
#endif
}

/* Does this CPU (and OS: the compiler's cpuid support checks that the OS saves the wider
 * registers) run instructions of the set the kernel needs?                                 */
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
/* cpuid leaf 1 ecx: fma (12), osxsave (27), avx (28); leaf 7 ebx: avx2 (5), avx512f (16);
 * xgetbv(0): the OS saves xmm/ymm (bits 1, 2) and the zmm state (5, 6, 7). */
static int msvc_cpu_runs(int leaf7_bit, unsigned xcr0_mask)
{
    int r[4];
    __cpuid(r, 0);
    if (r[0] < 7) return 0;
    __cpuid(r, 1);
    if (!(r[2] & (1 << 12)) || !(r[2] & (1 << 27)) || !(r[2] & (1 << 28))) return 0;
    if (((unsigned)_xgetbv(0) & xcr0_mask) != xcr0_mask) return 0;
    __cpuidex(r, 7, 0);
    return (r[1] & (1 << leaf7_bit)) != 0;
}
#endif

int nni_cpu_runs_avx2(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    return msvc_cpu_runs(5, 0x6u);
#else
    return 0;
#endif
}

int nni_cpu_runs_avx512(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    return msvc_cpu_runs(16, 0xe6u);
#else
    return 0;
#endif
}

int nni_cpu_runs_avx512vl(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return nni_cpu_runs_avx512() && __builtin_cpu_supports("avx512vl");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    return nni_cpu_runs_avx512() && msvc_cpu_runs(31, 0xe6u);
#else
    return 0;
#endif
}

#if defined(NN_HAVE_KERNEL_AVX512BF16) && defined(NN_HAVE_KERNEL_AVX512)
/* AVX512_BF16 (vdpbf16ps): cpuid leaf 7 subleaf 1 eax bit 5, beside AVX-512F's state and
 * AVX512BW (the packing's word permute; every such CPU has it). Only in
 * builds whose compiler has the instruction set (and so knows its cpuid name). */
static int cpu_runs_avx512bf16(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return nni_cpu_runs_avx512() && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    int r[4];
    if (!nni_cpu_runs_avx512() || !msvc_cpu_runs(30, 0xe6u)) return 0; /* avx512bw */
    __cpuidex(r, 7, 1);
    return (r[0] & (1 << 5)) != 0;
#else
    return 0;
#endif
}
#endif

#if defined(NN_HAVE_KERNEL_AMX) && defined(NN_HAVE_KERNEL_AVX512BF16) && \
    defined(NN_HAVE_KERNEL_AVX512) && defined(__linux__) && defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define HAVE_AMX_SET 1
/* AMX-BF16 and its tiles: cpuid leaf 7 edx bits 22 (AMX-BF16) and 24 (AMX-TILE), the OS
 * saving the tile state (XCR0 bits 17, 18), and Linux granting this process the tile data
 * (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA: asked once; refused where the kernel
 * is older than 5.16 or a signal stack is too small for the tiles) -- beside the vdpbf16ps
 * set, whose conversions the packing uses. */
static int cpu_runs_amx(void)
{
    static int runs = -1; /* a racing first call asks again: the same answer */
    unsigned a, b, c, d, lo, hi;
    if (runs >= 0) return runs;
    runs = 0;
    if (!cpu_runs_avx512bf16() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(d & (1u << 22)) || !(d & (1u << 24))) return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & (3u << 17)) != (3u << 17)) return 0;
    runs = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
    return runs;
}
#endif

int nni_cpu_runs_any(void) { return 1; }

const void *nni_dispatch_find(const nni_dispatch_entry *table, int count, const char *name)
{
    int i;
    for (i = 0; name && i < count; i++)
        if (strcmp(table[i].name, name) == 0 && table[i].cpu_runs()) return table[i].impl;
    return NULL;
}

const void *nni_dispatch_choose(const nni_dispatch_entry *table, int count, const char *name)
{
    const void *impl = nni_dispatch_find(table, count, name);
    int i;
    for (i = 0; !impl && i < count; i++)
        if (table[i].cpu_runs()) impl = table[i].impl;
    return impl;
}

/* Every kernel set compiled in, best first, with the test of whether this CPU runs it. */
static const nni_dispatch_entry g_kernel_table[] = {
#ifdef NN_HAVE_KERNEL_AVX512
    {"avx512", &nni_kernel_avx512, nni_cpu_runs_avx512},
    {"avx512_12x32", &nni_kernel_avx512_12x32, nni_cpu_runs_avx512},
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    {"avx2", &nni_kernel_avx2, nni_cpu_runs_avx2},
#endif
#ifdef NN_HAVE_KERNEL_NEON
    {"neon", &nni_kernel_neon, nni_cpu_runs_any},
#endif
    {"portable", &nni_kernel_portable, nni_cpu_runs_any},
};
#define N_KERNELS ((int)(sizeof g_kernel_table / sizeof g_kernel_table[0]))

/* The kernel in use; NULL until the first GEMM (a racing first use picks the same one). */
static const nni_gemm_kernel *volatile g_kernel = NULL;

int nni_gemm_kernel_select(const char *name)
{
    const nni_gemm_kernel *kr =
        (const nni_gemm_kernel *)nni_dispatch_find(g_kernel_table, N_KERNELS, name);
    if (!kr) return NN_EINVAL;
    g_kernel = kr;
    return NN_OK;
}

/* NNFAST_GEMM_KERNEL=portable|avx2|avx512|avx512_12x32|neon when this build and CPU run it,
 * else the first (best) entry of the table the CPU runs; the portable kernel always runs.   */
const nni_gemm_kernel *nni_gemm_kernel_get(void)
{
    if (!g_kernel)
        g_kernel = (const nni_gemm_kernel *)nni_dispatch_choose(g_kernel_table, N_KERNELS,
                                                                getenv("NNFAST_GEMM_KERNEL"));
    return g_kernel;
}

/* The bfloat16 sets, best first: AMX's tiles, then vdpbf16ps. */
#if defined(NN_HAVE_KERNEL_AVX512BF16) && defined(NN_HAVE_KERNEL_AVX512)
static const nni_dispatch_entry g_bf16_table[] = {
#ifdef HAVE_AMX_SET
    {"amx", &nni_kernel_amx, cpu_runs_amx},
#endif
    {"avx512bf16", &nni_kernel_avx512bf16, cpu_runs_avx512bf16},
};
#define N_BF16 ((int)(sizeof g_bf16_table / sizeof g_bf16_table[0]))
static const nni_gemm_kernel *volatile g_bf16 = NULL;
#endif

int nni_gemm_kernel_bf16_select(const char *name)
{
#if defined(NN_HAVE_KERNEL_AVX512BF16) && defined(NN_HAVE_KERNEL_AVX512)
    const nni_gemm_kernel *kr;
    if (!name) {
        g_bf16 = (const nni_gemm_kernel *)nni_dispatch_choose(g_bf16_table, N_BF16, NULL);
        return NN_OK;
    }
    kr = (const nni_gemm_kernel *)nni_dispatch_find(g_bf16_table, N_BF16, name);
    if (!kr) return NN_EINVAL;
    g_bf16 = kr;
    return NN_OK;
#else
    return name ? NN_EINVAL : NN_OK;
#endif
}

/* NNFAST_BF16_KERNEL=amx|avx512bf16 when this build and CPU run it, else the best that runs
 * (NULL: none), beside the AVX-512 float set only */
const nni_gemm_kernel *nni_gemm_kernel_bf16(void)
{
#if defined(NN_HAVE_KERNEL_AVX512BF16) && defined(NN_HAVE_KERNEL_AVX512)
    if (nni_gemm_kernel_get() != &nni_kernel_avx512) return NULL;
    if (!g_bf16)
        g_bf16 = (const nni_gemm_kernel *)nni_dispatch_choose(g_bf16_table, N_BF16,
                                                              getenv("NNFAST_BF16_KERNEL"));
    return g_bf16;
#else
    return NULL;
#endif
}

void nn_get_build_info(nn_build_info *info)
{
    const nni_gemm_kernel *kr = nni_gemm_kernel_get();
    if (!info) return;
    info->gemm_kernel_f32 = kr->label_f32;
    info->gemm_kernel_f64 = kr->label_f64;
    info->vecmath = nni_vecmath_get()->name;
    info->cpu_features = cpu_features();
#if defined(__VERSION__)
    info->compiler = __VERSION__;
#else
    info->compiler = "unknown";
#endif
    info->threading = nn_threading();
#ifdef NN_NATIVE_BUILD
    info->native_build = 1;
#else
    info->native_build = 0;
#endif
    info->num_threads = nn_get_num_threads();
    info->gemm_kernel_bf16 = nni_gemm_kernel_bf16() ? nni_gemm_kernel_bf16()->label_f32
                                                    : "float kernel on rounded operands";
}

/* ---- caches and the GEMM blocking ------------------------------------------------------- */
/* Bytes of L1d, L2, L3 in [1..3], L1d's ways in [4] (0: unknown); [0] becomes 1 once they are
 * stored (release / acquire, so a racing first call either sees them all or detects them
 * again, the same values). */
static int64_t g_cache[5] = {0, 0, 0, 0, 0};
#if defined(__GNUC__) || defined(__clang__)
#define CACHE_READY() (__atomic_load_n(&g_cache[0], __ATOMIC_ACQUIRE) != 0)
#define CACHE_PUBLISH() __atomic_store_n(&g_cache[0], 1, __ATOMIC_RELEASE)
#else /* MSVC: volatile accesses are acquire / release on x86 and x64 */
#define CACHE_READY() (*(volatile int64_t *)&g_cache[0] != 0)
#define CACHE_PUBLISH() (*(volatile int64_t *)&g_cache[0] = 1)
#endif

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define HAVE_CPUID 1
static void cpuid_count(unsigned leaf, unsigned sub, unsigned r[4])
{
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
static unsigned cpuid_max(unsigned leaf) { return __get_cpuid_max(leaf, NULL); }
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#define HAVE_CPUID 1
static void cpuid_count(unsigned leaf, unsigned sub, unsigned r[4])
{
    int x[4];
    __cpuidex(x, (int)leaf, (int)sub);
    r[0] = (unsigned)x[0], r[1] = (unsigned)x[1], r[2] = (unsigned)x[2], r[3] = (unsigned)x[3];
}
static unsigned cpuid_max(unsigned leaf)
{
    int x[4];
    __cpuid(x, (int)leaf);
    return (unsigned)x[0];
}
#endif

/* 1 on an AMD (or Hygon) CPU: cpuid's vendor string, read once (in a VM cpuid traps to the
 * hypervisor). A plain int is enough: a concurrent first call stores the same value. */
static int cpu_is_amd(void)
{
#ifdef HAVE_CPUID
    static int cached = -1;
    if (cached < 0) {
        unsigned r[4];
        cpuid_count(0, 0, r); /* ebx "Auth" (AuthenticAMD) or "Hygo" (HygonGenuine) */
        cached = r[1] == 0x68747541u || r[1] == 0x6f677948u;
    }
    return cached;
#else
    return 0;
#endif
}

/* 1 where a plain product's block of B is wide (B_WIDE_MAX_BYTES below): an AMD CPU of family
 * 19h (Zen 4 among the AVX-512 ones, whose FMAs run 512-bit vectors as two 256-bit halves),
 * read once. Zen 5 (family 1Ah), twice the FMA width a cycle, keeps the L2 block. */
static int cpu_takes_wide_b(void)
{
#ifdef HAVE_CPUID
    static int cached = -1;
    if (cached < 0) {
        unsigned r[4], family;
        cpuid_count(1, 0, r); /* eax: base family in bits 8-11, extended in 20-27 */
        family = (r[0] >> 8) & 0xfu;
        if (family == 0xfu) family += (r[0] >> 20) & 0xffu;
        cached = cpu_is_amd() && family == 0x19u;
    }
    return cached;
#else
    return 0;
#endif
}

#ifdef HAVE_CPUID
/* The deterministic cache parameters: leaf 4 (Intel) or 0x8000001d (AMD), one subleaf per
 * cache: type (1 data, 3 unified) and level in eax; size = ways x partitions x line x sets;
 * cache[4] the L1d's ways. */
static void cpuid_caches(int64_t cache[5])
{
    unsigned r[4], leaf = 4, sub;
    if (cpuid_max(0x80000000u) >= 0x8000001du && cpu_is_amd()) leaf = 0x8000001du;
    if (leaf == 4 && cpuid_max(0) < 4) return;
    for (sub = 0; sub < 16; sub++) {
        unsigned type, level;
        int64_t size;
        cpuid_count(leaf, sub, r);
        type = r[0] & 31u;
        level = (r[0] >> 5) & 7u;
        if (type == 0) break;
        if (type != 1 && type != 3) continue;
        size = (int64_t)((r[1] >> 22) + 1) * (((r[1] >> 12) & 0x3ffu) + 1) *
               ((r[1] & 0xfffu) + 1) * ((int64_t)r[2] + 1);
        if (level >= 1 && level <= 3 && cache[level] == 0) cache[level] = size;
        if (level == 1 && type == 1 && cache[4] == 0) cache[4] = (int64_t)(r[1] >> 22) + 1;
    }
}
#endif

#if defined(__linux__)
#include <unistd.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif

/* The CPU's own report first (cpuid, as the kernel's /sys/devices/system/cpu/.../cache does),
 * then the OS for what it leaves out. glibc's sysconf is not the cache one core sees on every
 * CPU: on a 2-core AMD EPYC (Zen 5) VM it gave 384 MiB of L3 where cpuid and sysfs give the
 * 32 MiB of the core's complex. */
static void detect_caches(int64_t c[5])
{
    int i;
#ifdef HAVE_CPUID
    cpuid_caches(c);
#endif
#if defined(__linux__) && defined(_SC_LEVEL1_DCACHE_SIZE)
    {
        const int names[5] = {0, _SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE,
                              _SC_LEVEL3_CACHE_SIZE, _SC_LEVEL1_DCACHE_ASSOC};
        for (i = 1; i <= 4; i++)
            if (!c[i] && sysconf(names[i]) > 0) c[i] = sysconf(names[i]);
    }
#elif defined(__APPLE__)
    {
        const char *names[4] = {NULL, "hw.l1dcachesize", "hw.l2cachesize", "hw.l3cachesize"};
        for (i = 1; i <= 3; i++) {
            int64_t v = 0;
            size_t len = sizeof v;
            if (!c[i] && sysctlbyname(names[i], &v, &len, NULL, 0) == 0 && v > 0) c[i] = v;
        }
    }
#endif
    (void)i;
}

/* The caches' values, detected on the first call: level 1-3 bytes, 4 L1d's ways */
static int64_t cache_value(int index)
{
    int64_t c[5] = {0, 0, 0, 0, 0};
    int i;
    if (CACHE_READY()) return g_cache[index];
    detect_caches(c);
    for (i = 1; i <= 4; i++) g_cache[i] = c[i];
    CACHE_PUBLISH();
    return c[index];
}

int64_t nn_cache_size(int level) { return level >= 1 && level <= 3 ? cache_value(level) : 0; }

static int g_l1d_ways_override = 0;

int nni_l1d_ways(void)
{
    return g_l1d_ways_override > 0 ? g_l1d_ways_override : (int)cache_value(4);
}

void nni_l1d_ways_set(int ways) { g_l1d_ways_override = ways > 0 ? ways : 0; }

static int64_t g_blocking_override[3] = {0, 0, 0};

static int g_loop_order_override = -1;

void nni_gemm_loop_order_set(int order)
{
    g_loop_order_override = order < 0 ? -1 : order > 2 ? 2 : order;
}

void nni_gemm_blocking_set(int64_t mc, int64_t kc, int64_t nc)
{
    g_blocking_override[0] = mc > 0 ? mc : 0;
    g_blocking_override[1] = kc > 0 ? kc : 0;
    g_blocking_override[2] = nc > 0 ? nc : 0;
}

/* A parallel product packs the operand every part needs (A for column parts) once and
 * shares it up to this size; beyond it, one block of op(B) at a time (gemm_parallel.c).    */
#define GEMM_SHARED_PACK_MAX_BYTES ((int64_t)16 << 20)
static int g_b_packing_off = 0;
void nni_gemm_b_packing_set(int on) { g_b_packing_off = !on; }
int nni_gemm_b_packing_off(void) { return g_b_packing_off; }
static int g_b_in_place_off = 0;
void nni_gemm_b_in_place_set(int on) { g_b_in_place_off = !on; }
int nni_gemm_b_in_place_off(void) { return g_b_in_place_off; }
static int g_a_t_in_place_off = 0;
void nni_gemm_a_t_in_place_set(int on) { g_a_t_in_place_off = !on; }
int nni_gemm_a_t_in_place_off(void) { return g_a_t_in_place_off; }

static int64_t g_shared_max_override = 0;

void nni_gemm_shared_max_set(int64_t bytes) { g_shared_max_override = bytes > 0 ? bytes : 0; }

int64_t nni_gemm_shared_max(void)
{
    return g_shared_max_override ? g_shared_max_override : GEMM_SHARED_PACK_MAX_BYTES;
}

/* The largest block of B the A-in-L1 order keeps in L2 (nc below). Half of a 2 MiB L2 (the
 * Sapphire Rapids-class Xeon: float32 kc 512, nc 480, 960 KiB) leaves too little room for the
 * C tiles and A panels passing through. 576 KiB (nc 288; 576 at kc 256) against half of L2,
 * paired rounds of bench_gemm_configs, medians of 11 (load ~1 from the runs themselves, no
 * host steal: indicative), the speed ratio on 1 / 2 threads, float32: 256 x 2048 x 2048
 * 1.02 / 1.03, with B^T 1.05 / 1.04, 256 x 2048 x 1024 1.03 / 1.05, 2048 x 2048 x 256 (A^T)
 * 1.01 / 1.03, 1024 x 2048 x 256 (A^T) 1.0 / 1.02, 2048^3 1.02 / 1.0; float64 (kc 256, nc
 * 288 against 504) 256 x 2048 x 2048 1.04 / 1.04, with B^T 2 threads 1.03. On the Ice Lake
 * Xeon's 1.25 MiB L2, half is 640 KiB: the cap keeps the 288 columns measured best there. */
#define B_BLOCK_MAX_BYTES ((int64_t)576 * 1024)
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

/* k from which the 64-byte-vector kernels take the A-in-L1 order (below) whatever the size of
 * C. Below it, a C larger than L2 takes that order too, a C that fits in L2 the other.
 * With a short k the product is bound by writing C. The A-in-L1 order writes it along bands
 * of mr rows, streams the prefetcher follows; the other goes down C's columns a tile at a
 * time, which pays only while C stays in L2.
 * Measured, paired runs (bench_gemm_configs):
 *   Ice Lake Xeon (1.25 MiB L2), 256 x 2048 x k, 2 threads, the other order against A in
 *     L1: k = 10 1.21x, k = 64 1.29x, k = 256 1.0x, k = 2048 0.96x (the rule before this
 *     one: A in L1 from k = 256 only).
 *   Zen 5 KVM guest (1 MiB L2), compare.py's GEMM table, GFLOP/s, other order against A in
 *     L1: 256x2048x10 B^T float64 1 thread 30.4/28.2 against 50.2/57.4, 2 threads 52.2/53.6
 *     against 62.0/63.5; float32 81.9/90.3 against 99.7/106.4, and 129/168 against 184/198.
 *     With C in L2 (W3's float32 products, k 64-128) the other order stayed ahead, 1 thread
 *     5-17 %.
 *   Sapphire Rapids-class Xeon KVM guest (2 MiB L2), operands 16 bytes past a line as
 *     NumPy allocates them (-o 16), 15 rounds, A in L1 against the other order, at load
 *     0.06: 256 x 2048 x 10 B^T 1 thread float32 (C 2 MiB) 1.51x (quartiles 1.39-1.57),
 *     float64 1.80x (1.76-1.85). Indicative (load 0.5-1.0 from the runs before): 2 threads
 *     0.94-1.02x float32, 1.13-1.22x float64; 1024 x 1024 x 128 1.05-1.17x; C in L2: 784 x
 *     256 x 64 A^T 1.04x float32, 1.05-1.13x float64; 256 x 128 x 64 A^T 0.99-1.02x.
 * The Ice Lake, measured on 2 threads only, preferred the other order at a short k whatever
 * C's size; the two guests measured since gain from A in L1 once C outgrows L2, and the rule
 * follows them. With C in L2 the Sapphire Rapids gains a few per cent, the Zen 5 lost more:
 * that case keeps the other order. */
#define A_IN_L1_MIN_K 256

/* The A-in-L1 order's depth kc, at most this many bytes of each row of A's panel (float 512,
 * double 256): below, the depth fills half of L1 with the kernel's panel. A 12-row panel in
 * half of a 32 KiB L1 (float 336, double 160), which the 8-row kernels took too, re-read and
 * wrote C more often than it saved: Zen 4 EPYC (32 KiB L1), bench_gemm_configs -o 16 -b 2,
 * 11 rounds, kc:nc 512:240 against 336:384 (float32 8 x 48), 256:240 against 160:408 (float64
 * 8 x 24), medians of the per-round ratios on 1 / 2 threads: float32 256 x 2048 x 2048 1.015
 * / 1.027, with B^T 1.027 / 1.027, 256 x 2048 x 1024 1.018 / 1.007, 2048^3 1.018 / 1.004;
 * float64 1.044 / 1.052, 1.027 / 1.019, 1.035 / 1.035, 1.024 / 1.035. On a 48 KiB L1 the
 * rule gives the depths it gave before. */
#define KC_A_MAX_ROW_BYTES 2048

/* On Zen 4 (cpu_takes_wide_b) a plain product's block of B in the A-in-L1 order (B stored
 * (k, n), no epilogue or optimizer step on C: wide_b) is as wide as a quarter of L3 holds, at
 * most this many bytes (32 MiB L3: 4096 columns at kc 512 floats or 256 doubles, so the 2048
 * columns of W4's products and of 2048^3 in one block), not half of L2 (240 columns on a
 * 1 MiB L2). C's bands
 * of mr rows are then written along whole rows, and B packed from whole rows: streams the
 * prefetchers follow, where 240 columns cut them into 1-2 KiB pieces 8-16 KiB apart. The
 * tiles read B's packed panels from L3 instead of L2, which Zen's L3 (a core complex's)
 * delivers in time while the product has it to itself. Zen 4 EPYC KVM guest (32 KiB L1, 1 MiB
 * L2, 32 MiB L3), bench_gemm_configs -o 16, rounds alternating nc 240 and one block of 2064
 * columns, medians of the per-round speed ratios (quartiles), 1 thread / 2 threads:
 *   float64 2048^3                         1.063-1.089 (1.05-1.11) / 1.003-1.054 (0.99-1.09)
 *   float32 2048^3                         1.067 (1.055-1.085)
 *   float32 256 x 2048 x 2048 (W4 X@W)     1.036-1.051 (1.02-1.07) / 1.004-1.012 (0.95-1.11)
 *   float32 256 x 2048 x 1024              1.031 (1.00-1.04)       / 0.993 (0.98-1.01)
 *   float32 2048 x 2048 x 256 (A^T)        1.037-1.073 (1.03-1.11) / 1.018-1.039 (0.99-1.10)
 *   float32 1024 x 2048 x 256 (A^T)        1.036 (0.99-1.07)       / 1.035 (1.01-1.04)
 *   float64 256 x 2048 x 2048, x 1024      1.013-1.014             / 0.981-0.987
 * Not for B stored (n, k) (delta @ W^T), packed from rows of kc elements whatever the width:
 * 256 x 2048 x 2048 B^T 0.972-0.985 (1 thread), 0.996 (2). Not in training, where the
 * epilogues and steps follow and the weights, gradients and activations share L3: W4's fits
 * with its products of B stored (k, n) in one block against 240 columns, alternating in one
 * process, 2 threads 1.03x the time (quartiles 1.02-1.05, 11 rounds), 1 thread level. The
 * Xeons keep B's block in L2: their L3 (a mesh's, slower) measured best with it there
 * (B_BLOCK_MAX_BYTES). So does Zen 5 (cpu_takes_wide_b), whose kernels, at twice Zen 4's FLOPs
 * a cycle, need B's panels from L2: its KVM guest (48 KiB L1, 1 MiB L2, 32 MiB L3), the same
 * runs with -b 3 (calls back to back; runs back to back, load 0.7-0.9: indicative), one block
 * against 240 columns, 1 / 2 threads:
 *   float32 256 x 2048 x 2048 (W4 X@W)     0.990 (0.99-1.01) / 0.929-0.933 (0.90-0.94)
 *   float32 256 x 2048 x 1024              0.980 (0.97-0.99) / 0.927 (0.91-0.95)
 *   float32 2048 x 2048 x 256 (A^T)        0.960 (0.96-0.97) / 0.989 (0.98-1.00)
 *   float32 2048^3                         1.000 (0.97-1.01) / 1.009 (1.00-1.02)
 *   float64 256 x 2048 x 2048              0.973 (0.97-0.98) / 0.979 (0.96-1.00)
 *   float64 2048 x 2048 x 256 (A^T)        0.993 (0.99-1.00) / 0.964 (0.94-0.98)
 *   float64 2048^3                         1.029 (0.99-1.05) / 0.975 (0.97-1.01) */
#define B_WIDE_MAX_BYTES ((int64_t)8 << 20)

/* Whether a product the A-in-L1 order would run, whose B (k, n; b_bytes) its first row
 * panel's kernels pack as they read it, takes the other order with B streamed through one
 * panel instead (gemm.c's b_stream): all of C's rows in one block, A's block of them (a_bytes,
 * packed) in L2, and each of B's panels packed into the same place by the first row panel's
 * tile, read by the column's other tiles, then left. A B that stays in L2 keeps the A-in-L1
 * order: its packing reads from L2 either way.
 * In the A-in-L1 order the first row panel packs the whole block of B (2048 columns of
 * 256 doubles: 4 MiB) in a burst of tiles whose source rows come from memory, 16 KiB apart
 * where no prefetcher follows them, and whose packed lines are written where the block was
 * read last: each such tile took ~3.3x a plain one (perf: 8.9 % of float64 256 x 2048 x
 * 2048 for 1/32 of the tiles; a scratch loop: 2.6-3.5x with B from memory, 1.6-1.8x from
 * L3, 1.2-1.3x from L2 and L3). Streamed, a column of 32 tiles has one packing tile, its
 * source rows asked for into L2 over the column before (gemm_macro_kernel) and its panel
 * written where the last one was read (perf: 5.1 %). Zen 4 EPYC KVM guest (32 KiB L1, 1 MiB
 * L2), bench_gemm_configs -o 16, 15 rounds, streamed against the A-in-L1 order (`-1:0:0:0:T`
 * against `1:0:0:0:T`), medians of the per-round speed ratios (quartiles), 1 / 2 threads:
 *   float64 256 x 2048 x 2048 (W4 X@W)     1.048 (1.02-1.10) / 1.038 (1.02-1.05)
 *   float64 256 x 2048 x 1024              1.044 (1.01-1.07) / 1.049 (1.04-1.07)
 *   float32 256 x 2048 x 2048              1.058 (1.05-1.08) / 1.040 (1.00-1.05)
 *   float32 256 x 2048 x 1024              1.052 (1.02-1.08) / 1.026 (0.98-1.07)
 * Not measured on the Xeons (2 MiB L2: C's rows up to 512 at float kc 512 take it there). */
int nni_gemm_b_stream_applies(int64_t a_bytes, int64_t b_bytes)
{
    const int64_t l2 = nn_cache_size(2) > 0 ? nn_cache_size(2) : 256 << 10;
    if (g_loop_order_override >= 0) return g_loop_order_override == 2;
    return a_bytes <= l2 / 2 && b_bytes > l2;
}

void nni_gemm_blocking_get(nni_gemm_blocking *bl, int mr, int nr, int elem_bytes, int64_t k,
                           int64_t c_bytes, int wide_b)
{
    /* fallbacks: a small x86 core (32 KiB L1d, 256 KiB L2, 8 MiB L3) */
    const int64_t l1 = nn_cache_size(1) > 0 ? nn_cache_size(1) : 32 << 10;
    const int64_t l2 = nn_cache_size(2) > 0 ? nn_cache_size(2) : 256 << 10;
    const int64_t l3 = nn_cache_size(3) > 0 ? nn_cache_size(3) : 8 << 20;
    const int64_t l3_share = l3 / 4 < (4 << 20) ? l3 / 4 : (4 << 20); /* many cores share it */
    int64_t kc, mc, nc;
    /* The 64-byte-vector kernels (AVX-512: 8 x 48 or 12 x 32 floats, 8 x 24 or 12 x 16
     * doubles) keep A's panel in L1 and stream B's from L2, as BLIS's and oneDNN's AVX-512
     * kernels do: C is then written along a band of mr rows (its rows' pages and lines reused
     * by the next tiles) and kc can be twice as deep, so C is read and written half as often.
     * Measured (12 x 32) on the Ice Lake Xeon, paired runs: float32 2048^3 1.04-1.10x the
     * other order on one thread, 1.15x on two; W4's 256 x 2048 x 2048 1.04x, 2048 x 2048 x
     * 256 (A^T) 1.07x on two. The narrower kernels (AVX2 6 x 16) keep the order they were
     * measured with on AVX2 machines. */
    /* each order's kc (the rules below): A's panel in L1, B's and A's micro-panels in L1 */
    /* AMX's tiles (32 rows of 2-byte terms): A's panel in L1 to 512 terms (32 KiB on a 48
     * KiB L1), past the half of L1 the rule gives (384): C's tiles loaded and stored a
     * quarter less often. Intel Xeon KVM guest, 2 threads, bench_gemm_configs -b 3, 7 paired
     * rounds (load ~1, indicative): 256 x 2048 x 2048 1.06x (B^T 1.11x), 256 x 2048 x 1024
     * 1.04x; 2048 x 2048 x 256 (one block either way) 1.00x. */
    const int64_t kc_a =
        mr >= 32 && elem_bytes == 2 && l1 >= (48 << 10)
            ? 512
            : clamp64(min64(l1 / 2 / ((int64_t)mr * elem_bytes), KC_A_MAX_ROW_BYTES / elem_bytes) /
                          16 * 16,
                      64, 1024);
    const int64_t kc_b = clamp64(l1 * 3 / 4 / ((int64_t)(mr + nr) * elem_bytes) / 16 * 16, 64, 512);
    /* ... and A in L1 also where the other order would cut k into more blocks (C read and
     * written once a block): on a 32 KiB L1 the other order's kc is 96 (float 8 x 48), so
     * W3's 64 x 256 x 128 (delta W^T) took 2 blocks against 1. Zen 4 EPYC, bench_gemm_configs
     * -o 16 -b 50, 11 rounds, A in L1 against the other order: 1 thread 1.11x (quartiles
     * 1.07-1.14), 2 threads 1.48x (1.36-1.60). On a 48 KiB L1 (kc 160) no product of W3 or
     * W4 changes order by this. */
    /* (the kernel's C row, nr floats or doubles: a bfloat16 product's 2-byte terms sum into
     * float; taken with 2-byte rows, the 8 x 48 bf16 kernel ran the other order at kc 320:
     * 2048^3 on 2 threads 0.88x, 256 x 2048 x 2048 0.96x, Zen 5, indicative) */
    const int64_t c_row_bytes = (int64_t)nr * (elem_bytes < 4 ? 4 : elem_bytes);
    int a_in_l1 = c_row_bytes >= 128 &&
                  (k >= A_IN_L1_MIN_K || c_bytes >= l2 ||
                   (k + kc_b - 1) / kc_b > (k + kc_a - 1) / kc_a);
    if (g_loop_order_override >= 0) a_in_l1 = g_loop_order_override >= 1;
    if (a_in_l1) {
        /* kc: the kernel's panel of A in half of L1, at most KC_A_MAX_ROW_BYTES a row (48 KiB
         * L1: float 512, double 256 for 8 and 12 rows; 32 KiB: the same for 8 rows, 336 and 160
         * for 12). Measured with the 8-row kernels on 48 KiB, the cap against the panel's own
         * half of L1 (768), Ice Lake Xeon, float32
         * 8 x 48, paired runs against 12 x 32 (kc 512, nc 320), medians of 15-25 rounds,
         * kc:nc (nc from the rule below, 192 for kc 768):
         *   2048^3, 1 thread    768:192 1.06-1.07  512:288 1.08-1.14  384:384 1.12-1.15
         *   2048^3, 2 threads   768:192 0.96       512:288 1.03-1.14  384:384 0.99-1.02
         *   256x2048x2048 B^T, 1 thread  768:192 1.12  512:288 1.10-1.11  384:384 1.05
         *   W4's other products 1.05-1.12 at every depth, 1 and 2 threads.
         * 768 loses on 2 threads, 384 on B^T; 512 is never the worst. Against 8 x 48 at
         * 512:288 (256 x 2048 x 2048, one thread, medians of 15 paired rounds): 256:576 0.99,
         * 384:384 0.97, and the other order (B's panel in L1, kc 128) 0.89.             */
        kc = kc_a;
        /* nc: the kc x nc block of B in half of L2 (1.25 MiB, kc 512: 320 columns, 288 for
         * nr 48), at most B_BLOCK_MAX_BYTES; on Zen 4, wide_b, in a quarter of L3 (at most
         * B_WIDE_MAX_BYTES) */
        nc = cpu_takes_wide_b() && wide_b ? min64(l3 / 4, B_WIDE_MAX_BYTES)
                                    : min64(l2 / 2, B_BLOCK_MAX_BYTES);
        nc = clamp64(nc / (kc * elem_bytes) / nr * nr, (int64_t)nr, NNI_GEMM_NC_MAX / nr * nr);
        /* mc: the mc x kc block of A in a share of L3 */
        mc = clamp64(l3_share / (kc * elem_bytes) / mr * mr, (int64_t)mr * 8, (int64_t)mr * 1000);
    } else {
        /* kc: the B and A micro-panels (kc x (mr + nr)) in about 3/4 of L1, C's tile in the
         * rest: 48 KiB, avx512 f32 8x48: 160, 12x32: 208; f64 8x24: 144; 32 KiB, avx2 f32
         * 6x16: 272 */
        kc = kc_b;
        /* mc: the A block (mc x kc) in half of L2 (1.25 MiB, f32 kc 208: 780 rows; 512 KiB:
         * ~240) */
        mc = clamp64(l2 / 2 / (kc * elem_bytes) / mr * mr, (int64_t)mr, (int64_t)mr * 200);
        /* nc: the B block (kc x nc) in a share of L3 */
        nc = clamp64(l3_share / (kc * elem_bytes) / nr * nr, (int64_t)nr * 8,
                     NNI_GEMM_NC_MAX / nr * nr);
    }
    if (g_blocking_override[0]) mc = clamp64(g_blocking_override[0] / mr * mr, mr, INT64_MAX);
    if (g_blocking_override[1]) kc = g_blocking_override[1];
    if (g_blocking_override[2]) nc = clamp64(g_blocking_override[2] / nr * nr, nr, INT64_MAX);
    bl->mc = mc;
    bl->kc = kc;
    bl->nc = nc;
    bl->a_in_l1 = a_in_l1;
}
