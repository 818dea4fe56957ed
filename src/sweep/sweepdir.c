#include "sweep/sweepdir.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/err.h"
#include "core/share.h"

const char *const sweepdir_job_files[SWEEPDIR_N_JOB_FILES] = {"sweep-task.sbatch", "aggregate.sbatch", "il-step.sh"};

void sweepdir_path(const sweepdir_t *w, char *buf, size_t n, const char *rel) { snprintf(buf, n, "%s/%s", w->dir, rel); }

int sweepdir_n_runs(const sweepdir_t *w) { return w->manifest.rows - 1; }

const char *sweepdir_run_name(const sweepdir_t *w, int i) { return w->manifest.cell[(i + 1) * w->manifest.cols + 1]; }

int sweepdir_locate_self(sweepdir_t *w)
{
    ssize_t len = readlink("/proc/self/exe", w->self, sizeof w->self - 1);
    if (len < 0) return err_set("/proc/self/exe: %s", strerror(errno));
    w->self[len] = '\0';
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", w->self);
    const char *bin = dirname(copy);
    snprintf(w->trainer, sizeof w->trainer, "%s/il-train", bin);
    snprintf(w->prober, sizeof w->prober, "%s/il-probe", bin);
    return 0;
}

const char *sweepdir_program(const sweepdir_t *w) { return w->spec.probe_line ? w->prober : w->trainer; }

int sweepdir_task_argv(const sweepdir_t *w, const char *name, argv_t *a)
{
    if (!w->spec.probe_line) {
        argv_add(a, "--config");
        argv_add(a, "%s/configs/%s.ini", w->dir, name);
        argv_add(a, "--resume");
        return 0;
    }
    char path[PATH_MAX + CONFIG_STR + 16];
    uint8_t *text;
    size_t len;
    snprintf(path, sizeof path, "%s/configs/%s.args", w->dir, name);
    CALL(bytes_read_file(path, &text, &len));
    for (char *p = (char *)text, *line; (line = strsep(&p, "\n"));)
        if (*line || p) argv_add(a, "%s", line);
    free(text);
    return 0;
}

int sweepdir_jobs_dir(char *buf, size_t n) { return share_find("jobs", "jobs", sweepdir_job_files[0], buf, n); }

int sweepdir_manifest_read(tsv_t *t, const char *path)
{
    CALL(tsv_read(t, path));
    int rc = 0;
    if (t->cols < 2 || strcmp(t->cell[0], "index") || strcmp(t->cell[1], "run"))
        rc = err_set("%s:1: expected the header 'index<TAB>run...'", path);
    for (int r = 1; r < t->rows && rc == 0; r++) {
        const char *name = t->cell[r * t->cols + 1];
        if (!config_run_name_ok(name))
            rc = err_set("%s:%d: run name '%s' is not one il-sweep gives (letters, digits, '.', '_', '-'): it would "
                         "name a path outside the sweep directory", path, r + 1, name);
    }
    if (rc) tsv_free(t);
    return rc;
}

int sweepdir_open(sweepdir_t *w, const char *dir)
{
    memset(w, 0, sizeof *w);
    if (!realpath(dir, w->dir)) return err_set("%s: not a sweep directory: %s", dir, strerror(errno));
    char path[PATH_MAX + 64];
    sweepdir_path(w, path, sizeof path, "spec.ini");
    CALL(spec_load(&w->spec, path, SPEC_LOAD_RESOURCES));
    sweepdir_path(w, path, sizeof path, "manifest.tsv");
    CALL(sweepdir_manifest_read(&w->manifest, path));
    sweepdir_path(w, path, sizeof path, "submit_dir");
    uint8_t *text;
    size_t len;
    CALL(bytes_read_file(path, &text, &len));
    snprintf(w->submit_dir, sizeof w->submit_dir, "%.*s", (int)strcspn((char *)text, "\n"), (char *)text);
    free(text);
    return sweepdir_locate_self(w);
}

