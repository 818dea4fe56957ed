/* Trace files: every value written reads back through the netCDF API, with the documented attributes,
 * chunking and provenance; a segment is never overwritten and segment numbers continue past the highest
 * one present; records synced before a SIGKILL survive it; the trace-step schedule.
 * With IL_TRACE_KEEP=<dir>, the round-trip file is left in <dir> for tests/t_trace.sh to inspect. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpi.h>
#include <netcdf.h>

#include "core/config.h"
#include "core/err.h"
#include "model/gpt.h"
#include "core/rng.h"
#include "data/shard.h"
#include "trace/probe.h"
#include "trace/signals.h"
#include "trace/tracer.h"
#include "trace/tracewrite.h"

#include "tests/check.h"

static char dir[4096];
static int keep;

static int make_dir(void **state)
{
    (void)state;
    const char *k = getenv("IL_TRACE_KEEP"), *t = getenv("TMPDIR");
    keep = k && *k;
    if (keep) return snprintf(dir, sizeof dir, "%s", k) > 0 ? 0 : -1;
    snprintf(dir, sizeof dir, "%s/il_trace_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    if (keep) return 0;
    DIR *d = opendir(dir);
    char p[8192];
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') snprintf(p, sizeof p, "%s/%s", dir, e->d_name), unlink(p);
    if (d) closedir(d);
    return rmdir(dir);
}

typedef struct {
    gpt_t m;
    shard_t shard;
    probe_t probe;
    signals_t s;
    config_t cfg;
    tracewrite_meta_t info;
    char *text;
} fixture_t;

static const uint64_t counts[10] = {0, 1, 5, 9, 17, 40, 100, 3, 2, 1};
static char cat_names[2][SHARD_CAT_LEN] = {"news", "fiction"};

/* A shard of docs documents of len tokens each, genres alternating news, fiction; token i is
 * (i * 7 + i / 13) mod V, so windows at different offsets differ. The caller frees tokens and docs. */
static shard_t make_shard(int docs, int len, int V)
{
    shard_t s = {.tokenizer_id = 1, .vocab_size = (uint32_t)V, .n_tokens = (uint64_t)docs * (uint64_t)len,
                 .n_docs = (uint32_t)docs, .n_cats = 2, .cats = cat_names};
    s.tokens = err_calloc(s.n_tokens, sizeof *s.tokens);
    s.docs = err_calloc((size_t)docs, sizeof *s.docs);
    for (uint64_t i = 0; i < s.n_tokens; i++) s.tokens[i] = (uint16_t)((i * 7 + i / 13) % (uint64_t)V);
    for (int d = 0; d < docs; d++)
        s.docs[d] = (shard_doc_t){.start = (uint64_t)d * (uint64_t)len, .len = (uint64_t)len, .category = (uint32_t)(d % 2)};
    return s;
}

static void free_shard(shard_t *s)
{
    free(s->tokens);
    free(s->docs);
}

/* Rank 3 of 4 of a run with 8 probe windows in 4 groups: it traces group 3, windows 3 and 7. */
static void fixture_open(fixture_t *f, int segment)
{
    const gpt_dims_t d = {.V = 10, .T = 6, .L = 2, .NH = 2, .C = 8};
    const signals_opts_t o = {.lens = 1, .local = 1, .pos_stride = 2, .n_sv = 3};
    gpt_create(&f->m, &d, 2, &kernels_fast);
    f->shard = make_shard(4, 40, d.V);
    assert_int_equal(probe_select(&f->probe, &f->shard, 8, 4, 4242, 3, 4, d.T), 0);
    const signals_share_t share = {f->probe.n_slots, f->probe.n_genre, (int)f->probe.n * d.T};
    signals_create(&f->s, &d, 2, counts, &o, &share);
    config_defaults(&f->cfg);
    snprintf(f->cfg.name, sizeof f->cfg.name, "roundtrip");
    f->cfg.d_model = 8, f->cfg.seed = 4242, f->cfg.trace_probe_windows = 8, f->cfg.trace_probe_groups = 4;
    f->text = config_string(&f->cfg);
    f->info = (tracewrite_meta_t){.dir = dir, .segment = segment, .rank = 3, .world_size = 4, .start_step = 100,
                              .sync_every = 2, .interval = 50, .log_spaced = 1, .run_name = f->cfg.name,
                              .seed = f->cfg.seed, .config_text = f->text, .command = "test_trace",
                              .probe_path = "valid.bin"};
    tracer_params(f->info.param, &f->cfg, &d, 4, TRACE_TOK_BPE);
    for (int k = 0; k < f->s.n_bucket; k++) f->s.bucket_tokens[k] = 3 * k + 1;
    for (int c = 0; c < f->s.share.n_genre; c++) f->s.genre_tokens[c] = 5 + c;
}

