/* F_SETPIPE_SZ */
#define _GNU_SOURCE
#include "analysis/traceread.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netcdf.h>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/err.h"
#include "model/gpt.h"
#include "trace/params.h"

size_t traceread_len(const traceread_t *f, int k) { return trace_shape_len(trace_vars[k].shape, &f->extent); }

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
static int check_signature(const char *path, off_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0) return err_set(errno == ENOENT ? "missing" : "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) return err_set("not a regular file");
    if (st.st_size == 0) return err_set("empty file");
    *size = st.st_size;
    unsigned char b[64] = {0};
    FILE *f = bytes_fopen_regular(path);
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
    const char *want[4];
    int nwant = 0;
    if (step_first) want[nwant++] = trace_dims[TD_STEP].name;
    for (int i = 0; i < 3; i++)
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

/* A fixed int64 variable over dimension dim (TD_NONE: a scalar) into out (n values). */
static int read_fixed(int ncid, const char *name, int dim, int64_t *out, size_t n)
{
    int varid, nd, id;
    char dn[NC_MAX_NAME + 1];
    if (nc_inq_varid(ncid, name, &varid) != NC_NOERR) return err_set("foreign: no variable '%s'", name);
    if (nc_inq_varndims(ncid, varid, &nd) != NC_NOERR || nd != (dim != TD_NONE) ||
        (nd && (nc_inq_vardimid(ncid, varid, &id) != NC_NOERR || nc_inq_dimname(ncid, id, dn) != NC_NOERR ||
                strcmp(dn, trace_dims[dim].name))))
        return err_set("foreign: variable '%s' is not over %s", name, dim == TD_NONE ? "no dimension" : trace_dims[dim].name);
    int rc = n ? nc_get_var_longlong(ncid, varid, (long long *)out) : NC_NOERR;
    return rc == NC_NOERR ? 0 : err_set("corrupt: cannot read '%s': %s", name, nc_strerror(rc));
}

/* Bounds of a trace any trainer can write (the config key table's ranges), checked before anything is
 * allocated from a number in the file. */
enum {
    MAX_RANKS = 1 << 16, MAX_SEGMENT = 1 << 20, MAX_DEPTH = 1025, MAX_POS = 65536, MAX_BUCKET = 65,
    MAX_SV = 65536, MAX_GROUPS = 4096, MAX_GENRES = 4096, MAX_WINDOWS = 65536,
    MIN_RECORD_BYTES = 16, /* a record of every variable takes at least this much file */
};
/* The reader allocates at most this many bytes per byte of file, or this floor: compressed data of a real
 * trace expands far less, and nothing read may be sized from a header alone. */
#define MAX_EXPANSION 1024.0
#define MIN_BUDGET (64.0 * 1048576)

static int attr_in(int ncid, const char *name, long long lo, long long hi, long long *v)
{
    if (get_int_att(ncid, name, v)) return -1;
    if (*v < lo || *v > hi) return err_set("foreign: attribute '%s' = %lld is outside [%lld, %lld]", name, *v, lo, hi);
    return 0;
}

static int dim_in(int ncid, const char *name, size_t lo, size_t hi, size_t *len)
{
    if (dim_len(ncid, name, len)) return -1;
    if (*len < lo || *len > hi) return err_set("foreign: dimension '%s' = %zu is outside [%zu, %zu]", name, *len, lo, hi);
    return 0;
}

/* Elements (of 8 bytes) of every array the reader allocates. */
static double elements(const traceread_t *f)
{
    double n = (double)f->n_rec + 4 * (double)f->extent.n[TD_GENRE];
    for (int k = 0; k < TF_N; k++)
        if (trace_fixed[k].dim != TD_NONE) n += (double)f->extent.n[trace_fixed[k].dim];
    for (int k = 0; k < TV_N; k++)
        if (trace_vars[k].weight != W_NONE) n += (double)f->n_rec * (double)traceread_len(f, k);
    return n;
}

/* The `config` attribute into f->config, which must be a valid config of the file's world size. */
static int read_config(traceread_t *f, int ncid)
{
    size_t len;
    nc_type type;
    if (nc_inq_att(ncid, NC_GLOBAL, "config", &type, &len) != NC_NOERR || type != NC_CHAR || !len)
        return err_set("foreign: no text global attribute 'config'");
    if (len > 1 << 20) return err_set("foreign: a config attribute of %zu bytes", len);
    char *text = err_calloc(len + 1, 1);
    int rc = nc_get_att_text(ncid, NC_GLOBAL, "config", text);
    if (rc != NC_NOERR) {
        free(text);
        return err_set("corrupt: attribute 'config': %s", nc_strerror(rc));
    }
    config_defaults(&f->config);
    config_mark_absent(&f->config); /* as a saved config.ini is read */
    rc = config_load_text(&f->config, text, len, "config attribute") || config_validate(&f->config, f->world_size);
    free(text);
    if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", err_msg());
        return err_set("foreign: its config attribute is not a valid config: %s", why);
    }
    if (strcmp(f->run_name, f->config.name))
        return err_set("foreign: run_name '%s' differs from its config attribute's run.name '%s'", f->run_name,
                       f->config.name);
    return 0;
}

