#include "trace/twrite.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netcdf.h>

#include "core/afile.h"
#include "core/dist.h"
#include "core/err.h"
#include "core/runlog.h"

/* Shuffle + deflate level for the multi-dimensional signal variables: floats of noisy data gain little
 * beyond level 1-4, and level 4 is still cheap next to a trace step. */
enum { TRACE_DEFLATE_LEVEL = 4 };

enum { D_STEP, D_DEPTH, D_LAYER, D_POS, D_BUCKET, D_SV, D_N };
static const char *const dim_names[D_N] = {"step", "depth", "layer", "position", "bucket", "sv"};

/* Where a record variable's values come from. */
enum {
    SRC_REC,      /* a double field of trace_record_t */
    SRC_SIG,      /* a double * field of signals_t (an array over the variable's non-step dims) */
    SRC_SIG_I64,  /* an int64_t * field of signals_t */
    SRC_WNORM,    /* sig->wnorm[off] */
    SRC_STEP,     /* rec->step */
    SRC_TOKENS,   /* sig->tokens */
    SRC_BATCH,    /* sig->batch */
    SRC_TIME,     /* wall-clock time of the write */
};

typedef struct {
    const char *name;
    nc_type type;
    int ndims;
    int dims[3];   /* D_STEP first */
    int src;
    size_t off;    /* offsetof into the source struct, or a group index for SRC_WNORM */
    const char *units, *long_name;
} var_spec_t;

