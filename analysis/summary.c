#include "analysis/summary.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netcdf.h>

#include "analysis/message.h"
#include "analysis/sumreuse.h"
#include "core/atomicfile.h"
#include "core/err.h"
#include "core/stats.h"
#include "trace/acdd.h"
#include "innerloop/schema.h"

enum { SD_RUN, SD_STEP, SD_DEPTH, SD_LAYER, SD_POS, SD_N };
static const char *const dim_name[SD_N] = {"run", "step", "depth", "layer", "position"};
static const char *const dim_long_name[SD_N] = {
    NULL, "optimizer updates applied to the traced weights (0: the initialisation)",
    "residual-stream depth l: h^l enters block l, h^L leaves the last", "block index l", "token position t in the sequence"};

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
enum { V_NAME = SUM_MAX_CURVES, V_RUN, V_DIR, V_NSTEP, V_NDEPTH, V_NPOS, V_KEY, V_PARAM0 };
_Static_assert((int)V_PARAM0 + (int)TP_N <= (int)SUM_MAX_VARS, "raise SUM_MAX_VARS");

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void summary_plan_add(summary_plan_t *p, const config_t *c)
{
    if (c->trace_interval <= 0) return; /* untraced: nothing of it reaches summary.nc */
    int64_t n = 0;
    for (int64_t s = 0; s <= c->max_steps; s++) n += tracer_due(s, c->max_steps, c->trace_interval, c->trace_log_spaced);
    int64_t *all = err_calloc((size_t)(p->n_steps + n), sizeof *all);
    if (p->n_steps) memcpy(all, p->steps, (size_t)p->n_steps * sizeof *all);
    int64_t m = p->n_steps;
    for (int64_t s = 0; s <= c->max_steps; s++)
        if (tracer_due(s, c->max_steps, c->trace_interval, c->trace_log_spaced)) all[m++] = s;
    qsort(all, (size_t)m, sizeof *all, cmp_i64);
    int u = 0;
    for (int64_t i = 0; i < m; i++)
        if (!u || all[i] != all[u - 1]) all[u++] = all[i];
    free(p->steps);
    p->steps = all, p->n_steps = u;
    if (c->n_layer + 1 > p->D) p->D = c->n_layer + 1, p->L = c->n_layer;
    if (c->seq_len > p->T) p->T = c->seq_len;
}

void summary_plan_free(summary_plan_t *p)
{
    free(p->steps);
    memset(p, 0, sizeof *p);
}

static void put_text(int ncid, int varid, const char *name, const char *v)
{
    CHECK_RC(nc_put_att_text(ncid, varid, name, strlen(v), v), nc_strerror);
}

/* Extent of summary dimension d in the plan. */
static size_t plan_len(const summary_plan_t *p, int d)
{
    return d == SD_STEP ? (size_t)p->n_steps : d == SD_DEPTH ? (size_t)p->D : d == SD_LAYER ? (size_t)p->L : (size_t)p->T;
}

/* A variable along run (and more). Curves are compressed, one run per chunk; values that every run has carry
 * no _FillValue, so that xarray keeps integers integers. */
static int def(summary_t *s, const char *name, nc_type type, int ndims, const int *dims, const char *units,
               const char *long_name, int may_be_missing)
{
    int ids[4], varid;
    size_t chunk[4];
    for (int i = 0; i < ndims; i++) ids[i] = s->dim[dims[i]], chunk[i] = dims[i] == SD_RUN ? 1 : plan_len(&s->plan, dims[i]);
    CHECK_RC(nc_def_var(s->ncid, name, type, ndims, ids, &varid), nc_strerror);
    if (ndims > 1) {
        CHECK_RC(nc_def_var_chunking(s->ncid, varid, NC_CHUNKED, chunk), nc_strerror);
        /* level 1: zlib's fastest matching. summary.nc is compressed anew by every aggregation, also one that
         * takes every run from its cache, where compressing the curves is most of the time; the higher
         * levels' lazy matching costs that again for a few percent smaller shuffled doubles */
        CHECK_RC(nc_def_var_deflate(s->ncid, varid, 1, 1, 1), nc_strerror);
    }
    if (type == NC_FLOAT && may_be_missing) {
        float nan = NAN;
        CHECK_RC(nc_def_var_fill(s->ncid, varid, 0, &nan), nc_strerror);
    } else if (type == NC_DOUBLE && may_be_missing) {
        double nan = NAN;
        CHECK_RC(nc_def_var_fill(s->ncid, varid, 0, &nan), nc_strerror);
    }
    if (units) put_text(s->ncid, varid, "units", units);
    put_text(s->ncid, varid, "long_name", long_name);
    return varid;
}

