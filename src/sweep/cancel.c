#include "sweep/cancel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "sweep/sweepdir.h"
#include "sweep/slurm.h"

typedef struct {
    int aggregate;   /* the aggregation job, else an array */
    char id[32];     /* digits only: it becomes an argument of scancel */
    char what[160];  /* for the listing: "array job 123 (runs 0-3)" */
    int queued;
} cancel_job_t;

/* The jobs of DIR/jobs.tsv, in the order submitted. Returns the count (0 without the file), or -1 with
 * err_set() naming a malformed line. */
static int read_jobs(const sweepdir_t *w, cancel_job_t **jobs)
{
    char path[PATH_MAX + 64], line[8192];
    sweepdir_path(w, path, sizeof path, "jobs.tsv");
    *jobs = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : err_set("%s: %s", path, strerror(errno));
    int n = 0;
    for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
        char kind[16], id[32], ids[4096];
        int offset = 0, k = sscanf(line, "%15s %31s %d %4095s", kind, id, &offset, ids);
        if (k < 1) continue; /* a blank line */
        int array = !strcmp(kind, "array"), aggregate = !strcmp(kind, "aggregate");
        if (!array && !aggregate) continue; /* a kind of record this version does not know */
        if ((array && k != 4) || k < 2 || !*id || strspn(id, "0123456789") != strlen(id)) {
            free(*jobs);
            fclose(f);
            return err_set("%s:%d: expected 'array JOBID OFFSET IDS' or 'aggregate JOBID'", path, lineno);
        }
        cancel_job_t *grown = realloc(*jobs, (size_t)(n + 1) * sizeof **jobs);
        CHECK(grown, "out of memory");
        *jobs = grown;
        cancel_job_t *j = &(*jobs)[n++];
        j->aggregate = aggregate, j->queued = 1;
        snprintf(j->id, sizeof j->id, "%s", id);
        if (aggregate) snprintf(j->what, sizeof j->what, "aggregation job %s", id);
        else if (offset == 0) snprintf(j->what, sizeof j->what, "array job %s (runs %.100s)", id, ids);
        else snprintf(j->what, sizeof j->what, "array job %s (tasks %.80s of runs from %d)", id, ids, offset);
    }
    fclose(f);
    return n;
}

/* Marks the jobs no longer in the queue; 0, or -1 when squeue cannot say (then every job counts as
 * queued: scancel ignores the ids of finished jobs). */
static int mark_queued(cancel_job_t *jobs, int n)
{
    static char out[1 << 22];
    char user[32];
    snprintf(user, sizeof user, "--user=%u", (unsigned)getuid());
    char *argv[] = {"squeue", "-h", user, "-o", "%F", NULL}; /* %F: the array's job id, for its tasks too */
    if (slurm_capture(argv, out, sizeof out, 1) != 0) return -1;
    for (int i = 0; i < n; i++) {
        jobs[i].queued = 0;
        for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
            if ((int)strcspn(p, " \n") == (int)strlen(jobs[i].id) && !strncmp(p, jobs[i].id, strlen(jobs[i].id)))
                jobs[i].queued = 1;
    }
    return 0;
}

int cancel_sweep(const char *dir, int dry)
{
    sweepdir_t w;
    cancel_job_t *jobs = NULL;
    int n = sweepdir_open(&w, dir) ? -1 : read_jobs(&w, &jobs);
    if (n < 0) {
        sweepdir_close(&w);
        return SWEEPDIR_EINPUT;
    }
    if (n == 0) {
        printf("# no jobs recorded in %s/jobs.tsv: nothing to cancel\n", w.dir);
        sweepdir_close(&w);
        return 0;
    }
    int asked = mark_queued(jobs, n) == 0, queued = 0;
    for (int i = 0; i < n; i++) queued += jobs[i].queued;
    if (!asked) printf("# squeue could not say which of the %d recorded job(s) are queued: cancelling all\n", n);
    else printf("# %d of the %d recorded job(s) in the queue\n", queued, n);
    /* Latest first: the aggregation job and each later array depend (afterany) on the arrays before them,
     * and would start the moment those ended. */
    int rc = 0;
    char failures[1024] = ""; /* each job's, one line each */
    for (int i = n - 1; i >= 0; i--) { /* a failure does not stop the others: each left queued is a leak */
        if (!jobs[i].queued) continue;
        /* A running task stops with a checkpoint on scancel's SIGTERM and, as after a time-limit warning,
         * il-step.sh would requeue it: the job must not be requeueable first. */
        char job_opt[48], *no_requeue[] = {"scontrol", "update", job_opt, "Requeue=0", NULL};
        char *argv[] = {"scancel", jobs[i].id, NULL}, out[512];
        snprintf(job_opt, sizeof job_opt, "JobId=%s", jobs[i].id);
        if (dry) {
            printf("would cancel %s: scontrol update %s Requeue=0; scancel %s\n", jobs[i].what, job_opt, jobs[i].id);
            continue;
        }
        if (slurm_capture(no_requeue, out, sizeof out, 1) != 0 && asked)
            printf("# scontrol could not make job %s unrequeueable: a running task may requeue itself\n", jobs[i].id);
        int status = slurm_capture(argv, out, sizeof out, SLURM_STDERR_TOO);
        if (status != 0) {
            for (char *p = out; *p; p++) /* scancel's complaint, quoted on the one line */
                if (*p == '\n') *p = *(p + strspn(p, "\n")) ? ' ' : '\0';
            if (status < 0) err_set("scancel could not be run (is Slurm installed and on PATH?)");
            else err_set("cancelling %s: scancel exited %d%s%s", jobs[i].what, status, *out ? ": " : "", out);
            size_t len = strlen(failures);
            snprintf(failures + len, sizeof failures - len, "%s%s", len ? "\n" : "", err_msg());
            rc = SWEEPDIR_ERUN;
        } else {
            printf("cancelled %s\n", jobs[i].what);
        }
    }
    free(jobs);
    sweepdir_close(&w);
    if (rc) err_set("%s", failures);
    return rc;
}
