/* The sweep spec: parsing and its errors, expansion order, content-derived run names, array chunks, and
 * the tables and metrics il-sweep reads back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/metrics.h"
#include "sweep/cancel.h"
#include "sweep/slurm.h"
#include "sweep/status.h"
#include "sweep/submit.h"
#include "sweep/spec.h"
#include "sweep/tsv.h"

#include "tests/tmpdir.h"

/* The name of the default config with model.d_model = 64 (test_names_hash_only_values). */
#define PINNED_NAME "d64-015e0385"

/* Loads `text` as a spec and expands it into runs under "/out". */
static int load_expand(const char *text, spec_t *s, spec_run_t **runs, int *n)
{
    if (spec_load(s, tmpdir_write("spec.ini", text), SPEC_LOAD_ALL)) return -1;
    int rc = spec_expand(s, "/out", runs, n);
    if (rc) spec_free(s);
    return rc;
}

/* `text` must load and expand; a failure reports why. */
#define must_expand(text, s, runs, n)                                                             \
    do {                                                                                          \
        if (load_expand(text, s, runs, n)) fail_msg("expected a valid spec: %s", err_msg());      \
    } while (0)

/* `text` must fail to load or expand, with a message naming "spec.ini:<line>: " (line 0: no line) and
 * `part`, on one line. */
static void expect_error(const char *text, int line, const char *part)
{
    spec_t s;
    spec_run_t *runs;
    int n;
    assert_int_equal(load_expand(text, &s, &runs, &n), -1);
    char loc[64];
    snprintf(loc, sizeof loc, line ? "spec.ini:%d: " : "spec.ini: ", line);
    assert_msg_has(loc);
    assert_msg_has(part);
    assert_null(strchr(err_msg(), '\n'));
}

static void test_expansion_order(void **state)
{
    (void)state;
    spec_t s;
    spec_run_t *r;
    int n;
    must_expand("[sweep]\nname = order\nranks = 2\nthrottle = 3\n"
                                 "[fixed]\nmodel.seq_len = 32\ntrain.micro_batch = 4\n"
                                 "[grid]\nmodel.d_model = 64, 128\nmodel.n_layer = 1,2,3\n"
                                 "[list]\noptim.lr = 1e-3, 2e-3\noptim.min_lr = 1e-4, 2e-4\n",
                                 &s, &r, &n);
    assert_int_equal(n, 2 * 3 * 2);
    assert_int_equal(s.ranks, 2);
    assert_int_equal(s.throttle, 3);
    assert_string_equal(s.launcher, "srun");
    /* the first grid key is the slowest digit, the list the fastest, and list values go together */
    for (int k = 0; k < n; k++) {
        assert_int_equal(r[k].index, k);
        assert_int_equal(r[k].cfg.d_model, k / 6 ? 128 : 64);
        assert_int_equal(r[k].cfg.n_layer, 1 + k / 2 % 3);
        assert_true(r[k].cfg.lr == (k % 2 ? 2e-3f : 1e-3f));
        assert_true(r[k].cfg.min_lr == (k % 2 ? 2e-4f : 1e-4f));
        assert_int_equal(r[k].cfg.seq_len, 32);
        assert_string_equal(r[k].cfg.out_dir, "/out");
        if (config_validate(&r[k].cfg, 2)) fail_msg("run %d: %s", k, err_msg());
    }
    assert_string_equal(r[1].values[2], "0.002"); /* as config_write() spells it */
    for (int a = 0; a < n; a++)
        for (int b = 0; b < a; b++) assert_string_not_equal(r[a].cfg.name, r[b].cfg.name);
    free(r);
    spec_free(&s);
}

static void test_no_axes_is_one_run(void **state)
{
    (void)state;
    spec_t s;
    spec_run_t *r;
    int n;
    must_expand("[sweep]\nname = one\n[fixed]\ntrain.seed = 5\n", &s, &r, &n);
    assert_int_equal(n, 1);
    assert_int_equal((int)r[0].cfg.seed, 5);
    free(r);
    spec_free(&s);
}

