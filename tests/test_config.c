#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/err.h"
#include "core/rng.h"
#include "innerloop/config.h"

#include "tests/tmpdir.h"

/* Loads `text` as a file and expects failure with a message containing "<path>:<line>: " and `part`. */
static void expect_load_error(const char *text, int line, const char *part)
{
    config_t c, before;
    config_defaults(&c);
    before = c;
    const char *path = tmpdir_write("bad.ini", text);
    assert_int_equal(config_load(&c, path), -1);
    char loc[8300];
    snprintf(loc, sizeof loc, "%s:%d: ", path, line);
    assert_msg_has(loc);
    assert_msg_has(part);
    assert_null(strchr(err_msg(), '\n'));
    assert_memory_equal(&c, &before, sizeof c); /* a failed load changes nothing */
}

static void expect_set_error(const char *assignment, const char *part)
{
    config_t c, before;
    config_defaults(&c);
    before = c;
    assert_int_equal(config_set(&c, assignment), -1);
    char loc[1100];
    snprintf(loc, sizeof loc, "--set %s: ", assignment);
    assert_msg_has(loc);
    assert_msg_has(part);
    assert_memory_equal(&c, &before, sizeof c);
}

static void expect_invalid(const config_t *c, int world, const char *part1, const char *part2)
{
    assert_int_equal(config_validate(c, world), -1);
    assert_msg_has(part1);
    assert_msg_has(part2);
}

static void test_defaults(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    assert_int_equal(config_validate(&c, 1), 0);
    assert_int_equal(c.vocab_size, 0);
    assert_int_equal(c.seq_len, 64);
    assert_int_equal(c.n_layer, 4);
    assert_int_equal(c.n_head, 4);
    assert_int_equal(c.d_model, 128);
    assert_int_equal(c.global_batch, 8);
    assert_int_equal(c.micro_batch, 8);
    assert_int_equal(c.max_steps, 1000);
    assert_true(c.seed == 1337);
    assert_int_equal(c.threads, 0);
    assert_true(c.lr == 1e-3f && c.min_lr == 1e-4f && c.weight_decay == 0.1f);
    assert_true(c.beta1 == 0.9f && c.beta2 == 0.95f && c.eps == 1e-8f && c.grad_clip == 1.0f);
    assert_int_equal(c.warmup_steps, 100);
    assert_int_equal(c.eval_interval, 100);
    assert_int_equal(c.eval_batches, 8);
    assert_string_equal(c.name, "run");
    assert_string_equal(c.out_dir, "runs");
    assert_string_equal(c.train_path, "data/brown/train.bin");
    assert_string_equal(c.val_path, "data/brown/val.bin");
    assert_int_equal(c.log_interval, 10);
    assert_int_equal(c.ckpt_interval, 0);
    assert_int_equal(c.keep_ckpts, 3);
}

/* back, read from what config_write() wrote of c, holds c's values bit for bit; having every key written, it
 * was given its warmup, whether c was or not. */
static void assert_read_back(config_t *back, const config_t *c)
{
    assert_int_equal(back->warmup_given, 1);
    back->warmup_given = c->warmup_given;
    assert_memory_equal(back, c, sizeof *back);
}

/* config_write() then config_load() into a struct with other values must give back the same bytes. */
static void roundtrip(const config_t *c)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/rt.ini", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(config_write(c, f), 0);
    assert_int_equal(fclose(f), 0);
    config_t back;
    config_defaults(&back);
    assert_int_equal(config_set(&back, "model.d_model=64"), 0);
    assert_int_equal(config_set(&back, "data.val_path=elsewhere/val.bin"), 0);
    if (config_load(&back, path)) fail_msg("%s", err_msg());
    assert_read_back(&back, c);
    unlink(path);
}

