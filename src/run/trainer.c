#include "run/trainer.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/err.h"
#include "trace/consolidate.h"
#include "run/rundir.h"
#include "run/snapshot.h"

volatile sig_atomic_t trainer_stop_signal;

static void on_stop_signal(int sig) { trainer_stop_signal = sig; }

/* ---- setup ---- */

static int open_data(trainer_t *tr)
{
    config_t *c = &tr->cfg;
    /* mapped, each block checked when first read (shard.h): no copy of the data on the heap */
    CALL(shard_open(&tr->train_shard, c->train_path));
    int V = (int)tr->train_shard.vocab_size;
    if (c->vocab_size == 0) c->vocab_size = V;
    else if (c->vocab_size < V)
        return err_set("model.vocab_size = %d is smaller than the vocabulary of %s (%d)", c->vocab_size,
                       c->train_path, V);
    CALL(tracer_tokenizer(c, tr->train_shard.tokenizer_id, &tr->tokenizer));
    tr->has_val = c->val_path[0] != '\0';
    if (tr->has_val)
        CALL(shard_open_expect(&tr->val_shard, c->val_path, tr->train_shard.tokenizer_id, tr->train_shard.vocab_size));
    CALL(config_validate(c, tr->dist.size));
    if (tr->has_val && tr->val_shard.n_tokens < (uint64_t)c->seq_len + 1)
        return err_set("%s: %llu tokens, fewer than one window of model.seq_len + 1 = %d", c->val_path,
                       (unsigned long long)tr->val_shard.n_tokens, c->seq_len + 1);
    gpt_dims_t d = gpt_dims_of(c);
    CALL(gpt_dims_check(&d));
    /* rank r owns the windows [r G/P, (r+1) G/P) of each step's global batch G */
    int per_rank = c->global_batch / tr->dist.size;
    return loader_init(&tr->loader, &tr->train_shard, strcmp(c->train_order, "lanes") ? LOADER_SHUFFLE : LOADER_LANES,
                       c->seed, c->global_batch, tr->dist.rank * per_rank, per_rank, c->seq_len);
}

/* Collective: the memory of the model, its optimizer and its activations must fit this rank's share of
 * the machine, or the run is refused naming the keys that size it, before anything is allocated. */
static int check_memory(const config_t *c)
{
    const gpt_dims_t d = gpt_dims_of(c);
    double params, acts;
    gpt_memory(&d, c->micro_batch, &params, &acts);
    double need = 2 * params + acts; /* AdamW keeps two moments: as many floats as parameters and gradients */
    char how[256];
    double share = dist_memory_share(how, sizeof how);
    if (need <= share) return 0;
    return err_set("model.seq_len = %d, model.n_layer = %d, model.d_model = %d, model.n_head = %d and "
                   "train.micro_batch = %d (vocabulary %d) need about %.1f GB per rank (parameters and gradients "
                   "%.2f GB, AdamW %.2f GB, activations %.2f GB): more than this rank's share, %.1f GB (%s)",
                   c->seq_len, c->n_layer, c->d_model, c->n_head, c->micro_batch, c->vocab_size, need / 1e9,
                   params / 1e9, params / 1e9, acts / 1e9, share / 1e9, how);
}

/* Rank 0: the run directory (locked for this run, cleared of dead writers' temporary files), its config
 * and its log. */
static int open_run_dir(trainer_t *tr, int resume)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.ini", tr->dir);
    int existing = access(path, F_OK) == 0;
    if (existing && !resume)
        return err_set("%s: run directory already exists; pass --resume to continue it, or set run.name", tr->dir);
    CALL(rundir_lock(&tr->rundir, tr->dir));
    if (existing) { /* even before its first checkpoint, a run is one experiment */
        config_t saved = tr->cfg;
        config_mark_absent(&saved);
        CALL(config_load(&saved, path));
        CALL(snapshot_same_experiment(&saved, &tr->cfg, path));
    }
    snprintf(path, sizeof path, "%s/ckpt", tr->dir);
    CALL(atomicfile_mkdirs(path));
    snprintf(path, sizeof path, "%s/config.ini", tr->dir);
    if (!existing) CALL(config_save(&tr->cfg, path, ATOMICFILE_KEEP));
    char first[4200];
    int stale = rundir_clean(&tr->rundir, first, sizeof first);
    CALL(runlog_open(&tr->log, tr->dir));
    if (stale)
        runlog_printf(&tr->log, "removed %d temporary file%s left by a writer that died (%s%s)", stale,
                      stale == 1 ? "" : "s", first, stale > 1 ? ", ..." : "");
    return 0;
}