/* The writing process: a NetCDF call that failed writing the file. Names the file and the system's reason (a
 * full disk), else the library's. Returns -1. */
static int write_failed(const summary_t *s, int rc)
{
    const char *why = atomicfile_why(s->tmp, errno);
    return err_set("%s: write failed: %s", s->path, why ? why : nc_strerror(rc));
}

/* The writing process: creates the file, its dimensions, variables and coordinates. Returns 0, or -1 with
 * err_set(). */
static int create(summary_t *s, const char *id, const char *command)
{
    errno = 0;
    int rc = nc_create(s->tmp, NC_NETCDF4 | NC_CLOBBER, &s->ncid);
    if (rc != NC_NOERR) return write_failed(s, rc);
    for (int d = 0; d < SD_N; d++)
        CHECK_RC(nc_def_dim(s->ncid, dim_name[d], d == SD_RUN ? NC_UNLIMITED : plan_len(&s->plan, d), &s->dim[d]),
                 nc_strerror);
    acdd_put(s->ncid, &(acdd_t){.id = id, .command = command,
                                .title = "innerloop sweep summary: merged training traces of every run",
                                .summary = "Per-run curves of GPT-style causal language models trained by innerloop, "
                                           "merged over MPI ranks, probe groups and restart segments by il-aggregate: "
                                           "losses, representation norms (S1), logit-lens losses (S5), inner descent "
                                           "cosines (S3, S3b), implied inner steps (S4), attention sink (S8), effective "
                                           "rank (S9), input-gradient norms (S7) and the per-token frequency statistic. "
                                           "The step axis is the union of the runs' trace schedules; a run holds NaN "
                                           "at steps it does not trace and at depths and positions beyond its own "
                                           "model. See docs/aggregate.md."});
    /* the auxiliary coordinates along run: its name, its sweep parameters, and the record times */
    char coords[2048] = SUMMARY_RUN_NAME;
    for (int p = 0; p < TP_N; p++) snprintf(coords + strlen(coords), sizeof coords - strlen(coords), " %s", trace_params[p].name);
    build_curves();
    for (int i = 0; i < n_curves; i++) {
        const svar_t *v = &curves[i];
        s->varid[i] = def(s, v->name, v->type, v->ndims, v->dims, trace_vars[v->tv].units, v->long_name, 1);
        if (v->tv == TV_TIME) {
            put_text(s->ncid, s->varid[i], "standard_name", "time");
            put_text(s->ncid, s->varid[i], "calendar", "standard");
        }
        char c[2100];
        snprintf(c, sizeof c, "%s%s", coords, v->tv == TV_TIME ? "" : " time");
        put_text(s->ncid, s->varid[i], "coordinates", c);
    }
    static const int run_dim[] = {SD_RUN};
    s->varid[V_NAME] = def(s, SUMMARY_RUN_NAME, NC_STRING, 1, run_dim, NULL, "run name (run.name)", 0);
    put_text(s->ncid, s->varid[V_NAME], "cf_role", "timeseries_id");
    /* the coordinate variable of `run` (named as its dimension), which xarray makes the index: ds.sel(run=NAME) */
    s->varid[V_RUN] = def(s, dim_name[SD_RUN], NC_STRING, 1, run_dim, NULL, "run name (run.name)", 0);
    s->varid[V_DIR] = def(s, SUMMARY_RUN_DIR, NC_STRING, 1, run_dim, NULL, "run directory as found", 0);
    s->varid[V_NSTEP] = def(s, SUMMARY_N_STEP, NC_INT, 1, run_dim, "1", "trace records of the run", 0);
    s->varid[V_NDEPTH] = def(s, SUMMARY_N_DEPTH, NC_INT, 1, run_dim, "1", "depths of the run (L+1)", 0);
    s->varid[V_NPOS] = def(s, SUMMARY_N_POSITION, NC_INT, 1, run_dim, "1", "positions of the run (T)", 0);
    s->varid[V_KEY] = def(s, SUMMARY_RUN_KEY, NC_UINT64, 1, run_dim, "1",
                          "FNV-1a 64 of the run's run cache key (its inputs' fingerprints); 0: none", 0);
    for (int p = 0; p < TP_N; p++)
        s->varid[V_PARAM0 + p] = def(s, trace_params[p].name, trace_params[p].type, 1, run_dim, "1",
                                     trace_params[p].long_name, 0);
    CHECK_RC(trace_tokenizer_flags(s->ncid, s->varid[V_PARAM0 + TP_TOKENIZER]), nc_strerror);
    static const int format = SUMREUSE_FORMAT;
    CHECK_RC(nc_put_att_int(s->ncid, NC_GLOBAL, SUMREUSE_FORMAT_ATT, NC_INT, 1, &format), nc_strerror);
    for (int d = SD_STEP; d < SD_N; d++) {
        int varid;
        CHECK_RC(nc_def_var(s->ncid, dim_name[d], NC_INT64, 1, &s->dim[d], &varid), nc_strerror);
        put_text(s->ncid, varid, "units", "1");
        put_text(s->ncid, varid, "long_name", dim_long_name[d]);
    }
    errno = 0;
    if ((rc = nc_enddef(s->ncid)) != NC_NOERR) return write_failed(s, rc);
    int n = s->plan.n_steps > s->plan.D ? s->plan.n_steps : s->plan.D;
    n = n > s->plan.T ? n : s->plan.T;
    long long *idx = err_calloc((size_t)(n ? n : 1), sizeof *idx);
    for (int d = SD_STEP; d < SD_N; d++) {
        int varid;
        size_t start = 0, count = plan_len(&s->plan, d);
        for (size_t i = 0; i < count; i++) idx[i] = d == SD_STEP ? (long long)s->plan.steps[i] : (long long)i;
        CHECK_RC(nc_inq_varid(s->ncid, dim_name[d], &varid), nc_strerror);
        errno = 0;
        if (count && (rc = nc_put_vara_longlong(s->ncid, varid, &start, &count, idx)) != NC_NOERR) break;
    }
    free(idx);
    if (rc != NC_NOERR) return write_failed(s, rc);
    s->reuse = sumreuse_open(s->old, s->ncid, s->varid, n_curves);
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

/* The writing process: appends one run, which summary_add has checked against the plan. Returns 0, or -1 with
 * err_set(). */
static int append(summary_t *s, const char *name, const char *run_dir, const summary_run_t *c)
{
    const summary_plan_t *p = &s->plan;
    int ncid = s->ncid, L = c->L, T = c->T, n = c->n_rec, rc = NC_NOERR;
    int *at = err_calloc((size_t)(n ? n : 1), sizeof *at);
    for (int i = 0; i < n; i++)
        at[i] = (int)((const int64_t *)bsearch(&c->step[i], p->steps, (size_t)p->n_steps, sizeof *p->steps, cmp_i64) - p->steps);
    size_t r = s->n_runs++, one[1] = {r};
    /* only a run from its cache: a run read afresh may differ from its last reading in ways its key misses */
    int copied = c->cached && sumreuse_take(s->reuse, c->key, r);
    s->n_copied += copied;
    errno = 0;
    for (int i = 0; i < n_curves && rc == NC_NOERR; i++) {
        const svar_t *v = &curves[i];
        if (v->tv == TV_TIME)
            for (int j = 0; j < n; j++)
                if (isfinite(c->v[i][j])) s->t_first = fmin(s->t_first, c->v[i][j]), s->t_last = fmax(s->t_last, c->v[i][j]);
        if (copied || !p->n_steps) continue;
        size_t per = 1, start[4] = {r, 0, 0, 0}, count[4] = {1, (size_t)p->n_steps, 0, 0};
        for (int d = 2; d < v->ndims; d++) count[d] = extent(v->dims[d], L, T), per *= count[d];
        double *buf = err_calloc((size_t)p->n_steps * per + 1, sizeof *buf);
        for (size_t k = 0; k < (size_t)p->n_steps * per; k++) buf[k] = NAN;
        for (int j = 0; j < n; j++) memcpy(buf + (size_t)at[j] * per, c->v[i] + (size_t)j * per, per * sizeof *buf);
        rc = nc_put_vara_double(ncid, s->varid[i], start, count, buf);
        free(buf);
    }
    free(at);
    if (rc == NC_NOERR) rc = nc_put_var1_string(ncid, s->varid[V_NAME], one, &name);
    if (rc == NC_NOERR) rc = nc_put_var1_string(ncid, s->varid[V_RUN], one, &name);
    if (rc == NC_NOERR) rc = nc_put_var1_string(ncid, s->varid[V_DIR], one, &run_dir);
    int lens[3] = {n, L + 1, T};
    for (int i = 0; i < 3 && rc == NC_NOERR; i++) rc = nc_put_var1_int(ncid, s->varid[V_NSTEP + i], one, &lens[i]);
    const unsigned long long key = c->key;
    if (rc == NC_NOERR) rc = nc_put_var1_ulonglong(ncid, s->varid[V_KEY], one, &key);
    for (int q = 0; q < TP_N && rc == NC_NOERR; q++)
        rc = trace_params[q].type == NC_DOUBLE
                 ? nc_put_var1_double(ncid, s->varid[V_PARAM0 + q], one, &c->param[q].d)
                 : nc_put_var1_longlong(ncid, s->varid[V_PARAM0 + q], one, (const long long *)&c->param[q].i);
    return rc == NC_NOERR ? 0 : write_failed(s, rc);
}

/* n bytes through the socket to the other process; -1 when it is gone. */
static int send_all(int fd, const void *b, size_t n)
{
    for (const char *c = b; n;) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w, n -= (size_t)w;
    }
    return 0;
}

