/* The aggregation's building blocks on synthetic traces with known values (tests/fixtures/synth.h): ranks
 * merge to the weighted mean, a step replayed after a restart is kept once (the later record), the H1
 * statistic and verdict follow a run built to satisfy it and one built to violate it, each kind of
 * unusable file is skipped with its reason while the good files of the run are still merged, and a
 * processed run crosses the wire between MPI ranks unchanged, its messages held for rank 0 to say. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netcdf.h>

#include "core/err.h"

#include "analysis/curves.h"
#include "analysis/onerun.h"
#include "analysis/runstats.h"
#include "analysis/ticks.h"
#include "core/metrics.h"
#include "trace/consolidate.h"
#include "core/stats.h"
#include "tests/fixtures/mutate.h"
#include "tests/fixtures/synth.h"
#include "analysis/message.h"

#include "tests/check.h"

static char root[4096];

static int make_root(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/il_agg_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(root) ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int remove_root(void **state)
{
    (void)state;
    return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A small run in <root>/<name> with the given fill callback and options: 13 probe windows in 4 groups on 2
 * ranks, so group 0 holds 4 windows and groups 1-3 hold 3; rank 0 traces groups 0 and 2 (7 windows), rank
 * 1 groups 1 and 3 (6 windows). */
static void make_run(const char *name, synth_fill_fn fill, int restart, int h1, char *dir, size_t n)
{
    snprintf(dir, n, "%s/%s", root, name);
    synth_spec_t sp = {.dir = dir, .name = name, .L = 2, .T = 8, .C = 8, .NH = 2, .V = 16, .n_trace = 6,
                       .interval = 10, .restart = restart, .h1 = h1, .probe_windows = 13, .fill = fill};
    synth_defaults(&sp);
    assert_int_equal(synth_run(&sp), 0);
}

/* group g: norm g + 1, lens 2 (g + 1); rank r: eta 1 + 3r */
static void by_group(const synth_spec_t *sp, const probe_t *p, int rank, int segment, int64_t step, signals_t *s,
                     tracewrite_rec_t *rec)
{
    (void)segment, (void)step, (void)rec;
    size_t D = (size_t)sp->L + 1, T = (size_t)sp->T;
    for (int k = 0; k < p->n_slots; k++) {
        double v = (double)p->slot_group[k] + 1;
        for (size_t i = 0; i < D * T; i++) s->norm[k * D * T + i] = v;
        for (size_t l = 0; l < D; l++) s->lens[k * D + l] = 2 * v;
    }
    for (int l = 0; l < sp->L; l++) s->eta[l] = 1 + 3 * rank;
}

static void test_weighted_merge(void **state)
{
    (void)state;
    char dir[4200];
    make_run("merge", by_group, 0, 1, dir, sizeof dir);
    curves_t c;
    skips_t sk = {0};
    assert_int_equal(curves_load(&c, dir, NULL, &sk), 2);
    assert_int_equal(sk.n, 0);
    assert_int_equal(c.n_rec, 6);
    assert_int_equal(c.G, 4);
    const double windows[4] = {4, 3, 3, 3};
    for (int g = 0; g < 4; g++) assert_near(c.group_windows[g], windows[g], 0);
    size_t D = (size_t)c.L + 1, T = (size_t)c.T;
    /* each group's values, gathered from the rank that traced it, in group order */
    for (int s = 0; s < c.n_rec; s++)
        for (size_t g = 0; g < 4; g++)
            for (size_t i = 0; i < D * T; i++) assert_near(c.v[TV_NORM][(s * 4 + g) * D * T + i], g + 1.0, 0);
    /* run values: group means weighted by windows; a W_WINDOWS variable by each rank's windows */
    const double *norm = curves_run(&c, TV_NORM), *lens = curves_run(&c, TV_LENS), *eta = curves_run(&c, TV_ETA);
    assert_int_equal(curves_run_len(&c, TV_NORM), D * T);
    for (size_t i = 0; i < (size_t)c.n_rec * D * T; i++) assert_near(norm[i], (4 * 1 + 3 * 2 + 3 * 3 + 3 * 4) / 13.0, 1e-12);
    for (size_t i = 0; i < (size_t)c.n_rec * D; i++) {
        assert_near(lens[i], 2 * 31 / 13.0, 1e-12);
        assert_near(c.norm_spread[i], 3, 1e-6);
    }
    for (size_t i = 0; i < (size_t)c.n_rec * c.L; i++) assert_near(eta[i], (7 * 1 + 6 * 4) / 13.0, 1e-6);
    /* grad0 keeps the default 0.1/(1+0.05t) times 1 + 0.01 g */
    assert_near(curves_run(&c, TV_GRAD0)[0], 0.1 * (4 * 1.0 + 3 * 1.01 + 3 * 1.02 + 3 * 1.03) / 13, 1e-7);
    curves_free(&c);
    skips_free(&sk);
}

/* the first launch's records carry loss 100 + step, so a kept duplicate would show */
static void by_segment(const synth_spec_t *sp, const probe_t *p, int rank, int segment, int64_t step, signals_t *s,
                       tracewrite_rec_t *rec)
{
    (void)sp, (void)p, (void)rank, (void)s;
    rec->loss = segment ? (double)step : 100.0 + (double)step;
}