/* A start refused after the run directory was made: the directory goes again if this launch created it,
 * so the same command can be run once the problem is fixed. Returns -1. */
static int abandon(trainer_t *tr)
{
    if (tr->dist.rank == 0) rundir_release(&tr->rundir, 1);
    return -1;
}

/* The weights a new run starts from (--init-from): a checkpoint's parameters, its step and its source
 * line, read before the run directory exists so that a refusal leaves nothing behind. */
typedef struct {
    gpt_dims_t d;
    float *params;
    uint32_t tokenizer_id;
    int64_t step;
    char *source; /* malloc'd: where the weights came from, for launches.jsonl */
} init_t;

static int init_read(init_t *in, const char *path)
{
    CALL(snapshot_load_params(path, &in->d, &in->params, &in->tokenizer_id));
    ckptfile_reader_t r;
    CALL(snapshot_open(&r, path));
    const void *src = "";
    size_t n = 0;
    int rc = ckptfile_get(&r, "step", &in->step, sizeof in->step);
    if (!rc && ckptfile_view(&r, "source", &src, &n)) src = "", n = 0; /* trained here: no source section */
    if (!rc) {
        size_t len = strlen(path) + n + 64;
        in->source = err_calloc(len, 1);
        snprintf(in->source, len, "init-from %s step %lld%s%.*s", path, (long long)in->step,
                 n ? ", imported from " : "", (int)n, (const char *)src);
    }
    ckptfile_close(&r);
    return rc;
}

/* The checkpoint must be of the training data's tokenizer and its model the config's, key for key;
 * model.vocab_size left to the data (vocab_from_data) takes the checkpoint's, which may be padded. */
static int init_check(const init_t *in, const char *path, config_t *c, uint32_t data_tokenizer, int vocab_from_data)
{
    if (in->tokenizer_id == 0)
        return err_set("%s: imported without a tokenizer (id 0); re-import it with il-ckpt import --tokenizer", path);
    if (in->tokenizer_id != data_tokenizer)
        return err_set("%s: made with tokenizer %08x, but %s with tokenizer %08x", path, in->tokenizer_id,
                       c->train_path, data_tokenizer);
    if (vocab_from_data && in->d.V > c->vocab_size) c->vocab_size = in->d.V;
    const gpt_dims_t d = gpt_dims_of(c);
    const struct { const char *key; int want, have; } k[] = {
        {"model.vocab_size", d.V, in->d.V}, {"model.seq_len", d.T, in->d.T}, {"model.n_layer", d.L, in->d.L},
        {"model.n_head", d.NH, in->d.NH}, {"model.d_model", d.C, in->d.C}};
    for (size_t i = 0; i < sizeof k / sizeof *k; i++)
        if (k[i].want != k[i].have)
            return err_set("%s: %s = %d, but the config says %d", path, k[i].key, k[i].have, k[i].want);
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGTERM, SIGUSR2, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
    /* Ctrl-C: like SIGTERM the first time; a second one, with the default action restored, stops at once */
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
}

/* A pass of gsync_autotune: the work of a step's last micro-batch on the (zeroed) input buffers, whose
 * gradients the next step zeroes; the parameters and the data order stay as they were. */
static void autotune_pass(void *ctx)
{
    trainer_t *tr = ctx;
    gpt_forward(&tr->model, tr->inputs, tr->targets, tr->cfg.micro_batch, tr->cfg.seq_len);
    gsync_arm(&tr->sync, &tr->model);
    gpt_backward(&tr->model, 1.0f);
    gsync_finish(&tr->sync, &tr->model);
}