static void test_write_load_roundtrip(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    roundtrip(&c);

    const char *sets[] = {"model.vocab_size=50257", "model.d_model=768", "model.n_head=12",
                          "train.seed=18446744073709551615", "optim.lr=6e-4", "optim.min_lr=6.0000002e-05",
                          "optim.beta2=0.99999", "optim.eps=1.17549435e-38", "optim.weight_decay=0.3333333",
                          "optim.grad_clip=0", "data.train_path=my data/train set.bin", "data.val_path=",
                          "run.name=gpt-2_small.v1", "run.out_dir=/scratch/x y"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (config_set(&c, sets[i])) fail_msg("%s", err_msg());
    assert_int_equal(config_validate(&c, 1), 0);
    roundtrip(&c);

    /* Arbitrary floats, not just short decimals, must come back with identical bits. */
    rng_t r;
    rng_seed(&r, 7);
    for (int i = 0; i < 100; i++) {
        c.beta1 = (float)rng_uniform(&r);
        c.lr = (float)(rng_uniform(&r) * 9.99 + 1e-7);
        c.eps = (float)(rng_uniform(&r) * 1e-6 + 1e-30);
        roundtrip(&c);
    }
}

static void test_ini_syntax_accepted(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    const char *path = tmpdir_write("ok.ini", "# a comment\n; another\n\n[model]\nd_model = 256 ; inline comment\n"
                                     "n_head=8\nd_model = 512\n\n[optim]\nlr: 0.01\n[run]\nname = ok\n");
    if (config_load(&c, path)) fail_msg("%s", err_msg());
    assert_int_equal(c.d_model, 512); /* the later duplicate wins */
    assert_int_equal(c.n_head, 8);
    assert_true(c.lr == 0.01f);
    assert_string_equal(c.name, "ok");
    assert_int_equal(c.seq_len, 64); /* untouched keys keep their value */
}

/* Values longer than inih's 200-byte line read whole, trimmed and with an inline comment cut as inih does
 * for short ones, and a config with one writes and reads back the same. */
static void test_long_values(void **state)
{
    (void)state;
    char path[500], text[2000];
    for (int i = 0; i < 499; i++) path[i] = (char)('a' + i % 26);
    path[499] = '\0';
    snprintf(text, sizeof text, "; %s\n[data]\ntrain_path =   %s   ; a comment\nval_path = %s\n[model]\nd_model = 32\n",
             path, path, path);
    config_t c;
    config_defaults(&c);
    if (config_load(&c, tmpdir_write("long.ini", text))) fail_msg("%s", err_msg());
    assert_string_equal(c.train_path, path);
    assert_string_equal(c.val_path, path);
    assert_int_equal(c.d_model, 32);
    char *written = config_string(&c);
    config_t back;
    config_defaults(&back);
    if (config_load(&back, tmpdir_write("back.ini", written))) fail_msg("%s", err_msg());
    assert_read_back(&back, &c);
    free(written);
    /* a line too long for inih that is neither a comment nor a key is named */
    snprintf(text, sizeof text, "[model]\nd_model = 32\n%s\n", path);
    expect_load_error(text, 3, "line too long");
}

/* Keys renamed since a release still read, so that older run directories resume and older specs submit. */
static void test_renamed_keys(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    const char *path = tmpdir_write("old.ini", "[eval]\neval_interval = 7\neval_batches = 3\n");
    if (config_load(&c, path)) fail_msg("%s", err_msg());
    assert_int_equal(c.eval_interval, 7);
    assert_int_equal(c.eval_batches, 3);
    assert_int_equal(config_set(&c, "eval.eval_interval=9"), 0);
    assert_int_equal(c.eval_interval, 9);
    char *text = config_string(&c); /* written under the new names only */
    assert_non_null(strstr(text, "\ninterval = 9\n"));
    assert_null(strstr(text, "eval_interval"));
    free(text);
}

/* train.overlap_comm, the switch train.allreduce replaced: every saved config of an older run holds it */
static void test_retired_switch(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    assert_string_equal(c.allreduce, "auto");
    const char *path = tmpdir_write("switch.ini", "[train]\noverlap_comm = 0\n");
    if (config_load(&c, path)) fail_msg("%s", err_msg());
    assert_string_equal(c.allreduce, "blocking");
    assert_int_equal(config_set(&c, "train.overlap_comm=1"), 0);
    assert_string_equal(c.allreduce, "overlap");
    assert_int_equal(config_set(&c, "train.allreduce=auto"), 0);
    assert_int_equal(config_validate(&c, 1), 0);
    char *text = config_string(&c); /* written under the new key only */
    assert_non_null(strstr(text, "\nallreduce = auto\n"));
    assert_null(strstr(text, "overlap_comm"));
    free(text);
    /* neither 0 nor 1: the value reaches the new key's check, which names it */
    assert_int_equal(config_set(&c, "train.overlap_comm=2"), 0);
    expect_invalid(&c, 1, "train.allreduce '2'", "auto, overlap or blocking");
    expect_set_error("train.overlap_commx=1", "unknown key 'train.overlap_commx'");
}

static void test_load_errors(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    char missing[8192];
    snprintf(missing, sizeof missing, "%s/none.ini", dir);
    assert_int_equal(config_load(&c, missing), -1);
    assert_msg_has(missing);
    assert_msg_has("cannot open: No such file");

    expect_load_error("[model]\nd_model = 64\nthis line has no equals sign\n", 3, "syntax error");
    expect_load_error("[model\nd_model = 64\n", 1, "syntax error");
    expect_load_error("[model]\nn_head = 4\nwidht = 64\n", 3, "unknown key 'model.widht'");
    expect_load_error("[modle]\nd_model = 64\n", 2, "unknown key 'modle.d_model'");
    expect_load_error("d_model = 64\n", 1, "d_model");
    expect_load_error("[model]\n\nd_model = abc\n", 3, "model.d_model: 'abc' is not an integer");
    expect_load_error("[model]\nd_model = 12x\n", 2, "model.d_model: '12x' is not an integer");
    expect_load_error("[model]\nd_model = 1.5\n", 2, "'1.5' is not an integer");
    expect_load_error("[model]\nd_model = 99999999999999999999\n", 2, "model.d_model: '99999999999999999999' is out of range");
    expect_load_error("[model]\nd_model = 2147483648\n", 2, "is out of range");
    expect_load_error("[model]\nn_layer = 0\n", 2, "model.n_layer: '0' is out of range [1, 1024]");
    expect_load_error("[train]\nseed = -1\n", 2, "train.seed: '-1' is not an unsigned integer");
    expect_load_error("[train]\nseed = 18446744073709551616\n", 2, "train.seed");
    expect_load_error("[optim]\nlr = nan\n", 2, "optim.lr: 'nan' is not a finite number");
    expect_load_error("[optim]\nlr = inf\n", 2, "optim.lr: 'inf'");
    expect_load_error("[optim]\nlr = 1e99\n", 2, "optim.lr: '1e99'");
    expect_load_error("[optim]\nlr = 0.1abc\n", 2, "optim.lr: '0.1abc' is not a number");
    expect_load_error("[optim]\nlr = 0\n", 2, "optim.lr: '0' is out of range (0, 10]");
    expect_load_error("[optim]\nbeta2 = 1\n", 2, "optim.beta2: '1' is out of range [0, 1)");
    expect_load_error("[optim]\nbeta1 =\n", 2, "optim.beta1: '' is not a number");

    char text[800], path[600];
    memset(path, 'p', 520);
    path[520] = '\0';
    snprintf(text, sizeof text, "[data]\ntrain_path = %s\n", path);
    expect_load_error(text, 2, "data.train_path: value has 520 characters; allowed [1, 511]");
    snprintf(text, sizeof text, "[%s]\n[model]\nd_model=1\n", path);
    expect_load_error(text, 1, "line too long");

    /* The first failing line is the one reported, whichever kind of error it is. */
    expect_load_error("[model]\nd_model = x\nno equals\n", 2, "'x' is not an integer");
    expect_load_error("[model]\nno equals\nd_model = x\n", 2, "syntax error");
    expect_load_error("[model]\nd_model = 64\nn_head = 0\nn_layer = 0\n", 3, "model.n_head");
}

static void test_set(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "model.d_model=256"), 0);
    assert_int_equal(c.d_model, 256);
    assert_int_equal(config_set(&c, "optim.lr=3e-4"), 0);
    assert_true(c.lr == 3e-4f);
    assert_int_equal(config_set(&c, "data.val_path="), 0);
    assert_string_equal(c.val_path, "");
    assert_int_equal(config_set(&c, "run.name=a=b"), 0); /* only the first '=' separates */
    assert_string_equal(c.name, "a=b");

    expect_set_error("model.d_model=abc", "model.d_model: 'abc' is not an integer");
    expect_set_error("model.widht=3", "unknown key 'model.widht'");
    expect_set_error("model.d_model", "section.key=value");
    expect_set_error("d_model=3", "section.key=value");
    expect_set_error("run.name=", "run.name: value has 0 characters");
    expect_set_error("run.out_dir=a;b", "run.out_dir");
    expect_set_error("run.out_dir= lead", "run.out_dir");
    expect_set_error("optim.beta1=-0.1", "optim.beta1: '-0.1' is out of range [0, 1)");
    char long_set[700] = "data.train_path=";
    memset(long_set + strlen(long_set), 'x', 600);
    expect_set_error(long_set, "data.train_path: value has 600 characters; allowed [1, 511]");
}

