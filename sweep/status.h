/* status: the state of every run of a sweep, from Slurm's queue, each task's exit-code marker, the run's
 * own metrics.jsonl and, for a task that left no marker, Slurm's accounting; and the reports built on it
 * (il-sweep status, il-sweep summary). */
#ifndef IL_SWEEP_STATUS_H
#define IL_SWEEP_STATUS_H

#include "core/metrics.h"
#include "sweep/sdir.h"

typedef enum { ST_NEW, ST_PENDING, ST_RUNNING, ST_REQUEUED, ST_DONE, ST_FAILED, ST_PREEMPTED, ST_N } status_state_t;
extern const char *const status_names[ST_N];

typedef struct {
    status_state_t state;
    char task[48];   /* Slurm's id of the run's latest array task, "123_4"; "" if never submitted */
    char slurm[128]; /* what Slurm says about it: squeue's state and reason, or sacct's state */
    int exit_code;   /* from the task's exit_code marker; -1 without one */
    metrics_t m;     /* what the run's metrics.jsonl says so far */
} status_run_t;

/* The state of each of the sweep's runs (rs: sdir_n_runs entries). */
void status_collect(const sdir_t *w, status_run_t *rs);
/* The runs whose state is one of `want` (a mask of 1 << status_state_t), ascending; *idx malloc'd. */
int status_select(const sdir_t *w, unsigned want, int **idx);

/* il-sweep status DIR: the table of runs on stdout. Returns the exit code. */
int status_print(const char *dir);
/* il-sweep summary DIR: DIR/summary.tsv and summary.md, and the table on stdout. Returns the exit code. */
int status_summary(const char *dir);

#endif
