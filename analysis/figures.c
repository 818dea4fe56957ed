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

#include "core/atomicfile.h"
#include "core/err.h"
#include "core/share.h"
#include "analysis/summary.h"
#include "analysis/ticks.h"
#include "core/metrics.h"
#include "core/stats.h"

extern char **environ;

enum { FIG_NORM, FIG_LENS, FIG_COS, FIG_SIGNALS, FIG_LOSS, FIG_H1, FIG_GENRES, FIG_SCALING, FIG_N };
static const char *const fig_name[FIG_N] = {"norm_position", "lens_depth", "cos_depth", "signals", "loss_curves",
                                            "h1_sizes", "genres", "scaling"};
enum { MAX_PICK = 3, MAX_STEPS_SHOWN = 6, MAX_SIZES = 64 };

typedef struct {
    const char *gnuplot, *term;
    char scripts[PATH_MAX], q_scripts[2 * PATH_MAX + 4], dir[4300], data[4400], log_path[4400];
    FILE *log; /* gnuplot's warnings (figures/gnuplot.log), each under the name of its figure */
    int made, skipped, failed; /* failed: a file could not be written (err_set); nothing more is drawn */
} ctx_t;

/* Runs argv with stdout sent to /dev/null and stderr to err_fd (-1: /dev/null too); returns its exit status
 * or -1. */
static int run(char *const *argv, int err_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, err_fd < 0 ? 1 : err_fd, 2);
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
        if (run(argv, -1) == 0) return terms[i];
    }
    return NULL;
}