static void test_validate(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    c.d_model = 100;
    c.n_head = 3;
    expect_invalid(&c, 1, "model.d_model (100)", "model.n_head (3)");

    config_defaults(&c);
    c.global_batch = 8;
    c.micro_batch = 4;
    assert_int_equal(config_validate(&c, 2), 0);
    expect_invalid(&c, 3, "train.global_batch (8)", "train.micro_batch (4) x world size (3)");
    expect_invalid(&c, 0, "world size", "0");
    c.micro_batch = 3;
    expect_invalid(&c, 1, "train.global_batch", "train.micro_batch (3)");

    const char *bad_names[] = {"a/b", "..", ".", "x y", "r\xc3\xa9sum\xc3\xa9", ""};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        config_defaults(&c);
        snprintf(c.name, sizeof c.name, "%s", bad_names[i]);
        expect_invalid(&c, 1, "run.name", "");
    }
    config_defaults(&c);
    snprintf(c.name, sizeof c.name, "Run-1_x.2");
    assert_int_equal(config_validate(&c, 1), 0);

    config_defaults(&c);
    c.min_lr = 2e-3f;
    expect_invalid(&c, 1, "optim.min_lr", "optim.lr");
    config_defaults(&c);
    c.warmup_steps = 2000;
    expect_invalid(&c, 1, "optim.warmup_steps", "train.max_steps");
    config_defaults(&c);
    c.vocab_size = 1;
    expect_invalid(&c, 1, "model.vocab_size", "");
    c.vocab_size = 65537;
    expect_invalid(&c, 1, "model.vocab_size", "65536");
    c.vocab_size = 2;
    assert_int_equal(config_validate(&c, 1), 0);
    config_defaults(&c);
    c.beta1 = 1.0f;
    expect_invalid(&c, 1, "optim.beta1", "[0, 1)");
    config_defaults(&c);
    c.grad_clip = NAN;
    expect_invalid(&c, 1, "optim.grad_clip", "finite");
    config_defaults(&c);
    c.eval_batches = 0;
    expect_invalid(&c, 1, "eval.batches", "eval.interval");
    c.eval_interval = 0;
    assert_int_equal(config_validate(&c, 1), 0);
    c.eval_interval = 100;
    c.val_path[0] = '\0';
    assert_int_equal(config_validate(&c, 1), 0);
    config_defaults(&c);
    c.train_path[0] = '\0';
    expect_invalid(&c, 1, "data.train_path", "");

    config_defaults(&c);
    snprintf(c.train_order, sizeof c.train_order, "random");
    expect_invalid(&c, 1, "train.order", "shuffle or lanes");
    config_defaults(&c);
    snprintf(c.allreduce, sizeof c.allreduce, "ring");
    expect_invalid(&c, 1, "train.allreduce 'ring'", "auto, overlap or blocking");
    config_defaults(&c);
    c.trace_probe_groups = c.trace_probe_windows + 1;
    expect_invalid(&c, 1, "trace.probe_groups", "trace.probe_windows");
    config_defaults(&c);
    int P = c.trace_probe_groups + 1;
    c.micro_batch = 1, c.global_batch = P;
    expect_invalid(&c, P, "trace.probe_groups", "world size");
    c.trace_probe_groups = P;
    assert_int_equal(config_validate(&c, P), 0);
    c.trace_probe_groups = P - 1, c.trace_interval = 0; /* untraced: the probe set is never drawn */
    assert_int_equal(config_validate(&c, P), 0);
}

