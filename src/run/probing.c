#include "run/probing.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/config.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/runlog.h"
#include "data/shard.h"
#include "run/ckptfile.h"
#include "run/rundir.h"
#include "run/snapshot.h"
#include "trace/params.h"
#include "trace/tracer.h"

/* What a checkpoint says beyond its model: its step, the config of the run that saved it (none for an
 * imported one) and where imported weights came from (none for a trained one). */
typedef struct {
    int64_t step;
    gpt_dims_t d;
    uint32_t tok; /* the tokenizer of its data */
    char *config, *source; /* malloc'd, NULL when absent */
} meta_t;

static char *section_text(const ckptfile_reader_t *r, const char *tag)
{
    const void *p;
    size_t n;
    if (ckptfile_view(r, tag, &p, &n)) return NULL;
    char *s = err_calloc(n + 1, 1);
    memcpy(s, p, n);
    return s;
}

static int read_meta(const char *path, meta_t *m)
{
    ckptfile_reader_t r;
    CALL(snapshot_open(&r, path));
    int rc = ckptfile_get(&r, "step", &m->step, sizeof m->step) || snapshot_read_model(&r, &m->d, &m->tok);
    m->config = section_text(&r, "config");
    m->source = section_text(&r, "source");
    ckptfile_close(&r);
    return rc;
}

static void meta_free(meta_t *m)
{
    free(m->config);
    free(m->source);
    memset(m, 0, sizeof *m);
}

/* The run's config: the checkpoint's own (so a trained run is probed with the trace keys it was traced
 * with), defaults for an imported one; the probe data in place of its training data; then the overrides. */
static int make_config(config_t *c, const meta_t *m, const probing_opts_t *o, const char *name, const char *ckpt)
{
    config_defaults(c);
    if (m->config) CALL(config_load_text(c, m->config, strlen(m->config), ckpt));
    if (snprintf(c->train_path, sizeof c->train_path, "%s", o->data) >= (int)sizeof c->train_path ||
        snprintf(c->out_dir, sizeof c->out_dir, "%s", o->out) >= (int)sizeof c->out_dir)
        return err_set("%s: path too long", strlen(o->data) >= sizeof c->train_path ? o->data : o->out);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->val_path[0] = c->counts_path[0] = '\0';
    for (int i = 0; i < o->n_sets; i++) CALL(config_set(c, o->sets[i]));
    if (c->trace_interval <= 0) c->trace_interval = 1; /* the tracer is on; which steps is the checkpoints' */
    return 0;
}

/* Collective: the model, and its activations for train.micro_batch windows a pass, must fit this rank's
 * share of the machine, or the probe is refused naming the key to lower, before anything is allocated. */
static int check_memory(const config_t *c, const gpt_dims_t *d, const char *ckpt)
{
    double params, acts;
    gpt_memory(d, c->micro_batch, &params, &acts);
    char how[256];
    double share = dist_memory_share(how, sizeof how);
    if (params + acts <= share) return 0;
    return err_set("%s: the model (V=%d T=%d L=%d NH=%d C=%d) with train.micro_batch = %d windows a pass needs "
                   "about %.2f GB per rank (parameters and gradients %.2f GB, activations %.2f GB): more than this "
                   "rank's share, %.2f GB (%s); lower train.micro_batch",
                   ckpt, d->V, d->T, d->L, d->NH, d->C, c->micro_batch, (params + acts) / 1e9, params / 1e9,
                   acts / 1e9, share / 1e9, how);
}

/* The data must be of the checkpoint's tokenizer, within its vocabulary. */
static int check_data(const shard_t *s, const char *data, uint32_t tok, int V, const char *ckpt)
{
    if (s->tokenizer_id != tok)
        return err_set("%s: tokenizer id %08x, but the checkpoint %s was made with tokenizer %08x", data,
                       s->tokenizer_id, ckpt, tok);
    if ((int)s->vocab_size > V)
        return err_set("%s: vocabulary of %u tokens, more than the %d of the checkpoint %s", data, s->vocab_size, V, ckpt);
    return 0;
}

