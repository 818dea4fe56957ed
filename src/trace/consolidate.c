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
#include "trace/segrule.h"

enum { DEFLATE_LEVEL = 4 };

typedef struct {
    int rank, seg, ncid, world;
    int64_t start_step, n_rec, keep, last_step; /* start_step: the attribute, for the provenance alone */
    int64_t *step, *group;                       /* (n_rec) its records' steps; (n_group) its probe groups */
    size_t n_group;
    char path[4608]; /* the trace directory (< 4200) and a name */
} seg_t;

/* One record kept for the consolidated file. */
typedef struct {
    int64_t step;
    int seg; /* index among the rank's segments */
    size_t rec;
} kept_t;

static int cmp_int(int x, int y) { return (x > y) - (x < y); }

/* By rank, then world size (the segments of one consolidated file together), then segment. */
static int cmp_seg(const void *a, const void *b)
{
    const seg_t *x = a, *y = b;
    return x->rank != y->rank ? cmp_int(x->rank, y->rank)
                              : x->world != y->world ? cmp_int(x->world, y->world) : cmp_int(x->seg, y->seg);
}

/* The segments in tdir, unsorted (their world sizes are not read yet); exactly the names tracewrite gives them. */
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
    return n;
}

/* Reads a whole int64 variable of g into a new array (one element when empty). */
static int read_int64s(seg_t *g, const char *name, size_t n, int64_t **out)
{
    int var;
    *out = err_calloc(n ? n : 1, sizeof **out);
    CALL_RC(nc_inq_varid(g->ncid, name, &var), nc_strerror, "%s", g->path);
    if (n) CALL_RC(nc_get_var_longlong(g->ncid, var, (long long *)*out), nc_strerror, "%s", g->path);
    return 0;
}

/* Opens g and reads its start step, its steps and its probe groups. */
static int open_seg(seg_t *g)
{
    int dim;
    size_t n;
    long long start;
    CALL_RC(nc_open(g->path, NC_NOWRITE, &g->ncid), nc_strerror, "%s", g->path);
    CALL_RC(nc_get_att_longlong(g->ncid, NC_GLOBAL, "start_step", &start), nc_strerror, "%s", g->path);
    CALL_RC(nc_get_att_int(g->ncid, NC_GLOBAL, "world_size", &g->world), nc_strerror, "%s", g->path);
    CALL_RC(nc_inq_dimid(g->ncid, "step", &dim), nc_strerror, "%s", g->path);
    CALL_RC(nc_inq_dimlen(g->ncid, dim, &n), nc_strerror, "%s", g->path);
    g->start_step = start, g->n_rec = (int64_t)n;
    CALL(read_int64s(g, "step", n, &g->step));
    g->last_step = n ? g->step[n - 1] : -1;
    CALL_RC(nc_inq_dimid(g->ncid, "group", &dim), nc_strerror, "%s", g->path);
    CALL_RC(nc_inq_dimlen(g->ncid, dim, &g->n_group), nc_strerror, "%s", g->path);
    return read_int64s(g, "group", g->n_group, &g->group);
}

static segrule_seg_t rule_of(const seg_t *g)
{
    return (segrule_seg_t){g->seg, g->step, (size_t)g->n_rec, g->group, g->n_group};
}