/* An unknown key names the nearest key, wherever it is reported (a file's line, --set), and only when it is
 * near: train.lr is optim.lr in another section, model.d_modle a swap of two letters. */
static void test_did_you_mean(void **state)
{
    (void)state;
    expect_set_error("train.lr=1e-3", "unknown key 'train.lr' (did you mean 'optim.lr'?)");
    expect_set_error("model.d_modle=64", "unknown key 'model.d_modle' (did you mean 'model.d_model'?)");
    expect_set_error("modle.n_layer=2", "(no section [modle]) (did you mean 'model.n_layer'?)");
    expect_load_error("[model]\nd_modle = 64\n", 2, "unknown key 'model.d_modle' (did you mean 'model.d_model'?)");
    expect_load_error("[train]\n\nlr = 1e-3\n", 3, "unknown key 'train.lr' (did you mean 'optim.lr'?)");
    const char *far[] = {"model.zzzzzz=1", "train.warm=3", "optim.learning_rate=1e-3", "foo.bar=1"};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        expect_set_error(far[i], "unknown key");
        if (strstr(err_msg(), "did you mean")) fail_msg("%s: a suggestion for a key near none: %s", far[i], err_msg());
    }
    char buf[160];
    config_suggest_key(buf, sizeof buf, "", "lr"); /* a name without its section, as a sweep spec may give it */
    assert_string_equal(buf, " (did you mean 'optim.lr'?)");
}

/* A warmup not given follows train.max_steps: a tenth of a run shorter than the default warmup, the default
 * otherwise (so every run valid before keeps its warmup); a warmup given is kept, and a run shorter than it is
 * refused naming the key to set and a value that works. */
