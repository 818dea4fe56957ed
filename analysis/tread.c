#include "analysis/tread.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <netcdf.h>

#include "core/err.h"

size_t tread_len(const tread_t *f, int k)
{
    return trace_shape_len(trace_vars[k].shape, f->L, f->T, f->n_bucket, f->n_sv);
}

static uint64_t le_uint(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Checks the file's signature and, for HDF5, that the file is as long as its superblock's end-of-file
 * address: a file cut short (a partial copy, a full disk) is then named as truncated rather than corrupt.
 * A file synced by trace_sync and then abandoned is not short: HDF5 extends the file to that address when
 * it flushes. */
static int check_signature(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return err_set(errno == ENOENT ? "missing" : "cannot stat: %s", strerror(errno));
    if (st.st_size == 0) return err_set("empty file");
    unsigned char b[64] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return err_set("cannot open: %s", strerror(errno));
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n >= 4 && !memcmp(b, "CDF", 3) && (b[3] == 1 || b[3] == 2 || b[3] == 5)) return 0; /* classic: checked later */
    if (n < 8 || memcmp(b, "\x89HDF\r\n\x1a\n", 8)) return err_set("not a NetCDF file");
    int version = b[8], off_size, at;
    if (version <= 1) off_size = b[13], at = (version == 0 ? 24 : 28) + 2 * off_size;
    else off_size = b[9], at = 12 + 2 * off_size;
    if (off_size < 2 || off_size > 8 || (size_t)(at + off_size) > n) return err_set("corrupt: bad HDF5 superblock");
    int base_at = version <= 1 ? at - 2 * off_size : 12;
    uint64_t eof = le_uint(b + at, off_size) + le_uint(b + base_at, off_size);
    if ((uint64_t)st.st_size < eof)
        return err_set("truncated: %lld of %llu bytes", (long long)st.st_size, (unsigned long long)eof);
    return 0;
}

static int get_int_att(int ncid, const char *name, long long *v)
{
    nc_type type;
    size_t len;
    if (nc_inq_att(ncid, NC_GLOBAL, name, &type, &len) != NC_NOERR || len != 1 || type == NC_CHAR || type == NC_STRING)
        return err_set("foreign: no integer global attribute '%s'", name);
    int rc = nc_get_att_longlong(ncid, NC_GLOBAL, name, v);
    return rc == NC_NOERR ? 0 : err_set("corrupt: attribute '%s': %s", name, nc_strerror(rc));
}

static int dim_len(int ncid, const char *name, size_t *len)
{
    int id;
    if (nc_inq_dimid(ncid, name, &id) != NC_NOERR) return err_set("foreign: no dimension '%s'", name);
    int rc = nc_inq_dimlen(ncid, id, len);
    return rc == NC_NOERR ? 0 : err_set("corrupt: dimension '%s': %s", name, nc_strerror(rc));
}

/* The variable's id, after checking that its dimensions are `step` (when step_first) followed by the
 * shape's dimensions; shape SH_STEP with step_first 0 is a scalar. */
static int var_with_dims(int ncid, const char *name, int step_first, trace_shape_t shape, int *varid)
{
    if (nc_inq_varid(ncid, name, varid) != NC_NOERR) return err_set("foreign: no variable '%s'", name);
    const char *want[3];
    int nwant = 0;
    if (step_first) want[nwant++] = trace_dims[TD_STEP].name;
    for (int i = 0; i < 2; i++)
        if (trace_shape_dims[shape][i] != TD_NONE) want[nwant++] = trace_dims[trace_shape_dims[shape][i]].name;
    int nd, ids[NC_MAX_VAR_DIMS];
    if (nc_inq_varndims(ncid, *varid, &nd) != NC_NOERR || nd != nwant || nc_inq_vardimid(ncid, *varid, ids) != NC_NOERR)
        return err_set("foreign: variable '%s' does not have %d dimension(s) as in schema %d", name, nwant,
                       TRACE_SCHEMA_VERSION);
    for (int i = 0; i < nd; i++) {
        char dn[NC_MAX_NAME + 1];
        if (nc_inq_dimname(ncid, ids[i], dn) != NC_NOERR || strcmp(dn, want[i]))
            return err_set("foreign: variable '%s' has dimension '%s' where schema %d has '%s'", name, dn,
                           TRACE_SCHEMA_VERSION, want[i]);
    }
    return 0;
}

static int read_i64(int ncid, const char *name, int step_first, trace_shape_t shape, int64_t **out, size_t n)
{
    int varid;
    if (var_with_dims(ncid, name, step_first, shape, &varid)) return -1;
    *out = err_calloc(n, sizeof **out);
    int rc = n ? nc_get_var_longlong(ncid, varid, (long long *)*out) : NC_NOERR;
    return rc == NC_NOERR ? 0 : err_set("corrupt: cannot read '%s': %s", name, nc_strerror(rc));
}

