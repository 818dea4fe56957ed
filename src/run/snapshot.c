#include "run/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "run/ckptfile.h"
#include "core/err.h"

#define STATE_FILE "state.ckpt"
#define MARKER_FILE "COMPLETE"

/* Keys that may differ on resume: they steer speed, logging, where files are and how ranks share the
 * global batch, not the experiment (the training data is checked by content instead of path). A
 * different thread or rank count can still move results in the last bits, since sums then run in
 * another order. */
const char *const snapshot_may_change[] = {"data", "train.threads", "train.micro_batch", "train.bucket_kb",
                                         "train.allreduce", "train.check_interval", "eval", "run", NULL};

int snapshot_same_experiment(const config_t *saved, const config_t *now, const char *where)
{
    char diff[1200];
    if (config_diff(saved, now, snapshot_may_change, diff, sizeof diff))
        return err_set("%s: cannot resume with a different %s: that would be another experiment", where, diff);
    return 0;
}

typedef struct {
    uint32_t tokenizer_id, vocab_size;
    uint64_t n_tokens;
} data_id_t;

static void step_path(char *buf, size_t n, const char *dir, int64_t step, const char *file)
{
    snprintf(buf, n, "%s/ckpt/step_%08lld%s%s", dir, (long long)step, file ? "/" : "", file ? file : "");
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_complete(const char *dir, int64_t step)
{
    char path[4200];
    step_path(path, sizeof path, dir, step, MARKER_FILE);
    return is_file(path);
}

/* Steps of the checkpoint directories, newest first: only the complete ones, or all. */
static int list_steps(const char *dir, int complete_only, int64_t **steps)
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
        int used = 0;
        if (sscanf(e->d_name, "step_%lld%n", &s, &used) != 1 || e->d_name[used] != '\0' || s < 0) continue;
        if (complete_only && !is_complete(dir, s)) continue;
        if (n == cap) CHECK(*steps = realloc(*steps, (size_t)(cap = cap ? 2 * cap : 16) * sizeof **steps), "out of memory");
        (*steps)[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* a handful of entries: insertion sort, newest first */
        for (int j = i; j > 0 && (*steps)[j] > (*steps)[j - 1]; j--) {
            int64_t t = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = t;
        }
    return n;
}

static int write_state(const trainer_t *tr, const char *path)
{
    char *text = config_string(&tr->cfg);
    size_t text_len = strlen(text);
    int rc = 0;
    const gpt_t *m = &tr->model;
    int32_t dims[5] = {m->d.V, m->d.T, m->d.L, m->d.NH, m->d.C}, world = tr->dist.size;
    data_id_t data = {tr->train_shard.tokenizer_id, tr->train_shard.vocab_size, tr->train_shard.n_tokens};
    size_t pbytes = m->n_params * sizeof(float);
    ckptfile_writer_t w;
    if (!rc && !(rc = ckptfile_begin(&w, path))) {
        rc = ckptfile_add(&w, "config", text, text_len) || ckptfile_add(&w, "dims", dims, sizeof dims) ||
             ckptfile_add(&w, "data", &data, sizeof data) || ckptfile_add(&w, "step", &tr->step, sizeof tr->step) ||
             ckptfile_add(&w, "world", &world, sizeof world) || ckptfile_add(&w, "params", m->params, pbytes) ||
             ckptfile_add(&w, "adam_m", tr->opt.m, pbytes) || ckptfile_add(&w, "adam_v", tr->opt.v, pbytes) ||
             ckptfile_add(&w, "adam_t", &tr->opt.t, sizeof tr->opt.t) || ckptfile_add(&w, "rng", tr->rng.s, sizeof tr->rng.s) ||
             ckptfile_add(&w, "loader", &tr->loader.cursor, sizeof tr->loader.cursor);
        if (rc) ckptfile_abort(&w);
        else rc = ckptfile_commit(&w);
    }
    free(text);
    return rc;
}

static int write_marker(const trainer_t *tr, const char *path)
{
    atomicfile_t af;
    CALL(atomicfile_open(&af, path, ATOMICFILE_KEEP));
    fprintf(af.f, "step %lld\nworld_size %d\n", (long long)tr->step, tr->dist.size);
    return atomicfile_commit(&af);
}

/* Removes a step directory, marker first, so that an interrupted removal leaves an incomplete
 * checkpoint (ignored) rather than a complete-looking broken one; then whatever else it holds, such as the
 * temporary file of a save that died, so that the directory itself goes. */
static void remove_step(const char *dir, int64_t step)
{
    char path[4200];
    step_path(path, sizeof path, dir, step, MARKER_FILE);
    unlink(path);
    step_path(path, sizeof path, dir, step, NULL);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        char file[4500];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.') unlink(file);
    }
    if (d) closedir(d);
    rmdir(path);
}

