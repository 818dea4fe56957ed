/* il-aggregate: merges the traces of every run under the given paths into tables, summary.nc, claims.md
 * and figures (docs/aggregate.md).
 *   il-aggregate [--out DIR] [--consolidate] PATH...              one process
 *   mpirun -n P il-aggregate [--out DIR] [--consolidate] PATH...  runs spread over P ranks (spread.h)
 * Rank 0 finds the runs and writes every output; each rank reads and merges its share of the runs, one at a
 * time, so memory holds a few runs per rank plus a small row per run on rank 0.
 * The output directory is written by one il-aggregate at a time and replaced as a whole (outdir.h).
 * Exit codes, the same on every rank: 0 everything was used; 3 results written but some inputs were skipped
 * (skipped.md says which); 2 bad command line, no run directory found, or --out in use or not an output
 * directory; 1 an output could not be written (the old outputs are then untouched). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include "core/cli.h"
#include "core/config.h"
#include "analysis/claims.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/runlog.h"
#include "analysis/figures.h"
#include "analysis/find.h"
#include "analysis/outdir.h"
#include "analysis/prun.h"
#include "analysis/report.h"
#include "analysis/runs.h"
#include "analysis/scaling.h"
#include "analysis/skips.h"
#include "analysis/spread.h"
#include "analysis/summary.h"
#include "run/rundir.h"
#include "trace/consolidate.h"

enum { EXIT_PARTIAL = IL_EXIT_PARTIAL }; /* results written, some inputs skipped (innerloop/exit.h) */

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

static int rank;

/* Ends this rank's MPI and returns the exit code; msg (if any) is said once, by rank 0: every rank reaches
 * the same code. */
static int finish(int code, const char *msg)
{
    if (msg && rank == 0) fprintf(stderr, "il-aggregate: %s\n", msg);
    dist_finalize();
    return code;
}

static const char usage_text[] =
    "usage: [mpirun -n P] il-aggregate [--out DIR] [--consolidate] PATH...\n"
    "  Merges the traces of every run under the PATHs (run directories, or directories holding them) into\n"
    "  tables, claims.md, claims.csv, summary.nc and figures in DIR (docs/aggregate.md).\n"
    "  --out DIR        output directory (default: aggregate), replaced as a whole; one il-aggregate at a\n"
    "                   time writes it\n"
    "  --consolidate    first merge each finished run's trace segments into one file per rank\n"
    "                   (trace/rankRRRR.nc) and remove the segments, as il-train does when a run ends\n"
    "  -h, --help       this text\n"
    "  --version        version and git commit\n"
    "exit codes: 0 every input used; 3 results written, some inputs skipped (skipped.md says which);\n"
    "2 bad command line, no run directory found, or --out in use or holding other files; 1 an output\n"
    "could not be written (the old outputs are untouched)\n";

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
static void take(void *user, int i, prun_t *p)
{
    agg_t *a = user;
    run_row_t *row = &a->rows[i];
    skips_merge(&a->skips, &p->skips);
    *row = p->row;
    memset(&p->row, 0, sizeof p->row);
    if (!p->has_stats) return;
    report_run(&a->report, row->name, &p->stat);
    row->sum_index = (long)a->summary.n_runs;
    if (summary_add(&a->summary, row->name, row->dir, &p->sum)) {
        skips_warn(&a->skips, "%s: left out of summary.nc: %s", row->dir, err_msg());
        row->sum_index = -1;
    }
    claims_run(&a->claims[a->n_claims++], row, &p->stat);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
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
    if (summary_open(&a->summary, a->dir.work, a->out, command, &plan) == 0) return IL_EXIT_OK;
    summary_plan_free(&plan);
    report_abort(&a->report);
    return IL_EXIT_FAIL;
}

/* Rank 0: says why an output could not be written, naming it where the user will look for it: in the output
 * directory, not in its temporary sibling. */
static void say_failure(const agg_t *a)
{
    const char *msg = err_msg();
    size_t n = strlen(a->dir.work);
    if (n && !strncmp(msg, a->dir.work, n)) fprintf(stderr, "il-aggregate: %s%s\n", a->dir.out, msg + n);
    else fprintf(stderr, "il-aggregate: %s\n", msg);
}

/* Rank 0: the outputs that need every run, the commits, the figures, and the swap of the whole into place.
 * Returns the exit code. */
