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
#include "trace/signals.h"
#include "trace/tracer.h"
#include "trace/twrite.h"

#include "check.h"

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
    signals_t s;
    config_t cfg;
    twrite_meta_t info;
    char *text;
} fixture_t;

static const uint64_t counts[10] = {0, 1, 5, 9, 17, 40, 100, 3, 2, 1};

static void fixture_open(fixture_t *f, int segment)
{
    const gpt_dims_t d = {.V = 10, .T = 6, .L = 2, .NH = 2, .C = 8};
    const signals_opts_t o = {.lens = 1, .local = 1, .pos_stride = 2, .n_sv = 3};
    gpt_create(&f->m, &d, 2, &kernels_fast);
    signals_create(&f->s, &d, 2, counts, &o);
    config_defaults(&f->cfg);
    snprintf(f->cfg.name, sizeof f->cfg.name, "roundtrip");
    f->cfg.d_model = 8, f->cfg.seed = 4242;
    f->text = config_string(&f->cfg);
    f->info = (twrite_meta_t){.dir = dir, .segment = segment, .rank = 3, .world_size = 4, .start_step = 100,
                              .sync_every = 2, .interval = 50, .log_spaced = 1, .run_name = f->cfg.name,
                              .seed = f->cfg.seed, .config_text = f->text, .command = "test_trace"};
    tracer_params(f->info.param, &f->cfg, &d, 4);
}

static void fixture_close(fixture_t *f)
{
    signals_destroy(&f->s);
    gpt_destroy(&f->m);
    free(f->text);
}

/* Distinct values in every signal array, one NaN among them: record r gets offset r. */
static void fill_signals(signals_t *s, int r)
{
    rng_t g;
    rng_seed(&g, 100 + (uint64_t)r);
    size_t LT = (size_t)s->L * s->T;
    double *arrays[] = {s->update, s->update_attn, s->update_mlp, s->cos, s->cos_attn, s->cos_mlp, s->cos_local};
    for (size_t a = 0; a < sizeof arrays / sizeof *arrays; a++)
        for (size_t i = 0; i < LT; i++) arrays[a][i] = r + rng_uniform(&g);
    for (int i = 0; i < (s->L + 1) * s->T; i++) s->norm[i] = r + rng_uniform(&g);
    for (int l = 0; l < s->L; l++) s->eta[l] = r + 1.5 * l, s->eta_attn[l] = r - l, s->eta_mlp[l] = r * 0.5 + l,
                                     s->sink[l] = 0.1 * r + l;
    for (int l = 0; l <= s->L; l++) s->lens[l] = 3 - 0.1 * l + r, s->erank[l] = 2.5 + r + l;
    for (int i = 0; i < (s->L + 1) * s->n_bucket; i++) s->norm_bucket[i] = rng_uniform(&g) + r;
    for (int k = 0; k < s->n_bucket; k++) s->bucket_tokens[k] = k * 3 + r;
    for (int t = 0; t < s->T; t++) s->grad0[t] = 1e-3 * (t + 1) + r;
    for (int i = 0; i < (s->L + 1) * s->opt.n_sv; i++) s->sv[i] = 1e4 / (i + 1) + r + 1e-9 * i;
    for (int g2 = 0; g2 < SIGNALS_N_GROUPS; g2++) s->wnorm[g2] = 10 * g2 + r;
    s->cos_local[1] = NAN;
    s->tokens = 12 + r, s->batch = 2;
}

static twrite_rec_t record(int r)
{
    return (twrite_rec_t){.step = 100 + 10 * r, .loss = 5.0 - r, .lr = 1e-3 * (r + 1), .grad_norm = 0.7 + r,
                            .tokens_per_s = 1e5 + r, .step_time = 0.25 + r, .val_loss = r == 1 ? 4.5 : NAN};
}

