/* summary: summary.nc, every run's merged curves in one NetCDF-4 file for xarray and NCO users, written one
 * run at a time so that memory does not grow with the sweep.
 *
 * Runs differ in their trace steps, depth and context length, so `run`, `step`, `depth`, `layer` and
 * `position` are all unlimited dimensions: each run fills its own extent, the rest reads back as the fill
 * value (NaN, or -1 for integers), and n_step/n_depth/n_position give each run's lengths. `step` is the
 * index of a trace record within its run; the optimizer step it holds is train_step(run, step). */
#ifndef IL_AGG_SUMMARY_H
#define IL_AGG_SUMMARY_H

#include "analysis/curves.h"

/* Names of summary.nc's own variables (the curves are named as in the trace schema). */
#define SUMMARY_RUN_NAME "run_name"
#define SUMMARY_RUN_DIR "run_dir"
#define SUMMARY_TRAIN_STEP "train_step"
#define SUMMARY_N_STEP "n_step"
#define SUMMARY_N_DEPTH "n_depth"
#define SUMMARY_N_POSITION "n_position"

enum { SUM_MAX_CURVES = TV_N + 1, SUM_MAX_VARS = SUM_MAX_CURVES + 6 + TP_N };

/* One run's part of summary.nc, prepared from its curves on whichever rank read it: every curve variable as
 * it is written (position means taken, the norm spread picked out), so that rank 0 only writes. */
typedef struct {
    int n_rec, L, T;
    int64_t *step;           /* (n_rec) */
    trace_value_t param[TP_N];
    size_t len[SUM_MAX_CURVES]; /* elements of v[k]: n_rec times the variable's extent in this run */
    double *v[SUM_MAX_CURVES];  /* the first summary_n_curves() are used */
} summary_run_t;

typedef struct {
    int ncid;
    char path[4200], tmp[4300];
    size_t n_runs;
    int max_D, max_L, max_T;
    int dim[5];
    int varid[SUM_MAX_VARS];
} summary_t;

/* How many curve variables summary.nc has (one per schema row with a summary column, and the norm spread). */
int summary_n_curves(void);

void summary_run_make(summary_run_t *r, const curves_t *c);
void summary_run_free(summary_run_t *r);

/* Creates <dir>/summary.nc under a temporary name. Returns 0, or -1 with err_set(). */
int summary_open(summary_t *s, const char *dir, const char *command);
/* Appends one run. */
void summary_add(summary_t *s, const char *name, const char *run_dir, const summary_run_t *r);
/* Writes the coordinates, closes and renames the file into place. Returns 0, or -1 with err_set(). */
int summary_close(summary_t *s);

#endif
