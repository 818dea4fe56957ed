/* aggregate: il-aggregate's driver (aggregate.h): the run list, the outputs opened and closed around the
 * ranks' merge (deal.h), and what rank 0 takes of each run. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "analysis/aggregate.h"
#include "analysis/claims.h"
#include "analysis/figures.h"
#include "analysis/find.h"
#include "analysis/outdir.h"
#include "analysis/onerun.h"
#include "analysis/report.h"
#include "analysis/runcache.h"
#include "analysis/runs.h"
#include "analysis/scaling.h"
#include "analysis/skips.h"
#include "analysis/deal.h"
#include "analysis/traceread.h"
#include "analysis/summary.h"
#include "analysis/timings.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/dist.h"
#include "core/err.h"
#include "run/rundir.h"
#include "trace/consolidate.h"

/* What rank 0 accumulates over the runs. */
typedef struct {
    const char *out; /* as the user named it */
    outdir_t dir;    /* its lock, and dir.work where the outputs are written until they are complete */
    report_t report;
    summary_t summary;
    skips_t skips;
    run_row_t *rows;
    claim_run_t *claims;
    int n_claims, n_figs_skipped;
} agg_t;

/* Rank 0: consolidates every finished run of the list (consolidate.h) and says what it did. Each run is
 * written holding its lock, as il-train does (rundir.h): never beside a live il-train, and clear of the
 * temporary files of a writer that died. */
static void consolidate_all(const runlist_t *runs)
{
    int runs_done = 0, files = 0, unfinished = 0;
    for (int i = 0; i < runs->n; i++) {
        const char *why = NULL;
        rundir_t lock;
        char first[4200];
        int n = rundir_lock(&lock, runs->dir[i]);
        if (!n) {
            int stale = rundir_clean(&lock, first, sizeof first);
            if (stale)
                printf("il-aggregate: %s: removed %d temporary file%s left by a writer that died (%s%s)\n", runs->dir[i],
                       stale, stale == 1 ? "" : "s", first, stale > 1 ? ", ..." : "");
            n = consolidate_run(runs->dir[i], &why);
        }
        rundir_release(&lock, 0);
        if (n < 0) fprintf(stderr, "il-aggregate: warning: %s: not consolidated: %s\n", runs->dir[i], err_msg());
        else if (n) runs_done++, files += n;
        else unfinished++;
    }
    printf("il-aggregate: consolidated %d run%s into %d rank file%s; %d left as they were (unfinished, or "
           "consolidated already)\n", runs_done, runs_done == 1 ? "" : "s", files, files == 1 ? "" : "s", unfinished);
}

/* Rank 0: one run's results into the outputs, in run order. */
static void take(void *user, int i, onerun_t *p)
{
    agg_t *a = user;
    run_row_t *row = &a->rows[i];
    skips_merge(&a->skips, &p->skips);
    *row = p->row;
    memset(&p->row, 0, sizeof p->row);
    if (!p->has_stats) return;
    double t = clock_seconds();
    report_run(&a->report, row->name, &p->stat);
    row->sum_index = (long)a->summary.n_runs;
    if (summary_add(&a->summary, row->name, row->dir, &p->sum)) {
        skips_warn(&a->skips, "%s: left out of summary.nc: %s", row->dir, err_msg());
        row->sum_index = -1;
    }
    timings_lap(TM_WRITE, t);
    claims_run(&a->claims[a->n_claims++], row, &p->stat);
}

/* Rank 0: locks the output directory and opens, in its temporary sibling, the streamed tables and summary.nc,
 * whose dimensions are planned from every run's config.ini. Returns the exit code (outdir.h), with err_set(). */
static int open_outputs(agg_t *a, const runlist_t *runs, const char *command)
{
    int code = outdir_open(&a->dir, a->out);
    if (code != IL_EXIT_OK) return code;
    if (report_open(&a->report, a->dir.work)) return IL_EXIT_FAIL;
    summary_plan_t plan = {0};
    for (int i = 0; i < runs->n; i++) {
        char path[4200];
        config_t cfg;
        config_defaults(&cfg);
        config_mark_absent(&cfg);
        snprintf(path, sizeof path, "%s/config.ini", runs->dir[i]);
        if (access(path, F_OK) == 0 && config_load(&cfg, path) == 0) summary_plan_add(&plan, &cfg);
    }
    if (summary_open(&a->summary, a->dir.work, a->dir.out, a->out, command, &plan) == 0) return IL_EXIT_OK;
    summary_plan_free(&plan);
    report_abort(&a->report);
    return IL_EXIT_FAIL;
}

/* Rank 0: err_msg() names an output that could not be written where the user will look for it: in the
 * output directory, not in its temporary sibling. */
static void name_failure(const agg_t *a)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", err_msg());
    size_t n = strlen(a->dir.work);
    if (n && !strncmp(msg, a->dir.work, n)) err_set("%s%s", a->dir.out, msg + n);
}

/* Rank 0: the outputs that need every run, the commits, the figures, and the swap of the whole into place.
 * Returns IL_EXIT_OK, or IL_EXIT_FAIL with err_set(). */