static void test_warmup_follows_steps(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    const int default_warmup = c.warmup_steps;
    assert_int_equal(default_warmup, 100);
    const int steps[] = {30, 99, 5, 100, 250, 1000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char set[64];
        snprintf(set, sizeof set, "train.max_steps=%d", steps[i]);
        config_defaults(&c);
        if (config_set(&c, set)) fail_msg("%s", err_msg());
        int want = steps[i] < default_warmup ? steps[i] / 10 : default_warmup;
        assert_int_equal(c.warmup_steps, want);
        if (config_validate(&c, 1)) fail_msg("%s: %s", set, err_msg());
    }
    /* the same from a file, in either order of the sections, and back to the default with a longer run */
    config_defaults(&c);
    if (config_load(&c, tmpdir_write("short.ini", "[train]\nmax_steps = 30\n"))) fail_msg("%s", err_msg());
    assert_int_equal(c.warmup_steps, 3);
    assert_int_equal(config_set(&c, "train.max_steps=5000"), 0);
    assert_int_equal(c.warmup_steps, default_warmup);

    /* given, in the file or by --set, before or after max_steps: kept, and refused when above the run */
    const char *given[] = {"[optim]\nwarmup_steps = 50\n[train]\nmax_steps = 800\n",
                           "[train]\nmax_steps = 800\n[optim]\nwarmup_steps = 50\n"};
    for (size_t i = 0; i < 2; i++) {
        config_defaults(&c);
        if (config_load(&c, tmpdir_write("given.ini", given[i]))) fail_msg("%s", err_msg());
        assert_int_equal(c.warmup_steps, 50);
        assert_int_equal(config_set(&c, "train.max_steps=30"), 0);
        assert_int_equal(c.warmup_steps, 50);
        expect_invalid(&c, 1, "optim.warmup_steps (50) is above train.max_steps (30)",
                       "set optim.warmup_steps to at most 30 (e.g. optim.warmup_steps=3,");
        assert_int_equal(config_set(&c, "optim.warmup_steps=3"), 0);
        assert_int_equal(config_validate(&c, 1), 0);
    }
    config_defaults(&c);
    assert_int_equal(config_set(&c, "optim.warmup_steps=100"), 0);
    assert_int_equal(config_set(&c, "train.max_steps=40"), 0);
    expect_invalid(&c, 1, "optim.warmup_steps (100) is above train.max_steps (40)", "optim.warmup_steps=4,");
}

static void test_markdown(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_print_keys_markdown(f);
    assert_int_equal(fclose(f), 0);
    int lines = 0;
    for (char *p = buf; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 2 + 44); /* header, separator, one row per config_t field */
    const char *expect[] = {"| `model.d_model` | int | `128` |", "| `train.seed` | uint64 | `1337` |",
                            "| `optim.lr` | float |", "| `data.val_path` | string | `data/brown/val.bin` |",
                            "| `run.keep_ckpts` | int | `3` |"};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        if (!strstr(buf, expect[i])) fail_msg("markdown lacks \"%s\"", expect[i]);
    free(buf);
}

/* The public key table (innerloop/config.h) is the config's own: every key reads its default back through
 * config_set_key and appears in the documentation's table with its type, and it ends where the table does. */
static void test_public_keys(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0, n = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_print_keys_markdown(f);
    assert_int_equal(fclose(f), 0);
    il_key_t k;
    for (; il_config_key(n, &k) == 0; n++) {
        char key[128], row[256];
        snprintf(key, sizeof key, "%s.%s", k.section, k.name);
        config_t c;
        config_defaults(&c);
        if (config_set_key(&c, key, k.def)) fail_msg("%s = '%s': %s", key, k.def, err_msg());
        snprintf(row, sizeof row, "| `%s` | %s | ", key, k.type);
        if (!strstr(buf, row)) fail_msg("the documentation has no row \"%s\"", row);
        assert_non_null(k.help);
    }
    assert_int_equal(n, 44); /* as test_markdown: one per config_t field */
    assert_int_equal(il_config_key(n + 1, &k), -1);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_write_load_roundtrip),
        cmocka_unit_test(test_ini_syntax_accepted), cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_set),                cmocka_unit_test(test_validate),
        cmocka_unit_test(test_markdown),            cmocka_unit_test(test_renamed_keys),
        cmocka_unit_test(test_retired_switch),
        cmocka_unit_test(test_long_values),        cmocka_unit_test(test_public_keys),
        cmocka_unit_test(test_did_you_mean),        cmocka_unit_test(test_warmup_follows_steps),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
