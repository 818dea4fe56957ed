#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "afile.h"
#include "ckpt.h"
#include "err.h"

/* Keys that may change when a run is resumed: they steer logging and speed, not the experiment. A change
 * of thread count can still move results in the last bits, since BLAS may sum in another order. */
static const char *const resume_may_change[] = {"train.threads", "eval", "run.log_interval", "run.ckpt_interval",
                                                "run.keep_ckpts", NULL};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static gpt_dims_t dims_of(const config_t *c)
{
    return (gpt_dims_t){c->vocab_size, c->seq_len, c->n_layer, c->n_head, c->d_model};
}

/* ---- checkpoints ---- */

static void ckpt_path(char *buf, size_t n, const char *dir, int64_t step)
{
    snprintf(buf, n, "%s/ckpt/step_%08lld.ckpt", dir, (long long)step);
}

/* Steps of the checkpoints in dir/ckpt, newest first. Temporary files of interrupted writes do not match. */
static int list_ckpts(const char *dir, int64_t **steps)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ckpt", dir);
    *steps = NULL;
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long s;
        char tail[8];
        if (sscanf(e->d_name, "step_%lld.ckp%1s", &s, tail) != 2 || strcmp(tail, "t") ||
            strlen(e->d_name) != strlen("step_00000000.ckpt") + (s > 99999999 ? (size_t)log10((double)s) - 7 : 0))
            continue;
        if (n == cap) *steps = realloc(*steps, (size_t)(cap = cap ? 2 * cap : 16) * sizeof **steps);
        CHECK(*steps, "out of memory");
        (*steps)[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* few files: insertion sort, newest first */
        for (int j = i; j > 0 && (*steps)[j] > (*steps)[j - 1]; j--) {
            int64_t t = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = t;
        }
    return n;
}

typedef struct {
    uint32_t tokenizer_id, vocab_size;
    uint64_t n_tokens;
} data_id_t;

int train_save(trainer_t *tr)
{
    char path[4200];
    ckpt_path(path, sizeof path, tr->dir, tr->step);
    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = open_memstream(&text, &text_len);
    CHECK(mem, "open_memstream failed");
    int rc = config_write(&tr->cfg, mem);
    fclose(mem);
    if (rc) {
        free(text);
        return -1;
    }
    const gpt_t *m = &tr->model;
    int32_t dims[5] = {m->d.V, m->d.T, m->d.L, m->d.NH, m->d.C};
    data_id_t data = {tr->train_shard.tokenizer_id, tr->train_shard.vocab_size, tr->train_shard.n_tokens};
    size_t pbytes = m->n_params * sizeof(float);
    ckpt_writer_t w;
    rc = ckpt_begin(&w, path);
    if (!rc) {
        rc = ckpt_add(&w, "config", text, text_len) || ckpt_add(&w, "dims", dims, sizeof dims) ||
             ckpt_add(&w, "data", &data, sizeof data) || ckpt_add(&w, "step", &tr->step, sizeof tr->step) ||
             ckpt_add(&w, "params", m->params, pbytes) || ckpt_add(&w, "adam_m", tr->opt.m, pbytes) ||
             ckpt_add(&w, "adam_v", tr->opt.v, pbytes) || ckpt_add(&w, "adam_t", &tr->opt.t, sizeof tr->opt.t) ||
             ckpt_add(&w, "rng", tr->rng.s, sizeof tr->rng.s) ||
             ckpt_add(&w, "loader", &tr->train_loader.cursor, sizeof tr->train_loader.cursor);
        if (rc) ckpt_abort(&w);
        else rc = ckpt_commit(&w);
    }
    free(text);
    if (rc) return -1;
    runlog_printf(&tr->log, "checkpoint: %s", path);
    if (tr->cfg.keep_ckpts > 0) {
        int64_t *steps;
        int n = list_ckpts(tr->dir, &steps);
        for (int i = tr->cfg.keep_ckpts; i < n; i++) {
            ckpt_path(path, sizeof path, tr->dir, steps[i]);
            unlink(path);
        }
        free(steps);
    }
    return 0;
}

/* Reads the model part of a checkpoint; the optimizer and data state are the trainer's business. */
static int read_model(const ckpt_reader_t *r, gpt_dims_t *d, data_id_t *data)
{
    int32_t dims[5];
    if (ckpt_get(r, "dims", dims, sizeof dims) || ckpt_get(r, "data", data, sizeof *data)) return -1;
    *d = (gpt_dims_t){dims[0], dims[1], dims[2], dims[3], dims[4]};
    if (gpt_dims_check(d)) return err_set("%s: bad model dimensions: %s", r->path, err_msg());
    return 0;
}

