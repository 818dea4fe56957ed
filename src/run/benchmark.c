#define _GNU_SOURCE /* sched_getaffinity, sched_setaffinity */
#include "run/benchmark.h"

#include <cblas.h>
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/cli.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/stats.h"
#include "model/gsync.h"
#include "model/gpt.h"
#include "model/adamw.h"
#include "model/optim.h"
#include "data/shard.h"
#include "trace/probe.h"
#include "trace/tracer.h"

/* ---- per-kernel timing: a kernels_ops_t whose entries time the fast kernels ---- */
enum { K_ENC, K_LN, K_MATMUL, K_ATT, K_GELU, K_CE, K_N };
static const char *const k_names[K_N] = {"encoder", "layernorm", "matmul", "attention", "gelu", "crossentropy"};
static double k_time[K_N][2]; /* [kernel][0 forward, 1 backward] */

#define TIMED(kind, dir, call)                                                                            \
    do {                                                                                                   \
        double t0_ = clock_seconds();                                                                      \
        call;                                                                                              \
        k_time[kind][dir] += clock_seconds() - t0_;                                                        \
    } while (0)

static void t_enc_f(float *o, const int32_t *i, const float *e, const float *p, int B, int T, int C)
{ TIMED(K_ENC, 0, kernels_fast.encoder_forward(o, i, e, p, B, T, C)); }
static void t_enc_b(float *de, float *dp, const float *d, const int32_t *i, int B, int T, int C)
{ TIMED(K_ENC, 1, kernels_fast.encoder_backward(de, dp, d, i, B, T, C)); }
static void t_ln_f(float *o, float *m, float *r, const float *x, const float *w, const float *b, int N, int C)
{ TIMED(K_LN, 0, kernels_fast.layernorm_forward(o, m, r, x, w, b, N, C)); }
static void t_ln_b(float *dx, float *dw, float *db, const float *d, const float *x, const float *w, const float *m,
                   const float *r, int N, int C)
{ TIMED(K_LN, 1, kernels_fast.layernorm_backward(dx, dw, db, d, x, w, m, r, N, C)); }
static void t_mm_f(float *o, const float *x, const float *w, const float *b, int N, int C, int OC, int acc)
{ TIMED(K_MATMUL, 0, kernels_fast.matmul_forward(o, x, w, b, N, C, OC, acc)); }
static void t_mm_b(float *dx, float *dw, float *db, const float *d, const float *x, const float *w, int N, int C, int OC)
{ TIMED(K_MATMUL, 1, kernels_fast.matmul_backward(dx, dw, db, d, x, w, N, C, OC)); }
static void t_att_f(float *o, float *a, const float *q, int B, int T, int C, int NH)
{ TIMED(K_ATT, 0, kernels_fast.attention_forward(o, a, q, B, T, C, NH)); }
static void t_att_b(float *dq, float *s, const float *d, const float *q, const float *a, int B, int T, int C, int NH)
{ TIMED(K_ATT, 1, kernels_fast.attention_backward(dq, s, d, q, a, B, T, C, NH)); }
static void t_gelu_f(float *o, const float *x, size_t n) { TIMED(K_GELU, 0, kernels_fast.gelu_forward(o, x, n)); }
static void t_gelu_b(float *dx, const float *x, const float *d, size_t n)
{ TIMED(K_GELU, 1, kernels_fast.gelu_backward(dx, x, d, n)); }
static void t_ce_f(float *p, float *l, const int32_t *t, int N, int V)
{ TIMED(K_CE, 0, kernels_fast.crossentropy_forward(p, l, t, N, V)); }
static void t_ce_b(float *p, const int32_t *t, float d, int N, int V)
{ TIMED(K_CE, 1, kernels_fast.crossentropy_backward(p, t, d, N, V)); }

static const kernels_ops_t kern_timed = {"timed", t_enc_f, t_enc_b, t_ln_f, t_ln_b, t_mm_f, t_mm_b,
                                      t_att_f, t_att_b, t_gelu_f, t_gelu_b, t_ce_f, t_ce_b};

double benchmark_sgemm_gflops(int n, int reps)
{
    float *a = err_calloc((size_t)n * n, sizeof *a), *b = err_calloc((size_t)n * n, sizeof *b),
          *c = err_calloc((size_t)n * n, sizeof *c);
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 13) * 0.01f;
    double t[16];
    for (int r = 0; r < reps; r++) {
        double t0 = clock_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t[r] = clock_seconds() - t0;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n / stats_median(t, reps) / 1e9;
}