#define REC(f) SRC_REC, offsetof(trace_record_t, f)
#define SIG(f) SRC_SIG, offsetof(signals_t, f)
/* The record variables, in file order. docs/trace-schema.md lists the same table. */
static const var_spec_t record_vars[] = {
    {"step", NC_INT64, 1, {D_STEP}, SRC_STEP, 0, "1",
     "optimizer updates applied to the weights of the traced forward/backward"},
    {"time", NC_DOUBLE, 1, {D_STEP}, SRC_TIME, 0, "seconds since 1970-01-01 00:00:00 UTC",
     "wall-clock time the record was written"},
    {"loss", NC_DOUBLE, 1, {D_STEP}, REC(loss), "1", "training loss of the update, mean over the global batch (nats)"},
    {"val_loss", NC_DOUBLE, 1, {D_STEP}, REC(val_loss), "1",
     "validation loss of the same weights (nats), NaN when not evaluated at this step"},
    {"lr", NC_DOUBLE, 1, {D_STEP}, REC(lr), "1", "learning rate of the update"},
    {"grad_norm", NC_DOUBLE, 1, {D_STEP}, REC(grad_norm), "1", "global gradient L2 norm before clipping"},
    {"tokens_per_s", NC_DOUBLE, 1, {D_STEP}, REC(tokens_per_s), "s-1", "global training throughput in tokens per second"},
    {"step_time", NC_DOUBLE, 1, {D_STEP}, REC(step_time), "s", "wall-clock time of the optimizer step"},
    {"wnorm_embed", NC_DOUBLE, 1, {D_STEP}, SRC_WNORM, SIGNALS_GROUP_EMBED, "1",
     "L2 norm of the embedding parameters (wte, wpe)"},
    {"wnorm_attn", NC_DOUBLE, 1, {D_STEP}, SRC_WNORM, SIGNALS_GROUP_ATTN, "1",
     "L2 norm of the attention parameters (qkv and projection weights and biases)"},
    {"wnorm_mlp", NC_DOUBLE, 1, {D_STEP}, SRC_WNORM, SIGNALS_GROUP_MLP, "1",
     "L2 norm of the MLP parameters (fc and fcproj weights and biases)"},
    {"wnorm_ln", NC_DOUBLE, 1, {D_STEP}, SRC_WNORM, SIGNALS_GROUP_LN, "1",
     "L2 norm of the LayerNorm gains and biases (ln1, ln2, lnf)"},
    {"tokens", NC_INT64, 1, {D_STEP}, SRC_TOKENS, 0, "1", "tokens in this rank's traced micro-batch (merge weight)"},
    {"batch", NC_INT, 1, {D_STEP}, SRC_BATCH, 0, "1", "sequences in this rank's traced micro-batch"},
    {"norm", NC_FLOAT, 3, {D_STEP, D_DEPTH, D_POS}, SIG(norm), "1", "S1 mean over sequences of |h^l_t|"},
    {"update", NC_FLOAT, 3, {D_STEP, D_LAYER, D_POS}, SIG(update), "1", "S2 mean |h^(l+1)_t - h^l_t|"},
    {"update_attn", NC_FLOAT, 3, {D_STEP, D_LAYER, D_POS}, SIG(update_attn), "1",
     "S2 mean |a^l_t - h^l_t|, attention half of the block"},
    {"update_mlp", NC_FLOAT, 3, {D_STEP, D_LAYER, D_POS}, SIG(update_mlp), "1",
     "S2 mean |h^(l+1)_t - a^l_t|, MLP half of the block"},
    {"cos", NC_FLOAT, 3, {D_STEP, D_LAYER, D_POS}, SIG(cos), "1",
     "S3 mean cosine of the block step with -dL/dh^l (global descent)"},
    {"cos_attn", NC_FLOAT, 3, {D_STEP, D_LAYER, D_POS}, SIG(cos_attn), "1",
     "S3 mean cosine of the attention step a^l - h^l with -dL/dh^l"},
    {"cos_mlp", NC_FLOAT, 3, {D_STEP, D_LAYER, D_POS}, SIG(cos_mlp), "1",
     "S3 mean cosine of the MLP step h^(l+1) - a^l with -dL/da^l"},
    {"cos_local", NC_FLOAT, 3, {D_STEP, D_LAYER, D_POS}, SIG(cos_local), "1",
     "S3b mean cosine of the block step with minus the gradient of the token's own logit-lens loss"},
    {"eta", NC_FLOAT, 2, {D_STEP, D_LAYER}, SIG(eta), "1", "S4 implied inner step -sum<D,g>/sum|g|^2 of the block"},
    {"eta_attn", NC_FLOAT, 2, {D_STEP, D_LAYER}, SIG(eta_attn), "1", "S4 implied inner step of the attention half"},
    {"eta_mlp", NC_FLOAT, 2, {D_STEP, D_LAYER}, SIG(eta_mlp), "1", "S4 implied inner step of the MLP half"},
    {"lens", NC_FLOAT, 2, {D_STEP, D_DEPTH}, SIG(lens), "1", "S5 logit-lens loss at depth l (nats)"},
    {"norm_bucket", NC_FLOAT, 3, {D_STEP, D_DEPTH, D_BUCKET}, SIG(norm_bucket), "1",
     "S6 mean |h^l| over tokens whose input id is in the frequency bucket"},
    {"bucket_tokens", NC_INT64, 2, {D_STEP, D_BUCKET}, SRC_SIG_I64, offsetof(signals_t, bucket_tokens), "1",
     "tokens of the traced micro-batch in each frequency bucket"},
    {"grad0", NC_FLOAT, 2, {D_STEP, D_POS}, SIG(grad0), "1", "S7 mean over sequences of |dL/dh^0_t|"},
    {"sink", NC_FLOAT, 2, {D_STEP, D_LAYER}, SIG(sink), "1",
     "S8 mean attention probability on position 0, over heads and queries t >= 1"},
    {"singular_value", NC_DOUBLE, 3, {D_STEP, D_DEPTH, D_SV}, SIG(sv), "1",
     "S9 largest singular values of the centred global-batch matrix of h^l (same on every rank)"},
    {"erank", NC_DOUBLE, 2, {D_STEP, D_DEPTH}, SIG(erank), "1",
     "S9 effective rank exp(H(s^2/sum s^2)) of the centred global-batch matrix of h^l"},
};
#undef REC
#undef SIG
enum { N_RECORD_VARS = sizeof record_vars / sizeof *record_vars };
_Static_assert((int)N_RECORD_VARS <= (int)TRACE_MAX_VARS, "raise TRACE_MAX_VARS");