/* The check that no two runs are the same experiment probes about 1.5 slots per run: linear in the runs, where
 * comparing each run with every earlier one (n / 2 per run) made 40,000 runs take seconds. Counted, not timed.
 * A duplicate is still found, naming both runs. */
static void test_duplicate_check_is_linear(void **state)
{
    (void)state;
    enum { N = 4000 };
    size_t cap = 64 + 8 * (size_t)N, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap, "[sweep]\nname = big\n[grid]\ntrain.seed = 1");
    for (int i = 2; i <= N; i++) len += (size_t)snprintf(text + len, cap - len, ", %d", i);
    snprintf(text + len, cap - len, "\n");
    spec_t s;
    spec_run_t *r;
    int n;
    unsigned long before = spec_name_probes;
    must_expand(text, &s, &r, &n);
    assert_int_equal(n, N);
    unsigned long probes = spec_name_probes - before;
    if (probes > 3 * (unsigned long)N) fail_msg("%lu probes for %d runs: the duplicate check is not linear", probes, N);
    free(r);
    spec_free(&s);
    free(text);
    expect_error("[sweep]\nname = t\n[grid]\ntrain.seed = 1, 2, 3, 2\n", 0,
                 "runs 1 (train.seed=2) and 3 (train.seed=2) are the same experiment");
}

static void test_names_are_content_derived(void **state)
{
    (void)state;
    spec_t s;
    spec_run_t *r;
    int n;
    char first[CONFIG_STR], other[CONFIG_STR];
    must_expand("[sweep]\nname = a\n[grid]\noptim.lr = 1e-3\nmodel.d_model = 64\n", &s, &r, &n);
    snprintf(first, sizeof first, "%s", r[0].cfg.name);
    assert_non_null(strstr(first, "lr0.001-d64-"));
    free(r);
    spec_free(&s);
    /* another sweep name, spelling, order of keys and out_dir: the same experiment, the same hash */
    must_expand("[sweep]\nname = b\n[fixed]\nmodel.d_model = 64\n[grid]\noptim.lr = 0.001\n", &s, &r, &n);
    free(r);
    assert_int_equal(spec_expand(&s, "/elsewhere", &r, &n), 0);
    snprintf(other, sizeof other, "%s", r[0].cfg.name);
    assert_string_equal(first + strlen(first) - 8, other + strlen(other) - 8);
    free(r);
    /* a different experiment: another hash */
    s.base.seed = 99;
    assert_int_equal(spec_expand(&s, "/out", &r, &n), 0);
    assert_string_not_equal(first + strlen(first) - 8, r[0].cfg.name + strlen(r[0].cfg.name) - 8);
    free(r);
    spec_free(&s);
}

/* A run's name hashes the canonical "key = value" lines: no help text, no layout. The pinned name below
 * changes only when a key is added or removed or a default changes, which changes the experiment. */
static void test_names_hash_only_values(void **state)
{
    (void)state;
    config_t c;
    config_defaults(&c);
    char *text = config_canonical(&c, NULL);
    assert_null(strstr(text, "#"));
    assert_null(strstr(text, ";"));
    assert_null(strstr(text, "["));
    assert_non_null(strstr(text, "model.d_model = 128\n"));
    /* sorted by key, whatever the table's order */
    for (char *line = text, *next; (next = strchr(line, '\n')) && next[1]; line = next + 1)
        assert_true(strncmp(line, next + 1, (size_t)(strchr(next + 1, '\n') - next)) < 0);
    free(text);
    static const char *const place[] = {"run", NULL};
    text = config_canonical(&c, place);
    assert_null(strstr(text, "run."));
    free(text);

    spec_t s;
    spec_run_t *r;
    int n;
    must_expand("[sweep]\nname = a\n[grid]\nmodel.d_model = 64\n", &s, &r, &n);
    char pinned[CONFIG_STR];
    snprintf(pinned, sizeof pinned, "%s", r[0].cfg.name);
    free(r);
    /* a value changes: the name changes */
    s.base.lr = 2e-3f;
    assert_int_equal(spec_expand(&s, "/out", &r, &n), 0);
    assert_string_not_equal(pinned, r[0].cfg.name);
    free(r);
    spec_free(&s);
    print_message("pinned name of the default config with d_model = 64: %s\n", pinned);
    assert_string_equal(pinned, PINNED_NAME);
}