/* Every parameter as the file's own config and the model's dimensions give it (tracer_params, the writer's
 * source): an lr of -1 or NaN, or a seed that is not the config's, is no trainer's. The vocabulary, when
 * the config takes it from the data, is the file's, and so is the tokenizer, which must be a kind. */
static int check_params(const traceread_t *f)
{
    const config_t *c = &f->config;
    int64_t V = c->vocab_size ? c->vocab_size : f->param[TP_VOCAB_SIZE].i, tok = f->param[TP_TOKENIZER].i;
    if (V < 2 || V > 65536)
        return err_set("foreign: parameter 'vocab_size' = %lld is outside [2, 65536]", (long long)V);
    if (!trace_tokenizer_name(tok))
        return err_set("foreign: parameter 'tokenizer' = %lld is no tokenizer kind (0 to %d)", (long long)tok,
                       TRACE_TOK_N - 1);
    gpt_dims_t d = gpt_dims_of(c);
    d.V = (int)V;
    trace_value_t want[TP_N];
    tracer_params(want, c, &d, f->world_size, (int)tok);
    for (int p = 0; p < TP_N; p++) {
        if (trace_params[p].type == NC_INT64 ? f->param[p].i == want[p].i : f->param[p].d == want[p].d) continue;
        if (trace_params[p].type == NC_INT64)
            return err_set("foreign: parameter '%s' = %lld, but its config attribute gives %lld", trace_params[p].name,
                           (long long)f->param[p].i, (long long)want[p].i);
        return err_set("foreign: parameter '%s' = %.9g, but its config attribute gives %.9g", trace_params[p].name,
                       f->param[p].d, want[p].d);
    }
    return 0;
}

