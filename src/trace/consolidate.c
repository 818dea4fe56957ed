#include "trace/consolidate.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netcdf.h>

#include "core/err.h"
#include "core/runlog.h"
#include "trace/acdd.h"

/* A netCDF call on the file at path: on failure, err_set() naming both and return -1. */
#define TRY(call, path)                                                                                            \
    do {                                                                                                           \
        int rc_ = (call);                                                                                          \
        if (rc_ != NC_NOERR) return err_set("%s: %s", (path), nc_strerror(rc_));                                   \
    } while (0)

enum { DEFLATE_LEVEL = 4 };

typedef struct {
    int rank, seg, ncid;
    int64_t start_step, n_rec, keep, last_step;
    char path[4608]; /* the trace directory (< 4200) and a name */
} seg_t;

static int cmp_seg(const void *a, const void *b)
{
    const seg_t *x = a, *y = b;
    return x->rank != y->rank ? (x->rank > y->rank) - (x->rank < y->rank) : (x->seg > y->seg) - (x->seg < y->seg);
}

/* The segments in tdir, sorted by rank and segment; exactly the names twrite gives them. */
static int list_segments(const char *tdir, seg_t **out)
{
    DIR *d = opendir(tdir);
    *out = NULL;
    if (!d) return 0;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        int r, s;
        char again[64];
        if (sscanf(e->d_name, "rank%d.seg%d.nc", &r, &s) != 2 || r < 0 || s < 0) continue;
        snprintf(again, sizeof again, "rank%04d.seg%04d.nc", r, s);
        if (strcmp(again, e->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            *out = realloc(*out, (size_t)cap * sizeof **out);
            CHECK(*out, "out of memory");
        }
        seg_t *g = &(*out)[n++];
        memset(g, 0, sizeof *g);
        g->rank = r, g->seg = s, g->ncid = -1;
        snprintf(g->path, sizeof g->path, "%s/%s", tdir, e->d_name);
    }
    closedir(d);
    if (n) qsort(*out, (size_t)n, sizeof **out, cmp_seg);
    return n;
}

/* Opens g and reads its start step, record count and last step. */
static int open_seg(seg_t *g)
{
    int dim, var;
    size_t n;
    long long start, last = -1;
    TRY(nc_open(g->path, NC_NOWRITE, &g->ncid), g->path);
    TRY(nc_get_att_longlong(g->ncid, NC_GLOBAL, "start_step", &start), g->path);
    TRY(nc_inq_dimid(g->ncid, "step", &dim), g->path);
    TRY(nc_inq_dimlen(g->ncid, dim, &n), g->path);
    TRY(nc_inq_varid(g->ncid, "step", &var), g->path);
    if (n) {
        size_t at = n - 1;
        TRY(nc_get_var1_longlong(g->ncid, var, &at, &last), g->path);
    }
    g->start_step = start, g->n_rec = (int64_t)n, g->last_step = last;
    return 0;
}

/* Records of g kept: those before the start step of every later launch (segments are numbered per launch,
 * the same on every rank). They are a prefix, since steps increase within a segment. */
static int keep_prefix(seg_t *g, const seg_t *all, int n)
{
    int64_t cut = INT64_MAX;
    for (int j = 0; j < n; j++)
        if (all[j].seg > g->seg && all[j].start_step < cut) cut = all[j].start_step;
    int var;
    TRY(nc_inq_varid(g->ncid, "step", &var), g->path);
    g->keep = 0;
    for (size_t k = 0; k < (size_t)g->n_rec; k++) {
        long long s;
        TRY(nc_get_var1_longlong(g->ncid, var, &k, &s), g->path);
        if (s >= cut) break;
        g->keep++;
    }
    return 0;
}

static int copy_atts(int in, int out, int vin, int vout, const char *path)
{
    int natts;
    TRY(nc_inq_varnatts(in, vin, &natts), path);
    for (int a = 0; a < natts; a++) {
        char name[NC_MAX_NAME + 1];
        TRY(nc_inq_attname(in, vin, a, name), path);
        TRY(nc_copy_att(in, vin, name, out, vout), path);
    }
    return 0;
}