static void fixture_close(fixture_t *f)
{
    signals_destroy(&f->s);
    probe_free(&f->probe);
    free_shard(&f->shard);
    gpt_destroy(&f->m);
    free(f->text);
}

/* Every signal array of s, with its length; the order is this test's own, not the schema's. */
typedef struct {
    const char *name;
    double *v;
    size_t n;
    nc_type type;
} sig_array_t;

static size_t sig_arrays(const signals_t *s, sig_array_t *out)
{
    size_t L = (size_t)s->L, D = L + 1, T = (size_t)s->T, K = (size_t)s->n_bucket, S = (size_t)s->opt.n_sv;
    size_t G = (size_t)s->share.n_group, C = (size_t)s->share.n_genre;
    const sig_array_t a[] = {
        {"norm", s->norm, G * D * T, NC_FLOAT},          {"update", s->update, L * T, NC_FLOAT},
        {"update_attn", s->update_attn, L * T, NC_FLOAT}, {"update_mlp", s->update_mlp, L * T, NC_FLOAT},
        {"cos", s->cos, G * L, NC_FLOAT},                {"cos_local", s->cos_local, G * L, NC_FLOAT},
        {"cos_pos", s->cos_pos, L * T, NC_FLOAT},        {"cos_attn_pos", s->cos_attn_pos, L * T, NC_FLOAT},
        {"cos_mlp_pos", s->cos_mlp_pos, L * T, NC_FLOAT}, {"cos_local_pos", s->cos_local_pos, L * T, NC_FLOAT},
        {"eta", s->eta, L, NC_FLOAT},                    {"eta_attn", s->eta_attn, L, NC_FLOAT},
        {"eta_mlp", s->eta_mlp, L, NC_FLOAT},            {"lens", s->lens, G * D, NC_FLOAT},
        {"lens_genre", s->lens_genre, C * D, NC_FLOAT},  {"cos_local_genre", s->cos_local_genre, C * L, NC_FLOAT},
        {"norm_bucket", s->norm_bucket, D * K, NC_FLOAT}, {"rho_freq", s->rho_freq, D, NC_DOUBLE},
        {"rho_freq_jk", s->rho_freq_jk, G * D, NC_DOUBLE}, {"grad0", s->grad0, G * T, NC_FLOAT},
        {"sink", s->sink, L, NC_FLOAT},                  {"singular_value", s->sv, D * S, NC_DOUBLE},
        {"erank", s->erank, D, NC_DOUBLE},
    };
    memcpy(out, a, sizeof a);
    return sizeof a / sizeof *a;
}

/* Distinct values in every signal array, one NaN among them: record r gets offset r. */
static void fill_signals(signals_t *s, int r)
{
    rng_t g;
    rng_seed(&g, 100 + (uint64_t)r);
    sig_array_t a[32];
    size_t n = sig_arrays(s, a);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < a[i].n; j++) a[i].v[j] = r + j + rng_uniform(&g);
    for (int k = 0; k < SIGNALS_N_GROUPS; k++) s->wnorm[k] = 10 * k + r;
    s->cos_local_pos[1] = NAN;
}

static tracewrite_rec_t record(int r)
{
    return (tracewrite_rec_t){.step = 100 + 10 * r, .loss = 5.0 - r, .lr = 1e-3 * (r + 1), .grad_norm = 0.7 + r,
                          .tokens_per_s = 1e5 + r, .step_time = 0.25 + r, .val_loss = r == 1 ? 4.5 : NAN};
}

