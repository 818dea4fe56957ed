/* curves: one run's trace files merged into one record per trace step.
 *
 * Segments (schema, "Files"): a record whose step a later segment holds too was traced again by that
 * later launch and is dropped (trace/segrule.h, the rule the consolidation uses); a step still present
 * twice in one rank after that is kept once (the later record) with a warning. Ranks: a step's values of every rank holding it
 * are merged with the schema's weights (trace_vars[].weight), skipping NaN; variables per probe group are
 * gathered by group (each group is traced by one rank), and their run value is the mean over groups
 * weighted by the group's windows. */
#ifndef IL_AGG_CURVES_H
#define IL_AGG_CURVES_H

#include <stdint.h>

#include "analysis/skips.h"
#include "core/config.h"
#include "analysis/traceread.h"

typedef struct {
    trace_extent_t extent;  /* of the run: `group` counts every probe group of the run */
    int L, T, n_bucket, G, n_genre, n_rec;
    int world_size;  /* largest world size among the files used */
    int files_used;
    trace_value_t param[TP_N];
    char run_name[256];
    int64_t *bucket;       /* (n_bucket) */
    char (*genre_name)[32]; /* (n_genre) */
    double *group_windows; /* (G) windows of each group; 0 for a group no file holds */
    int64_t *step;         /* (n_rec), increasing */
    double *v[TV_N];       /* (n_rec, shape of trace_vars[k]) merged; NULL for variables with no merge weight,
                            * which are not read. A group variable holds every group (NaN where missing). */
    double *mean[TV_N];    /* group variables: (n_rec, shape without group) their run value; else NULL */
    double *norm_spread;   /* (n_rec, L+1): max - min over groups of mean_t norm */
} curves_t;

/* Reads <run_dir>/trace/rank*.seg*.nc. Files that cannot be used go into sk, and so does a missing or empty
 * trace directory: a file whose attributes disagree with its name, with the run's config (cfg, NULL when
 * the run has none) or with the run's other files. Warnings go there too: a run still training (its lock
 * held: rundir_held), whose segments are read up to their last sync; a group variable NaN throughout
 * some groups while others have values. Returns the number of files merged; with 0 there are no
 * curves (c is empty). */
int curves_load(curves_t *c, const char *run_dir, const config_t *cfg, skips_t *sk);
void curves_free(curves_t *c);
/* Elements of one record of variable k, as stored in v[k]. */
size_t curves_len(const curves_t *c, int k);
/* The run value of variable k: (n_rec, curves_run_len(c, k)), the group mean for a group variable. */
const double *curves_run(const curves_t *c, int k);
size_t curves_run_len(const curves_t *c, int k);
/* The record whose value of variable k stands for record `upto`: upto itself, or for a variable of the sparse
 * sub-schedule (trace_sparse) the last record at or before it that holds a value, the fills of the steps
 * that were not full skipped (upto when none does). So a live run's statistics "at the end" take S9, H4 and
 * the genres from its last full trace step. */
int curves_recorded(const curves_t *c, int k, int upto);

#endif
