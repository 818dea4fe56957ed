#define _GNU_SOURCE /* sched_getaffinity */
#include "run/benchmark.h"

#include <cblas.h>
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
#include "model/gsync.h"
#include "model/gpt.h"
#include "model/adamw.h"
#include "model/optim.h"
#include "data/shard.h"
#include "trace/probe.h"
#include "trace/tracer.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

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
    return 2.0 * n * n * (double)n / median(t, reps) / 1e9;
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

/* Forward and backward (with the gradient reduction when sync is given); returns the seconds of the
 * optimizer update that follows, which the kernel breakdown reports on its own. */
static double run_step(bench_run_t *r, gsync_t *sync, float loss_scale)
{
    static const adamw_hparams_t h = {0.9f, 0.95f, 1e-8f, 0.1f};
    gpt_forward(&r->m, r->x, r->x + 1, r->B, r->T);
    gpt_zero_grad(&r->m);
    if (sync) gsync_arm(sync, &r->m);
    gpt_backward(&r->m, loss_scale);
    if (sync) gsync_finish(sync, &r->m);
    double t0 = clock_seconds();
    float scale = optim_clip_scale(optim_norm(r->m.grads, r->m.n_params), 1.0f);
    adamw_step(&r->opt, r->m.params, r->m.grads, scale, r->m.tensors, r->m.n_tensors, 1e-4f, &h);
    return clock_seconds() - t0;
}

void benchmark_model(const benchmark_cfg_t *bc, int steps, double sgemm)
{
    bench_run_t r;
    run_create(&r, bc, &kern_timed);
    double *t = err_calloc((size_t)steps, sizeof *t), opt_time = 0, total = 0;
    for (int s = -2; s < steps; s++) { /* two warm-up steps */
        if (s == 0) memset(k_time, 0, sizeof k_time);
        double t0 = clock_seconds(), opt = run_step(&r, NULL, 1.0f);
        if (s >= 0) {
            total += t[s] = clock_seconds() - t0;
            opt_time += opt;
        }
    }
    int N = r.B * r.T;
    double med = median(t, steps), flops = gpt_flops_per_token(&bc->d, r.T) * N;
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
} dp_result_t;

/* `ranks` ranks (a prefix of the world) of `threads` threads each train data-parallel with per-rank batch
 * B, the gradient reduction overlapped or not; the others wait in idle_barrier. */
