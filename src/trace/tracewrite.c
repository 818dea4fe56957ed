#define _GNU_SOURCE /* fallocate */
#include "trace/tracewrite.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <netcdf.h>

#include "core/err.h"
#include "core/runlog.h"
#include "trace/acdd.h"

/* Disk space reserved ahead of each record beyond the records themselves: a generous bound on the metadata
 * that a sync or a close writes (chunk indexes, object headers, attributes). */
enum { RESERVE_METADATA = 256 << 10 };

/* Shuffle + deflate level for the multi-dimensional signal variables: floats of noisy data gain little
 * beyond level 1-4, and level 4 is still cheap next to a trace step. */
enum { TRACE_DEFLATE_LEVEL = 4 };

/* Where a record variable's values come from (the source column of schema.h). */
enum {
    SRC_REC,   /* a double field of tracewrite_rec_t */
    SRC_SIG,   /* a double * field of signals_t (an array over the variable's non-step dims) */
    SRC_WNORM, /* sig->wnorm[off] */
    SRC_STEP,  /* rec->step */
    SRC_TIME,  /* wall-clock time of the write */
};

#define REC(f) SRC_REC, offsetof(tracewrite_rec_t, f)
#define SIG(f) SRC_SIG, offsetof(signals_t, f)
#define WNORM(g) SRC_WNORM, g
#define STEP SRC_STEP, 0
#define TIME SRC_TIME, 0
#define SOURCE_ROW(id, name, type, shape, units, weight, summary, finite, src, long_name) [id] = {src},
static const struct {
    int kind;
    size_t off; /* offsetof into the source struct, or a group index for SRC_WNORM */
} source[TV_N] = {TRACE_VARS(SOURCE_ROW)};
#undef SOURCE_ROW
#undef REC
#undef SIG
#undef WNORM
#undef STEP
#undef TIME

/* Where a fixed variable's values come from: an int64_t * field of signals_t or probe_t, or probe_t.n. */
enum { FIX_SIG, FIX_PROBE };
#define SIG(f) FIX_SIG, offsetof(signals_t, f)
#define PROBE(f) FIX_PROBE, offsetof(probe_t, f)
#define FIXED_ROW(id, name, type, dim, long_name, src) [id] = {src},
static const struct {
    int kind;
    size_t off;
} fixed_source[TF_N] = {TRACE_FIXED(FIXED_ROW)};
#undef FIXED_ROW
#undef SIG
#undef PROBE

/* The int64 values of fixed variable f: an array over its dimension, or the scalar probe_t.n. */
static const long long *fixed_values(int f, const signals_t *s, const probe_t *p)
{
    const char *base = fixed_source[f].kind == FIX_SIG ? (const char *)s : (const char *)p;
    if (trace_fixed[f].dim == TD_NONE) return (const long long *)(base + fixed_source[f].off);
    return *(const long long *const *)(base + fixed_source[f].off);
}

/* Length of each dimension in the files of these signals and this probe share. */
static trace_extent_t extents(const signals_t *s, const probe_t *p)
{
    trace_extent_t e = {{0}};
    e.n[TD_STEP] = NC_UNLIMITED, e.n[TD_DEPTH] = (size_t)s->L + 1, e.n[TD_LAYER] = (size_t)s->L;
    e.n[TD_POS] = (size_t)s->T, e.n[TD_BUCKET] = (size_t)s->n_bucket, e.n[TD_SV] = (size_t)s->opt.n_sv;
    e.n[TD_GROUP] = (size_t)p->n_slots, e.n[TD_GENRE] = (size_t)p->n_genre, e.n[TD_WINDOW] = (size_t)p->n;
    return e;
}

static void put_text(int ncid, int varid, const char *name, const char *value)
{
    CHECK_RC(nc_put_att_text(ncid, varid, name, strlen(value), value), nc_strerror);
}

static void put_int(int ncid, int varid, const char *name, int value)
{
    CHECK_RC(nc_put_att_int(ncid, varid, name, NC_INT, 1, &value), nc_strerror);
}

