#include "analysis/summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netcdf.h>

#include "core/err.h"
#include "core/runlog.h"
#include "core/stats.h"

enum { SD_RUN, SD_STEP, SD_DEPTH, SD_LAYER, SD_POS, SD_N };
static const char *const dim_name[SD_N] = {"run", "step", "depth", "layer", "position"};
/* Chunk lengths: one run per chunk, and for the other dimensions sizes that typical runs fill. */
static const size_t chunk_len[SD_N] = {1, 64, 1, 4, 64};

/* A summary variable: the run value of a schema variable, or the spread of the norm over probe groups. */
enum { SRC_CURVE, SRC_SPREAD };

typedef struct {
    char name[64], long_name[256];
    int tv, src;
    nc_type type;
    int ndims, dims[4];
} svar_t;

static svar_t curves[SUM_MAX_CURVES];
static int n_curves;

/* The summary dimension of trace dimension d. */
static int sum_dim(int d) { return d == TD_DEPTH ? SD_DEPTH : d == TD_LAYER ? SD_LAYER : SD_POS; }

static void add_curve(int tv, int src)
{
    const trace_var_t *r = &trace_vars[tv];
    svar_t *v = &curves[n_curves++];
    const int *td = trace_shape_dims[r->shape];
    snprintf(v->name, sizeof v->name, "%s%s", r->name, src == SRC_SPREAD ? "_spread" : "");
    snprintf(v->long_name, sizeof v->long_name, "%s%s%s", src == SRC_SPREAD ? "max - min over probe groups of: " : "",
             r->long_name, r->weight == W_GROUP && src == SRC_CURVE ? "; the run's value, over all its groups" : "");
    v->tv = tv, v->src = src;
    v->type = r->shape == SH_STEP ? NC_DOUBLE : NC_FLOAT;
    v->dims[0] = SD_RUN, v->dims[1] = SD_STEP, v->ndims = 2;
    /* the run value has no group dimension; the spread has no position either */
    for (int j = 0; j < 3; j++)
        if (td[j] != TD_NONE && td[j] != TD_GROUP && !(src == SRC_SPREAD && td[j] == TD_POS))
            v->dims[v->ndims++] = sum_dim(td[j]);
}

/* The summary's variables from the schema's summary column, built once. */
static void build_curves(void)
{
    if (n_curves) return;
    for (int k = 0; k < TV_N; k++) {
        if (trace_vars[k].summary == SUM_NONE) continue;
        add_curve(k, SRC_CURVE);
        if (k == TV_NORM) add_curve(k, SRC_SPREAD);
    }
    CHECK(n_curves <= SUM_MAX_CURVES, "summary: raise SUM_MAX_CURVES");
}

int summary_n_curves(void)
{
    build_curves();
    return n_curves;
}

/* varid[] layout: the curves, then these, then the sweep parameters */
enum { V_NAME = SUM_MAX_CURVES, V_DIR, V_TRAIN_STEP, V_NSTEP, V_NDEPTH, V_NPOS, V_PARAM0 };
_Static_assert((int)V_PARAM0 + (int)TP_N <= (int)SUM_MAX_VARS, "raise SUM_MAX_VARS");

static void put_text(int ncid, int varid, const char *name, const char *v)
{
    CHECK_RC(nc_put_att_text(ncid, varid, name, strlen(v), v), nc_strerror);
}

static int def(summary_t *s, const char *name, nc_type type, int ndims, const int *dims, const char *units,
               const char *long_name)
{
    int ids[4], varid;
    size_t chunk[4];
    for (int i = 0; i < ndims; i++) ids[i] = s->dim[dims[i]], chunk[i] = chunk_len[dims[i]];
    CHECK_RC(nc_def_var(s->ncid, name, type, ndims, ids, &varid), nc_strerror);
    CHECK_RC(nc_def_var_chunking(s->ncid, varid, NC_CHUNKED, chunk), nc_strerror);
    /* every chunk is written once, whole or as far as the run reaches: a small cache is enough */
    CHECK_RC(nc_set_var_chunk_cache(s->ncid, varid, 1 << 18, 101, 1.0f), nc_strerror);
    if (type == NC_FLOAT) {
        float nan = NAN;
        CHECK_RC(nc_def_var_fill(s->ncid, varid, 0, &nan), nc_strerror);
    } else if (type == NC_DOUBLE) {
        double nan = NAN;
        CHECK_RC(nc_def_var_fill(s->ncid, varid, 0, &nan), nc_strerror);
    } else if (type == NC_INT || type == NC_INT64) {
        long long minus1 = -1;
        int m1 = -1;
        CHECK_RC(nc_def_var_fill(s->ncid, varid, 0, type == NC_INT ? (void *)&m1 : (void *)&minus1), nc_strerror);
    }
    if (units) put_text(s->ncid, varid, "units", units);
    put_text(s->ncid, varid, "long_name", long_name);
    return varid;
}

