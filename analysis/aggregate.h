/* aggregate: il-aggregate's driver. Merges the traces of every run under the paths given into tables,
 * summary.nc, claims.md and figures (docs/aggregate.md); the tool's main only reads the command line.
 * Rank 0 finds the runs and writes every output; each rank reads and merges its share of the runs, one at
 * a time (deal.h), so memory holds a few runs per rank plus a small row per run on rank 0.
 * The output directory is written by one il-aggregate at a time and replaced as a whole (outdir.h). */
#ifndef IL_AGG_AGGREGATE_H
#define IL_AGG_AGGREGATE_H

typedef struct {
    const char *out;     /* output directory, as the user named it */
    int consolidate;     /* first merge each finished run's trace segments (consolidate.h) */
    char **paths;        /* run directories, or directories holding them */
    int n_paths;         /* at least 1 */
    const char *command; /* the command line, for summary.nc's history */
    int no_cache;        /* neither read nor write the runs' caches (runcache.h) */
    int timings;         /* print where the time went (timings.h) */
} aggregate_args_t;

/* Collective: finds the runs, merges them and writes the outputs. Returns, the same on every rank,
 * IL_EXIT_OK when the outputs were written (*skipped: how many inputs were left out, as skipped.md lists
 * them); IL_EXIT_INPUT when a path is not a directory, no run directory was found, or the output directory
 * is in use or holds other files; IL_EXIT_FAIL when an output could not be written (the old outputs are then
 * untouched). On failure err_msg() on rank 0 says why, naming a path as the user gave it. */
int aggregate_runs(const aggregate_args_t *args, int *skipped);

#endif
