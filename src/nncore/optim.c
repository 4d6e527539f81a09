/* Optimizer steps over a flat parameter vector, computed in the element type.
 *
 * Threads: the vector is cut into fixed chunks of OPTIM_CHUNK elements (the cut depends on
 * the count alone) and the chunks are shared over the pool (threads.c). Every element's update
 * reads and writes that element only, so the result is the same bits for any thread count. */
#include "internal.h"
#include "optim_step.h"

#ifdef NN_ELEM_F32
typedef nni_sgd_step_f32 nni_sgd_step_t;
typedef nni_adam_step_f32 nni_adam_step_t;
#else
typedef nni_sgd_step_f64 nni_sgd_step_t;
typedef nni_adam_step_f64 nni_adam_step_t;
#endif

/* Elements per chunk: 4 arrays x 8192 floats = 128 KiB, in L2, and few enough chunks that
 * claiming one (an atomic add) costs nothing beside it. */
#define OPTIM_CHUNK 8192
/* Below this many elements (two chunks) the step runs on the calling thread. callgrind counts
 * (AVX-512 Xeon, GCC -O3): adam ~11 instructions per float element, sgd with momentum ~4
 * (vectorized), against ~1-3 us of waking and waiting for the pool (gemm.c). In training the
 * gradient was just written by a product split over the threads, so on one thread half of it
 * comes from the other core's cache: W3's 256 x 128 layer (32.9k parameters, sgd with
 * momentum, 2 threads, Zen 5 KVM guest, three paired runs) stepped in 7.3-10.8 us on the
 * calling thread, 5.2-7.3 us over the pool. */
#define OPTIM_PARALLEL_MIN 16384

typedef struct optim_job {
    NN_T *w, *s1, *s2;  /* parameters and optimizer state (s2: adam's v, else unused) */
    const NN_T *g;
    int64_t count;
    NN_T a, b, c, d, e; /* the step's constants (sgd: mu, eta; adam: b1, c1, b2, c2, step) */
    NN_T eps;
    int nesterov;
    void (*range)(const struct optim_job *j, int64_t i0, int64_t i1); /* the update      */
    /* the L2 term (optim_step's l2_*): its elements l2_begin .. l2_end-1 of this job's step
     * with (alpha w) / m in their gradient; l2_alpha 0: none                               */
    NN_T l2_alpha, l2_m, l2_inv;
    int64_t l2_begin, l2_end;
} optim_job;

#ifdef NN_ELEM_F32
#define SGD_OF(kr) ((kr)->sgd_f32)
#define ADAM_OF(kr) ((kr)->adam_f32)
#else
#define SGD_OF(kr) ((kr)->sgd_f64)
#define ADAM_OF(kr) ((kr)->adam_f64)
#endif

/* The steps over elements i0 .. i1-1 (optim_step.h's arithmetic): the copy the GEMM kernel
 * set in use carries (optim_step_avx2.c: the same bits in wider vectors, and why), or this
 * baseline build's; alpha != 0: each gradient with the L2 term (alpha w) / m (inv: 1 / m or
 * 0, NNI_F(l2_inverse)). The public updates and the training step's entry both come here. */
static void sgd_elems(NN_T *w, NN_T *v, const NN_T *g, int64_t i0, int64_t i1, NN_T mu,
                      NN_T eta, int nesterov, NN_T alpha, NN_T m, NN_T inv)
{
    const nni_sgd_step_t fn = SGD_OF(nni_gemm_kernel_get());
    if (fn) fn(w, v, g, i0, i1, mu, eta, nesterov, alpha, m, inv);
    else nni_sgd_step_any(w, v, g, i0, i1, mu, eta, nesterov, alpha, m, inv);
}

static void adam_elems(NN_T *w, NN_T *mo, NN_T *v, const NN_T *g, int64_t i0, int64_t i1,
                       NN_T b1, NN_T c1, NN_T b2, NN_T c2, NN_T step, NN_T eps, NN_T alpha,
                       NN_T m, NN_T inv)
{
    const nni_adam_step_t fn = ADAM_OF(nni_gemm_kernel_get());
    if (fn) fn(w, mo, v, g, i0, i1, b1, c1, b2, c2, step, eps, alpha, m, inv);
    else nni_adam_step_any(w, mo, v, g, i0, i1, b1, c1, b2, c2, step, eps, alpha, m, inv);
}