static int def_var(int ncid, const char *name, nc_type type, int ndims, const int *dimids, const char *units,
                   const char *long_name)
{
    int varid;
    CHECK_RC(nc_def_var(ncid, name, type, ndims, dimids, &varid), nc_strerror);
    put_text(ncid, varid, "long_name", long_name);
    put_text(ncid, varid, "units", units);
    return varid;
}

/* A fixed variable: written once at creation, stored contiguously (nothing to chunk or compress). */
static int def_fixed(int ncid, const char *name, nc_type type, int ndims, const int *dimids, const char *units,
                     const char *long_name)
{
    int varid = def_var(ncid, name, type, ndims, dimids, units, long_name);
    /* strings are of variable length, which HDF5 cannot store contiguously */
    if (type != NC_STRING) CHECK_RC(nc_def_var_chunking(ncid, varid, NC_CONTIGUOUS, NULL), nc_strerror);
    return varid;
}

/* Global attributes: CF/ACDD discovery metadata and the provenance of this launch. */
static void put_globals(int ncid, const tracewrite_meta_t *m, const signals_t *sig)
{
    char title[512];
    snprintf(title, sizeof title, "innerloop training trace of run %s, rank %d of %d, segment %d", m->run_name, m->rank,
             m->world_size, m->segment);
    acdd_put(ncid, &(acdd_t){.id = m->run_name, .title = title, .command = m->command,
                             .summary = "Signals S1-S9 of a GPT-style causal language model measured at each trace step on "
                                        "this rank's share of a fixed probe set of held-out windows (representation "
                                        "norms, inner update norms, descent cosines, implied inner step, logit-lens "
                                        "losses, norms by token frequency, input-gradient norms, attention sink, "
                                        "representation spectrum), per probe group where intervals need it, with the "
                                        "training record. Schema: docs/trace-schema.md."});
    acdd_time_coverage(ncid, (double)time(NULL), NAN);
    const char *commit = runlog_git_commit();
    put_int(ncid, NC_GLOBAL, "trace_schema_version", TRACE_SCHEMA_VERSION);
    put_text(ncid, NC_GLOBAL, "git_commit", commit);
    put_text(ncid, NC_GLOBAL, "run_name", m->run_name);
    put_text(ncid, NC_GLOBAL, "config", m->config_text);
    put_int(ncid, NC_GLOBAL, "rank", m->rank);
    put_int(ncid, NC_GLOBAL, "world_size", m->world_size);
    put_int(ncid, NC_GLOBAL, "segment", m->segment);
    long long start = m->start_step;
    CHECK_RC(nc_put_att_longlong(ncid, NC_GLOBAL, "start_step", NC_INT64, 1, &start), nc_strerror);
    unsigned long long seed = m->seed;
    CHECK_RC(nc_put_att_ulonglong(ncid, NC_GLOBAL, "seed", NC_UINT64, 1, &seed), nc_strerror);
    static const char *const slurm[][2] = {{"SLURM_JOB_ID", "slurm_job_id"},
                                           {"SLURM_ARRAY_JOB_ID", "slurm_array_job_id"},
                                           {"SLURM_ARRAY_TASK_ID", "slurm_array_task_id"},
                                           {"SLURM_RESTART_COUNT", "slurm_restart_count"}};
    for (size_t i = 0; i < sizeof slurm / sizeof *slurm; i++) {
        const char *v = getenv(slurm[i][0]);
        put_text(ncid, NC_GLOBAL, slurm[i][1], v ? v : "");
    }
    put_int(ncid, NC_GLOBAL, "trace_interval", m->interval);
    put_int(ncid, NC_GLOBAL, "trace_log_spaced", m->log_spaced);
    put_int(ncid, NC_GLOBAL, "trace_full_every", m->full_every > 1 ? m->full_every : 1);
    put_int(ncid, NC_GLOBAL, "sync_every", m->sync_every);
    put_int(ncid, NC_GLOBAL, "lens_computed", sig->opt.lens);
    put_int(ncid, NC_GLOBAL, "local_cos_computed", sig->opt.local);
    put_int(ncid, NC_GLOBAL, "lens_pos_stride", sig->opt.pos_stride);
    put_text(ncid, NC_GLOBAL, "bucket_rule",
             "token id with training count n is in bucket 0 if n <= 1, else floor(log2(n))");
    put_text(ncid, NC_GLOBAL, "probe_shard", m->probe_path);
}

