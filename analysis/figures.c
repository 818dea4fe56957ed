#include "analysis/figures.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netcdf.h>

#include "core/afile.h"
#include "core/err.h"
#include "analysis/summary.h"

extern char **environ;

enum { FIG_NORM, FIG_LENS, FIG_COS, FIG_LOSS, FIG_FINAL, FIG_N };
static const char *const fig_name[FIG_N] = {"norm_position", "lens_depth", "cos_depth", "loss_curves", "final_loss"};
enum { MAX_PICK = 3, MAX_STEPS_SHOWN = 6 };

typedef struct {
    const char *gnuplot, *term;
    char scripts[PATH_MAX], dir[4300], data[4400];
    int made, skipped;
} ctx_t;

/* Runs argv with stdout and stderr sent to /dev/null unless `quiet` is 0; returns its exit status or -1. */
static int run(char *const *argv, int quiet)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), status;
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0 || waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The PNG terminal gnuplot accepts, or NULL when gnuplot cannot be run at all or has none. */
static const char *png_terminal(const char *gnuplot)
{
    static const char *const terms[] = {"pngcairo", "png"};
    for (size_t i = 0; i < sizeof terms / sizeof *terms; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "set terminal %s", terms[i]);
        char *argv[] = {(char *)gnuplot, "-e", cmd, NULL};
        if (run(argv, 1) == 0) return terms[i];
    }
    return NULL;
}

static void scripts_dir(char *out, size_t n)
{
    const char *env = getenv("IL_PLOTS_DIR");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    /* the nearest analysis/plots above the executable: build/bin and build/asan/bin both find the tree's */
    char dir[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", dir, sizeof dir - 1);
    dir[len > 0 ? len : 0] = '\0';
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash) break;
        *slash = '\0';
        snprintf(out, n, "%.*s/analysis/plots", (int)(n > 32 ? n - 32 : 0), dir);
        if (access(out, R_OK) == 0) return;
    }
}

/* gnuplot string literal: single quotes, with a quote doubled. */
static void gp_string(char *out, size_t n, const char *s)
{
    size_t k = 0;
    if (k + 1 < n) out[k++] = '\'';
    for (; *s && k + 3 < n; s++) {
        if (*s == '\'') out[k++] = '\'';
        out[k++] = *s;
    }
    out[k++] = '\'';
    out[k] = '\0';
}

/* Draws figure `fig` (file name stem `stem`) from ctx->data with the extra gnuplot settings `vars`. */
static void draw(ctx_t *x, int fig, const char *stem, const char *vars)
{
    char script[PATH_MAX + 32], out[4400], tmp[4500], q_out[9100], q_data[8900], settings[32768];
    snprintf(script, sizeof script, "%s/%s.gp", x->scripts, fig_name[fig]);
    snprintf(out, sizeof out, "%s/%s.png", x->dir, stem);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    gp_string(q_out, sizeof q_out, tmp);
    gp_string(q_data, sizeof q_data, x->data);
    snprintf(settings, sizeof settings, "term='%s'; outfile=%s; datafile=%s; %s", x->term, q_out, q_data, vars);
    char *argv[] = {(char *)x->gnuplot, "-e", settings, script, NULL};
    if (access(script, R_OK) != 0 || run(argv, 0) != 0 || rename(tmp, out) != 0) {
        unlink(tmp);
        fprintf(stderr, "il-aggregate: figure %s.png not drawn (gnuplot failed on %s)\n", stem, script);
        x->skipped++;
    } else {
        x->made++;
    }
    unlink(x->data);
}

static FILE *data_file(ctx_t *x)
{
    FILE *f = fopen(x->data, "w");
    CHECK(f, "%s: cannot create: %s", x->data, strerror(errno));
    return f;
}

/* One run's curves as summary.nc holds them. */
typedef struct {
    int n, D, L, T;
    long long *step;
    double *norm_last, *lens, *cos, *cos_local, *loss, *val;
} run_curves_t;

/* summary.nc was written by this process moments ago: a NetCDF failure reading it is internal. */
static void get_int(int ncid, const char *name, size_t r, int *v)
{
    int id;
    CHECK_RC(nc_inq_varid(ncid, name, &id), nc_strerror);
    CHECK_RC(nc_get_var1_int(ncid, id, &r, v), nc_strerror);
}

/* Variable tv of schema.h, records [first1, first1 + n1) of run r, n2 x n3 values each. */
static void get_block(int ncid, int tv, size_t r, size_t n1, size_t first1, size_t n2, size_t n3, double *v)
{
    int id;
    size_t start[4] = {r, first1, 0, 0}, count[4] = {1, n1, n2, n3};
    CHECK_RC(nc_inq_varid(ncid, trace_vars[tv].name, &id), nc_strerror);
    CHECK_RC(nc_get_vara_double(ncid, id, start, count, v), nc_strerror);
}

