/* sumreuse: summary.nc's curves of unchanged runs copied, still compressed, from the summary.nc of the last
 * aggregation into the same output directory, instead of compressed again (docs/aggregate.md, "summary.nc
 * reuse"). Compressing every run's curves was most of a warm aggregation's time.
 *
 * Used by summary.nc's writing process only. A run's curves are copied only when everything that decides
 * their bytes is provably the same: the old file's format (SUMREUSE_FORMAT) and il-aggregate's commit
 * (product_version), the plan (the step values and the other dimensions' lengths) and every curve
 * variable's type, dimensions, chunking and filters, and the run's key (its run cache's key, as a hash, in
 * the variable run_key), and only for a run taken from a valid run cache in this aggregation. Anything else,
 * and any old file that cannot be opened or read, means compressing as without one: the old file never
 * makes an aggregation fail. */
#ifndef IL_AGG_SUMREUSE_H
#define IL_AGG_SUMREUSE_H

#include <stddef.h>
#include <stdint.h>

/* The global attribute that names summary.nc's format; raised whenever what a run's curves hold changes. */
#define SUMREUSE_FORMAT_ATT "summary_format"
enum { SUMREUSE_FORMAT = 1 };

typedef struct sumreuse sumreuse_t;

/* The old file at old_path against the new one (ncid, being written: in data mode, its curve variables
 * varid[0..n_curves-1] defined); NULL when there is none to copy from (silently: no old file, another
 * format or plan, an unreadable one). */
sumreuse_t *sumreuse_open(const char *old_path, int ncid, const int *varid, int n_curves);
/* The old chunks of the run of this key (0: none), held to be written to row `row` of the new file by
 * sumreuse_finish. Returns 1 when taken (the caller writes no curve of the run), 0 when the run is to be
 * compressed. r may be NULL. */
int sumreuse_take(sumreuse_t *r, uint64_t key, size_t row);
/* Writes the held chunks into the closed new file at path, which holds n_rows runs, and frees r. Returns 0,
 * or -1 with err_set(). */
int sumreuse_finish(sumreuse_t *r, const char *path, size_t n_rows);
/* Frees r without writing (the new file failed). */
void sumreuse_free(sumreuse_t *r);

#endif
