/* il-aggregate: merges the traces of every run under the given paths into tables, summary.nc, claims.md
 * and figures (docs/aggregate.md).
 *   il-aggregate [--out DIR] PATH...
 * Runs are processed one at a time: memory holds one run's traces plus a small row per run.
 * Exit codes: 0 everything was used; 3 results written but some inputs were skipped (skipped.md says which);
 * 2 bad command line or no run directory found; 1 an output could not be written. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "afile.h"
#include "claims.h"
#include "config.h"
#include "curves.h"
#include "err.h"
#include "figures.h"
#include "find.h"
#include "metrics.h"
#include "report.h"
#include "rstat.h"
#include "runs.h"
#include "skips.h"
#include "summary.h"

enum { EXIT_PARTIAL = 3 }; /* results written, some inputs skipped */

typedef struct {
    const char *out;
    report_t report;
    summary_t summary;
    skips_t skips;
    run_row_t *rows;
    claim_run_t *claims;
    int n_claims;
} agg_t;

static int usage(const char *msg)
{
    fprintf(stderr, "il-aggregate: %s (usage: il-aggregate [--out DIR] PATH...)\n", msg);
    return IL_EXIT_INPUT;
}

static int exists(const char *dir, const char *name)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* Reads config.ini into cfg; returns 1 when there is a usable one. */
static int load_config(agg_t *a, const char *dir, config_t *cfg)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    if (!exists(dir, "config.ini")) return 0;
    config_defaults(cfg);
    if (config_load(cfg, path) == 0) return 1;
    skips_add(&a->skips, path, err_msg());
    return 0;
}

static void one_run(agg_t *a, const char *dir, run_row_t *row)
{
    config_t cfg;
    int have_cfg = load_config(a, dir, &cfg);
    metrics_t m;
    int have_m = metrics_read(&m, dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (have_m < 0) skips_add(&a->skips, path, err_msg());
    if (have_m > 0 && m.bad_lines) {
        char reason[128];
        snprintf(reason, sizeof reason, "%d malformed line(s), the first at line %d; the other lines were used",
                 m.bad_lines, m.first_bad);
        skips_add(&a->skips, path, reason);
    }
    curves_t c;
    int used = curves_load(&c, dir, &a->skips);
    runs_fill(row, dir, have_cfg ? &cfg : NULL, have_m > 0 ? &m : NULL, used ? &c : NULL);
    if (used && c.n_rec) {
        rstat_t s;
        rstat_compute(&s, &c);
        report_run(&a->report, row->name, &s);
        row->sum_index = (long)a->summary.n_runs;
        summary_add(&a->summary, row->name, dir, &c);
        claim_run_t *cl = &a->claims[a->n_claims++];
        cl->n_params = row->param[TP_N_PARAMS].d, cl->n_layer = row->param[TP_N_LAYER].d;
        cl->d_model = row->param[TP_D_MODEL].d;
        memcpy(cl->hyp, s.hyp, sizeof cl->hyp);
        rstat_free(&s);
    }
    curves_free(&c);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static char *command_line(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = err_calloc(n, 1);
    for (int i = 0; i < argc; i++) strcat(strcat(s, i ? " " : ""), argv[i]);
    return s;
}

int main(int argc, char **argv)
{
    double t0 = seconds();
    agg_t a = {.out = "aggregate"};
    runlist_t runs = {0};
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "--out") && first + 1 < argc) a.out = argv[++first];
        else if (!strcmp(argv[first], "--help")) {
            printf("usage: il-aggregate [--out DIR] PATH...: merges run traces into tables, summary.nc, claims.md "
                   "and figures (docs/aggregate.md)\n");
            return IL_EXIT_OK;
        }
        else return usage("unknown option or missing value");
    }
    if (first == argc) return usage("no PATH given");
    for (int i = first; i < argc; i++)
        if (find_runs(&runs, argv[i])) {
            fprintf(stderr, "il-aggregate: %s\n", err_msg());
            find_free(&runs);
            return IL_EXIT_INPUT;
        }
    if (!runs.n) {
        fprintf(stderr, "il-aggregate: no run directory (with config.ini or trace/) under %s%s\n", argv[first],
                argc - first > 1 ? " and the other paths" : "");
        return IL_EXIT_INPUT;
    }
    char *command = command_line(argc, argv);
    if (afile_mkdirs(a.out) || report_open(&a.report, a.out)) {
        fprintf(stderr, "il-aggregate: %s\n", err_msg());
        return IL_EXIT_FAIL;
    }
    if (summary_open(&a.summary, a.out, command)) {
        fprintf(stderr, "il-aggregate: %s\n", err_msg());
        report_abort(&a.report);
        return IL_EXIT_FAIL;
    }
    a.rows = err_calloc((size_t)runs.n, sizeof *a.rows);
    a.claims = err_calloc((size_t)runs.n, sizeof *a.claims);
    for (int i = 0; i < runs.n; i++) one_run(&a, runs.dir[i], &a.rows[i]);

    char summary_path[4200];
    snprintf(summary_path, sizeof summary_path, "%s/summary.nc", a.out);
    int rc = report_commit(&a.report);
    rc = summary_close(&a.summary) || rc;
    rc = runs_write(a.out, a.rows, runs.n) || rc;
    rc = claims_write(a.out, a.claims, a.n_claims, runs.n, a.skips.n) || rc;
    rc = skips_write(&a.skips, a.out) || rc;
    if (rc) {
        fprintf(stderr, "il-aggregate: %s\n", err_msg());
        return IL_EXIT_FAIL;
    }
    fig_run_t *fr = err_calloc((size_t)runs.n, sizeof *fr);
    for (int i = 0; i < runs.n; i++)
        fr[i] = (fig_run_t){a.rows[i].name, a.rows[i].param[TP_N_PARAMS].d, a.rows[i].train_loss, a.rows[i].val_loss,
                            a.rows[i].sum_index};
    int fig_skipped = fig_make(a.out, summary_path, fr, runs.n);
    free(fr);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("il-aggregate: %d runs (%d with traces) into %s; %d inputs skipped, %d warnings, %d figures skipped; "
           "%.1f s, peak memory %.0f MB\n",
           runs.n, a.n_claims, a.out, a.skips.n, a.skips.warnings, fig_skipped, seconds() - t0, ru.ru_maxrss / 1024.0);
    int code = a.skips.n ? EXIT_PARTIAL : IL_EXIT_OK;
    for (int i = 0; i < runs.n; i++) runs_free(&a.rows[i]);
    free(a.rows);
    free(a.claims);
    free(command);
    skips_free(&a.skips);
    find_free(&runs);
    return code;
}