void NNI_F(l2_add)(NN_T *g, const NN_T *w, int64_t i0, int64_t i1, NN_T alpha, NN_T m,
                   NN_T inv)
{
    nni_l2_add(g, w, i0, i1, alpha, m, inv);
}

/* One optimizer's step of elements i0 .. i1-1 (w, s1, s2, g indexed alike) with constants c
 * (optim_step_consts' order), the elements among them in the L2 range l2_begin .. l2_end-1
 * (alpha != 0) with the L2 term in their gradient: a call for each part. */
typedef struct {
    int optimizer, nesterov;
    NN_T *w, *s1, *s2;
    const NN_T *g;
    const NN_T *c; /* NNI_STEP_CONSTS constants */
    NN_T l2_alpha, l2_m, l2_inv;
    int64_t l2_begin, l2_end;
} step_span;

static void span_part(const step_span *s, int64_t i0, int64_t i1, int l2)
{
    const NN_T alpha = l2 ? s->l2_alpha : (NN_T)0;
    const NN_T *c = s->c;
    if (i0 >= i1) return;
    if (s->optimizer == NN_OPT_SGD)
        sgd_elems(s->w, s->s1, s->g, i0, i1, c[0], c[1], s->nesterov, alpha, s->l2_m,
                  s->l2_inv);
    else
        adam_elems(s->w, s->s1, s->s2, s->g, i0, i1, c[0], c[1], c[2], c[3], c[4], c[5], alpha,
                   s->l2_m, s->l2_inv);
}

static void span_step(const step_span *s, int64_t i0, int64_t i1)
{
    const int64_t lo = i0 > s->l2_begin ? i0 : s->l2_begin;
    const int64_t hi = i1 < s->l2_end ? i1 : s->l2_end;
    if (s->l2_alpha == 0 || lo >= hi) {
        span_part(s, i0, i1, 0);
        return;
    }
    span_part(s, i0, lo, 0);
    span_part(s, lo, hi, 1);
    span_part(s, hi, i1, 0);
}

/* The job's span (its arrays and L2 range) with its constants copied into c. */
static void job_span(const optim_job *j, int optimizer, NN_T c[NNI_STEP_CONSTS], step_span *s)
{
    c[0] = j->a, c[1] = j->b, c[2] = j->c, c[3] = j->d, c[4] = j->e, c[5] = j->eps;
    s->optimizer = optimizer;
    s->nesterov = j->nesterov;
    s->w = j->w, s->s1 = j->s1, s->s2 = j->s2, s->g = j->g;
    s->c = c;
    s->l2_alpha = j->l2_alpha, s->l2_m = j->l2_m, s->l2_inv = j->l2_inv;
    s->l2_begin = j->l2_begin, s->l2_end = j->l2_end;
}

static void sgd_range(const optim_job *j, int64_t i0, int64_t i1)
{
    NN_T c[NNI_STEP_CONSTS];
    step_span s;
    job_span(j, NN_OPT_SGD, c, &s);
    span_step(&s, i0, i1);
}

static void adam_range(const optim_job *j, int64_t i0, int64_t i1)
{
    NN_T c[NNI_STEP_CONSTS];
    step_span s;
    job_span(j, NN_OPT_ADAM, c, &s);
    span_step(&s, i0, i1);
}

/* The chunks claimed in runs from both ends (nni_ends_claim): the caller's thread from the
 * front, the others from the back, each run half of what is left on 2 threads. A training
 * step updates a layer right after the product that wrote its gradient, which split the
 * gradient's rows the same way (gemm_parallel.c): each thread then steps the part of the
 * gradient that sits in its own cache, and a late thread still leaves its share to the other. */
typedef struct {
    const optim_job *j;
    int64_t ends;    /* chunks not yet claimed */
    int64_t threads;
} optim_split;

static int optim_part(void *ctx, int64_t part)
{
    optim_split *s = (optim_split *)ctx;
    const optim_job *j = s->j;
    const int from_back = nni_thread_index() != 0;
    int64_t c0, c1;
    (void)part;
    while (nni_ends_claim(&s->ends, from_back, s->threads, &c0, &c1))
        j->range(j, c0 * OPTIM_CHUNK, c1 * OPTIM_CHUNK < j->count ? c1 * OPTIM_CHUNK : j->count);
    return NN_OK;
}