/* A failed write to the file: its name and the system's reason when there is one (a full disk), else
 * the library's. Returns -1. */
static int write_failed(const tracewrite_t *tw, int rc)
{
    return err_set("%s: cannot write the trace: %s", tw->path, errno ? strerror(errno) : nc_strerror(rc));
}

/* Reserves, past the end of the file, the space the records not yet synced and one more (deflated, at most
 * twice their raw size) and the metadata of a close need, so that HDF5 never meets a full disk: after a
 * write failed inside it, HDF5 cannot close the file (nc_close and nc_abort crash in it, and so does
 * MPI_Finalize) and the file no longer opens. A filesystem that cannot reserve (fallocate unsupported)
 * must show as much free space instead. */
static int reserve(tracewrite_t *tw)
{
    struct stat st;
    struct statvfs fs;
    if (tw->fd < 0) return 0;
    off_t want = (off_t)((tw->n_records - tw->n_synced + 1) * 2 * tw->record_bytes) + RESERVE_METADATA;
    if (fstat(tw->fd, &st) == 0 && fallocate(tw->fd, FALLOC_FL_KEEP_SIZE, st.st_size, want) == 0) {
        tw->reserved = want > tw->reserved ? want : tw->reserved;
        return 0;
    }
    int err = errno;
    if ((err == EOPNOTSUPP || err == ENOSYS) && fstatvfs(tw->fd, &fs) == 0)
        err = (double)fs.f_bavail * (double)fs.f_frsize < (double)want ? ENOSPC : 0;
    return err ? err_set("%s: cannot write the trace: %s", tw->path, strerror(err)) : 0;
}

/* Gives up the file being created (err_msg() says why): the library forgets it, and the file goes, as a
 * segment that never held a record. Before nc_enddef HDF5 has written nothing that could fail, so this is
 * safe after reserve() failed; the space reserved first makes a failed nc_enddef unlikely. Returns TRACEWRITE_IO. */
static int open_failed(tracewrite_t *tw)
{
    nc_abort(tw->ncid); /* the file is unusable either way: its own failure adds nothing to the reason */
    if (tw->fd >= 0) close(tw->fd);
    unlink(tw->path);
    return TRACEWRITE_IO;
}