static void globals(int ncid, const char *command)
{
    char now[32], buf[8192];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    put_text(ncid, NC_GLOBAL, "Conventions", "CF-1.10, ACDD-1.3");
    put_text(ncid, NC_GLOBAL, "title", "innerloop sweep summary: merged training traces of every run");
    put_text(ncid, NC_GLOBAL, "summary",
             "Per-run curves of GPT-style causal language models trained by innerloop, merged over MPI ranks and "
             "restart segments by il-aggregate: losses, representation norms (S1), logit-lens losses (S5), inner "
             "descent cosines (S3, S3b), implied inner steps (S4), attention sink (S8), effective rank (S9) and "
             "input-gradient norms (S7). Runs are padded with NaN to the largest step count, depth and context "
             "length; n_step, n_depth and n_position hold each run's own. See docs/aggregate.md.");
    put_text(ncid, NC_GLOBAL, "keywords", "transformer, language model, meta-learning, training dynamics");
    snprintf(buf, sizeof buf, "%s: created by innerloop %s: %s", now, runlog_git_commit(), command);
    put_text(ncid, NC_GLOBAL, "history", buf);
    put_text(ncid, NC_GLOBAL, "date_created", now);
    snprintf(buf, sizeof buf, "innerloop %s", runlog_git_commit());
    put_text(ncid, NC_GLOBAL, "source", buf);
    put_text(ncid, NC_GLOBAL, "product_version", "1");
}

int summary_open(summary_t *s, const char *dir, const char *command)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s/summary.nc", dir);
    snprintf(s->tmp, sizeof s->tmp, "%s.tmp.%ld", s->path, (long)getpid());
    int rc = nc_create(s->tmp, NC_NETCDF4 | NC_CLOBBER, &s->ncid);
    if (rc != NC_NOERR) return err_set("%s: cannot create: %s", s->tmp, nc_strerror(rc));
    for (int d = 0; d < SD_N; d++) CHECK_RC(nc_def_dim(s->ncid, dim_name[d], NC_UNLIMITED, &s->dim[d]), nc_strerror);
    globals(s->ncid, command);
    build_curves();
    for (int i = 0; i < n_curves; i++)
        s->varid[i] = def(s, curves[i].name, curves[i].type, curves[i].ndims, curves[i].dims,
                          trace_vars[curves[i].tv].units, curves[i].long_name);
    static const int run_dim[] = {SD_RUN}, run_step[] = {SD_RUN, SD_STEP};
    s->varid[V_NAME] = def(s, SUMMARY_RUN_NAME, NC_STRING, 1, run_dim, NULL, "run name (run.name)");
    s->varid[V_DIR] = def(s, SUMMARY_RUN_DIR, NC_STRING, 1, run_dim, NULL, "run directory as found");
    s->varid[V_TRAIN_STEP] = def(s, SUMMARY_TRAIN_STEP, NC_INT64, 2, run_step, "1", "optimizer updates applied to the traced weights (the trace step)");
    s->varid[V_NSTEP] = def(s, SUMMARY_N_STEP, NC_INT, 1, run_dim, "1", "trace records of the run");
    s->varid[V_NDEPTH] = def(s, SUMMARY_N_DEPTH, NC_INT, 1, run_dim, "1", "depths of the run (L+1)");
    s->varid[V_NPOS] = def(s, SUMMARY_N_POSITION, NC_INT, 1, run_dim, "1", "positions of the run (T)");
    for (int p = 0; p < TP_N; p++)
        s->varid[V_PARAM0 + p] = def(s, trace_params[p].name, trace_params[p].type, 1, run_dim, "1",
                                     trace_params[p].long_name);
    int coords[] = {SD_DEPTH, SD_LAYER, SD_POS};
    for (int i = 0; i < 3; i++) {
        int varid;
        CHECK_RC(nc_def_var(s->ncid, dim_name[coords[i]], NC_INT64, 1, &s->dim[coords[i]], &varid), nc_strerror);
        put_text(s->ncid, varid, "units", "1");
    }
    CHECK_RC(nc_enddef(s->ncid), nc_strerror);
    return 0;
}

