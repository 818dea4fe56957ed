#include "sweep/status.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/atomicfile.h"
#include "core/config.h"
#include "core/err.h"
#include "sweep/slurm.h"

const char *const status_names[ST_N] = {"new", "pending", "running", "requeued", "done", "failed", "preempted"};

/* jobs.tsv has one line per submitted job: "array<TAB>JOBID<TAB>OFFSET<TAB>IDS" or "aggregate<TAB>JOBID".
 * A run's task is the one in the latest array that holds it. */
static void latest_tasks(const sweepdir_t *w, status_run_t *rs)
{
    char path[PATH_MAX + 64];
    sweepdir_path(w, path, sizeof path, "jobs.tsv");
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[8192], kind[16], job[32], ids_spec[4096];
    int offset, n = sweepdir_n_runs(w);
    int *ids = err_calloc((size_t)n, sizeof *ids);
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%15s %31s %d %4095s", kind, job, &offset, ids_spec) != 4 || strcmp(kind, "array")) continue;
        int k = slurm_parse_ids(ids_spec, ids, n);
        for (int i = 0; i < k; i++)
            if (ids[i] + offset < n) snprintf(rs[ids[i] + offset].task, sizeof rs[0].task, "%s_%d", job, ids[i]);
    }
    free(ids);
    fclose(f);
}

/* The rest of the line of `out` that starts "TASK|" (squeue may pad TASK with spaces), the last such line
 * when there are several (sacct -D: one per attempt, the latest last). Returns how many there were. */
static int lookup(const char *out, const char *task, char *rest, size_t n)
{
    size_t len = strlen(task);
    int found = 0;
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, task, len)) continue;
        const char *q = p + len + strspn(p + len, " ");
        if (*q != '|') continue;
        snprintf(rest, n, "%.*s", (int)strcspn(q + 1, "\n"), q + 1);
        found++;
    }
    return found;
}

/* Splits a line of '|'-separated fields in place, each trimmed of padding; returns how many (at most max;
 * the missing ones point at ""). */
static int split_fields(char *line, char **f, int max)
{
    int k = 0;
    for (char *p = line; k < max;) {
        p += strspn(p, " ");
        f[k++] = p;
        char *bar = strchr(p, '|'), *end = bar ? bar : p + strlen(p);
        while (end > p && end[-1] == ' ') end--;
        if (!bar) {
            *end = '\0';
            break;
        }
        *end = '\0';
        p = bar + 1;
    }
    for (int i = k; i < max; i++) f[i] = "";
    return k;
}

/* Seconds of a Slurm duration, as sbatch --time takes it ("M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S")
 * and squeue and sacct print it; -1 for anything else ("UNLIMITED", "", "INVALID"). */
static long parse_duration(const char *s)
{
    long v[3] = {0}, days = 0;
    int k = 0;
    const char *p = s;
    char *end;
    if (strchr(s, '-')) {
        days = strtol(s, &end, 10);
        if (end == s || *end != '-') return -1;
        p = end + 1;
    }
    while (k < 3) {
        if (*p < '0' || *p > '9') return -1;
        v[k++] = strtol(p, &end, 10);
        p = end;
        if (*p != ':') break;
        p++;
    }
    if (*p) return -1;
    if (strchr(s, '-')) /* hours first */
        return days * 86400 + v[0] * 3600 + (k > 1 ? v[1] * 60 : 0) + (k > 2 ? v[2] : 0);
    return k == 1 ? v[0] * 60 : k == 2 ? v[0] * 60 + v[1] : v[0] * 3600 + v[1] * 60 + v[2];
}

static int read_exit_code(const sweepdir_t *w, const char *name)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/runs/%s/exit_code", w->dir, name);
    FILE *f = fopen(path, "r");
    int code = -1;
    if (f) {
        if (fscanf(f, "%d", &code) != 1) code = -1;
        fclose(f);
    }
    return code;
}

