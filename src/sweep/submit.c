#include "sweep/submit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/err.h"
#include "sweep/argv.h"
#include "sweep/datacheck.h"
#include "sweep/grow.h"
#include "sweep/local.h"
#include "sweep/slurm.h"
#include "sweep/status.h"

/* The options every job of the sweep shares; sbatch_args, the site's own, come last. */
static void common_options(argv_t *a, const sweepdir_t *w, const char *job_name)
{
    const spec_t *s = &w->spec;
    argv_add(a, "sbatch");
    argv_add(a, "--parsable");
    argv_add(a, "--job-name=%s", job_name);
    if (*s->partition) argv_add(a, "--partition=%s", s->partition);
    if (*s->account) argv_add(a, "--account=%s", s->account);
    if (*s->qos) argv_add(a, "--qos=%s", s->qos);
    if (*s->mail_type) argv_add(a, "--mail-type=%s", s->mail_type);
    if (*s->mail_user) argv_add(a, "--mail-user=%s", s->mail_user);
    for (int i = 0; i < s->n_sbatch_args; i++) argv_add(a, "%s", s->sbatch_args[i]);
    argv_add(a, "--chdir=%s", w->submit_dir);
}

/* What one run asks for. */
static void run_resources(argv_t *a, const spec_t *s)
{
    argv_add(a, "--ntasks=%d", s->ranks);
    argv_add(a, "--cpus-per-task=%d", s->cpus_per_task);
    if (*s->nodes) argv_add(a, "--nodes=%s", s->nodes);
    if (s->ntasks_per_node) argv_add(a, "--ntasks-per-node=%d", s->ntasks_per_node);
    if (*s->mem) argv_add(a, "--mem=%s", s->mem);
    if (*s->gres) argv_add(a, "--gres=%s", s->gres);
    if (*s->constraint) argv_add(a, "--constraint=%s", s->constraint);
    if (s->exclusive) argv_add(a, "--exclusive");
    argv_add(a, "--time=%s", s->time);
}

/* For --dry-run: a job's options as the #SBATCH header they are equivalent to, and the step its script
 * starts, so that a site's administrator can read what the queue will see. */
static void print_job(const argv_t *a, const char *title, const char *step)
{
    printf("# ---- %s: the options above as #SBATCH lines ----\n", title);
    for (int i = 1; i < a->n && !strncmp(a->v[i], "--", 2); i++)
        if (strcmp(a->v[i], "--parsable")) printf("#SBATCH %s\n", a->v[i]);
    printf("# step: %s\n", step);
}

/* The launcher line of jobs/sweep-task.sbatch and aggregate.sbatch, spelled out for print_job. */
static void step_line(char *out, size_t n, const spec_t *s, const char *prog)
{
    if (!strcmp(s->launcher, "mpirun")) {
        snprintf(out, n, "mpirun -n $SLURM_NTASKS %s", prog);
        return;
    }
    char mpi[32] = "";
    if (strcmp(s->mpi, "default")) snprintf(mpi, sizeof mpi, " --mpi=%s", s->mpi);
    snprintf(out, n, "srun%s --ntasks=$SLURM_NTASKS --cpus-per-task=$SLURM_CPUS_PER_TASK %s", mpi, prog);
}

/* Submits the runs idx[0..n) as arrays of at most MaxArraySize tasks, each array after the previous one
 * so that the throttle holds over the whole sweep, then the aggregation job after all of them. */
