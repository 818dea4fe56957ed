/* consolidate: one trace file per rank (and world size) for a finished run.
 *
 * While a run is live, each launch writes crash-safe segments (tracewrite.h): one chunk per record, a new file
 * per launch, so a resumed run's files overlap in the steps it replayed. When the run has finished,
 * <run>/trace/rankRRRR.nc replaces the segments of rank R: the same variables, dimensions and attributes,
 * every record once (a step in two segments keeps the later segment's record: segrule.h),
 * each variable in one chunk over all its records, shuffled and deflated, with `segment` = -1,
 * `start_step` = 0 and the attribute `consolidated_from` naming each segment's launch. Per rank rather than
 * per run so that nothing is merged that the segments kept apart: the file holds every variable of every
 * record the rank wrote, and a reader can treat it as one more trace file.
 *
 * The file is written under a temporary name, read back (its step count checked) and renamed into place;
 * only then are that rank's segments removed, since they hold nothing more (a replayed step is measured
 * from the same checkpointed weights). A rank that traced in launches of different world sizes gets one file
 * per world size, since its probe share (its group dimension) depends on it: rankRRRR.nc for the last
 * launch's, rankRRRR.ofPPPP.nc for launches of P ranks, each of the records the rule keeps alone, so no two
 * files hold a record of the same group and step. A run that has not finished (a rank of the last launch
 * that traced short of max_steps) is left alone. */
#ifndef IL_CONSOLIDATE_H
#define IL_CONSOLIDATE_H

/* Consolidates every rank of the run in run_dir. Returns the number of ranks consolidated (0 when the run is
 * not finished or has no segments: *why says so when not NULL), or -1 with err_set() naming the file. */
int consolidate_run(const char *run_dir, const char **why);

#endif