/* A model, its optimizer and a fixed random batch: what every benchmark below trains. */
typedef struct {
    gpt_t m;
    adamw_t opt;
    int32_t *x; /* (B*T + 1) tokens: inputs x[0..], targets x[1..] */
    int B, T;
} bench_run_t;

static void run_create(bench_run_t *r, const benchmark_cfg_t *bc, const kernels_ops_t *k)
{
    gpt_create(&r->m, &bc->d, bc->B, k);
    rng_t rng;
    rng_seed(&rng, 1);
    gpt_init_params(&r->m, &rng);
    adamw_create(&r->opt, r->m.n_params);
    r->B = bc->B;
    r->T = bc->d.T;
    r->x = err_calloc((size_t)r->B * r->T + 1, sizeof *r->x);
    for (int i = 0; i <= r->B * r->T; i++) r->x[i] = (int32_t)(rng_u64(&rng) % (uint64_t)bc->d.V);
}

static void run_destroy(bench_run_t *r)
{
    free(r->x);
    adamw_destroy(&r->opt);
    gpt_destroy(&r->m);
}

/* `accum` forwards and backwards of the batch, as il-train accumulates them (with the gradient reduction
 * during the last when sync is given); returns the seconds of the optimizer update that follows, which the
 * kernel breakdown reports on its own. */
static double run_step(bench_run_t *r, gsync_t *sync, float loss_scale, int accum)
{
    static const adamw_hparams_t h = {0.9f, 0.95f, 1e-8f, 0.1f};
    gpt_zero_grad(&r->m);
    for (int a = 0; a < accum; a++) {
        gpt_forward(&r->m, r->x, r->x + 1, r->B, r->T);
        if (sync && a == accum - 1) gsync_arm(sync, &r->m);
        gpt_backward(&r->m, loss_scale / (float)accum);
    }
    if (sync) gsync_finish(sync, &r->m);
    double t0 = clock_seconds();
    float scale = optim_clip_scale(optim_norm(r->m.grads, r->m.n_params), 1.0f);
    adamw_step(&r->opt, r->m.params, r->m.grads, scale, r->m.tensors, r->m.n_tensors, 1e-4f, &h);
    return clock_seconds() - t0;
}

/* A probe shard of random tokens in 15 genres of equal length, as the validation split of the Brown Corpus
 * has, and its unigram counts (V entries, for the frequency buckets and H4). */
static uint64_t *probe_shard(shard_t *s, int V, uint64_t n)
{
    enum { GENRES = 15 };
    memset(s, 0, sizeof *s);
    s->vocab_size = (uint32_t)V, s->n_tokens = n, s->n_docs = GENRES, s->n_cats = GENRES;
    s->tokens = err_calloc(n, sizeof *s->tokens);
    s->docs = err_calloc(GENRES, sizeof *s->docs);
    s->cats = err_calloc(GENRES, sizeof *s->cats);
    uint64_t *counts = err_calloc((size_t)V, sizeof *counts);
    rng_t g;
    rng_seed(&g, 7);
    for (uint64_t i = 0; i < n; i++) {
        /* a skewed draw (the smaller of two), so that the frequency buckets differ as a corpus's do */
        uint64_t a = rng_u64(&g) % (uint64_t)V, b = rng_u64(&g) % (uint64_t)V;
        s->tokens[i] = (uint16_t)(a < b ? a : b);
        counts[s->tokens[i]]++;
    }
    for (uint32_t c = 0; c < GENRES; c++) {
        s->docs[c] = (shard_doc_t){c * (n / GENRES), c + 1 < GENRES ? n / GENRES : n - c * (n / GENRES), c};
        snprintf(s->cats[c], SHARD_CAT_LEN, "genre%02u", c);
    }
    return counts;
}

/* Config c's probe set (trace.probe_windows windows in trace.probe_groups groups) over a synthetic probe
 * shard, on one rank, with the signals and the spectrum it measures for model m: what the trainer's tracer
 * and il-probe hold. */