/* n bytes from the other process; returns how many came before it closed its end. */
static size_t recv_all(int fd, void *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)b + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

/* The writing process ends without the library's exit handlers, which would flush a file that failed again. */
static _Noreturn void writer_exit(int code) { _exit(code); }

/* Ends the stream of runs. Without it, rank 0 died: the writing process ends too, without finishing a file
 * that the next aggregation removes, and without holding the output directory's lock (which it inherited)
 * longer than its writer lived. */
static const uint64_t end_of_runs = UINT64_MAX;

/* The writing process: the whole file, from the runs rank 0 sends until it says that they have ended. */
static int write_file(summary_t *s, const char *id, const char *command)
{
    if (create(s, id, command)) return -1;
    for (;;) {
        uint64_t len;
        if (recv_all(s->sock, &len, sizeof len) != sizeof len) writer_exit(IL_EXIT_FAIL);
        if (len == end_of_runs) break;
        unsigned char *b = err_calloc(len ? len : 1, 1);
        if (recv_all(s->sock, b, len) != len) writer_exit(IL_EXIT_FAIL);
        char *name, *dir;
        summary_run_t r;
        message_unpack_sum(&name, &dir, &r, b, len);
        int rc = append(s, name, dir, &r);
        free(b), free(name), free(dir);
        summary_run_free(&r);
        if (rc) return -1;
    }
    errno = 0;
    int rc = nc_redef(s->ncid);
    if (rc != NC_NOERR) return write_failed(s, rc);
    acdd_time_coverage(s->ncid, isfinite(s->t_first) ? s->t_first : NAN, isfinite(s->t_last) ? s->t_last : NAN);
    errno = 0;
    rc = nc_close(s->ncid);
    if (rc != NC_NOERR) return write_failed(s, rc);
    /* the copied chunks go in once netCDF has written and closed the rest */
    struct sumreuse *reuse = s->reuse;
    s->reuse = NULL;
    return sumreuse_finish(reuse, s->tmp, s->n_runs);
}

