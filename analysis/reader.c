/* reader: the public reader of innerloop/reader.h. A trace file is read and checked whole by traceread, the
 * aggregator's own reader, so that a program of a user's accepts exactly the files il-aggregate accepts;
 * its variables are then read one at a time through the netCDF library. */
#include "innerloop/reader.h"

#include <stdlib.h>
#include <string.h>

#include <netcdf.h>

#include "analysis/summary.h"
#include "analysis/traceread.h"
#include "core/err.h"

struct il_file {
    il_kind_t kind;
    int ncid;
    char path[4096];
    config_t config; /* a trace's */
};

/* Whether ncid is a summary.nc: its record dimension `run` and the run names along it. */
static int is_summary(int ncid)
{
    int id;
    return nc_inq_dimid(ncid, "run", &id) == NC_NOERR && nc_inq_varid(ncid, SUMMARY_RUN_NAME, &id) == NC_NOERR;
}

int il_open(const char *path, il_file_t **out)
{
    il_file_t *f = err_calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    traceread_t t;
    int rc = traceread_file(&t, path);
    if (rc == 0) {
        f->kind = IL_FILE_TRACE;
        f->config = t.config;
        traceread_free(&t);
    }
    char why[1024];
    snprintf(why, sizeof why, "%s", err_msg()); /* err_set() reuses err_msg()'s buffer */
    int nc = nc_open(path, NC_NOWRITE, &f->ncid);
    if (nc != NC_NOERR) {
        free(f);
        return err_set("%s: %s", path, rc ? why : nc_strerror(nc));
    }
    if (rc && is_summary(f->ncid)) {
        f->kind = IL_FILE_SUMMARY;
        rc = 0;
    }
    if (rc) {
        nc_close(f->ncid); /* read-only: nothing to flush */
        free(f);
        return err_set("%s: neither summary.nc nor a trace file (%s)", path, why);
    }
    *out = f;
    return 0;
}

il_kind_t il_kind(const il_file_t *f) { return f->kind; }

int il_var(il_file_t *f, const char *name, il_dims_t *dims, double **data)
{
    int id, dimids[NC_MAX_VAR_DIMS];
    nc_type type;
    memset(dims, 0, sizeof *dims);
    CALL_RC(nc_inq_varid(f->ncid, name, &id), nc_strerror, "%s: %s", f->path, name);
    CALL_RC(nc_inq_var(f->ncid, id, NULL, &type, &dims->ndims, dimids, NULL), nc_strerror, "%s: %s", f->path, name);
    if (type == NC_CHAR || type == NC_STRING) return err_set("%s: %s is text, not numbers", f->path, name);
    if (dims->ndims > IL_MAX_DIMS)
        return err_set("%s: %s has %d dimensions, more than %d", f->path, name, dims->ndims, IL_MAX_DIMS);
    dims->n = 1;
    for (int i = 0; i < dims->ndims; i++) {
        CALL_RC(nc_inq_dim(f->ncid, dimids[i], dims->name[i], &dims->len[i]), nc_strerror, "%s: %s", f->path,
                name);
        dims->n *= dims->len[i];
    }
    double *v = malloc((dims->n ? dims->n : 1) * sizeof *v);
    if (!v) return err_set("%s: %s: out of memory for %zu values", f->path, name, dims->n);
    int rc = nc_get_var_double(f->ncid, id, v);
    if (rc != NC_NOERR) {
        free(v);
        err_set("%s", nc_strerror(rc));
        return err_prefix("%s: %s", f->path, name);
    }
    *data = v;
    return 0;
}

int il_config(const il_file_t *f, const char *key, char *buf, size_t n)
{
    if (f->kind != IL_FILE_TRACE) return err_set("%s: summary.nc holds many runs' configs, not one", f->path);
    if (config_get(&f->config, key, buf, n)) return err_set("%s: no config key %s", f->path, key);
    return 0;
}

void il_close(il_file_t *f)
{
    if (!f) return;
    nc_close(f->ncid); /* read-only: nothing to flush, and the caller can do nothing about a failure */
    free(f);
}

const char *il_errmsg(void) { return err_msg(); }
