/* local: a sweep's runs without Slurm, one after another on this machine, each as `mpirun -n RANKS
 * il-train --resume` under il-step.sh, which records its exit code where il-sweep status looks for it,
 * exactly as an array task would. */
#ifndef IL_SWEEP_LOCAL_H
#define IL_SWEEP_LOCAL_H

#include "sweep/sweepdir.h"

/* Runs the runs idx[0..n); returns how many failed. */
int local_run(const sweepdir_t *w, const int *idx, int n);

#endif