int probing_check(const probing_opts_t *o, const char *ckpt, const shard_t *s, int ranks)
{
    meta_t meta = {0};
    config_t c;
    int rc = read_meta(ckpt, &meta);
    if (!rc) rc = make_config(&c, &meta, o, "check", ckpt);
    if (!rc) rc = config_validate(&c, ranks);
    if (!rc) rc = check_data(s, o->data, meta.tok, meta.d.V, ckpt);
    meta_free(&meta);
    return rc;
}

/* Whether dir holds nothing but what jobs/il-step.sh writes there around the step it runs (the exit code of
 * the last attempt, and the program's own): the run directory of a probe sweep's task (il-sweep), made empty
 * by il-step.sh before il-probe starts, or left by an attempt that failed before it took the lock. Nothing of
 * a user's is in it. */
static int step_records_only(const char *dir)
{
    static const char *const records[] = {".", "..", "exit_code", "exit_code.tmp", "exit_code.trainer"};
    DIR *d = opendir(dir);
    if (!d) return 0;
    int only = 1;
    for (struct dirent *e; only && (e = readdir(d));) {
        only = 0;
        for (size_t i = 0; i < sizeof records / sizeof *records; i++) only |= !strcmp(e->d_name, records[i]);
    }
    closedir(d);
    return only;
}

/* Rank 0: the run directory, new, locked. Its config.ini, written last, marks a probe that finished: a
 * directory with one, or one that is not a run directory (no lock file) and holds more than il-step.sh's
 * records, is refused; one without, whose lock no process holds, is what a probe that died left, and is
 * cleared. */
static int open_dir(rundir_t *d, const char *dir)
{
    char config[4300], lock[4300], trace[4300], launches[4300], first[4300];
    snprintf(config, sizeof config, "%s/config.ini", dir);
    snprintf(lock, sizeof lock, "%s/lock", dir);
    int exists = access(dir, F_OK) == 0;
    if (access(config, F_OK) == 0 || (exists && access(lock, F_OK) != 0 && !step_records_only(dir)))
        return err_set("%s: already exists; give another --out", dir);
    CALL(rundir_lock(d, dir));
    if (!exists) return 0;
    snprintf(trace, sizeof trace, "%s/trace", dir);
    snprintf(launches, sizeof launches, "%s/launches.jsonl", dir);
    rundir_clean(d, first, sizeof first);
    atomicfile_remove_tree(trace);
    if (unlink(launches) && errno != ENOENT) return err_set("%s: cannot remove: %s", launches, strerror(errno));
    return 0;
}

/* Checkpoint ckpt's weights into m, which must be of the same model. */
static int load_weights(gpt_t *m, const char *ckpt, uint32_t tok, meta_t *meta)
{
    gpt_dims_t d;
    float *params;
    uint32_t id;
    CALL(read_meta(ckpt, meta));
    CALL(snapshot_load_params(ckpt, &d, &params, &id));
    int rc = 0;
    if (memcmp(&d, &m->d, sizeof d) || id != tok)
        rc = err_set("%s: another model (dims or tokenizer) than the first checkpoint's", ckpt);
    else memcpy(m->params, params, m->n_params * sizeof *params);
    free(params);
    return rc;
}

/* Collective: one checkpoint, loaded in m, measured as a launch of its own (a provenance line, a trace
 * segment of one record, of its step): no update made these weights here, so the record has no training
 * values, which the trace allows only in a launch's first record. */
