/* status: the state of every run of a sweep, from Slurm's queue, each task's exit-code marker, the run's
 * own metrics.jsonl and, for a task that left no marker, Slurm's accounting; and the reports built on it
 * (il-sweep status, il-sweep summary). */
#ifndef IL_SWEEP_STATUS_H
#define IL_SWEEP_STATUS_H

#include <stddef.h>

#include "core/metrics.h"
#include "sweep/sweepdir.h"

typedef enum { ST_NEW, ST_PENDING, ST_RUNNING, ST_REQUEUED, ST_DONE, ST_FAILED, ST_PREEMPTED, ST_N } status_state_t;
extern const char *const status_names[ST_N];

typedef struct {
    status_state_t state;
    char task[48];   /* Slurm's id of the run's latest array task, "123_4"; "" if never submitted */
    char slurm[128]; /* what Slurm says about it: squeue's state and reason, or sacct's state */
    int exit_code;   /* the last ended attempt's: its exit_code marker, else (details) sacct's ExitCode, 128 +
                      * the signal for a signal; -1 unknown */
    metrics_t m;     /* what the run's metrics.jsonl and launches.jsonl say so far */
    /* From status_collect_details only; unknown: -1 or "". */
    long elapsed_s, limit_s; /* the task's time used and its time limit per attempt */
    char node[128];          /* where it runs or ran: Slurm's NodeList, else the last launch's host */
    long long max_steps;     /* train.max_steps of DIR/configs/<run>.ini */
    int attempt;             /* of the latest task, 1-based: Slurm's restart count + 1 */
} status_run_t;

/* The state of each of the sweep's runs (rs: sweepdir_n_runs entries). */
void status_collect(const sweepdir_t *w, status_run_t *rs);
/* The same, with the columns of il-sweep status too (time, node, steps, attempt): they cost a sacct call
 * and a config read per run, which submit's choice of runs does not need. */
void status_collect_details(const sweepdir_t *w, status_run_t *rs);
/* The runs whose state is one of `want` (a mask of 1 << status_state_t), ascending; *idx malloc'd. */
int status_select(const sweepdir_t *w, unsigned want, int **idx);

/* "failed,running" into a mask of 1 << status_state_t. Returns 0, or -1 with the offending word (truncated)
 * in bad. */
int status_parse_states(const char *list, unsigned *mask, char *bad, size_t n);

/* The columns of il-sweep status's table, their titles, which are right-aligned (numbers), and one run's
 * cells ('-' where not known): run i of w, collected with details. */
enum { SC_IDX, SC_RUN, SC_STATE, SC_TASK, SC_STEP, SC_LOSS, SC_VAL, SC_TPS, SC_TIME, SC_NODE, SC_EXIT, SC_TRY, SC_SLURM, SC_N };
extern const char *const status_col_names[SC_N];
extern const int status_col_right[SC_N];
typedef char status_cell_t[160];
void status_row(status_cell_t *cells, const sweepdir_t *w, int i, const status_run_t *r);

enum { STATUS_TABLE, STATUS_JSON };
/* il-sweep status DIR [--state ...] [--format json]: the runs whose state is in `want`, as a table or a JSON
 * array, on stdout. Returns 0, or SWEEPDIR_EINPUT or SWEEPDIR_ERUN with err_set(). */
int status_print(const char *dir, unsigned want, int format);
/* il-sweep summary DIR: DIR/summary.tsv and summary.md, and the table on stdout. Returns 0, or SWEEPDIR_EINPUT
 * or SWEEPDIR_ERUN with err_set(). */
int status_summary(const char *dir);

#endif