int tracewrite_open(tracewrite_t *tw, const tracewrite_meta_t *m, const signals_t *s, const probe_t *p)
{
    CHECK(m->sync_every >= 1, "tracewrite_open: sync_every %d", m->sync_every);
    memset(tw, 0, sizeof *tw);
    tw->sync_every = m->sync_every;
    snprintf(tw->path, sizeof tw->path, "%s/rank%04d.seg%04d.nc", m->dir, m->rank, m->segment);
    /* NC_NOCLOBBER: a file from an earlier launch, even a damaged one, is evidence, never overwritten */
    errno = 0;
    int rc = nc_create(tw->path, NC_NETCDF4 | NC_NOCLOBBER, &tw->ncid);
    if (rc == NC_EEXIST) return err_set("%s: trace file exists already; a segment is never overwritten", tw->path);
    if (rc != NC_NOERR) {
        /* HDF5 calls a full disk "permission denied": the system's reason says what happened */
        int err = errno;
        unlink(tw->path); /* NC_NOCLOBBER: whatever is there is what the failed create left */
        err_set("%s: cannot create the trace file: %s", tw->path, err ? strerror(err) : nc_strerror(rc));
        return TRACEWRITE_IO;
    }

    int ncid = tw->ncid, dimid[TD_N];
    tw->fd = open(tw->path, O_WRONLY | O_CLOEXEC);
    tw->extent = extents(s, p);
    for (int i = 0; i < TV_N; i++) tw->record_bytes += trace_shape_len(trace_vars[i].shape, &tw->extent) * sizeof(double);
    /* a disk full already at the launch fails here, before HDF5 writes anything it could not close */
    if (reserve(tw)) return open_failed(tw);
    for (int i = 0; i < TD_N; i++) CHECK_RC(nc_def_dim(ncid, trace_dims[i].name, tw->extent.n[i], &dimid[i]), nc_strerror);
    put_globals(ncid, m, s);
    int param_id[TP_N], fixed_id[TF_N], coord_id[TD_N], genre_name;
    for (int i = 0; i < TP_N; i++)
        param_id[i] = def_fixed(ncid, trace_params[i].name, trace_params[i].type, 0, NULL, "1", trace_params[i].long_name);
    CHECK_RC(trace_tokenizer_flags(ncid, param_id[TP_TOKENIZER]), nc_strerror);
    /* coordinates that are indices; the others are fixed variables named like their dimension */
    const int index_coords[] = {TD_DEPTH, TD_LAYER, TD_POS, TD_SV, TD_GENRE};
    for (size_t i = 0; i < sizeof index_coords / sizeof *index_coords; i++) {
        int d = index_coords[i];
        coord_id[d] = def_fixed(ncid, trace_dims[d].name, NC_INT64, 1, &dimid[d], "1", trace_dims[d].long_name);
    }
    for (int f = 0; f < TF_N; f++) {
        int d = trace_fixed[f].dim;
        fixed_id[f] = def_fixed(ncid, trace_fixed[f].name, trace_fixed[f].type, d == TD_NONE ? 0 : 1,
                                d == TD_NONE ? NULL : &dimid[d], "1",
                                trace_fixed[f].long_name ? trace_fixed[f].long_name : trace_dims[d].long_name);
    }
    genre_name = def_fixed(ncid, TRACE_GENRE_NAME, NC_STRING, 1, &dimid[TD_GENRE], "1", "name of the genre");

    for (int i = 0; i < TV_N; i++) {
        const trace_var_t *r = &trace_vars[i];
        int ids[4] = {dimid[TD_STEP]}, nd = 1;
        size_t chunk[4] = {1};
        /* one record per chunk: each chunk is written whole, once, and never rewritten, which keeps
         * records synced earlier intact whatever happens to the process afterwards */
        for (int j = 0; j < 3; j++) {
            int d = trace_shape_dims[r->shape][j];
            if (d != TD_NONE) ids[nd] = dimid[d], chunk[nd++] = tw->extent.n[d];
        }
        int varid = tw->varid[i] = def_var(ncid, r->name, r->type, nd, ids, r->units, r->long_name);
        /* the wall-clock time of each record is an auxiliary coordinate of every other record variable */
        if (i != TV_STEP && i != TV_TIME) put_text(ncid, varid, "coordinates", "time");
        CHECK_RC(nc_def_var_chunking(ncid, varid, NC_CHUNKED, chunk), nc_strerror);
        /* the per-step scalars are a few bytes a chunk: compression would only add overhead */
        int big = nd > 1;
        CHECK_RC(nc_def_var_deflate(ncid, varid, big, big, big ? TRACE_DEFLATE_LEVEL : 0), nc_strerror);
        if (r->type == NC_FLOAT) {
            float nan = NAN;
            CHECK_RC(nc_def_var_fill(ncid, varid, 0, &nan), nc_strerror);
        } else if (r->type == NC_DOUBLE) {
            double nan = NAN;
            CHECK_RC(nc_def_var_fill(ncid, varid, 0, &nan), nc_strerror);
        }
    }
    errno = 0;
    rc = nc_enddef(ncid);
    if (rc != NC_NOERR) {
        write_failed(tw, rc);
        return open_failed(tw);
    }

    for (int i = 0; i < TP_N; i++) {
        if (trace_params[i].type == NC_DOUBLE) CHECK_RC(nc_put_var_double(ncid, param_id[i], &m->param[i].d), nc_strerror);
        else CHECK_RC(nc_put_var_longlong(ncid, param_id[i], (const long long *)&m->param[i].i), nc_strerror);
    }
    size_t most = 1;
    for (int d = 1; d < TD_N; d++) most = tw->extent.n[d] > most ? tw->extent.n[d] : most;
    long long *idx = err_calloc(most, sizeof *idx);
    for (size_t i = 0; i < most; i++) idx[i] = (long long)i;
    for (size_t i = 0; i < sizeof index_coords / sizeof *index_coords; i++)
        CHECK_RC(nc_put_var_longlong(ncid, coord_id[index_coords[i]], idx), nc_strerror);
    free(idx);
    for (int f = 0; f < TF_N; f++) CHECK_RC(nc_put_var_longlong(ncid, fixed_id[f], fixed_values(f, s, p)), nc_strerror);
    const char **names = err_calloc((size_t)p->n_genre + 1, sizeof *names);
    for (int c = 0; c < p->n_genre; c++) names[c] = p->genre_name[c];
    CHECK_RC(nc_put_var_string(ncid, genre_name, names), nc_strerror);
    free(names);
    return tracewrite_sync(tw);
}