static int read_header(traceread_t *f, int ncid, off_t size)
{
    long long v, world;
    if (get_int_att(ncid, "trace_schema_version", &v)) return -1;
    if (v < TRACE_SCHEMA_OLDEST || v > TRACE_SCHEMA_VERSION)
        return err_set("trace schema version %lld; this aggregator reads %d to %d", v, TRACE_SCHEMA_OLDEST,
                       TRACE_SCHEMA_VERSION);
    const int version = (int)v;
    if (attr_in(ncid, "world_size", 1, MAX_RANKS, &world) || attr_in(ncid, "rank", 0, world - 1, &v)) return -1;
    f->world_size = (int)world, f->rank = (int)v;
    if (attr_in(ncid, "segment", -1, MAX_SEGMENT, &v)) return -1; /* -1: a consolidated file (consolidate.h) */
    f->segment = (int)v;
    size_t len;
    if (nc_inq_attlen(ncid, NC_GLOBAL, "run_name", &len) == NC_NOERR && len < sizeof f->run_name &&
        nc_get_att_text(ncid, NC_GLOBAL, "run_name", f->run_name) == NC_NOERR)
        f->run_name[len] = '\0';
    size_t *e = f->extent.n;
    if (dim_len(ncid, "step", &f->n_rec) || dim_in(ncid, "depth", 2, MAX_DEPTH, &e[TD_DEPTH]) ||
        dim_in(ncid, "layer", e[TD_DEPTH] - 1, e[TD_DEPTH] - 1, &e[TD_LAYER]) ||
        dim_in(ncid, "position", 1, MAX_POS, &e[TD_POS]) || dim_in(ncid, "bucket", 1, MAX_BUCKET, &e[TD_BUCKET]) ||
        dim_in(ncid, "sv", 1, MAX_SV, &e[TD_SV]) || dim_in(ncid, "group", 1, MAX_GROUPS, &e[TD_GROUP]) ||
        dim_in(ncid, "genre", 1, MAX_GENRES, &e[TD_GENRE]) || dim_in(ncid, "window", 1, MAX_WINDOWS, &e[TD_WINDOW]))
        return -1;
    if (f->n_rec > (size_t)size / MIN_RECORD_BYTES)
        return err_set("corrupt: %zu records in a file of %lld bytes", f->n_rec, (long long)size);
    double budget = fmax(MAX_EXPANSION * (double)size, MIN_BUDGET), need = elements(f) * sizeof(double);
    if (need > budget)
        return err_set("corrupt: its dimensions ask for %.0f MB, more than a file of %lld bytes can hold", need / 1048576,
                       (long long)size);
    for (int i = 0; i < TP_N; i++) {
        int varid, rc;
        if (i == TP_TOKENIZER && version < TRACE_SCHEMA_TOKENIZER) { /* schema 3 did not record it */
            f->param[i] = (trace_value_t){TRACE_TOK_UNKNOWN, TRACE_TOK_UNKNOWN};
            continue;
        }
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
    /* the file's parameters against its own dimensions and attributes */
    const struct {
        int p;
        long long want;
    } same[] = {{TP_N_LAYER, (long long)e[TD_LAYER]}, {TP_SEQ_LEN, (long long)e[TD_POS]},
                {TP_WORLD_SIZE, f->world_size}};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (f->param[same[i].p].i != same[i].want)
            return err_set("foreign: parameter '%s' = %lld does not match the file's dimensions and attributes (%lld)",
                           trace_params[same[i].p].name, (long long)f->param[same[i].p].i, same[i].want);
    if (read_config(f, ncid) || check_params(f)) return -1;
    int64_t max_steps = f->param[TP_MAX_STEPS].i;
    if (attr_in(ncid, "start_step", 0, max_steps, &v)) return -1;
    f->start_step = v;
    return 0;
}

/* Refuses value x, element i of record r of variable k, naming where it is. */
static int out_of_domain(const traceread_t *f, int k, size_t r, size_t i, double x)
{
    const int *dims = trace_shape_dims[trace_vars[k].shape];
    size_t idx[3] = {0};
    for (int j = 2; j >= 0; j--) /* the last dimension varies fastest */
        if (dims[j] != TD_NONE) idx[j] = i % f->extent.n[dims[j]], i /= f->extent.n[dims[j]];
    char where[256];
    size_t n = (size_t)snprintf(where, sizeof where, "step %lld (record %zu)", (long long)f->step[r], r);
    for (int j = 0; j < 3 && n < sizeof where; j++)
        if (dims[j] != TD_NONE) /* a group by its number, not its place in this rank's file */
            n += (size_t)snprintf(where + n, sizeof where - n, ", %s %lld", trace_dims[dims[j]].name,
                                  dims[j] == TD_GROUP ? (long long)f->fixed[TF_GROUP][idx[j]] : (long long)idx[j]);
    const trace_domain_t *d = &trace_domains[k];
    if (isnan(x))
        return err_set("corrupt: '%s' is NaN at %s; the schema allows NaN there %s", trace_vars[k].name, where,
                       d->nan == TN_FIRST ? "only in a launch's first record" : "never");
    double lo, hi;
    trace_domain_range(d->kind, f->param, &lo, &hi);
    return err_set("corrupt: '%s' = %g at %s is outside its domain %s = [%g, %g]", trace_vars[k].name, x, where,
                   trace_domain_text(k), lo, hi);
}

/* Every value read in its variable's domain (trace/schema.h); a variable NaN only in a launch's first
 * record must have a value after it. A segment's first record is its launch's first, whatever its
 * start_step attribute says (an attribute can be edited; the records are what the launch wrote). A
 * consolidated file does not mark where its launches began, so there any record may be NaN, but not
 * every record after step 0. */
static int check_domains(const traceread_t *f)
{
    for (int k = 0; k < TV_N; k++) {
        if (!f->v[k]) continue;
        size_t len = traceread_len(f, k);
        int later = 0, measured = 0;
        for (size_t r = 0; r < f->n_rec; r++) {
            int first = r == 0 || f->step[r] == 0 || f->segment < 0;
            for (size_t i = 0; i < len; i++) {
                double x = f->v[k][r * len + i];
                if (!trace_in_domain(k, x, first, f->param)) return out_of_domain(f, k, r, i, x);
                measured |= r > 0 && !isnan(x);
            }
            later |= r > 0;
        }
        if (trace_domains[k].nan == TN_FIRST && later && !measured)
            return err_set("corrupt: '%s' is NaN in every record after its launch's first", trace_vars[k].name);
    }
    return 0;
}

/* What a trainer cannot have written: steps that do not increase within the run, weights below what they
 * count, groups outside the run's or out of order, bucket coordinates out of order, a value outside its
 * domain. */
static int check_values(const traceread_t *f)
{
    const size_t *e = f->extent.n;
    int64_t max_steps = f->param[TP_MAX_STEPS].i, groups = f->param[TP_PROBE_GROUPS].i, sum = 0;
    for (size_t r = 0; r < f->n_rec; r++)
        if (f->step[r] < 0 || f->step[r] > max_steps || (r && f->step[r] <= f->step[r - 1]))
            return err_set("corrupt: record %zu has step %lld (steps increase within [0, %lld])", r,
                           (long long)f->step[r], (long long)max_steps);
    const int64_t *group = f->fixed[TF_GROUP], *gw = f->fixed[TF_GROUP_WINDOWS], *bucket = f->fixed[TF_BUCKET];
    for (size_t g = 0; g < e[TD_GROUP]; g++) {
        if (group[g] < 0 || group[g] >= groups || (g && group[g] <= group[g - 1]))
            return err_set("corrupt: group %lld out of order or outside the run's %lld", (long long)group[g],
                           (long long)groups);
        if (gw[g] < 1) return err_set("corrupt: group %lld has %lld windows", (long long)group[g], (long long)gw[g]);
        sum += gw[g];
    }
    if (sum != f->windows || f->windows != (int64_t)e[TD_WINDOW])
        return err_set("corrupt: %lld windows, but its groups hold %lld and its window dimension %zu",
                       (long long)f->windows, (long long)sum, e[TD_WINDOW]);
    for (size_t k = 0; k < e[TD_BUCKET]; k++)
        if (bucket[k] < 0 || (k && bucket[k] <= bucket[k - 1]) || f->fixed[TF_BUCKET_TOKENS][k] < 0)
            return err_set("corrupt: bucket coordinates out of order, or a negative bucket_tokens");
    for (size_t c = 0; c < e[TD_GENRE]; c++)
        if (f->fixed[TF_GENRE_TOKENS][c] < 0) return err_set("corrupt: a negative genre_tokens");
    return check_domains(f);
}

static int read_genre_names(traceread_t *f, int ncid)
{
    size_t n = f->extent.n[TD_GENRE];
    f->genre_name = err_calloc(n, sizeof *f->genre_name);
    int varid, nd, id;
    nc_type type;
    char dn[NC_MAX_NAME + 1];
    if (nc_inq_varid(ncid, TRACE_GENRE_NAME, &varid) != NC_NOERR || nc_inq_vartype(ncid, varid, &type) != NC_NOERR ||
        type != NC_STRING || nc_inq_varndims(ncid, varid, &nd) != NC_NOERR || nd != 1 ||
        nc_inq_vardimid(ncid, varid, &id) != NC_NOERR || nc_inq_dimname(ncid, id, dn) != NC_NOERR || strcmp(dn, "genre"))
        return err_set("foreign: no string variable '%s' over genre", TRACE_GENRE_NAME);
    char **names = err_calloc(n, sizeof *names);
    int rc = nc_get_var_string(ncid, varid, names);
    if (rc != NC_NOERR) {
        free(names);
        return err_set("corrupt: cannot read '%s': %s", TRACE_GENRE_NAME, nc_strerror(rc));
    }
    for (size_t c = 0; c < n; c++) snprintf(f->genre_name[c], sizeof *f->genre_name, "%s", names[c] ? names[c] : "");
    nc_free_string(n, names);
    free(names);
    return 0;
}

static int read_records(traceread_t *f, int ncid)
{
    size_t n = f->n_rec;
    for (int k = 0; k < TF_N; k++) {
        int d = trace_fixed[k].dim;
        if (d == TD_NONE) {
            if (read_fixed(ncid, trace_fixed[k].name, d, &f->windows, 1)) return -1;
            continue;
        }
        f->fixed[k] = err_calloc(f->extent.n[d], sizeof *f->fixed[k]);
        if (read_fixed(ncid, trace_fixed[k].name, d, f->fixed[k], f->extent.n[d])) return -1;
    }
    f->step = err_calloc(n ? n : 1, sizeof *f->step);
    int varid;
    if (var_with_dims(ncid, trace_vars[TV_STEP].name, 1, SH_STEP, &varid)) return -1;
    int rc = n ? nc_get_var_longlong(ncid, varid, (long long *)f->step) : NC_NOERR;
    if (rc != NC_NOERR) return err_set("corrupt: cannot read 'step': %s", nc_strerror(rc));
    if (read_genre_names(f, ncid)) return -1;
    for (int k = 0; k < TV_N; k++) {
        const trace_var_t *tv = &trace_vars[k];
        if (tv->weight == W_NONE) continue;
        if (var_with_dims(ncid, tv->name, 1, tv->shape, &varid)) return -1;
        size_t len = n * traceread_len(f, k);
        f->v[k] = err_calloc(len ? len : 1, sizeof *f->v[k]);
        rc = len ? nc_get_var_double(ncid, varid, f->v[k]) : NC_NOERR;
        if (rc != NC_NOERR) return err_set("corrupt: cannot read '%s': %s", tv->name, nc_strerror(rc));
    }
    return check_values(f);
}

/* The reading itself, in whichever process does it. */
static int read_direct(traceread_t *f, const char *path, off_t size)
{
    /* every chunk of a trace is read exactly once, so HDF5's chunk cache would only cost allocations */
    CHECK_RC(nc_set_chunk_cache(0, 0, 0.0f), nc_strerror);
    /* NC_DISKLESS reads the file into memory in one go at open (read-only: nothing is written back): each
     * record is a chunk of its own, and ~3,000 small reads per file cost more than reading it whole */
    int ncid, rc = nc_open(path, NC_NOWRITE | NC_DISKLESS, &ncid);
    if (rc != NC_NOERR) return err_set("corrupt: %s", nc_strerror(rc));
    rc = read_header(f, ncid, size) || read_records(f, ncid) ? -1 : 0;
    nc_close(ncid); /* read-only: nothing to flush, and a failure here changes nothing we read */
    return rc;
}

/* ---- the reading process ----
 * HDF5 has faults of its own on damaged files (an invalid free inside nc_open was seen under ASan), which
 * no check before opening can rule out. So files are read in a process of its own: a crash or a hang there
 * costs the file, reported as corrupt, not the aggregation. One reading process serves file after file (a
 * process forked per file cost the fork, the copy-on-write of the parent's pages, the lazy binding of the
 * libraries' symbols and a fresh heap for every file: a third more than the reading itself). It is started
 * again after any file it did not read whole: one that crashed it, outran the time limit, or that it
 * refused (a reader that met a damaged file is not trusted with the next). A crash or hang is charged to a
 * file only in a reader that had read nothing before it; in one that had, the file is read again in a fresh
 * reader, so that damage done by an earlier file is never blamed on a later one. For each file the reader
 * sends the length of its message, its status (0 or -1), then the reason, or the header fields and every
 * array in the order of the `arrays` table; the parent takes nothing it has not checked against the same
 * bounds. */

typedef struct {
    void **p;    /* where the array's pointer lives in traceread_t */
    size_t size; /* bytes per element */
    size_t n;
} array_t;
enum { MAX_ARRAYS = TF_N + TV_N + 2 };

/* The arrays of f in message order, with their lengths. */
static int arrays(traceread_t *f, array_t *a)
{
    int m = 0;
    for (int k = 0; k < TF_N; k++)
        if (trace_fixed[k].dim != TD_NONE)
            a[m++] = (array_t){(void **)&f->fixed[k], sizeof(int64_t), f->extent.n[trace_fixed[k].dim]};
    a[m++] = (array_t){(void **)&f->step, sizeof(int64_t), f->n_rec};
    a[m++] = (array_t){(void **)&f->genre_name, sizeof *f->genre_name, f->extent.n[TD_GENRE]};
    for (int k = 0; k < TV_N; k++)
        if (trace_vars[k].weight != W_NONE) a[m++] = (array_t){(void **)&f->v[k], sizeof(double), f->n_rec * traceread_len(f, k)};
    return m;
}

static int write_all(int fd, const void *p, size_t n)
{
    for (const char *c = p; n;) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w, n -= (size_t)w;
    }
    return 0;
}

