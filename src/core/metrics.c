#include "core/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/jsonl.h"
#include "core/stats.h"

/* The members of one line that matter. */
typedef struct {
    char kind[16];
    double step, loss, lr, grad_norm, tps, val_loss, world_size;
    char host[256], array_job[256], array_task[256], restarts[256]; /* launches.jsonl; one size for on_member */
    int n_genre;
    char genre[METRICS_MAX_GENRES][METRICS_GENRE_LEN];
    double genre_loss[METRICS_MAX_GENRES];
} line_t;

static void on_member(void *user, const char *parent, const char *key, json_kind_t kind, double num, const char *str)
{
    line_t *l = user;
    double v = kind == JSON_NUM ? num : NAN;
    if (parent) {
        if (!strcmp(parent, "by_category") && l->n_genre < METRICS_MAX_GENRES) {
            snprintf(l->genre[l->n_genre], METRICS_GENRE_LEN, "%s", key);
            l->genre_loss[l->n_genre++] = v;
        }
        return;
    }
    if (!strcmp(key, "kind") && kind == JSON_STR) snprintf(l->kind, sizeof l->kind, "%s", str);
    else if (!strcmp(key, "step")) l->step = v;
    else if (!strcmp(key, "loss")) l->loss = v;
    else if (!strcmp(key, "lr")) l->lr = v;
    else if (!strcmp(key, "grad_norm")) l->grad_norm = v;
    else if (!strcmp(key, "tokens_per_s")) l->tps = v;
    else if (!strcmp(key, "val_loss")) l->val_loss = v;
    else if (!strcmp(key, "world_size")) l->world_size = v;
    else if (kind == JSON_STR) { /* launches.jsonl's strings */
        char *to = !strcmp(key, "host")                  ? l->host
                   : !strcmp(key, "SLURM_ARRAY_JOB_ID")  ? l->array_job
                   : !strcmp(key, "SLURM_ARRAY_TASK_ID") ? l->array_task
                   : !strcmp(key, "SLURM_RESTART_COUNT") ? l->restarts
                                                         : NULL;
        if (to) snprintf(to, sizeof l->host, "%s", str);
        /* Slurm sets SLURM_RESTART_COUNT only after a restart: in a job without it, this is attempt 1 */
        if (!strcmp(key, "SLURM_JOB_ID") && !*l->restarts) snprintf(l->restarts, sizeof l->restarts, "0");
    }
}

static void reset(line_t *l)
{
    l->kind[0] = l->host[0] = l->array_job[0] = l->array_task[0] = l->restarts[0] = '\0', l->n_genre = 0;
    l->step = l->loss = l->lr = l->grad_norm = l->tps = l->val_loss = l->world_size = NAN;
}

static void take_train(metrics_t *m, const line_t *l, double **tps, int *n, int *cap)
{
    if (!isfinite(l->step)) return;
    m->have_train = 1, m->train_step = (int64_t)l->step, m->train_loss = l->loss, m->train_tokens_per_s = l->tps;
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        *tps = realloc(*tps, (size_t)*cap * sizeof **tps);
        CHECK(*tps, "out of memory");
    }
    (*tps)[(*n)++] = l->tps;
}

static void take_val(metrics_t *m, const line_t *l)
{
    if (isfinite(l->val_loss)) m->have_val = 1, m->val_step = (int64_t)l->step, m->val_loss = l->val_loss;
    if (!l->n_genre) return;
    m->n_genre = l->n_genre;
    memcpy(m->genre, l->genre, sizeof m->genre);
    memcpy(m->genre_loss, l->genre_loss, sizeof m->genre_loss);
}

/* <dir>/<name> if it is a regular file; NULL with *missing set when it does not exist, and with err_set()
 * when it exists but cannot be read (a FIFO, a device or a directory included: reading one could block). */
static FILE *open_in(const char *dir, const char *name, int *missing)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *missing = stat(path, &st) != 0 && errno == ENOENT;
    return *missing ? NULL : bytes_fopen_regular(path);
}

