/* onerun: one run directory processed into everything the outputs need of it, on whichever MPI rank owns
 * the run: its runs.csv row, its statistics (norms, inner, claims), its part of summary.nc, and what it
 * skipped or warned about, held for rank 0 to say in run order. The run's trace files are freed before
 * onerun_process returns: what it keeps is the row and statistics (a few KB) and the run's curves in the
 * shape summary.nc stores them. */
#ifndef IL_AGG_ONERUN_H
#define IL_AGG_ONERUN_H

#include "analysis/runstats.h"
#include "analysis/runs.h"
#include "analysis/skips.h"
#include "analysis/summary.h"

typedef struct {
    run_row_t row;     /* sum_index -1: set by the writer of summary.nc */
    skips_t skips;     /* held messages */
    int has_stats;     /* traces with at least one record: stat and sum are set */
    runstats_t stat;
    summary_run_t sum;
} onerun_t;

void onerun_process(onerun_t *p, const char *dir);
void onerun_free(onerun_t *p);

#endif