/* A request: the file's size when it was checked, the length of its path, then the path. */
typedef struct {
    int64_t size;
    uint32_t len;
} request_t;

enum { REASON = 1024 };

/* Reader: one file's message (above). Returns 0, or -1 when the parent is gone. */
static int send_result(int fd, traceread_t *f, int32_t rc)
{
    array_t a[MAX_ARRAYS];
    int m = rc ? 0 : arrays(f, a);
    uint64_t n = sizeof rc + (rc ? REASON : sizeof *f);
    for (int i = 0; i < m; i++) n += a[i].n * a[i].size;
    int bad = write_all(fd, &n, sizeof n) || write_all(fd, &rc, sizeof rc);
    if (rc) {
        char reason[REASON];
        snprintf(reason, sizeof reason, "%s", err_msg());
        return bad || write_all(fd, reason, sizeof reason) ? -1 : 0;
    }
    bad = bad || write_all(fd, f, sizeof *f);
    for (int i = 0; i < m && !bad; i++) bad = write_all(fd, *a[i].p, a[i].n * a[i].size);
    return bad ? -1 : 0;
}

/* Reader: n bytes of a request; 0 when the parent has closed its end (it is done) or is gone. */
static int read_full(int fd, void *b, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return 1;
}

/* The reader ends without the libraries' exit handlers: nothing of it is to be flushed. */
static _Noreturn void reader_exit(int code) { _exit(code); }