int train_load_model(const char *path, gpt_t *m, int B, uint32_t *tokenizer_id)
{
    ckpt_reader_t r;
    if (ckpt_open(&r, path)) return -1;
    gpt_dims_t d;
    data_id_t data;
    int rc = read_model(&r, &d, &data);
    if (!rc) {
        gpt_create(m, &d, B, &kern_fast);
        rc = ckpt_get(&r, "params", m->params, m->n_params * sizeof(float));
        if (rc) gpt_destroy(m);
        *tokenizer_id = data.tokenizer_id;
    }
    ckpt_close(&r);
    return rc;
}

/* Restores every piece of training state from one checkpoint, after checking it belongs to this run. */
static int restore(trainer_t *tr, const char *path)
{
    ckpt_reader_t r;
    if (ckpt_open(&r, path)) return -1;
    gpt_dims_t d;
    data_id_t data;
    const void *text;
    size_t text_len;
    config_t saved = tr->cfg;
    char diff[1200];
    int rc = read_model(&r, &d, &data) || ckpt_view(&r, "config", &text, &text_len);
    if (!rc) {
        FILE *f = fmemopen((void *)text, text_len, "r");
        CHECK(f, "fmemopen failed");
        rc = config_load_stream(&saved, f, path);
        fclose(f);
    }
    if (!rc && config_diff(&saved, &tr->cfg, resume_may_change, diff, sizeof diff))
        rc = err_set("%s: cannot resume with a different %s: that would be another experiment", path, diff);
    if (!rc && (data.tokenizer_id != tr->train_shard.tokenizer_id || data.n_tokens != tr->train_shard.n_tokens))
        rc = err_set("%s: trained on other data than %s (tokenizer id %08x, %llu tokens; now %08x, %llu)", path,
                     tr->cfg.train_path, data.tokenizer_id, (unsigned long long)data.n_tokens,
                     tr->train_shard.tokenizer_id, (unsigned long long)tr->train_shard.n_tokens);
    size_t pbytes = tr->model.n_params * sizeof(float);
    uint64_t cursor = 0;
    rc = rc || ckpt_get(&r, "step", &tr->step, sizeof tr->step) || ckpt_get(&r, "params", tr->model.params, pbytes) ||
         ckpt_get(&r, "adam_m", tr->opt.m, pbytes) || ckpt_get(&r, "adam_v", tr->opt.v, pbytes) ||
         ckpt_get(&r, "adam_t", &tr->opt.t, sizeof tr->opt.t) || ckpt_get(&r, "rng", tr->rng.s, sizeof tr->rng.s) ||
         ckpt_get(&r, "loader", &cursor, sizeof cursor);
    if (!rc && (cursor < tr->train_loader.begin || cursor >= tr->train_loader.end))
        rc = err_set("%s: data cursor %llu outside the shard's range", path, (unsigned long long)cursor);
    if (!rc) tr->train_loader.cursor = cursor;
    ckpt_close(&r);
    return rc;
}

/* Newest checkpoint that reads back whole; an unreadable one is reported and the next older one tried,
 * which is the same experiment a few steps earlier. *found is 0 when there is none. */
static int resume_newest(trainer_t *tr, int *found)
{
    int64_t *steps;
    int n = list_ckpts(tr->dir, &steps), rc = 0;
    *found = 0;
    for (int i = 0; i < n && !*found; i++) {
        char path[4200];
        ckpt_path(path, sizeof path, tr->dir, steps[i]);
        ckpt_reader_t probe;
        if (ckpt_open(&probe, path)) {
            fprintf(stderr, "il-train: warning: skipping unreadable checkpoint: %s\n", err_msg());
            continue;
        }
        ckpt_close(&probe);
        rc = restore(tr, path);
        *found = 1;
    }
    free(steps);
    return rc;
}

/* ---- setup ---- */

