/* il-sweep: runs a sweep spec as Slurm job arrays, and reports on it (docs/sweeps.md).
 *   il-sweep submit SPEC [--dry-run] [--out DIR]
 *   il-sweep status DIR
 *   il-sweep resubmit DIR --failed [--dry-run]
 *   il-sweep summary DIR
 * Slurm's commands are run with fork/execvp and an argv array: no value ever passes through a shell. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afile.h"
#include "err.h"
#include "sweep.h"

/* The job scripts il-sweep copies into every sweep directory, from the repository's jobs/. */
static const char *const job_files[] = {"sweep-task.sbatch", "aggregate.sbatch", "il-step.sh"};
enum { N_JOB_FILES = sizeof job_files / sizeof job_files[0] };

static void usage(FILE *f)
{
    fprintf(f, "usage: il-sweep submit SPEC [--dry-run | --local] [--out DIR]\n"
               "       il-sweep status DIR\n"
               "       il-sweep resubmit DIR --failed [--dry-run]\n"
               "       il-sweep summary DIR\n"
               "  submit     expand SPEC into DIR (default sweeps/<name>), submit its unfinished runs as job\n"
               "             arrays and an aggregation job after them; --dry-run prints what it would submit;\n"
               "             --local runs them here instead, one after another with mpirun, then summary\n"
               "  status     table of runs: new, pending, running, requeued, done, failed, preempted\n"
               "  resubmit   submit the failed and preempted runs again (done runs never rerun)\n"
               "  summary    write DIR/summary.tsv and DIR/summary.md (the aggregation job runs this)\n"
               "exit codes: 0 done, 1 a Slurm command failed, 2 bad command line, spec or sweep directory\n");
}

static int fail_input(const char *msg)
{
    fprintf(stderr, "il-sweep: %s\n", msg);
    return IL_EXIT_INPUT;
}

/* ---- running Slurm's commands ---- */

/* Runs argv[0] from PATH with its stdout captured into out; stderr passes through unless quiet. Returns
 * the exit status, or -1 when the command could not be run. */
static int run_capture(char *const argv[], char *out, size_t n, int quiet)
{
    int fd[2];
    if (pipe(fd)) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        if (quiet) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) dup2(null, STDERR_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t used = 0;
    for (ssize_t got; (got = read(fd[0], out + used, n - 1 - used)) != 0;) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) break;
        used += (size_t)got;
        if (used == n - 1) { /* drain, keeping what fits */
            char sink[4096];
            while (read(fd[0], sink, sizeof sink) > 0) continue;
            break;
        }
    }
    out[used] = '\0';
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) return -1;
    return WEXITSTATUS(status);
}

/* MaxArraySize from `scontrol show config`: array task ids must stay below it. */
static int max_array_size(int *from_cluster)
{
    static char out[1 << 16];
    char *argv[] = {"scontrol", "show", "config", NULL};
    *from_cluster = 0;
    if (run_capture(argv, out, sizeof out, 1) != 0) return 1001; /* Slurm's default */
    const char *p = strstr(out, "MaxArraySize");
    int v;
    if (!p || sscanf(p, "MaxArraySize = %d", &v) != 1 || v < 1) return 1001;
    *from_cluster = 1;
    return v;
}

/* An argument as a shell would need it, for --dry-run's listing only; nothing here is ever executed. */
static void print_arg(const char *a)
{
    int plain = *a != '\0';
    for (const char *p = a; *p; p++)
        plain &= !!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%,+-", *p);
    if (plain) {
        fputs(a, stdout);
        return;
    }
    putchar('\'');
    for (const char *p = a; *p; p++) *p == '\'' ? fputs("'\\''", stdout) : putchar(*p);
    putchar('\'');
}

/* ---- the sweep directory ---- */

typedef struct {
    char dir[PATH_MAX];      /* absolute */
    char submit_dir[PATH_MAX]; /* where jobs run: paths in the configs are relative to it */
    char self[PATH_MAX];     /* this program, for the aggregation job */
    char trainer[PATH_MAX];  /* il-train next to it */
    sweep_spec_t spec;
    sweep_tsv_t manifest;
} sweep_t;