static int save_rank0(const trainer_t *tr)
{
    char path[4200];
    step_path(path, sizeof path, tr->dir, tr->step, MARKER_FILE);
    if (is_file(path)) return 0; /* already complete (a finished run resumed) */
    /* left by an interrupted save of this very step: incomplete, so of no use to anyone */
    step_path(path, sizeof path, tr->dir, tr->step, STATE_FILE);
    unlink(path);
    step_path(path, sizeof path, tr->dir, tr->step, NULL);
    CALL(atomicfile_mkdirs(path));
    step_path(path, sizeof path, tr->dir, tr->step, STATE_FILE);
    return write_state(tr, path);
}

int snapshot_save(trainer_t *tr)
{
    /* each rank's part of the checkpoint: its trace so far */
    CALL(dist_agree(tracer_sync(&tr->tracer)));
    int root = tr->dist.rank == 0;
    if (dist_agree(root ? save_rank0(tr) : 0)) return -1;
    char path[4200];
    step_path(path, sizeof path, tr->dir, tr->step, MARKER_FILE);
    int rc = 0;
    if (root && !is_file(path)) {
        rc = write_marker(tr, path);
        if (!rc && tr->cfg.keep_ckpts > 0) {
            /* the newest keep_ckpts complete ones stay; older ones go, and so do incomplete ones below
             * this step, which a save that died left behind and which would otherwise stay forever */
            int64_t *steps;
            int n = list_steps(tr->dir, 1, &steps);
            int64_t oldest_kept = steps[(n < tr->cfg.keep_ckpts ? n : tr->cfg.keep_ckpts) - 1];
            free(steps);
            n = list_steps(tr->dir, 0, &steps);
            for (int i = 0; i < n; i++)
                if (steps[i] < oldest_kept || (steps[i] < tr->step && !is_complete(tr->dir, steps[i])))
                    remove_step(tr->dir, steps[i]);
            free(steps);
        }
        if (!rc) runlog_printf(&tr->log, "checkpoint: %s/ckpt/step_%08lld", tr->dir, (long long)tr->step);
    }
    if (dist_agree(rc)) return -1;
    tr->saved_step = tr->step;
    return 0;
}

int snapshot_read_dims(const ckptfile_reader_t *r, gpt_dims_t *d)
{
    int32_t dims[5];
    CALL(ckptfile_get(r, "dims", dims, sizeof dims));
    *d = (gpt_dims_t){dims[0], dims[1], dims[2], dims[3], dims[4]};
    if (gpt_dims_check(d)) return err_set("%s: bad model dimensions: %s", r->path, err_msg());
    return 0;
}

static int read_model(const ckptfile_reader_t *r, gpt_dims_t *d, data_id_t *data)
{
    CALL(snapshot_read_dims(r, d));
    return ckptfile_get(r, "data", data, sizeof *data);
}

int snapshot_read_model(const ckptfile_reader_t *r, gpt_dims_t *d, uint32_t *tokenizer_id)
{
    data_id_t data;
    CALL(read_model(r, d, &data));
    *tokenizer_id = data.tokenizer_id;
    return 0;
}

int snapshot_open(ckptfile_reader_t *r, const char *path)
{
    char file[4200];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(file, sizeof file, "%s/%s", path, STATE_FILE);
    else snprintf(file, sizeof file, "%s", path);
    return ckptfile_open(r, file);
}

int snapshot_load_params(const char *path, gpt_dims_t *d, float **params, uint32_t *tokenizer_id)
{
    ckptfile_reader_t r;
    CALL(snapshot_open(&r, path));
    data_id_t data;
    *params = NULL;
    int rc = read_model(&r, d, &data);
    if (!rc) {
        *params = err_calloc(gpt_param_count(d), sizeof **params);
        rc = ckptfile_get(&r, "params", *params, gpt_param_count(d) * sizeof **params);
        *tokenizer_id = data.tokenizer_id;
    }
    ckptfile_close(&r);
    if (rc) {
        free(*params);
        *params = NULL;
    }
    return rc;
}

int snapshot_load_model(const char *path, gpt_t *m, int B, uint32_t *tokenizer_id)
{
    gpt_dims_t d;
    float *params;
    CALL(snapshot_load_params(path, &d, &params, tokenizer_id));
    gpt_create(m, &d, B, &kernels_fast);
    memcpy(m->params, params, m->n_params * sizeof *params);
    free(params);
    return 0;
}