static int probe_one(const config_t *c, gpt_t *m, const shard_t *s, const char *data, int kind, const meta_t *meta,
                     const char *dir, const dist_t *w, int argc, char **argv)
{
    const runlog_data_t rd = {.tokenizer = trace_tokenizer_name(kind), .tokenizer_id = s->tokenizer_id,
                              .vocab_size = m->d.V, .source = meta->source};
    CALL(dist_agree(w->rank == 0 ? runlog_provenance(dir, c->seed, w->size, meta->step, &rd, argc, argv) : 0));
    tracer_t t;
    int rc = tracer_open(&t, c, m, s, kind, s, data, dir, w->rank, w->size, meta->step, argc, argv);
    tracewrite_rec_t rec = {meta->step, NAN, NAN, NAN, NAN, NAN, NAN, 0};
    if (!rc) rc = dist_agree(tracer_trace(&t, m, &rec));
    if (!rc) rc = dist_agree(tracer_sync(&t));
    tracer_close(&t);
    return rc;
}

int probing_run(const probing_opts_t *o, const char *name, char *const *ckpts, int n, int argc, char **argv)
{
    dist_t w;
    CHECK_RC(MPI_Comm_rank(MPI_COMM_WORLD, &w.rank), dist_strerror);
    CHECK_RC(MPI_Comm_size(MPI_COMM_WORLD, &w.size), dist_strerror);
    meta_t meta = {0};
    config_t c;
    int rc = read_meta(ckpts[0], &meta);
    if (!rc) rc = make_config(&c, &meta, o, name, ckpts[0]);
    if (!rc) rc = config_validate(&c, w.size);
    gpt_t m;
    uint32_t tok;
    if (!dist_agree(rc)) rc = dist_agree(check_memory(&c, &meta.d, ckpts[0]));
    if (!rc) rc = dist_agree(snapshot_load_model(ckpts[0], &m, c.micro_batch, &tok));
    if (rc) {
        meta_free(&meta);
        return -1;
    }
    shard_t s;
    int kind;
    rc = shard_open(&s, o->data);
    int have_shard = rc == 0;
    if (!rc) rc = check_data(&s, o->data, tok, m.d.V, ckpts[0]);
    if (!rc) rc = tracer_tokenizer(&c, tok, &kind);
    /* config.ini describes the model probed, whatever the defaults of an imported one say */
    c.vocab_size = m.d.V, c.seq_len = m.d.T, c.n_layer = m.d.L, c.n_head = m.d.NH, c.d_model = m.d.C;
    c.trace_full_every = 1; /* one record per checkpoint, each whole: no sparse sub-schedule */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", o->out, name);
    rundir_t rd = {.fd = -1};
    if (!dist_agree(rc)) rc = dist_agree(w.rank == 0 ? open_dir(&rd, dir) : 0);
    for (int i = 0; !rc && i < n; i++) {
        if (i > 0) {
            meta_free(&meta);
            if ((rc = dist_agree(load_weights(&m, ckpts[i], tok, &meta)))) break;
        }
        rc = probe_one(&c, &m, &s, o->data, kind, &meta, dir, &w, argc, argv);
    }
    if (!rc && w.rank == 0) {
        char path[4300];
        snprintf(path, sizeof path, "%s/config.ini", dir);
        rc = config_save(&c, path, ATOMICFILE_KEEP);
    }
    rc = dist_agree(rc);
    if (w.rank == 0) rundir_release(&rd, rc != 0);
    meta_free(&meta);
    if (have_shard) shard_free(&s);
    gpt_destroy(&m);
    return rc;
}

int probing_run_ckpts(const char *run_dir, char ***paths, int *n)
{
    char pattern[4200];
    snprintf(pattern, sizeof pattern, "%s/ckpt/step_*/COMPLETE", run_dir);
    glob_t g;
    *paths = NULL;
    *n = 0;
    if (glob(pattern, 0, NULL, &g) || g.gl_pathc == 0) {
        globfree(&g);
        return err_set("%s: no complete checkpoint in %s/ckpt", run_dir, run_dir);
    }
    /* glob sorts, and step_NNNNNNNN is zero-padded: ascending by step */
    *paths = err_calloc(g.gl_pathc, sizeof **paths);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *p = err_strdup(g.gl_pathv[i]);
        *strrchr(p, '/') = '\0';
        (*paths)[i] = p;
    }
    *n = (int)g.gl_pathc;
    globfree(&g);
    return 0;
}