static int submit_runs(const sweepdir_t *w, const int *idx, int n, int dry)
{
    const spec_t *s = &w->spec;
    int from_cluster, max_array = slurm_max_array_size(&from_cluster);
    slurm_chunk_t *chunks;
    int nc = slurm_chunks(idx, n, max_array, &chunks);
    if (nc < 0) return -1;
    printf("# ---- sbatch command lines: %d run(s) in %d array(s) (MaxArraySize %d%s), throttle %d%s ----\n", n, nc, max_array,
           from_cluster ? " from scontrol show config" : ": scontrol unavailable, Slurm's default", s->throttle,
           s->throttle ? "" : " (none)");
    char deps[4096] = "afterany", prev[64] = "";
    int rc = 0;
    for (int c = 0; c < nc && rc == 0; c++) {
        argv_t a = {0};
        common_options(&a, w, s->name);
        if (s->throttle) argv_add(&a, "--array=%s%%%d", chunks[c].spec, s->throttle);
        else argv_add(&a, "--array=%s", chunks[c].spec);
        run_resources(&a, s);
        if (s->signal_seconds) argv_add(&a, "--signal=B:USR2@%d", s->signal_seconds);
        argv_add(&a, s->requeue ? "--requeue" : "--no-requeue");
        argv_add(&a, "--open-mode=append");
        argv_add(&a, "--output=%s/logs/%%A_%%a.out", w->dir);
        if (*prev) argv_add(&a, "--dependency=afterany:%s", prev);
        argv_add(&a, "%s/jobs/sweep-task.sbatch", w->dir);
        argv_add(&a, "%s", w->dir);
        argv_add(&a, "%d", chunks[c].offset);
        argv_add(&a, "%s", s->launcher);
        argv_add(&a, "%s", sweepdir_program(w));
        argv_add(&a, "%s", s->mpi);
        char placeholder[32], line[4200];
        snprintf(placeholder, sizeof placeholder, "<array %d>", c + 1);
        rc = slurm_sbatch(&a, dry, placeholder, prev, sizeof prev);
        if (dry && c == 0) {
            char prog[2 * PATH_MAX + 64], step[2 * PATH_MAX + 256];
            if (s->probe_line) snprintf(prog, sizeof prog, "%s <the lines of %s/configs/RUN.args>", w->prober, w->dir);
            else snprintf(prog, sizeof prog, "%s --config %s/configs/RUN.ini --resume", w->trainer, w->dir);
            step_line(step, sizeof step, s, prog);
            print_job(&a, "each array task", step);
        }
        argv_free(&a);
        if (rc) break;
        size_t len = strlen(deps);
        snprintf(deps + len, sizeof deps - len, ":%s", prev);
        if (dry) continue;
        snprintf(line, sizeof line, "array\t%s\t%d\t%s\n", prev, chunks[c].offset, chunks[c].spec);
        rc = sweepdir_record_job(w, line);
        if (rc == 0) printf("submitted array job %s: runs %d + [%s]\n", prev, chunks[c].offset, chunks[c].spec);
    }
    free(chunks);
    if (rc) return -1;
    argv_t a = {0};
    char job_name[SPEC_KEY + 16], job[64];
    snprintf(job_name, sizeof job_name, "%s-aggregate", s->name);
    common_options(&a, w, job_name);
    argv_add(&a, "--ntasks=%d", s->aggregate_ntasks);
    if (*s->aggregate_mem) argv_add(&a, "--mem=%s", s->aggregate_mem);
    argv_add(&a, "--time=%s", s->aggregate_time);
    argv_add(&a, "--output=%s/logs/aggregate_%%j.out", w->dir);
    argv_add(&a, "--dependency=%s", deps);
    argv_add(&a, "%s/jobs/aggregate.sbatch", w->dir);
    argv_add(&a, "%s", w->dir);
    argv_add(&a, "%s", w->self);
    argv_add(&a, "%s", s->launcher);
    argv_add(&a, "%s", s->mpi);
    rc = slurm_sbatch(&a, dry, "<aggregate>", job, sizeof job);
    if (dry && rc == 0) {
        char prog[2 * PATH_MAX + 64], step[2 * PATH_MAX + 256];
        snprintf(prog, sizeof prog, "il-aggregate --out %s/aggregate %s/runs", w->dir, w->dir);
        if (s->aggregate_ntasks > 1) step_line(step, sizeof step, s, prog);
        else snprintf(step, sizeof step, "%s", prog);
        print_job(&a, "the aggregation job", step);
    }
    argv_free(&a);
    if (rc || dry) return rc;
    char line[128];
    snprintf(line, sizeof line, "aggregate\t%s\n", job);
    CALL(sweepdir_record_job(w, line));
    printf("submitted aggregation job %s (after %s)\n", job, deps);
    return 0;
}

static char *manifest_text(const spec_t *s, const spec_run_t *runs, int n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    CHECK(m && spec_manifest_write(s, runs, n, m) == 0, "manifest in memory: %s", err_msg());
    fclose(m);
    return text;
}

