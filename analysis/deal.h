/* deal: the aggregation over the ranks of an MPI world (one process started without mpirun is a world of
 * one). Rank 0 finds the runs and gives every rank the list; rank r processes runs r, r + P, r + 2P, ...;
 * rank 0 takes every run's result in run order, its own as it makes them and the others' as messages, so
 * it writes the same bytes whatever P is. Sends are synchronous, so a rank is never more than the one run
 * it is sending ahead of rank 0: memory holds a run or two per rank however large the sweep. */
#ifndef IL_AGG_DEAL_H
#define IL_AGG_DEAL_H

#include "analysis/find.h"
#include "analysis/onerun.h"

typedef void (*deal_take_fn)(void *user, int i, onerun_t *p);

/* Collective: rank 0's run list, copied into l on the other ranks (l empty there). */
void deal_list(runlist_t *l);
/* Collective: processes every run of l once, on its rank, and calls take(user, i, p) on rank 0 for
 * i = 0, 1, ..., n-1 in order. take may keep parts of *p by zeroing them; the rest is freed after it. */
void deal_runs(const runlist_t *l, deal_take_fn take, void *user);

#endif