static void check_var(int ncid, const char *name, size_t rec, const double *want, size_t n, nc_type stored)
{
    int varid, nd;
    CHECK_RC(nc_inq_varid(ncid, name, &varid), nc_strerror);
    CHECK_RC(nc_inq_varndims(ncid, varid, &nd), nc_strerror);
    size_t start[4] = {rec, 0, 0, 0}, count[4] = {1, 1, 1, 1};
    int dims[4];
    CHECK_RC(nc_inq_vardimid(ncid, varid, dims), nc_strerror);
    size_t total = 1;
    for (int i = 1; i < nd; i++) {
        CHECK_RC(nc_inq_dimlen(ncid, dims[i], &count[i]), nc_strerror);
        total *= count[i];
    }
    assert_int_equal(total, n);
    double *got = err_calloc(n, sizeof *got);
    CHECK_RC(nc_get_vara_double(ncid, varid, start, count, got), nc_strerror);
    for (size_t i = 0; i < n; i++) {
        double w = stored == NC_FLOAT ? (double)(float)want[i] : want[i];
        if (isnan(w)) assert_true(isnan(got[i]));
        else if (got[i] != w) fail_msg("%s[%zu][%zu] = %.17g, wrote %.17g", name, rec, i, got[i], w);
    }
    free(got);
}

static void check_text_att(int ncid, int varid, const char *name, const char *want)
{
    size_t len;
    CHECK_RC(nc_inq_attlen(ncid, varid, name, &len), nc_strerror);
    char *got = err_calloc(len + 1, 1);
    CHECK_RC(nc_get_att_text(ncid, varid, name, got), nc_strerror);
    assert_string_equal(got, want);
    free(got);
}