/* The definitions of template t (the rank's last segment) with total records, one chunk per variable. */
static int define(int out, const seg_t *t, int64_t total, int *unlim, const char *opath)
{
    int in = t->ncid, ndims, nvars;
    TRY(nc_inq(in, &ndims, &nvars, NULL, unlim), t->path);
    for (int d = 0; d < ndims; d++) {
        char name[NC_MAX_NAME + 1];
        size_t len;
        int id;
        TRY(nc_inq_dim(in, d, name, &len), t->path);
        TRY(nc_def_dim(out, name, d == *unlim ? NC_UNLIMITED : len, &id), opath);
    }
    if (copy_atts(in, out, NC_GLOBAL, NC_GLOBAL, t->path)) return -1;
    for (int v = 0; v < nvars; v++) {
        char name[NC_MAX_NAME + 1];
        nc_type type;
        int nd, dims[NC_MAX_VAR_DIMS], id;
        TRY(nc_inq_var(in, v, name, &type, &nd, dims, NULL), t->path);
        TRY(nc_def_var(out, name, type, nd, dims, &id), opath);
        if (nd && dims[0] == *unlim) {
            /* read whole: one chunk of every record, compressed (the records are never appended to again) */
            size_t chunk[NC_MAX_VAR_DIMS] = {(size_t)total};
            for (int k = 1; k < nd; k++) TRY(nc_inq_dimlen(in, dims[k], &chunk[k]), t->path);
            TRY(nc_def_var_chunking(out, id, NC_CHUNKED, chunk), opath);
            TRY(nc_def_var_deflate(out, id, 1, 1, DEFLATE_LEVEL), opath);
        } else if (type != NC_STRING) {
            TRY(nc_def_var_chunking(out, id, NC_CONTIGUOUS, NULL), opath);
        }
        if (copy_atts(in, out, v, id, t->path)) return -1;
    }
    return 0;
}

/* Variable v of `in` (records [0, n) when it is a record variable) into `out` at record offset at. */
static int copy_data(int in, int out, int v, int unlim, size_t at, size_t n, const char *path, const char *opath)
{
    nc_type type;
    int nd, dims[NC_MAX_VAR_DIMS];
    size_t size, start[NC_MAX_VAR_DIMS] = {0}, count[NC_MAX_VAR_DIMS], total = 1;
    TRY(nc_inq_var(in, v, NULL, &type, &nd, dims, NULL), path);
    TRY(nc_inq_type(in, type, NULL, &size), path);
    int record = nd && dims[0] == unlim;
    for (int k = 0; k < nd; k++) {
        if (k == 0 && record) count[k] = n;
        else TRY(nc_inq_dimlen(in, dims[k], &count[k]), path);
        total *= count[k];
    }
    if (!total) return 0;
    void *buf = err_calloc(total, size);
    int rc = nc_get_vara(in, v, start, count, buf);
    if (rc == NC_NOERR) {
        size_t ostart[NC_MAX_VAR_DIMS] = {record ? at : 0};
        rc = nc_put_vara(out, v, ostart, count, buf);
    }
    if (type == NC_STRING) nc_free_string(total, buf);
    free(buf);
    if (rc != NC_NOERR) return err_set("%s: copying variable %d: %s", opath, v, nc_strerror(rc));
    return 0;
}

static int put_att_text(int ncid, const char *name, const char *text, const char *path)
{
    TRY(nc_put_att_text(ncid, NC_GLOBAL, name, strlen(text), text), path);
    return 0;
}