/* Collective: the gradient reduction of this launch, timed first under train.allreduce = auto, said once in
 * the log and recorded in data for the provenance. */
static void choose_allreduce(trainer_t *tr, runlog_data_t *data)
{
    const char *want = tr->cfg.allreduce;
    gsync_t *s = &tr->sync;
    data->allreduce_ms[0] = data->allreduce_ms[1] = NAN;
    if (!strcmp(want, "auto")) {
        gsync_autotune(s, autotune_pass, tr, 2, data->allreduce_ms);
        for (int i = 0; i < 2; i++) data->allreduce_ms[i] *= 1e3;
    }
    data->allreduce = s->overlap ? "overlap" : "blocking";
    if (tr->dist.rank) return;
    if (strcmp(want, "blocking") && !s->threaded)
        runlog_printf(&tr->log, "warning: train.allreduce = %s, but MPI gives thread level %d, below "
                                "MPI_THREAD_SERIALIZED (%d): one blocking all-reduce after backward", want,
                      s->thread_level, MPI_THREAD_SERIALIZED);
    else if (isfinite(data->allreduce_ms[0]))
        runlog_printf(&tr->log, "train.allreduce = auto: %s, %.1f ms a pass overlapped against %.1f ms blocking",
                      data->allreduce, data->allreduce_ms[0], data->allreduce_ms[1]);
    if (s->overlap && s->after_backward)
        runlog_printf(&tr->log, "train.allreduce = overlap: one thread a rank and no core beyond the ranks leave the "
                                "communication thread no core time, so the gradients are summed as blocking does, "
                                "after backward (docs/scaling.md)");
    if (s->threaded && !s->idle_class)
        runlog_printf(&tr->log, "warning: the communication thread could not enter the idle scheduling class "
                                "(SCHED_IDLE): overlapped, it spins on this rank's cores while slower ranks finish");
}