static int cmp_kept(const void *a, const void *b)
{
    const kept_t *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

/* The records of the rank's n segments g that the segment rule keeps (segrule.h; rules: every segment of the
 * run), by step: each step once, since a step in two of them is superseded in the earlier one. Sets keep. */
static kept_t *kept_records(seg_t *g, int n, const segrule_seg_t *rules, int n_all, int64_t *total)
{
    int64_t most = 0;
    for (int i = 0; i < n; i++) most += g[i].n_rec;
    kept_t *k = err_calloc(most ? (size_t)most : 1, sizeof *k);
    *total = 0;
    for (int i = 0; i < n; i++) {
        segrule_seg_t self = rule_of(&g[i]);
        g[i].keep = 0;
        for (size_t r = 0; r < (size_t)g[i].n_rec; r++) {
            if (segrule_superseded(&self, g[i].step[r], rules, n_all)) continue;
            k[(*total)++] = (kept_t){g[i].step[r], i, r};
            g[i].keep++;
        }
    }
    qsort(k, (size_t)*total, sizeof *k, cmp_kept);
    return k;
}

static int copy_atts(int in, int out, int vin, int vout, const char *path)
{
    int natts;
    CALL_RC(nc_inq_varnatts(in, vin, &natts), nc_strerror, "%s", path);
    for (int a = 0; a < natts; a++) {
        char name[NC_MAX_NAME + 1];
        CALL_RC(nc_inq_attname(in, vin, a, name), nc_strerror, "%s", path);
        CALL_RC(nc_copy_att(in, vin, name, out, vout), nc_strerror, "%s", path);
    }
    return 0;
}

/* The definitions of template t (the rank's last segment) with total records, one chunk per variable. */
static int define(int out, const seg_t *t, int64_t total, int *unlim, const char *opath)
{
    int in = t->ncid, ndims, nvars;
    CALL_RC(nc_inq(in, &ndims, &nvars, NULL, unlim), nc_strerror, "%s", t->path);
    for (int d = 0; d < ndims; d++) {
        char name[NC_MAX_NAME + 1];
        size_t len;
        int id;
        CALL_RC(nc_inq_dim(in, d, name, &len), nc_strerror, "%s", t->path);
        CALL_RC(nc_def_dim(out, name, d == *unlim ? NC_UNLIMITED : len, &id), nc_strerror, "%s", opath);
    }
    CALL(copy_atts(in, out, NC_GLOBAL, NC_GLOBAL, t->path));
    for (int v = 0; v < nvars; v++) {
        char name[NC_MAX_NAME + 1];
        nc_type type;
        int nd, dims[NC_MAX_VAR_DIMS], id;
        CALL_RC(nc_inq_var(in, v, name, &type, &nd, dims, NULL), nc_strerror, "%s", t->path);
        CALL_RC(nc_def_var(out, name, type, nd, dims, &id), nc_strerror, "%s", opath);
        if (nd && dims[0] == *unlim) {
            /* read whole: one chunk of every record, compressed (the records are never appended to again) */
            size_t chunk[NC_MAX_VAR_DIMS] = {(size_t)total};
            for (int k = 1; k < nd; k++) CALL_RC(nc_inq_dimlen(in, dims[k], &chunk[k]), nc_strerror, "%s", t->path);
            CALL_RC(nc_def_var_chunking(out, id, NC_CHUNKED, chunk), nc_strerror, "%s", opath);
            CALL_RC(nc_def_var_deflate(out, id, 1, 1, DEFLATE_LEVEL), nc_strerror, "%s", opath);
        } else if (type != NC_STRING) {
            CALL_RC(nc_def_var_chunking(out, id, NC_CONTIGUOUS, NULL), nc_strerror, "%s", opath);
        }
        CALL(copy_atts(in, out, v, id, t->path));
    }
    return 0;
}

/* Variable v of `in` (records [from, from + n) when it is a record variable) into variable vout of `out` at
 * record offset at. */
static int copy_data(int in, int out, int v, int vout, size_t from, size_t at, size_t n, const char *path,
                     const char *opath)
{
    nc_type type;
    int nd, dims[NC_MAX_VAR_DIMS], unlim;
    size_t size, start[NC_MAX_VAR_DIMS] = {0}, count[NC_MAX_VAR_DIMS], total = 1;
    CALL_RC(nc_inq_unlimdim(in, &unlim), nc_strerror, "%s", path);
    CALL_RC(nc_inq_var(in, v, NULL, &type, &nd, dims, NULL), nc_strerror, "%s", path);
    CALL_RC(nc_inq_type(in, type, NULL, &size), nc_strerror, "%s", path);
    int record = nd && dims[0] == unlim;
    start[0] = record ? from : 0;
    for (int k = 0; k < nd; k++) {
        if (k == 0 && record) count[k] = n;
        else CALL_RC(nc_inq_dimlen(in, dims[k], &count[k]), nc_strerror, "%s", path);
        total *= count[k];
    }
    if (!total) return 0;
    void *buf = err_calloc(total, size);
    int rc = nc_get_vara(in, v, start, count, buf);
    if (rc == NC_NOERR) {
        size_t ostart[NC_MAX_VAR_DIMS] = {record ? at : 0};
        rc = nc_put_vara(out, vout, ostart, count, buf);
    }
    if (type == NC_STRING) nc_free_string(total, buf);
    free(buf);
    if (rc != NC_NOERR) return err_set("%s: copying variable %d: %s", opath, v, nc_strerror(rc));
    return 0;
}

static int put_att_text(int ncid, const char *name, const char *text, const char *path)
{
    CALL_RC(nc_put_att_text(ncid, NC_GLOBAL, name, strlen(text), text), nc_strerror, "%s", path);
    return 0;
}

/* The launches the file came from, and the coverage of its records, the last of which is record last_rec of
 * segment last. */
static int provenance(int out, const seg_t *g, int n, const seg_t *last, size_t last_rec, const char *opath)
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
    CALL(put_att_text(out, "title", title, opath));
    CALL_RC(nc_put_att_int(out, NC_GLOBAL, "segment", NC_INT, 1, &one), nc_strerror, "%s", opath);
    CALL_RC(nc_put_att_longlong(out, NC_GLOBAL, "start_step", NC_INT64, 1, &zero), nc_strerror, "%s", opath);
    CALL(put_att_text(out, "consolidated_from", text, opath));
    /* the coverage starts with the first launch; it ends with the last record, written by the last one */
    size_t sl;
    if (nc_inq_attlen(g[0].ncid, NC_GLOBAL, "time_coverage_start", &sl) == NC_NOERR)
        CALL_RC(nc_copy_att(g[0].ncid, NC_GLOBAL, "time_coverage_start", out, NC_GLOBAL), nc_strerror, "%s", opath);
    int tv;
    double end;
    if (last && nc_inq_varid(last->ncid, "time", &tv) == NC_NOERR && nc_get_var1_double(last->ncid, tv, &last_rec, &end) == NC_NOERR) {
        char iso[32];
        acdd_iso(end, iso, sizeof iso);
        CALL(put_att_text(out, "time_coverage_end", iso, opath));
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
    CALL_RC(nc_open(path, NC_NOWRITE, &ncid), nc_strerror, "%s", path);
    CALL_RC(nc_inq_dimid(ncid, "step", &dim), nc_strerror, "%s", path);
    CALL_RC(nc_inq_dimlen(ncid, dim, &n), nc_strerror, "%s", path);
    CALL_RC(nc_inq_varid(ncid, "step", &var), nc_strerror, "%s", path);
    if (n) {
        size_t at = n - 1;
        CALL_RC(nc_get_var1_longlong(ncid, var, &at, &got), nc_strerror, "%s", path);
    }
    CALL_RC(nc_close(ncid), nc_strerror, "%s", path);
    if ((int64_t)n != total || got != last)
        return err_set("%s: reads back %zu records ending at step %lld, wrote %lld ending at %lld", path, n, got,
                       (long long)total, (long long)last);
    return 0;
}

/* The consolidated file of rank's records from launches of `world` ranks: rankRRRR.nc for the world size of
 * the run's last launch (last_world), rankRRRR.ofPPPP.nc for another. */
static void consolidated_path(char *path, size_t size, const char *tdir, int rank, int world, int last_world)
{
    if (world == last_world) snprintf(path, size, "%s/rank%04d.nc", tdir, rank);
    else snprintf(path, size, "%s/rank%04d.of%04d.nc", tdir, rank, world);
}

/* Writes the consolidated file of one rank and world size from its n open segments g (rules: every segment
 * of the run); the template of its definitions is the last segment that keeps records. Returns 1, 0 when
 * none does (no file), or -1. */
static int consolidate_rank(const char *tdir, seg_t *g, int n, const segrule_seg_t *rules, int n_all, int last_world)
{
    int64_t total;
    kept_t *k = kept_records(g, n, rules, n_all, &total);
    if (!total) {
        free(k);
        return 0;
    }
    const seg_t *t = &g[k[total - 1].seg];
    char path[4300], tmp[4400];
    consolidated_path(path, sizeof path, tdir, g[0].rank, g[0].world, last_world);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int out, unlim, rc = nc_create(tmp, NC_NETCDF4 | NC_CLOBBER, &out);
    if (rc != NC_NOERR) {
        free(k);
        return err_set("%s: %s", tmp, nc_strerror(rc));
    }
    err_test_kill("consolidating");
    rc = define(out, t, total, &unlim, tmp) || provenance(out, g, n, t, k[total - 1].rec, tmp);
    if (!rc) rc = nc_enddef(out) == NC_NOERR ? 0 : err_set("%s: cannot end the definitions", tmp);
    int nvars = 0;
    if (!rc && nc_inq_nvars(t->ncid, &nvars) != NC_NOERR) rc = err_set("%s: cannot list its variables", t->path);
    for (int v = 0; v < nvars && !rc; v++) {
        int nd, dims[NC_MAX_VAR_DIMS];
        char name[NC_MAX_NAME + 1];
        if (nc_inq_var(t->ncid, v, name, NULL, &nd, dims, NULL) != NC_NOERR) {
            rc = err_set("%s: cannot read variable %d", t->path, v);
            break;
        }
        if (!nd || dims[0] != unlim) { /* fixed: the same in every segment */
            rc = copy_data(t->ncid, out, v, v, 0, 0, 0, t->path, tmp);
            continue;
        }
        /* the kept records in runs of consecutive records of one segment, found by name: a segment of an
         * older trace schema (a run resumed by a newer build) numbers its variables otherwise */
        for (int64_t a = 0, b; a < total && !rc; a = b) {
            for (b = a + 1; b < total && k[b].seg == k[a].seg && k[b].rec == k[b - 1].rec + 1;) b++;
            const seg_t *src = &g[k[a].seg];
            int sv;
            if (nc_inq_varid(src->ncid, name, &sv) != NC_NOERR)
                rc = err_set("%s: no variable '%s', which %s has", src->path, name, t->path);
            else
                rc = copy_data(src->ncid, out, sv, v, k[a].rec, (size_t)a, (size_t)(b - a), src->path, tmp);
        }
    }
    int closed = nc_close(out);
    if (!rc && closed != NC_NOERR) rc = err_set("%s: %s", tmp, nc_strerror(closed));
    if (!rc) rc = verify(tmp, total, k[total - 1].step);
    if (!rc && rename(tmp, path)) rc = err_set("%s: cannot rename into place: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    free(k);
    return rc ? -1 : 1;
}

/* Why the run in the n open segments g cannot be consolidated, NULL when it can: finished means that every
 * rank of the last launch that traced (the highest segment with records) has reached max_steps; ranks of
 * earlier launches hold only records the rule keeps. Sets *last_world, the last launch's world size. */
static const char *not_ready(const seg_t *g, int n, int *last_world)
{
    int last = -1, ranks = 0, world = 0, finished = 1;
    for (int i = 0; i < n; i++)
        if (g[i].n_rec && g[i].seg > last) last = g[i].seg;
    if (last < 0) return "no trace records";
    for (int i = 0; i < n; i++) {
        if (g[i].seg != last) continue;
        long long max_steps = -1;
        int var;
        if (nc_inq_varid(g[i].ncid, "max_steps", &var) == NC_NOERR) nc_get_var_longlong(g[i].ncid, var, &max_steps);
        finished &= g[i].last_step == max_steps && max_steps >= 0;
        world = g[i].world, ranks++;
    }
    if (!finished) return "not finished: a rank's last trace step is short of max_steps";
    if (ranks != world) return "not every rank of the last launch has a segment";
    *last_world = world;
    return NULL;
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
    if (n) qsort(g, (size_t)n, sizeof *g, cmp_seg);
    char first[4300];
    snprintf(first, sizeof first, "%s/rank0000.nc", tdir);
    int last_world = 0;
    if (!n) reason = access(first, F_OK) ? "no trace segments" : "consolidated already";
    else if (done == -1) reason = not_ready(g, n, &last_world);
    if (done == -1 && !reason) {
        segrule_seg_t *rules = err_calloc((size_t)n, sizeof *rules);
        for (int i = 0; i < n; i++) rules[i] = rule_of(&g[i]);
        done = 0;
        /* one file per rank and world size, since a rank's probe share depends on the world size: the rule
         * keeps each step of a rank in one launch, so no two files hold a record of the same group and step */
        for (int i = 0, wrote = 0; i < n; i++) {
            int j = i;
            while (j + 1 < n && g[j + 1].rank == g[i].rank && g[j + 1].world == g[i].world) j++;
            int one = consolidate_rank(tdir, &g[i], j - i + 1, rules, n, last_world);
            if (one < 0) {
                /* all files or none: a reader must not find some consolidated beside others' segments */
                for (int k = 0; k < i; k++) {
                    char path[4300];
                    consolidated_path(path, sizeof path, tdir, g[k].rank, g[k].world, last_world);
                    if (!k || g[k].rank != g[k - 1].rank || g[k].world != g[k - 1].world) unlink(path);
                }
                done = -2;
                break;
            }
            wrote |= one;
            if (j + 1 == n || g[j + 1].rank != g[i].rank) done += wrote, wrote = 0; /* ranks, not files */
            i = j;
        }
        free(rules);
    }
    for (int i = 0; i < n; i++)
        if (g[i].ncid >= 0) nc_close(g[i].ncid);
    /* the segments go only once every rank's file is in place */
    for (int i = 0; i < n && done > 0; i++) unlink(g[i].path);
    for (int i = 0; i < n; i++) free(g[i].step), free(g[i].group);
    free(g);
    if (why) *why = reason;
    if (done == -2) return -1;
    return done < 0 ? 0 : done;
}