typedef struct {
    shard_t shard;
    probe_t probe;
    signals_t sig;
    spectrum_t sp;
    int spectrum_on;
} bench_probe_t;

static void bench_probe_create(bench_probe_t *p, const config_t *c, const gpt_t *m)
{
    uint64_t *counts = probe_shard(&p->shard, m->d.V, 400000);
    CHECK(probe_select(&p->probe, &p->shard, c->trace_probe_windows, c->trace_probe_groups, c->seed, 0, 1, m->d.T) == 0,
          "%s", err_msg());
    signals_opts_t opt = {c->trace_lens, c->trace_local, c->trace_lens_stride, c->trace_n_sv};
    signals_share_t share = {p->probe.n_slots, p->probe.n_genre, (int)p->probe.n * m->d.T};
    signals_create(&p->sig, &m->d, m->B, counts, &opt, &share);
    signals_count(&p->sig, p->probe.inputs, p->probe.cats, p->probe.n);
    free(counts);
    p->spectrum_on = strcmp(c->trace_spectrum, "off") != 0;
    if (p->spectrum_on)
        spectrum_create(&p->sp, MPI_COMM_WORLD, m->d.C, share.rows, c->trace_n_sv,
                        strcmp(c->trace_spectrum, "gram") ? SPECTRUM_SCALAPACK : SPECTRUM_GRAM);
}

/* One probe pass over the set (full: with S9, H4 and the genres). */
static void bench_probe_pass(bench_probe_t *p, gpt_t *m, int full)
{
    tracer_measure(&p->probe, &p->sig, p->spectrum_on ? &p->sp : NULL, MPI_COMM_WORLD, m, full);
}

static void bench_probe_destroy(bench_probe_t *p)
{
    if (p->spectrum_on) spectrum_destroy(&p->sp);
    signals_destroy(&p->sig);
    probe_free(&p->probe);
    shard_free(&p->shard);
}

void benchmark_model(const benchmark_cfg_t *bc, int steps, double sgemm, int probe_pass, int windows)
{
    bench_run_t r;
    run_create(&r, bc, &kern_timed);
    double *t = err_calloc((size_t)steps, sizeof *t), opt_time = 0, total = 0;
    for (int s = -2; s < steps; s++) { /* two warm-up steps */
        if (s == 0) memset(k_time, 0, sizeof k_time);
        double t0 = clock_seconds(), opt = run_step(&r, NULL, 1.0f, 1);
        if (s >= 0) {
            total += t[s] = clock_seconds() - t0;
            opt_time += opt;
        }
    }
    int N = r.B * r.T;
    double med = stats_median(t, steps), flops = gpt_flops_per_token(&bc->d, r.T) * N;
    printf("config %s: V=%d T=%d L=%d NH=%d C=%d B=%d, %zu params, %.2f GFLOP/step, threads %d\n", bc->name,
           bc->d.V, r.T, bc->d.L, bc->d.NH, bc->d.C, r.B, r.m.n_params, flops / 1e9, omp_get_max_threads());
    double params, acts;
    gpt_memory(&bc->d, r.B, &params, &acts);
    printf("  memory estimate: %.2f GB (parameters and gradients %.2f, AdamW %.2f, activations %.2f)\n",
           (2 * params + acts) / 1e9, params / 1e9, params / 1e9, acts / 1e9);
    printf("  median of %d steps: %.2f ms/step, %.0f tokens/s, %.1f GFLOP/s = %.2f x SGEMM\n", steps, med * 1e3,
           N / med, flops / med / 1e9, flops / med / 1e9 / sgemm);
    printf("  where the time goes (share of all steps):");
    for (int k = 0; k < K_N; k++)
        printf(" %s %.1f%%/%.1f%%", k_names[k], 100 * k_time[k][0] / total, 100 * k_time[k][1] / total);
    printf(" (fwd/bwd), optimizer %.1f%%\n", 100 * opt_time / total);
    if (probe_pass) {
        /* what il-probe does to each checkpoint (tracer_trace less the write), timed once: one pass is many
         * steps' work */
        config_t cfg;
        config_defaults(&cfg);
        int full = cfg.trace_probe_windows;
        if (windows) {
            cfg.trace_probe_windows = windows;
            if (cfg.trace_probe_groups > windows) cfg.trace_probe_groups = windows;
        }
        bench_probe_t bp;
        bench_probe_create(&bp, &cfg, &r.m);
        double t0 = clock_seconds();
        bench_probe_pass(&bp, &r.m, 1);
        double pass = clock_seconds() - t0;
        printf("  probe pass (il-probe's, per checkpoint): S1-S9 with the logit lens over %d windows (%d tokens) in "
               "%d groups, %d window%s a pass: %.2f s on 1 rank = %.1f steps; ranks share its windows\n",
               cfg.trace_probe_windows, (int)bp.probe.n * r.T, cfg.trace_probe_groups, r.B, r.B == 1 ? "" : "s", pass,
               pass / med);
        /* every window costs the same forward, backward and lens: the pass is linear in them */
        if (cfg.trace_probe_windows != full)
            printf("  the default probe set of %d windows, scaled from %d: about %.2f s on 1 rank = %.0f steps\n", full,
                   cfg.trace_probe_windows, pass * full / cfg.trace_probe_windows,
                   pass * full / cfg.trace_probe_windows / med);
        bench_probe_destroy(&bp);
    }
    free(t);
    run_destroy(&r);
}

