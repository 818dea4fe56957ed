/* cancel: il-sweep cancel DIR: the sweep's jobs cancelled by the ids submit recorded in DIR/jobs.tsv (its
 * arrays and aggregation jobs), never by name, which another sweep may share. */
#ifndef IL_SWEEP_CANCEL_H
#define IL_SWEEP_CANCEL_H

/* scancel the recorded jobs still in the queue (all of them when squeue cannot say), printing each; with
 * dry, only prints them. Returns 0 (also with no jobs recorded), SWEEPDIR_ERUN when scancel fails (err_msg() has
 * one line per failure) or SWEEPDIR_EINPUT for a bad sweep directory. */
int cancel_sweep(const char *dir, int dry);

#endif