/* The result the writing process sends back: 0, or -1 and the reason. */
typedef struct {
    int32_t rc;
    int64_t n_copied;
    char reason[1024];
} result_t;

static _Noreturn void writer(summary_t *s, const char *id, const char *command)
{
    err_set_abort_hook(writer_exit);
    result_t res = {0};
    res.rc = write_file(s, id, command);
    res.n_copied = s->n_copied;
    if (res.rc) snprintf(res.reason, sizeof res.reason, "%s", err_msg());
    writer_exit(send_all(s->sock, &res, sizeof res) ? IL_EXIT_FAIL : IL_EXIT_OK);
}

int summary_open(summary_t *s, const char *dir, const char *old_dir, const char *id, const char *command,
                 summary_plan_t *plan)
{
    memset(s, 0, sizeof *s);
    s->plan = *plan;
    memset(plan, 0, sizeof *plan);
    s->t_first = INFINITY, s->t_last = -INFINITY;
    s->sock = -1;
    snprintf(s->path, sizeof s->path, "%s/summary.nc", dir);
    snprintf(s->tmp, sizeof s->tmp, "%s.tmp.%ld", s->path, (long)getpid());
    snprintf(s->old, sizeof s->old, "%s/summary.nc", old_dir);
    build_curves();
    int fd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) != 0)
        return err_set("%s: cannot start its writing process: %s", s->path, strerror(errno));
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0) {
        close(fd[0]), close(fd[1]);
        return err_set("%s: cannot start its writing process: %s", s->path, strerror(errno));
    }
    s->sock = fd[s->pid == 0];
    close(fd[s->pid != 0]);
    if (s->pid == 0) writer(s, id, command);
    return 0;
}