static void test_round_trip(void **state)
{
    (void)state;
    fixture_t f;
    fixture_open(&f, 2);
    tracewrite_t tr;
    assert_int_equal(tracewrite_open(&tr, &f.info, &f.s, &f.probe), 0);
    for (int r = 0; r < 3; r++) {
        fill_signals(&f.s, r);
        tracewrite_rec_t rec = record(r);
        assert_int_equal(tracewrite_record(&tr, &rec, &f.s), 0);
    }
    assert_int_equal(tr.n_synced, 2); /* sync_every 2: synced after the second record */
    assert_int_equal(tracewrite_close(&tr), 0);

    char path[8192];
    snprintf(path, sizeof path, "%s/rank0003.seg0002.nc", dir);
    int ncid, dimid, unlim;
    size_t n;
    CHECK_RC(nc_open(path, NC_NOWRITE, &ncid), nc_strerror);
    CHECK_RC(nc_inq_dimid(ncid, "step", &dimid), nc_strerror);
    CHECK_RC(nc_inq_unlimdim(ncid, &unlim), nc_strerror);
    assert_int_equal(unlim, dimid);
    CHECK_RC(nc_inq_dimlen(ncid, dimid, &n), nc_strerror);
    assert_int_equal(n, 3);
    const signals_t *s = &f.s;
    sig_array_t sig[32];
    size_t n_sig = sig_arrays(s, sig);
    for (int r = 0; r < 3; r++) {
        fill_signals(&f.s, r);
        tracewrite_rec_t rec = record(r);
        for (size_t i = 0; i < n_sig; i++) check_var(ncid, sig[i].name, (size_t)r, sig[i].v, sig[i].n, sig[i].type);
        const struct {
            const char *name;
            double v;
        } scalar[] = {
            {"loss", rec.loss},           {"val_loss", rec.val_loss},
            {"lr_schedule", rec.lr},      {"grad_norm", rec.grad_norm},
            {"tokens_per_s", rec.tokens_per_s}, {"step_time", rec.step_time},
            {"wnorm_embed", s->wnorm[SIGNALS_GROUP_EMBED]}, {"wnorm_attn", s->wnorm[SIGNALS_GROUP_ATTN]},
            {"wnorm_mlp", s->wnorm[SIGNALS_GROUP_MLP]},     {"wnorm_ln", s->wnorm[SIGNALS_GROUP_LN]},
            {"step", (double)rec.step},
        };
        for (size_t i = 0; i < sizeof scalar / sizeof *scalar; i++)
            check_var(ncid, scalar[i].name, (size_t)r, &scalar[i].v, 1, NC_DOUBLE);
    }

    /* every variable is described; record variables are chunked one record at a time */
    int nvars;
    CHECK_RC(nc_inq_nvars(ncid, &nvars), nc_strerror);
    for (int v = 0; v < nvars; v++) {
        char name[NC_MAX_NAME + 1];
        int nd, dims[4], storage, shuffle, deflate, level;
        size_t len, chunk[4];
        CHECK_RC(nc_inq_varname(ncid, v, name), nc_strerror);
        if (nc_inq_attlen(ncid, v, "long_name", &len) || nc_inq_attlen(ncid, v, "units", &len))
            fail_msg("variable %s lacks long_name or units", name);
        CHECK_RC(nc_inq_varndims(ncid, v, &nd), nc_strerror);
        CHECK_RC(nc_inq_vardimid(ncid, v, dims), nc_strerror);
        CHECK_RC(nc_inq_var_chunking(ncid, v, &storage, chunk), nc_strerror);
        if (nd == 0 || dims[0] != dimid) { /* fixed: written once, contiguous unless of variable length */
            if (strcmp(name, "genre_name")) assert_int_equal(storage, NC_CONTIGUOUS);
            continue;
        }
        assert_int_equal(storage, NC_CHUNKED);
        assert_int_equal(chunk[0], 1);
        CHECK_RC(nc_inq_var_deflate(ncid, v, &shuffle, &deflate, &level), nc_strerror);
        assert_int_equal(deflate, nd > 1);
    }

    /* provenance: attributes and sweep scalars */
    int version, rank, segment;
    long long start, d_model, n_params;
    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = open_memstream(&text, &text_len);
    config_write(&f.cfg, mem);
    fclose(mem);
    check_text_att(ncid, NC_GLOBAL, "config", text);
    free(text);
    check_text_att(ncid, NC_GLOBAL, "Conventions", "CF-1.10, ACDD-1.3");
    check_text_att(ncid, NC_GLOBAL, "run_name", "roundtrip");
    const char *acdd[] = {"title", "summary", "history", "date_created", "source", "git_commit",
                          "slurm_job_id", "slurm_array_job_id", "slurm_array_task_id", "slurm_restart_count"};
    for (size_t i = 0; i < sizeof acdd / sizeof *acdd; i++)
        if (nc_inq_attlen(ncid, NC_GLOBAL, acdd[i], &n)) fail_msg("global attribute %s missing", acdd[i]);
    CHECK_RC(nc_get_att_int(ncid, NC_GLOBAL, "trace_schema_version", &version), nc_strerror);
    assert_int_equal(version, TRACE_SCHEMA_VERSION);
    CHECK_RC(nc_get_att_int(ncid, NC_GLOBAL, "rank", &rank), nc_strerror);
    CHECK_RC(nc_get_att_int(ncid, NC_GLOBAL, "segment", &segment), nc_strerror);
    CHECK_RC(nc_get_att_longlong(ncid, NC_GLOBAL, "start_step", &start), nc_strerror);
    assert_int_equal(rank, 3);
    assert_int_equal(segment, 2);
    assert_int_equal(start, 100);
    int varid;
    CHECK_RC(nc_inq_varid(ncid, "d_model", &varid), nc_strerror);
    CHECK_RC(nc_get_var_longlong(ncid, varid, &d_model), nc_strerror);
    assert_int_equal(d_model, 8);
    CHECK_RC(nc_inq_varid(ncid, "n_params", &varid), nc_strerror);
    CHECK_RC(nc_get_var_longlong(ncid, varid, &n_params), nc_strerror);
    assert_int_equal(n_params, f.m.n_params);
    /* the probe share and the merge weights */
    const probe_t *p = &f.probe;
    assert_int_equal(p->n, 2);
    const int64_t windows[] = {p->n}, group[] = {3}, group_windows[] = {2}, window[] = {3, 7};
    const struct {
        const char *name;
        const int64_t *v;
        size_t n;
    } fixed[] = {
        {"bucket", s->bucket_lo, (size_t)s->n_bucket},    {"bucket_ids", s->bucket_ids, (size_t)s->n_bucket},
        {"bucket_tokens", s->bucket_tokens, (size_t)s->n_bucket}, {"genre_tokens", s->genre_tokens, 2},
        {"group", group, 1},                              {"group_windows", group_windows, 1},
        {"window", window, 2},                            {"window_offset", p->offset, 2},
        {"window_genre", p->genre, 2},                    {"window_group", p->group, 2},
        {"windows", windows, 1},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        long long got[64];
        CHECK_RC(nc_inq_varid(ncid, fixed[i].name, &varid), nc_strerror);
        CHECK_RC(nc_get_var_longlong(ncid, varid, got), nc_strerror);
        for (size_t k = 0; k < fixed[i].n; k++)
            if (got[k] != fixed[i].v[k]) fail_msg("%s[%zu] = %lld, wrote %lld", fixed[i].name, k, got[k], (long long)fixed[i].v[k]);
    }
    char *names[2];
    CHECK_RC(nc_inq_varid(ncid, "genre_name", &varid), nc_strerror);
    CHECK_RC(nc_get_var_string(ncid, varid, names), nc_strerror);
    assert_string_equal(names[0], "news");
    assert_string_equal(names[1], "fiction");
    CHECK_RC(nc_free_string(2, names), nc_strerror);
    check_text_att(ncid, NC_GLOBAL, "probe_shard", "valid.bin");
    CHECK_RC(nc_close(ncid), nc_strerror);
    fixture_close(&f);
}