static void path_in(char *buf, size_t n, const sweep_t *w, const char *rel)
{
    snprintf(buf, n, "%s/%s", w->dir, rel);
}

static int locate_self(sweep_t *w)
{
    ssize_t len = readlink("/proc/self/exe", w->self, sizeof w->self - 1);
    if (len < 0) return err_set("/proc/self/exe: %s", strerror(errno));
    w->self[len] = '\0';
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", w->self);
    snprintf(w->trainer, sizeof w->trainer, "%s/il-train", dirname(copy));
    return 0;
}

/* jobs/ of the checkout this program was built in: build/bin/il-sweep, or a deeper BUILD such as
 * build/asan/bin. */
static int find_jobs_dir(const sweep_t *w, char *buf, size_t n)
{
    char d[PATH_MAX], candidate[PATH_MAX + 64];
    snprintf(d, sizeof d, "%s", w->self);
    for (int up = 0; up < 5; up++) {
        char *parent = dirname(d);
        memmove(d, parent, strlen(parent) + 1);
        snprintf(candidate, sizeof candidate, "%s/jobs/%s", d, job_files[0]);
        if (access(candidate, R_OK) == 0 && (size_t)snprintf(buf, n, "%s/jobs", d) < n) return 0;
    }
    return err_set("cannot find jobs/%s above %s", job_files[0], w->self);
}

static char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    size_t cap = 0;
    FILE *m = open_memstream(&text, &cap);
    CHECK(m, "open_memstream: out of memory");
    char buf[8192];
    for (size_t got; (got = fread(buf, 1, sizeof buf, f));) fwrite(buf, 1, got, m);
    int bad = ferror(f);
    fclose(f);
    fclose(m);
    if (bad) {
        free(text);
        return NULL;
    }
    if (size) *size = cap;
    return text;
}

static int write_file(const char *path, const char *data, size_t n, mode_t mode)
{
    afile_t af;
    if (afile_open(&af, path, AFILE_REPLACE) || afile_write(&af, data, n)) {
        if (af.f) afile_abort(&af);
        return -1;
    }
    if (fchmod(fileno(af.f), mode)) {
        afile_abort(&af);
        return err_set("%s: chmod: %s", path, strerror(errno));
    }
    return afile_commit(&af);
}

static int write_config(const char *path, const config_t *c)
{
    afile_t af;
    if (afile_open(&af, path, AFILE_REPLACE)) return -1;
    if (config_write(c, af.f)) {
        afile_abort(&af);
        return -1;
    }
    return afile_commit(&af);
}

/* Reads a sweep directory written by submit: its spec copy (resources), manifest and submit directory. */
static int open_sweep(sweep_t *w, const char *dir)
{
    memset(w, 0, sizeof *w);
    if (!realpath(dir, w->dir)) return err_set("%s: not a sweep directory: %s", dir, strerror(errno));
    char path[PATH_MAX + 64];
    path_in(path, sizeof path, w, "spec.ini");
    if (sweep_load(&w->spec, path)) return -1;
    path_in(path, sizeof path, w, "manifest.tsv");
    if (sweep_tsv_read(&w->manifest, path)) return -1;
    if (w->manifest.cols < 2 || strcmp(w->manifest.cell[0], "index") || strcmp(w->manifest.cell[1], "run"))
        return err_set("%s:1: expected the header 'index<TAB>run...'", path);
    path_in(path, sizeof path, w, "submit_dir");
    char *text = read_all(path, NULL);
    if (!text) return err_set("%s: cannot read: %s", path, strerror(errno));
    snprintf(w->submit_dir, sizeof w->submit_dir, "%.*s", (int)strcspn(text, "\n"), text);
    free(text);
    return locate_self(w);
}

static void close_sweep(sweep_t *w)
{
    sweep_free(&w->spec);
    sweep_tsv_free(&w->manifest);
}

static int n_runs(const sweep_t *w) { return w->manifest.rows - 1; }
static const char *run_name(const sweep_t *w, int i) { return w->manifest.cell[(i + 1) * w->manifest.cols + 1]; }