/* Reader: reads the files it is asked for until the parent closes the request socket. Its stderr is a memory
 * file (own_stderr), emptied before each file, for the parent to quote: a sanitizer's report or a fatal error
 * there is the only word of what went wrong inside the libraries. */
static _Noreturn void reader(int req, int res, int own_stderr)
{
    err_set_abort_hook(reader_exit);
    for (;;) {
        request_t q;
        char path[sizeof ((traceread_t *)0)->path];
        if (!read_full(req, &q, sizeof q) || q.len >= sizeof path || !read_full(req, path, q.len)) reader_exit(0);
        path[q.len] = '\0';
        if (own_stderr && ftruncate(STDERR_FILENO, 0) == 0) lseek(STDERR_FILENO, 0, SEEK_SET);
        traceread_t f;
        memset(&f, 0, sizeof f);
        int32_t rc = read_direct(&f, path, (off_t)q.size);
        int bad = send_result(res, &f, rc);
        traceread_free(&f);
        if (bad || rc) reader_exit(bad ? 3 : 0);
    }
}

/* The parent's side: the reading process now running (pid 0: none), its request socket, the read end of its
 * result pipe, its stderr (a memory file, -1 without one: its stderr is then ours, and only the quote is
 * lost), and how many files it has answered. */
static struct {
    pid_t pid;
    int req, res, errfd, served;
} rd = {.errfd = -1};