/* Run r of summary.nc; -1 when it has no trace records. */
static int read_run(int ncid, size_t r, run_curves_t *c)
{
    memset(c, 0, sizeof *c);
    get_int(ncid, SUMMARY_N_STEP, r, &c->n);
    get_int(ncid, SUMMARY_N_DEPTH, r, &c->D);
    get_int(ncid, SUMMARY_N_POSITION, r, &c->T);
    if (c->n < 1) return -1;
    c->L = c->D - 1;
    size_t n = (size_t)c->n, D = (size_t)c->D, L = (size_t)c->L, T = (size_t)c->T;
    c->step = err_calloc(n, sizeof *c->step);
    c->norm_last = err_calloc(D * T, sizeof(double));
    c->lens = err_calloc(n * D, sizeof(double));
    c->cos = err_calloc(n * L, sizeof(double));
    c->cos_local = err_calloc(n * L, sizeof(double));
    c->loss = err_calloc(n, sizeof(double));
    c->val = err_calloc(n, sizeof(double));
    int id;
    size_t start[2] = {r, 0}, count[2] = {1, n};
    CHECK_RC(nc_inq_varid(ncid, SUMMARY_TRAIN_STEP, &id), nc_strerror);
    CHECK_RC(nc_get_vara_longlong(ncid, id, start, count, c->step), nc_strerror);
    get_block(ncid, TV_NORM, r, 1, n - 1, D, T, c->norm_last);
    get_block(ncid, TV_LENS, r, n, 0, D, 1, c->lens);
    get_block(ncid, TV_COS, r, n, 0, L, 1, c->cos);
    get_block(ncid, TV_COS_LOCAL, r, n, 0, L, 1, c->cos_local);
    get_block(ncid, TV_LOSS, r, n, 0, 1, 1, c->loss);
    get_block(ncid, TV_VAL_LOSS, r, n, 0, 1, 1, c->val);
    return 0;
}

static void free_run(run_curves_t *c)
{
    free(c->step), free(c->norm_last), free(c->lens), free(c->cos), free(c->cos_local), free(c->loss), free(c->val);
}

/* Up to MAX_STEPS_SHOWN records spread evenly in log(step + 1), always the first and the last. */
static int pick_steps(const run_curves_t *c, int *idx)
{
    int m = 0;
    double lo = log10((double)c->step[0] + 1), hi = log10((double)c->step[c->n - 1] + 1);
    for (int j = 0; j < MAX_STEPS_SHOWN; j++) {
        double target = lo + (hi - lo) * j / (MAX_STEPS_SHOWN - 1);
        int best = 0;
        for (int i = 1; i < c->n; i++)
            if (fabs(log10((double)c->step[i] + 1) - target) < fabs(log10((double)c->step[best] + 1) - target)) best = i;
        if (!m || idx[m - 1] != best) idx[m++] = best;
    }
    return m;
}

static void per_run_figures(ctx_t *x, const run_curves_t *c, const char *name)
{
    char vars[4096], stem[512], steps[512] = "";
    int idx[MAX_STEPS_SHOWN], m = pick_steps(c, idx);
    for (int j = 0; j < m; j++)
        snprintf(steps + strlen(steps), sizeof steps - strlen(steps), "%s%lld", j ? " " : "", c->step[idx[j]]);

    FILE *f = data_file(x);
    for (int l = 0; l < c->D; l++) {
        for (int t = 0; t < c->T; t++) fprintf(f, "%d %.9g\n", t, c->norm_last[(size_t)l * c->T + t]);
        fputs("\n\n", f);
    }
    fclose(f);
    snprintf(vars, sizeof vars, "ndepth=%d; runname='%s'; step='%lld'", c->D, name, c->step[c->n - 1]);
    snprintf(stem, sizeof stem, "%s_%s", fig_name[FIG_NORM], name);
    draw(x, FIG_NORM, stem, vars);

    f = data_file(x);
    for (int j = 0; j < m; j++) {
        for (int l = 0; l < c->D; l++) fprintf(f, "%d %.9g\n", l, c->lens[(size_t)idx[j] * c->D + l]);
        fputs("\n\n", f);
    }
    fclose(f);
    snprintf(vars, sizeof vars, "nblock=%d; steps='%s'; runname='%s'", m, steps, name);
    snprintf(stem, sizeof stem, "%s_%s", fig_name[FIG_LENS], name);
    draw(x, FIG_LENS, stem, vars);

    f = data_file(x);
    for (int j = 0; j < m; j++) {
        for (int l = 0; l < c->L; l++)
            fprintf(f, "%d %.9g %.9g\n", l, c->cos[(size_t)idx[j] * c->L + l], c->cos_local[(size_t)idx[j] * c->L + l]);
        fputs("\n\n", f);
    }
    fclose(f);
    snprintf(stem, sizeof stem, "%s_%s", fig_name[FIG_COS], name);
    draw(x, FIG_COS, stem, vars);
}