/* train.max_steps of the run's config as submitted; -1 when it cannot be read. */
static long long read_max_steps(const sweepdir_t *w, const char *name)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/configs/%s.ini", w->dir, name);
    config_t cfg;
    config_defaults(&cfg);
    config_mark_absent(&cfg);
    return config_load(&cfg, path) ? -1 : cfg.max_steps;
}

/* sacct's -S: without it sacct reports only the jobs since midnight, and a sweep may be days old. sacct
 * selects the jobs that were in any state after -S, so -S must come before the end of each run's latest
 * task: the last (re)submission wrote manifest.tsv before every task still queued then, and a task that
 * ended earlier wrote its log, last, before it ended. An hour of slack covers a file server's clock. */
static void sacct_since(const sweepdir_t *w, char *buf, size_t n)
{
    char path[PATH_MAX + 300];
    struct stat st;
    time_t t = time(NULL);
    sweepdir_path(w, path, sizeof path, "manifest.tsv");
    if (stat(path, &st) == 0 && st.st_mtime < t) t = st.st_mtime;
    sweepdir_path(w, path, sizeof path, "logs");
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/logs/%s", w->dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < t) t = st.st_mtime;
    }
    if (d) closedir(d);
    t -= 3600;
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm)) snprintf(buf, n, "now-7days");
}

/* The details of a task still in squeue's list: q is "STATE|REASON|USED|LIMIT|NODES|RESTARTS". */
static void queue_details(status_run_t *r, char *q)
{
    char *f[6];
    split_fields(q, f, 6);
    r->elapsed_s = parse_duration(f[2]);
    r->limit_s = parse_duration(f[3]);
    snprintf(r->node, sizeof r->node, "%s", f[4]);
    char *end;
    long restarts = strtol(f[5], &end, 10);
    if (end != f[5] && !*end && restarts >= 0) r->attempt = (int)restarts + 1;
}

/* The details of a task that left the queue, from sacct: a is "STATE|EXITCODE|ELAPSED|TIMELIMIT|NODELIST"
 * of its latest record, one of `records` (sacct -D keeps one per attempt). */
static void acct_details(status_run_t *r, char *a, int records)
{
    char *f[5];
    split_fields(a, f, 5);
    int code, sig;
    /* a job cancelled before it started also says 0:0: only a completed one exited 0 */
    if (r->exit_code < 0 && sscanf(f[1], "%d:%d", &code, &sig) == 2 && (code || sig || !strcmp(f[0], "COMPLETED")))
        r->exit_code = sig ? 128 + sig : code;
    r->elapsed_s = parse_duration(f[2]);
    r->limit_s = parse_duration(f[3]);
    if (strcmp(f[4], "None assigned")) snprintf(r->node, sizeof r->node, "%s", f[4]);
    r->attempt = records;
}

/* Slurm's word first (a queued or running task), then the task's own exit marker, then sacct for a task
 * that left neither: accounting storage is often absent, so sacct is only a refinement. With details, the
 * run's own files stand in for what Slurm no longer knows. */
