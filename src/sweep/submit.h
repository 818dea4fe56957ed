/* submit: a sweep spec expanded into its sweep directory and its unfinished runs submitted as Slurm job
 * arrays, each array after the previous one so that the throttle holds over the whole sweep, then an
 * aggregation job after all of them (or, locally, run here one after another). */
#ifndef IL_SWEEP_SUBMIT_H
#define IL_SWEEP_SUBMIT_H

/* il-sweep submit SPEC [--dry-run | --local] [--out DIR]. Returns 0, or SWEEPDIR_EINPUT (a bad spec or sweep
 * directory) or SWEEPDIR_ERUN (sbatch failed, or a local run) with err_set(). */
int submit_spec(const char *spec_path, const char *out, int dry, int local);
/* il-sweep resubmit DIR --failed [--dry-run]: the failed and preempted runs again. Returns as submit_spec. */
int submit_failed(const char *dir, int dry);

#endif