/* ---- data-parallel scaling: ranks x threads layouts of one node, in one launch ---- */

/* Every rank waits here for the others without spinning, so an idle rank takes no core from measured ones. */
static void idle_barrier(void)
{
    MPI_Request req;
    int done = 0;
    CHECK_RC(MPI_Ibarrier(MPI_COMM_WORLD, &req), dist_strerror);
    while (!done) {
        CHECK_RC(MPI_Test(&req, &done, MPI_STATUS_IGNORE), dist_strerror);
        if (!done) usleep(1000);
    }
}

typedef struct {
    double tokens_per_s, wait_share;
    /* on the overlapped result: overlapped against blocking tokens/s, the median of the step pairs' ratios
     * with its 95% interval, and how many pairs; bound: every rank of the layout ran on cores of its own;
     * after_backward: rank 0's overlapped mode made the blocking call (gsync_t) */
    double ratio, ratio_lo, ratio_hi;
    int pairs, bound, after_backward;
} dp_result_t;

/* Every thread of this process (OpenMP's, the communication thread, MPI's) onto `set`, which replaces any
 * binding of single threads (OMP_PROC_BIND) for the rest of the run; returns 1 when the calling thread's
 * own mask is now `set`. */
static int bind_threads(const cpu_set_t *set)
{
    DIR *dir = opendir("/proc/self/task");
    CHECK(dir, "cannot list /proc/self/task to bind threads");
    for (struct dirent *e; (e = readdir(dir));)
        if (e->d_name[0] != '.') (void)sched_setaffinity((pid_t)atoi(e->d_name), sizeof *set, set);
    closedir(dir);
    cpu_set_t now;
    return sched_getaffinity(0, sizeof now, &now) == 0 && CPU_EQUAL(&now, set);
}

/* Binds this rank, one of a layout's ranks in `comm`, to `threads` cores of its own, as the launch that
 * asks for the layout does (srun --cpus-per-task with --cpu-bind=cores, mpirun --map-by slot:PE=T): the
 * k-th rank on the node takes the k-th `threads` cores of the cores it may run on. Unbound, the scheduler
 * moves a rank's threads across cores and away from their caches; measured on 2 cores, that cost the
 * overlapped steps (4 threads on 2 cores) more than the blocking ones. Returns 1 when every rank of the
 * layout runs on cores of its own, bound here or by the launcher. */
static int bind_layout(MPI_Comm comm, int threads, const cpu_set_t *all)
{
    MPI_Comm node;
    int local, bound;
    CHECK_RC(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), dist_strerror);
    CHECK_RC(MPI_Comm_rank(node, &local), dist_strerror);
    int have = CPU_COUNT(all), mine = have == threads; /* already bound to exactly its own cores */
    if (!mine && have >= (local + 1) * threads) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int cpu = 0, k = 0; cpu < CPU_SETSIZE && k < (local + 1) * threads; cpu++)
            if (CPU_ISSET(cpu, all) && k++ >= local * threads) CPU_SET(cpu, &set);
        mine = bind_threads(&set);
    }
    CHECK_RC(MPI_Allreduce(&mine, &bound, 1, MPI_INT, MPI_MIN, comm), dist_strerror);
    CHECK_RC(MPI_Comm_free(&node), dist_strerror);
    return bound;
}

