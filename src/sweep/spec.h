/* spec: a sweep spec (an INI file) expanded into one trainer config per run, and the files a sweep
 * directory keeps (docs/sweeps.md):
 *   [sweep]  name and Slurm resources per run (ranks, time, mem, partition, throttle, sbatch_args, ...)
 *   [fixed]  section.key = value        trainer keys every run shares
 *   [grid]   section.key = v1, v2, ...  crossed with each other (Cartesian product)
 *   [list]   section.key = v1, v2, ...  zipped with each other: the i-th values go together
 * or, for a sweep that measures models instead of training them (a probe sweep):
 *   [probe]  checkpoints = A, B, ...; runs = R, ...; data = SHARD; windows, groups, seed, set
 *            one run per checkpoint (il-probe --ckpt) or per training run directory (il-probe --run)
 * Every trainer value goes through config_set() and every expanded run through config_validate(), so the
 * spec is checked by the same table that checks a trainer config, and errors name the spec file and line.
 * Values reach a job only as config files written by config_write(), never as shell text. */
#ifndef IL_SPEC_H
#define IL_SPEC_H

#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "sweep/argv.h"

#define SPEC_MAX_AXES 32
#define SPEC_MAX_RUNS 100000
#define SPEC_KEY 64

typedef struct {
    char key[SPEC_KEY]; /* "model.d_model" */
    int line;            /* spec line, for messages */
    int list;            /* from [list]: zipped with the other list axes, not crossed */
    int n;
    char **values;       /* as written, trimmed */
} spec_axis_t;

#define SPEC_MAX_ARGS 32
#define SPEC_ARG 256

/* A probe sweep's run: what il-probe measures. */
typedef struct {
    int is_run; /* 1: every complete checkpoint of a training run directory (il-probe --run); 0: one checkpoint */
    int line;   /* the spec line of its key (probe.checkpoints or probe.runs), for messages */
    char *path; /* ${VAR}s expanded */
} spec_probe_t;

/* The [sweep] section: the sweep's name and where it goes, and the Slurm resources of its jobs. Strings are
 * "" when not given (sbatch then gets no such option). */
typedef struct {
    char path[4096]; /* the spec file, for messages */
    char name[SPEC_KEY];
    char out_dir[4096]; /* holds the sweep directory out_dir/<name>; ${VAR}s expanded */
    int ranks, cpus_per_task;
    int throttle;       /* array tasks running at once; 0: no limit */
    int signal_seconds; /* warning signal this long before the time limit; 0: none */
    int requeue;        /* a preempted task requeues itself */
    char time[32], partition[SPEC_KEY * 4], account[SPEC_KEY], qos[SPEC_KEY];
    char launcher[8]; /* "srun" or "mpirun" */
    char mpi[16];     /* srun --mpi=...; "default": no --mpi, the site's MpiDefault */
    char mem[32], gres[128], constraint[256], nodes[32];
    int ntasks_per_node; /* 0: not given */
    int exclusive;
    char mail_type[256], mail_user[256];
    int n_sbatch_args; /* sbatch_args, one word each: "--name" or "--name=value" */
    char sbatch_args[SPEC_MAX_ARGS][SPEC_ARG];
    char aggregate_time[32], aggregate_mem[32];
    int aggregate_ntasks;
    int check_paths;   /* open every run's data at submission (datacheck.h); no: the paths exist only on the
                        * compute nodes */
    /* [probe]: a probe sweep when probe_line is not 0 (the line of its first key) */
    int probe_line, probe_data_line;
    char probe_data[CONFIG_STR];     /* the probe shard (il-probe --data) */
    int probe_windows, probe_groups; /* 0: not given, the checkpoint's trace keys */
    char probe_seed[32];             /* "": not given */
    int n_probe_sets;                /* il-probe --set words "section.key=value" */
    char probe_sets[SPEC_MAX_ARGS][SPEC_ARG];
    int n_probes;
    spec_probe_t *probes;
    config_t base; /* defaults with [fixed] applied */
    int n_fixed;   /* the [fixed] keys and their lines, for messages */
    char fixed_key[SPEC_MAX_AXES * 8][SPEC_KEY];
    int fixed_line[SPEC_MAX_AXES * 8];
    int n_axes;
    spec_axis_t axes[SPEC_MAX_AXES];
} spec_t;

