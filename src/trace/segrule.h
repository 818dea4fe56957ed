/* segrule: which trace record counts when launches overlap (the schema's merging rule), the one rule of
 * the consolidation (consolidate.c) and of the aggregator's merge (analysis/curves.c).
 *
 * Every launch of a run writes segment s of each rank (s = 0, 1, ... per launch, the same on every rank).
 * A resumed launch replays the steps after its checkpoint, so a step can be traced by several launches.
 * The record of step t in a file is superseded when a file of a later segment holds a record of step t
 * for some of the same probe groups (the same rank, or any rank of a launch on another number of ranks
 * that traces one of its groups); otherwise it is kept. Only what the files say about their records
 * decides, their steps, groups and segment numbers, never a file's start_step attribute: a later segment
 * that is empty (a launch that stopped before its first record) or that stopped before an earlier one did
 * supersedes nothing it did not trace again. */
#ifndef IL_SEGRULE_H
#define IL_SEGRULE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int seg;              /* the segment (launch) number */
    const int64_t *step;  /* (n) the steps of its records, increasing */
    size_t n;
    const int64_t *group; /* (n_group) the probe groups its rank traces */
    size_t n_group;
} segrule_seg_t;

/* Whether the record of `step` in file f is superseded by one of the n files s (f may be one of them). */
int segrule_superseded(const segrule_seg_t *f, int64_t step, const segrule_seg_t *s, int n);

#endif