static void scripts_dir(char *out, size_t n)
{
    const char *env = getenv("IL_PLOTS_DIR");
    if (env && *env)
        snprintf(out, n, "%s", env);
    else if (share_find("analysis/plots", "plots", "palette.gp", out, n)) /* each figure then says it failed */
        fprintf(stderr, "il-aggregate: %s (or set IL_PLOTS_DIR)\n", err_msg());
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

/* Whether path is a whole PNG: it ends with the IEND chunk. gnuplot exits 0 after a write that failed. */
static int png_complete(const char *path)
{
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    unsigned char tail[12];
    FILE *f = fopen(path, "rb");
    int ok = f && fseek(f, -12, SEEK_END) == 0 && fread(tail, 1, 12, f) == 12 && !memcmp(tail, iend, 12);
    if (f) fclose(f);
    return ok;
}

/* A file of the figures that could not be written: the figures stop, and il-aggregate fails with this. */
static void write_failed(ctx_t *x, const char *path, const char *why)
{
    if (!x->failed) err_set("%s: write failed: %s", path, why);
    x->failed = 1;
}

/* Draws figure `fig` (file name stem `stem`) from ctx->data with the extra gnuplot settings `vars`. */
static void draw(ctx_t *x, int fig, const char *stem, const char *vars)
{
    if (x->failed) {
        unlink(x->data);
        return;
    }
    char script[PATH_MAX + 32], out[4400], tmp[4500], q_out[9100], q_data[8900];
    snprintf(script, sizeof script, "%s/%s.gp", x->scripts, fig_name[fig]);
    snprintf(out, sizeof out, "%s/%s.png", x->dir, stem);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    gp_string(q_out, sizeof q_out, tmp);
    gp_string(q_data, sizeof q_data, x->data);
    /* sized to the settings: a key entry per run grows with the sweep */
    size_t n_settings = strlen(vars) + sizeof q_out + sizeof q_data + sizeof x->q_scripts + 128;
    char *settings = err_calloc(n_settings, 1);
    snprintf(settings, n_settings, "term='%s'; outfile=%s; datafile=%s; plotsdir=%s; %s", x->term, q_out, q_data,
             x->q_scripts, vars);
    char *argv[] = {(char *)x->gnuplot, "-e", settings, script, NULL};
    /* the figure's name heads its warnings in the log, and goes again when gnuplot wrote none */
    struct stat before, after;
    int fd = fileno(x->log), head = fstat(fd, &before) || fprintf(x->log, "%s.png:\n", stem) < 0 || fflush(x->log);
    int rc = access(script, R_OK) != 0 ? -1 : run(argv, fd);
    if (head || fstat(fd, &after) ||
        (after.st_size == before.st_size + (off_t)strlen(stem) + 6 && ftruncate(fd, before.st_size)))
        write_failed(x, x->log_path, strerror(errno));
    if (rc != 0 || !png_complete(tmp) || rename(tmp, out) != 0) {
        const char *why = atomicfile_why(tmp, 0); /* a full disk, not a figure gnuplot could not draw */
        unlink(tmp);
        if (why) {
            write_failed(x, out, why);
        } else {
            fprintf(stderr, "il-aggregate: figure %s.png not drawn (gnuplot failed on %s; its messages are in "
                    "figures/" FIGURES_LOG ")\n", stem, script);
            x->skipped++;
        }
    } else {
        x->made++;
    }
    free(settings);
    unlink(x->data);
}

/* The data file for the next figure. One that cannot be created is a failure (write_failed), and the data
 * then go to /dev/null, which draw() does not draw. */
static FILE *data_file(ctx_t *x)
{
    FILE *f = fopen(x->data, "w");
    if (!f) {
        write_failed(x, x->data, strerror(errno));
        f = fopen("/dev/null", "w");
        CHECK(f, "/dev/null: cannot open: %s", strerror(errno));
    }
    return f;
}

static void data_close(ctx_t *x, FILE *f)
{
    if (fclose(f) != 0) write_failed(x, x->data, strerror(errno));
}

/* summary.nc was written by this process moments ago: a NetCDF failure reading it is internal. */
static void get_int(int ncid, const char *name, size_t r, int *v)
{
    int id;
    CHECK_RC(nc_inq_varid(ncid, name, &id), nc_strerror);
    CHECK_RC(nc_get_var1_int(ncid, id, &r, v), nc_strerror);
}

/* One run of summary.nc: its records' places among the file's steps. */
typedef struct {
    int n, D, L, T;
    size_t n_steps;       /* of the file */
    int *pos;             /* (n) place of each record in the file's step dimension */
    long long *step;      /* (n) its step */
} view_t;

/* Variable `name` of run r at every step of the file, n2 x n3 values per step (the run's own extent). */
static double *get_all(int ncid, const char *name, size_t r, const view_t *v, size_t n2, size_t n3)
{
    int id;
    size_t start[4] = {r, 0, 0, 0}, count[4] = {1, v->n_steps, n2, n3};
    double *out = err_calloc(v->n_steps * n2 * n3 + 1, sizeof *out);
    CHECK_RC(nc_inq_varid(ncid, name, &id), nc_strerror);
    if (v->n_steps) CHECK_RC(nc_get_vara_double(ncid, id, start, count, out), nc_strerror);
    return out;
}

/* Run r; -1 when it has no records. A record is where the run has a time. */
static int view_run(int ncid, size_t r, view_t *v)
{
    memset(v, 0, sizeof *v);
    int dim, id;
    get_int(ncid, SUMMARY_N_STEP, r, &v->n);
    get_int(ncid, SUMMARY_N_DEPTH, r, &v->D);
    get_int(ncid, SUMMARY_N_POSITION, r, &v->T);
    v->L = v->D - 1;
    CHECK_RC(nc_inq_dimid(ncid, "step", &dim), nc_strerror);
    CHECK_RC(nc_inq_dimlen(ncid, dim, &v->n_steps), nc_strerror);
    if (v->n < 1 || !v->n_steps) return -1;
    long long *all = err_calloc(v->n_steps, sizeof *all);
    CHECK_RC(nc_inq_varid(ncid, "step", &id), nc_strerror);
    CHECK_RC(nc_get_var_longlong(ncid, id, all), nc_strerror);
    double *t = get_all(ncid, trace_vars[TV_TIME].name, r, v, 1, 1);
    v->pos = err_calloc((size_t)v->n, sizeof *v->pos), v->step = err_calloc((size_t)v->n, sizeof *v->step);
    int m = 0;
    for (size_t i = 0; i < v->n_steps && m < v->n; i++)
        if (isfinite(t[i])) v->pos[m] = (int)i, v->step[m++] = all[i];
    v->n = m;
    free(t), free(all);
    return m ? 0 : -1;
}

static void view_free(view_t *v) { free(v->pos), free(v->step); }

/* Up to MAX_STEPS_SHOWN records spread evenly in log(step + 1), always the first and the last. */
static int pick_steps(const view_t *v, int *idx)
{
    int m = 0;
    double lo = log10((double)v->step[0] + 1), hi = log10((double)v->step[v->n - 1] + 1);
    for (int j = 0; j < MAX_STEPS_SHOWN; j++) {
        double target = lo + (hi - lo) * j / (MAX_STEPS_SHOWN - 1);
        int best = 0;
        for (int i = 1; i < v->n; i++)
            if (fabs(log10((double)v->step[i] + 1) - target) < fabs(log10((double)v->step[best] + 1) - target)) best = i;
        if (!m || idx[m - 1] != best) idx[m++] = best;
    }
    return m;
}

/* Per-run figures: the norm by position at the end, the lens and cosines by depth at a few steps, and every
 * inner signal against step. */
static void per_run_figures(ctx_t *x, int ncid, size_t r, const char *name)
{
    view_t v;
    if (view_run(ncid, r, &v)) return;
    size_t D = (size_t)v.D, L = (size_t)v.L, T = (size_t)v.T;
    double *norm = get_all(ncid, trace_vars[TV_NORM].name, r, &v, D, T);
    double *lens = get_all(ncid, trace_vars[TV_LENS].name, r, &v, D, 1);
    double *cos = get_all(ncid, trace_vars[TV_COS].name, r, &v, L, 1);
    double *cosl = get_all(ncid, trace_vars[TV_COS_LOCAL].name, r, &v, L, 1);
    double *sink = get_all(ncid, trace_vars[TV_SINK].name, r, &v, L, 1);
    double *erank = get_all(ncid, trace_vars[TV_ERANK].name, r, &v, D, 1);
    char vars[16384], stem[512], steps[512] = "";
    int idx[MAX_STEPS_SHOWN], m = pick_steps(&v, idx);
    for (int j = 0; j < m; j++) snprintf(steps + strlen(steps), sizeof steps - strlen(steps), "%s%lld", j ? " " : "", v.step[idx[j]]);

    /* each depth divided by its own mean over positions: the embedding's norm is an order of magnitude below
     * the rest, and one axis for all would flatten the trend along t */
    char q_name[600], means[12288] = "";
    gp_string(q_name, sizeof q_name, name);
    FILE *f = data_file(x);
    const double *last = norm + (size_t)v.pos[v.n - 1] * D * T;
    for (size_t l = 0; l < D; l++) {
        double mean = stats_mean(last + l * T, (int)T, 1);
        for (size_t t = 0; t < T; t++) fprintf(f, "%zu %.9g\n", t, last[l * T + t] / mean);
        fputs("\n\n", f);
        snprintf(means + strlen(means), sizeof means - strlen(means), "%s%.3g", l ? " " : "", mean);
    }
    data_close(x, f);
    snprintf(vars, sizeof vars, "ndepth=%d; T=%d; runname=%s; step='%lld'; means='%s'", v.D, v.T, q_name,
             v.step[v.n - 1], means);
    snprintf(stem, sizeof stem, "%s_%s", fig_name[FIG_NORM], name);
    draw(x, FIG_NORM, stem, vars);

    f = data_file(x);
    for (int j = 0; j < m; j++) {
        for (size_t l = 0; l < D; l++) fprintf(f, "%zu %.9g\n", l, lens[(size_t)v.pos[idx[j]] * D + l]);
        fputs("\n\n", f);
    }
    data_close(x, f);
    snprintf(vars, sizeof vars, "nblock=%d; ndepth=%d; nlayer=%d; steps='%s'; runname=%s", m, v.D, v.L, steps, q_name);
    snprintf(stem, sizeof stem, "%s_%s", fig_name[FIG_LENS], name);
    draw(x, FIG_LENS, stem, vars);

    f = data_file(x);
    for (int j = 0; j < m; j++) {
        for (size_t l = 0; l < L; l++)
            fprintf(f, "%zu %.9g %.9g\n", l, cos[(size_t)v.pos[idx[j]] * L + l], cosl[(size_t)v.pos[idx[j]] * L + l]);
        fputs("\n\n", f);
    }
    data_close(x, f);
    snprintf(stem, sizeof stem, "%s_%s", fig_name[FIG_COS], name);
    draw(x, FIG_COS, stem, vars);

    /* every record (step 0 left out: the log axis) of each signal, a column per block or depth */
    const double *sig[] = {cosl, cos, lens, sink, erank};
    const size_t width[] = {L, L, D, L, D};
    const int var[] = {TV_COS_LOCAL, TV_COS, TV_LENS, TV_SINK, TV_ERANK};
    f = data_file(x);
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < v.n; i++) {
            /* a signal of the sparse sub-schedule is a fill (NaN) at the trace steps that were not full: those
             * are left out, so that its line joins the steps it was recorded at */
            int fill = trace_sparse[var[k]];
            for (size_t l = 0; l < width[k]; l++) fill &= !isfinite(sig[k][(size_t)v.pos[i] * width[k] + l]);
            if (v.step[i] <= 0 || fill) continue;
            fprintf(f, "%lld", v.step[i]);
            for (size_t l = 0; l < width[k]; l++) fprintf(f, " %.9g", sig[k][(size_t)v.pos[i] * width[k] + l]);
            fputc('\n', f);
        }
        fputs("\n\n", f);
    }
    data_close(x, f);
    snprintf(stem, sizeof stem, "%s_%s", fig_name[FIG_SIGNALS], name);
    draw(x, FIG_SIGNALS, stem, vars);
    free(norm), free(lens), free(cos), free(cosl), free(sink), free(erank);
    view_free(&v);
}