static void test_duplicate_steps(void **state)
{
    (void)state;
    char dir[4200];
    make_run("restart", by_segment, 1, 1, dir, sizeof dir);
    curves_t c;
    skips_t sk = {0};
    assert_int_equal(curves_load(&c, dir, NULL, &sk), 4);
    assert_int_equal(sk.n, 0);
    assert_true(sk.warnings >= 1);
    assert_int_equal(c.n_rec, 6);
    for (int i = 0; i < c.n_rec; i++) {
        assert_int_equal(c.step[i], 10 * i);
        /* steps 0-20 exist only in segment 0; 30-50 were written by both launches */
        assert_near(c.v[TV_LOSS][i], c.step[i] < 30 ? 100.0 + c.step[i] : (double)c.step[i], 0);
    }
    curves_free(&c);
    skips_free(&sk);
}

/* H1 on a run built to satisfy it and one built to violate it: the statistic, its interval, and the
 * first-position ratio against the values synth.h defines. */
static void h1_of(const char *dir, int h1_holds)
{
    curves_t c;
    skips_t sk = {0};
    assert_true(curves_load(&c, dir, NULL, &sk) > 0);
    runstats_t r;
    runstats_compute(&r, &c);
    interval_t v = r.hyp[H1][PH_END];
    if (h1_holds) {
        assert_true(v.est < -0.99);
        assert_true(v.lo <= v.est && v.est <= v.hi && v.hi < 0);
        double rest = 0; /* synth.h: h(t) = 1 + 0.8/(1+t), tripled at t = 0 */
        for (int t = 1; t < c.T; t++) rest += (1 + 0.8 / (1 + t)) / (c.T - 1);
        assert_near(r.first_ratio[c.L], 3 * 1.8 / rest, 1e-3);
    } else {
        assert_true(v.est > 0.99 && v.lo > 0);
    }
    runstats_free(&r);
    curves_free(&c);
    skips_free(&sk);
}

static void test_h1_statistic(void **state)
{
    (void)state;
    char yes[4200], no[4200];
    make_run("h1yes", NULL, 0, 1, yes, sizeof yes);
    make_run("h1no", NULL, 0, -1, no, sizeof no);
    h1_of(yes, 1);
    h1_of(no, 0);
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof buf, a)) > 0;) assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