static int read_header(tread_t *f, int ncid)
{
    long long v;
    if (get_int_att(ncid, "trace_schema_version", &v)) return -1;
    if (v != TRACE_SCHEMA_VERSION) return err_set("trace schema version %lld; this aggregator reads %d", v, TRACE_SCHEMA_VERSION);
    if (get_int_att(ncid, "rank", &v)) return -1;
    f->rank = (int)v;
    if (get_int_att(ncid, "world_size", &v)) return -1;
    f->world_size = (int)v;
    if (get_int_att(ncid, "segment", &v)) return -1;
    f->segment = (int)v;
    if (get_int_att(ncid, "start_step", &v)) return -1;
    f->start_step = v;
    size_t len;
    if (nc_inq_attlen(ncid, NC_GLOBAL, "run_name", &len) == NC_NOERR && len < sizeof f->run_name &&
        nc_get_att_text(ncid, NC_GLOBAL, "run_name", f->run_name) == NC_NOERR)
        f->run_name[len] = '\0';
    size_t depth, pos, nb, nsv;
    if (dim_len(ncid, "step", &f->n_rec) || dim_len(ncid, "depth", &depth) || dim_len(ncid, "position", &pos) ||
        dim_len(ncid, "bucket", &nb) || dim_len(ncid, "sv", &nsv))
        return -1;
    if (depth < 1 || depth > 1 << 20 || pos > 1 << 24 || nb > 1 << 10 || nsv > 1 << 20)
        return err_set("foreign: dimensions depth %zu, position %zu, bucket %zu, sv %zu out of range", depth, pos, nb,
                       nsv);
    f->L = (int)depth - 1, f->T = (int)pos, f->n_bucket = (int)nb, f->n_sv = (int)nsv;
    for (int i = 0; i < TP_N; i++) {
        int varid, rc;
        if (var_with_dims(ncid, trace_params[i].name, 0, SH_STEP, &varid)) return -1;
        if (trace_params[i].type == NC_DOUBLE) {
            rc = nc_get_var_double(ncid, varid, &f->param[i].d);
        } else {
            long long x = 0;
            rc = nc_get_var_longlong(ncid, varid, &x);
            f->param[i].i = x, f->param[i].d = (double)x;
        }
        if (rc != NC_NOERR) return err_set("corrupt: cannot read '%s': %s", trace_params[i].name, nc_strerror(rc));
    }
    return 0;
}

static int read_records(tread_t *f, int ncid)
{
    size_t n = f->n_rec;
    if (read_i64(ncid, trace_dims[TD_BUCKET].name, 0, SH_BUCKET, &f->bucket, (size_t)f->n_bucket) ||
        read_i64(ncid, trace_vars[TV_STEP].name, 1, SH_STEP, &f->step, n) ||
        read_i64(ncid, trace_vars[TV_BATCH].name, 1, SH_STEP, &f->batch, n) ||
        read_i64(ncid, trace_vars[TV_BUCKET_TOKENS].name, 1, SH_BUCKET, &f->bucket_tokens, n * (size_t)f->n_bucket))
        return -1;
    for (int k = 0; k < TV_N; k++) {
        const trace_var_t *tv = &trace_vars[k];
        int varid;
        if (tv->weight == W_NONE) continue;
        if (var_with_dims(ncid, tv->name, 1, tv->shape, &varid)) return -1;
        size_t len = n * tread_len(f, k);
        f->v[k] = err_calloc(len, sizeof *f->v[k]);
        int rc = len ? nc_get_var_double(ncid, varid, f->v[k]) : NC_NOERR;
        if (rc != NC_NOERR) return err_set("corrupt: cannot read '%s': %s", tv->name, nc_strerror(rc));
    }
    return 0;
}

int tread_file(tread_t *f, const char *path)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    if (check_signature(path)) return -1;
    /* every chunk of a trace is read exactly once, so HDF5's chunk cache would only cost allocations */
    CHECK_RC(nc_set_chunk_cache(0, 0, 0.0f), nc_strerror);
    /* NC_DISKLESS reads the file into memory in one go at open (read-only: nothing is written back): each
     * record is a chunk of its own, and ~3,000 small reads per file cost more than reading it whole */
    int ncid, rc = nc_open(path, NC_NOWRITE | NC_DISKLESS, &ncid);
    if (rc != NC_NOERR) return err_set("corrupt: %s", nc_strerror(rc));
    rc = read_header(f, ncid) || read_records(f, ncid) ? -1 : 0;
    nc_close(ncid); /* read-only: nothing to flush, and a failure here changes nothing we read */
    if (rc) tread_free(f);
    return rc;
}

void tread_free(tread_t *f)
{
    free(f->bucket);
    free(f->step);
    free(f->batch);
    free(f->bucket_tokens);
    for (int k = 0; k < TV_N; k++) free(f->v[k]);
    f->bucket = f->step = f->batch = f->bucket_tokens = NULL;
    for (int k = 0; k < TV_N; k++) f->v[k] = NULL;
}