static int cmp_params(const void *a, const void *b)
{
    double x = (*(const run_row_t *const *)a)->param[TP_N_PARAMS].d, y = (*(const run_row_t *const *)b)->param[TP_N_PARAMS].d;
    return (x > y) - (x < y);
}

/* The runs with traces sorted by parameter count; returns how many. */
static int traced_by_size(const run_row_t *rows, int n, const run_row_t **out)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (rows[i].sum_index >= 0) out[m++] = &rows[i];
    qsort(out, (size_t)m, sizeof *out, cmp_params);
    return m;
}

/* The distinct parameter counts of the runs, ascending (at most MAX_SIZES); and each run's index among them. */
static int sizes(const run_row_t *rows, int n, double *size, int *of)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        double p = rows[i].param[TP_N_PARAMS].d;
        int j = 0;
        while (j < k && size[j] != p) j++;
        if (j == k && k < MAX_SIZES && isfinite(p)) size[k++] = p;
    }
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && size[j - 1] > size[j]; j--) {
            double t = size[j];
            size[j] = size[j - 1], size[j - 1] = t;
        }
    for (int i = 0; i < n && of; i++) {
        of[i] = -1;
        for (int j = 0; j < k; j++)
            if (size[j] == rows[i].param[TP_N_PARAMS].d) of[i] = j;
    }
    return k;
}