static int trainer_open_from(trainer_t *tr, const config_t *cfg, const dist_t *dist, int resume, init_t *init,
                             const char *init_from, int argc, char **argv)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    tr->dist = *dist;
    tr->rundir.fd = -1;
    tr->saved_step = -1;
    tr->last_val_loss = NAN;
    tr->last_val_step = -1;
    config_t *c = &tr->cfg;
    /* ranks and threads never oversubscribe the cores unless asked to: Slurm's cores per task when it
     * says, else one thread per rank when there are several */
    const char *slurm_cpus = getenv("SLURM_CPUS_PER_TASK");
    if (c->threads > 0) omp_set_num_threads(c->threads);
    else if (slurm_cpus && atoi(slurm_cpus) > 0) omp_set_num_threads(atoi(slurm_cpus));
    else if (dist->size > 1) omp_set_num_threads(1);
    /* every rank reads the checkpoint: no broadcast of a model that may not fit one message */
    if (init) CALL(dist_agree(init_read(init, init_from)));
    int vocab_from_data = c->vocab_size == 0;
    CALL(dist_agree(open_data(tr)));
    if (init) CALL(dist_agree(init_check(init, init_from, c, tr->train_shard.tokenizer_id, vocab_from_data)));
    CALL(dist_agree(check_memory(c)));
    tr->accum = c->global_batch / (c->micro_batch * dist->size);
    if (snprintf(tr->dir, sizeof tr->dir, "%s/%s", c->out_dir, c->name) >= (int)sizeof tr->dir)
        return dist_agree(err_set("run directory path too long"));
    if (dist_agree(dist->rank == 0 ? open_run_dir(tr, resume) : 0)) return abandon(tr);

    gpt_dims_t d = gpt_dims_of(c);
    gpt_create(&tr->model, &d, c->micro_batch, &kernels_fast);
    adamw_create(&tr->opt, tr->model.n_params);
    rng_seed(&tr->rng, c->seed);
    if (init) memcpy(tr->model.params, init->params, tr->model.n_params * sizeof *tr->model.params);
    else if (dist->rank == 0) gpt_init_params(&tr->model, &tr->rng);
    CHECK_RC(MPI_Bcast(tr->model.params, (int)tr->model.n_params, MPI_FLOAT, 0, MPI_COMM_WORLD), dist_strerror);
    CHECK_RC(MPI_Bcast(tr->rng.s, 4, MPI_UINT64_T, 0, MPI_COMM_WORLD), dist_strerror);
    gsync_init(&tr->sync, &tr->model, (size_t)c->bucket_kb << 10, MPI_COMM_WORLD,
               dist->size > 1 && strcmp(c->allreduce, "blocking")); /* one rank reduces nothing */
    size_t bt = (size_t)c->micro_batch * c->seq_len;
    tr->inputs = err_calloc(bt, sizeof *tr->inputs);
    tr->targets = err_calloc(bt, sizeof *tr->targets);

    int found = 0;
    if (resume && snapshot_resume(tr, &found)) return abandon(tr);
    /* a finished run is only consolidated, if that is still to do (trainer_run): no launch, no new segment */
    tr->finished = found && tr->step >= c->max_steps;
    if (tr->finished) {
        if (dist->rank == 0)
            runlog_printf(&tr->log, "run %s finished already: its checkpoint is of step %lld, train.max_steps; "
                                    "nothing to train", tr->dir, (long long)tr->step);
        install_signals();
        return 0;
    }
    /* with --resume, a run that has a checkpoint continues from it: --init-from only starts a run */
    const char *source = init && !found ? init->source : NULL;
    runlog_data_t data = {.tokenizer = trace_tokenizer_name(tr->tokenizer), .tokenizer_id = tr->train_shard.tokenizer_id,
                          .vocab_size = c->vocab_size, .source = source};
    if (dist->size > 1) choose_allreduce(tr, &data);
    if (dist_agree(dist->rank == 0 ? runlog_provenance(tr->dir, c->seed, dist->size, tr->step, &data, argc, argv) : 0))
        return abandon(tr);
    char tb_dir[4200];
    snprintf(tb_dir, sizeof tb_dir, "%s/tb", tr->dir);
    if (dist_agree(dist->rank == 0 && c->tensorboard ? tb_open(&tr->tb, tb_dir, tr->step) : 0)) return abandon(tr);
    /* the probe set comes from held-out text: the validation shard, or the training shard without one */
    int traced = tracer_open(&tr->tracer, c, &tr->model, &tr->train_shard, tr->tokenizer,
                             tr->has_val ? &tr->val_shard : &tr->train_shard, tr->has_val ? c->val_path : c->train_path,
                             tr->dir, dist->rank, dist->size, tr->step, argc, argv);
    if (traced) {
        abandon(tr);
        return traced == TRACEWRITE_IO ? TRAINER_IO : -1;
    }
    if (dist->rank == 0) {
        runlog_printf(&tr->log, "run %s: %zu parameters (V=%d T=%d L=%d NH=%d C=%d); global batch %d x %d tokens = "
                                "%d ranks x %d micro-batch x %d accumulation; %d threads per rank",
                      tr->dir, tr->model.n_params, d.V, d.T, d.L, d.NH, d.C, c->global_batch, c->seq_len,
                      dist->size, c->micro_batch, tr->accum, omp_get_max_threads());
        if (resume)
            runlog_printf(&tr->log, found ? "resumed at step %lld" : "no checkpoint yet: starting at step %lld",
                          (long long)tr->step);
        if (source) runlog_printf(&tr->log, "parameters from %s", source);
    }
    install_signals();
    return 0;
}

int trainer_open(trainer_t *tr, const config_t *cfg, const dist_t *dist, int resume, const char *init_from, int argc,
                 char **argv)
{
    init_t init = {0};
    int rc = trainer_open_from(tr, cfg, dist, resume, init_from ? &init : NULL, init_from, argc, argv);
    free(init.params);
    free(init.source);
    return rc;
}

