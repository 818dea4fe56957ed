/* timings: where il-aggregate's time goes (--timings), by phase: reading a run's inputs (config, metrics,
 * trace files, merged into curves), reducing them (the run's row, statistics and summary.nc curves), the
 * run caches (runcache.h: fingerprints, loading, storing), writing the tables and summary.nc, and drawing
 * the figures. Each rank adds up its own phases; timings_report sums them over the ranks. */
#ifndef IL_AGG_TIMINGS_H
#define IL_AGG_TIMINGS_H

enum { TM_READ, TM_REDUCE, TM_CACHE, TM_WRITE, TM_FIGURES, TM_N };

/* Adds the seconds since `since` (a clock_seconds() reading) to phase; returns the clock now, to time the
 * next phase from. */
double timings_lap(int phase, double since);
/* Collective: prints on rank 0 one line of every phase summed over the ranks, the run cache's counts
 * (runcache.h) and the `total` wall-clock seconds. */
void timings_report(double total);

#endif
