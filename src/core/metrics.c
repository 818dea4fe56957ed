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
#include "innerloop/schema.h"

/* The members of one line that matter. */
typedef struct {
    char kind[16];
    double step, loss, lr, grad_norm, tps, step_ms, val_loss, world_size, start_step;
    char bad[128]; /* the first member that is not what the trainer writes there */
    char host[256], array_job[256], array_task[256], restarts[256]; /* launches.jsonl; one size for on_member */
    char source[METRICS_SOURCE_LEN];                                 /* launches.jsonl: weights from elsewhere */
    int n_genre;
    char genre[METRICS_MAX_GENRES][METRICS_GENRE_LEN];
    double genre_loss[METRICS_MAX_GENRES];
} line_t;

/* The number member `key` (null: NaN), noting in l->bad a member of another kind. */
static double number(line_t *l, const char *parent, const char *key, json_kind_t kind, double num)
{
    if (kind != JSON_NUM && kind != JSON_NULL && !*l->bad)
        snprintf(l->bad, sizeof l->bad, "'%.24s%s%.40s' is not a number", parent ? parent : "", parent ? "." : "", key);
    return kind == JSON_NUM ? num : NAN;
}

static void on_member(void *user, const char *parent, const char *key, json_kind_t kind, double num, const char *str)
{
    line_t *l = user;
    if (parent) {
        if (!strcmp(parent, "by_category") && l->n_genre < METRICS_MAX_GENRES) {
            snprintf(l->genre[l->n_genre], METRICS_GENRE_LEN, "%s", key);
            l->genre_loss[l->n_genre++] = number(l, parent, key, kind, num);
        }
        return;
    }
    double *to_num = !strcmp(key, "step")          ? &l->step
                     : !strcmp(key, "loss")         ? &l->loss
                     : !strcmp(key, "lr")           ? &l->lr
                     : !strcmp(key, "grad_norm")    ? &l->grad_norm
                     : !strcmp(key, "tokens_per_s") ? &l->tps
                     : !strcmp(key, "step_ms")      ? &l->step_ms
                     : !strcmp(key, "val_loss")     ? &l->val_loss
                     : !strcmp(key, "world_size")   ? &l->world_size
                     : !strcmp(key, "start_step")   ? &l->start_step
                                                    : NULL;
    if (!strcmp(key, "kind") && kind == JSON_STR) snprintf(l->kind, sizeof l->kind, "%s", str);
    else if (to_num) *to_num = number(l, NULL, key, kind, num);
    else if (kind == JSON_STR) { /* launches.jsonl's strings */
        char *to = !strcmp(key, "host")                  ? l->host
                   : !strcmp(key, "SLURM_ARRAY_JOB_ID")  ? l->array_job
                   : !strcmp(key, "SLURM_ARRAY_TASK_ID") ? l->array_task
                   : !strcmp(key, "SLURM_RESTART_COUNT") ? l->restarts
                                                         : NULL;
        if (to) snprintf(to, sizeof l->host, "%s", str);
        if (!strcmp(key, "source")) snprintf(l->source, sizeof l->source, "%s", str);
        /* Slurm sets SLURM_RESTART_COUNT only after a restart: in a job without it, this is attempt 1 */
        if (!strcmp(key, "SLURM_JOB_ID") && !*l->restarts) snprintf(l->restarts, sizeof l->restarts, "0");
    }
}

static void reset(line_t *l)
{
    l->kind[0] = l->host[0] = l->array_job[0] = l->array_task[0] = l->restarts[0] = l->bad[0] = l->source[0] = '\0';
    l->n_genre = 0;
    l->step = l->loss = l->lr = l->grad_norm = l->tps = l->step_ms = l->val_loss = l->world_size = l->start_step = NAN;
}

/* Whether x is a loss a trainer can log: the trace schema's domain of a loss (innerloop/schema.h). */
static int loss_ok(double x)
{
    const trace_value_t none[TP_N] = {{0}};
    double lo, hi;
    trace_domain_range(DK_LOSS, none, &lo, &hi);
    return x >= lo && x <= hi;
}

/* Why a train or val line is not one the trainer writes (into why, n bytes), or 0: a step that is no whole
 * number in [1, max_steps] ([0, max_steps] for a validation, which step 0 has), a loss outside the trace
 * schema's domain of a loss or (train lines) missing, a negative or infinite rate, norm or time. */