void trainer_close(trainer_t *tr)
{
    if (tr->dist.rank == 0) rundir_release(&tr->rundir, 0);
    tracer_close(&tr->tracer);
    runlog_close(&tr->log);
    tb_close(&tr->tb);
    gpt_destroy(&tr->model);
    adamw_destroy(&tr->opt);
    gsync_free(&tr->sync);
    loader_free(&tr->loader);
    shard_free(&tr->train_shard);
    if (tr->has_val) shard_free(&tr->val_shard);
    free(tr->inputs);
    free(tr->targets);
    memset(tr, 0, sizeof *tr);
}

/* ---- training ---- */

int trainer_step(trainer_t *tr, float *step_loss, double *grad_norm)
{
    const config_t *c = &tr->cfg;
    gpt_t *m = &tr->model;
    int P = tr->dist.size, rc = 0;
    float loss_scale = 1.0f / (float)(tr->accum * P); /* the sum over ranks is then the global mean */
    gpt_zero_grad(m);
    double loss = 0;
    for (int a = 0; a < tr->accum; a++) {
        if (loader_next(&tr->loader, c->micro_batch, tr->inputs, tr->targets, NULL)) rc = -1;
        loss += gpt_forward(m, tr->inputs, tr->targets, c->micro_batch, c->seq_len);
        if (P > 1 && a == tr->accum - 1) gsync_arm(&tr->sync, m);
        gpt_backward(m, loss_scale);
    }
    if (P > 1) gsync_finish(&tr->sync, m); /* the optimizer below reads what the thread summed */
    if (P > 1) {
        /* the ranks that could not read a window are counted with the loss, so that all stop together */
        double sum[2] = {loss / P, rc != 0};
        CHECK_RC(MPI_Allreduce(MPI_IN_PLACE, sum, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), dist_strerror);
        loss = sum[0];
        if (sum[1] > 0) return dist_agree(rc);
    }
    if (rc) return -1;
    *grad_norm = optim_norm(m->grads, m->n_params);
    float lr = optim_lr(tr->step, c->warmup_steps, c->max_steps, c->lr, c->min_lr);
    adamw_hparams_t h = {c->beta1, c->beta2, c->eps, c->weight_decay};
    if (isfinite(*grad_norm))
        adamw_step(&tr->opt, m->params, m->grads, optim_clip_scale(*grad_norm, c->grad_clip), m->tensors,
                   m->n_tensors, lr, &h);
    tr->step++;
    *step_loss = (float)(loss / tr->accum);
    return 0;
}

int trainer_eval(gpt_t *m, const shard_t *s, int B, int windows, double *loss, double *cat_loss)
{
    int T = m->d.T, nc = (int)s->n_cats, rank, size, rc = 0;
    CHECK_RC(MPI_Comm_rank(MPI_COMM_WORLD, &rank), dist_strerror);
    CHECK_RC(MPI_Comm_size(MPI_COMM_WORLD, &size), dist_strerror);
    /* [0]: loss sum, [1]: token count, then per category: sums [2, 2+nc), counts [2+nc, 2+2nc), and last the
     * ranks that could not read a window */
    double *acc = err_calloc(3 + 2 * (size_t)nc, sizeof *acc);
    int32_t *in = err_calloc((size_t)B * T, sizeof *in), *tg = err_calloc((size_t)B * T, sizeof *tg),
            *ct = err_calloc((size_t)B * T, sizeof *ct);
    /* windows spread evenly over the shard, so every part of it (every genre) is scored; rank r takes
     * windows r, r + P, ... */
    uint64_t span = s->n_tokens - (uint64_t)T - 1;
    int w = rank;
    while (w < windows && rc == 0) {
        int b = 0;
        for (; b < B && w < windows && rc == 0; b++, w += size)
            rc = loader_window(s, windows > 1 ? span * (uint64_t)w / (uint64_t)(windows - 1) : 0, T,
                               in + (size_t)b * T, tg + (size_t)b * T, ct + (size_t)b * T);
        gpt_forward(m, in, tg, b, T);
        for (int i = 0; i < b * T && rc == 0; i++) {
            acc[0] += m->a.losses[i];
            acc[1]++;
            if (ct[i] >= 0 && ct[i] < nc) {
                acc[2 + ct[i]] += m->a.losses[i];
                acc[2 + nc + ct[i]]++;
            }
        }
    }
    acc[2 + 2 * nc] = rc != 0;
    CHECK_RC(MPI_Allreduce(MPI_IN_PLACE, acc, 3 + 2 * nc, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), dist_strerror);
    int failed = acc[2 + 2 * nc] > 0;
    if (!failed) {
        for (int k = 0; k < nc && cat_loss; k++) cat_loss[k] = acc[2 + nc + k] > 0 ? acc[2 + k] / acc[2 + nc + k] : NAN;
        *loss = acc[0] / acc[1];
    }
    free(acc);
    free(in);
    free(tg);
    free(ct);
    return failed ? dist_agree(rc) : 0;
}