/* `ranks` ranks (a prefix of the world) of `threads` threads each, bound to cores of their own, train
 * data-parallel with per-rank batch B; the others wait in idle_barrier. out[1]: the blocking reduction (or
 * none, on one rank); out[0]: the overlapped one, NaN tokens/s on one rank or where MPI gives no thread for
 * it. With both, the steps alternate between the two modes, so that both meet the same drift of the
 * machine (clock, other processes), in gsync_overlap_turn's order so that neither pays for coming first;
 * the k-th step of each mode make a pair. `all`: the cores this rank was started on. */
static void bench_dp(const benchmark_cfg_t *bc, int steps, int ranks, int threads, const dist_t *d,
                     const cpu_set_t *all, dp_result_t out[2])
{
    dp_result_t r[2] = {0};
    r[0].tokens_per_s = NAN;
    MPI_Comm comm;
    CHECK_RC(MPI_Comm_split(MPI_COMM_WORLD, d->rank < ranks, d->rank, &comm), dist_strerror);
    if (d->rank < ranks) {
        int bound = bind_layout(comm, threads, all);
        omp_set_num_threads(threads);
        bench_run_t run;
        run_create(&run, bc, &kernels_fast);
        gsync_t sync;
        config_t cfg; /* the trainer's default buckets */
        config_defaults(&cfg);
        gsync_init(&sync, &run.m, (size_t)cfg.bucket_kb << 10, comm, ranks > 1);
        int modes = sync.threaded ? 2 : 1, n[2] = {0, 0};
        double *t = err_calloc(3 * (size_t)steps, sizeof *t), wait[2] = {0, 0}, total[2] = {0, 0};
        for (int s = -2 * modes; s < steps * modes; s++) { /* two warm-up steps of each mode */
            int m = modes == 2 ? !gsync_overlap_turn(s + 2 * modes) : 1;
            sync.overlap = m == 0;
            double w0 = sync.wait_s, t0 = clock_seconds();
            run_step(&run, ranks > 1 ? &sync : NULL, 1.0f / (float)ranks, 1);
            double dt = clock_seconds() - t0;
            if (s < 0) continue;
            t[(size_t)m * steps + n[m]++] = dt;
            total[m] += dt;
            wait[m] += sync.wait_s - w0;
        }
        double *ratio = t + 2 * (size_t)steps;
        if (modes == 2) {
            for (int i = 0; i < steps; i++) ratio[i] = t[steps + i] / t[i]; /* tokens/s: time blocking / overlapped */
            r[0].pairs = stats_median_ci(ratio, steps, &r[0].ratio, &r[0].ratio_lo, &r[0].ratio_hi);
        }
        for (int m = 2 - modes; m < 2; m++) {
            r[m].tokens_per_s = (double)ranks * run.B * run.T / stats_median(t + (size_t)m * steps, n[m]);
            r[m].wait_share = wait[m] / total[m];
            r[m].bound = bound;
            r[m].after_backward = sync.after_backward;
        }
        free(t);
        gsync_free(&sync);
        run_destroy(&run);
        if (CPU_COUNT(all)) bind_threads(all);
    }
    idle_barrier();
    CHECK_RC(MPI_Comm_free(&comm), dist_strerror);
    CHECK_RC(MPI_Bcast(r, (int)sizeof r, MPI_BYTE, 0, MPI_COMM_WORLD), dist_strerror);
    out[0] = r[0];
    out[1] = r[1];
}

/* Rank 0's SGEMM rate on `threads` threads while the other ranks wait; every rank gets it. */
static double sgemm_on(int threads, int reps, const dist_t *d)
{
    double g = 0;
    if (d->rank == 0) {
        omp_set_num_threads(threads);
        g = benchmark_sgemm_gflops(2048, reps);
    }
    idle_barrier();
    CHECK_RC(MPI_Bcast(&g, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), dist_strerror);
    return g;
}