static void iso_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int trace_segment_agree(const char *dir, MPI_Comm comm, int *segment)
{
    int rank, msg[2] = {0, 0}; /* rc, segment */
    CHECK_RC(MPI_Comm_rank(comm, &rank), dist_strerror);
    if (rank == 0) {
        DIR *d = NULL;
        if (afile_mkdirs(dir)) msg[0] = -1;
        else if (!(d = opendir(dir))) msg[0] = err_set("%s: cannot list the trace directory: %s", dir, strerror(errno));
        for (struct dirent *e; d && (e = readdir(d));) {
            int r, s, used = 0;
            if (sscanf(e->d_name, "rank%d.seg%d.nc%n", &r, &s, &used) == 2 && used == (int)strlen(e->d_name) &&
                s + 1 > msg[1])
                msg[1] = s + 1;
        }
        if (d) closedir(d);
    }
    CHECK_RC(MPI_Bcast(msg, 2, MPI_INT, 0, comm), dist_strerror);
    if (msg[0] && rank != 0) return err_set("%s: rank 0 could not prepare the trace directory", dir);
    *segment = msg[1];
    return msg[0];
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
    CHECK_RC(nc_def_var_chunking(ncid, varid, NC_CONTIGUOUS, NULL), nc_strerror);
    return varid;
}

/* Fixed variables are defined first and written after nc_enddef; this holds the values meanwhile. */
typedef struct {
    int ncid, n;
    struct {
        int varid;
        nc_type type;
        double d;              /* NC_DOUBLE scalars */
        long long i;           /* NC_INT64 scalars */
        const long long *arr;  /* NC_INT64 coordinates; NULL for scalars */
    } w[40];
} fixed_t;

static void fixed_add(fixed_t *f, int varid, nc_type type, double d, long long i, const long long *arr)
{
    CHECK(f->n < (int)(sizeof f->w / sizeof *f->w), "trace: too many fixed variables");
    f->w[f->n].varid = varid, f->w[f->n].type = type, f->w[f->n].d = d, f->w[f->n].i = i, f->w[f->n].arr = arr;
    f->n++;
}

static void scalar_int(fixed_t *f, const char *name, long long v, const char *long_name)
{
    fixed_add(f, def_fixed(f->ncid, name, NC_INT64, 0, NULL, "1", long_name), NC_INT64, 0, v, NULL);
}

static void scalar_double(fixed_t *f, const char *name, double v, const char *long_name)
{
    fixed_add(f, def_fixed(f->ncid, name, NC_DOUBLE, 0, NULL, "1", long_name), NC_DOUBLE, v, 0, NULL);
}

/* A coordinate or per-bucket variable over one fixed dimension; v must live until fixed_write. */
static void coord(fixed_t *f, const char *name, int dimid, const long long *v, const char *long_name)
{
    fixed_add(f, def_fixed(f->ncid, name, NC_INT64, 1, &dimid, "1", long_name), NC_INT64, 0, 0, v);
}

static void fixed_write(const fixed_t *f)
{
    for (int k = 0; k < f->n; k++) {
        int id = f->w[k].varid;
        if (f->w[k].arr) CHECK_RC(nc_put_var_longlong(f->ncid, id, f->w[k].arr), nc_strerror);
        else if (f->w[k].type == NC_DOUBLE) CHECK_RC(nc_put_var_double(f->ncid, id, &f->w[k].d), nc_strerror);
        else CHECK_RC(nc_put_var_longlong(f->ncid, id, &f->w[k].i), nc_strerror);
    }
}

