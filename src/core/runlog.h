/* runlog: what a run leaves behind in its directory, besides checkpoints.
 *   log.txt          human-readable, one line per event, appended across launches
 *   metrics.jsonl    machine-readable, one JSON object per line: {"kind":"train",...} or {"kind":"val",...}
 *   launches.jsonl   provenance, one line per launch: git commit, seed, world size, host, Slurm job,
 *                    array and restart IDs, the step it started from, the command line
 * and, on a terminal, a progress line redrawn in place (step, loss, lr, tokens/s, ETA); in a batch log,
 * plain lines instead. Only rank 0 opens a runlog. */
#ifndef IL_RUNLOG_H
#define IL_RUNLOG_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *log;
    FILE *metrics;
    char dir[4096];
    char failed[64];  /* the first file a write failed on ("" while none has) and its errno */
    int failed_errno;
    int tty;          /* stdout is a terminal: redraw one progress line */
    int progress_up;  /* a progress line is on screen and must be ended before other output */
} runlog_t;

typedef struct {
    int64_t step, max_steps;
    float loss, lr;
    double grad_norm, tokens_per_s, step_ms;
} runlog_step_t;

/* Opens (appending) log.txt and metrics.jsonl in dir. */
int runlog_open(runlog_t *r, const char *dir);
void runlog_close(runlog_t *r);
/* 0 while every write to log.txt and metrics.jsonl has succeeded; else -1 with err_set() naming the file
 * and the system's reason (a full disk, say). */
int runlog_status(const runlog_t *r);
/* printf-style line to stdout and log.txt, with a timestamp in the file. */
void runlog_printf(runlog_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void runlog_step(runlog_t *r, const runlog_step_t *s, int print);
/* Validation result; cat_names/cat_loss may be NULL when n_cats is 0. */
void runlog_val(runlog_t *r, int64_t step, double loss, int n_cats, const char *const *cat_names,
                const double *cat_loss);
/* Appends the provenance of this launch to dir/launches.jsonl. */
int runlog_provenance(const char *dir, uint64_t seed, int world_size, int64_t start_step, int argc, char **argv);

/* The command line as one string, words separated by spaces (malloc'd): the history attribute of the
 * NetCDF files a tool writes. */
char *runlog_command_line(int argc, char **argv);

/* The commit the binaries were built from ("unknown" outside a git checkout). */
const char *runlog_git_commit(void);

#endif