/* Closes descriptors lo..hi; one by one up to the open-file limit where the kernel predates close_range
 * (Linux 5.9). */
static void close_span(unsigned lo, unsigned hi)
{
    if (close_range(lo, hi, 0) == 0) return;
    long top = sysconf(_SC_OPEN_MAX);
    for (long fd = lo; fd <= (long)hi && fd < (top > 0 ? top : 1 << 16); fd++) close((int)fd);
}

/* Closes every descriptor from 3 up that the reader inherited but a and b: the output directory's lock,
 * summary.nc's socket, MPI's, which a reader that outlived them would otherwise hold. */
static void keep_only(int a, int b)
{
    const int keep[2] = {a < b ? a : b, a < b ? b : a};
    unsigned from = 3;
    for (int k = 0; k < 2; k++) {
        if (keep[k] < (int)from) continue;
        if (keep[k] > (int)from) close_span(from, (unsigned)keep[k] - 1);
        from = (unsigned)keep[k] + 1;
    }
    close_span(from, ~0U);
}

static void reader_start(void)
{
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s", strerror(errno));
    CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    /* a whole trace in few writes: the default 64 KiB pipe costs a wake-up of each side per 64 KiB */
    (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    if (rd.errfd >= 0) close(rd.errfd);
    rd.errfd = memfd_create("il-traceread-stderr", MFD_CLOEXEC);
    /* the library started here, for the reader to inherit: it looks for eight rc files (~/.ncrc, ./.dodsrc,
     * ~/.aws/config, ...) and sets HDF5 up, once per process */
    CHECK_RC(nc_initialize(), nc_strerror);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(sv[0]), close(p[0]);
        if (rd.errfd >= 0) dup2(rd.errfd, STDERR_FILENO);
        keep_only(sv[1], p[1]);
        reader(sv[1], p[1], rd.errfd >= 0);
    }
    close(sv[1]), close(p[1]);
    rd.pid = pid, rd.req = sv[0], rd.res = p[0], rd.served = 0;
}