static void check_var(int ncid, const char *name, size_t rec, const double *want, size_t n, nc_type stored)
{
    int varid, nd;
    CHECK_RC(nc_inq_varid(ncid, name, &varid), nc_strerror);
    CHECK_RC(nc_inq_varndims(ncid, varid, &nd), nc_strerror);
    size_t start[3] = {rec, 0, 0}, count[3] = {1, 1, 1};
    int dims[3];
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
    twrite_t tr;
    assert_int_equal(twrite_open(&tr, &f.info, &f.s), 0);
    for (int r = 0; r < 3; r++) {
        fill_signals(&f.s, r);
        twrite_rec_t rec = record(r);
        assert_int_equal(twrite_record(&tr, &rec, &f.s), 0);
    }
    assert_int_equal(tr.n_synced, 2); /* sync_every 2: synced after the second record */
    assert_int_equal(twrite_close(&tr), 0);

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
    size_t L = (size_t)s->L, T = (size_t)s->T, K = (size_t)s->n_bucket, S = (size_t)s->opt.n_sv;
    for (int r = 0; r < 3; r++) {
        fill_signals(&f.s, r);
        twrite_rec_t rec = record(r);
        const struct {
            const char *name;
            const double *v;
            size_t n;
            nc_type type;
        } sig[] = {
            {"norm", s->norm, (L + 1) * T, NC_FLOAT},       {"update", s->update, L * T, NC_FLOAT},
            {"update_attn", s->update_attn, L * T, NC_FLOAT}, {"update_mlp", s->update_mlp, L * T, NC_FLOAT},
            {"cos", s->cos, L * T, NC_FLOAT},               {"cos_attn", s->cos_attn, L * T, NC_FLOAT},
            {"cos_mlp", s->cos_mlp, L * T, NC_FLOAT},       {"cos_local", s->cos_local, L * T, NC_FLOAT},
            {"eta", s->eta, L, NC_FLOAT},                   {"eta_attn", s->eta_attn, L, NC_FLOAT},
            {"eta_mlp", s->eta_mlp, L, NC_FLOAT},           {"lens", s->lens, L + 1, NC_FLOAT},
            {"norm_bucket", s->norm_bucket, (L + 1) * K, NC_FLOAT}, {"grad0", s->grad0, T, NC_FLOAT},
            {"sink", s->sink, L, NC_FLOAT},                 {"singular_value", s->sv, (L + 1) * S, NC_DOUBLE},
            {"erank", s->erank, L + 1, NC_DOUBLE},          {"loss", &rec.loss, 1, NC_DOUBLE},
            {"val_loss", &rec.val_loss, 1, NC_DOUBLE},      {"lr_schedule", &rec.lr, 1, NC_DOUBLE},
            {"grad_norm", &rec.grad_norm, 1, NC_DOUBLE},    {"tokens_per_s", &rec.tokens_per_s, 1, NC_DOUBLE},
            {"step_time", &rec.step_time, 1, NC_DOUBLE},    {"wnorm_embed", &s->wnorm[SIGNALS_GROUP_EMBED], 1, NC_DOUBLE},
            {"wnorm_attn", &s->wnorm[SIGNALS_GROUP_ATTN], 1, NC_DOUBLE}, {"wnorm_mlp", &s->wnorm[SIGNALS_GROUP_MLP], 1, NC_DOUBLE},
            {"wnorm_ln", &s->wnorm[SIGNALS_GROUP_LN], 1, NC_DOUBLE},
        };
        for (size_t i = 0; i < sizeof sig / sizeof *sig; i++) check_var(ncid, sig[i].name, (size_t)r, sig[i].v, sig[i].n, sig[i].type);
        double ints[] = {(double)rec.step, (double)s->tokens, (double)s->batch};
        check_var(ncid, "step", (size_t)r, &ints[0], 1, NC_INT64);
        check_var(ncid, "tokens", (size_t)r, &ints[1], 1, NC_INT64);
        check_var(ncid, "batch", (size_t)r, &ints[2], 1, NC_INT);
        double bt[64];
        for (size_t k = 0; k < K; k++) bt[k] = (double)s->bucket_tokens[k];
        check_var(ncid, "bucket_tokens", (size_t)r, bt, K, NC_INT64);
    }

    /* every variable is described; record variables are chunked one record at a time */
    int nvars;
    CHECK_RC(nc_inq_nvars(ncid, &nvars), nc_strerror);
    for (int v = 0; v < nvars; v++) {
        char name[NC_MAX_NAME + 1];
        int nd, dims[3], storage, shuffle, deflate, level;
        size_t len, chunk[3];
        CHECK_RC(nc_inq_varname(ncid, v, name), nc_strerror);
        if (nc_inq_attlen(ncid, v, "long_name", &len) || nc_inq_attlen(ncid, v, "units", &len))
            fail_msg("variable %s lacks long_name or units", name);
        CHECK_RC(nc_inq_varndims(ncid, v, &nd), nc_strerror);
        CHECK_RC(nc_inq_vardimid(ncid, v, dims), nc_strerror);
        if (nd == 0 || dims[0] != dimid) continue;
        CHECK_RC(nc_inq_var_chunking(ncid, v, &storage, chunk), nc_strerror);
        assert_int_equal(storage, NC_CHUNKED);
        assert_int_equal(chunk[0], 1);
        CHECK_RC(nc_inq_var_deflate(ncid, v, &shuffle, &deflate, &level), nc_strerror);
        assert_int_equal(deflate, nd > 1);
    }

    /* provenance: attributes and sweep scalars */
    int version, rank, segment;
    long long start, d_model, n_params, bucket[64];
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
    CHECK_RC(nc_inq_varid(ncid, "bucket", &varid), nc_strerror);
    CHECK_RC(nc_get_var_longlong(ncid, varid, bucket), nc_strerror);
    for (size_t k = 0; k < K; k++) assert_int_equal(bucket[k], s->bucket_lo[k]);
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
        twrite_t tr;
        if (twrite_open(&tr, &f.info, &f.s)) _exit(3);
        for (int r = 0; r < 203; r++) {
            if (r == 3 && twrite_sync(&tr)) _exit(5);
            fill_signals(&f.s, r);
            twrite_rec_t rec = record(r);
            if (twrite_record(&tr, &rec, &f.s)) _exit(5);
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
        twrite_rec_t rec = record(r);
        double st = (double)rec.step;
        check_var(ncid, "step", (size_t)r, &st, 1, NC_INT64);
        check_var(ncid, "norm", (size_t)r, f.s.norm, (size_t)(f.s.L + 1) * f.s.T, NC_FLOAT);
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
    twrite_t tr;
    assert_int_equal(twrite_open(&tr, &f.info, &f.s), 0);
    fill_signals(&f.s, 0);
    twrite_rec_t rec = record(0);
    assert_int_equal(twrite_record(&tr, &rec, &f.s), 0);
    assert_int_equal(twrite_close(&tr), 0);
    assert_int_equal(tracer_segment(sub, MPI_COMM_WORLD, &seg), 0);
    assert_int_equal(seg, 1);

    assert_int_equal(twrite_open(&tr, &f.info, &f.s), -1);
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

static void test_schedule(void **state)
{
    (void)state;
    /* interval 50 over 1000 steps: 0, 50, ..., 950 and the last, 999 */
    int n = 0;
    for (int s = 0; s < 1000; s++) n += tracer_due(s, 1000, 50, 0);
    assert_int_equal(n, 21);
    assert_true(tracer_due(999, 1000, 50, 0));
    assert_false(tracer_due(1000, 1000, 50, 0));
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
    for (int s = 0; s < 100; s++) n += tracer_due(s, 100, 0, 0);
    assert_int_equal(n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, make_dir, remove_dir),
        /* before MPI starts: the child of fork() must not inherit an MPI world */
        cmocka_unit_test_setup_teardown(test_sigkill_keeps_synced_records, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_segments_never_overwrite, make_dir, remove_dir),
        cmocka_unit_test(test_schedule),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL), flag;
    MPI_Initialized(&flag);
    if (flag) MPI_Finalize();
    return rc;
}
