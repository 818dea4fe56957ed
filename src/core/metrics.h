/* metrics: what a run directory's metrics.jsonl and launches.jsonl say about the run as a whole
 * (docs/formats.md): the last training record, the throughput, the last validation and its genres, and the
 * world size, host and Slurm task of the last launch. A line that is not valid JSON, or not what the trainer
 * writes, is counted, not fatal: the trainer may have been killed in the middle of writing one. */
#ifndef IL_AGG_METRICS_H
#define IL_AGG_METRICS_H

#include <stdint.h>

enum { METRICS_MAX_GENRES = 32, METRICS_GENRE_LEN = 64, METRICS_SOURCE_LEN = 1024 };

typedef struct {
    int have_train, have_val;
    int64_t train_step;   /* step of the last train record */
    double train_loss;    /* its loss */
    double tokens_per_s;  /* median over the train records */
    double train_tokens_per_s; /* of the last train record: the current speed, for il-sweep status */
    int64_t val_step;
    double val_loss;      /* the last finite validation loss */
    int n_genre;          /* genres of the last validation that had by_category */
    char genre[METRICS_MAX_GENRES][METRICS_GENRE_LEN];
    double genre_loss[METRICS_MAX_GENRES];
    int world_size;       /* last launch; 0 if unknown */
    /* The last launch's host and Slurm array task ("JOB_TASK"; "" outside an array) and SLURM_RESTART_COUNT
     * (0 when unset in a Slurm job, -1 outside one): which node ran the run and which attempt that was,
     * even after Slurm has forgotten the job. */
    char launch_host[256], launch_task[520];
    int launch_restarts;
    /* The last launch's source: where weights trained elsewhere came from ("FORMAT PATH sha256 HEX" of an
     * import, docs/formats.md); "" for weights trained here. */
    char launch_source[METRICS_SOURCE_LEN];
    /* Lines of metrics.jsonl that were not used: malformed (not JSON, or a train or val line with a value
     * the trainer does not write: a step outside [1, max_steps], a loss outside [0, 1000], a string where a
     * number goes, ...), and out of order (a step not past the last of its kind, with no later launch in
     * launches.jsonl to have restarted there). Counts, the first one's line number and why. */
    int bad_lines, first_bad;
    char bad_reason[200];
    int out_of_order, first_out_of_order;
    char order_reason[200];
} metrics_t;

/* Reads <run_dir>/metrics.jsonl and launches.jsonl; max_steps bounds the steps (0: unknown). Returns 1 when
 * metrics.jsonl exists, 0 when it does not, -1 with err_set() when it exists but cannot be read. */
int metrics_read(metrics_t *m, const char *run_dir, int64_t max_steps);

/* Every train line (step, loss, lr, grad_norm) and every validation (step, val_loss) of metrics.jsonl that
 * metrics_read uses (without a bound on the step), in order, for the loss curves. */
typedef struct {
    int n, n_val;
    double *step, *loss, *lr, *grad_norm; /* (n) */
    double *val_step, *val_loss;          /* (n_val) */
} metrics_curves_t;

/* Returns 1 when metrics.jsonl exists, 0 when it does not, -1 with err_set() when it cannot be read. */
int metrics_curves(metrics_curves_t *c, const char *run_dir);
void metrics_curves_free(metrics_curves_t *c);

#endif
