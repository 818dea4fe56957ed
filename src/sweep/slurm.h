/* slurm: Slurm's commands (sbatch, squeue, sacct, scontrol) run with fork/execvp and an argument vector,
 * never through a shell, and the cutting of a sweep's runs into job arrays. */
#ifndef IL_SWEEP_SLURM_H
#define IL_SWEEP_SLURM_H

#include <stddef.h>

#include "sweep/argv.h"

/* Runs argv[0] from PATH with its stdout captured into out (n bytes, NUL-terminated; the rest is
 * drained); stderr passes through (quiet 0), is discarded (1) or, SLURM_STDERR_TOO, is captured with stdout
 * (for a command's complaint quoted in a one-line error). Returns the exit status, or -1 when the command
 * could not be run. */
enum { SLURM_STDERR_TOO = 2 };
int slurm_capture(char *const argv[], char *out, size_t n, int quiet);

/* MaxArraySize from `scontrol show config` (array task ids must stay below it); Slurm's default 1001 when
 * scontrol cannot say, with *from_cluster 0. */
int slurm_max_array_size(int *from_cluster);

/* Submits `sbatch ...` (or, dry, prints it); *job receives the id sbatch --parsable printed ("123" of
 * "123;cluster"), or the placeholder when dry. Returns 0, or -1 with err_set(). */
int slurm_sbatch(const argv_t *a, int dry, const char *placeholder, char *job, size_t n);

/* Slurm caps array indices below MaxArraySize, so run indices are cut into chunks [k*max, (k+1)*max): a
 * chunk is submitted as one array with task id = run index - offset. */
typedef struct {
    int offset;
    char spec[4096]; /* "0-3,6": the task ids, without a throttle */
} slurm_chunk_t;

/* Cuts the ascending indices idx[0..n) into chunks (*chunks malloc'd). Returns the count, or -1 with
 * err_set() when a chunk's spec does not fit. */
int slurm_chunks(const int *idx, int n, int max_array, slurm_chunk_t **chunks);

/* Parses a task-id spec ("0-3,6") into ids (at most max); returns the count, or -1 on a malformed spec. */
int slurm_parse_ids(const char *spec, int *ids, int max);

#endif