/* Rank 0: a validation into the TensorBoard file, the loss and per genre as metrics.jsonl's by_category. */
static void board_val(trainer_t *tr, int nc, const char *const *names, const double *cat_loss)
{
    tb_scalar_t *v = err_calloc((size_t)nc + 1, sizeof *v);
    char (*tags)[96] = err_calloc((size_t)nc + 1, sizeof *tags);
    v[0] = (tb_scalar_t){"val/loss", tr->last_val_loss};
    for (int k = 0; k < nc; k++) {
        snprintf(tags[k], sizeof tags[k], "val/loss_by_genre/%.64s", names[k]);
        v[k + 1] = (tb_scalar_t){tags[k], cat_loss[k]};
    }
    tb_scalars(&tr->tb, tr->step, v, nc + 1);
    free(v);
    free(tags);
}

static int validate(trainer_t *tr)
{
    const config_t *c = &tr->cfg;
    int nc = (int)tr->val_shard.n_cats;
    double *cat_loss = err_calloc((size_t)nc + 1, sizeof *cat_loss);
    if (trainer_eval(&tr->model, &tr->val_shard, c->micro_batch, c->eval_batches * c->global_batch,
                     &tr->last_val_loss, cat_loss)) {
        free(cat_loss);
        return -1;
    }
    tr->last_val_step = tr->step;
    if (tr->dist.rank == 0) {
        const char **names = err_calloc((size_t)nc + 1, sizeof *names);
        for (int k = 0; k < nc; k++) names[k] = tr->val_shard.cats[k];
        runlog_val(&tr->log, tr->step, tr->last_val_loss, nc, names, cat_loss);
        if (tr->tb.f) board_val(tr, nc, names, cat_loss);
        free(names);
    }
    free(cat_loss);
    return 0;
}

static int check_replicas(const trainer_t *tr)
{
    /* a hash of the parameters' bits: equal on every rank unless they have drifted apart */
    uint64_t h = bytes_fnv1a64(BYTES_FNV64_INIT, tr->model.params, tr->model.n_params * sizeof *tr->model.params), lo, hi;
    CHECK_RC(MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD), dist_strerror);
    CHECK_RC(MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD), dist_strerror);
    if (lo != hi)
        return err_set("ranks diverged at step %lld: their parameters differ (checksums %016llx .. %016llx); "
                       "this is a bug or a hardware fault, not a setting",
                       (long long)tr->step, (unsigned long long)lo, (unsigned long long)hi);
    return 0;
}

/* Collective: did any rank receive a stop signal? */
static int stop_requested(void)
{
    int mine = trainer_stop_signal != 0, any;
    CHECK_RC(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), dist_strerror);
    return any;
}

/* Rank 0: the trace step's statistics that are the run's whole (signals.h: the same on every rank) into
 * the TensorBoard file: the weight norms, and on a full trace step (the others leave the sparse variables
 * as they were) H4's statistic rho_freq at the last depth and the effective rank S9 per depth. The other
 * hypotheses' statistics need every rank's probe share merged: il-aggregate's. */