static int open_data(trainer_t *tr)
{
    config_t *c = &tr->cfg;
    if (shard_read(&tr->train_shard, c->train_path)) return -1;
    int V = (int)tr->train_shard.vocab_size;
    if (c->vocab_size == 0) c->vocab_size = V;
    else if (c->vocab_size < V)
        return err_set("model.vocab_size = %d is smaller than the vocabulary of %s (%d)", c->vocab_size,
                       c->train_path, V);
    if (loader_init(&tr->train_loader, &tr->train_shard, 0, 1, c->seq_len)) return -1;
    tr->has_val = c->val_path[0] != '\0';
    if (tr->has_val && (shard_read_expect(&tr->val_shard, c->val_path, tr->train_shard.tokenizer_id,
                                          tr->train_shard.vocab_size) ||
                        loader_init(&tr->val_loader, &tr->val_shard, 0, 1, c->seq_len)))
        return -1;
    return 0;
}

static int write_config(const trainer_t *tr, const char *path)
{
    afile_t af;
    if (afile_open(&af, path, AFILE_KEEP)) return -1;
    if (config_write(&tr->cfg, af.f)) {
        afile_abort(&af);
        return -1;
    }
    return afile_commit(&af);
}

int train_open(trainer_t *tr, const config_t *cfg, int resume, int argc, char **argv)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    config_t *c = &tr->cfg;
    if (c->threads > 0) omp_set_num_threads(c->threads);
    if (open_data(tr) || config_validate(c, 1)) return -1;
    gpt_dims_t d = dims_of(c);
    if (gpt_dims_check(&d)) return -1;
    tr->accum = c->global_batch / c->micro_batch;

    if (snprintf(tr->dir, sizeof tr->dir, "%s/%s", c->out_dir, c->name) >= (int)sizeof tr->dir)
        return err_set("run directory path too long");
    char path[4200];
    snprintf(path, sizeof path, "%s/config.ini", tr->dir);
    int existing = exists(path);
    if (existing && !resume)
        return err_set("%s: run directory already exists; pass --resume to continue it, or set run.name", tr->dir);
    snprintf(path, sizeof path, "%s/ckpt", tr->dir);
    if (afile_mkdirs(path)) return -1;
    snprintf(path, sizeof path, "%s/config.ini", tr->dir);
    if (!existing && write_config(tr, path)) return -1;

    gpt_create(&tr->model, &d, c->micro_batch, &kern_fast);
    adamw_create(&tr->opt, tr->model.n_params);
    rng_seed(&tr->rng, c->seed);
    gpt_init_params(&tr->model, &tr->rng);
    size_t bt = (size_t)c->micro_batch * c->seq_len;
    tr->inputs = err_calloc(bt, sizeof *tr->inputs);
    tr->targets = err_calloc(bt, sizeof *tr->targets);
    tr->cats = err_calloc(bt, sizeof *tr->cats);
    tr->last_val_loss = NAN;

    int found = 0;
    if (resume && resume_newest(tr, &found)) return -1;
    if (runlog_open(&tr->log, tr->dir) || runlog_provenance(tr->dir, c->seed, 1, tr->step, argc, argv)) return -1;
    runlog_printf(&tr->log, "run %s: %zu parameters (V=%d T=%d L=%d NH=%d C=%d), %d x %d sequences per step, "
                            "%d accumulation step%s, %d threads",
                  tr->dir, tr->model.n_params, d.V, d.T, d.L, d.NH, d.C, c->global_batch, c->seq_len, tr->accum,
                  tr->accum > 1 ? "s" : "", omp_get_max_threads());
    if (resume) runlog_printf(&tr->log, found ? "resumed at step %lld" : "no checkpoint yet: starting at step %lld",
                              (long long)tr->step);
    return 0;
}

void train_close(trainer_t *tr)
{
    runlog_close(&tr->log);
    gpt_destroy(&tr->model);
    adamw_destroy(&tr->opt);
    shard_free(&tr->train_shard);
    if (tr->has_val) shard_free(&tr->val_shard);
    free(tr->inputs);
    free(tr->targets);
    free(tr->cats);
    memset(tr, 0, sizeof *tr);
}

/* ---- training ---- */

float train_step(trainer_t *tr, double *grad_norm)
{
    const config_t *c = &tr->cfg;
    gpt_t *m = &tr->model;
    gpt_zero_grad(m);
    double loss = 0;
    for (int a = 0; a < tr->accum; a++) {
        loader_next(&tr->train_loader, c->micro_batch, c->seq_len, tr->inputs, tr->targets, NULL);
        loss += gpt_forward(m, tr->inputs, tr->targets, c->micro_batch, c->seq_len);
        gpt_backward(m, 1.0f / (float)tr->accum);
    }
    *grad_norm = optim_norm(m->grads, m->n_params);
    float lr = optim_lr(tr->step, c->warmup_steps, c->max_steps, c->lr, c->min_lr);
    adamw_hparams_t h = {c->beta1, c->beta2, c->eps, c->weight_decay};
    if (isfinite(*grad_norm))
        adamw_step(&tr->opt, m->params, m->grads, optim_clip_scale(*grad_norm, c->grad_clip), m->tensors,
                   m->n_tensors, lr, &h);
    tr->step++;
    return (float)(loss / tr->accum);
}