int snapshot_save_model(const char *dir, const gpt_dims_t *d, const float *params, uint32_t tokenizer_id,
                        const char *source)
{
    char path[4200];
    CALL(atomicfile_mkdirs(dir));
    snprintf(path, sizeof path, "%s/%s", dir, STATE_FILE);
    int32_t dims[5] = {d->V, d->T, d->L, d->NH, d->C}, world = 1;
    data_id_t data = {tokenizer_id, (uint32_t)d->V, 0};
    int64_t step = 0;
    ckptfile_writer_t w;
    CALL(ckptfile_begin(&w, path));
    if (ckptfile_add(&w, "dims", dims, sizeof dims) || ckptfile_add(&w, "data", &data, sizeof data) ||
        ckptfile_add(&w, "step", &step, sizeof step) || ckptfile_add(&w, "world", &world, sizeof world) ||
        ckptfile_add(&w, "params", params, gpt_param_count(d) * sizeof *params) ||
        ckptfile_add(&w, "source", source, strlen(source))) {
        ckptfile_abort(&w);
        return -1;
    }
    return ckptfile_commit(&w);
}

/* Reads one checkpoint into the trainer after checking it belongs to this experiment. */
static int restore(trainer_t *tr, const ckptfile_reader_t *r, int *world)
{
    gpt_dims_t d;
    data_id_t data;
    const void *text;
    size_t text_len;
    config_t saved = tr->cfg;
    config_mark_absent(&saved);
    CALL(read_model(r, &d, &data));
    CALL(ckptfile_view(r, "config", &text, &text_len));
    CALL(config_load_text(&saved, text, text_len, r->path));
    CALL(snapshot_same_experiment(&saved, &tr->cfg, r->path));
    if (data.tokenizer_id != tr->train_shard.tokenizer_id || data.n_tokens != tr->train_shard.n_tokens)
        return err_set("%s: trained on other data than %s (tokenizer id %08x, %llu tokens; now %08x, %llu)", r->path,
                       tr->cfg.train_path, data.tokenizer_id, (unsigned long long)data.n_tokens,
                       tr->train_shard.tokenizer_id, (unsigned long long)tr->train_shard.n_tokens);
    size_t pbytes = tr->model.n_params * sizeof(float);
    return ckptfile_get(r, "step", &tr->step, sizeof tr->step) || ckptfile_get(r, "world", world, sizeof *world) ||
           ckptfile_get(r, "params", tr->model.params, pbytes) || ckptfile_get(r, "adam_m", tr->opt.m, pbytes) ||
           ckptfile_get(r, "adam_v", tr->opt.v, pbytes) || ckptfile_get(r, "adam_t", &tr->opt.t, sizeof tr->opt.t) ||
           ckptfile_get(r, "rng", tr->rng.s, sizeof tr->rng.s) ||
           ckptfile_get(r, "loader", &tr->loader.cursor, sizeof tr->loader.cursor);
}

static int resume_rank0(trainer_t *tr, int *found, int *world)
{
    int64_t *steps;
    int n = list_steps(tr->dir, 1, &steps), rc = 0;
    for (int i = 0; i < n && !*found; i++) {
        char path[4200];
        step_path(path, sizeof path, tr->dir, steps[i], STATE_FILE);
        ckptfile_reader_t r;
        if (ckptfile_open(&r, path)) {
            fprintf(stderr, "il-train: warning: skipping unreadable checkpoint: %s\n", err_msg());
            continue;
        }
        rc = restore(tr, &r, world);
        ckptfile_close(&r);
        *found = 1;
    }
    free(steps);
    return rc;
}

int snapshot_resume(trainer_t *tr, int *found)
{
    int world = 0;
    *found = 0;
    if (dist_agree(tr->dist.rank == 0 ? resume_rank0(tr, found, &world) : 0)) return -1;
    CHECK_RC(MPI_Bcast(found, 1, MPI_INT, 0, MPI_COMM_WORLD), dist_strerror);
    if (!*found) return 0;
    int64_t ints[4] = {tr->step, tr->opt.t, (int64_t)tr->loader.cursor, world};
    CHECK_RC(MPI_Bcast(ints, 4, MPI_INT64_T, 0, MPI_COMM_WORLD), dist_strerror);
    CHECK_RC(MPI_Bcast(tr->rng.s, 4, MPI_UINT64_T, 0, MPI_COMM_WORLD), dist_strerror);
    float *bufs[3] = {tr->model.params, tr->opt.m, tr->opt.v};
    for (int i = 0; i < 3; i++)
        CHECK_RC(MPI_Bcast(bufs[i], (int)tr->model.n_params, MPI_FLOAT, 0, MPI_COMM_WORLD), dist_strerror);
    tr->step = ints[0];
    tr->opt.t = ints[1];
    tr->saved_step = tr->step;
    CALL(dist_agree(loader_restore(&tr->loader, (uint64_t)ints[2])));
    if (tr->dist.rank == 0 && ints[3] != tr->dist.size)
        runlog_printf(&tr->log, "checkpoint written by %lld ranks, continuing on %d: the global batch (%d) is the "
                                "same, so it is the same experiment (sums may differ in the last bits)",
                      (long long)ints[3], tr->dist.size, tr->cfg.global_batch);
    return 0;
}