static dp_result_t bench_dp(const benchmark_cfg_t *bc, int steps, int ranks, int threads, int overlap, const dist_t *d)
{
    dp_result_t r = {0, 0};
    MPI_Comm comm;
    CHECK_RC(MPI_Comm_split(MPI_COMM_WORLD, d->rank < ranks, d->rank, &comm), dist_strerror);
    if (d->rank < ranks) {
        omp_set_num_threads(threads);
        bench_run_t run;
        run_create(&run, bc, &kernels_fast);
        gsync_t sync;
        config_t cfg; /* the trainer's default buckets */
        config_defaults(&cfg);
        gsync_init(&sync, &run.m, (size_t)cfg.bucket_kb << 10, comm, overlap);
        double *t = err_calloc((size_t)steps, sizeof *t), wait0 = 0, total = 0;
        for (int s = -2; s < steps; s++) {
            if (s == 0) wait0 = sync.wait_s;
            double t0 = clock_seconds();
            run_step(&run, ranks > 1 ? &sync : NULL, 1.0f / (float)ranks);
            if (s >= 0) total += t[s] = clock_seconds() - t0;
        }
        r.tokens_per_s = (double)ranks * run.B * run.T / median(t, steps);
        r.wait_share = (sync.wait_s - wait0) / total;
        free(t);
        gsync_free(&sync);
        run_destroy(&run);
    }
    idle_barrier();
    CHECK_RC(MPI_Comm_free(&comm), dist_strerror);
    CHECK_RC(MPI_Bcast(&r, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD), dist_strerror);
    return r;
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
static int min_affinity(void)
{
    cpu_set_t set;
    int mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1 << 20, least;
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
    int top = cores < d->size ? cores : d->size, pinned = min_affinity(), reps = steps < 5 ? steps : 5;
    double flops = gpt_flops_per_token(&bc->d, bc->d.T);
    /* the reference first: 1 rank x 1 thread, with SGEMM on 1 thread */
    double sgemm1 = sgemm_on(1, reps, d);
    dp_result_t one = bench_dp(bc, steps, 1, 1, 0, d);
    layout_t rows[2 * 31];
    int n = 0;
    for (int P = 1; P <= top; P *= 2) {
        int t = cores / P;
        double g = t == 1 ? sgemm1 : sgemm_on(t, reps, d);
        for (int ov = P > 1; ov >= 0; ov--) /* overlapped, then blocking; one rank reduces nothing */
            rows[n++] = (layout_t){P, t, ov, bench_dp(bc, steps, P, t, ov, d), g};
    }
    if (d->rank) return;
    printf("ranks x threads on a node of %d cores, config %s, median of %d steps each, micro-batch %d per rank; "
           "SGEMM 2048^3 on rank 0 alone, per thread count:\n", cores, bc->name, steps, bc->B);
    if (pinned < cores)
        printf("  warning: a rank may run on only %d core%s: layouts of more threads per rank oversubscribe them; "
               "launch with mpirun --bind-to none, or srun --cpus-per-task\n", pinned, pinned == 1 ? "" : "s");
    if (top < cores && d->size < cores)
        printf("  note: the world has %d ranks, so layouts of more ranks are left out: launch %d ranks for all\n",
               d->size, cores);
    printf("| ranks x threads | all-reduce | tokens/s | against 1 x 1 | against SGEMM | waiting |\n"
           "|---|---|---|---|---|---|\n");
    printf("| 1 x 1 | - | %.0f | 1.00x | %.2fx SGEMM(1 thread) | - |\n", one.tokens_per_s,
           one.tokens_per_s * flops / 1e9 / sgemm1);
    int best = 0;
    for (int i = 0; i < n; i++) {
        printf("| %d x %d | %s | %.0f | %.2fx | %.2fx SGEMM(%d thread%s) | ", rows[i].ranks, rows[i].threads,
               rows[i].ranks == 1 ? "-" : rows[i].overlap ? "overlap" : "blocking", rows[i].r.tokens_per_s,
               rows[i].r.tokens_per_s / one.tokens_per_s,
               rows[i].r.tokens_per_s * flops / rows[i].ranks / 1e9 / rows[i].sgemm, rows[i].threads,
               rows[i].threads == 1 ? "" : "s");
        if (rows[i].ranks == 1) printf("- |\n");
        else printf("%.1f%% |\n", 100 * rows[i].r.wait_share);
        if (rows[i].r.tokens_per_s > rows[best].r.tokens_per_s) best = i;
    }
    int P = rows[best].ranks, t = rows[best].threads;
    printf("would pick: %d rank%s x %d thread%s%s%s, %.2fx 1 x 1; with Slurm: sbatch --nodes=1 --ntasks-per-node=%d "
           "--cpus-per-task=%d, OMP_NUM_THREADS=%d\n", P, P == 1 ? "" : "s", t, t == 1 ? "" : "s",
           P > 1 ? ", train.allreduce = " : "", P > 1 ? (rows[best].overlap ? "overlap" : "blocking") : "",
           rows[best].r.tokens_per_s / one.tokens_per_s, P, t, t);
}

/* ---- tracing: the cost of a trace step against an ordinary one, and the trace file's size ---- */

/* A probe shard of random tokens in 15 genres of equal length, as the validation split of the Brown Corpus
 * has. */
static void probe_shard(shard_t *s, int V, uint64_t n)
{
    enum { GENRES = 15 };
    memset(s, 0, sizeof *s);
    s->vocab_size = (uint32_t)V, s->n_tokens = n, s->n_docs = GENRES, s->n_cats = GENRES;
    s->tokens = err_calloc(n, sizeof *s->tokens);
    s->docs = err_calloc(GENRES, sizeof *s->docs);
    s->cats = err_calloc(GENRES, sizeof *s->cats);
    rng_t g;
    rng_seed(&g, 7);
    for (uint64_t i = 0; i < n; i++) s->tokens[i] = (uint16_t)(rng_u64(&g) % (uint64_t)V);
    for (uint32_t c = 0; c < GENRES; c++) {
        s->docs[c] = (shard_doc_t){c * (n / GENRES), c + 1 < GENRES ? n / GENRES : n - c * (n / GENRES), c};
        snprintf(s->cats[c], SHARD_CAT_LEN, "genre%02u", c);
    }
}

void benchmark_trace(const benchmark_cfg_t *bc, int steps, int interval, const char *command)
{
    bench_run_t r;
    run_create(&r, bc, &kernels_fast);
    config_t cfg;
    config_defaults(&cfg);
    shard_t shard;
    probe_shard(&shard, bc->d.V, 400000);
    probe_t probe;
    CHECK(probe_select(&probe, &shard, cfg.trace_probe_windows, cfg.trace_probe_groups, 1, 0, 1, r.T) == 0, "%s",
          err_msg());
    signals_opts_t opt = {cfg.trace_lens, cfg.trace_local, cfg.trace_lens_stride, cfg.trace_n_sv};
    signals_share_t share = {probe.n_slots, probe.n_genre, (int)probe.n * r.T};
    signals_t sig;
    signals_create(&sig, &r.m.d, r.B, NULL, &opt, &share);
    signals_count(&sig, probe.inputs, probe.cats, probe.n);
    spectrum_method_t methods[2] = {SPECTRUM_SCALAPACK, SPECTRUM_GRAM};
    spectrum_t sp[2];
    for (int k = 0; k < 2; k++) spectrum_create(&sp[k], MPI_COMM_WORLD, bc->d.C, share.rows, cfg.trace_n_sv, methods[k]);
    int reps = steps < 5 ? steps : 5;
    double *t = err_calloc((size_t)steps, sizeof *t), sig_t[5], rho_t[5], spec_t[2][5];
    for (int s = -2; s < steps; s++) {
        double t0 = clock_seconds();
        run_step(&r, NULL, 1.0f);
        if (s >= 0) t[s] = clock_seconds() - t0;
    }
    for (int i = 0; i < reps; i++) {
        double t0 = clock_seconds();
        tracer_measure(&probe, &sig, NULL, MPI_COMM_WORLD, &r.m);
        sig_t[i] = clock_seconds() - t0;
        t0 = clock_seconds(); /* H4 again, alone: the part of the pass that does not shrink with more ranks */
        signals_freq_rho(&sig, MPI_COMM_WORLD, probe.slot_group, probe.groups);
        rho_t[i] = clock_seconds() - t0;
        for (int k = 0; k < 2; k++) {
            t0 = clock_seconds();
            signals_spectrum(&sig, &sp[k]);
            spec_t[k][i] = clock_seconds() - t0;
        }
    }
    double step = median(t, steps), s18 = median(sig_t, reps), rho = median(rho_t, reps);
    printf("tracing, config %s (V=%d T=%d L=%d NH=%d C=%d B=%d), threads %d; median of %d steps and %d trace "
           "steps; probe set of %d windows (%d tokens) in %d groups:\n", bc->name, bc->d.V, r.T, bc->d.L, bc->d.NH,
           bc->d.C, r.B, omp_get_max_threads(), steps, reps, cfg.trace_probe_windows, share.rows,
           cfg.trace_probe_groups);
    /* P ranks of this batch each trace W/P windows: the probe pass shrinks P-fold; H4's gather to rank 0
     * and S9 are counted whole (S9's share of the rows shrinks too, its final decomposition does not) */
    int P = cfg.trace_probe_windows / r.B;
    printf("  ordinary step of %d sequences %.1f ms (the reference); S1-S8, H4 and the logit lens with S3b over the "
           "probe set %.1f ms, of which H4's rank correlations %.1f ms\n", r.B, step * 1e3, s18 * 1e3, rho * 1e3);
    for (int k = 0; k < 2; k++) {
        double spec = median(spec_t[k], reps), extra = s18 + spec, shared = (s18 - rho) / P + rho + spec;
        printf("  S9 by %-9s %.1f ms: a trace step costs %.1f ms = %.2f ordinary steps; at trace.interval=%d that is "
               "%.2f%% of training time on one rank of batch %d, %.2f%% on %d such ranks (global batch %d)\n",
               k ? "Gram" : "ScaLAPACK", spec * 1e3, extra * 1e3, extra / step, interval,
               100 * extra / (interval * step), r.B, 100 * shared / (interval * step), P, P * r.B);
    }
    /* size: a file with a few records, extrapolated to the records of 1,000 steps */
    char dir[] = "/tmp/il-bench-trace-XXXXXX";
    CHECK(mkdtemp(dir), "mkdtemp failed");
    cfg.vocab_size = bc->d.V;
    char *text = config_string(&cfg);
    tracewrite_meta_t meta = {.dir = dir, .sync_every = 1000, .world_size = 1, .interval = interval, .log_spaced = 1,
                          .run_name = cfg.name, .seed = cfg.seed, .config_text = text, .command = command,
                          .probe_path = "synthetic"};
    tracer_params(meta.param, &cfg, &r.m.d, 1, TRACE_TOK_UNKNOWN);
    tracewrite_t tf;
    CHECK(tracewrite_open(&tf, &meta, &sig, &probe) == 0, "%s", err_msg());
    free(text);
    tracewrite_rec_t rec = {0, 1, 1e-3, 1, 1, 1, NAN};
    char path[4200];
    snprintf(path, sizeof path, "%s/rank0000.seg0000.nc", dir);
    struct stat st0, st1;
    CHECK(stat(path, &st0) == 0, "%s: cannot stat", path);
    for (int i = 0; i < 20; i++) {
        rec.step = i;
        CHECK(tracewrite_record(&tf, &rec, &sig) == 0, "%s", err_msg());
    }
    CHECK(tracewrite_close(&tf) == 0, "%s", err_msg());
    CHECK(stat(path, &st1) == 0, "%s: cannot stat", path);
    unlink(path);
    rmdir(dir);
    double per_record = (st1.st_size - st0.st_size) / 20.0;
    for (int log_spaced = 0; log_spaced < 2; log_spaced++) {
        int n = 0;
        for (int s = 0; s <= 1000; s++) n += tracer_due(s, 1000, interval, log_spaced);
        printf("  trace file per rank, 1,000 steps at trace.interval=%d%s: %d records x %.1f KB + %.1f KB header = "
               "%.2f MB\n", interval, log_spaced ? " with log spacing" : "", n, per_record / 1e3, st0.st_size / 1e3,
               (n * per_record + st0.st_size) / 1e6);
    }
    for (int k = 0; k < 2; k++) spectrum_destroy(&sp[k]);
    signals_destroy(&sig);
    probe_free(&probe);
    shard_free(&shard);
    free(t);
    run_destroy(&r);
}