static void size_title(char *buf, size_t n, double params) { snprintf(buf, n, "%.3gM", params / 1e6); }

/* Appends "; <prefix><k>=<s as a gnuplot string>" to vars (n bytes): a text of the data (a run or genre name)
 * for a script, which reads it with value(sprintf("<prefix>%d", k)) and prints it noenhanced, so that any
 * character, a quote or a space included, reaches the figure as it is. */
static void gp_word(char *vars, size_t n, const char *prefix, int k, const char *s)
{
    char q[600];
    gp_string(q, sizeof q, s);
    size_t len = strlen(vars);
    snprintf(vars + len, n - len, "; %s%d=%s", prefix, k, q);
}

/* Every run's loss curves from metrics.jsonl; the x axis ends at the last step. Up to MAX_KEYED runs, a colour
 * (and past the palette's 8, a dash pattern) per run and the key naming each run and its size; a larger
 * sweep, whose key would cover the figure, a colour and a key entry per size. */
static void loss_figure(ctx_t *x, const run_row_t *rows, int n)
{
    enum { MAX_KEYED = 24 };
    double size[MAX_SIZES], last = 1;
    int *of = err_calloc((size_t)n + 1, sizeof *of), *run = err_calloc((size_t)n + 1, sizeof *run), m = 0;
    int k = sizes(rows, n, size, of), count[MAX_SIZES] = {0};
    metrics_curves_t *mc = err_calloc((size_t)n + 1, sizeof *mc);
    for (int i = 0; i < n; i++) {
        if (of[i] < 0 || metrics_curves(&mc[m], rows[i].dir) <= 0 || !mc[m].n) {
            metrics_curves_free(&mc[m]);
            continue;
        }
        last = fmax(last, mc[m].step[mc[m].n - 1]);
        if (mc[m].n_val) last = fmax(last, mc[m].val_step[mc[m].n_val - 1]);
        count[of[i]]++, run[m++] = i;
    }
    int by_size = m > MAX_KEYED;
    size_t vn = 128 + (size_t)(by_size ? k : m) * 700 + (size_t)m * 4;
    char *words = err_calloc(vn, 1), *vars = err_calloc(2 * vn, 1), *colours = err_calloc((size_t)m * 4 + 1, 1);
    for (int j = 0, titled[MAX_SIZES] = {0}; j < m; j++) {
        int s = of[run[j]];
        char t[600], sz[64];
        size_title(sz, sizeof sz, size[s]);
        if (!by_size) {
            snprintf(t, sizeof t, "%s (%s)", rows[run[j]].name, sz);
            gp_word(words, vn, "title", j + 1, t);
        } else if (!titled[s]++) {
            snprintf(t, sizeof t, "%s (%d run%s)", sz, count[s], count[s] == 1 ? "" : "s");
            gp_word(words, vn, "title", j + 1, t);
        }
    }
    /* by size: each run's colour, the index of its size (the palette cycles past 8) */
    for (int j = 0, len = 0; by_size && j < m; j++) len += sprintf(colours + len, "%s%d", j ? " " : "", of[run[j]] % 8);
    if (!m) {
        x->skipped++;
        fprintf(stderr, "il-aggregate: no metrics.jsonl with training lines: %s.png not drawn\n", fig_name[FIG_LOSS]);
    } else {
        FILE *f = data_file(x);
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < mc[j].n; i++)
                if (mc[j].step[i] > 0)
                    fprintf(f, "%.0f %.9g %.9g %.9g\n", mc[j].step[i], mc[j].loss[i], mc[j].lr[i], mc[j].grad_norm[i]);
            fputs("\n\n", f);
        }
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < mc[j].n_val; i++)
                if (mc[j].val_step[i] > 0) fprintf(f, "%.0f %.9g\n", mc[j].val_step[i], mc[j].val_loss[i]);
            fputs("\n\n", f);
        }
        data_close(x, f);
        snprintf(vars, 2 * vn, "nrun=%d; xmax=%.0f; bysize=%d; colours='%s'%s", m, last, by_size, colours, words);
        draw(x, FIG_LOSS, fig_name[FIG_LOSS], vars);
    }
    free(words), free(vars), free(colours);
    for (int j = 0; j < m; j++) metrics_curves_free(&mc[j]);
    free(mc), free(of), free(run);
}