static int cmp_params(const void *a, const void *b)
{
    double x = (*(const figures_run_t *const *)a)->n_params, y = (*(const figures_run_t *const *)b)->n_params;
    return (x > y) - (x < y);
}

/* The smallest, median and largest runs with traces by parameter count; returns how many. */
static int pick_runs(const figures_run_t *runs, int n, const figures_run_t **pick)
{
    const figures_run_t **all = err_calloc((size_t)(n ? n : 1), sizeof *all);
    int m = 0, k = 0;
    for (int i = 0; i < n; i++)
        if (runs[i].sum_index >= 0) all[m++] = &runs[i];
    qsort(all, (size_t)m, sizeof *all, cmp_params);
    int want[MAX_PICK] = {0, (m - 1) / 2, m - 1};
    for (int j = 0; j < MAX_PICK && m; j++)
        if (!k || pick[k - 1] != all[want[j]]) pick[k++] = all[want[j]];
    free(all);
    return k;
}

static void sweep_figures(ctx_t *x, const char *summary_path, const figures_run_t *runs, int n)
{
    const figures_run_t *pick[MAX_PICK];
    int np = pick_runs(runs, n, pick), ncid = -1;
    if (np) CHECK_RC(nc_open(summary_path, NC_NOWRITE, &ncid), nc_strerror);
    char names[2048] = "";
    FILE *loss = NULL;
    int nloss = 0;
    run_curves_t *rc = err_calloc(MAX_PICK, sizeof *rc);
    for (int j = 0; j < np; j++) {
        if (read_run(ncid, (size_t)pick[j]->sum_index, &rc[j])) continue;
        per_run_figures(x, &rc[j], pick[j]->name);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", nloss ? " " : "", pick[j]->name);
        nloss++;
    }
    if (ncid >= 0) CHECK_RC(nc_close(ncid), nc_strerror);
    /* the loss curves of the picked runs, written after their per-run figures reused the data file */
    if (nloss) {
        loss = data_file(x);
        for (int j = 0; j < np; j++) {
            for (int i = 0; i < rc[j].n; i++) fprintf(loss, "%lld %.9g %.9g\n", rc[j].step[i], rc[j].loss[i], rc[j].val[i]);
            if (rc[j].n) fputs("\n\n", loss);
        }
        fclose(loss);
        char vars[4096];
        snprintf(vars, sizeof vars, "nblock=%d; names='%s'", nloss, names);
        draw(x, FIG_LOSS, fig_name[FIG_LOSS], vars);
    } else {
        x->skipped += 4;
        fprintf(stderr, "il-aggregate: no run with traces: per-run figures and loss curves not drawn\n");
    }
    for (int j = 0; j < MAX_PICK; j++) free_run(&rc[j]);
    free(rc);

    FILE *f = data_file(x);
    for (int i = 0; i < n; i++)
        if (isfinite(runs[i].n_params)) fprintf(f, "%.9g %.9g %.9g\n", runs[i].n_params, runs[i].final_loss, runs[i].final_val);
    fclose(f);
    draw(x, FIG_FINAL, fig_name[FIG_FINAL], "");
}

int figures_make(const char *out_dir, const char *summary_path, const figures_run_t *runs, int n)
{
    ctx_t x = {0};
    const char *env = getenv("IL_GNUPLOT");
    x.gnuplot = env ? env : "gnuplot";
    x.term = *x.gnuplot ? png_terminal(x.gnuplot) : NULL;
    if (!x.term) {
        fprintf(stderr, "il-aggregate: gnuplot with a PNG terminal not found (%s): figures skipped:", x.gnuplot);
        for (int i = 0; i < FIG_N; i++) fprintf(stderr, " %s", fig_name[i]);
        fprintf(stderr, "; the tables are complete\n");
        return FIG_N;
    }
    scripts_dir(x.scripts, sizeof x.scripts);
    snprintf(x.dir, sizeof x.dir, "%s/figures", out_dir);
    if (afile_mkdirs(x.dir)) {
        fprintf(stderr, "il-aggregate: %s: figures skipped\n", err_msg());
        return FIG_N;
    }
    snprintf(x.data, sizeof x.data, "%s/.plot.%ld.dat", x.dir, (long)getpid());
    sweep_figures(&x, summary_path, runs, n);
    return x.skipped;
}