int NNI_F(optim_step_splits)(int64_t count)
{
    return nni_threads() > 1 && count >= OPTIM_PARALLEL_MIN;
}

/* The chunks of the job over the pool, or the whole vector here when it is short. */
static int optim_run(const optim_job *j)
{
    const int threads = nni_threads();
    optim_split s;
    if (!NNI_F(optim_step_splits)(j->count)) {
        j->range(j, 0, j->count);
        return NN_OK;
    }
    s.j = j;
    s.threads = threads;
    nni_ends_init(&s.ends, (j->count + OPTIM_CHUNK - 1) / OPTIM_CHUNK);
    return nni_parallel_for(threads, threads, optim_part, &s);
}

/* The job of one sgd step: v = mu v - eta g, w += v (nesterov: w += mu v - eta g). */
static void sgd_job(optim_job *j, NN_T *w, NN_T *v, const NN_T *g, int64_t count, double lr,
                    double momentum, int nesterov)
{
    memset(j, 0, sizeof *j);
    j->w = w;
    j->s1 = v;
    j->g = g;
    j->count = count;
    j->a = (NN_T)momentum;
    j->b = (NN_T)lr;
    j->nesterov = nesterov;
    j->range = sgd_range;
}

/* The job of adam's step t: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t) in double (the bias
 * correction), t >= 1. */
static void adam_job(optim_job *j, NN_T *w, NN_T *m, NN_T *v, const NN_T *g, int64_t count,
                     int64_t t, double lr, double beta1, double beta2, double epsilon)
{
    memset(j, 0, sizeof *j);
    j->w = w;
    j->s1 = m;
    j->s2 = v;
    j->g = g;
    j->count = count;
    j->a = (NN_T)beta1;
    j->b = (NN_T)(1.0 - beta1);
    j->c = (NN_T)beta2;
    j->d = (NN_T)(1.0 - beta2);
    j->e = (NN_T)nni_adam_lr(lr, beta1, beta2, t);
    j->eps = (NN_T)epsilon;
    j->range = adam_range;
}

int NN_F(sgd_update)(NN_T *w, NN_T *v, const NN_T *g, int64_t count, double lr, double momentum,
                     int nesterov)
{
    optim_job j;
    if (!w || !v || !g || count <= 0) return NN_EINVAL;
    if (!(lr > 0) || !isfinite(lr) || !(momentum >= 0 && momentum < 1)) return NN_EINVAL;
    if (nesterov != 0 && nesterov != 1) return NN_EINVAL;
    sgd_job(&j, w, v, g, count, lr, momentum, nesterov);
    return optim_run(&j);
}

int NN_F(adam_update)(NN_T *w, NN_T *m, NN_T *v, const NN_T *g, int64_t count, int64_t t,
                      double lr, double beta1, double beta2, double epsilon)
{
    optim_job j;
    if (!w || !m || !v || !g || count <= 0 || t < 1) return NN_EINVAL;
    if (!(lr > 0) || !isfinite(lr) || !(beta1 >= 0 && beta1 < 1) ||
        !(beta2 >= 0 && beta2 < 1) || !(epsilon > 0) || !isfinite(epsilon))
        return NN_EINVAL;
    adam_job(&j, w, m, v, g, count, t, lr, beta1, beta2, epsilon);
    return optim_run(&j);
}

/* A slice of the step: every element's update reads and writes that element only, so
 * stepping the vector slice by slice gives the bits of stepping it whole. The chunks start
 * at the slice (its cut depends on the slice's count alone), which changes nothing either. */
int NNI_F(optim_step_range)(const NNI_F(optim_step) *s, int64_t off, int64_t count)
{
    const nn_fit_config *cfg = s->cfg;
    optim_job j;
    if (count <= 0) return NN_OK;
    if (cfg->optimizer == NN_OPT_SGD) /* state1 NULL: the velocity not kept (momentum 0) */
        sgd_job(&j, s->params + off, s->state1 ? s->state1 + off : NULL, s->grads + off, count,
                cfg->lr, cfg->momentum, cfg->nesterov);
    else
        adam_job(&j, s->params + off, s->state1 + off, s->state2 + off, s->grads + off, count,
                 s->t, cfg->lr, cfg->beta1, cfg->beta2, cfg->epsilon);
    if (s->l2_alpha != 0) { /* the step's L2 range, in the job's own indices */
        j.l2_alpha = s->l2_alpha;
        j.l2_m = s->l2_m;
        j.l2_inv = s->l2_inv;
        j.l2_begin = s->l2_begin - off;
        j.l2_end = s->l2_end - off;
    }
    return optim_run(&j);
}