/* H1 across sizes: the last depth's norm by position at each run's last record, mean and range over seeds. */
static void h1_figure(ctx_t *x, int ncid, const run_row_t *rows, int n)
{
    double size[MAX_SIZES];
    int *of = err_calloc((size_t)n + 1, sizeof *of), k = sizes(rows, n, size, of), T = 0, drawn = 0;
    char titles[4096] = "";
    FILE *f = data_file(x);
    for (int s = 0; s < k; s++) {
        double *sum = NULL, *lo = NULL, *hi = NULL;
        int seeds = 0, Ts = 0;
        for (int i = 0; i < n; i++) {
            view_t v;
            if (of[i] != s || rows[i].sum_index < 0 || view_run(ncid, (size_t)rows[i].sum_index, &v)) continue;
            double *norm = get_all(ncid, trace_vars[TV_NORM].name, (size_t)rows[i].sum_index, &v, (size_t)v.D, (size_t)v.T);
            const double *last = norm + ((size_t)v.pos[v.n - 1] * v.D + (size_t)v.L) * v.T;
            if (!seeds) {
                Ts = v.T;
                sum = err_calloc((size_t)Ts, sizeof *sum), lo = err_calloc((size_t)Ts, sizeof *lo), hi = err_calloc((size_t)Ts, sizeof *hi);
                for (int t = 0; t < Ts; t++) lo[t] = INFINITY, hi[t] = -INFINITY;
            }
            for (int t = 0; t < Ts && t < v.T; t++) sum[t] += last[t], lo[t] = fmin(lo[t], last[t]), hi[t] = fmax(hi[t], last[t]);
            seeds++;
            free(norm);
            view_free(&v);
        }
        if (!seeds) continue;
        for (int t = 0; t < Ts; t++) fprintf(f, "%d %.9g %.9g %.9g\n", t, sum[t] / seeds, lo[t], hi[t]);
        fputs("\n\n", f);
        char t[64];
        size_title(t, sizeof t, size[s]);
        snprintf(titles + strlen(titles), sizeof titles - strlen(titles), "%s%s", drawn ? " " : "", t);
        T = Ts > T ? Ts : T, drawn++;
        free(sum), free(lo), free(hi);
    }
    data_close(x, f);
    free(of);
    if (!drawn) {
        unlink(x->data);
        x->skipped++;
        return;
    }
    char vars[8192];
    snprintf(vars, sizeof vars, "nsize=%d; titles='%s'; T=%d", drawn, titles, T);
    draw(x, FIG_H1, fig_name[FIG_H1], vars);
}