/* The whole text of a file, NUL-terminated; NULL (err_msg() says why) when it cannot be read. */
static char *read_text(const char *path)
{
    uint8_t *text;
    size_t len;
    return bytes_read_file(path, &text, &len) ? NULL : (char *)text;
}

static void print_file(const char *title, const char *path)
{
    char *text = read_text(path);
    printf("# ---- %s ----\n%s", title, text ? text : "(unreadable)\n");
    free(text);
}

/* For --dry-run: what each task of a probe sweep runs, as its configs/RUN.args will hold it. */
static void print_probes(const sweepdir_t *w, const spec_run_t *runs, int n)
{
    char runs_dir[PATH_MAX + 8];
    sweepdir_path(w, runs_dir, sizeof runs_dir, "runs");
    printf("# ---- il-probe per run (configs/RUN.args, one argument a line) ----\n");
    for (int k = 0; k < n; k++) {
        argv_t a = {0};
        argv_add(&a, "%s", w->prober);
        spec_probe_argv(&w->spec, &runs[k], runs_dir, &a);
        printf("%d ", runs[k].index);
        argv_print(&a);
        argv_free(&a);
    }
}

int submit_spec(const char *spec_path, const char *out, int dry, int local)
{
    sweepdir_t w;
    memset(&w, 0, sizeof w);
    if (sweepdir_locate_self(&w) || spec_load(&w.spec, spec_path, SPEC_LOAD_ALL)) return SWEEPDIR_EINPUT;
    char dir[PATH_MAX];
    if (out) snprintf(dir, sizeof dir, "%s", out);
    else if (snprintf(dir, sizeof dir, "%.*s/%s", PATH_MAX - SPEC_KEY - 2, w.spec.out_dir, w.spec.name) >= PATH_MAX ||
             strlen(w.spec.out_dir) > PATH_MAX - SPEC_KEY - 2) {
        err_set("%s: sweep.out_dir: too long", spec_path);
        return SWEEPDIR_EINPUT;
    }
    if (!getcwd(w.submit_dir, sizeof w.submit_dir)) {
        err_set("cannot read the current directory: %s", strerror(errno));
        return SWEEPDIR_EINPUT;
    }
    if (!dry && atomicfile_mkdirs(dir)) return SWEEPDIR_EINPUT;
    /* a dry run writes nothing, so its directory may not exist yet: make it absolute by hand */
    if (!realpath(dir, w.dir)) {
        char abs[2 * PATH_MAX + 2];
        snprintf(abs, sizeof abs, "%s%s%s", *dir == '/' ? "" : w.submit_dir, *dir == '/' ? "" : "/", dir);
        if (strlen(abs) >= sizeof w.dir) {
            err_set("--out: path too long");
            return SWEEPDIR_EINPUT;
        }
        memcpy(w.dir, abs, strlen(abs) + 1);
    }
    /* sbatch reads '%' in --output as a pattern, and the logs' names are built on this directory */
    if (strchr(w.dir, '%')) {
        err_set("%s: a sweep directory with '%%' in its path: sbatch would read it as a pattern", w.dir);
        return SWEEPDIR_EINPUT;
    }
    char runs_dir[PATH_MAX + 8];
    sweepdir_path(&w, runs_dir, sizeof runs_dir, "runs");
    spec_run_t *runs;
    int n;
    if (spec_expand(&w.spec, runs_dir, &runs, &n)) {
        spec_free(&w.spec);
        return SWEEPDIR_EINPUT;
    }
    /* the data every task would open, before any of them waits in the queue */
    int tokenizers = !w.spec.check_paths ? 0
                     : w.spec.probe_line   ? datacheck_probes(&w.spec, runs, n)
                                           : datacheck_runs(&w.spec, runs, n);
    if (tokenizers < 0) {
        free(runs);
        spec_free(&w.spec);
        return SWEEPDIR_EINPUT;
    }
    if (tokenizers > 1) printf("# the runs read %d tokenizers: il-aggregate judges each one's runs apart\n", tokenizers);
    if (strstr(w.spec.gres, "gpu"))
        printf("# %s: sweep.gres = %s: il-train runs on CPUs only (OpenBLAS, fp32); a GPU asked for stays idle\n",
               spec_path, w.spec.gres);
    if (!w.spec.check_paths) printf("# %s: check_paths = no: the runs' data paths are not checked here\n", spec_path);
    char path[PATH_MAX + 64];
    sweepdir_path(&w, path, sizeof path, "manifest.tsv");
    char *manifest = manifest_text(&w.spec, runs, n), *old = read_text(path);
    /* The same spec again resumes the sweep; a spec that gained values grows it, its runs keeping their
     * numbers under jobs that may still be queued (grow.h). */
    grow_t g = {0};
    int rc = 0, existed = old != NULL;
    if (old && strcmp(old, manifest)) {
        rc = grow_merge(&w, spec_path, runs, n, &g);
        free(manifest);
        manifest = rc ? NULL : manifest_text(&w.spec, runs, n);
        if (rc == 0 && g.renamed)
            printf("# %s: %d run(s) named otherwise (by an older build, or other axes) keep their names\n", path,
                   g.renamed);
        if (rc == 0 && g.existing < n)
            printf("# %s: %d run(s) added after the %d it has\n", path, n - g.existing, g.existing);
    }
    free(old);
    size_t manifest_len = manifest ? strlen(manifest) : 0;
    if (rc == 0) printf("# sweep %s: %d run(s) in %s\n", w.spec.name, n, w.dir);
    if (rc == 0 && dry) {
        printf("# ---- manifest (%s) ----\n%s", path, manifest);
        if (w.spec.probe_line) print_probes(&w, runs, n);
        char jobs_dir[PATH_MAX], src[PATH_MAX + 64];
        rc = sweepdir_jobs_dir(jobs_dir, sizeof jobs_dir);
        for (int i = 0; i < SWEEPDIR_N_JOB_FILES && rc == 0; i++) {
            snprintf(src, sizeof src, "%s/%s", jobs_dir, sweepdir_job_files[i]);
            print_file(sweepdir_job_files[i], src);
        }
    } else if (rc == 0) {
        rc = sweepdir_write(&w, spec_path, runs, n, manifest, manifest_len);
    }
    free(manifest);
    free(runs);
    if (rc || ((existed || !dry) && (rc = sweepdir_manifest_read(&w.manifest, path)))) {
        sweepdir_close(&w);
        return SWEEPDIR_EINPUT;
    }
    /* done runs are never rerun, and queued ones are not queued twice */
    int *idx = NULL, k = 0;
    if (w.manifest.rows) k = status_select(&w, 1u << ST_NEW | 1u << ST_FAILED | 1u << ST_PREEMPTED, &idx);
    /* runs the manifest on disk does not hold yet: those of a dry run's new sweep, or the ones it adds */
    int on_disk = w.manifest.rows ? sweepdir_n_runs(&w) : 0;
    if (on_disk < n) {
        idx = realloc(idx, (size_t)(k + n - on_disk) * sizeof *idx);
        CHECK(idx, "out of memory");
        for (int i = on_disk; i < n; i++) idx[k++] = i;
    }
    printf("# %d run(s) to %s; the others are done or queued\n", k, local ? "run here" : "submit");
    if (local) {
        int failed = local_run(&w, idx, k);
        free(idx);
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", w.dir);
        sweepdir_close(&w);
        rc = status_summary(dir);
        if (rc == 0 && failed) rc = err_set("%d of the %d run(s) failed (see their logs)", failed, k);
        return rc ? SWEEPDIR_ERUN : 0;
    }
    rc = k ? submit_runs(&w, idx, k, dry) : 0;
    free(idx);
    sweepdir_close(&w);
    return rc ? SWEEPDIR_ERUN : 0;
}

int submit_failed(const char *dir, int dry)
{
    sweepdir_t w;
    if (sweepdir_open(&w, dir)) {
        sweepdir_close(&w);
        return SWEEPDIR_EINPUT;
    }
    int *idx, k = status_select(&w, 1u << ST_FAILED | 1u << ST_PREEMPTED, &idx);
    printf("# sweep %s: %d failed or preempted run(s) to resubmit\n", w.spec.name, k);
    int rc = k ? submit_runs(&w, idx, k, dry) : 0;
    free(idx);
    sweepdir_close(&w);
    return rc ? SWEEPDIR_ERUN : 0;
}