/* Global attributes: CF/ACDD discovery metadata and the provenance of this launch. */
static void put_globals(int ncid, const trace_info_t *in, const char *config_text)
{
    char now[32], buf[8192];
    iso_now(now, sizeof now);
    const char *commit = runlog_git_commit();
    put_text(ncid, NC_GLOBAL, "Conventions", "CF-1.10, ACDD-1.3");
    snprintf(buf, sizeof buf, "innerloop training trace of run %s, rank %d of %d, segment %d", in->cfg->name,
             in->rank, in->world_size, in->segment);
    put_text(ncid, NC_GLOBAL, "title", buf);
    put_text(ncid, NC_GLOBAL, "summary",
             "Signals S1-S9 of a GPT-style causal language model measured on this rank's micro-batch at each "
             "trace step (representation norms, inner update norms, descent cosines, implied inner step, "
             "logit-lens losses, norms by token frequency, input-gradient norms, attention sink, representation "
             "spectrum), with the training record. Schema: docs/trace-schema.md.");
    snprintf(buf, sizeof buf, "%s: created by innerloop %s%s%s", now, commit, in->command ? ": " : "",
             in->command ? in->command : "");
    put_text(ncid, NC_GLOBAL, "history", buf);
    put_text(ncid, NC_GLOBAL, "date_created", now);
    snprintf(buf, sizeof buf, "innerloop %s", commit);
    put_text(ncid, NC_GLOBAL, "source", buf);
    put_int(ncid, NC_GLOBAL, "trace_schema_version", TRACE_SCHEMA_VERSION);
    put_text(ncid, NC_GLOBAL, "git_commit", commit);
    put_text(ncid, NC_GLOBAL, "run_name", in->cfg->name);
    put_text(ncid, NC_GLOBAL, "config", config_text);
    put_int(ncid, NC_GLOBAL, "rank", in->rank);
    put_int(ncid, NC_GLOBAL, "world_size", in->world_size);
    put_int(ncid, NC_GLOBAL, "segment", in->segment);
    long long start = in->start_step;
    CHECK_RC(nc_put_att_longlong(ncid, NC_GLOBAL, "start_step", NC_INT64, 1, &start), nc_strerror);
    unsigned long long seed = in->cfg->seed;
    CHECK_RC(nc_put_att_ulonglong(ncid, NC_GLOBAL, "seed", NC_UINT64, 1, &seed), nc_strerror);
    static const char *const slurm[][2] = {{"SLURM_JOB_ID", "slurm_job_id"},
                                           {"SLURM_ARRAY_JOB_ID", "slurm_array_job_id"},
                                           {"SLURM_ARRAY_TASK_ID", "slurm_array_task_id"},
                                           {"SLURM_RESTART_COUNT", "slurm_restart_count"}};
    for (size_t i = 0; i < sizeof slurm / sizeof *slurm; i++) {
        const char *v = getenv(slurm[i][0]);
        put_text(ncid, NC_GLOBAL, slurm[i][1], v ? v : "");
    }
    put_int(ncid, NC_GLOBAL, "trace_interval", in->interval);
    put_int(ncid, NC_GLOBAL, "trace_log_spaced", in->log_spaced);
    put_int(ncid, NC_GLOBAL, "sync_every", in->sync_every);
    put_int(ncid, NC_GLOBAL, "lens_computed", in->sig->opt.lens);
    put_int(ncid, NC_GLOBAL, "local_cos_computed", in->sig->opt.local);
    put_int(ncid, NC_GLOBAL, "lens_pos_stride", in->sig->opt.pos_stride);
    put_text(ncid, NC_GLOBAL, "bucket_rule",
             "token id with training count n is in bucket 0 if n <= 1, else floor(log2(n))");
}

/* Sweep parameters as scalar variables, so that files stack along a run dimension. */
static void put_sweep(fixed_t *f, const trace_info_t *in)
{
    const config_t *c = in->cfg;
    const gpt_dims_t *d = &in->model->d;
    scalar_int(f, "d_model", d->C, "model width C");
    scalar_int(f, "n_layer", d->L, "number of blocks L");
    scalar_int(f, "n_head", d->NH, "attention heads");
    scalar_int(f, "seq_len", d->T, "context length T");
    scalar_int(f, "vocab_size", d->V, "vocabulary size V");
    scalar_int(f, "n_params", (long long)in->model->n_params, "number of parameters");
    scalar_int(f, "global_batch", c->global_batch, "sequences per optimizer step over all ranks");
    scalar_int(f, "micro_batch", c->micro_batch, "sequences per rank per forward/backward");
    scalar_int(f, "max_steps", c->max_steps, "optimizer steps of the run");
    scalar_int(f, "warmup_steps", c->warmup_steps, "learning-rate warmup steps");
    scalar_int(f, "seed", (long long)c->seed, "run seed");
    scalar_int(f, "world_size", in->world_size, "MPI ranks");
    scalar_int(f, "rank", in->rank, "MPI rank that wrote this file");
    scalar_double(f, "peak_lr", c->lr, "peak learning rate");
    scalar_double(f, "min_lr", c->min_lr, "floor of the cosine learning-rate decay");
    scalar_double(f, "weight_decay", c->weight_decay, "AdamW weight decay");
    scalar_double(f, "grad_clip", c->grad_clip, "global gradient-norm clip threshold (0: none)");
}