/* By genre: each size's final validation loss per genre (mean over seeds), and the largest run's per-genre
 * logit-lens loss and S3b. */
static void genre_figure(ctx_t *x, const run_row_t *rows, int n, const run_row_t *largest)
{
    double size[MAX_SIZES];
    int *of = err_calloc((size_t)n + 1, sizeof *of), k = sizes(rows, n, size, of);
    const run_row_t *ref = NULL;
    for (int i = 0; i < n && !ref; i++)
        if (rows[i].n_genre) ref = &rows[i];
    int finite = 0;
    for (int h = 0; largest && h < largest->n_probe_genre; h++) finite |= isfinite(largest->genre_lens[h]);
    if (!ref || !finite) {
        free(of);
        x->skipped++;
        fprintf(stderr, "il-aggregate: no validation by genre or no per-genre trace: %s.png not drawn\n", fig_name[FIG_GENRES]);
        return;
    }
    char genres[16384] = "", titles[4096] = "", q_name[600];
    for (int g = 0; g < ref->n_genre; g++) gp_word(genres, sizeof genres, "genre", g + 1, ref->genre[g]);
    gp_string(q_name, sizeof q_name, largest->name);
    for (int s = 0; s < k; s++) {
        char t[64];
        size_title(t, sizeof t, size[s]);
        snprintf(titles + strlen(titles), sizeof titles - strlen(titles), "%s%s", s ? " " : "", t);
    }
    FILE *f = data_file(x);
    for (int g = 0; g < ref->n_genre; g++) {
        fprintf(f, "%d", g);
        for (int s = 0; s < k; s++) {
            double sum = 0;
            int m = 0;
            for (int i = 0; i < n; i++)
                for (int h = 0; of[i] == s && h < rows[i].n_genre; h++)
                    if (!strcmp(rows[i].genre[h], ref->genre[g]) && isfinite(rows[i].genre_loss[h])) sum += rows[i].genre_loss[h], m++;
            fprintf(f, " %.9g", m ? sum / m : NAN);
        }
        fputc('\n', f);
    }
    fputs("\n\n", f);
    /* the probe genres in the order of the validation genres, by name */
    for (int g = 0; g < ref->n_genre; g++) {
        double l = NAN, c = NAN;
        for (int h = 0; h < largest->n_probe_genre; h++)
            if (!strcmp(largest->probe_genre[h], ref->genre[g])) l = largest->genre_lens[h], c = largest->genre_cos[h];
        fprintf(f, "%d %.9g %.9g\n", g, l, c);
    }
    data_close(x, f);
    free(of);
    char *vars = err_calloc(32768, 1);
    snprintf(vars, 32768, "nsize=%d; titles='%s'; ngenre=%d; runname=%s%s", k, titles, ref->n_genre, q_name, genres);
    draw(x, FIG_GENRES, fig_name[FIG_GENRES], vars);
    free(vars);
}