static size_t records_in(const char *path)
{
    int ncid, dimid;
    size_t n;
    CHECK_RC(nc_open(path, NC_NOWRITE, &ncid), nc_strerror);
    CHECK_RC(nc_inq_dimid(ncid, "step", &dimid), nc_strerror);
    CHECK_RC(nc_inq_dimlen(ncid, dimid, &n), nc_strerror);
    CHECK_RC(nc_close(ncid), nc_strerror);
    return n;
}

/* A child writes 3 records, syncs, writes 200 more (enough to push data out of HDF5's caches) and is
 * SIGKILLed: the file still opens and holds the 3 synced records intact. */
static void test_sigkill_keeps_synced_records(void **state)
{
    (void)state;
    fixture_t f;
    fixture_open(&f, 9);
    f.info.sync_every = 1000; /* only the explicit sync below */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tracewrite_t tr;
        if (tracewrite_open(&tr, &f.info, &f.s, &f.probe)) _exit(3);
        for (int r = 0; r < 203; r++) {
            if (r == 3 && tracewrite_sync(&tr)) _exit(5);
            fill_signals(&f.s, r);
            tracewrite_rec_t rec = record(r);
            if (tracewrite_record(&tr, &rec, &f.s)) _exit(5);
        }
        raise(SIGKILL);
        _exit(4);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char path[8192];
    snprintf(path, sizeof path, "%s/rank0003.seg0009.nc", dir);
    size_t n = records_in(path);
    assert_true(n >= 3);
    int ncid;
    CHECK_RC(nc_open(path, NC_NOWRITE, &ncid), nc_strerror);
    for (int r = 0; r < 3; r++) {
        fill_signals(&f.s, r);
        tracewrite_rec_t rec = record(r);
        double st = (double)rec.step;
        check_var(ncid, "step", (size_t)r, &st, 1, NC_INT64);
        check_var(ncid, "norm", (size_t)r, f.s.norm, (size_t)f.s.share.n_group * (f.s.L + 1) * f.s.T, NC_FLOAT);
        check_var(ncid, "singular_value", (size_t)r, f.s.sv, (size_t)(f.s.L + 1) * f.s.opt.n_sv, NC_DOUBLE);
    }
    CHECK_RC(nc_close(ncid), nc_strerror);
    fixture_close(&f);
}

static void touch(const char *name)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fclose(fp);
}