typedef struct {
    int index;
    int probe;   /* a probe sweep's run: its entry of spec_t.probes */
    config_t cfg; /* a probe sweep's run: defaults but run.name and run.out_dir */
    char values[SPEC_MAX_AXES][CONFIG_STR]; /* each axis's value as config_write() spells it */
} spec_run_t;

/* What spec_load reads: the whole spec, or (the copy in a sweep directory, whose runs are expanded already)
 * only its [sweep] section, with no ${VAR} expanded. */
enum { SPEC_LOAD_ALL, SPEC_LOAD_RESOURCES };

/* Reads and checks a spec. Returns 0, or -1 with err_set() naming the file and line. */
int spec_load(spec_t *s, const char *path, int what);
void spec_free(spec_t *s);
/* The line where trainer key `key` ("data.train_path") was given in [fixed], [grid] or [list]; 0 if not. */
int spec_key_line(const spec_t *s, const char *key);
/* Prints the [sweep] and the [probe] key tables as Markdown tables (key, type, default, meaning) for
 * docs/sweeps.md, a blank line between them. */
void spec_print_keys_markdown(FILE *f);

/* Expands the spec into *n runs (*runs malloc'd), in a fixed order: grid keys in the order written, each
 * varying faster than the one before, and the list (if any) fastest. Every run gets run.out_dir = out_dir
 * and a content-derived run.name (spec_run_name). Fails, naming the runs, when a combination does not
 * validate for `ranks` ranks or two runs come out identical. A probe sweep: one run per checkpoint and training
 * run directory, in the order written; the same one twice is an error. */
int spec_expand(const spec_t *s, const char *out_dir, spec_run_t **runs, int *n);
/* Slots spec_expand's check for identical runs has visited since the program began: about 1.5 per run
 * when the check is linear, as test_sweep holds it to (a scan of the earlier runs would be n / 2). */
extern unsigned long spec_name_probes;

/* The experiment's identity: a hash of every key but where the run is written and what it is called
 * (run.name, run.out_dir), as canonical "key = value" lines, so that neither a help text nor the order of the
 * key table changes it. Whether TensorBoard files are written (run.tensorboard) is no part of it either, and
 * leaving that key out keeps the names of the sweeps made before it. */
uint64_t spec_experiment_hash(const config_t *c);

/* Readable axis values plus a hash of the config's canonical text (config_canonical) without run.name and
 * run.out_dir, e.g. "d128-l2-s1-3fa9c2e0": the same experiment always gets the same name, whatever the
 * sweep, the order of its keys or the help texts of the build. A probe sweep's run: the name of what it
 * probes (gpt2-il, or s1-8fbad4ec-step_00000400 for runs/s1-8fbad4ec/ckpt/step_00000400) and a hash of
 * its il-probe arguments but the run's name and directory: gpt2-il-0c1d2e3f. */
void spec_run_name(const spec_t *s, const spec_run_t *r, char *name, size_t n);

/* A probe sweep's run as il-probe's arguments after the program: --ckpt or --run, --name, --data, --out
 * runs_dir and the optional keys. Appended to a. */
void spec_probe_argv(const spec_t *s, const spec_run_t *r, const char *runs_dir, argv_t *a);

/* The manifest: a header "index run <axis keys...>" ("index run probe path" for a probe sweep), then one
 * tab-separated row per run. */
int spec_manifest_write(const spec_t *s, const spec_run_t *runs, int n, FILE *f);

#endif
