/* sweepdir: a sweep directory (docs/sweeps.md): the copy of its spec, the manifest of its runs, one config per
 * run, the job scripts, the directory the jobs run in, and the record of submitted jobs. */
#ifndef IL_SWEEP_SWEEPDIR_H
#define IL_SWEEP_SWEEPDIR_H

#include <limits.h>
#include <stddef.h>

#include "sweep/argv.h"
#include "sweep/spec.h"
#include "sweep/tsv.h"

/* The job scripts copied into every sweep directory, from the repository's jobs/. */
enum { SWEEPDIR_N_JOB_FILES = 3 };
extern const char *const sweepdir_job_files[SWEEPDIR_N_JOB_FILES];

typedef struct {
    char dir[PATH_MAX];        /* absolute */
    char submit_dir[PATH_MAX]; /* where jobs run: paths in the configs are relative to it */
    char self[PATH_MAX];       /* this program, for the aggregation job */
    char trainer[PATH_MAX];    /* il-train next to it */
    char prober[PATH_MAX];     /* il-probe next to it: what a probe sweep's tasks run */
    spec_t spec;
    tsv_t manifest;
} sweepdir_t;

/* Reads a manifest: the header "index<TAB>run...", then rows whose run names pass config_run_name_ok(), since
 * every reader builds paths (configs/<run>.ini, runs/<run>/) on them. The one check of a manifest read, by
 * every command. Returns 0, or -1 with err_set() naming the file, the line and the name. */
int sweepdir_manifest_read(tsv_t *t, const char *path);
/* Reads a sweep directory written by submit: its spec copy (resources), manifest and submit directory.
 * Returns 0, or -1 with err_set(); sweepdir_close() is safe either way. */
int sweepdir_open(sweepdir_t *w, const char *dir);
void sweepdir_close(sweepdir_t *w);
/* Fills self, trainer and prober from /proc/self/exe. */
int sweepdir_locate_self(sweepdir_t *w);
/* The job templates: jobs/ of the checkout this program was built in (build/bin/il-sweep, or a deeper
 * BUILD), or an installation's share/innerloop/jobs (core/share.h). */
int sweepdir_jobs_dir(char *buf, size_t n);

/* How the commands (submit, status, summary, cancel) fail, with err_set(); il-sweep's main says the message
 * and maps each to its exit code. */
enum {
    SWEEPDIR_EINPUT = -1, /* a bad spec or sweep directory: IL_EXIT_INPUT */
    SWEEPDIR_ERUN = -2,   /* a Slurm command, a run or a write failed: IL_EXIT_FAIL */
};

/* <dir>/<rel> */
void sweepdir_path(const sweepdir_t *w, char *buf, size_t n, const char *rel);
int sweepdir_n_runs(const sweepdir_t *w);
const char *sweepdir_run_name(const sweepdir_t *w, int i);

/* What a task of the sweep runs: il-train, or il-probe for a probe sweep. */
const char *sweepdir_program(const sweepdir_t *w);
/* The program's arguments for run `name`, as jobs/sweep-task.sbatch passes them, appended to a: --config
 * <dir>/configs/<name>.ini --resume, or a probe sweep's configs/<name>.args, one argument a line. Returns 0, or
 * -1 with err_set() when the arguments file cannot be read. */
int sweepdir_task_argv(const sweepdir_t *w, const char *name, argv_t *a);

/* Writes everything a sweep directory holds before its jobs run (a probe sweep's runs get configs/<run>.args,
 * il-probe's arguments, in place of a trainer config); all of it is rewritten identically on a
 * resubmission of the same spec. */
int sweepdir_write(const sweepdir_t *w, const char *spec_path, const spec_run_t *runs, int n, const char *manifest,
               size_t manifest_len);
/* Appends one line to jobs.tsv: "array<TAB>JOBID<TAB>OFFSET<TAB>IDS" or "aggregate<TAB>JOBID". */
int sweepdir_record_job(const sweepdir_t *w, const char *line);

#endif