/* Segment numbers continue past the highest of any rank; an existing segment is refused, untouched. */
static void test_segments_never_overwrite(void **state)
{
    (void)state;
    int flag, seg = -1;
    MPI_Initialized(&flag);
    if (!flag) MPI_Init(NULL, NULL);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/trace", dir);
    assert_int_equal(tracer_segment(sub, MPI_COMM_WORLD, &seg), 0);
    assert_int_equal(seg, 0);

    fixture_t f;
    fixture_open(&f, 0);
    f.info.dir = sub;
    tracewrite_t tr;
    assert_int_equal(tracewrite_open(&tr, &f.info, &f.s, &f.probe), 0);
    fill_signals(&f.s, 0);
    tracewrite_rec_t rec = record(0);
    assert_int_equal(tracewrite_record(&tr, &rec, &f.s), 0);
    assert_int_equal(tracewrite_close(&tr), 0);
    assert_int_equal(tracer_segment(sub, MPI_COMM_WORLD, &seg), 0);
    assert_int_equal(seg, 1);

    assert_int_equal(tracewrite_open(&tr, &f.info, &f.s, &f.probe), -1);
    assert_non_null(strstr(err_msg(), "rank0003.seg0000.nc"));
    assert_non_null(strstr(err_msg(), "exists"));
    char path[8192];
    snprintf(path, sizeof path, "%s/rank0003.seg0000.nc", sub);
    assert_int_equal(records_in(path), 1);

    /* another rank's higher segment counts; names that merely resemble a segment do not */
    char name[64];
    snprintf(name, sizeof name, "trace/rank0001.seg0006.nc");
    touch(name);
    touch("trace/rank0000.seg0042.nc.tmp");
    touch("trace/notes.txt");
    assert_int_equal(tracer_segment(sub, MPI_COMM_WORLD, &seg), 0);
    assert_int_equal(seg, 7);
    fixture_close(&f);
    if (!keep) {
        const char *names[] = {"rank0003.seg0000.nc", "rank0001.seg0006.nc", "rank0000.seg0042.nc.tmp", "notes.txt"};
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            snprintf(path, sizeof path, "%s/%s", sub, names[i]), unlink(path);
        rmdir(sub);
    }
}

/* The probe set: every window on exactly one rank, in group w mod G on rank g mod P, spread evenly over
 * the genres, inside a document of its genre, holding the shard's tokens; the same for the same seed. */
static void test_probe_select(void **state)
{
    (void)state;
    enum { W = 11, G = 5, P = 3, T = 6 };
    shard_t sh = make_shard(6, 40, 10);
    int64_t seen[W] = {0}, offset[W], per_genre[2] = {0};
    for (int r = 0; r < P; r++) {
        probe_t p;
        assert_int_equal(probe_select(&p, &sh, W, G, 9, r, P, T), 0);
        assert_int_equal(p.n_slots, (G - r + P - 1) / P);
        int64_t in_slots = 0;
        for (int k = 0; k < p.n_slots; k++) {
            assert_int_equal(p.slot_group[k] % P, r);
            in_slots += p.slot_windows[k];
        }
        assert_int_equal(in_slots, p.n);
        for (int64_t i = 0; i < p.n; i++) {
            int64_t w = p.index[i], o = p.offset[i];
            assert_true(w >= 0 && w < W);
            seen[w]++, offset[w] = o, per_genre[p.genre[i]]++;
            assert_int_equal(p.group[i], w % G);
            assert_int_equal(p.slot_group[p.slot[i]], p.group[i]);
            const shard_doc_t *doc = &sh.docs[o / 40];
            assert_int_equal(doc->category, p.genre[i]);
            assert_true((uint64_t)o + T + 1 <= doc->start + doc->len);
            for (int t = 0; t < T; t++) {
                assert_int_equal(p.inputs[i * T + t], sh.tokens[o + t]);
                assert_int_equal(p.targets[i * T + t], sh.tokens[o + t + 1]);
                assert_int_equal(p.cats[i * T + t], p.genre[i]);
            }
        }
        probe_free(&p);
    }
    for (int w = 0; w < W; w++) assert_int_equal(seen[w], 1);
    assert_int_equal(per_genre[0], 6);
    assert_int_equal(per_genre[1], 5);

    /* the same seed draws the same windows, another seed others */
    probe_t a, b;
    assert_int_equal(probe_select(&a, &sh, W, G, 9, 1, P, T), 0);
    assert_int_equal(probe_select(&b, &sh, W, G, 10, 1, P, T), 0);
    int differ = 0;
    for (int64_t i = 0; i < a.n; i++) {
        assert_int_equal(a.offset[i], offset[a.index[i]]);
        differ += a.offset[i] != b.offset[i];
    }
    assert_true(differ > 0);
    probe_free(&a);
    probe_free(&b);

    /* a genre whose documents are all shorter than a window still gets its share, starting in them */
    for (uint32_t d = 1; d < sh.n_docs; d += 2) sh.docs[d].len = 4;
    assert_int_equal(probe_select(&a, &sh, W, G, 9, 0, 1, T), 0);
    for (int64_t i = 0; i < a.n; i++) {
        const shard_doc_t *doc = &sh.docs[a.offset[i] / 40];
        assert_int_equal(doc->category, a.genre[i]);
        assert_true((uint64_t)a.offset[i] < doc->start + doc->len);
    }
    probe_free(&a);

    assert_int_equal(probe_select(&a, &sh, W, 2, 9, 0, P, T), -1);
    assert_non_null(strstr(err_msg(), "probe groups 2"));
    assert_int_equal(probe_select(&a, &sh, W, W + 1, 9, 0, P, T), -1);
    assert_non_null(strstr(err_msg(), "probe windows 11"));
    sh.n_tokens = T;
    assert_int_equal(probe_select(&a, &sh, W, G, 9, 0, P, T), -1);
    assert_non_null(strstr(err_msg(), "no window"));
    free_shard(&sh);
}