static int line_bad(const line_t *l, int64_t max_steps, char *why, size_t n)
{
    int train = !strcmp(l->kind, "train");
    double hi = max_steps > 0 ? (double)max_steps : INFINITY;
    if (*l->bad) return snprintf(why, n, "%s", l->bad), 1;
    if (!(l->step >= train && l->step <= hi && l->step == floor(l->step)))
        return snprintf(why, n, "'step' = %g is not a whole number in [%d, %g]", l->step, train, hi), 1;
    const struct {
        const char *name;
        double v;
        int loss, optional;
    } f[] = {{"loss", l->loss, 1, !train},  {"lr", l->lr, 0, 1},           {"grad_norm", l->grad_norm, 0, 1},
             {"tokens_per_s", l->tps, 0, 1}, {"step_ms", l->step_ms, 0, 1}, {"val_loss", l->val_loss, 1, 1}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (isnan(f[i].v) && f[i].optional) continue;
        if (f[i].loss ? !loss_ok(f[i].v) : !(f[i].v >= 0 && isfinite(f[i].v)))
            return snprintf(why, n, "'%s' = %g is outside %s", f[i].name, f[i].v,
                            f[i].loss ? "[0, 1000]" : "[0, inf)"), 1;
    }
    for (int g = 0; g < l->n_genre; g++)
        if (!isnan(l->genre_loss[g]) && !loss_ok(l->genre_loss[g]))
            return snprintf(why, n, "'by_category.%.40s' = %g is outside [0, 1000]", l->genre[g], l->genre_loss[g]), 1;
    return 0;
}

/* Train and val lines in order: a line whose step is not past the last of its kind belongs to a later
 * launch that restarted from an earlier checkpoint, if launches.jsonl records one after the current launch
 * that started at or before it (before it for a train line, which follows an update); otherwise it is out
 * of order (a reordered or edited file) and is not used. */
typedef struct {
    const double *start; /* start_step of each launch, in order */
    int n;
    int launch[2];   /* per kind (train, val): the launch the last line belongs to */
    double last[2];  /* and its step */
} order_t;

static int in_order(order_t *o, const line_t *l, char *why, size_t n)
{
    int k = !strcmp(l->kind, "val");
    if (o->launch[k] < 0 || l->step > o->last[k]) {
        o->launch[k] = o->launch[k] < 0 ? 0 : o->launch[k], o->last[k] = l->step;
        return 1;
    }
    for (int j = o->launch[k] + 1; j < o->n; j++)
        if (k ? o->start[j] <= l->step : o->start[j] < l->step) {
            o->launch[k] = j, o->last[k] = l->step;
            return 1;
        }
    snprintf(why, n, "%s step %g after step %g, and launches.jsonl has no later launch that restarted there",
             l->kind, l->step, o->last[k]);
    return 0;
}

/* Notes the first of a kind of rejected line: its number and why. */
static void note(int *count, int *first, char *reason, size_t n, int lineno, const char *why)
{
    if (!(*count)++) *first = lineno, snprintf(reason, n, "%s", why);
}

