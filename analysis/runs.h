/* runs: one row per run directory for runs.csv/md, from whichever sources the run has. Model and sweep
 * parameters come from the trace files (the model as trained), else from config.ini; losses, step count
 * and throughput from metrics.jsonl (every step), else from the trace records; the rank count from the
 * last launch in launches.jsonl, else from the traces. Rows are small and kept for the whole sweep, since
 * the genre columns are only known once every run is read. */
#ifndef IL_AGG_RUNS_H
#define IL_AGG_RUNS_H

#include "core/config.h"
#include "analysis/curves.h"
#include "core/metrics.h"
#include "analysis/skips.h"

typedef struct {
    char *name, *dir;
    trace_value_t param[TP_N]; /* .d NaN when unknown */
    double ranks, steps, tokens, train_loss, val_loss, tokens_per_s;
    double baseline; /* add-one unigram loss of the validation shard (shard_unigram_loss); NaN, with a
                      * warning naming the file, when the data is not at the paths of the run's config or is
                      * corrupt */
    int n_genre;
    char (*genre)[METRICS_GENRE_LEN];
    double *genre_loss;
    int n_probe_genre;             /* genres of the probe set (the trace's genre_name), 0 without traces */
    char (*probe_genre)[32];
    double *genre_lens, *genre_cos; /* (n_probe_genre) at the last trace step: S5 at the last depth, S3b mean
                                     * over blocks, over the lens tokens of the genre */
    long sum_index; /* index in summary.nc, -1 without traces */
    char *source;   /* a model trained elsewhere and only measured here (il-probe of an import: launches.jsonl
                     * names its weights, and it has no metrics.jsonl): where its weights came from; else NULL */
} run_row_t;

/* cfg, m and c may each be NULL when the run lacks them. A baseline that cannot be computed is a warning in sk. */
void runs_fill(run_row_t *r, const char *dir, const config_t *cfg, const metrics_t *m, const curves_t *c,
               skips_t *sk);
/* Writes <out>/runs.csv and runs.md, and the validation loss by genre to genres.csv and genres.md. Returns 0,
 * or -1 with err_set(). */
int runs_write(const char *out, const run_row_t *rows, int n);
void runs_free(run_row_t *r);

#endif