static void test_schedule(void **state)
{
    (void)state;
    /* interval 50 over 1000 updates: weights after 0, 50, ..., 1000 updates */
    int n = 0;
    for (int s = 0; s <= 1000; s++) n += tracer_due(s, 1000, 50, 0);
    assert_int_equal(n, 21);
    assert_true(tracer_due(1000, 1000, 50, 0));
    assert_false(tracer_due(999, 1000, 50, 0));
    assert_false(tracer_due(1001, 1000, 50, 0));
    /* a last step off the interval is traced all the same */
    n = 0;
    for (int s = 0; s <= 1010; s++) n += tracer_due(s, 1010, 50, 0);
    assert_int_equal(n, 22);
    assert_true(tracer_due(1010, 1010, 50, 0));
    assert_false(tracer_due(-1, 1000, 50, 0));
    assert_false(tracer_due(51, 1000, 50, 0));
    /* log-spaced: ten per decade, rounded */
    const int want[] = {0, 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100, 126, 158, 200, 251, 316};
    int k = 0;
    for (int s = 0; s <= 316; s++)
        if (tracer_due(s, 100000, 0, 1)) {
            assert_true(k < (int)(sizeof want / sizeof *want));
            assert_int_equal(s, want[k++]);
        }
    assert_int_equal(k, sizeof want / sizeof *want);
    assert_true(tracer_due(10000, 100000, 0, 1));
    assert_false(tracer_due(10001, 100000, 0, 1));
    /* interval 0: only the ends */
    n = 0;
    for (int s = 0; s <= 100; s++) n += tracer_due(s, 100, 0, 0);
    assert_int_equal(n, 2);
    /* the default: powers of two below the stride, then the stride alone, and the last step; written out by
     * hand for the research sweep's 3000 steps at stride 300 */
    config_t def;
    config_defaults(&def);
    assert_int_equal(def.trace_log_spaced, TRACE_EARLY_POW2);
    const int pow2[] = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700, 2990};
    k = 0;
    for (int s = 0; s <= 2990; s++)
        if (tracer_due(s, 2990, 300, TRACE_EARLY_POW2)) {
            assert_true(k < (int)(sizeof pow2 / sizeof *pow2));
            assert_int_equal(s, pow2[k++]);
        }
    assert_int_equal(k, sizeof pow2 / sizeof *pow2);
    /* no power of two at or past the stride: 512 and 1024 stay off a stride of 500 */
    assert_false(tracer_due(512, 3000, 500, TRACE_EARLY_POW2));
    assert_true(tracer_due(256, 3000, 500, TRACE_EARLY_POW2));
    /* the ordinal of every step of each schedule against counting the trace steps before it, one by one */
    const int sched[][3] = {{3000, 300, TRACE_EARLY_POW2}, {3000, 300, TRACE_EARLY_LOG}, {1010, 50, TRACE_EARLY_NONE},
                            {400, 64, TRACE_EARLY_POW2}, {5000, 0, TRACE_EARLY_LOG}, {1000, 7, TRACE_EARLY_LOG}};
    for (size_t i = 0; i < sizeof sched / sizeof *sched; i++) {
        int64_t before = 0;
        for (int s = 0; s <= sched[i][0]; s++) {
            assert_int_equal(tracer_ordinal(s, sched[i][0], sched[i][1], sched[i][2]), before);
            before += tracer_due(s, sched[i][0], sched[i][1], sched[i][2]);
        }
        assert_int_equal(tracer_ordinal(sched[i][0] + 1, sched[i][0], sched[i][1], sched[i][2]), before);
    }
    /* the sub-schedule: every 4th trace step by ordinal and the last; full_every 1 makes every one full */
    assert_true(tracer_full(0, 0, 3000, 4) && tracer_full(8, 900, 3000, 4) && tracer_full(19, 3000, 3000, 4));
    assert_false(tracer_full(1, 1, 3000, 4) || tracer_full(18, 2700, 3000, 4));
    assert_true(tracer_full(1, 1, 3000, 1) && tracer_full(3, 4, 3000, 0));
}