static void overwrite(const char *path, long off, const char *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

/* A 4-rank run whose ranks 1-3 are damaged in one way each; rank 0 is still merged. */
static void test_bad_files(void **state)
{
    (void)state;
    char dir[4200], good[4300], bad[3][4300];
    make_run("bad", NULL, 0, 1, dir, sizeof dir);
    snprintf(good, sizeof good, "%s/trace/rank0000.seg0000.nc", dir);
    for (int r = 1; r <= 3; r++) snprintf(bad[r - 1], sizeof bad[0], "%s/trace/rank%04d.seg0000.nc", dir, r);
    /* rank 1: truncated to half; rank 2: garbage over its metadata; rank 3 a text file */
    copy_file(good, bad[0]);
    FILE *f = fopen(bad[0], "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(bad[0], size / 2), 0);
    copy_file(good, bad[1]);
    char junk[512];
    memset(junk, 0xff, sizeof junk);
    overwrite(bad[1], 600, junk, sizeof junk);
    f = fopen(bad[2], "w");
    fputs("step,loss\n0,5.0\n", f);
    fclose(f);
    /* rank 4: a NetCDF file of another schema version, and rank 5: a NetCDF file that is no trace */
    char other[4300], foreign[4300];
    snprintf(other, sizeof other, "%s/trace/rank0004.seg0000.nc", dir);
    snprintf(foreign, sizeof foreign, "%s/trace/rank0005.seg0000.nc", dir);
    copy_file(good, other);
    int ncid, next = TRACE_SCHEMA_VERSION + 1;
    CHECK_RC(nc_open(other, NC_WRITE, &ncid), nc_strerror);
    CHECK_RC(nc_redef(ncid), nc_strerror);
    CHECK_RC(nc_put_att_int(ncid, NC_GLOBAL, "trace_schema_version", NC_INT, 1, &next), nc_strerror);
    CHECK_RC(nc_close(ncid), nc_strerror);
    CHECK_RC(nc_create(foreign, NC_NETCDF4, &ncid), nc_strerror);
    CHECK_RC(nc_close(ncid), nc_strerror);

    curves_t c;
    skips_t sk = {0};
    assert_int_equal(curves_load(&c, dir, NULL, &sk), 1);
    assert_int_equal(c.n_rec, 6);
    char version[128];
    snprintf(version, sizeof version, "trace schema version %d; this aggregator reads %d to %d",
             TRACE_SCHEMA_VERSION + 1, TRACE_SCHEMA_OLDEST, TRACE_SCHEMA_VERSION);
    const char *want[][2] = {{bad[0], "truncated: "}, {bad[1], "corrupt: "}, {bad[2], "not a NetCDF file"},
                             {other, version},
                             {foreign, "foreign: no integer global attribute 'trace_schema_version'"}};
    assert_int_equal(sk.n, 5);
    for (int i = 0; i < 5; i++) {
        int found = 0;
        for (int j = 0; j < sk.n; j++)
            found |= !strcmp(sk.e[j].path, want[i][0]) && !strncmp(sk.e[j].reason, want[i][1], strlen(want[i][1]));
        if (!found) fail_msg("no skip entry %s: %s...", want[i][0], want[i][1]);
    }
    curves_free(&c);
    skips_free(&sk);
}

/* A run with a restart (a warning) and a file that is not NetCDF (a skip), processed as a worker rank does,
 * packed and unpacked: packing it again gives the same bytes, and rank 0 gets the entries, the warning count
 * and the held messages verbatim. */
/* Rank 1 of a fresh two-rank run, rewritten with one edit (or renamed), must be skipped with `reason`
 * while rank 0 is still merged; the run's config.ini is the cross-check. */
static void expect_skip(const char *tag, const mutate_edit_t *edit, int data_too, const char *rename_to, const char *reason)
{
    char dir[4200], src[4300], dst[4400];
    snprintf(dir, sizeof dir, "%s/%s", root, tag);
    synth_spec_t sp = {.dir = dir, .name = tag, .L = 2, .T = 8, .C = 8, .NH = 2, .V = 16, .n_trace = 6, .interval = 10,
                       .run_files = 1};
    synth_defaults(&sp);
    assert_int_equal(synth_run(&sp), 0);
    snprintf(src, sizeof src, "%s/trace/rank0001.seg0000.nc", dir);
    if (edit) {
        snprintf(dst, sizeof dst, "%s.edit", src);
        if (mutate_copy(src, dst, edit, 1, data_too)) fail_msg("%s", err_msg());
        assert_int_equal(rename(dst, src), 0);
    }
    if (rename_to) {
        snprintf(dst, sizeof dst, "%s/trace/%s", dir, rename_to);
        assert_int_equal(rename(src, dst), 0);
    }
    config_t cfg;
    config_defaults(&cfg);
    char path[4300];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    assert_int_equal(config_load(&cfg, path), 0);
    curves_t c;
    skips_t sk = {.hold = 1};
    int used = curves_load(&c, dir, &cfg, &sk);
    int found = 0;
    for (int j = 0; j < sk.n; j++) found |= strstr(sk.e[j].reason, reason) != NULL;
    if (!found) fail_msg("%s: no skip entry saying \"%s\" (%d entries, first: %s)", tag, reason, sk.n, sk.n ? sk.e[0].reason : "-");
    assert_int_equal(used, 1);
    assert_int_equal(c.n_rec, 6);
    curves_free(&c);
    skips_free(&sk);
}

/* The hostile files of a review, each skipped with its reason, none a crash, a hang or a huge allocation. */
static void test_hostile_files(void **state)
{
    (void)state;
    const struct {
        const char *tag;
        mutate_edit_t e;
        int data_too;
        const char *reason;
    } cases[] = {
        {"layer3", {.kind = MUT_DIM, .name = "layer", .value = 3}, 1, "dimension 'layer' = 3 is outside [2, 2]"},
        {"layer1000", {.kind = MUT_DIM, .name = "layer", .value = 1000}, 1, "dimension 'layer' = 1000"},
        {"world_huge", {.kind = MUT_ATT_INT, .name = "world_size", .value = 2147483647}, 1, "attribute 'world_size' = 2147483647 is outside"},
        {"world_5e9", {.kind = MUT_ATT_INT, .name = "world_size", .value = 5000000000LL}, 1, "attribute 'world_size' = 5000000000"},
        {"world_0", {.kind = MUT_ATT_INT, .name = "world_size", .value = 0}, 1, "attribute 'world_size' = 0"},
        {"world_neg", {.kind = MUT_ATT_INT, .name = "world_size", .value = -3}, 1, "attribute 'world_size' = -3"},
        {"rank_neg", {.kind = MUT_ATT_INT, .name = "rank", .value = -5}, 1, "attribute 'rank' = -5"},
        {"rank_other", {.kind = MUT_ATT_INT, .name = "rank", .value = 0}, 1, "attributes say rank 0 segment 0, the file name rank 1"},
        {"segment_7", {.kind = MUT_ATT_INT, .name = "segment", .value = 7}, 1, "attributes say rank 1 segment 7, the file name rank 1 segment 0"},
        {"start_neg", {.kind = MUT_ATT_INT, .name = "start_step", .value = -1}, 1, "attribute 'start_step' = -1"},
        {"start_max", {.kind = MUT_ATT_INT, .name = "start_step", .value = INT64_MAX}, 1, "attribute 'start_step' = 9223372036854775807"},
        {"depth_huge", {.kind = MUT_DIM, .name = "depth", .value = 1048576}, 0, "dimension 'depth' = 1048576"},
        {"pos_huge", {.kind = MUT_DIM, .name = "position", .value = 16777216}, 0, "dimension 'position' = 16777216"},
        {"norm_nan", {.kind = MUT_FILL, .name = "norm", .value = 2, .fill = NAN}, 1, "'norm' is NaN at step 20 (record 2), group 1, depth 0, position 0; the schema allows NaN there never"},
        {"seq_other", {.kind = MUT_DIM, .name = "position", .value = 7}, 1, "parameter 'seq_len' = 8 does not match"},
        {"cfg_other", {.kind = MUT_ATT_INT, .name = "world_size", .value = 3}, 1, "parameter 'world_size' = 2 does not match"},
        {"group_other", {.kind = MUT_FILL, .name = "group", .value = 0, .fill = 0}, 1, "group 0 is not traced by rank 1 of 2"},
        {"group_windows", {.kind = MUT_FILL, .name = "group_windows", .value = 1, .fill = 0}, 1, "group 3 has 0 windows"},
        /* values outside their domain (innerloop/schema.h), named with the step and the element */
        {"cos_5", {.kind = MUT_FILL, .name = "cos", .value = 2, .fill = 5}, 1,
         "'cos' = 5 at step 20 (record 2), group 1, layer 0 is outside its domain [-1, 1]"},
        {"norm_neg", {.kind = MUT_FILL, .name = "norm", .value = 1, .fill = -1}, 1, "'norm' = -1 at step 10 (record 1), group 1, depth 0, position 0 is outside"},
        {"norm_inf", {.kind = MUT_FILL, .name = "norm", .value = 1, .fill = -INFINITY}, 1, "'norm' = -inf at step 10"},
        {"norm_3e38", {.kind = MUT_FILL, .name = "norm", .value = 1, .fill = 3e38}, 1, "'norm' = 3e+38 at step 10"},
        {"lens_neg", {.kind = MUT_FILL, .name = "lens", .value = 3, .fill = -3}, 1, "'lens' = -3 at step 30 (record 3), group 1, depth 0 is outside its domain [0, 1000]"},
        {"lens_inf", {.kind = MUT_FILL, .name = "lens", .value = 3, .fill = INFINITY}, 1, "'lens' = inf at step 30"},
        {"sink_2", {.kind = MUT_FILL, .name = "sink", .value = 0, .fill = 2}, 1, "'sink' = 2 at step 0 (record 0), layer 0 is outside its domain [0, 1]"},
        {"rho_freq_7", {.kind = MUT_FILL, .name = "rho_freq", .value = 4, .fill = 7}, 1, "'rho_freq' = 7 at step 40"},
        {"erank_neg", {.kind = MUT_FILL, .name = "erank", .value = 5, .fill = -7}, 1,
         "'erank' = -7 at step 50 (record 5), depth 0 is outside its domain [1, min(probe_windows x seq_len, d_model)] = [1, 8]"},
        {"erank_wide", {.kind = MUT_FILL, .name = "erank", .value = 5, .fill = 9}, 1, "'erank' = 9 at step 50"},
        {"loss_nan", {.kind = MUT_FILL, .name = "loss", .value = 3, .fill = NAN}, 1,
         "'loss' is NaN at step 30 (record 3); the schema allows NaN there only in a launch's first record"},
        /* parameters against the file's own config attribute, and that attribute against itself */
        {"lr_neg", {.kind = MUT_FILL, .name = "lr", .value = 0, .fill = -1}, 1,
         "parameter 'lr' = -1, but its config attribute gives 0.00100000005"},
        {"lr_nan", {.kind = MUT_FILL, .name = "lr", .value = 0, .fill = NAN}, 1, "parameter 'lr' = nan, but"},
        {"seed_other", {.kind = MUT_FILL, .name = "seed", .value = 0, .fill = 7}, 1, "parameter 'seed' = 7, but its config attribute gives"},
        {"name_other", {.kind = MUT_ATT_TEXT, .name = "run_name", .text = "other"}, 1,
         "run_name 'other' differs from its config attribute's run.name 'name_other'"},
        {"config_bad", {.kind = MUT_ATT_TEXT, .name = "config", .text = "[optim]\nlr = -1\n"}, 1,
         "its config attribute is not a valid config: config attribute:2: optim.lr: '-1' is out of range"},
        {"config_other", {.kind = MUT_ATT_TEXT, .name = "config", .text = "[train]\nseed = 5\nmicro_batch = 2\n[trace]\nprobe_windows = 13\nprobe_groups = 4\n[run]\nname = config_other\n"}, 1,
         "parameter 'd_model' = 8, but its config attribute gives 128"},
        {"cos_nan", {.kind = MUT_FILL, .name = "cos", .value = 3, .fill = NAN}, 1, "'cos' is NaN at step 30 (record 3), group 1, layer 0; the schema allows NaN there never"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_skip(cases[i].tag, &cases[i].e, cases[i].data_too, NULL, cases[i].reason);
    /* position 1,000,000 with depth 1,000: two edits, the second on the first's output */
    expect_skip("pos_depth", &(mutate_edit_t){.kind = MUT_DIM, .name = "position", .value = 1000000}, 0, NULL, "dimension 'position' = 1000000");
    /* names: a valid file renamed out of range, and one of 8 digits */
    expect_skip("name_huge", NULL, 1, "rank2147483647.seg0000.nc", "not a trace file name");
    expect_skip("name_8", NULL, 1, "rank99999999.seg0000.nc", "not a trace file name");
    /* a consolidated file of earlier launches (consolidate.h): its name's world size is the file's */
    const mutate_edit_t consolidated = {.kind = MUT_ATT_INT, .name = "segment", .value = -1};
    expect_skip("name_of", &consolidated, 1, "rank0001.of0003.nc", "attributes say world size 2, the file name 3");
    expect_skip("name_of0", &consolidated, 1, "rank0001.of0000.nc", "not a trace file name");
    /* every file against the run's config.ini: another width there refuses them all */
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/name_8", root);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    config_t cfg;
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path), 0);
    /* every parameter, not only the model's: another width, seed, learning rate or run name there */
    const struct {
        const char *set, *reason;
    } other[] = {{"model.d_model=16", "its config attribute differs from the run's config.ini: model.d_model (8, not 16)"},
                 {"train.seed=7", "differs from the run's config.ini: train.seed (1, not 7)"},
                 {"optim.lr=0.5", "differs from the run's config.ini: optim.lr (0.001, not 0.5)"},
                 {"run.name=elsewhere", "run_name 'name_8' is not this run's ('elsewhere' in the run's config.ini)"}};
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        config_t edited = cfg;
        assert_int_equal(config_set(&edited, other[i].set), 0);
        curves_t c;
        skips_t sk = {.hold = 1};
        assert_int_equal(curves_load(&c, dir, &edited, &sk), 0);
        if (!strstr(sk.e[sk.n - 1].reason, other[i].reason)) fail_msg("%s: %s", other[i].set, sk.e[sk.n - 1].reason);
        curves_free(&c);
        skips_free(&sk);
    }
}

/* rank 1's groups (1 and 3): cos_local NaN at every step, as when no lens token falls in them */
static void local_nan_on_rank1(const synth_spec_t *sp, const probe_t *p, int rank, int segment, int64_t step,
                               signals_t *s, tracewrite_rec_t *rec)
{
    (void)segment, (void)step, (void)rec;
    for (int k = 0; rank == 1 && k < p->n_slots; k++)
        for (int l = 0; l < sp->L; l++) s->cos_local[k * sp->L + l] = NAN;
}

/* A per-group variable missing from some groups while others have it is named in a warning: the run value
 * and its interval rest on the other groups alone. */
static void test_nan_groups(void **state)
{
    (void)state;
    char dir[4200];
    make_run("nan_groups", local_nan_on_rank1, 0, 1, dir, sizeof dir);
    curves_t c;
    skips_t sk = {.hold = 1};
    assert_int_equal(curves_load(&c, dir, NULL, &sk), 2);
    assert_int_equal(sk.n, 0);
    assert_int_equal(sk.warnings, 1);
    assert_non_null(strstr(sk.held, "'cos_local' is NaN throughout probe group(s) 1, 3 at step 0 (and at 6 trace step(s) "
                                    "in all) while other groups have values"));
    curves_free(&c);
    skips_free(&sk);
    /* a rank whose file ends earlier (a live run's, synced less far) has no NaN at the later steps: no record */
    char path[4300], edited[4400];
    make_run("short_rank", NULL, 0, 1, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/trace/rank0001.seg0000.nc", dir);
    snprintf(edited, sizeof edited, "%s.edit", path);
    if (mutate_copy(path, edited, &(mutate_edit_t){.kind = MUT_DIM, .name = "step", .value = 4}, 1, 1))
        fail_msg("%s", err_msg());
    assert_int_equal(rename(edited, path), 0);
    sk = (skips_t){.hold = 1};
    assert_int_equal(curves_load(&c, dir, NULL, &sk), 2);
    assert_int_equal(c.n_rec, 6);
    if (sk.n || sk.warnings) fail_msg("%s", sk.held);
    curves_free(&c);
    skips_free(&sk);
}

/* A consolidated file does not mark where its launches began: a NaN loss in one record may be a resumed
 * launch's first, but a loss NaN in every record after step 0 is no trainer's. */
static void test_consolidated_nan_loss(void **state)
{
    (void)state;
    char dir[4200], path[4300], edited[4400];
    for (int all = 0; all <= 1; all++) {
        make_run(all ? "nan_loss_all" : "nan_loss_one", NULL, 0, 1, dir, sizeof dir);
        assert_int_equal(consolidate_run(dir, NULL), 2);
        snprintf(path, sizeof path, "%s/trace/rank0001.nc", dir);
        snprintf(edited, sizeof edited, "%s.edit", path);
        mutate_edit_t e[5];
        for (int r = 0; r < 5; r++) e[r] = (mutate_edit_t){.kind = MUT_FILL, .name = "loss", .value = r + 1, .fill = NAN};
        if (mutate_copy(path, edited, all ? e : e + 2, all ? 5 : 1, 1)) fail_msg("%s", err_msg());
        assert_int_equal(rename(edited, path), 0);
        curves_t c;
        skips_t sk = {.hold = 1};
        assert_int_equal(curves_load(&c, dir, NULL, &sk), 2 - all);
        assert_int_equal(sk.n, all);
        if (all) assert_non_null(strstr(sk.e[0].reason, "'loss' is NaN in every record after its launch's first"));
        curves_free(&c);
        skips_free(&sk);
    }
}

static void write_text_file(const char *dir, const char *name, const char *text)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* metrics.jsonl with the values of a review: each bad line counted with its reason and not taken as data,
 * and a restart that launches.jsonl records kept apart from a reordered file. */
static void test_metrics_domain(void **state)
{
    (void)state;
    char dir[4200], good[2048] = "", line[256];
    snprintf(dir, sizeof dir, "%s/metrics_domain", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    for (int s = 1; s <= 10; s++) {
        snprintf(line, sizeof line, "{\"kind\":\"train\",\"step\":%d,\"loss\":%g,\"lr\":0.001,\"tokens_per_s\":100}\n", s,
                 6.0 - 0.25 * s);
        strcat(good, line);
    }
    write_text_file(dir, "launches.jsonl", "{\"host\":\"h\",\"world_size\":2,\"start_step\":0}\n");
    const struct {
        const char *tail, *reason;
        int bad, out_of_order;
        double step, loss;
    } cases[] = {
        {"{\"kind\":\"train\",\"step\":11,\"loss\":-3}\n", "'loss' = -3 is outside [0, 1000]", 1, 0, 10, 3.5},
        {"{\"kind\":\"train\",\"step\":1e9,\"loss\":3}\n", "'step' = 1e+09 is not a whole number in [1, 12]", 1, 0, 10, 3.5},
        {"{\"kind\":\"train\",\"step\":11,\"loss\":\"abc\"}\n", "'loss' is not a number", 1, 0, 10, 3.5},
        {"{\"kind\":\"val\",\"step\":10,\"val_loss\":1e308}\n", "'val_loss' = 1e+308 is outside [0, 1000]", 1, 0, 10, 3.5},
        {"{\"kind\":\"val\",\"step\":10,\"val_loss\":4,\"by_category\":{\"news\":-1}}\n", "'by_category.news' = -1", 1, 0, 10, 3.5},
        {"{\"kind\":\"train\",\"step\":3,\"loss\":5}\n", "train step 3 after step 10, and launches.jsonl has no later launch", 0, 1, 10, 3.5},
        {"{\"kind\":\"train\",\"step\":11,\"loss\":3.25}\n", NULL, 0, 0, 11, 3.25},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[4096];
        snprintf(text, sizeof text, "%s%s", good, cases[i].tail);
        write_text_file(dir, "metrics.jsonl", text);
        metrics_t m;
        assert_int_equal(metrics_read(&m, dir, 12), 1);
        assert_int_equal(m.bad_lines, cases[i].bad);
        assert_int_equal(m.out_of_order, cases[i].out_of_order);
        if (cases[i].bad && !strstr(m.bad_reason, cases[i].reason)) fail_msg("%zu: %s", i, m.bad_reason);
        if (cases[i].out_of_order && !strstr(m.order_reason, cases[i].reason)) fail_msg("%zu: %s", i, m.order_reason);
        if (cases[i].reason) assert_int_equal(cases[i].bad ? m.first_bad : m.first_out_of_order, 11);
        assert_true(m.have_train && m.train_step == (int64_t)cases[i].step && m.train_loss == cases[i].loss);
    }
    /* reversed: the last line is step 1's, but the run's final record is step 10's */
    char reversed[2048] = "";
    for (int s = 10; s >= 1; s--) {
        snprintf(line, sizeof line, "{\"kind\":\"train\",\"step\":%d,\"loss\":%g}\n", s, 6.0 - 0.25 * s);
        strcat(reversed, line);
    }
    write_text_file(dir, "metrics.jsonl", reversed);
    metrics_t m;
    assert_int_equal(metrics_read(&m, dir, 10), 1);
    assert_int_equal(m.out_of_order, 9);
    assert_int_equal(m.first_out_of_order, 2);
    assert_true(m.train_step == 10 && m.train_loss == 3.5);
    metrics_curves_t mc; /* the loss curves take the same lines */
    assert_int_equal(metrics_curves(&mc, dir), 1);
    assert_true(mc.n == 1 && mc.step[0] == 10);
    metrics_curves_free(&mc);
    /* a resumed run: steps 5.. again after 7, from a second launch that started at step 4 */
    char resumed[4096];
    snprintf(resumed, sizeof resumed, "%.*s", (int)(strstr(good, "{\"kind\":\"train\",\"step\":8,") - good), good);
    strcat(resumed, strstr(good, "{\"kind\":\"train\",\"step\":5,"));
    write_text_file(dir, "metrics.jsonl", resumed);
    write_text_file(dir, "launches.jsonl", "{\"host\":\"h\",\"world_size\":2,\"start_step\":0}\n"
                                           "{\"host\":\"h\",\"world_size\":2,\"start_step\":4}\n");
    assert_int_equal(metrics_read(&m, dir, 10), 1);
    assert_int_equal(m.bad_lines + m.out_of_order, 0);
    assert_true(m.train_step == 10 && m.train_loss == 3.5);
}

/* A world size a file claims names the absent ranks in one entry, whatever its size; so does a consolidated
 * world size. */
static void test_missing_ranks(void **state)
{
    (void)state;
    char dir[4200], f[4300];
    make_run("missing", NULL, 0, 1, dir, sizeof dir);
    for (int r = 0; r < 2; r++) {
        char edited[4400];
        snprintf(f, sizeof f, "%s/trace/rank%04d.seg0000.nc", dir, r);
        snprintf(edited, sizeof edited, "%s.edit", f);
        mutate_edit_t e[2] = {{.kind = MUT_ATT_INT, .name = "world_size", .value = 60000}, {.kind = MUT_ATT_INT, .name = "world_size", .value = 60000}};
        if (mutate_copy(f, edited, e, 1, 1)) fail_msg("%s", err_msg());
        assert_int_equal(rename(edited, f), 0);
    }
    curves_t c;
    skips_t sk = {.hold = 1};
    /* the parameter world_size (2) no longer matches the attribute: both files are refused */
    assert_int_equal(curves_load(&c, dir, NULL, &sk), 0);
    assert_int_equal(sk.n, 2);
    skips_free(&sk);
    curves_free(&c);

    /* the consolidated files of a world size other than the last launch's (rankRRRR.ofPPPP.nc) are a set of
     * their own: rank 1's absent is named, rank 0's is merged */
    char f0[4400], of[4400], f1[4300];
    make_run("missing_of", NULL, 0, 1, dir, sizeof dir);
    snprintf(f, sizeof f, "%s/trace/rank0000.seg0000.nc", dir);
    snprintf(f0, sizeof f0, "%s.edit", f);
    snprintf(of, sizeof of, "%s/trace/rank0000.of0002.nc", dir);
    snprintf(f1, sizeof f1, "%s/trace/rank0001.seg0000.nc", dir);
    if (mutate_copy(f, f0, &(mutate_edit_t){.kind = MUT_ATT_INT, .name = "segment", .value = -1}, 1, 1))
        fail_msg("%s", err_msg());
    assert_int_equal(rename(f0, of), 0);
    assert_int_equal(unlink(f), 0);
    assert_int_equal(unlink(f1), 0);
    sk = (skips_t){.hold = 1};
    assert_int_equal(curves_load(&c, dir, NULL, &sk), 1);
    assert_int_equal(sk.n, 1);
    assert_non_null(strstr(sk.e[0].path, "/trace/rank*.of0002.nc"));
    assert_non_null(strstr(sk.e[0].reason, "missing: the launches of 2 ranks were consolidated, but the files of 1 are "
                                           "absent (rank 1)"));
    skips_free(&sk);
    curves_free(&c);
}

static void test_wire(void **state)
{
    (void)state;
    char dir[4200], junk[4300];
    make_run("wire", by_segment, 1, 1, dir, sizeof dir);
    snprintf(junk, sizeof junk, "%s/trace/rank0002.seg0000.nc", dir);
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fputs("not netcdf\n", f);
    fclose(f);
    onerun_t p, q;
    onerun_process(&p, dir);
    assert_true(p.has_stats);
    assert_int_equal(p.skips.n, 1);
    assert_true(p.skips.warnings >= 1);
    assert_non_null(strstr(p.skips.held, "not a NetCDF file"));
    message_t a = {0}, b = {0};
    message_pack(&a, &p);
    message_unpack(&q, a.b, a.n);
    message_pack(&b, &q);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.b, b.b, a.n);
    assert_string_equal(q.row.name, "wire");
    assert_int_equal(q.row.n_genre, p.row.n_genre);
    assert_memory_equal(q.stat.hyp, p.stat.hyp, sizeof p.stat.hyp);
    for (int k = 0; k < summary_n_curves(); k++) {
        assert_int_equal(q.sum.len[k], p.sum.len[k]);
        assert_memory_equal(q.sum.v[k], p.sum.v[k], p.sum.len[k] * sizeof *p.sum.v[k]);
    }
    skips_t all = {.hold = 1}; /* held, so that the test output stays quiet */
    skips_merge(&all, &q.skips);
    assert_int_equal(all.n, 1);
    assert_int_equal(all.warnings, p.skips.warnings);
    assert_string_equal(all.held, p.skips.held);
    skips_free(&all);
    message_free(&a);
    message_free(&b);
    onerun_free(&p);
    onerun_free(&q);
}

/* The ticks of a few points (analysis/ticks.h), checked for what a reader needs: a log axis of a factor of 10
 * at least, 2 or more ticks inside it, each 1, 2 or 5 x 10^k; a linear axis of 10% at least of its values,
 * 5 to 13 evenly spaced ticks inside it, each told apart at the decimals given. */
static int parse_ticks(const char *buf, double *v)
{
    int n = 0;
    for (char *end; *buf && n < 64; buf = end) v[n++] = strtod(buf, &end);
    return n;
}

static void test_ticks(void **state)
{
    (void)state;
    const double logs[][2] = {{3840, 3840}, {1e5, 1e8}, {1.4e5, 8.7e5}, {7e6, 7.2e6}};
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
        double lo = logs[i][0], hi = logs[i][1], v[64];
        char buf[512];
        int n = ticks_log(&lo, &hi, buf, sizeof buf);
        assert_int_equal(parse_ticks(buf, v), n);
        assert_true(n >= 2 && lo <= logs[i][0] && hi >= logs[i][1] && hi / lo >= 10 * (1 - 1e-12));
        for (int k = 0; k < n; k++) {
            double m = v[k] / pow(10, floor(log10(v[k]) + 1e-12));
            assert_true(v[k] >= lo && v[k] <= hi && (fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9));
            assert_true(!k || v[k] > v[k - 1]);
        }
    }
    const double lins[][2] = {{4.18, 4.18}, {0, 0}, {1, 100}, {5.2801, 5.31}, {-0.02, 0.03}, {2.0702, 2.0703}};
    for (size_t i = 0; i < sizeof lins / sizeof *lins; i++) {
        double lo = lins[i][0], hi = lins[i][1], v[64];
        char buf[512], a[64], b[64];
        int dec, n = ticks_linear(&lo, &hi, buf, sizeof buf, &dec);
        assert_int_equal(parse_ticks(buf, v), n);
        assert_true(n >= 5 && n <= 13 && lo <= lins[i][0] && hi >= lins[i][1]);
        assert_true(hi - lo >= 0.1 * fmax(fabs(lo), fabs(hi)) * (1 - 1e-9) || (hi - lo) >= 0.1 * (1 - 1e-9));
        for (int k = 0; k < n; k++) {
            assert_true(v[k] >= lo && v[k] <= hi);
            if (!k) continue;
            assert_true(fabs((v[k] - v[k - 1]) - (v[1] - v[0])) < 1e-9 * (v[1] - v[0]) + 1e-12);
            snprintf(a, sizeof a, "%.*f", dec, v[k - 1]), snprintf(b, sizeof b, "%.*f", dec, v[k]);
            if (!strcmp(a, b)) fail_msg("ticks %s and %s alike at %d decimals", a, b, dec);
        }
    }
}

static void test_statistics(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4, 5}, up[] = {1, 4, 9, 16, 25}, tie[] = {1, 1, 2, 2, 3};
    assert_near(stats_spearman(x, up, 5), 1, 1e-12);
    /* ranks of tie: 1.5 1.5 3.5 3.5 5 */
    assert_near(stats_spearman(x, tie, 5), 9 / sqrt(90.0), 1e-12);
    assert_true(isnan(stats_spearman(x, up, 2)));
    assert_near(stats_slope(x, up, 5), 6, 1e-12);
    double m[] = {3, NAN, 1, 2};
    assert_near(stats_median(m, 4), 2, 0);

    /* intervals against published values: Clopper-Pearson 3 of 10 and 0 of 10; the t interval of a mean
     * (t(0.975, 4) = 2.776445); the delete-one jackknife of a mean, which is that same interval exactly; a
     * least-squares slope with t(0.975, 3) = 3.182446 */
    double lo, hi, mean;
    /* the median's order-statistic interval against the published ranks (n = 6: 1 and 6, n = 10: 2 and 9,
     * n = 20: 6 and 15), values shuffled with a NaN among them; with 5 values there is none at 95% */
    const int sizes[] = {6, 10, 20}, ranks[] = {1, 2, 6}, shuffle[] = {5, 7, 7}; /* each prime to its size */
    for (int s = 0; s < 3; s++) {
        double v[21];
        for (int i = 0; i < sizes[s]; i++) v[i] = (double)((i * shuffle[s]) % sizes[s] + 1);
        v[sizes[s]] = NAN;
        double med;
        assert_int_equal(stats_median_ci(v, sizes[s] + 1, &med, &lo, &hi), sizes[s]);
        assert_near(med, (sizes[s] + 1) / 2.0, 0);
        assert_near(lo, ranks[s], 0);
        assert_near(hi, sizes[s] + 1 - ranks[s], 0);
    }
    double five[] = {5, 4, 3, 2, 1};
    stats_median_ci(five, 5, &mean, &lo, &hi);
    assert_true(isnan(lo) && isnan(hi));
    /* and its coverage: of 4000 samples of 20 exponential draws, at least 95% of the intervals (95.9% by
     * the binomial, the standard error 0.3%) hold the true median ln 2 */
    int cover = 0;
    unsigned long long st = 88172645463325252ULL;
    for (int r = 0; r < 4000; r++) {
        double v[20];
        for (int i = 0; i < 20; i++) {
            st ^= st << 13, st ^= st >> 7, st ^= st << 17;
            v[i] = -log(((double)(st >> 11) + 0.5) / 9007199254740992.0);
        }
        stats_median_ci(v, 20, &mean, &lo, &hi);
        cover += lo <= log(2.0) && log(2.0) <= hi;
    }
    assert_in_range(cover, 3760, 3880);
    stats_binomial_ci(3, 10, &lo, &hi);
    assert_near(lo, 0.0667395, 1e-6);
    assert_near(hi, 0.6524529, 1e-6);
    stats_binomial_ci(0, 10, &lo, &hi);
    assert_near(lo, 0, 0);
    assert_near(hi, 0.3084971, 1e-6);
    assert_int_equal(stats_mean_ci(x, 5, &mean, &lo, &hi), 5);
    assert_near(lo, 3 - 2.776445 * sqrt(2.5 / 5), 1e-6);
    double rep[5];
    for (int i = 0; i < 5; i++) rep[i] = (15 - x[i]) / 4;
    assert_int_equal(stats_jackknife(3, rep, 5, &lo, &hi), 0);
    assert_near(lo, 3 - 2.776445 * sqrt(2.5 / 5), 1e-6);
    assert_near(hi, 3 + 2.776445 * sqrt(2.5 / 5), 1e-6);
    rep[2] = NAN;
    assert_int_equal(stats_jackknife(3, rep, 5, &lo, &hi), -1);
    assert_true(isnan(lo) && isnan(hi));
    const double fy[] = {2.1, 3.9, 6.2, 7.8, 10.1};
    double slope;
    assert_int_equal(stats_fit(x, fy, 5, &slope, &lo, &hi), 5);
    assert_near(slope, 1.99, 1e-12);
    assert_near(lo, 1.7999393, 1e-6);
    assert_near(hi, 2.1800607, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_weighted_merge),
        cmocka_unit_test(test_duplicate_steps),
        cmocka_unit_test(test_h1_statistic),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_wire),
        cmocka_unit_test(test_hostile_files),
        cmocka_unit_test(test_missing_ranks),
        cmocka_unit_test(test_nan_groups),
        cmocka_unit_test(test_metrics_domain),
        cmocka_unit_test(test_consolidated_nan_loss),
    };
    return cmocka_run_group_tests(tests, make_root, remove_root);
}