static char *config_text(const config_t *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f, "open_memstream: %s", strerror(errno));
    CHECK(config_write(c, f) == 0, "cannot format the config: %s", err_msg());
    CHECK(fclose(f) == 0, "open_memstream: %s", strerror(errno));
    return text;
}

int trace_open(trace_t *tr, const trace_info_t *in)
{
    CHECK(in->sync_every >= 1, "trace_open: sync_every %d", in->sync_every);
    memset(tr, 0, sizeof *tr);
    tr->sync_every = in->sync_every;
    snprintf(tr->path, sizeof tr->path, "%s/rank%04d.seg%04d.nc", in->dir, in->rank, in->segment);
    /* NC_NOCLOBBER: a file from an earlier launch, even a damaged one, is evidence, never overwritten */
    int rc = nc_create(tr->path, NC_NETCDF4 | NC_NOCLOBBER, &tr->ncid);
    if (rc == NC_EEXIST) return err_set("%s: trace file exists already; a segment is never overwritten", tr->path);
    if (rc != NC_NOERR) return err_set("%s: cannot create the trace file: %s", tr->path, nc_strerror(rc));

    const signals_t *s = in->sig;
    int ncid = tr->ncid, dimid[D_N];
    const size_t len[D_N] = {NC_UNLIMITED, (size_t)s->L + 1, (size_t)s->L, (size_t)s->T, (size_t)s->n_bucket,
                             (size_t)s->opt.n_sv};
    for (int i = 0; i < D_N; i++) CHECK_RC(nc_def_dim(ncid, dim_names[i], len[i], &dimid[i]), nc_strerror);

    char *text = config_text(in->cfg);
    put_globals(ncid, in, text);
    free(text);
    fixed_t fixed = {.ncid = ncid};
    put_sweep(&fixed, in);

    /* coordinates of the fixed dimensions, and what each frequency bucket holds */
    int n_idx = s->L + 1 > s->T ? s->L + 1 : s->T;
    n_idx = n_idx > s->opt.n_sv ? n_idx : s->opt.n_sv;
    long long *idx = err_calloc((size_t)n_idx, sizeof *idx), *lo = err_calloc((size_t)s->n_bucket, sizeof *lo),
              *ids = err_calloc((size_t)s->n_bucket, sizeof *ids);
    for (int i = 0; i < n_idx; i++) idx[i] = i;
    for (int k = 0; k < s->n_bucket; k++) lo[k] = s->bucket_lo[k], ids[k] = s->bucket_ids[k];
    coord(&fixed, "depth", dimid[D_DEPTH], idx, "residual-stream depth l: h^l enters block l, h^L leaves the last");
    coord(&fixed, "layer", dimid[D_LAYER], idx, "block index l");
    coord(&fixed, "position", dimid[D_POS], idx, "token position t in the sequence");
    coord(&fixed, "sv", dimid[D_SV], idx, "rank of the singular value, 0 the largest");
    coord(&fixed, "bucket", dimid[D_BUCKET], lo,
          "smallest training-set count of the token ids in the frequency bucket (bucket k >= 1: [2^k, 2^(k+1)))");
    coord(&fixed, "bucket_ids", dimid[D_BUCKET], ids, "vocabulary ids in the frequency bucket");

    tr->n_vars = N_RECORD_VARS;
    for (int i = 0; i < N_RECORD_VARS; i++) {
        const var_spec_t *r = &record_vars[i];
        int ids[3];
        size_t chunk[3];
        for (int j = 0; j < r->ndims; j++) ids[j] = dimid[r->dims[j]], chunk[j] = len[r->dims[j]];
        /* one record per chunk: each chunk is written whole, once, and never rewritten, which keeps
         * records synced earlier intact whatever happens to the process afterwards */
        chunk[0] = 1;
        int varid = tr->varid[i] = def_var(ncid, r->name, r->type, r->ndims, ids, r->units, r->long_name);
        CHECK_RC(nc_def_var_chunking(ncid, varid, NC_CHUNKED, chunk), nc_strerror);
        /* the per-step scalars are a few bytes a chunk: compression would only add overhead */
        int big = r->ndims > 1;
        CHECK_RC(nc_def_var_deflate(ncid, varid, big, big, big ? TRACE_DEFLATE_LEVEL : 0), nc_strerror);
        if (r->type == NC_FLOAT) {
            float nan = NAN;
            CHECK_RC(nc_def_var_fill(ncid, varid, 0, &nan), nc_strerror);
        } else if (r->type == NC_DOUBLE) {
            double nan = NAN;
            CHECK_RC(nc_def_var_fill(ncid, varid, 0, &nan), nc_strerror);
        }
    }
    put_text(ncid, tr->varid[0], "axis", "T");
    CHECK_RC(nc_enddef(ncid), nc_strerror);
    fixed_write(&fixed);
    free(idx);
    free(lo);
    free(ids);
    trace_sync(tr);
    return 0;
}

