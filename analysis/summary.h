/* summary: summary.nc, every run's merged curves in one NetCDF-4 file for xarray and NCO users, written one
 * run at a time so that memory does not grow with the sweep.
 *
 * `run` is the only record dimension, so NCO's record tools (ncrcat, ncra) work along it. `step`, `depth`,
 * `layer` and `position` are fixed, planned before the first run is written from every run's config.ini:
 * `step` is the union of the runs' trace steps (optimizer updates done, a coordinate variable), the others
 * the largest depth, block count and context length. A run fills the steps it traced and its own extent;
 * the rest reads back as NaN, and n_step, n_depth and n_position give each run's own counts. Along `run`,
 * `run` holds the run names (the dimension's coordinate variable, which xarray makes its index); run_name
 * (the same names, cf_role timeseries_id) and the sweep parameters are auxiliary coordinates (named in
 * every curve's `coordinates` attribute), as is the wall-clock `time` of each record. run_key holds each
 * run's key, by which the next aggregation into the same directory copies unchanged runs (sumreuse.h).
 *
 * The file is written by a process of its own, forked by summary_open, to which summary_add sends each run:
 * HDF5 keeps a file whose write failed (a full disk) half-closed and crashes on it when the library shuts
 * down at MPI_Finalize, so a failure must end only that process; rank 0 then reports it and exits cleanly. */
#ifndef IL_AGG_SUMMARY_H
#define IL_AGG_SUMMARY_H

#include <sys/types.h>

#include "analysis/curves.h"
#include "core/config.h"

/* Names of summary.nc's own variables (the curves are named as in the trace schema). */
#define SUMMARY_RUN_NAME "run_name"
#define SUMMARY_RUN_DIR "run_dir"
#define SUMMARY_N_STEP "n_step"
#define SUMMARY_N_DEPTH "n_depth"
#define SUMMARY_N_POSITION "n_position"
#define SUMMARY_RUN_KEY "run_key"

enum { SUM_MAX_CURVES = TV_N + 1, SUM_MAX_VARS = SUM_MAX_CURVES + 7 + TP_N };

/* The fixed dimensions, from the runs' configs. */
typedef struct {
    int64_t *steps; /* (n_steps) ascending: every step any run traces */
    int n_steps, D, L, T;
} summary_plan_t;

/* Adds the trace steps and the dimensions of a run of config c. */
void summary_plan_add(summary_plan_t *p, const config_t *c);
void summary_plan_free(summary_plan_t *p);

/* One run's part of summary.nc, prepared from its curves on whichever rank read it: every curve variable as
 * it is written (group variables as their run value, the norm spread picked out), so that rank 0 only
 * writes. */
typedef struct {
    int n_rec, L, T;
    int64_t *step;           /* (n_rec) */
    trace_value_t param[TP_N];
    size_t len[SUM_MAX_CURVES]; /* elements of v[k]: n_rec times the variable's extent in this run */
    double *v[SUM_MAX_CURVES];  /* the first summary_n_curves() are used */
    uint64_t key;               /* hash of the run's run cache key (summary.nc's run_key); 0: none */
    int cached;                 /* taken from a valid run cache: its curves may be copied (sumreuse.h) */
} summary_run_t;

typedef struct {
    pid_t pid;  /* the writing process */
    struct sumreuse *reuse; /* in the writing process: the last summary.nc's chunks, or NULL */
    long n_copied;          /* runs whose curves were copied from it */
    int sock;   /* to it */
    int ncid;   /* in the writing process */
    char path[4200], tmp[4300], old[4200]; /* old: the last aggregation's summary.nc */
    size_t n_runs;
    summary_plan_t plan;
    double t_first, t_last; /* earliest and latest record time over the runs */
    int dim[5];
    int varid[SUM_MAX_VARS];
} summary_t;

/* How many curve variables summary.nc has (one per schema row with a summary column, and the norm spread). */
int summary_n_curves(void);

void summary_run_make(summary_run_t *r, const curves_t *c);
void summary_run_free(summary_run_t *r);

/* Starts the process that creates <dir>/summary.nc under a temporary name with the dimensions of plan (taken
 * over: summary_close frees it). `id` names the sweep (ACDD id). The cached runs' curves are copied from
 * <old_dir>/summary.nc where it holds them as they would be written (sumreuse.h). Returns 0, or -1 with
 * err_set(). */
int summary_open(summary_t *s, const char *dir, const char *old_dir, const char *id, const char *command,
                 summary_plan_t *plan);
/* Appends one run. Returns 0, or -1 with err_set() when the run does not fit the plan (it is then left out,
 * and the reason is the caller's to report). A failure to write is summary_close's to report. */
int summary_add(summary_t *s, const char *name, const char *run_dir, const summary_run_t *r);
/* Writes the coverage, closes and renames the file into place; n_copied says how many runs' curves were
 * copied. Returns 0, or -1 with err_set() naming the file
 * and the system's reason (the temporary file is then removed). */
int summary_close(summary_t *s);


#endif