/* Every record variable's domain (innerloop/schema.h): the bounds up to float rounding, NaN only where its row
 * allows it, a variable marked finite never NaN, a reason for every "NaN when". */
static void test_domains(void **state)
{
    (void)state;
    trace_value_t p[TP_N] = {0};
    p[TP_MAX_STEPS].d = 100, p[TP_PROBE_WINDOWS].d = 4, p[TP_SEQ_LEN].d = 8, p[TP_D_MODEL].d = 16;
    for (int k = 0; k < TV_N; k++) {
        if (trace_vars[k].finite) assert_int_equal(trace_domains[k].nan, TN_NEVER);
        assert_true((trace_domains[k].nan == TN_WHEN) == (trace_domains[k].when != NULL));
        assert_false(trace_in_domain(k, INFINITY, 1, p));
        assert_false(trace_in_domain(k, -INFINITY, 1, p));
        /* a sparse variable's fill, NaN, is in its domain in any record, and only a float or double has it */
        if (trace_sparse[k])
            assert_true(trace_in_domain(k, NAN, 0, p) && (trace_vars[k].type == NC_FLOAT || trace_vars[k].type == NC_DOUBLE));
    }
    assert_true(trace_in_domain(TV_COS, 1 + 1e-7, 0, p));
    assert_true(trace_in_domain(TV_COS, -1, 0, p));
    assert_false(trace_in_domain(TV_COS, 1.01, 0, p));
    assert_false(trace_in_domain(TV_COS, NAN, 1, p));
    assert_true(trace_in_domain(TV_LOSS, NAN, 1, p));
    assert_false(trace_in_domain(TV_LOSS, NAN, 0, p));
    assert_false(trace_in_domain(TV_LOSS, -3, 0, p));
    assert_false(trace_in_domain(TV_LOSS, 1e308, 0, p));
    assert_true(trace_in_domain(TV_VAL_LOSS, NAN, 0, p));
    assert_false(trace_in_domain(TV_NORM, 3e38, 0, p));
    assert_true(trace_in_domain(TV_NORM, 1e6, 0, p));
    assert_false(trace_in_domain(TV_SINK, 2, 0, p));
    assert_true(trace_in_domain(TV_ERANK, 16, 0, p));
    assert_false(trace_in_domain(TV_ERANK, 17, 0, p));
    assert_false(trace_in_domain(TV_ERANK, 0.5, 0, p));
    assert_true(trace_in_domain(TV_ETA, -1e6, 0, p));
    assert_string_equal(trace_domain_text(TV_RHO_FREQ), "[-1, 1]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, make_dir, remove_dir),
        /* before MPI starts: the child of fork() must not inherit an MPI world */
        cmocka_unit_test_setup_teardown(test_sigkill_keeps_synced_records, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_segments_never_overwrite, make_dir, remove_dir),
        cmocka_unit_test(test_probe_select),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_domains),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL), flag;
    MPI_Initialized(&flag);
    if (flag) MPI_Finalize();
    return rc;
}
