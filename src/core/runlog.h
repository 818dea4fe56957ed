/* runlog: what a run leaves behind in its directory, besides checkpoints.
 *   log.txt          human-readable, one line per event, appended across launches
 *   metrics.jsonl    machine-readable, one JSON object per line: {"kind":"train",...} or {"kind":"val",...}
 *   launches.jsonl   provenance, one line per launch: git commit, seed, world size, host, Slurm job,
 *                    array and restart IDs, the step it started from, the command line
 * and, on stdout, the same events: on a terminal with a progress line redrawn in place (step, loss, lr,
 * tokens/s, ETA) cut to the terminal's width; in a batch log as plain lines, each with the timestamp its
 * log.txt line has (runlog_progress_mode decides which). Per-category validation losses go to the files
 * only. Only rank 0 opens a runlog. */
#ifndef IL_RUNLOG_H
#define IL_RUNLOG_H

#include <stdint.h>
#include <stdio.h>

/* The ETA's estimates: the sum and count of this launch's step times, trace steps' time left out, and of
 * its trace steps' times. */
typedef struct {
    double seconds;
    int64_t steps;
    double trace_seconds;
    int64_t traces;
} runlog_eta_t;

typedef struct {
    int64_t step, max_steps;
    float loss, lr;
    double grad_norm, tokens_per_s, step_ms;
    int64_t traces_left; /* trace steps still to come, this step's included (the schedule's, tracer_is_step) */
    int tracing;         /* the line is drawn while this step is traced */
} runlog_step_t;

typedef struct {
    FILE *log;
    FILE *metrics;
    char dir[4096];
    char failed[64];  /* the first file a write failed on ("" while none has) and its errno */
    int failed_errno;
    int progress;     /* 1: redraw one progress line on stdout; 0: plain timestamped lines */
    int progress_up;  /* a progress line is on screen and must be ended before other output */
    runlog_eta_t eta;
    double last_step_at; /* monotonic seconds at the previous runlog_step; 0 before the first */
    double trace_at;     /* monotonic seconds when the trace step under way began */
    double traced;       /* seconds traced since the previous runlog_step, not a step's own time */
    double drawn_at;     /* monotonic seconds of the last progress line drawn */
    runlog_step_t last;  /* the last step, redrawn on time and around a trace step (step 0: none yet) */
} runlog_t;

/* Opens (appending) log.txt and metrics.jsonl in dir. -1 with err_set() when they cannot be opened or
 * IL_PROGRESS is neither 0 nor 1. */
int runlog_open(runlog_t *r, const char *dir);
void runlog_close(runlog_t *r);
/* 0 while every write to log.txt and metrics.jsonl has succeeded; else -1 with err_set() naming the file
 * and the system's reason (a full disk, say). */
int runlog_status(const runlog_t *r);
/* printf-style line to stdout and log.txt, with a timestamp in the file (and on a plain stdout). */
void runlog_printf(runlog_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records a step in metrics.jsonl, every step: its wall time (a trace step's time left out) feeds the ETA.
 * With print, also the step's line in log.txt and on stdout; without, a progress line is still redrawn
 * when RUNLOG_REDRAW_S have passed since the last, so that it never looks hung. */
enum { RUNLOG_REDRAW_S = 1 };
void runlog_step(runlog_t *r, const runlog_step_t *s, int print);
/* Around a trace step of the weights of `step`: the progress line of that step, when it is the last one
 * recorded, says it is tracing, and the trace's time goes into the ETA's estimate of a trace step's cost. */
void runlog_trace_begin(runlog_t *r, int64_t step);
void runlog_trace_end(runlog_t *r);
/* Validation result; cat_names/cat_loss may be NULL when n_cats is 0. */
void runlog_val(runlog_t *r, int64_t step, double loss, int n_cats, const char *const *cat_names,
                const double *cat_loss);
/* 1 for a progress line on stdout, 0 for plain timestamped lines: IL_PROGRESS=1 or 0 decides when set;
 * else a Slurm batch step (SLURM_JOB_ID set, SLURM_PTY_PORT not: not `srun --pty`) is plain; else a
 * terminal on stdout gets the progress line. -1 with err_set() for any other value of IL_PROGRESS. */
int runlog_progress_mode(void);
/* The columns of the terminal on stdout; else $COLUMNS; else 80. */
int runlog_term_width(void);
/* Adds one step that took step_seconds and returns the seconds the steps_left remaining ones should take. */
double runlog_eta(runlog_eta_t *e, double step_seconds, int64_t steps_left);
/* Adds one trace step that took seconds. */
void runlog_eta_trace(runlog_eta_t *e, double seconds);
/* The seconds that steps_left steps and traces_left trace steps should take: the mean time per step times
 * steps_left plus the mean time per trace step times traces_left (before any trace step was measured, a trace
 * step counts as a step). NaN before any step was measured. */
double runlog_eta_left(const runlog_eta_t *e, int64_t steps_left, int64_t traces_left);
/* The line of step s into buf (n bytes), with eta_seconds to go (NaN: not known yet), fitted into width - 1 columns (the last
 * one stays free, so that the cursor never wraps): the least important fields are dropped first (grad
 * norm, lr, tokens/s, ETA, loss; the step stays), and what still does not fit is cut. width 0: no limit,
 * every field. Returns the line's length. */
int runlog_format_step(char *buf, size_t n, const runlog_step_t *s, double eta_seconds, int width);

/* The data of a launch: the tokenizer of its training shard (its kind's name, "unknown" when not known, and
 * its id) and the model's vocabulary; source: where weights trained elsewhere came from (an imported
 * checkpoint's "FORMAT PATH sha256 HEX"), NULL for weights trained here; allreduce: how this launch sums
 * gradients over ranks ("overlap" or "blocking"; NULL on one rank), and allreduce_ms the milliseconds of a
 * pass in each mode that train.allreduce = auto measured to choose it (NaN when it did not). */
typedef struct {
    const char *tokenizer;
    uint32_t tokenizer_id;
    int vocab_size;
    const char *source;
    const char *allreduce;
    double allreduce_ms[2];
} runlog_data_t;

/* Appends the provenance of this launch, trained on data, to dir/launches.jsonl. */
int runlog_provenance(const char *dir, uint64_t seed, int world_size, int64_t start_step, const runlog_data_t *data,
                      int argc, char **argv);

/* The command line as one string, words separated by spaces (malloc'd): the history attribute of the
 * NetCDF files a tool writes. */
char *runlog_command_line(int argc, char **argv);

/* The commit the binaries were built from ("unknown" outside a git checkout). */
const char *runlog_git_commit(void);

#endif
