/* experiment: which launches of a run are one experiment, the part of the checkpoints (snapshot.c) that
 * the aggregator also needs to group a run's launches. Apart from snapshot.h so that analysis/ reads it
 * without the trainer's MPI state. */
#ifndef IL_EXPERIMENT_H
#define IL_EXPERIMENT_H

#include "core/config.h"

/* The keys and sections that may change between launches of one experiment (for config_diff). */
extern const char *const snapshot_may_change[];
/* Fails (err_set, naming `where` and the key) unless `now` describes the same experiment as `saved`:
 * only keys about speed, logging, file locations and the split of the global batch may differ. */
int snapshot_same_experiment(const config_t *saved, const config_t *now, const char *where);

#endif