/* Extent of dimension d after (run, step) in a run of L blocks and T positions. */
static size_t extent(int d, int L, int T) { return d == SD_DEPTH ? (size_t)L + 1 : d == SD_LAYER ? (size_t)L : (size_t)T; }

void summary_run_make(summary_run_t *r, const curves_t *c)
{
    int L = c->L, T = c->T, n = c->n_rec;
    memset(r, 0, sizeof *r);
    r->n_rec = n, r->L = L, r->T = T;
    r->step = err_calloc((size_t)n, sizeof *r->step);
    memcpy(r->step, c->step, (size_t)n * sizeof *r->step);
    memcpy(r->param, c->param, sizeof r->param);
    build_curves();
    for (int i = 0; i < n_curves; i++) {
        const svar_t *v = &curves[i];
        size_t len = (size_t)n;
        for (int d = 2; d < v->ndims; d++) len *= extent(v->dims[d], L, T);
        r->len[i] = len;
        r->v[i] = err_calloc(len, sizeof *r->v[i]);
        memcpy(r->v[i], v->src == SRC_SPREAD ? c->norm_spread : curves_run(c, v->tv), len * sizeof *r->v[i]);
    }
}

void summary_run_free(summary_run_t *r)
{
    free(r->step);
    for (int i = 0; i < SUM_MAX_CURVES; i++) free(r->v[i]);
    memset(r, 0, sizeof *r);
}

void summary_add(summary_t *s, const char *name, const char *run_dir, const summary_run_t *c)
{
    int ncid = s->ncid, L = c->L, T = c->T, n = c->n_rec;
    size_t r = s->n_runs++, one[1] = {r};
    for (int i = 0; i < n_curves; i++) {
        const svar_t *v = &curves[i];
        size_t start[4] = {r, 0, 0, 0}, count[4] = {1, (size_t)n, 0, 0};
        for (int d = 2; d < v->ndims; d++) count[d] = extent(v->dims[d], L, T);
        if (n) CHECK_RC(nc_put_vara_double(ncid, s->varid[i], start, count, c->v[i]), nc_strerror);
    }
    CHECK_RC(nc_put_var1_string(ncid, s->varid[V_NAME], one, &name), nc_strerror);
    CHECK_RC(nc_put_var1_string(ncid, s->varid[V_DIR], one, &run_dir), nc_strerror);
    size_t start[2] = {r, 0}, count[2] = {1, (size_t)n};
    if (n) CHECK_RC(nc_put_vara_longlong(ncid, s->varid[V_TRAIN_STEP], start, count, (const long long *)c->step), nc_strerror);
    int lens[3] = {n, L + 1, T};
    for (int i = 0; i < 3; i++) CHECK_RC(nc_put_var1_int(ncid, s->varid[V_NSTEP + i], one, &lens[i]), nc_strerror);
    for (int p = 0; p < TP_N; p++) {
        if (trace_params[p].type == NC_DOUBLE) CHECK_RC(nc_put_var1_double(ncid, s->varid[V_PARAM0 + p], one, &c->param[p].d), nc_strerror);
        else CHECK_RC(nc_put_var1_longlong(ncid, s->varid[V_PARAM0 + p], one, (const long long *)&c->param[p].i), nc_strerror);
    }
    s->max_D = L + 1 > s->max_D ? L + 1 : s->max_D;
    s->max_L = L > s->max_L ? L : s->max_L;
    s->max_T = T > s->max_T ? T : s->max_T;
}

int summary_close(summary_t *s)
{
    int n = s->max_D > s->max_T ? s->max_D : s->max_T;
    long long *idx = err_calloc((size_t)(n ? n : 1), sizeof *idx);
    for (int i = 0; i < n; i++) idx[i] = i;
    const char *names[] = {"depth", "layer", "position"};
    int lens[] = {s->max_D, s->max_L, s->max_T};
    for (int i = 0; i < 3; i++) {
        int varid;
        size_t start = 0, count = (size_t)lens[i];
        CHECK_RC(nc_inq_varid(s->ncid, names[i], &varid), nc_strerror);
        if (count) CHECK_RC(nc_put_vara_longlong(s->ncid, varid, &start, &count, idx), nc_strerror);
    }
    free(idx);
    int rc = nc_close(s->ncid);
    if (rc != NC_NOERR) {
        unlink(s->tmp);
        return err_set("%s: write failed: %s", s->tmp, nc_strerror(rc));
    }
    if (rename(s->tmp, s->path) != 0) {
        unlink(s->tmp);
        return err_set("%s: cannot rename into place", s->path);
    }
    return 0;
}