void sweepdir_close(sweepdir_t *w)
{
    spec_free(&w->spec);
    tsv_free(&w->manifest);
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    atomicfile_t af;
    CALL(atomicfile_open(&af, path, ATOMICFILE_REPLACE));
    if (atomicfile_write(&af, data, n)) {
        atomicfile_abort(&af);
        return -1;
    }
    if (fchmod(fileno(af.f), mode)) {
        atomicfile_abort(&af);
        return err_set("%s: chmod: %s", path, strerror(errno));
    }
    return atomicfile_commit(&af);
}

/* A whole file copied to <dir>/<rel> with the given mode. */
static int copy_in(const sweepdir_t *w, const char *src, const char *rel, mode_t mode)
{
    uint8_t *text;
    size_t len;
    char path[PATH_MAX + 64];
    CALL(bytes_read_file(src, &text, &len));
    sweepdir_path(w, path, sizeof path, rel);
    int rc = write_file(path, text, len, mode);
    free(text);
    return rc;
}

/* A probe run's il-probe arguments, one a line (the task script reads them with mapfile: no shell expands
 * them). */
static int write_args(const sweepdir_t *w, const spec_run_t *r, const char *path)
{
    char runs_dir[PATH_MAX + 8], *text = NULL;
    size_t len = 0;
    argv_t a = {0};
    sweepdir_path(w, runs_dir, sizeof runs_dir, "runs");
    spec_probe_argv(&w->spec, r, runs_dir, &a);
    FILE *m = open_memstream(&text, &len);
    CHECK(m, "out of memory");
    for (int i = 0; i < a.n; i++) fprintf(m, "%s\n", a.v[i]);
    fclose(m);
    argv_free(&a);
    int rc = write_file(path, text, len, 0644);
    free(text);
    return rc;
}

int sweepdir_write(const sweepdir_t *w, const char *spec_path, const spec_run_t *runs, int n, const char *manifest,
               size_t manifest_len)
{
    char path[PATH_MAX + CONFIG_STR + 16], jobs_dir[PATH_MAX];
    const char *subdirs[] = {"configs", "runs", "logs", "jobs"};
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        sweepdir_path(w, path, sizeof path, subdirs[i]);
        CALL(atomicfile_mkdirs(path));
    }
    int rc = copy_in(w, spec_path, "spec.ini", 0644);
    sweepdir_path(w, path, sizeof path, "manifest.tsv");
    rc = rc ? rc : write_file(path, manifest, manifest_len, 0644);
    char submit_dir[PATH_MAX + 2];
    snprintf(submit_dir, sizeof submit_dir, "%s\n", w->submit_dir);
    sweepdir_path(w, path, sizeof path, "submit_dir");
    rc = rc ? rc : write_file(path, submit_dir, strlen(submit_dir), 0644);
    for (int i = 0; i < n && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/configs/%s.%s", w->dir, runs[i].cfg.name, w->spec.probe_line ? "args" : "ini");
        rc = w->spec.probe_line ? write_args(w, &runs[i], path) : config_save(&runs[i].cfg, path, ATOMICFILE_REPLACE);
    }
    if (rc || sweepdir_jobs_dir(jobs_dir, sizeof jobs_dir)) return -1;
    for (int i = 0; i < SWEEPDIR_N_JOB_FILES && rc == 0; i++) {
        char src[PATH_MAX + 64], rel[64];
        snprintf(src, sizeof src, "%s/%s", jobs_dir, sweepdir_job_files[i]);
        snprintf(rel, sizeof rel, "jobs/%s", sweepdir_job_files[i]);
        rc = copy_in(w, src, rel, 0755);
    }
    return rc;
}

int sweepdir_record_job(const sweepdir_t *w, const char *line)
{
    char path[PATH_MAX + 64];
    sweepdir_path(w, path, sizeof path, "jobs.tsv");
    FILE *f = fopen(path, "a");
    if (!f) return err_set("%s: cannot append: %s", path, strerror(errno));
    fputs(line, f);
    return fclose(f) ? err_set("%s: write failed: %s", path, strerror(errno)) : 0;
}