static int close_outputs(agg_t *a, int n)
{
    const char *dir = a->dir.work;
    scaling_fit_t fit;
    int rc = summary_close(&a->summary);
    if (rc) report_abort(&a->report);
    rc = rc || report_commit(&a->report) || runs_write(dir, a->rows, n) ||
         claims_write(dir, a->claims, a->n_claims, n, a->skips.n) || scaling_write(dir, a->rows, n, &fit) ||
         skips_write(&a->skips, dir) || figures_make(dir, a->summary.path, a->rows, n, &fit, &a->n_figs_skipped) ||
         outdir_commit(&a->dir);
    if (rc) {
        say_failure(a);
        return IL_EXIT_FAIL;
    }
    return a->skips.n ? EXIT_PARTIAL : IL_EXIT_OK;
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

int main(int argc, char **argv)
{
    double t0 = seconds();
    /* Open MPI's singleton (one process without mpirun) would start a daemon through ssh or rsh found on
     * PATH; one aggregating process needs none, and must run where PATH lacks them. No effect under a
     * launcher or another MPI. */
    setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
    /* A live run's writers hold its trace segments open, and HDF5's file locking then refuses any reader
     * ("HDF error"); their synced records read without it (trace-schema.md, "Durability"). HDF5 reads the
     * setting once, when it starts: before anything here opens a NetCDF file. */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    dist_t d;
    int rc = dist_init(&d, &argc, &argv);
    rank = d.rank;
    if (dist_agree(rc)) return finish(IL_EXIT_INPUT, err_msg());
    agg_t a = {.out = "aggregate"};
    enum { OPT_OUT = CLI_OPT_FIRST, OPT_CONSOLIDATE };
    static const struct option opts[] = {{"out", required_argument, NULL, OPT_OUT},
                                         {"consolidate", no_argument, NULL, OPT_CONSOLIDATE}, CLI_COMMON_OPTIONS, {0}};
    cli_t cli;
    int consolidate = 0;
    cli_init(&cli, "il-aggregate", usage_text, opts, rank != 0);
    for (int o; (o = cli_next(&cli, argc, argv)) != CLI_END;) {
        if (o == OPT_OUT) a.out = cli.arg;
        else if (o == OPT_CONSOLIDATE) consolidate = 1;
        else return finish(cli.exit_code, NULL);
    }
    int first = cli.rest;
    if (first == argc) return finish(rank == 0 ? cli_fail(&cli, "no PATH given") : IL_EXIT_INPUT, NULL);
    runlist_t runs = {0};
    for (int i = first; rank == 0 && i < argc && !rc; i++) rc = find_runs(&runs, argv[i]);
    if (dist_agree(rc)) {
        find_free(&runs);
        return finish(IL_EXIT_INPUT, err_msg());
    }
    if (consolidate && rank == 0) consolidate_all(&runs);
    spread_list(&runs);
    if (!runs.n) {
        char msg[8400];
        snprintf(msg, sizeof msg, "no run directory (with config.ini or trace/) under %.4096s%s", argv[first],
                 argc - first > 1 ? " and the other paths" : "");
        return finish(IL_EXIT_INPUT, msg);
    }
    char *command = runlog_command_line(argc, argv);
    int code = rank == 0 ? open_outputs(&a, &runs, command) : IL_EXIT_OK;
    if (dist_agree(code)) {
        CHECK_RC(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD), dist_strerror);
        if (rank == 0) {
            say_failure(&a);
            outdir_close(&a.dir);
        }
        free(command);
        find_free(&runs);
        return finish(code, NULL);
    }
    if (rank == 0) {
        a.rows = err_calloc((size_t)runs.n, sizeof *a.rows);
        a.claims = err_calloc((size_t)runs.n, sizeof *a.claims);
    }
    spread_runs(&runs, take, &a);
    code = rank == 0 ? close_outputs(&a, runs.n) : IL_EXIT_OK;
    if (rank == 0) outdir_close(&a.dir);
    long largest, total;
    peak_memory(&largest, &total);
    if (rank == 0 && code != IL_EXIT_FAIL)
        printf("il-aggregate: %d runs (%d with traces) into %s; %d inputs skipped, %d warnings, %d figures skipped; "
               "%.1f s on %d rank(s), peak memory %.0f MB (largest rank), %.0f MB (all ranks)\n",
               runs.n, a.n_claims, a.out, a.skips.n, a.skips.warnings, a.n_figs_skipped, seconds() - t0, d.size,
               largest / 1024.0, total / 1024.0);
    CHECK_RC(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD), dist_strerror);
    for (int i = 0; rank == 0 && i < runs.n; i++) runs_free(&a.rows[i]);
    free(a.rows);
    free(a.claims);
    free(command);
    skips_free(&a.skips);
    find_free(&runs);
    return finish(code, NULL);
}