static void board_trace(trainer_t *tr, int full)
{
    const signals_t *sig = &tr->tracer.sig;
    static const char *const wnorm[SIGNALS_N_GROUPS] = {"trace/wnorm_embed", "trace/wnorm_attn", "trace/wnorm_mlp",
                                                        "trace/wnorm_ln"};
    int L = sig->L, n = 0;
    tb_scalar_t *v = err_calloc((size_t)L + 2 + SIGNALS_N_GROUPS, sizeof *v);
    char (*tags)[48] = err_calloc((size_t)L + 1, sizeof *tags);
    if (full) v[n++] = (tb_scalar_t){"trace/H4_rho_freq", sig->rho_freq[L]};
    for (int l = 0; l <= L && full && tr->tracer.spectrum_on; l++) {
        snprintf(tags[l], sizeof tags[l], "trace/erank/depth_%d", l);
        v[n++] = (tb_scalar_t){tags[l], sig->erank[l]};
    }
    for (int g = 0; g < SIGNALS_N_GROUPS; g++) v[n++] = (tb_scalar_t){wnorm[g], sig->wnorm[g]};
    tb_scalars(&tr->tb, tr->step, v, n);
    free(v);
    free(tags);
}

/* Collective: the trace record of the current weights (step tr->step), when that step is traced. The
 * training record rec describes the update that made them. Returns 0, or -1 with err_set() on a failed
 * write. */
static int trace_step(trainer_t *tr, tracewrite_rec_t rec)
{
    if (!tracer_is_step(&tr->tracer, tr->step)) return 0;
    rec.step = tr->step;
    rec.val_loss = tr->last_val_step == tr->step ? tr->last_val_loss : NAN;
    if (tr->dist.rank == 0) runlog_trace_begin(&tr->log, tr->step);
    int64_t full0 = tr->tracer.n_full;
    int rc = tracer_trace(&tr->tracer, &tr->model, &rec);
    if (tr->dist.rank == 0) runlog_trace_end(&tr->log);
    if (tr->tb.f) board_trace(tr, tr->tracer.n_full > full0);
    return rc;
}

/* Collective, when the run has finished: every rank closes its trace segment, then rank 0 merges each rank's
 * segments into one file (consolidate.h). A failure only keeps the segments, which the aggregator reads as
 * well: the training itself is done. */
static void consolidate(trainer_t *tr)
{
    int traced = tr->cfg.trace_interval > 0;
    tracer_close(&tr->tracer);
    dist_agree(0); /* a reduction over every rank: all segments are closed past it */
    if (tr->dist.rank != 0 || !traced) return;
    const char *why = NULL;
    int n = consolidate_run(tr->dir, &why);
    if (n > 0) runlog_printf(&tr->log, "trace: the segments of %d rank%s consolidated into %s/trace/rank*.nc", n,
                             n == 1 ? "" : "s", tr->dir);
    else if (n == 0) runlog_printf(&tr->log, "trace: not consolidated: %s", why);
    else fprintf(stderr, "il-train: warning: trace consolidation failed, the segments are kept: %s\n", err_msg());
}

