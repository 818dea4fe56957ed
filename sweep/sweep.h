/* sweep: a sweep spec (an INI file) expanded into one trainer config per run, and the files a sweep
 * directory keeps (docs/sweeps.md):
 *   [sweep]  name and Slurm resources per run (ranks, time, partition, account, throttle, ...)
 *   [fixed]  section.key = value        trainer keys every run shares
 *   [grid]   section.key = v1, v2, ...  crossed with each other (Cartesian product)
 *   [list]   section.key = v1, v2, ...  zipped with each other: the i-th values go together
 * Every trainer value goes through config_set() and every expanded run through config_validate(), so the
 * spec is checked by the same table that checks a trainer config, and errors name the spec file and line.
 * Values reach a job only as config files written by config_write(), never as shell text. */
#ifndef IL_SWEEP_H
#define IL_SWEEP_H

#include <stdint.h>
#include <stdio.h>

#include "core/config.h"

#define SWEEP_MAX_AXES 32
#define SWEEP_MAX_RUNS 100000
#define SWEEP_KEY 64

typedef struct {
    char key[SWEEP_KEY]; /* "model.d_model" */
    int line;            /* spec line, for messages */
    int list;            /* from [list]: zipped with the other list axes, not crossed */
    int n;
    char **values;       /* as written, trimmed */
} sweep_axis_t;

typedef struct {
    char path[4096]; /* the spec file, for messages */
    char name[SWEEP_KEY];
    int ranks, cpus_per_task;
    int throttle;       /* array tasks running at once; 0: no limit */
    int signal_seconds; /* warning signal this long before the time limit; 0: none */
    int requeue;        /* a preempted task requeues itself */
    char time[32], partition[SWEEP_KEY], account[SWEEP_KEY], qos[SWEEP_KEY];
    char launcher[8]; /* "srun" or "mpirun" */
    config_t base;    /* defaults with [fixed] applied */
    int n_axes;
    sweep_axis_t axes[SWEEP_MAX_AXES];
} sweep_spec_t;

typedef struct {
    int index;
    config_t cfg;
    char values[SWEEP_MAX_AXES][CONFIG_STR]; /* each axis's value as config_write() spells it */
} sweep_run_t;

/* Reads and checks a spec. Returns 0, or -1 with err_set() naming the file and line. */
int sweep_load(sweep_spec_t *s, const char *path);
void sweep_free(sweep_spec_t *s);

/* Expands the spec into *n runs (*runs malloc'd), in a fixed order: grid keys in the order written, each
 * varying faster than the one before, and the list (if any) fastest. Every run gets run.out_dir = out_dir
 * and a content-derived run.name (sweep_run_name). Fails, naming the runs, when a combination does not
 * validate for `ranks` ranks or two runs come out identical. */
int sweep_expand(const sweep_spec_t *s, const char *out_dir, sweep_run_t **runs, int *n);

/* Readable axis values plus a hash of the effective config without run.name and run.out_dir, e.g.
 * "d128-l2-s1-3fa9c2e0": the same experiment always gets the same name, whatever the sweep or order. */
void sweep_run_name(const sweep_spec_t *s, const sweep_run_t *r, char *name, size_t n);

/* The manifest: a header "index run <axis keys...>", then one tab-separated row per run. */
int sweep_manifest_write(const sweep_spec_t *s, const sweep_run_t *runs, int n, FILE *f);

#endif