static void collect(const sweepdir_t *w, status_run_t *rs, int details)
{
    int n = sweepdir_n_runs(w);
    static char queue[1 << 22], acct[1 << 22];
    char name_opt[128], since[64];
    snprintf(name_opt, sizeof name_opt, "--name=%s", w->spec.name);
    char *squeue[] = {"squeue", "-h", "-r", name_opt, "-O",
                      "JobArrayID:|,State:|,Reason:|,TimeUsed:|,TimeLimit:|,NodeList:|,RestartCnt:", NULL};
    /* -O for the restart count, which -o has no letter for; should a squeue not know a field, the state
     * still comes from -o: without it, queued runs would look failed and be submitted again */
    char *squeue_o[] = {"squeue", "-h", "-r", name_opt, "-o", "%i|%T|%r|%M|%l|%N", NULL};
    if (slurm_capture(squeue, queue, sizeof queue, 1) != 0 && slurm_capture(squeue_o, queue, sizeof queue, 1) != 0)
        queue[0] = '\0';
    char *sacct[] = {"sacct", "-n", "-P", "-X", "-D", "-S", since, name_opt,
                     "-o", "JobID,State,ExitCode,Elapsed,Timelimit,NodeList", NULL};
    int have_acct = -1; /* asked lazily, once */
    long spec_limit = parse_duration(w->spec.time);
    for (int i = 0; i < n; i++) {
        rs[i].exit_code = -1;
        rs[i].slurm[0] = rs[i].node[0] = '\0';
        rs[i].elapsed_s = rs[i].limit_s = -1;
        rs[i].max_steps = -1;
        rs[i].attempt = -1;
    }
    latest_tasks(w, rs);
    for (int i = 0; i < n; i++) {
        status_run_t *r = &rs[i];
        char run_dir[PATH_MAX + 256], q[512], a[512];
        snprintf(run_dir, sizeof run_dir, "%s/runs/%s", w->dir, sweepdir_run_name(w, i));
        if (metrics_read(&r->m, run_dir, 0) < 0) {
            r->m = (metrics_t){0};
            r->m.train_loss = r->m.train_tokens_per_s = r->m.val_loss = NAN;
        }
        r->exit_code = read_exit_code(w, sweepdir_run_name(w, i));
        int queued = *r->task && lookup(queue, r->task, q, sizeof q), records = 0;
        if (queued) {
            char *f[2], copy[sizeof q];
            snprintf(copy, sizeof copy, "%s", q);
            split_fields(copy, f, 2);
            snprintf(r->slurm, sizeof r->slurm, "%s%s%s", f[0], strcmp(f[1], "None") ? "|" : "",
                     strcmp(f[1], "None") ? f[1] : "");
            int waiting = !strncmp(f[0], "PENDING", 7) || !strncmp(f[0], "REQUEUE", 7);
            r->state = !waiting ? ST_RUNNING
                       : r->exit_code == IL_EXIT_PREEMPTED || !strncmp(f[0], "REQUEUE", 7) ? ST_REQUEUED
                                                                                          : ST_PENDING;
            if (details) queue_details(r, q);
        } else {
            if (*r->task && (details || r->exit_code < 0)) {
                if (have_acct < 0) {
                    sacct_since(w, since, sizeof since); /* fills sacct's -S */
                    have_acct = slurm_capture(sacct, acct, sizeof acct, 1) == 0;
                }
                records = have_acct ? lookup(acct, r->task, a, sizeof a) : 0;
            }
            if (r->exit_code == 0) {
                r->state = ST_DONE;
            } else if (r->exit_code == IL_EXIT_PREEMPTED) {
                r->state = ST_PREEMPTED;
            } else if (r->exit_code > 0 || *r->task) {
                r->state = ST_FAILED;
                if (r->exit_code < 0 && !records) snprintf(r->slurm, sizeof r->slurm, "left no exit record");
                else if (r->exit_code < 0) snprintf(r->slurm, sizeof r->slurm, "%.*s", (int)strcspn(a, "|"), a);
            } else {
                r->state = ST_NEW;
            }
            if (details && records) acct_details(r, a, records);
        }
        if (!details) continue;
        r->max_steps = read_max_steps(w, sweepdir_run_name(w, i));
        if (r->limit_s < 0) r->limit_s = spec_limit; /* what each attempt gets (or would get) */
        /* The run's own record of its last launch, for a task Slurm has forgotten (no accounting) */
        int launched_here = *r->task && !strcmp(r->m.launch_task, r->task);
        if (!queued && !*r->node && *r->m.launch_host && (launched_here || !*r->task))
            snprintf(r->node, sizeof r->node, "%.*s", (int)sizeof r->node - 1, r->m.launch_host); /* shown cut */
        if (r->attempt < 0 && launched_here && r->m.launch_restarts >= 0) r->attempt = r->m.launch_restarts + 1;
    }
}

void status_collect(const sweepdir_t *w, status_run_t *rs) { collect(w, rs, 0); }