/* The launches the file came from, and the coverage of its records. */
static int provenance(int out, const seg_t *g, int n, const char *opath)
{
    char text[8192] = "", job[64];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t jl = 0;
        job[0] = '\0';
        if (nc_inq_attlen(g[i].ncid, NC_GLOBAL, "slurm_job_id", &jl) == NC_NOERR && jl < sizeof job &&
            nc_get_att_text(g[i].ncid, NC_GLOBAL, "slurm_job_id", job) == NC_NOERR)
            job[jl] = '\0';
        if (len < sizeof text - 200)
            len += (size_t)snprintf(text + len, sizeof text - len, "%ssegment %d: start step %lld, %lld of %lld records kept, "
                                    "slurm_job_id '%s'", i ? "; " : "", g[i].seg, (long long)g[i].start_step,
                                    (long long)g[i].keep, (long long)g[i].n_rec, job);
    }
    int one = -1, rank = 0, world = 0;
    long long zero = 0;
    char name[256] = "", title[512];
    size_t nl = 0;
    nc_get_att_int(g[n - 1].ncid, NC_GLOBAL, "rank", &rank);
    nc_get_att_int(g[n - 1].ncid, NC_GLOBAL, "world_size", &world);
    if (nc_inq_attlen(g[n - 1].ncid, NC_GLOBAL, "run_name", &nl) == NC_NOERR && nl < sizeof name)
        nc_get_att_text(g[n - 1].ncid, NC_GLOBAL, "run_name", name);
    snprintf(title, sizeof title, "innerloop training trace of run %s, rank %d of %d, consolidated", name, rank, world);
    if (put_att_text(out, "title", title, opath)) return -1;
    TRY(nc_put_att_int(out, NC_GLOBAL, "segment", NC_INT, 1, &one), opath);
    TRY(nc_put_att_longlong(out, NC_GLOBAL, "start_step", NC_INT64, 1, &zero), opath);
    if (put_att_text(out, "consolidated_from", text, opath)) return -1;
    /* the coverage starts with the first launch; it ends with the last record, written by the last one */
    size_t sl;
    if (nc_inq_attlen(g[0].ncid, NC_GLOBAL, "time_coverage_start", &sl) == NC_NOERR)
        TRY(nc_copy_att(g[0].ncid, NC_GLOBAL, "time_coverage_start", out, NC_GLOBAL), opath);
    int tv;
    double end;
    const seg_t *last = NULL;
    for (int i = 0; i < n; i++)
        if (g[i].keep) last = &g[i];
    size_t at = last ? (size_t)last->keep - 1 : 0;
    if (last && nc_inq_varid(last->ncid, "time", &tv) == NC_NOERR && nc_get_var1_double(last->ncid, tv, &at, &end) == NC_NOERR) {
        char iso[32];
        acdd_iso(end, iso, sizeof iso);
        if (put_att_text(out, "time_coverage_end", iso, opath)) return -1;
    }
    char hist[512];
    snprintf(hist, sizeof hist, "consolidated from %d segment%s by innerloop %s", n, n == 1 ? "" : "s", runlog_git_commit());
    return put_att_text(out, "consolidation", hist, opath);
}

/* Checks the written file holds `total` records ending at `last`. */
static int verify(const char *path, int64_t total, int64_t last)
{
    int ncid, dim, var;
    size_t n;
    long long got = -1;
    TRY(nc_open(path, NC_NOWRITE, &ncid), path);
    TRY(nc_inq_dimid(ncid, "step", &dim), path);
    TRY(nc_inq_dimlen(ncid, dim, &n), path);
    TRY(nc_inq_varid(ncid, "step", &var), path);
    if (n) {
        size_t at = n - 1;
        TRY(nc_get_var1_longlong(ncid, var, &at, &got), path);
    }
    TRY(nc_close(ncid), path);
    if ((int64_t)n != total || got != last)
        return err_set("%s: reads back %zu records ending at step %lld, wrote %lld ending at %lld", path, n, got,
                       (long long)total, (long long)last);
    return 0;
}

