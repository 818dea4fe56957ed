#include "sweep/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/err.h"
#include "sweep/slurm.h"

const char *const status_names[ST_N] = {"new", "pending", "running", "requeued", "done", "failed", "preempted"};

/* jobs.tsv has one line per submitted job: "array<TAB>JOBID<TAB>OFFSET<TAB>IDS" or "aggregate<TAB>JOBID".
 * A run's task is the one in the latest array that holds it. */
static void latest_tasks(const sdir_t *w, status_run_t *rs)
{
    char path[PATH_MAX + 64];
    sdir_path(w, path, sizeof path, "jobs.tsv");
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[8192], kind[16], job[32], ids_spec[4096];
    int offset, n = sdir_n_runs(w);
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

/* Finds "TASK|" at the start of a line of `out` and copies the rest of that line. */
static int lookup(const char *out, const char *task, char *rest, size_t n)
{
    size_t len = strlen(task);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, task, len) && p[len] == '|') {
            snprintf(rest, n, "%.*s", (int)strcspn(p + len + 1, "\n"), p + len + 1);
            return 1;
        }
    return 0;
}

static int read_exit_code(const sdir_t *w, const char *name)
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

/* Slurm's word first (a queued or running task), then the task's own exit marker, then sacct for a task
 * that left neither: accounting storage is often absent, so sacct is only a refinement. */
void status_collect(const sdir_t *w, status_run_t *rs)
{
    int n = sdir_n_runs(w);
    static char queue[1 << 20], acct[1 << 20];
    char name_opt[128];
    snprintf(name_opt, sizeof name_opt, "--name=%s", w->spec.name);
    char *squeue[] = {"squeue", "-h", "-r", name_opt, "-o", "%i|%T|%r", NULL};
    if (slurm_capture(squeue, queue, sizeof queue, 1) != 0) queue[0] = '\0';
    char *sacct[] = {"sacct", "-n", "-P", "-X", name_opt, "-o", "JobID,State", NULL};
    int have_acct = -1; /* asked lazily, once */
    for (int i = 0; i < n; i++) {
        rs[i].exit_code = -1;
        rs[i].slurm[0] = '\0';
    }
    latest_tasks(w, rs);
    for (int i = 0; i < n; i++) {
        status_run_t *r = &rs[i];
        char run_dir[PATH_MAX + 256], q[128];
        snprintf(run_dir, sizeof run_dir, "%s/runs/%s", w->dir, sdir_run_name(w, i));
        if (metrics_read(&r->m, run_dir) < 0) r->m = (metrics_t){0};
        r->exit_code = read_exit_code(w, sdir_run_name(w, i));
        if (*r->task && lookup(queue, r->task, q, sizeof q)) {
            snprintf(r->slurm, sizeof r->slurm, "%s", q);
            int waiting = !strncmp(q, "PENDING", 7) || !strncmp(q, "REQUEUE", 7);
            r->state = !waiting ? ST_RUNNING
                       : r->exit_code == IL_EXIT_PREEMPTED || !strncmp(q, "REQUEUE", 7) ? ST_REQUEUED
                                                                          : ST_PENDING;
        } else if (r->exit_code == 0) {
            r->state = ST_DONE;
        } else if (r->exit_code == IL_EXIT_PREEMPTED) {
            r->state = ST_PREEMPTED;
        } else if (r->exit_code > 0 || *r->task) {
            r->state = ST_FAILED;
            if (r->exit_code < 0 && *r->task) {
                if (have_acct < 0) have_acct = slurm_capture(sacct, acct, sizeof acct, 1) == 0;
                if (!have_acct || !lookup(acct, r->task, r->slurm, sizeof r->slurm))
                    snprintf(r->slurm, sizeof r->slurm, "left no exit record");
            }
        } else {
            r->state = ST_NEW;
        }
    }
}

/* The runs whose state is one of `want` (a mask over state_t), ascending. */
int status_select(const sdir_t *w, unsigned want, int **idx)
{
    int n = sdir_n_runs(w), k = 0;
    status_run_t *rs = err_calloc((size_t)n, sizeof *rs);
    status_collect(w, rs);
    *idx = err_calloc((size_t)n + 1, sizeof **idx);
    for (int i = 0; i < n; i++)
        if (want & (1u << rs[i].state)) (*idx)[k++] = i;
    free(rs);
    return k;
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

int status_print(const char *dir)
{
    sdir_t w;
    if (sdir_open(&w, dir)) {
        sdir_close(&w);
        return sdir_fail(IL_EXIT_INPUT);
    }
    int n = sdir_n_runs(&w), count[ST_N] = {0};
    status_run_t *rs = err_calloc((size_t)n, sizeof *rs);
    status_collect(&w, rs);
    printf("%-5s  %-40s  %-9s  %-14s  %8s  %9s  %9s  %s\n", "index", "run", "state", "task", "step", "loss",
           "val_loss", "slurm");
    for (int i = 0; i < n; i++) {
        char step[32], loss[32], val[32];
        fmt_step(step, sizeof step, &rs[i].m);
        fmt_loss(loss, sizeof loss, rs[i].m.have_train ? rs[i].m.train_loss : NAN);
        fmt_loss(val, sizeof val, rs[i].m.have_val ? rs[i].m.val_loss : NAN);
        printf("%-5d  %-40s  %-9s  %-14s  %8s  %9s  %9s  %s\n", i, sdir_run_name(&w, i), status_names[rs[i].state],
               *rs[i].task ? rs[i].task : "-", step, loss, val, *rs[i].slurm ? rs[i].slurm : "-");
        count[rs[i].state]++;
    }
    printf("# %d run(s):", n);
    for (int s = 0; s <= ST_PREEMPTED; s++)
        if (count[s]) printf(" %d %s", count[s], status_names[s]);
    putchar('\n');
    free(rs);
    sdir_close(&w);
    return IL_EXIT_OK;
}

/* One summary table, written as TSV (for programs) or Markdown (for people). */
static void write_summary(FILE *f, const sdir_t *w, const status_run_t *rs, int markdown)
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
    for (int i = 0; i < sdir_n_runs(w); i++) {
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
    sdir_t w;
    if (sdir_open(&w, dir)) {
        sdir_close(&w);
        return sdir_fail(IL_EXIT_INPUT);
    }
    status_run_t *rs = err_calloc((size_t)sdir_n_runs(&w), sizeof *rs);
    status_collect(&w, rs);
    int rc = 0;
    for (int md = 0; md < 2 && rc == 0; md++) {
        char path[PATH_MAX + 64];
        sdir_path(&w, path, sizeof path, md ? "summary.md" : "summary.tsv");
        afile_t af;
        rc = afile_open(&af, path, AFILE_REPLACE);
        if (rc) break;
        write_summary(af.f, &w, rs, md);
        rc = afile_commit(&af);
        if (rc == 0) printf("wrote %s\n", path);
    }
    if (rc == 0) write_summary(stdout, &w, rs, 1);
    free(rs);
    sdir_close(&w);
    return rc ? sdir_fail(IL_EXIT_FAIL) : IL_EXIT_OK;
}