int trainer_run(trainer_t *tr)
{
    const config_t *c = &tr->cfg;
    int root = tr->dist.rank == 0, do_val = tr->has_val && c->eval_interval > 0;
    double tokens = (double)c->global_batch * c->seq_len;
    float loss = NAN;
    if (tr->finished) {
        consolidate(tr);
        return TRAINER_DONE;
    }
    /* the weights a launch starts from: step 0, or a checkpoint's step that a later launch re-traces (the
     * segment rule keeps the later record), validated again so that its record is whole */
    if (tr->step == 0 || tr->step < c->max_steps) {
        if (do_val && (tr->step == 0 || tr->step % c->eval_interval == 0) && validate(tr)) return TRAINER_BAD_DATA;
        if (dist_agree(trace_step(tr, (tracewrite_rec_t){.loss = NAN, .lr = NAN, .grad_norm = NAN, .tokens_per_s = NAN,
                                                      .step_time = NAN})))
            return TRAINER_FAILED;
    }
    /* the trace steps to come, for the ETA: counted by the schedule itself, whatever it is */
    int64_t traces_left = 0;
    for (int64_t k = tr->step + 1; root && k <= c->max_steps; k++) traces_left += tracer_is_step(&tr->tracer, k);
    while (tr->step < c->max_steps) {
        if (stop_requested()) {
            if (tr->saved_step != tr->step && snapshot_save(tr)) return TRAINER_FAILED;
            if (root) runlog_printf(&tr->log, "stopped by a signal at step %lld; resume with --resume",
                                    (long long)tr->step);
            return TRAINER_PREEMPTED;
        }
        double t0 = clock_seconds(), norm;
        uint64_t epoch = loader_epoch(&tr->loader);
        if (trainer_step(tr, &loss, &norm)) return TRAINER_BAD_DATA;
        double dt = clock_seconds() - t0;
        if (!isfinite(loss) || !isfinite(norm)) {
            err_set("training diverged at step %lld (loss %g, gradient norm %g): lower optim.lr or raise "
                    "optim.warmup_steps", (long long)tr->step, loss, norm);
            return TRAINER_FAILED;
        }
        if (c->check_interval > 0 && tr->step % c->check_interval == 0 && check_replicas(tr)) return TRAINER_FAILED;
        int last = tr->step == c->max_steps;
        if (root && loader_epoch(&tr->loader) != epoch) {
            /* step k reads the windows [(k-1) G, k G) of the endless sequence of epochs */
            uint64_t e = loader_epoch(&tr->loader), first = e * tr->loader.n_windows, G = (uint64_t)c->global_batch;
            runlog_printf(&tr->log, "epoch %llu: a new permutation of the %llu windows, from window %llu of step %llu",
                          (unsigned long long)e, (unsigned long long)tr->loader.n_windows,
                          (unsigned long long)(first % G), (unsigned long long)(first / G + 1));
        }
        float lr = optim_lr(tr->step - 1, c->warmup_steps, c->max_steps, c->lr, c->min_lr);
        if (root) {
            runlog_step_t s = {tr->step, c->max_steps, loss, lr, norm, tokens / dt, dt * 1e3, traces_left, 0};
            runlog_step(&tr->log, &s, tr->step % c->log_interval == 0 || last || tr->step == 1);
            const tb_scalar_t v[] = {{"train/loss", loss}, {"train/lr", lr}, {"train/grad_norm", norm},
                                     {"train/tokens_per_s", tokens / dt}};
            if (tr->tb.f) tb_scalars(&tr->tb, tr->step, v, sizeof v / sizeof *v);
        }
        if (do_val && (tr->step % c->eval_interval == 0 || last) && validate(tr)) return TRAINER_BAD_DATA;
        /* a failed write (a full disk) on any rank stops every rank, keeping the checkpoints */
        int io = trace_step(tr, (tracewrite_rec_t){.loss = loss, .lr = lr, .grad_norm = norm, .tokens_per_s = tokens / dt,
                                               .step_time = dt});
        traces_left -= root && tracer_is_step(&tr->tracer, tr->step);
        if (root && !io) io = runlog_status(&tr->log);
        if (root && !io) io = tb_status(&tr->tb);
        if (dist_agree(io)) return TRAINER_FAILED;
        if ((c->ckpt_interval > 0 && tr->step % c->ckpt_interval == 0) || last) {
            if (snapshot_save(tr)) return TRAINER_FAILED;
            if (!last) err_test_kill("checkpoint");
        }
    }
    err_test_kill("final-checkpoint");
    if (root)
        runlog_printf(&tr->log, "done: step %lld, train loss %.4f, val loss %.4f", (long long)tr->step, loss,
                      tr->last_val_loss);
    if (root && tr->tracer.on) /* what the sparse sub-schedule saved: the thin steps skipped S9, H4 and the genres */
        runlog_printf(&tr->log, "trace: %lld trace steps in this launch, %lld full, %lld without S9, H4 and the genres "
                      "(trace.full_every = %d)", (long long)(tr->tracer.n_full + tr->tracer.n_thin),
                      (long long)tr->tracer.n_full, (long long)tr->tracer.n_thin, c->trace_full_every);
    if (dist_agree(tracer_sync(&tr->tracer))) return TRAINER_FAILED;
    consolidate(tr);
    return TRAINER_DONE;
}