double train_eval(gpt_t *m, loader_t *l, int B, int T, int windows, int n_cats, double *cat_loss)
{
    double *sum = err_calloc((size_t)n_cats + 1, sizeof *sum), *cnt = err_calloc((size_t)n_cats + 1, sizeof *cnt);
    int32_t *in = err_calloc((size_t)B * T, sizeof *in), *tg = err_calloc((size_t)B * T, sizeof *tg),
            *ct = err_calloc((size_t)B * T, sizeof *ct);
    /* windows spread evenly over the shard, so every part of it (every genre) is scored */
    uint64_t span = l->end - l->begin - (uint64_t)T - 1;
    double total = 0;
    for (int done = 0; done < windows; done += B) {
        int b = windows - done < B ? windows - done : B;
        for (int r = 0; r < b; r++) {
            loader_seek(l, windows > 1 ? span * (uint64_t)(done + r) / (uint64_t)(windows - 1) : 0);
            loader_next(l, 1, T, in + (size_t)r * T, tg + (size_t)r * T, ct + (size_t)r * T);
        }
        gpt_forward(m, in, tg, b, T);
        for (int i = 0; i < b * T; i++) {
            total += m->a.losses[i];
            if (ct[i] >= 0 && ct[i] < n_cats) {
                sum[ct[i]] += m->a.losses[i];
                cnt[ct[i]]++;
            }
        }
    }
    for (int k = 0; k < n_cats && cat_loss; k++) cat_loss[k] = cnt[k] > 0 ? sum[k] / cnt[k] : NAN;
    free(sum);
    free(cnt);
    free(in);
    free(tg);
    free(ct);
    return total / ((double)windows * T);
}

static void validate(trainer_t *tr)
{
    const config_t *c = &tr->cfg;
    int n_cats = (int)tr->val_shard.n_cats;
    double *cat_loss = err_calloc((size_t)n_cats + 1, sizeof *cat_loss);
    const char **names = err_calloc((size_t)n_cats + 1, sizeof *names);
    for (int k = 0; k < n_cats; k++) names[k] = tr->val_shard.cats[k];
    tr->last_val_loss = train_eval(&tr->model, &tr->val_loader, c->micro_batch, c->seq_len,
                                   c->eval_batches * c->micro_batch, n_cats, cat_loss);
    runlog_val(&tr->log, tr->step, tr->last_val_loss, n_cats, names, cat_loss);
    free(cat_loss);
    free(names);
}

int train_run(trainer_t *tr)
{
    const config_t *c = &tr->cfg;
    int do_val = tr->has_val && c->eval_interval > 0;
    if (do_val && tr->step == 0) validate(tr);
    double tokens = (double)c->global_batch * c->seq_len;
    float loss = NAN;
    while (tr->step < c->max_steps) {
        double t0 = now(), norm;
        loss = train_step(tr, &norm);
        double dt = now() - t0;
        if (!isfinite(loss) || !isfinite(norm))
            return err_set("training diverged at step %lld (loss %g, gradient norm %g): lower optim.lr or raise "
                           "optim.warmup_steps", (long long)tr->step, loss, norm);
        int last = tr->step == c->max_steps;
        runlog_step_t s = {tr->step, c->max_steps, loss,
                           optim_lr(tr->step - 1, c->warmup_steps, c->max_steps, c->lr, c->min_lr), norm,
                           tokens / dt, dt * 1e3};
        runlog_step(&tr->log, &s, tr->step % c->log_interval == 0 || last || tr->step == 1);
        if (do_val && (tr->step % c->eval_interval == 0 || last)) validate(tr);
        if ((c->ckpt_interval > 0 && tr->step % c->ckpt_interval == 0) || last)
            if (train_save(tr)) return -1;
    }
    runlog_printf(&tr->log, "done: step %lld, train loss %.4f, val loss %.4f", (long long)tr->step, loss,
                  tr->last_val_loss);
    return 0;
}