/* ---- the state of each run ---- */

typedef enum { ST_NEW, ST_PENDING, ST_RUNNING, ST_REQUEUED, ST_DONE, ST_FAILED, ST_PREEMPTED } state_t;
static const char *const state_names[] = {"new", "pending", "running", "requeued", "done", "failed", "preempted"};

typedef struct {
    state_t state;
    char task[48];   /* Slurm's id of the run's latest array task, "123_4"; "" if never submitted */
    char slurm[128]; /* what Slurm says about it: squeue's state and reason, or sacct's state */
    int exit_code;   /* from the task's exit_code marker; -1 without one */
    sweep_metrics_t m;
} run_state_t;

/* jobs.tsv has one line per submitted job: "array<TAB>JOBID<TAB>OFFSET<TAB>IDS" or "aggregate<TAB>JOBID".
 * A run's task is the one in the latest array that holds it. */
static void latest_tasks(const sweep_t *w, run_state_t *rs)
{
    char path[PATH_MAX + 64];
    path_in(path, sizeof path, w, "jobs.tsv");
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[8192], kind[16], job[32], ids_spec[4096];
    int offset, n = n_runs(w);
    int *ids = err_calloc((size_t)n, sizeof *ids);
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%15s %31s %d %4095s", kind, job, &offset, ids_spec) != 4 || strcmp(kind, "array")) continue;
        int k = sweep_parse_ids(ids_spec, ids, n);
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

static int read_exit_code(const sweep_t *w, const char *name)
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
static void collect_states(const sweep_t *w, run_state_t *rs)
{
    int n = n_runs(w);
    static char queue[1 << 20], acct[1 << 20];
    char name_opt[128];
    snprintf(name_opt, sizeof name_opt, "--name=%s", w->spec.name);
    char *squeue[] = {"squeue", "-h", "-r", name_opt, "-o", "%i|%T|%r", NULL};
    if (run_capture(squeue, queue, sizeof queue, 1) != 0) queue[0] = '\0';
    char *sacct[] = {"sacct", "-n", "-P", "-X", name_opt, "-o", "JobID,State", NULL};
    int have_acct = -1; /* asked lazily, once */
    for (int i = 0; i < n; i++) {
        rs[i].exit_code = -1;
        rs[i].slurm[0] = '\0';
    }
    latest_tasks(w, rs);
    for (int i = 0; i < n; i++) {
        run_state_t *r = &rs[i];
        char run_dir[PATH_MAX + 256], q[128];
        snprintf(run_dir, sizeof run_dir, "%s/runs/%s", w->dir, run_name(w, i));
        sweep_metrics_read(run_dir, &r->m);
        r->exit_code = read_exit_code(w, run_name(w, i));
        if (*r->task && lookup(queue, r->task, q, sizeof q)) {
            snprintf(r->slurm, sizeof r->slurm, "%s", q);
            int waiting = !strncmp(q, "PENDING", 7) || !strncmp(q, "REQUEUE", 7);
            r->state = !waiting ? ST_RUNNING
                       : r->exit_code == 75 || !strncmp(q, "REQUEUE", 7) ? ST_REQUEUED
                                                                          : ST_PENDING;
        } else if (r->exit_code == 0) {
            r->state = ST_DONE;
        } else if (r->exit_code == IL_EXIT_PREEMPTED) {
            r->state = ST_PREEMPTED;
        } else if (r->exit_code > 0 || *r->task) {
            r->state = ST_FAILED;
            if (r->exit_code < 0 && *r->task) {
                if (have_acct < 0) have_acct = run_capture(sacct, acct, sizeof acct, 1) == 0;
                if (!have_acct || !lookup(acct, r->task, r->slurm, sizeof r->slurm))
                    snprintf(r->slurm, sizeof r->slurm, "left no exit record");
            }
        } else {
            r->state = ST_NEW;
        }
    }
}

/* ---- submitting ---- */

typedef struct {
    char **v;
    int n;
} argv_t;

static void arg(argv_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(argv_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list again;
    va_copy(again, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    a->v = realloc(a->v, (size_t)(a->n + 2) * sizeof *a->v);
    CHECK(len >= 0 && a->v && (a->v[a->n] = malloc((size_t)len + 1)), "out of memory");
    vsnprintf(a->v[a->n], (size_t)len + 1, fmt, again);
    va_end(again);
    va_end(ap);
    a->v[++a->n] = NULL;
}

static void argv_free(argv_t *a)
{
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* The options every job of the sweep shares. */
static void common_options(argv_t *a, const sweep_t *w, const char *job_name)
{
    const sweep_spec_t *s = &w->spec;
    arg(a, "sbatch");
    arg(a, "--parsable");
    arg(a, "--job-name=%s", job_name);
    if (*s->partition) arg(a, "--partition=%s", s->partition);
    if (*s->account) arg(a, "--account=%s", s->account);
    if (*s->qos) arg(a, "--qos=%s", s->qos);
    arg(a, "--chdir=%s", w->submit_dir);
}

/* Submits (or, dry, prints) argv; *job receives the id sbatch --parsable printed ("123" of "123;cluster"). */
static int submit_job(argv_t *a, int dry, const char *placeholder, char *job, size_t n)
{
    if (dry) {
        for (int i = 0; i < a->n; i++) {
            if (i) putchar(' ');
            print_arg(a->v[i]);
        }
        putchar('\n');
        snprintf(job, n, "%s", placeholder);
        return 0;
    }
    char out[64];
    int rc = run_capture(a->v, out, sizeof out, 0);
    if (rc != 0) return err_set("sbatch %s", rc < 0 ? "could not be run (is Slurm installed and on PATH?)" : "failed");
    out[strcspn(out, ";\n")] = '\0';
    char *end;
    if (!*out || (strtol(out, &end, 10), *end)) return err_set("sbatch printed '%s', not a job id", out);
    snprintf(job, n, "%s", out);
    return 0;
}

static int record_job(const sweep_t *w, const char *line)
{
    char path[PATH_MAX + 64];
    path_in(path, sizeof path, w, "jobs.tsv");
    FILE *f = fopen(path, "a");
    if (!f) return err_set("%s: cannot append: %s", path, strerror(errno));
    fputs(line, f);
    return fclose(f) ? err_set("%s: write failed: %s", path, strerror(errno)) : 0;
}

/* Submits the runs idx[0..n) as arrays of at most MaxArraySize tasks, each array after the previous one
 * so that the throttle holds over the whole sweep, then the aggregation job after all of them. */
static int submit_runs(const sweep_t *w, const int *idx, int n, int dry)
{
    const sweep_spec_t *s = &w->spec;
    int from_cluster, max_array = max_array_size(&from_cluster);
    sweep_chunk_t *chunks;
    int nc = sweep_chunks(idx, n, max_array, &chunks);
    if (nc < 0) return -1;
    printf("# ---- sbatch command lines: %d run(s) in %d array(s) (MaxArraySize %d%s), throttle %d%s ----\n", n, nc, max_array,
           from_cluster ? " from scontrol show config" : ": scontrol unavailable, Slurm's default", s->throttle,
           s->throttle ? "" : " (none)");
    char deps[4096] = "afterany", prev[64] = "";
    int rc = 0;
    for (int c = 0; c < nc && rc == 0; c++) {
        argv_t a = {0};
        common_options(&a, w, s->name);
        if (s->throttle) arg(&a, "--array=%s%%%d", chunks[c].spec, s->throttle);
        else arg(&a, "--array=%s", chunks[c].spec);
        arg(&a, "--ntasks=%d", s->ranks);
        arg(&a, "--cpus-per-task=%d", s->cpus_per_task);
        arg(&a, "--time=%s", s->time);
        if (s->signal_seconds) arg(&a, "--signal=B:USR2@%d", s->signal_seconds);
        arg(&a, s->requeue ? "--requeue" : "--no-requeue");
        arg(&a, "--open-mode=append");
        arg(&a, "--output=%s/logs/%%A_%%a.out", w->dir);
        if (*prev) arg(&a, "--dependency=afterany:%s", prev);
        arg(&a, "%s/jobs/sweep-task.sbatch", w->dir);
        arg(&a, "%s", w->dir);
        arg(&a, "%d", chunks[c].offset);
        arg(&a, "%s", s->launcher);
        arg(&a, "%s", w->trainer);
        char placeholder[32], line[4200];
        snprintf(placeholder, sizeof placeholder, "<array %d>", c + 1);
        rc = submit_job(&a, dry, placeholder, prev, sizeof prev);
        argv_free(&a);
        if (rc) break;
        size_t len = strlen(deps);
        snprintf(deps + len, sizeof deps - len, ":%s", prev);
        if (dry) continue;
        snprintf(line, sizeof line, "array\t%s\t%d\t%s\n", prev, chunks[c].offset, chunks[c].spec);
        rc = record_job(w, line);
        if (rc == 0) printf("submitted array job %s: runs %d + [%s]\n", prev, chunks[c].offset, chunks[c].spec);
    }
    free(chunks);
    if (rc) return -1;
    argv_t a = {0};
    char job_name[SWEEP_KEY + 16], job[64];
    snprintf(job_name, sizeof job_name, "%s-aggregate", s->name);
    common_options(&a, w, job_name);
    arg(&a, "--ntasks=1");
    arg(&a, "--time=00:30:00");
    arg(&a, "--output=%s/logs/aggregate_%%j.out", w->dir);
    arg(&a, "--dependency=%s", deps);
    arg(&a, "%s/jobs/aggregate.sbatch", w->dir);
    arg(&a, "%s", w->dir);
    arg(&a, "%s", w->self);
    rc = submit_job(&a, dry, "<aggregate>", job, sizeof job);
    argv_free(&a);
    if (rc || dry) return rc;
    char line[128];
    snprintf(line, sizeof line, "aggregate\t%s\n", job);
    if (record_job(w, line)) return -1;
    printf("submitted aggregation job %s (after %s)\n", job, deps);
    return 0;
}

/* Without Slurm: the runs one after another on this machine, each as `mpirun -n RANKS il-train --resume`
 * under il-step.sh, which records its exit code where `status` looks for it, exactly as a task would. */
static int run_local(const sweep_t *w, const int *idx, int n)
{
    int failed = 0;
    for (int k = 0; k < n; k++) {
        const char *name = run_name(w, idx[k]);
        argv_t a = {0};
        arg(&a, "%s/jobs/il-step.sh", w->dir);
        arg(&a, "%s/runs/%s/exit_code", w->dir, name);
        arg(&a, "mpirun");
        arg(&a, "-n");
        arg(&a, "%d", w->spec.ranks);
        arg(&a, "--oversubscribe");
        arg(&a, "%s", w->trainer);
        arg(&a, "--config");
        arg(&a, "%s/configs/%s.ini", w->dir, name);
        arg(&a, "--resume");
        char log[PATH_MAX + 64];
        snprintf(log, sizeof log, "%s/logs/local_%s.out", w->dir, name);
        printf("run %d/%d: %s on %d rank(s), log %s\n", k + 1, n, name, w->spec.ranks, log);
        fflush(stdout);
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
            }
            execv(a.v[0], a.v);
            _exit(127);
        }
        argv_free(&a);
        int status;
        while (waitpid(pid, &status, 0) < 0) CHECK(errno == EINTR, "waitpid: %s", strerror(errno));
        int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (rc) {
            printf("  %s ended with exit code %d (see its log)\n", name, rc);
            failed++;
        }
    }
    return failed;
}

static void print_file(const char *title, const char *path)
{
    char *text = read_all(path, NULL);
    printf("# ---- %s ----\n%s", title, text ? text : "(unreadable)\n");
    free(text);
}

/* The runs whose state is one of `want` (a mask over state_t), ascending. */
static int select_runs(const sweep_t *w, unsigned want, int **idx)
{
    int n = n_runs(w), k = 0;
    run_state_t *rs = err_calloc((size_t)n, sizeof *rs);
    collect_states(w, rs);
    *idx = err_calloc((size_t)n + 1, sizeof **idx);
    for (int i = 0; i < n; i++)
        if (want & (1u << rs[i].state)) (*idx)[k++] = i;
    free(rs);
    return k;
}

/* Writes everything a sweep directory holds before its jobs run; all of it is rewritten identically on a
 * resubmission of the same spec. */
static int write_sweep_dir(const sweep_t *w, const char *spec_path, const sweep_run_t *runs, int n,
                           const char *manifest, size_t manifest_len)
{
    char path[PATH_MAX + CONFIG_STR + 16], jobs_dir[PATH_MAX];
    const char *subdirs[] = {"configs", "runs", "logs", "jobs"};
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        path_in(path, sizeof path, w, subdirs[i]);
        if (afile_mkdirs(path)) return -1;
    }
    size_t len;
    char *spec = read_all(spec_path, &len);
    if (!spec) return err_set("%s: cannot read: %s", spec_path, strerror(errno));
    path_in(path, sizeof path, w, "spec.ini");
    int rc = write_file(path, spec, len, 0644);
    free(spec);
    path_in(path, sizeof path, w, "manifest.tsv");
    rc = rc ? rc : write_file(path, manifest, manifest_len, 0644);
    char submit_dir[PATH_MAX + 2];
    snprintf(submit_dir, sizeof submit_dir, "%s\n", w->submit_dir);
    path_in(path, sizeof path, w, "submit_dir");
    rc = rc ? rc : write_file(path, submit_dir, strlen(submit_dir), 0644);
    for (int i = 0; i < n && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/configs/%s.ini", w->dir, runs[i].cfg.name);
        rc = write_config(path, &runs[i].cfg);
    }
    if (rc || find_jobs_dir(w, jobs_dir, sizeof jobs_dir)) return -1;
    for (int i = 0; i < N_JOB_FILES && rc == 0; i++) {
        char src[PATH_MAX + 64];
        snprintf(src, sizeof src, "%s/%s", jobs_dir, job_files[i]);
        char *text = read_all(src, &len);
        if (!text) return err_set("%s: cannot read: %s", src, strerror(errno));
        snprintf(path, sizeof path, "%s/jobs/%s", w->dir, job_files[i]);
        rc = write_file(path, text, len, 0755);
        free(text);
    }
    return rc;
}

static int cmd_summary(const char *dir);

static int cmd_submit(const char *spec_path, const char *out, int dry, int local)
{
    sweep_t w;
    memset(&w, 0, sizeof w);
    if (locate_self(&w) || sweep_load(&w.spec, spec_path)) return fail_input(err_msg());
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", out ? out : "");
    if (!out) snprintf(dir, sizeof dir, "sweeps/%s", w.spec.name);
    if (!getcwd(w.submit_dir, sizeof w.submit_dir)) return fail_input("cannot read the current directory");
    if (!dry && afile_mkdirs(dir)) return fail_input(err_msg());
    /* a dry run writes nothing, so its directory may not exist yet: make it absolute by hand */
    if (!realpath(dir, w.dir)) {
        char abs[2 * PATH_MAX + 2];
        snprintf(abs, sizeof abs, "%s%s%s", *dir == '/' ? "" : w.submit_dir, *dir == '/' ? "" : "/", dir);
        if (strlen(abs) >= sizeof w.dir) return fail_input("--out: path too long");
        memcpy(w.dir, abs, strlen(abs) + 1);
    }
    char runs_dir[PATH_MAX + 8];
    path_in(runs_dir, sizeof runs_dir, &w, "runs");
    sweep_run_t *runs;
    int n;
    if (sweep_expand(&w.spec, runs_dir, &runs, &n)) {
        sweep_free(&w.spec);
        return fail_input(err_msg());
    }
    char *manifest = NULL;
    size_t manifest_len = 0;
    FILE *m = open_memstream(&manifest, &manifest_len);
    CHECK(m && sweep_manifest_write(&w.spec, runs, n, m) == 0, "manifest in memory: %s", err_msg());
    fclose(m);

    /* A sweep directory belongs to one expansion: the same spec again resumes it; another one would
     * renumber the runs under jobs that are still queued. */
    char path[PATH_MAX + 64];
    path_in(path, sizeof path, &w, "manifest.tsv");
    char *old = read_all(path, NULL);
    int rc = 0, existed = old != NULL;
    if (old && strcmp(old, manifest))
        rc = err_set("%s: differs from what %s expands to; submit it with another sweep name or --out", path,
                     spec_path);
    free(old);
    if (rc == 0) printf("# sweep %s: %d run(s) in %s\n", w.spec.name, n, w.dir);
    if (rc == 0 && dry) {
        printf("# ---- manifest (%s) ----\n%s", path, manifest);
        char jobs_dir[PATH_MAX], src[PATH_MAX + 64];
        rc = find_jobs_dir(&w, jobs_dir, sizeof jobs_dir);
        for (int i = 0; i < N_JOB_FILES && rc == 0; i++) {
            snprintf(src, sizeof src, "%s/%s", jobs_dir, job_files[i]);
            print_file(job_files[i], src);
        }
    } else if (rc == 0) {
        rc = write_sweep_dir(&w, spec_path, runs, n, manifest, manifest_len);
    }
    free(manifest);
    free(runs);
    if (rc || ((existed || !dry) && (rc = sweep_tsv_read(&w.manifest, path)))) {
        close_sweep(&w);
        return fail_input(err_msg());
    }
    int *idx = NULL, k = n;
    if (w.manifest.rows) {
        /* done runs are never rerun, and queued ones are not queued twice */
        k = select_runs(&w, 1u << ST_NEW | 1u << ST_FAILED | 1u << ST_PREEMPTED, &idx);
    } else {
        idx = err_calloc((size_t)n + 1, sizeof *idx);
        for (int i = 0; i < n; i++) idx[i] = i;
    }
    printf("# %d run(s) to %s; the others are done or queued\n", k, local ? "run here" : "submit");
    if (local) {
        int failed = run_local(&w, idx, k);
        free(idx);
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", w.dir);
        close_sweep(&w);
        rc = cmd_summary(dir);
        return failed ? IL_EXIT_FAIL : rc;
    }
    rc = k ? submit_runs(&w, idx, k, dry) : 0;
    free(idx);
    close_sweep(&w);
    if (rc) fprintf(stderr, "il-sweep: %s\n", err_msg());
    return rc ? IL_EXIT_FAIL : IL_EXIT_OK;
}

static int cmd_resubmit(const char *dir, int dry)
{
    sweep_t w;
    if (open_sweep(&w, dir)) {
        close_sweep(&w);
        return fail_input(err_msg());
    }
    int *idx, k = select_runs(&w, 1u << ST_FAILED | 1u << ST_PREEMPTED, &idx);
    printf("# sweep %s: %d failed or preempted run(s) to resubmit\n", w.spec.name, k);
    int rc = k ? submit_runs(&w, idx, k, dry) : 0;
    free(idx);
    close_sweep(&w);
    if (rc) fprintf(stderr, "il-sweep: %s\n", err_msg());
    return rc ? IL_EXIT_FAIL : IL_EXIT_OK;
}

/* ---- reports ---- */

static void fmt_loss(char *buf, size_t n, double v)
{
    if (isnan(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.4f", v);
}

static void fmt_step(char *buf, size_t n, int64_t step)
{
    if (step < 0) snprintf(buf, n, "-");
    else snprintf(buf, n, "%lld", (long long)step);
}

static int cmd_status(const char *dir)
{
    sweep_t w;
    if (open_sweep(&w, dir)) {
        close_sweep(&w);
        return fail_input(err_msg());
    }
    int n = n_runs(&w), count[ST_PREEMPTED + 1] = {0};
    run_state_t *rs = err_calloc((size_t)n, sizeof *rs);
    collect_states(&w, rs);
    printf("%-5s  %-40s  %-9s  %-14s  %8s  %9s  %9s  %s\n", "index", "run", "state", "task", "step", "loss",
           "val_loss", "slurm");
    for (int i = 0; i < n; i++) {
        char step[32], loss[32], val[32];
        fmt_step(step, sizeof step, rs[i].m.step);
        fmt_loss(loss, sizeof loss, rs[i].m.loss);
        fmt_loss(val, sizeof val, rs[i].m.val_loss);
        printf("%-5d  %-40s  %-9s  %-14s  %8s  %9s  %9s  %s\n", i, run_name(&w, i), state_names[rs[i].state],
               *rs[i].task ? rs[i].task : "-", step, loss, val, *rs[i].slurm ? rs[i].slurm : "-");
        count[rs[i].state]++;
    }
    printf("# %d run(s):", n);
    for (int s = 0; s <= ST_PREEMPTED; s++)
        if (count[s]) printf(" %d %s", count[s], state_names[s]);
    putchar('\n');
    free(rs);
    close_sweep(&w);
    return IL_EXIT_OK;
}

/* One summary table, written as TSV (for programs) or Markdown (for people). */
static void write_summary(FILE *f, const sweep_t *w, const run_state_t *rs, int markdown)
{
    const sweep_tsv_t *m = &w->manifest;
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
    for (int i = 0; i < n_runs(w); i++) {
        char step[32], loss[32], val[32];
        fmt_step(step, sizeof step, rs[i].m.step);
        fmt_loss(loss, sizeof loss, rs[i].m.loss);
        fmt_loss(val, sizeof val, rs[i].m.val_loss);
        fputs(markdown ? "| " : "", f);
        for (int c = 0; c < m->cols; c++) fprintf(f, "%s%s", c ? sep : "", m->cell[(i + 1) * m->cols + c]);
        fprintf(f, "%s%s%s%s%s%s%s%s%s", sep, state_names[rs[i].state], sep, step, sep, loss, sep, val,
                markdown ? " |\n" : "\n");
    }
}

static int cmd_summary(const char *dir)
{
    sweep_t w;
    if (open_sweep(&w, dir)) {
        close_sweep(&w);
        return fail_input(err_msg());
    }
    run_state_t *rs = err_calloc((size_t)n_runs(&w), sizeof *rs);
    collect_states(&w, rs);
    int rc = 0;
    for (int md = 0; md < 2 && rc == 0; md++) {
        char path[PATH_MAX + 64];
        path_in(path, sizeof path, &w, md ? "summary.md" : "summary.tsv");
        afile_t af;
        rc = afile_open(&af, path, AFILE_REPLACE);
        if (rc) break;
        write_summary(af.f, &w, rs, md);
        rc = afile_commit(&af);
        if (rc == 0) printf("wrote %s\n", path);
    }
    if (rc == 0) write_summary(stdout, &w, rs, 1);
    free(rs);
    close_sweep(&w);
    if (rc) fprintf(stderr, "il-sweep: %s\n", err_msg());
    return rc ? IL_EXIT_FAIL : IL_EXIT_OK;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "", *target = NULL, *out = NULL;
    int dry = 0, failed = 0, local = 0;
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return IL_EXIT_OK;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run")) dry = 1;
        else if (!strcmp(argv[i], "--failed")) failed = 1;
        else if (!strcmp(argv[i], "--local")) local = 1;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !target) target = argv[i];
        else {
            fprintf(stderr, "il-sweep: unknown or incomplete argument '%s'\n", argv[i]);
            return IL_EXIT_INPUT;
        }
    }
    int submit = !strcmp(cmd, "submit"), resubmit = !strcmp(cmd, "resubmit");
    int report = !strcmp(cmd, "status") || !strcmp(cmd, "summary");
    if (!target || !(submit || resubmit || report) || (out && !submit) || (dry && report) ||
        (failed != resubmit) || (local && (!submit || dry))) {
        fprintf(stderr, "il-sweep: expected submit SPEC [--dry-run | --local] [--out DIR], status DIR, "
                        "resubmit DIR --failed [--dry-run] or summary DIR (il-sweep --help)\n");
        return IL_EXIT_INPUT;
    }
    if (submit) return cmd_submit(target, out, dry, local);
    if (resubmit) return cmd_resubmit(target, dry);
    return !strcmp(cmd, "status") ? cmd_status(target) : cmd_summary(target);
}