int benchmark_node_cores(void)
{
    const char *slurm = getenv("SLURM_CPUS_ON_NODE");
    if (slurm && atoi(slurm) > 0) return atoi(slurm);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The fewest cores any rank may run on (its affinity mask): a launcher that binds each rank to one core
 * makes every layout of several threads per rank a measure of oversubscription. */
static int min_affinity(cpu_set_t *set)
{
    int mine = 1 << 20, least;
    if (sched_getaffinity(0, sizeof *set, set) == 0) mine = CPU_COUNT(set);
    else CPU_ZERO(set); /* more CPUs than a cpu_set_t holds: no layout is bound */
    CHECK_RC(MPI_Allreduce(&mine, &least, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), dist_strerror);
    return least;
}

typedef struct {
    int ranks, threads, overlap;
    dp_result_t r;
    double sgemm; /* GFLOP/s of SGEMM on `threads` threads */
} layout_t;

void benchmark_scaling(const benchmark_cfg_t *bc, int steps, int cores, const dist_t *d)
{
    cpu_set_t all;
    int top = cores < d->size ? cores : d->size, pinned = min_affinity(&all), reps = steps < 5 ? steps : 5;
    double flops = gpt_flops_per_token(&bc->d, bc->d.T);
    /* the reference first: 1 rank x 1 thread, with SGEMM on 1 thread */
    double sgemm1 = sgemm_on(1, reps, d);
    dp_result_t one[2];
    bench_dp(bc, steps, 1, 1, d, &all, one);
    layout_t rows[2 * 31];
    int n = 0;
    for (int P = 1; P <= top; P *= 2) {
        int t = cores / P;
        double g = t == 1 ? sgemm1 : sgemm_on(t, reps, d);
        dp_result_t r[2];
        bench_dp(bc, steps, P, t, d, &all, r);
        for (int ov = 1; ov >= 0; ov--) /* overlapped, then blocking; one rank reduces nothing */
            if (isfinite(r[!ov].tokens_per_s)) rows[n++] = (layout_t){P, t, ov, r[!ov], g};
    }
    if (d->rank) return;
    printf("ranks x threads on a node of %d cores, config %s, median of %d steps each (the two reductions' steps alternating), micro-batch %d per rank; "
           "each rank bound to cores of its own; SGEMM 2048^3 on rank 0 alone, per thread count:\n", cores, bc->name,
           steps, bc->B);
    if (pinned < cores)
        printf("  warning: a rank may run on only %d core%s: layouts of more threads per rank oversubscribe them; "
               "launch with mpirun --bind-to none, or srun --cpus-per-task\n", pinned, pinned == 1 ? "" : "s");
    if (top < cores && d->size < cores)
        printf("  note: the world has %d ranks, so layouts of more ranks are left out: launch %d ranks for all\n",
               d->size, cores);
    printf("| ranks x threads | all-reduce | tokens/s | against 1 x 1 | against SGEMM | waiting |\n"
           "|---|---|---|---|---|---|\n");
    printf("| 1 x 1 | - | %.0f | 1.00x | %.2fx SGEMM(1 thread) | - |\n", one[1].tokens_per_s,
           one[1].tokens_per_s * flops / 1e9 / sgemm1);
    int best = 0;
    for (int i = 0; i < n; i++) {
        printf("| %d x %d | %s | %.0f | %.2fx | %.2fx SGEMM(%d thread%s) | ", rows[i].ranks, rows[i].threads,
               rows[i].ranks == 1              ? "-"
               : !rows[i].overlap              ? "blocking"
               : rows[i].r.after_backward      ? "overlap (after backward)"
                                               : "overlap",
               rows[i].r.tokens_per_s,
               rows[i].r.tokens_per_s / one[1].tokens_per_s,
               rows[i].r.tokens_per_s * flops / rows[i].ranks / 1e9 / rows[i].sgemm, rows[i].threads,
               rows[i].threads == 1 ? "" : "s");
        if (rows[i].ranks == 1) printf("- |\n");
        else printf("%.1f%% |\n", 100 * rows[i].r.wait_share);
        if (rows[i].r.tokens_per_s > rows[best].r.tokens_per_s) best = i;
    }
    for (int i = 0; i < n; i++) {
        if (!rows[i].r.bound && !rows[i].overlap) /* once a layout: its blocking row, or its only one */
            printf("  note: %d x %d: ranks share cores (they may run on too few to have %d each)\n", rows[i].ranks,
                   rows[i].threads, rows[i].threads);
        if (rows[i].ranks > 1 && rows[i].overlap) {
            printf("overlap / blocking tokens/s, %d x %d: %.3f, the median of %d step pairs", rows[i].ranks,
                   rows[i].threads, rows[i].r.ratio, rows[i].r.pairs);
            if (isfinite(rows[i].r.ratio_lo))
                printf(" (95%% interval %.3f-%.3f)\n", rows[i].r.ratio_lo, rows[i].r.ratio_hi);
            else
                printf(" (an interval needs 6 steps)\n");
        }
    }
    int P = rows[best].ranks, t = rows[best].threads;
    printf("would pick: %d rank%s x %d thread%s%s%s, %.2fx 1 x 1; with Slurm: sbatch --nodes=1 --ntasks-per-node=%d "
           "--cpus-per-task=%d, srun --cpu-bind=cores, OMP_NUM_THREADS=%d\n", P, P == 1 ? "" : "s", t, t == 1 ? "" : "s",
           P > 1 ? ", train.allreduce = " : "", P > 1 ? (rows[best].overlap ? "overlap" : "blocking") : "",
           rows[best].r.tokens_per_s / one[1].tokens_per_s, P, t, t);
}

/* ---- tracing: a traced run against an untraced one, and the trace file's size ---- */

/* What the trainer's tracer holds for one rank tracing the whole probe set, and its trace file. */
typedef struct {
    bench_probe_t p;
    tracewrite_t file;
    char dir[64];
} bench_trace_t;

static void bench_trace_open(bench_trace_t *b, const config_t *c, const gpt_t *m, const char *command)
{
    bench_probe_create(&b->p, c, m);
    snprintf(b->dir, sizeof b->dir, "/tmp/il-bench-trace-XXXXXX");
    CHECK(mkdtemp(b->dir), "mkdtemp failed");
    char *text = config_string(c);
    tracewrite_meta_t meta = {.dir = b->dir, .sync_every = c->trace_sync_every, .world_size = 1,
                              .interval = c->trace_interval, .log_spaced = c->trace_log_spaced,
                              .full_every = c->trace_full_every, .run_name = c->name, .seed = c->seed,
                              .config_text = text, .command = command, .probe_path = "synthetic"};
    tracer_params(meta.param, c, &m->d, 1, TRACE_TOK_UNKNOWN);
    CHECK(tracewrite_open(&b->file, &meta, &b->p.sig, &b->p.probe) == 0, "%s", err_msg());
    free(text);
}

/* Seconds of one trace step as the trainer takes it: the probe pass (full or not) and its record. */
static double bench_trace_step(bench_trace_t *b, gpt_t *m, int64_t step, int full)
{
    double t0 = clock_seconds();
    bench_probe_pass(&b->p, m, full);
    tracewrite_rec_t rec = {step, 1, 1e-3, 1, 1, 1, NAN, !full};
    CHECK(tracewrite_record(&b->file, &rec, &b->p.sig) == 0, "%s", err_msg());
    return clock_seconds() - t0;
}

/* Closes the file; returns its size in bytes, then removes it. */
static double bench_trace_close(bench_trace_t *b)
{
    CHECK(tracewrite_close(&b->file) == 0, "%s", err_msg());
    char path[128];
    snprintf(path, sizeof path, "%s/rank0000.seg0000.nc", b->dir);
    struct stat st;
    CHECK(stat(path, &st) == 0, "%s: cannot stat", path);
    unlink(path);
    rmdir(b->dir);
    bench_probe_destroy(&b->p);
    return (double)st.st_size;
}

void benchmark_trace_cost(const config_t *c, const char *label, int steps, int rounds, const char *command)
{
    CHECK(c->vocab_size > 0 && c->trace_interval > 0 && rounds >= 1 && rounds <= 16,
          "benchmark_trace_cost: vocabulary %d, trace.interval %d, %d rounds", c->vocab_size, c->trace_interval, rounds);
    int threads = omp_get_max_threads(), accum = c->global_batch / c->micro_batch;
    if (c->threads > 0) omp_set_num_threads(c->threads);
    benchmark_cfg_t bc = {label, {c->vocab_size, c->seq_len, c->n_layer, c->n_head, c->d_model}, c->micro_batch};
    bench_run_t r;
    run_create(&r, &bc, &kernels_fast);
    bench_trace_t b;
    bench_trace_open(&b, c, &r.m, command);
    /* the run's schedule: which of its trace steps are full */
    int64_t n_full = 0, n_thin = 0, ordinal = 0;
    for (int64_t s = 0; s <= c->max_steps; s++)
        if (tracer_due(s, c->max_steps, c->trace_interval, c->trace_log_spaced))
            *(tracer_full(ordinal++, s, c->max_steps, c->trace_full_every) ? &n_full : &n_thin) += 1;
    printf("trace cost, %s: V=%d T=%d L=%d NH=%d C=%d, global batch %d on one rank (%d x micro-batch %d), threads %d\n",
           label, bc.d.V, bc.d.T, bc.d.L, bc.d.NH, bc.d.C, c->global_batch, accum, c->micro_batch, omp_get_max_threads());
    printf("  schedule: %d steps, trace.interval %d, trace.log_spaced %d, trace.full_every %d: %lld trace steps, %lld "
           "full, %lld without S9, H4 and the genres; probe set of %d windows in %d groups, S9 by %s\n", c->max_steps,
           c->trace_interval, c->trace_log_spaced, c->trace_full_every, (long long)(n_full + n_thin),
           (long long)n_full, (long long)n_thin, c->trace_probe_windows, c->trace_probe_groups, c->trace_spectrum);
    /* each round times `steps` ordinary steps of the untraced run, then a full and a thin trace step, so
     * that a round is one estimate of the traced run against the untraced one under the same load; the
     * first round warms up and is not counted */
    double *t = err_calloc((size_t)steps, sizeof *t), step[16], full[16], thin[16], share[16], all_full[16];
    for (int k = -1; k < rounds; k++) {
        for (int i = 0; i < steps; i++) {
            double t0 = clock_seconds();
            run_step(&r, NULL, 1.0f, accum);
            t[i] = clock_seconds() - t0;
        }
        double ts = stats_median(t, steps), tf = bench_trace_step(&b, &r.m, 2 * k + 2, 1),
               tt = bench_trace_step(&b, &r.m, 2 * k + 3, 0);
        if (k < 0) continue;
        step[k] = ts, full[k] = tf, thin[k] = tt;
        share[k] = (n_full * tf + n_thin * tt) / (c->max_steps * ts);
        all_full[k] = (n_full + n_thin) * tf / (c->max_steps * ts);
    }
    double ts = stats_median(step, rounds), tf = stats_median(full, rounds), tt = stats_median(thin, rounds);
    printf("  median of %d rounds: an ordinary step %.1f ms (median of %d), a full trace step %.1f ms = %.2f steps, "
           "one without S9, H4 and the genres %.1f ms = %.2f steps\n", rounds, ts * 1e3, steps, tf * 1e3, tf / ts,
           tt * 1e3, tt / ts);
    printf("  per round, the traced run's time over the untraced run's, less 1:");
    for (int k = 0; k < rounds; k++) printf(" %.2f%%", 100 * share[k]);
    double sh = stats_median(share, rounds);
    printf("\n  tracing costs %.2f%% of training time (the traced run takes %.4f x the untraced one); %.2f%% were every "
           "trace step full\n", 100 * sh, 1 + sh, 100 * stats_median(all_full, rounds));
    /* size: the records of the run's schedule, at most 200 of them, extrapolated */
    (void)bench_trace_close(&b);
    bench_trace_open(&b, c, &r.m, command);
    int64_t n = 0, shown = 0;
    for (int64_t s = 0; s <= c->max_steps && shown < 200; s++)
        if (tracer_due(s, c->max_steps, c->trace_interval, c->trace_log_spaced)) {
            int is_full = tracer_full(n++, s, c->max_steps, c->trace_full_every);
            tracewrite_rec_t rec = {s, 1, 1e-3, 1, 1, 1, NAN, !is_full};
            CHECK(tracewrite_record(&b.file, &rec, &b.p.sig) == 0, "%s", err_msg());
            shown++;
        }
    double bytes = bench_trace_close(&b);
    printf("  trace file per rank: %lld records, %.2f MB%s\n", (long long)(n_full + n_thin),
           bytes * (double)(n_full + n_thin) / (double)shown / 1e6, shown < n_full + n_thin ? " (extrapolated from 200)" : "");
    free(t);
    run_destroy(&r);
    omp_set_num_threads(threads);
}
