/* il-aggregate: merges the traces of every run under the given paths into tables, summary.nc, claims.md
 * and figures (docs/aggregate.md).
 *   il-aggregate [--out DIR] PATH...              one process
 *   mpirun -n P il-aggregate [--out DIR] PATH...  runs spread over P ranks (spread.h); the same outputs
 * Rank 0 finds the runs and writes every output; each rank reads and merges its share of the runs, one at a
 * time, so memory holds a few runs per rank plus a small row per run on rank 0.
 * Exit codes, the same on every rank: 0 everything was used; 3 results written but some inputs were skipped
 * (skipped.md says which); 2 bad command line or no run directory found; 1 an output could not be written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/afile.h"
#include "analysis/claims.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/runlog.h"
#include "analysis/figures.h"
#include "analysis/find.h"
#include "analysis/prun.h"
#include "analysis/report.h"
#include "analysis/runs.h"
#include "analysis/skips.h"
#include "analysis/spread.h"
#include "analysis/summary.h"

enum { EXIT_PARTIAL = 3 }; /* results written, some inputs skipped */

/* What rank 0 accumulates over the runs. */
typedef struct {
    const char *out;
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

static int usage(const char *msg)
{
    char line[256];
    snprintf(line, sizeof line, "%s (usage: il-aggregate [--out DIR] PATH...)", msg);
    return finish(IL_EXIT_INPUT, line);
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
    summary_add(&a->summary, row->name, row->dir, &p->sum);
    claims_run(&a->claims[a->n_claims++], row, &p->stat);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Rank 0: creates the output directory, the streamed tables and summary.nc. Returns 0, or -1 with err_set(). */
static int open_outputs(agg_t *a, const char *command)
{
    if (afile_mkdirs(a->out) || report_open(&a->report, a->out)) return -1;
    if (summary_open(&a->summary, a->out, command) == 0) return 0;
    report_abort(&a->report);
    return -1;
}

/* Rank 0: the outputs that need every run, the commits and the figures. Returns the exit code. */
static int close_outputs(agg_t *a, int n)
{
    int rc = report_commit(&a->report);
    rc = summary_close(&a->summary) || rc;
    rc = runs_write(a->out, a->rows, n) || rc;
    rc = claims_write(a->out, a->claims, a->n_claims, n, a->skips.n) || rc;
    rc = skips_write(&a->skips, a->out) || rc;
    if (rc) {
        fprintf(stderr, "il-aggregate: %s\n", err_msg());
        return IL_EXIT_FAIL;
    }
    figures_run_t *fr = err_calloc((size_t)n, sizeof *fr);
    for (int i = 0; i < n; i++)
        fr[i] = (figures_run_t){a->rows[i].name, a->rows[i].param[TP_N_PARAMS].d, a->rows[i].train_loss,
                            a->rows[i].val_loss, a->rows[i].sum_index};
    a->n_figs_skipped = figures_make(a->out, a->summary.path, fr, n);
    free(fr);
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
    dist_t d;
    int rc = dist_init(&d, &argc, &argv);
    rank = d.rank;
    if (dist_agree(rc)) return finish(IL_EXIT_INPUT, err_msg());
    agg_t a = {.out = "aggregate"};
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "--out") && first + 1 < argc) a.out = argv[++first];
        else if (!strcmp(argv[first], "--help")) {
            if (rank == 0)
                printf("usage: [mpirun -n P] il-aggregate [--out DIR] PATH...: merges run traces into tables, "
                       "summary.nc, claims.md and figures (docs/aggregate.md)\n");
            return finish(IL_EXIT_OK, NULL);
        }
        else return usage("unknown option or missing value");
    }
    if (first == argc) return usage("no PATH given");
    runlist_t runs = {0};
    for (int i = first; rank == 0 && i < argc && !rc; i++) rc = find_runs(&runs, argv[i]);
    if (dist_agree(rc)) {
        find_free(&runs);
        return finish(IL_EXIT_INPUT, err_msg());
    }
    spread_list(&runs);
    if (!runs.n) {
        char msg[8400];
        snprintf(msg, sizeof msg, "no run directory (with config.ini or trace/) under %.4096s%s", argv[first],
                 argc - first > 1 ? " and the other paths" : "");
        return finish(IL_EXIT_INPUT, msg);
    }
    char *command = runlog_command_line(argc, argv);
    if (dist_agree(rank == 0 ? open_outputs(&a, command) : 0)) {
        free(command);
        find_free(&runs);
        return finish(IL_EXIT_FAIL, err_msg());
    }
    if (rank == 0) {
        a.rows = err_calloc((size_t)runs.n, sizeof *a.rows);
        a.claims = err_calloc((size_t)runs.n, sizeof *a.claims);
    }
    spread_runs(&runs, take, &a);
    int code = rank == 0 ? close_outputs(&a, runs.n) : IL_EXIT_OK;
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