/* Final validation loss against parameters, with the seed range per size and the fitted power law, or why
 * there is none; the ranges and ticks from ticks.h, so that a few points get readable axes. */
static void scaling_figure(ctx_t *x, const run_row_t *rows, int n, const scaling_fit_t *fit)
{
    double size[MAX_SIZES], xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int *of = err_calloc((size_t)n + 1, sizeof *of), k = sizes(rows, n, size, of);
    FILE *f = data_file(x);
    for (int i = 0; i < n; i++)
        if (of[i] >= 0 && isfinite(rows[i].val_loss)) {
            double p = rows[i].param[TP_N_PARAMS].d, v = rows[i].val_loss;
            fprintf(f, "%.9g %.9g\n", p, v);
            xlo = fmin(xlo, p), xhi = fmax(xhi, p), ylo = fmin(ylo, v), yhi = fmax(yhi, v);
        }
    fputs("\n\n", f);
    for (int s = 0; s < k; s++) {
        double *v = err_calloc((size_t)n + 1, sizeof *v), lo, hi;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (of[i] == s) v[m++] = rows[i].val_loss;
        double med = stats_range(v, m, &lo, &hi);
        if (isfinite(med)) fprintf(f, "%.9g %.9g %.9g %.9g\n", size[s], med, lo, hi);
        free(v);
    }
    data_close(x, f);
    free(of);
    if (!(xlo <= xhi) || !(xlo > 0)) { /* no run with a final loss and a size: nothing to draw */
        unlink(x->data);
        x->skipped++;
        fprintf(stderr, "il-aggregate: no run with a final validation loss: %s.png not drawn\n", fig_name[FIG_SCALING]);
        return;
    }
    char xt[512], yt[512], label[300], q_label[700], vars[2048];
    int dec;
    ticks_log(&xlo, &xhi, xt, sizeof xt);
    ticks_linear(&ylo, &yhi, yt, sizeof yt, &dec);
    if (fit->ok)
        snprintf(label, sizeof label, "fit: %.3g (N/1e6)^-%.3g + %.3g", fit->est[SC_A], fit->est[SC_ALPHA], fit->est[SC_C]);
    else
        snprintf(label, sizeof label, "no fit: %s", fit->why);
    gp_string(q_label, sizeof q_label, label);
    snprintf(vars, sizeof vars, "fitted=%d; fa=%.9g; falpha=%.9g; fc=%.9g; fitlabel=%s; xlo=%.9g; xhi=%.9g; "
             "ylo=%.9g; yhi=%.9g; xt='%s'; yt='%s'; ydec=%d", fit->ok, fit->ok ? fit->est[SC_A] : 0,
             fit->ok ? fit->est[SC_ALPHA] : 0, fit->ok ? fit->est[SC_C] : 0, q_label, xlo, xhi, ylo, yhi, xt, yt, dec);
    draw(x, FIG_SCALING, fig_name[FIG_SCALING], vars);
}