static int close_outputs(agg_t *a, int n)
{
    const char *dir = a->dir.work;
    scaling_fit_t fit;
    double t = clock_seconds();
    int rc = summary_close(&a->summary);
    if (rc) report_abort(&a->report);
    rc = rc || report_commit(&a->report) || runs_write(dir, a->rows, n) ||
         claims_write(dir, a->claims, a->n_claims, n, a->skips.n) || scaling_write(dir, a->rows, n, &fit) ||
         skips_write(&a->skips, dir);
    t = timings_lap(TM_WRITE, t);
    rc = rc || figures_make(dir, a->summary.path, a->rows, n, &fit, &a->n_figs_skipped);
    t = timings_lap(TM_FIGURES, t);
    rc = rc || outdir_commit(&a->dir);
    timings_lap(TM_WRITE, t);
    if (!rc) return IL_EXIT_OK;
    name_failure(a);
    return IL_EXIT_FAIL;
}

/* Every rank's peak resident memory in KB: the largest and the sum, on rank 0. */
static void peak_memory(long *largest, long *total)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long kb = ru.ru_maxrss;
    CHECK_RC(MPI_Reduce(&kb, largest, 1, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD), dist_strerror);
    CHECK_RC(MPI_Reduce(&kb, total, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD), dist_strerror);
}

/* glibc's defaults give the top of the heap back to the kernel once 128 KiB of it is free, and serve larger
 * blocks by mmap: the processes here allocate and free blocks of a few hundred KB to a few MB for every run
 * or file (summary.nc's chunks and zlib's state in its writing process, a trace and its arrays in the
 * reading process), and paid for each again in page faults: half the writing process's time (perf), the
 * larger part of writing summary.nc in an aggregation that takes its runs from their caches. Memory stays
 * with the process instead, never more than its peak; the processes forked later inherit the setting. */
static void keep_freed_memory(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

int aggregate_runs(const aggregate_args_t *args, int *skipped)
{
    double t0 = clock_seconds();
    keep_freed_memory();
    int rank, size, rc = 0;
    CHECK_RC(MPI_Comm_rank(MPI_COMM_WORLD, &rank), dist_strerror);
    CHECK_RC(MPI_Comm_size(MPI_COMM_WORLD, &size), dist_strerror);
    *skipped = 0;
    runlist_t runs = {0};
    for (int i = 0; rank == 0 && i < args->n_paths && !rc; i++) rc = find_runs(&runs, args->paths[i]);
    if (dist_agree(rc)) {
        find_free(&runs);
        return IL_EXIT_INPUT;
    }
    if (args->consolidate && rank == 0) consolidate_all(&runs);
    runcache_use(!args->no_cache);
    deal_list(&runs);
    if (!runs.n) {
        err_set("no run directory (with config.ini or trace/) under %.512s%s", args->paths[0],
                args->n_paths > 1 ? " and the other paths" : "");
        find_free(&runs);
        return IL_EXIT_INPUT;
    }
    agg_t a = {.out = args->out};
    int code = rank == 0 ? open_outputs(&a, &runs, args->command) : IL_EXIT_OK;
    if ((code = dist_agree(code))) {
        if (rank == 0) {
            name_failure(&a);
            outdir_close(&a.dir);
        }
        find_free(&runs);
        return code;
    }
    if (rank == 0) {
        a.rows = err_calloc((size_t)runs.n, sizeof *a.rows);
        a.claims = err_calloc((size_t)runs.n, sizeof *a.claims);
    }
    deal_runs(&runs, take, &a);
    traceread_end(); /* every trace is read */
    code = rank == 0 ? close_outputs(&a, runs.n) : IL_EXIT_OK;
    if (rank == 0) outdir_close(&a.dir);
    long largest, total;
    peak_memory(&largest, &total);
    if (rank == 0 && code == IL_EXIT_OK)
        printf("il-aggregate: %d runs (%d with traces) into %s; %d inputs skipped, %d warnings, %d figures skipped; "
               "%.1f s on %d rank(s), peak memory %.0f MB (largest rank), %.0f MB (all ranks)\n",
               runs.n, a.n_claims, a.out, a.skips.n, a.skips.warnings, a.n_figs_skipped, clock_seconds() - t0,
               size, largest / 1024.0, total / 1024.0);
    if (args->timings) timings_report(clock_seconds() - t0);
    if (args->timings && rank == 0 && code == IL_EXIT_OK)
        printf("il-aggregate: timings: summary.nc: %ld runs' curves copied, %ld compressed\n", a.summary.n_copied,
               (long)a.summary.n_runs - a.summary.n_copied);
    int verdict[2] = {code, a.skips.n};
    CHECK_RC(MPI_Bcast(verdict, 2, MPI_INT, 0, MPI_COMM_WORLD), dist_strerror);
    *skipped = verdict[1];
    for (int i = 0; rank == 0 && i < runs.n; i++) runs_free(&a.rows[i]);
    free(a.rows);
    free(a.claims);
    skips_free(&a.skips);
    find_free(&runs);
    return verdict[0];
}