int summary_add(summary_t *s, const char *name, const char *run_dir, const summary_run_t *c)
{
    const summary_plan_t *p = &s->plan;
    if (c->L + 1 > p->D || c->T > p->T)
        return err_set("its depth %d or context %d exceeds the %d and %d planned from the runs' config.ini files",
                       c->L + 1, c->T, p->D, p->T);
    for (int i = 0; i < c->n_rec; i++)
        if (!bsearch(&c->step[i], p->steps, (size_t)p->n_steps, sizeof *p->steps, cmp_i64))
            return err_set("its trace step %lld is not in the schedule of any run's config.ini", (long long)c->step[i]);
    s->n_runs++;
    message_t w = {0};
    message_pack_sum(&w, name, run_dir, c);
    uint64_t len = w.n;
    /* a writing process that is gone has sent its reason, which summary_close reports */
    if (!send_all(s->sock, &len, sizeof len)) send_all(s->sock, w.b, w.n);
    message_free(&w);
    return 0;
}

int summary_close(summary_t *s)
{
    send_all(s->sock, &end_of_runs, sizeof end_of_runs);
    shutdown(s->sock, SHUT_WR);
    result_t res;
    size_t got = recv_all(s->sock, &res, sizeof res);
    int status;
    while (waitpid(s->pid, &status, 0) < 0) CHECK(errno == EINTR, "waitpid: %s", strerror(errno));
    s->pid = 0;
    int rc = 0;
    if (got != sizeof res)
        rc = err_set("%s: not written: its writing process %s", s->path,
                     WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "ended without a result");
    else if (res.rc)
        rc = err_set("%.*s", (int)sizeof res.reason - 1, res.reason);
    else if (rename(s->tmp, s->path) != 0)
        rc = err_set("%s: cannot rename into place: %s", s->path, strerror(errno));
    else
        s->n_copied = (long)res.n_copied;
    close(s->sock);
    s->sock = -1;
    if (rc) unlink(s->tmp);
    summary_plan_free(&s->plan);
    return rc;
}