int tracewrite_record(tracewrite_t *tw, const tracewrite_rec_t *rec, const signals_t *sig)
{
    CALL(reserve(tw));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int i = 0; i < TV_N; i++) {
        if (rec->thin && trace_sparse[i]) continue; /* never written: the record reads as the fill value */
        const int *dims = trace_shape_dims[trace_vars[i].shape];
        size_t start[4] = {tw->n_records, 0, 0, 0}, count[4] = {1, 0, 0, 0};
        for (int j = 0; j < 3 && dims[j] != TD_NONE; j++) count[j + 1] = tw->extent.n[dims[j]];
        int ncid = tw->ncid, id = tw->varid[i], rc;
        size_t off = source[i].off;
        double d;
        long long ll;
        errno = 0;
        switch (source[i].kind) {
        case SRC_SIG: rc = nc_put_vara_double(ncid, id, start, count, *(double *const *)((const char *)sig + off)); break;
        case SRC_REC: d = *(const double *)((const char *)rec + off); rc = nc_put_var1_double(ncid, id, start, &d); break;
        case SRC_WNORM: d = sig->wnorm[off]; rc = nc_put_var1_double(ncid, id, start, &d); break;
        case SRC_TIME: d = ts.tv_sec + ts.tv_nsec * 1e-9; rc = nc_put_var1_double(ncid, id, start, &d); break;
        case SRC_STEP: ll = rec->step; rc = nc_put_var1_longlong(ncid, id, start, &ll); break;
        default: err_fatal(__FILE__, __LINE__, "trace variable %s has no source", trace_vars[i].name);
        }
        if (rc != NC_NOERR) return write_failed(tw, rc);
    }
    tw->n_records++;
    return ++tw->since_sync >= tw->sync_every ? tracewrite_sync(tw) : 0;
}

int tracewrite_sync(tracewrite_t *tw)
{
    errno = 0;
    int rc = nc_sync(tw->ncid);
    if (rc != NC_NOERR) return write_failed(tw, rc);
    tw->n_synced = tw->n_records;
    tw->since_sync = 0;
    return 0;
}

int tracewrite_close(tracewrite_t *tw)
{
    errno = 0;
    /* the end of the coverage is known only now; a file whose writer died lacks it */
    int rc = nc_redef(tw->ncid);
    if (rc == NC_NOERR) {
        char end[32];
        acdd_iso((double)time(NULL), end, sizeof end);
        rc = nc_put_att_text(tw->ncid, NC_GLOBAL, "time_coverage_end", strlen(end), end);
    }
    int closed = nc_close(tw->ncid);
    rc = rc != NC_NOERR ? rc : closed;
    if (tw->fd >= 0) {
        /* what HDF5 did not use goes back to the filesystem */
        struct stat st;
        if (fstat(tw->fd, &st) == 0)
            (void)fallocate(tw->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size, tw->reserved);
        close(tw->fd);
    }
    if (rc != NC_NOERR) rc = write_failed(tw, rc);
    memset(tw, 0, sizeof *tw);
    return rc;
}