static void take_train(metrics_t *m, const line_t *l, double **tps, int *n, int *cap)
{
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

/* One pass over a run's metrics.jsonl that yields the train and val lines it uses, in file order, and counts
 * the others in the metrics_t given to lines_next. */
typedef struct {
    FILE *f;
    char *buf;
    size_t cap;
    int lineno;
    int64_t max_steps;
    double *start; /* launches.jsonl's start steps, for the order */
    order_t order;
} lines_t;

/* Reads launches.jsonl (the last launch's fields into m, every launch's start step) and opens metrics.jsonl.
 * Returns 1, 0 when metrics.jsonl does not exist, -1 with err_set() when a file cannot be read. */
static int lines_open(lines_t *ls, const char *run_dir, int64_t max_steps, metrics_t *m)
{
    memset(ls, 0, sizeof *ls);
    ls->max_steps = max_steps;
    line_t l;
    int missing, cap = 0;
    FILE *f = open_in(run_dir, "launches.jsonl", &missing);
    if (!f && !missing) return -1;
    while (f && getline(&ls->buf, &ls->cap, f) > 0) {
        reset(&l);
        /* A launch line ends with its argv, an array, which jsonl_parse rejects after it has passed on the
         * members before it: those are the ones read here. */
        jsonl_parse(ls->buf, on_member, &l);
        if (!*l.kind && isfinite(l.start_step)) {
            if (ls->order.n == cap) {
                cap = cap ? 2 * cap : 16;
                ls->start = realloc(ls->start, (size_t)cap * sizeof *ls->start);
                CHECK(ls->start, "out of memory");
            }
            ls->start[ls->order.n++] = l.start_step;
        }
        if (*l.kind || !*l.host) continue; /* not a launch record, or one cut off by a kill */
        if (isfinite(l.world_size)) m->world_size = (int)l.world_size;
        snprintf(m->launch_host, sizeof m->launch_host, "%s", l.host);
        m->launch_task[0] = '\0';
        if (*l.array_job && *l.array_task)
            snprintf(m->launch_task, sizeof m->launch_task, "%s_%s", l.array_job, l.array_task);
        m->launch_restarts = *l.restarts ? atoi(l.restarts) : -1;
        snprintf(m->launch_source, sizeof m->launch_source, "%s", l.source);
    }
    if (f) fclose(f);
    ls->order.start = ls->start;
    ls->order.launch[0] = ls->order.launch[1] = -1;
    ls->f = open_in(run_dir, "metrics.jsonl", &missing);
    if (ls->f) return 1;
    free(ls->buf);
    free(ls->start);
    return missing ? 0 : -1;
}

/* The next train or val line that is used into l: 1, or 0 at the end. The others go into m's counts. */
static int lines_next(lines_t *ls, line_t *l, metrics_t *m)
{
    char why[200];
    while (getline(&ls->buf, &ls->cap, ls->f) > 0) {
        ls->lineno++;
        reset(l);
        if (jsonl_parse(ls->buf, on_member, l)) {
            note(&m->bad_lines, &m->first_bad, m->bad_reason, sizeof m->bad_reason, ls->lineno, "not a JSON object");
            continue;
        }
        if (strcmp(l->kind, "train") && strcmp(l->kind, "val")) continue;
        if (line_bad(l, ls->max_steps, why, sizeof why))
            note(&m->bad_lines, &m->first_bad, m->bad_reason, sizeof m->bad_reason, ls->lineno, why);
        else if (!in_order(&ls->order, l, why, sizeof why))
            note(&m->out_of_order, &m->first_out_of_order, m->order_reason, sizeof m->order_reason, ls->lineno, why);
        else
            return 1;
    }
    return 0;
}

/* Closes the pass; returns -1 with err_set() on a read error. */
static int lines_close(lines_t *ls, const char *run_dir)
{
    int bad = ferror(ls->f);
    fclose(ls->f);
    free(ls->buf);
    free(ls->start);
    return bad ? err_set("%s/metrics.jsonl: read error", run_dir) : 0;
}

int metrics_read(metrics_t *m, const char *run_dir, int64_t max_steps)
{
    memset(m, 0, sizeof *m);
    m->train_loss = m->tokens_per_s = m->train_tokens_per_s = m->val_loss = NAN;
    m->launch_restarts = -1;
    lines_t ls;
    int rc = lines_open(&ls, run_dir, max_steps, m);
    if (rc <= 0) return rc;
    double *tps = NULL;
    int n_tps = 0, cap_tps = 0;
    for (line_t l; lines_next(&ls, &l, m);)
        if (!strcmp(l.kind, "train")) take_train(m, &l, &tps, &n_tps, &cap_tps);
        else take_val(m, &l);
    m->tokens_per_s = stats_median(tps, n_tps);
    free(tps);
    return lines_close(&ls, run_dir) ? -1 : 1;
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
    int cap = 0, vcap = 0;
    metrics_t scratch = {0}; /* the counts are metrics_read's to report */
    lines_t ls;
    int rc = lines_open(&ls, run_dir, 0, &scratch);
    if (rc <= 0) return rc;
    double **train[] = {&c->step, &c->loss, &c->lr, &c->grad_norm}, **val[] = {&c->val_step, &c->val_loss};
    for (line_t l; lines_next(&ls, &l, &scratch);) {
        if (!strcmp(l.kind, "train")) {
            grow(train, 4, c->n, &cap);
            c->step[c->n] = l.step, c->loss[c->n] = l.loss, c->lr[c->n] = l.lr, c->grad_norm[c->n] = l.grad_norm;
            c->n++;
        } else if (isfinite(l.val_loss)) {
            grow(val, 2, c->n_val, &vcap);
            c->val_step[c->n_val] = l.step, c->val_loss[c->n_val] = l.val_loss;
            c->n_val++;
        }
    }
    if (lines_close(&ls, run_dir) == 0) return 1;
    metrics_curves_free(c);
    return -1;
}

void metrics_curves_free(metrics_curves_t *c)
{
    free(c->step), free(c->loss), free(c->lr), free(c->grad_norm), free(c->val_step), free(c->val_loss);
    memset(c, 0, sizeof *c);
}