/* Ends the reader, killed first when it may still be running (it outran its time, or must not go on), and
 * returns its wait status. Its stderr stays readable until the next one starts. */
static int reader_stop(int kill_it)
{
    if (kill_it) kill(rd.pid, SIGKILL);
    close(rd.req), close(rd.res);
    int status;
    while (waitpid(rd.pid, &status, 0) < 0) CHECK(errno == EINTR, "waitpid: %s", strerror(errno));
    rd.pid = 0;
    return status;
}

void traceread_end(void)
{
    if (rd.pid) reader_stop(0); /* it sees the request socket closed and ends */
}

/* How a file's message came: whole, refused by the reader (or impossible), lost with the reader, or late. */
enum { GOT, REFUSED, LOST, LATE };

/* n bytes of the reader's message into b, before `deadline` (clock_seconds()): GOT, LOST or LATE. */
static int take(void *b, size_t n, double deadline)
{
    for (size_t got = 0; got < n;) {
        double left = deadline - clock_seconds();
        struct pollfd p = {rd.res, POLLIN, 0};
        int ready = left > 0 ? poll(&p, 1, (int)(left * 1000) + 1) : 0;
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return LATE;
        ssize_t r = read(rd.res, (char *)b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return LOST;
        got += (size_t)r;
    }
    return GOT;
}

/* f from the reader's message, trusting nothing that is not rechecked: GOT (f complete), REFUSED (the reason
 * in err_msg()), LOST or LATE. */
static int receive(traceread_t *f, off_t size, double deadline)
{
    uint64_t n;
    int32_t rc;
    int how = take(&n, sizeof n, deadline);
    if (how == GOT) how = n >= sizeof rc ? take(&rc, sizeof rc, deadline) : LOST;
    if (how != GOT) return how;
    if (rc) {
        char reason[REASON];
        if (n != sizeof rc + sizeof reason) return err_set("corrupt: the reading process ended without a result"), REFUSED;
        if ((how = take(reason, sizeof reason, deadline)) != GOT) return how;
        reason[sizeof reason - 1] = '\0';
        return err_set("%s", reason), REFUSED;
    }
    if (n < sizeof rc + sizeof *f) return err_set("corrupt: the reading process ended without a result"), REFUSED;
    char path[sizeof f->path];
    memcpy(path, f->path, sizeof path);
    if ((how = take(f, sizeof *f, deadline)) != GOT) {
        memset(f, 0, sizeof *f); /* its pointers are the reader's */
        memcpy(f->path, path, sizeof path);
        return how;
    }
    memcpy(f->path, path, sizeof path);
    f->run_name[sizeof f->run_name - 1] = '\0';
    array_t a[MAX_ARRAYS];
    int m = arrays(f, a);
    for (int i = 0; i < m; i++) *a[i].p = NULL;
    const size_t *e = f->extent.n;
    if (e[TD_DEPTH] < 2 || e[TD_DEPTH] > MAX_DEPTH || e[TD_LAYER] != e[TD_DEPTH] - 1 || e[TD_POS] < 1 ||
        e[TD_POS] > MAX_POS || e[TD_BUCKET] < 1 || e[TD_BUCKET] > MAX_BUCKET || e[TD_SV] < 1 || e[TD_SV] > MAX_SV ||
        e[TD_GROUP] < 1 || e[TD_GROUP] > MAX_GROUPS || e[TD_GENRE] < 1 || e[TD_GENRE] > MAX_GENRES ||
        e[TD_WINDOW] < 1 || e[TD_WINDOW] > MAX_WINDOWS || f->n_rec > (size_t)size / MIN_RECORD_BYTES ||
        elements(f) * sizeof(double) > fmax(MAX_EXPANSION * (double)size, MIN_BUDGET))
        return err_set("corrupt: the reading process sent impossible dimensions"), REFUSED;
    uint64_t want = sizeof rc + sizeof *f;
    for (int i = 0; i < m; i++) want += a[i].n * a[i].size;
    if (want != n)
        return err_set(want > n ? "corrupt: the reading process ended before its result did"
                                : "corrupt: the reading process sent more than its result"), REFUSED;
    for (int i = 0; i < m && how == GOT; i++) {
        *a[i].p = err_calloc(a[i].n ? a[i].n : 1, a[i].size);
        how = take(*a[i].p, a[i].n * a[i].size, deadline);
    }
    return how;
}

/* The first line of the reader's stderr that says something (a sanitizer report opens with a line of '='),
 * appended to the reason in err_msg(). */
static void quote_stderr(void)
{
    char buf[4096], line[512] = "";
    ssize_t n = rd.errfd >= 0 ? pread(rd.errfd, buf, sizeof buf - 1, 0) : -1;
    buf[n > 0 ? n : 0] = '\0';
    for (char *p = buf, *end; *p && !*line; p = *end ? end + 1 : end) {
        end = p + strcspn(p, "\n");
        for (char *q = p; q < end && !*line; q++)
            if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
                snprintf(line, sizeof line, "%.*s", (int)(end - p), p);
    }
    if (!*line) return;
    char reason[1024];
    snprintf(reason, sizeof reason, "%s", err_msg());
    err_set("%s; the reader's stderr: %s", reason, line);
}

double traceread_limit_s(double size)
{
    return 30 + size / 10e6;
}

/* One attempt at the file in the reader (started if none runs): GOT, or the reason in err_msg() and whether
 * the reader had read other files before (*fresh 0: the file deserves another, fresh, reader). */
static int attempt(traceread_t *f, const char *path, off_t size, int *fresh)
{
    if (!rd.pid) reader_start();
    *fresh = rd.served == 0;
    double seconds = traceread_limit_s((double)size), deadline = clock_seconds() + seconds;
    request_t q;
    memset(&q, 0, sizeof q); /* its padding too: it is sent whole */
    q.size = (int64_t)size, q.len = (uint32_t)strlen(path);
    int how = send(rd.req, &q, sizeof q, MSG_NOSIGNAL) == (ssize_t)sizeof q &&
                      send(rd.req, path, q.len, MSG_NOSIGNAL) == (ssize_t)q.len
                  ? receive(f, size, deadline)
                  : LOST;
    if (how == GOT) {
        rd.served++;
        return GOT;
    }
    int status = reader_stop(how != LOST);
    if (how == LATE) err_set("corrupt: reading it did not finish within %.0f s", seconds);
    else if (how == LOST && WIFSIGNALED(status))
        err_set("corrupt: the netCDF library crashed reading it (signal %d, %s)", WTERMSIG(status),
                strsignal(WTERMSIG(status)));
    else if (how == LOST && WIFEXITED(status) && WEXITSTATUS(status))
        err_set("corrupt: the reading process failed (exit %d)", WEXITSTATUS(status));
    else if (how == LOST)
        err_set("corrupt: the reading process ended without a result");
    if (how == REFUSED) *fresh = 1; /* it read the file and said why not: no other reader would differ */
    return how;
}

int traceread_file(traceread_t *f, const char *path)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    off_t size = 0;
    if (check_signature(path, &size)) return -1;
    int fresh;
    if (attempt(f, path, size, &fresh) == GOT) return 0;
    traceread_free(f);
    if (!fresh && attempt(f, path, size, &fresh) == GOT) return 0;
    quote_stderr();
    traceread_free(f);
    return -1;
}

void traceread_free(traceread_t *f)
{
    array_t a[MAX_ARRAYS];
    int m = arrays(f, a);
    for (int i = 0; i < m; i++) {
        free(*a[i].p);
        *a[i].p = NULL;
    }
}