void status_collect_details(const sweepdir_t *w, status_run_t *rs) { collect(w, rs, 1); }

/* The runs whose state is one of `want` (a mask over state_t), ascending. */
int status_select(const sweepdir_t *w, unsigned want, int **idx)
{
    int n = sweepdir_n_runs(w), k = 0;
    status_run_t *rs = err_calloc((size_t)n, sizeof *rs);
    status_collect(w, rs);
    *idx = err_calloc((size_t)n + 1, sizeof **idx);
    for (int i = 0; i < n; i++)
        if (want & (1u << rs[i].state)) (*idx)[k++] = i;
    free(rs);
    return k;
}

int status_parse_states(const char *list, unsigned *mask, char *bad, size_t n)
{
    *mask = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        int s = 0;
        while (s < ST_N && (strlen(status_names[s]) != len || strncmp(p, status_names[s], len))) s++;
        if (s == ST_N) {
            snprintf(bad, n, "%.*s", (int)len, p);
            return -1;
        }
        *mask |= 1u << s;
        p += len;
        if (!*p) return 0;
    }
}

static void fmt_loss(char *buf, size_t n, double v)
{
    if (isnan(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.4f", v);
}

static void fmt_step(char *buf, size_t n, const metrics_t *m)
{
    if (!m->have_train) snprintf(buf, n, "-");
    else snprintf(buf, n, "%lld", (long long)m->train_step);
}

/* Compact durations for an 80-column table: "4:05" (minutes), "1h05", "2d03h". */
static int fmt_duration(char *buf, size_t n, long s)
{
    if (s < 0) return snprintf(buf, n, "-");
    if (s < 3600) return snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
    if (s < 86400) return snprintf(buf, n, "%ldh%02ld", s / 3600, s / 60 % 60);
    return snprintf(buf, n, "%ldd%02ldh", s / 86400, s / 3600 % 24);
}

const char *const status_col_names[SC_N] = {"idx",   "run",  "state", "task", "step", "loss", "val",
                                           "tok/s", "time", "node",  "exit", "try",  "slurm"};
const int status_col_right[SC_N] = {[SC_STEP] = 1, [SC_LOSS] = 1, [SC_VAL] = 1, [SC_TPS] = 1,
                                    [SC_TIME] = 1, [SC_EXIT] = 1, [SC_TRY] = 1};

static void fmt_number(status_cell_t c, const char *fmt, double v, int have)
{
    if (have && isfinite(v)) snprintf(c, sizeof(status_cell_t), fmt, v);
    else snprintf(c, sizeof(status_cell_t), "-");
}

void status_row(status_cell_t *c, const sweepdir_t *w, int i, const status_run_t *r)
{
    const metrics_t *m = &r->m;
    snprintf(c[SC_IDX], sizeof *c, "%d", i);
    snprintf(c[SC_RUN], sizeof *c, "%s", sweepdir_run_name(w, i));
    snprintf(c[SC_STATE], sizeof *c, "%s", status_names[r->state]);
    snprintf(c[SC_TASK], sizeof *c, "%s", *r->task ? r->task : "-");
    if (!m->have_train && r->max_steps < 0) snprintf(c[SC_STEP], sizeof *c, "-");
    else if (!m->have_train) snprintf(c[SC_STEP], sizeof *c, "-/%lld", r->max_steps);
    else if (r->max_steps < 0) snprintf(c[SC_STEP], sizeof *c, "%lld/-", (long long)m->train_step);
    else snprintf(c[SC_STEP], sizeof *c, "%lld/%lld", (long long)m->train_step, r->max_steps);
    fmt_number(c[SC_LOSS], "%.3f", m->train_loss, m->have_train);
    fmt_number(c[SC_VAL], "%.3f", m->val_loss, m->have_val);
    double t = m->have_train ? m->train_tokens_per_s : NAN;
    if (isnan(t)) snprintf(c[SC_TPS], sizeof *c, "-");
    else if (t < 1e4) snprintf(c[SC_TPS], sizeof *c, "%.0f", t);
    else if (t < 1e6) snprintf(c[SC_TPS], sizeof *c, "%.0fk", t / 1e3);
    else snprintf(c[SC_TPS], sizeof *c, "%.1fM", t / 1e6);
    if (r->elapsed_s < 0 && r->limit_s < 0) {
        snprintf(c[SC_TIME], sizeof *c, "-");
    } else {
        int len = fmt_duration(c[SC_TIME], sizeof *c, r->elapsed_s);
        c[SC_TIME][len] = '/';
        fmt_duration(c[SC_TIME] + len + 1, sizeof *c - (size_t)len - 1, r->limit_s);
    }
    snprintf(c[SC_NODE], sizeof *c, "%s", *r->node ? r->node : "-");
    fmt_number(c[SC_EXIT], "%.0f", r->exit_code, r->exit_code >= 0);
    fmt_number(c[SC_TRY], "%.0f", r->attempt, r->attempt > 0);
    snprintf(c[SC_SLURM], sizeof *c, "%s", *r->slurm ? r->slurm : "-");
}

static void print_table(const sweepdir_t *w, const status_run_t *rs, const int *idx, int k)
{
    status_cell_t(*cells)[SC_N] = err_calloc((size_t)k + 1, sizeof *cells);
    int width[SC_N];
    for (int c = 0; c < SC_N; c++) {
        snprintf(cells[0][c], sizeof cells[0][c], "%s", status_col_names[c]);
        width[c] = (int)strlen(status_col_names[c]);
    }
    for (int j = 0; j < k; j++) {
        status_row(cells[j + 1], w, idx[j], &rs[idx[j]]);
        for (int c = 0; c < SC_N; c++)
            if ((int)strlen(cells[j + 1][c]) > width[c]) width[c] = (int)strlen(cells[j + 1][c]);
    }
    for (int j = 0; j <= k; j++) {
        for (int c = 0; c < SC_N - 1; c++)
            printf(status_col_right[c] ? "%*s " : "%-*s ", width[c], cells[j][c]);
        printf("%s\n", cells[j][SC_SLURM]); /* last, unpadded: it may be long */
    }
    free(cells);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void json_num(const char *key, double v, int have)
{
    printf(",\"%s\":", key);
    if (have && isfinite(v)) printf("%.9g", v);
    else fputs("null", stdout);
}

static void json_int(const char *key, long long v, int have)
{
    printf(",\"%s\":", key);
    if (have) printf("%lld", v);
    else fputs("null", stdout);
}

static void json_text(const char *key, const char *v)
{
    printf(",\"%s\":", key);
    if (*v) json_str(v);
    else fputs("null", stdout);
}

/* The table's fields as a JSON array, one object per line; numbers as numbers, unknowns as null. */
static void print_json(const sweepdir_t *w, const status_run_t *rs, const int *idx, int k)
{
    fputs("[", stdout);
    for (int j = 0; j < k; j++) {
        const status_run_t *r = &rs[idx[j]];
        const metrics_t *m = &r->m;
        printf("%s\n{\"index\":%d", j ? "," : "", idx[j]);
        json_text("run", sweepdir_run_name(w, idx[j]));
        json_text("state", status_names[r->state]);
        json_text("task", r->task);
        json_int("step", (long long)m->train_step, m->have_train);
        json_int("max_steps", r->max_steps, r->max_steps >= 0);
        json_num("loss", m->train_loss, m->have_train);
        json_num("val_loss", m->val_loss, m->have_val);
        json_num("tokens_per_s", m->train_tokens_per_s, m->have_train);
        json_int("elapsed_s", r->elapsed_s, r->elapsed_s >= 0);
        json_int("time_limit_s", r->limit_s, r->limit_s >= 0);
        json_text("node", r->node);
        json_int("exit_code", r->exit_code, r->exit_code >= 0);
        json_int("attempt", r->attempt, r->attempt > 0);
        json_text("slurm", r->slurm);
        putchar('}');
    }
    fputs(k ? "\n]\n" : "]\n", stdout);
}

int status_print(const char *dir, unsigned want, int format)
{
    sweepdir_t w;
    if (sweepdir_open(&w, dir)) {
        sweepdir_close(&w);
        return SWEEPDIR_EINPUT;
    }
    int n = sweepdir_n_runs(&w), count[ST_N] = {0}, k = 0;
    status_run_t *rs = err_calloc((size_t)n, sizeof *rs);
    int *idx = err_calloc((size_t)n + 1, sizeof *idx);
    status_collect_details(&w, rs);
    for (int i = 0; i < n; i++) {
        count[rs[i].state]++;
        if (want & (1u << rs[i].state)) idx[k++] = i;
    }
    if (format == STATUS_JSON) {
        print_json(&w, rs, idx, k);
    } else {
        print_table(&w, rs, idx, k);
        printf("# %d run(s):", n);
        for (int s = 0; s < ST_N; s++)
            if (count[s]) printf(" %d %s", count[s], status_names[s]);
        if (k < n) printf("; %d shown", k);
        putchar('\n');
    }
    free(idx);
    free(rs);
    sweepdir_close(&w);
    if (fflush(stdout)) {
        err_set("writing the table: %s", strerror(errno));
        return SWEEPDIR_ERUN;
    }
    return 0;
}

/* One summary table, written as TSV (for programs) or Markdown (for people). */
static void write_summary(FILE *f, const sweepdir_t *w, const status_run_t *rs, int markdown)
{
    const tsv_t *m = &w->manifest;
    const char *sep = markdown ? " | " : "\t";
    const char *const extra[] = {"state", "last_step", "train_loss", "val_loss"};
    fputs(markdown ? "| " : "", f);
    for (int c = 0; c < m->cols; c++) fprintf(f, "%s%s", c ? sep : "", m->cell[c]);
    for (int c = 0; c < 4; c++) fprintf(f, "%s%s", sep, extra[c]);
    fputs(markdown ? " |\n" : "\n", f);
    if (markdown) {
        for (int c = 0; c < m->cols + 4; c++) fputs("|---", f);
        fputs("|\n", f);
    }
    for (int i = 0; i < sweepdir_n_runs(w); i++) {
        char step[32], loss[32], val[32];
        fmt_step(step, sizeof step, &rs[i].m);
        fmt_loss(loss, sizeof loss, rs[i].m.have_train ? rs[i].m.train_loss : NAN);
        fmt_loss(val, sizeof val, rs[i].m.have_val ? rs[i].m.val_loss : NAN);
        fputs(markdown ? "| " : "", f);
        for (int c = 0; c < m->cols; c++) fprintf(f, "%s%s", c ? sep : "", m->cell[(i + 1) * m->cols + c]);
        fprintf(f, "%s%s%s%s%s%s%s%s%s", sep, status_names[rs[i].state], sep, step, sep, loss, sep, val,
                markdown ? " |\n" : "\n");
    }
}

int status_summary(const char *dir)
{
    sweepdir_t w;
    if (sweepdir_open(&w, dir)) {
        sweepdir_close(&w);
        return SWEEPDIR_EINPUT;
    }
    status_run_t *rs = err_calloc((size_t)sweepdir_n_runs(&w), sizeof *rs);
    status_collect(&w, rs);
    int rc = 0;
    for (int md = 0; md < 2 && rc == 0; md++) {
        char path[PATH_MAX + 64];
        sweepdir_path(&w, path, sizeof path, md ? "summary.md" : "summary.tsv");
        atomicfile_t af;
        rc = atomicfile_open(&af, path, ATOMICFILE_REPLACE);
        if (rc) break;
        write_summary(af.f, &w, rs, md);
        rc = atomicfile_commit(&af);
        if (rc == 0) printf("wrote %s\n", path);
    }
    if (rc == 0) write_summary(stdout, &w, rs, 1);
    free(rs);
    sweepdir_close(&w);
    return rc ? SWEEPDIR_ERUN : 0;
}