/* The [sweep] keys' defaults and documentation come from the one table: a spec that gives only a name gets
 * them all, and the Markdown names each key with its default and keeps a '|' of a pattern inside its cell. */
static void test_key_table(void **state)
{
    (void)state;
    spec_t s;
    spec_run_t *r;
    int n;
    must_expand("[sweep]\nname = d\n", &s, &r, &n);
    assert_int_equal(s.ranks, 1);
    assert_int_equal(s.cpus_per_task, 1);
    assert_int_equal(s.throttle, 0);
    assert_int_equal(s.signal_seconds, 60);
    assert_int_equal(s.requeue, 1);
    assert_int_equal(s.exclusive, 0);
    assert_int_equal(s.aggregate_ntasks, 1);
    assert_int_equal(s.ntasks_per_node, 0);
    assert_string_equal(s.out_dir, "sweeps");
    assert_string_equal(s.time, "01:00:00");
    assert_string_equal(s.aggregate_time, "00:30:00");
    assert_string_equal(s.launcher, "srun");
    assert_string_equal(s.mpi, "default");
    assert_string_equal(s.partition, "");
    free(r);
    spec_free(&s);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    spec_print_keys_markdown(f);
    fclose(f);
    const char *expect[] = {"| key | type | default | meaning |\n", "| `sweep.ranks` | int | `1` | ",
                            "Range [1, 65536]. |\n", "| `sweep.requeue` | yes/no | `yes` | ",
                            "| `sweep.partition` | string | none | ", "avx512&ib (letters, digits and _.:,&\\|*()[]). |\n",
                            "| `sweep.sbatch_args` | words | none | ", "| `sweep.check_paths` | yes/no | `yes` | "};
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        if (!strstr(text, expect[i])) fail_msg("markdown lacks \"%s\"", expect[i]);
    int rows = 0;
    for (const char *p = text; (p = strstr(p, "\n| `sweep.")); p++) rows++;
    assert_int_equal(rows, 26);
    free(text);
}

