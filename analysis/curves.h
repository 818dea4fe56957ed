/* curves: one run's trace files merged into one record per trace step.
 *
 * Segments (schema, "Files"): a record of segment s whose step is at or past the start_step of a later
 * segment was replayed by that later launch and is dropped; a step still present twice in one rank after
 * that is kept once (the later record) with a warning. Ranks: the per-step values of every rank holding
 * that step are averaged with the schema's weights (trace_vars[].weight), skipping NaN; the spread of the
 * position-mean norm across ranks is kept as max - min. */
#ifndef IL_AGG_CURVES_H
#define IL_AGG_CURVES_H

#include <stdint.h>

#include "analysis/skips.h"
#include "core/config.h"
#include "analysis/tread.h"

typedef struct {
    int L, T, n_bucket, n_sv, n_rec;
    int world_size;  /* largest world size among the files used */
    int files_used;
    trace_value_t param[TP_N];
    char run_name[256];
    int64_t *bucket;      /* (n_bucket) */
    int64_t *step;        /* (n_rec), increasing */
    double *v[TV_N];      /* (n_rec, shape of trace_vars[k]) merged over ranks; NULL for variables with no merge
                           * weight (schema.h), which are not read */
    double *norm_spread;  /* (n_rec, L+1): max - min over ranks of mean_t norm */
} curves_t;

/* Reads <run_dir>/trace/rank*.seg*.nc. Files that cannot be used go into sk, and so does a missing or empty
 * trace directory: a file whose attributes disagree with its name, with the run's config (cfg, NULL when
 * the run has none) or with the run's other files. Returns the number of files merged; with 0 there are no
 * curves (c is empty). */
int curves_load(curves_t *c, const char *run_dir, const config_t *cfg, skips_t *sk);
void curves_free(curves_t *c);
/* Elements of one record of variable k. */
size_t curves_len(const curves_t *c, int k);

#endif