void NNI_F(optim_step_consts)(const NNI_F(optim_step) *s, NN_T c[NNI_STEP_CONSTS])
{
    const nn_fit_config *cfg = s->cfg;
    optim_job j;
    if (cfg->optimizer == NN_OPT_SGD)
        sgd_job(&j, NULL, NULL, NULL, 0, cfg->lr, cfg->momentum, cfg->nesterov);
    else
        adam_job(&j, NULL, NULL, NULL, NULL, 0, s->t, cfg->lr, cfg->beta1, cfg->beta2,
                 cfg->epsilon);
    c[0] = j.a, c[1] = j.b, c[2] = j.c, c[3] = j.d, c[4] = j.e, c[5] = j.eps;
}

/* The step's span over its own arrays (g: s->grads), constants c. */
static void step_span_of(const NNI_F(optim_step) *s, const NN_T c[NNI_STEP_CONSTS],
                         step_span *sp)
{
    sp->optimizer = s->cfg->optimizer;
    sp->nesterov = s->cfg->nesterov;
    sp->w = s->params, sp->s1 = s->state1, sp->s2 = s->state2, sp->g = s->grads;
    sp->c = c;
    sp->l2_alpha = s->l2_alpha, sp->l2_m = s->l2_m, sp->l2_inv = s->l2_inv;
    sp->l2_begin = s->l2_begin, sp->l2_end = s->l2_end;
}

/* Without the L2 term the steps go straight to the optimizer's loops (called per tile row
 * by the GEMM's tile steps: no span to build). */
static void plain_elems(const NNI_F(optim_step) *s, const NN_T c[NNI_STEP_CONSTS], NN_T *w,
                        NN_T *s1, NN_T *s2, const NN_T *g, int64_t i0, int64_t i1)
{
    if (s->cfg->optimizer == NN_OPT_SGD)
        sgd_elems(w, s1, g, i0, i1, c[0], c[1], s->cfg->nesterov, 0, 0, 0);
    else
        adam_elems(w, s1, s2, g, i0, i1, c[0], c[1], c[2], c[3], c[4], c[5], 0, 0, 0);
}

void NNI_F(optim_step_elems)(const NNI_F(optim_step) *s, const NN_T c[NNI_STEP_CONSTS],
                             int64_t i0, int64_t i1)
{
    step_span sp;
    if (s->l2_alpha == 0) {
        plain_elems(s, c, s->params, s->state1, s->state2, s->grads, i0, i1);
        return;
    }
    step_span_of(s, c, &sp);
    span_step(&sp, i0, i1);
}

/* Each run's span is its elements e .. e+cols-1 with the gradient from g: the arrays and
 * the L2 range shifted by e, so that index 0 is the run's first element. */
void NNI_F(optim_step_rows_from)(const NNI_F(optim_step) *s, const NN_T c[NNI_STEP_CONSTS],
                                 int64_t e, int64_t lde, int64_t rows, int64_t cols,
                                 const NN_T *g, int64_t ldg)
{
    step_span sp, run;
    int64_t r;
    if (s->l2_alpha == 0) {
        for (r = 0; r < rows; r++, e += lde, g += ldg)
            plain_elems(s, c, s->params + e, s->state1 ? s->state1 + e : NULL,
                        s->state2 ? s->state2 + e : NULL, g, 0, cols);
        return;
    }
    step_span_of(s, c, &sp);
    run = sp;
    for (r = 0; r < rows; r++, e += lde, g += ldg) {
        run.w = sp.w + e;
        run.s1 = sp.s1 ? sp.s1 + e : NULL;
        run.s2 = sp.s2 ? sp.s2 + e : NULL;
        run.g = g;
        run.l2_begin = sp.l2_begin - e;
        run.l2_end = sp.l2_end - e;
        span_step(&run, 0, cols);
    }
}