static void test_site_keys(void **state)
{
    (void)state;
    spec_t s;
    spec_run_t *r;
    int n;
    must_expand("[sweep]\nname = site\nmem = 4G\ngres = gpu:a100:2\nconstraint = avx512&ib\nnodes = 2\n"
                "ntasks_per_node = 1\nexclusive = yes\nmpi = pmi2\nmail_type = END,FAIL\nmail_user = me@example.org\n"
                "sbatch_args = --reservation=r1  --comment=x\naggregate_ntasks = 4\naggregate_time = 2:00:00\n"
                "aggregate_mem = 16G\n",
                &s, &r, &n);
    assert_string_equal(s.mem, "4G");
    assert_string_equal(s.gres, "gpu:a100:2");
    assert_string_equal(s.constraint, "avx512&ib");
    assert_string_equal(s.nodes, "2");
    assert_int_equal(s.ntasks_per_node, 1);
    assert_int_equal(s.exclusive, 1);
    assert_string_equal(s.mpi, "pmi2");
    assert_int_equal(s.n_sbatch_args, 2);
    assert_string_equal(s.sbatch_args[0], "--reservation=r1");
    assert_string_equal(s.sbatch_args[1], "--comment=x");
    assert_int_equal(s.aggregate_ntasks, 4);
    assert_string_equal(s.aggregate_time, "2:00:00");
    free(r);
    spec_free(&s);
    expect_error("[sweep]\nname = e\nmem = 4 GB\n", 3, "sweep.mem: '4 GB': use a size such as 4G");
    expect_error("[sweep]\nname = e\nmpi = cray\n", 3, "sweep.mpi: 'cray': use default, none, pmi2 or pmix");
    expect_error("[sweep]\nname = e\nlauncher = mpirun\nmpi = pmix\n", 4, "sweep.mpi: 'pmix' is srun's --mpi");
    expect_error("[sweep]\nname = e\nconstraint = a;b\n", 3, "sweep.constraint");
    expect_error("[sweep]\nname = e\nexclusive = 1\n", 3, "sweep.exclusive: '1': use yes or no");
    expect_error("[sweep]\nname = e\nsbatch_args = --comment=$(id)\n", 3, "sweep.sbatch_args: '--comment=$(id)'");
    expect_error("[sweep]\nname = e\nsbatch_args = --time=5\n", 3, "set --time with sweep.time");
    expect_error("[sweep]\nname = e\nsbatch_args = --arr=1-3\n", 3, "il-sweep passes --array itself");
    expect_error("[sweep]\nname = e\nsbatch_args = -p big\n", 3, "words of the form --name");
    expect_error("[sweep]\nname = e\nsbatch_args = --clusters=other\n", 3, "sweep.sbatch_args: '--clusters=other'");
    expect_error("[sweep]\nname = e\nmem = 1G\nmem = 2G\n", 4, "sweep.mem given twice");
    expect_error("[sweep]\nname = e\nfrobnicate = 1\n", 3, "unknown key 'sweep.frobnicate'");
}

/* ${VAR} in path values is expanded when the spec is read; an unset one names the key. */
static void test_environment(void **state)
{
    (void)state;
    setenv("IL_TEST_SCRATCH", "/scratch/me", 1);
    unsetenv("IL_TEST_UNSET");
    spec_t s;
    spec_run_t *r;
    int n;
    must_expand("[sweep]\nname = env\nout_dir = ${IL_TEST_SCRATCH}/sweeps\n[fixed]\n"
                "data.train_path = ${IL_TEST_SCRATCH}/data/train.bin\ndata.val_path = $HOME/v.bin\n",
                &s, &r, &n);
    assert_string_equal(s.out_dir, "/scratch/me/sweeps");
    assert_string_equal(r[0].cfg.train_path, "/scratch/me/data/train.bin");
    assert_string_equal(r[0].cfg.val_path, "$HOME/v.bin"); /* only ${NAME} is a variable */
    free(r);
    spec_free(&s);
    expect_error("[sweep]\nname = e\nout_dir = ${IL_TEST_UNSET}/x\n", 3, "sweep.out_dir: ${IL_TEST_UNSET} is not set");
    expect_error("[sweep]\nname = e\n[fixed]\ndata.train_path = ${IL_TEST_UNSET}/t.bin\n", 4,
                 "data.train_path: ${IL_TEST_UNSET} is not set");
    /* not a path: the value is checked as written, unexpanded */
    expect_error("[sweep]\nname = e\n[fixed]\ntrain.order = ${IL_TEST_SCRATCH}\n", 4, "train.order: value has 18 characters"); /* 18: ${IL_TEST_SCRATCH} itself */
}