/* Writes rankRRRR.nc from the rank's n open segments g. */
static int consolidate_rank(const char *tdir, seg_t *g, int n, const seg_t *all, int n_all)
{
    int64_t total = 0, last = -1;
    for (int i = 0; i < n; i++) {
        if (keep_prefix(&g[i], all, n_all)) return -1;
        total += g[i].keep;
    }
    for (int i = 0; i < n; i++)
        if (g[i].keep) last = g[i].keep == g[i].n_rec ? g[i].last_step : -1;
    char path[4300], tmp[4400];
    snprintf(path, sizeof path, "%s/rank%04d.nc", tdir, g[0].rank);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int out, unlim;
    TRY(nc_create(tmp, NC_NETCDF4 | NC_CLOBBER, &out), tmp);
    int rc = define(out, &g[n - 1], total, &unlim, tmp) || provenance(out, g, n, tmp);
    if (!rc) rc = nc_enddef(out) == NC_NOERR ? 0 : err_set("%s: cannot end the definitions", tmp);
    const seg_t *t = &g[n - 1];
    int nvars = 0;
    if (!rc && nc_inq_nvars(t->ncid, &nvars) != NC_NOERR) rc = err_set("%s: cannot list its variables", t->path);
    for (int v = 0; v < nvars && !rc; v++) {
        int nd, dims[NC_MAX_VAR_DIMS];
        if (nc_inq_var(t->ncid, v, NULL, NULL, &nd, dims, NULL) != NC_NOERR) {
            rc = err_set("%s: cannot read variable %d", t->path, v);
            break;
        }
        if (!nd || dims[0] != unlim) { /* fixed: the same in every segment */
            rc = copy_data(t->ncid, out, v, unlim, 0, 0, t->path, tmp);
            continue;
        }
        size_t at = 0;
        for (int i = 0; i < n && !rc; i++) {
            rc = copy_data(g[i].ncid, out, v, unlim, at, (size_t)g[i].keep, g[i].path, tmp);
            at += (size_t)g[i].keep;
        }
    }
    int closed = nc_close(out);
    if (!rc && closed != NC_NOERR) rc = err_set("%s: %s", tmp, nc_strerror(closed));
    if (!rc && last < 0) rc = err_set("%s: the last record of rank %d's last segment was superseded", tmp, g[0].rank);
    if (!rc) rc = verify(tmp, total, last);
    if (!rc && rename(tmp, path)) rc = err_set("%s: cannot rename into place: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    return rc ? -1 : 0;
}

int consolidate_run(const char *run_dir, const char **why)
{
    char tdir[4200];
    snprintf(tdir, sizeof tdir, "%s/trace", run_dir);
    seg_t *g;
    int n = list_segments(tdir, &g), done = -1;
    const char *reason = NULL;
    for (int i = 0; i < n && done == -1; i++)
        if (open_seg(&g[i])) done = -2;
    if (!n) reason = "no trace segments";
    int ranks = 0, world = 0, finished = 1;
    for (int i = 0; i < n && done == -1; i++) {
        if (i && g[i].rank == g[i - 1].rank) continue;
        int j = i;
        while (j + 1 < n && g[j + 1].rank == g[i].rank) j++;
        long long max_steps = -1;
        int var, w = 0;
        if (nc_inq_varid(g[j].ncid, "max_steps", &var) == NC_NOERR) nc_get_var_longlong(g[j].ncid, var, &max_steps);
        nc_get_att_int(g[j].ncid, NC_GLOBAL, "world_size", &w);
        finished &= g[j].last_step == max_steps && max_steps >= 0;
        world = w, ranks++;
    }
    if (done == -1 && n && !finished) reason = "not finished: a rank's last trace step is short of max_steps";
    if (done == -1 && n && finished && ranks != world) reason = "not every rank of the last launch has a segment";
    if (done == -1 && !reason) {
        done = 0;
        for (int i = 0; i < n; i++) {
            if (i && g[i].rank == g[i - 1].rank) continue;
            int j = i;
            while (j + 1 < n && g[j + 1].rank == g[i].rank) j++;
            if (consolidate_rank(tdir, &g[i], j - i + 1, g, n)) {
                /* all ranks or none: a reader must not find some ranks consolidated beside others' segments */
                for (int k = 0; k < i; k++) {
                    char path[4300];
                    snprintf(path, sizeof path, "%s/rank%04d.nc", tdir, g[k].rank);
                    if (!k || g[k].rank != g[k - 1].rank) unlink(path);
                }
                done = -2;
                break;
            }
            done++;
        }
    }
    for (int i = 0; i < n; i++)
        if (g[i].ncid >= 0) nc_close(g[i].ncid);
    /* the segments go only once every rank's file is in place */
    for (int i = 0; i < n && done > 0; i++) unlink(g[i].path);
    free(g);
    if (why) *why = reason;
    if (done == -2) return -1;
    return done < 0 ? 0 : done;
}