int metrics_read(metrics_t *m, const char *run_dir)
{
    memset(m, 0, sizeof *m);
    m->train_loss = m->tokens_per_s = m->train_tokens_per_s = m->val_loss = NAN;
    m->launch_restarts = -1;
    line_t l;
    char *buf = NULL;
    size_t cap = 0;
    int missing;
    FILE *f = open_in(run_dir, "launches.jsonl", &missing);
    if (!f && !missing) return -1;
    while (f && getline(&buf, &cap, f) > 0) {
        reset(&l);
        /* A launch line ends with its argv, an array, which jsonl_parse rejects after it has passed on the
         * members before it: those are the ones read here. */
        jsonl_parse(buf, on_member, &l);
        if (*l.kind || !*l.host) continue; /* not a launch record, or one cut off by a kill */
        if (isfinite(l.world_size)) m->world_size = (int)l.world_size;
        snprintf(m->launch_host, sizeof m->launch_host, "%s", l.host);
        m->launch_task[0] = '\0';
        if (*l.array_job && *l.array_task)
            snprintf(m->launch_task, sizeof m->launch_task, "%s_%s", l.array_job, l.array_task);
        m->launch_restarts = *l.restarts ? atoi(l.restarts) : -1;
    }
    if (f) fclose(f);
    f = open_in(run_dir, "metrics.jsonl", &missing);
    if (!f) {
        free(buf);
        return missing ? 0 : -1;
    }
    double *tps = NULL;
    int n_tps = 0, cap_tps = 0;
    for (int lineno = 1; getline(&buf, &cap, f) > 0; lineno++) {
        reset(&l);
        if (jsonl_parse(buf, on_member, &l)) {
            if (!m->bad_lines++) m->first_bad = lineno;
        } else if (!strcmp(l.kind, "train")) {
            take_train(m, &l, &tps, &n_tps, &cap_tps);
        } else if (!strcmp(l.kind, "val")) {
            take_val(m, &l);
        }
    }
    int bad = ferror(f);
    fclose(f);
    free(buf);
    m->tokens_per_s = stats_median(tps, n_tps);
    free(tps);
    if (bad) return err_set("%s/metrics.jsonl: read error", run_dir);
    return 1;
}

/* Room for one more element in each of the k arrays a[] of n elements and capacity *cap. */
static void grow(double **const *a, int k, int n, int *cap)
{
    if (n < *cap) return;
    *cap = *cap ? 2 * *cap : 1024;
    for (int i = 0; i < k; i++) {
        *a[i] = realloc(*a[i], (size_t)*cap * sizeof **a[i]);
        CHECK(*a[i], "out of memory");
    }
}

int metrics_curves(metrics_curves_t *c, const char *run_dir)
{
    memset(c, 0, sizeof *c);
    int missing, cap = 0, vcap = 0;
    FILE *f = open_in(run_dir, "metrics.jsonl", &missing);
    if (!f) return missing ? 0 : -1;
    char *buf = NULL;
    size_t bcap = 0;
    line_t l;
    double **train[] = {&c->step, &c->loss, &c->lr, &c->grad_norm}, **val[] = {&c->val_step, &c->val_loss};
    while (getline(&buf, &bcap, f) > 0) {
        reset(&l);
        if (jsonl_parse(buf, on_member, &l) || !isfinite(l.step)) continue;
        if (!strcmp(l.kind, "train")) {
            grow(train, 4, c->n, &cap);
            c->step[c->n] = l.step, c->loss[c->n] = l.loss, c->lr[c->n] = l.lr, c->grad_norm[c->n] = l.grad_norm;
            c->n++;
        } else if (!strcmp(l.kind, "val") && isfinite(l.val_loss)) {
            grow(val, 2, c->n_val, &vcap);
            c->val_step[c->n_val] = l.step, c->val_loss[c->n_val] = l.val_loss;
            c->n_val++;
        }
    }
    int bad = ferror(f);
    fclose(f);
    free(buf);
    if (bad) {
        metrics_curves_free(c);
        return err_set("%s/metrics.jsonl: read error", run_dir);
    }
    return 1;
}

void metrics_curves_free(metrics_curves_t *c)
{
    free(c->step), free(c->loss), free(c->lr), free(c->grad_norm), free(c->val_step), free(c->val_loss);
    memset(c, 0, sizeof *c);
}
