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

static int cpu_runs_any(void) { return 1; }

/* Every kernel set compiled in, best first, with the test of whether this CPU runs it. */
static const struct {
    const nni_gemm_kernel *kernel;
    int (*cpu_runs)(void);
} g_kernel_table[] = {
#ifdef NN_HAVE_KERNEL_AVX512
    {&nni_kernel_avx512, nni_cpu_runs_avx512},
#endif
#ifdef NN_HAVE_KERNEL_AVX2
    {&nni_kernel_avx2, nni_cpu_runs_avx2},
#endif
#ifdef NN_HAVE_KERNEL_NEON
    {&nni_kernel_neon, cpu_runs_any},
#endif
    {&nni_kernel_portable, cpu_runs_any},
};
#define N_KERNELS ((int)(sizeof g_kernel_table / sizeof g_kernel_table[0]))

/* The kernel in use; NULL until the first GEMM (a racing first use picks the same one). */
static const nni_gemm_kernel *volatile g_kernel = NULL;

int nni_gemm_kernel_select(const char *name)
{
    int i;
    for (i = 0; name && i < N_KERNELS; i++)
        if (strcmp(g_kernel_table[i].kernel->name, name) == 0 && g_kernel_table[i].cpu_runs()) {
            g_kernel = g_kernel_table[i].kernel;
            return NN_OK;
        }
    return NN_EINVAL;
}

/* NNFAST_GEMM_KERNEL=portable|avx2|avx512|neon when this build and CPU run it, else the first
 * (best) entry of the table the CPU runs; the portable kernel always runs.                 */
const nni_gemm_kernel *nni_gemm_kernel_get(void)
{
    const nni_gemm_kernel *kr = g_kernel;
    int i;
    if (kr) return kr;
    if (nni_gemm_kernel_select(getenv("NNFAST_GEMM_KERNEL")) != NN_OK) {
        for (i = 0; i < N_KERNELS; i++)
            if (g_kernel_table[i].cpu_runs()) {
                g_kernel = g_kernel_table[i].kernel;
                break;
            }
    }
    return g_kernel;
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
    info->openmp = nn_has_openmp();
#ifdef NN_NATIVE_BUILD
    info->native_build = 1;
#else
    info->native_build = 0;
#endif
    info->num_threads = nn_get_num_threads();
}