void trace_write(trace_t *tr, const trace_record_t *rec, const signals_t *sig)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const size_t dimlen[D_N] = {1, (size_t)sig->L + 1, (size_t)sig->L, (size_t)sig->T, (size_t)sig->n_bucket,
                                (size_t)sig->opt.n_sv};
    for (int i = 0; i < tr->n_vars; i++) {
        const var_spec_t *r = &record_vars[i];
        size_t start[3] = {tr->n_records, 0, 0}, count[3] = {1, 0, 0};
        for (int j = 1; j < r->ndims; j++) count[j] = dimlen[r->dims[j]];
        int ncid = tr->ncid, id = tr->varid[i];
        double d;
        long long ll;
        switch (r->src) {
        case SRC_SIG:
            CHECK_RC(nc_put_vara_double(ncid, id, start, count, *(double *const *)((const char *)sig + r->off)),
                     nc_strerror);
            continue;
        case SRC_SIG_I64: {
            const int64_t *p = *(int64_t *const *)((const char *)sig + r->off);
            CHECK_RC(nc_put_vara_longlong(ncid, id, start, count, (const long long *)p), nc_strerror);
            continue;
        }
        case SRC_REC: d = *(const double *)((const char *)rec + r->off); break;
        case SRC_WNORM: d = sig->wnorm[r->off]; break;
        case SRC_TIME: d = ts.tv_sec + ts.tv_nsec * 1e-9; break;
        case SRC_STEP: ll = rec->step; CHECK_RC(nc_put_var1_longlong(ncid, id, start, &ll), nc_strerror); continue;
        case SRC_TOKENS: ll = sig->tokens; CHECK_RC(nc_put_var1_longlong(ncid, id, start, &ll), nc_strerror); continue;
        case SRC_BATCH: ll = sig->batch; CHECK_RC(nc_put_var1_longlong(ncid, id, start, &ll), nc_strerror); continue;
        default: err_fatal(__FILE__, __LINE__, "trace variable %s has no source", r->name);
        }
        CHECK_RC(nc_put_var1_double(ncid, id, start, &d), nc_strerror);
    }
    tr->n_records++;
    if (++tr->since_sync >= tr->sync_every) trace_sync(tr);
}

void trace_sync(trace_t *tr)
{
    CHECK_RC(nc_sync(tr->ncid), nc_strerror);
    tr->n_synced = tr->n_records;
    tr->since_sync = 0;
}

void trace_close(trace_t *tr)
{
    CHECK_RC(nc_close(tr->ncid), nc_strerror);
    memset(tr, 0, sizeof *tr);
}

int trace_is_step(int64_t step, int64_t max_steps, int interval, int log_spaced)
{
    if (step < 0 || step >= max_steps) return 0;
    if (step == 0 || step == max_steps - 1 || (interval > 0 && step % interval == 0)) return 1;
    if (!log_spaced) return 0;
    /* the j with 10^(j/10) nearest to step, and its neighbours, decide whether round(10^(j/10)) == step */
    int j0 = (int)floor(10.0 * log10((double)step));
    for (int j = j0 - 1; j <= j0 + 1; j++)
        if (j >= 0 && llround(pow(10.0, j / 10.0)) == step) return 1;
    return 0;
}