static void test_verbatim_values(void **state)
{
    (void)state;
    spec_t s;
    spec_run_t *r;
    int n;
    must_expand("[sweep]\nname = v\n[grid]\ndata.val_path = $(rm -rf ~), `id`\n", &s, &r, &n);
    assert_string_equal(r[0].cfg.val_path, "$(rm -rf ~)");
    assert_string_equal(r[1].cfg.val_path, "`id`");
    /* the name keeps only letters, digits, '.' and '_' of a value */
    assert_int_equal(strspn(r[0].cfg.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"),
                     strlen(r[0].cfg.name));
    free(r);
    spec_free(&s);
}

static void test_errors_name_the_line(void **state)
{
    (void)state;
    expect_error("[sweep]\nname = e\n[fixed]\nmodel.widht = 3\n", 4, "unknown key 'model.widht'");
    expect_error("[sweep]\nname = e\n[grid]\nmodel.d_model = 64, x\n", 4, "model.d_model: 'x' is not an integer");
    expect_error("[sweep]\nname = e\n[grid]\nmodel.d_model =\n", 4, "empty list of values");
    expect_error("[sweep]\nname = e\n[grid]\nmodel.d_model = 8, ,16\n", 4, "empty value in the list");
    expect_error("[sweep]\nname = e\n[list]\noptim.lr = 1e-3\noptim.min_lr = 1e-4, 2e-4\n", 5,
                 "has 2 values, but the list key optim.lr (line 4) has 1");
    expect_error("[sweep]\nname = e\nname = f\n", 3, "sweep.name given twice (first at line 2)");
    expect_error("[sweep]\nname = e\nthrottle = -1\n", 3, "sweep.throttle");
    expect_error("[sweep]\nname = e\npartition = a b\n", 3, "sweep.partition");
    expect_error("[sweep]\nname = e\n[fixed]\nrun.out_dir = x\n", 4, "set by il-sweep");
    expect_error("model.d_model = 3\n", 1, "outside any section");
    expect_error("[sweep]\nname = e\n[grid\n", 3, "syntax error");
    expect_error("[sweep]\nranks = 1\n", 0, "[sweep] has no name");
    expect_error("[sweep]\nname = e\n[grid]\nmodel.n_head = 3\n", 0, "model.d_model (128) is not divisible");
    expect_error("[sweep]\nname = e\n[grid]\ntrain.seed = 1, 01\n", 0, "are the same experiment");
}

/* A list longer than inih's 200-byte line reads whole, also as the last line of a file without a final
 * newline, where it once was dropped: 200 seeds make 200 runs. */
static void test_long_lines(void **state)
{
    (void)state;
    char text[2000];
    int len = snprintf(text, sizeof text, "[sweep]\nname = long\n[grid]\ntrain.seed = ");
    for (int i = 1; i <= 200; i++) len += snprintf(text + len, sizeof text - (size_t)len, "%s%d", i > 1 ? ", " : "", i);
    spec_t s;
    spec_run_t *r;
    int n;
    must_expand(text, &s, &r, &n);
    assert_int_equal(n, 200);
    assert_int_equal((int)r[199].cfg.seed, 200);
    free(r);
    spec_free(&s);
    /* the same with a newline and a key after it */
    snprintf(text + len, sizeof text - (size_t)len, "\n[fixed]\nmodel.d_model = 64\n");
    must_expand(text, &s, &r, &n);
    assert_int_equal(n, 200);
    assert_int_equal(r[0].cfg.d_model, 64);
    free(r);
    spec_free(&s);
}

static void test_chunks(void **state)
{
    (void)state;
    int all[10], sparse[] = {1, 2, 5, 9};
    for (int i = 0; i < 10; i++) all[i] = i;
    slurm_chunk_t *c;
    assert_int_equal(slurm_chunks(all, 10, 4, &c), 3);
    assert_int_equal(c[0].offset, 0);
    assert_string_equal(c[0].spec, "0-3");
    assert_int_equal(c[1].offset, 4);
    assert_string_equal(c[1].spec, "0-3");
    assert_int_equal(c[2].offset, 8);
    assert_string_equal(c[2].spec, "0-1");
    free(c);
    assert_int_equal(slurm_chunks(sparse, 4, 4, &c), 3);
    assert_string_equal(c[0].spec, "1-2");
    assert_int_equal(c[1].offset, 4);
    assert_string_equal(c[1].spec, "1");
    assert_string_equal(c[2].spec, "1");
    free(c);
    assert_int_equal(slurm_chunks(sparse, 4, 1001, &c), 1);
    assert_string_equal(c[0].spec, "1-2,5,9");
    int ids[8];
    assert_int_equal(slurm_parse_ids(c[0].spec, ids, 8), 4);
    assert_memory_equal(ids, sparse, sizeof sparse);
    free(c);
    assert_int_equal(slurm_parse_ids("3-1", ids, 8), -1);
    assert_int_equal(slurm_parse_ids("1,x", ids, 8), -1);
    assert_int_equal(slurm_parse_ids("0-9", ids, 8), -1); /* more than fit */
}

/* The commands are library code: a bad sweep directory or spec comes back as SWEEPDIR_EINPUT with the message
 * in err_msg(), for il-sweep's main to say and map to its exit code; nothing is printed on stderr. */
static void test_commands_return_errors(void **state)
{
    (void)state;
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no-such-sweep", dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    FILE *err = tmpfile();
    assert_non_null(err);
    dup2(fileno(err), STDERR_FILENO);
    int rc[] = {status_print(missing, ~0u, STATUS_TABLE), status_summary(missing), cancel_sweep(missing, 1),
                submit_failed(missing, 1), submit_spec(missing, NULL, 1, 0)};
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    for (size_t i = 0; i < sizeof rc / sizeof *rc; i++) assert_int_equal(rc[i], SWEEPDIR_EINPUT);
    assert_msg_has("no-such-sweep");
    assert_int_equal(ftell(err), 0);
    fclose(err);
}

static void test_tsv(void **state)
{
    (void)state;
    tsv_t t;
    assert_int_equal(tsv_read(&t, tmpdir_write("t.tsv", "index\trun\tk\n0\ta\t1\n1\tb\t$(x)\n")), 0);
    assert_int_equal(t.rows, 3);
    assert_int_equal(t.cols, 3);
    assert_string_equal(t.cell[2 * 3 + 2], "$(x)");
    tsv_free(&t);
    assert_int_equal(tsv_read(&t, tmpdir_write("t.tsv", "index\trun\n0\ta\textra\n")), -1);
    assert_msg_has("t.tsv:2: 3 cells, but the header has 2");
}

static void test_metrics(void **state)
{
    (void)state;
    metrics_t m;
    assert_int_equal(metrics_read(&m, "/nonexistent", 0), 0);
    tmpdir_write("metrics.jsonl", "{\"kind\":\"val\",\"step\":0,\"val_loss\":5.5,\"by_category\":{}}\n"
                          "{\"kind\":\"train\",\"step\":1,\"loss\":4.25,\"lr\":0.1}\n"
                          "{\"kind\":\"train\",\"step\":2,\"loss\":3.5,\"lr\":0.1}\n"
                          "{\"kind\":\"val\",\"step\":2,\"val_loss\":3.75,\"by_category\":{}}\n");
    assert_int_equal(metrics_read(&m, dir, 0), 1);
    assert_int_equal((int)m.train_step, 2);
    assert_true(m.train_loss == 3.5);
    assert_true(m.have_val && m.val_loss == 3.75);
    /* a train line without a loss is no trainer's: counted, not used */
    tmpdir_write("metrics.jsonl", "{\"kind\":\"train\",\"step\":7,\"loss\":null}\n");
    assert_int_equal(metrics_read(&m, dir, 0), 1);
    assert_int_equal(m.bad_lines, 1);
    assert_true(!m.have_train && isnan(m.train_loss) && !m.have_val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expansion_order),   cmocka_unit_test(test_no_axes_is_one_run),
        cmocka_unit_test(test_duplicate_check_is_linear),
        cmocka_unit_test(test_names_are_content_derived), cmocka_unit_test(test_names_hash_only_values),
        cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_site_keys),         cmocka_unit_test(test_environment),
        cmocka_unit_test(test_verbatim_values),
        cmocka_unit_test(test_errors_name_the_line), cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_commands_return_errors),
        cmocka_unit_test(test_tsv),               cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