static void sweep_figures(ctx_t *x, const char *summary_path, const run_row_t *rows, int n, const scaling_fit_t *fit)
{
    const run_row_t **traced = err_calloc((size_t)n + 1, sizeof *traced);
    int m = traced_by_size(rows, n, traced), ncid = -1;
    loss_figure(x, rows, n);
    if (m) {
        CHECK_RC(nc_open(summary_path, NC_NOWRITE, &ncid), nc_strerror);
        int want[MAX_PICK] = {0, (m - 1) / 2, m - 1};
        for (int j = 0; j < MAX_PICK; j++)
            if (!j || want[j] != want[j - 1]) per_run_figures(x, ncid, (size_t)traced[want[j]]->sum_index, traced[want[j]]->name);
        h1_figure(x, ncid, rows, n);
        CHECK_RC(nc_close(ncid), nc_strerror);
    } else {
        x->skipped += 5;
        fprintf(stderr, "il-aggregate: no run with traces: per-run figures and h1_sizes not drawn\n");
    }
    genre_figure(x, rows, n, m ? traced[m - 1] : NULL);
    scaling_figure(x, rows, n, fit);
    free(traced);
}

int figures_make(const char *out_dir, const char *summary_path, const run_row_t *rows, int n, const scaling_fit_t *fit,
                 int *skipped)
{
    ctx_t x = {0};
    const char *env = getenv("IL_GNUPLOT");
    x.gnuplot = env ? env : "gnuplot";
    x.term = *x.gnuplot ? png_terminal(x.gnuplot) : NULL;
    if (!x.term) {
        fprintf(stderr, "il-aggregate: gnuplot with a PNG terminal not found (%s): figures skipped:", x.gnuplot);
        for (int i = 0; i < FIG_N; i++) fprintf(stderr, " %s", fig_name[i]);
        fprintf(stderr, "; the tables are complete\n");
        *skipped = FIG_N;
        return 0;
    }
    scripts_dir(x.scripts, sizeof x.scripts);
    gp_string(x.q_scripts, sizeof x.q_scripts, x.scripts);
    snprintf(x.dir, sizeof x.dir, "%s/figures", out_dir);
    CALL(atomicfile_mkdirs(x.dir));
    snprintf(x.data, sizeof x.data, "%s/.plot.%ld.dat", x.dir, (long)getpid());
    snprintf(x.log_path, sizeof x.log_path, "%s/" FIGURES_LOG, x.dir);
    if (!(x.log = fopen(x.log_path, "a"))) return err_set("%s: write failed: %s", x.log_path, strerror(errno));
    sweep_figures(&x, summary_path, rows, n, fit);
    struct stat st; /* kept only when gnuplot said something */
    if (fstat(fileno(x.log), &st) == 0 && st.st_size == 0) unlink(x.log_path);
    if (fclose(x.log)) write_failed(&x, x.log_path, strerror(errno));
    *skipped = x.skipped;
    return x.failed ? -1 : 0;
}
