/* The trainer end to end, in process: it learns a source of known entropy, checkpoints round-trip, and a
 * stopped-and-resumed run ends bit-identical to a straight one. */
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
#include "core/rng.h"
#include "data/shard.h"
#include "run/snapshot.h"
#include "run/trainer.h"

enum { K = 5 }; /* alphabet of the Markov source */

/* Transition matrix with clearly unequal rows, so the entropy rate sits well below log K and a model that
 * only learned unigram frequencies would miss it by far more than the tolerance. */
static void markov_matrix(double P[K][K])
{
    static const double w[K][K] = {{8, 1, 1, 0.5, 0.5}, {1, 1, 6, 1, 1}, {0.2, 3, 0.2, 3, 0.2},
                                   {1, 1, 1, 1, 1},     {5, 0.1, 0.1, 0.1, 5}};
    for (int i = 0; i < K; i++) {
        double s = 0;
        for (int j = 0; j < K; j++) s += w[i][j];
        for (int j = 0; j < K; j++) P[i][j] = w[i][j] / s;
    }
}

/* H = -sum_i pi_i sum_j P_ij log P_ij in nats, pi the stationary distribution (power iteration). */
static double entropy_rate(double P[K][K])
{
    double pi[K], next[K];
    for (int i = 0; i < K; i++) pi[i] = 1.0 / K;
    for (int it = 0; it < 10000; it++) {
        for (int j = 0; j < K; j++) {
            next[j] = 0;
            for (int i = 0; i < K; i++) next[j] += pi[i] * P[i][j];
        }
        memcpy(pi, next, sizeof pi);
    }
    double h = 0;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) h -= pi[i] * P[i][j] * log(P[i][j]);
    return h;
}

/* The shard at path, and its unigram counts at counts_path unless NULL (a traced run needs them). */
static void write_markov_shard(const char *path, const char *counts_path, uint64_t n, uint64_t seed)
{
    double P[K][K];
    markov_matrix(P);
    rng_t r;
    rng_seed(&r, seed);
    char cat[SHARD_CAT_LEN] = "markov";
    shard_doc_t doc = {0, n, 0};
    shard_t s = {.tokenizer_id = 0xabcd, .vocab_size = K, .n_tokens = n, .n_docs = 1, .docs = &doc, .n_cats = 1,
                 .cats = &cat};
    s.tokens = calloc(n, sizeof *s.tokens);
    int x = 0;
    for (uint64_t i = 0; i < n; i++) {
        double u = rng_uniform(&r), c = 0;
        int j = 0;
        while (j < K - 1 && u >= (c += P[x][j])) j++;
        s.tokens[i] = (uint16_t)(x = j);
    }
    assert_int_equal(shard_write(&s, path), 0);
    uint64_t counts[K] = {0};
    for (uint64_t i = 0; i < n; i++) counts[s.tokens[i]]++;
    if (counts_path) assert_int_equal(shard_counts_write(counts_path, s.tokenizer_id, K, counts), 0);
    free(s.tokens);
}

static dist_t world; /* a world of one: the trainer's collectives then involve only this process */

typedef struct {
    char dir[64];
    char train[128], val[128];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/il-test-train-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->train, sizeof f->train, "%s/train.bin", f->dir);
    snprintf(f->val, sizeof f->val, "%s/val.bin", f->dir);
    char counts[128];
    snprintf(counts, sizeof counts, "%s/train.counts", f->dir);
    write_markov_shard(f->train, counts, 200000, 1);
    write_markov_shard(f->val, NULL, 40000, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc;
}

static config_t small_config(const fixture_t *f, const char *name, int steps)
{
    config_t c;
    config_defaults(&c);
    snprintf(c.train_path, sizeof c.train_path, "%s", f->train);
    snprintf(c.val_path, sizeof c.val_path, "%s", f->val);
    snprintf(c.out_dir, sizeof c.out_dir, "%s/runs", f->dir);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.seq_len = 32;
    c.n_layer = 2;
    c.n_head = 2;
    c.d_model = 32;
    c.global_batch = 16;
    c.micro_batch = 8; /* two accumulation steps, so accumulation is in every run */
    c.max_steps = steps;
    c.warmup_steps = steps < 20 ? steps / 2 : 20;
    c.lr = 3e-3f;
    c.min_lr = 3e-4f;
    c.weight_decay = 0.0f;
    c.eval_interval = 0;
    c.log_interval = 1000;
    if (config_validate(&c, 1)) fail_msg("%s", err_msg());
    return c;
}

static void test_learns_markov_entropy_rate(void **state)
{
    fixture_t *f = *state;
    double P[K][K];
    markov_matrix(P);
    double h = entropy_rate(P);
    config_t c = small_config(f, "learn", 400);
    trainer_t tr;
    assert_int_equal(trainer_open(&tr, &c, &world, 0, NULL, 0, NULL), 0);
    double before, after;
    assert_int_equal(trainer_eval(&tr.model, &tr.val_shard, c.micro_batch, 256, &before, NULL), 0);
    assert_int_equal(trainer_run(&tr), 0);
    assert_int_equal(trainer_eval(&tr.model, &tr.val_shard, c.micro_batch, 256, &after, NULL), 0);
    printf("entropy rate %.4f nats, log K %.4f; validation loss %.4f before, %.4f after\n", h, log(K), before, after);
    assert_true(h < log(K) - 0.3); /* the source is far from uniform, so the test has teeth */
    assert_true(fabs(after - h) < 0.05);
    trainer_close(&tr);
}

static void test_resume_is_bit_identical(void **state)
{
    fixture_t *f = *state;
    enum { N = 12, KSTOP = 5 };
    config_t straight_cfg = small_config(f, "straight", N), split_cfg = small_config(f, "split", N);
    trainer_t a, b;
    assert_int_equal(trainer_open(&a, &straight_cfg, &world, 0, NULL, 0, NULL), 0);
    assert_int_equal(trainer_run(&a), 0);

    assert_int_equal(trainer_open(&b, &split_cfg, &world, 0, NULL, 0, NULL), 0);
    double norm;
    float loss;
    for (int i = 0; i < KSTOP; i++) assert_int_equal(trainer_step(&b, &loss, &norm), 0);
    assert_int_equal(snapshot_save(&b), 0);
    trainer_close(&b);
    assert_int_equal(trainer_open(&b, &split_cfg, &world, 1, NULL, 0, NULL), 0);
    assert_int_equal(b.step, KSTOP);
    assert_int_equal(trainer_run(&b), 0);

    assert_int_equal(a.model.n_params, b.model.n_params);
    assert_memory_equal(a.model.params, b.model.params, a.model.n_params * sizeof(float));
    assert_memory_equal(a.opt.m, b.opt.m, a.model.n_params * sizeof(float));
    assert_memory_equal(a.opt.v, b.opt.v, a.model.n_params * sizeof(float));
    /* and the run really moved: a resume that restored nothing would not match the straight run */
    trainer_t fresh;
    config_t fresh_cfg = small_config(f, "fresh", N);
    assert_int_equal(trainer_open(&fresh, &fresh_cfg, &world, 0, NULL, 0, NULL), 0);
    assert_memory_not_equal(fresh.model.params, a.model.params, a.model.n_params * sizeof(float));
    trainer_close(&fresh);
    trainer_close(&a);
    trainer_close(&b);
}

static void test_checkpoint_round_trip(void **state)
{
    fixture_t *f = *state;
    config_t c = small_config(f, "roundtrip", 3);
    trainer_t tr;
    assert_int_equal(trainer_open(&tr, &c, &world, 0, NULL, 0, NULL), 0);
    assert_int_equal(trainer_run(&tr), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/runs/roundtrip/ckpt/step_00000003", f->dir);
    gpt_t m;
    uint32_t tok;
    assert_int_equal(snapshot_load_model(path, &m, 4, &tok), 0);
    assert_int_equal(tok, 0xabcd);
    assert_memory_equal(&m.d, &tr.model.d, sizeof m.d);
    assert_memory_equal(m.params, tr.model.params, m.n_params * sizeof(float));
    gpt_destroy(&m);
    trainer_close(&tr);
}

static void test_resume_refuses_another_experiment(void **state)
{
    fixture_t *f = *state;
    config_t c = small_config(f, "changed", 4);
    trainer_t tr;
    assert_int_equal(trainer_open(&tr, &c, &world, 0, NULL, 0, NULL), 0);
    assert_int_equal(trainer_run(&tr), 0);
    trainer_close(&tr);
    /* an existing run is not silently reused */
    assert_int_equal(trainer_open(&tr, &c, &world, 0, NULL, 0, NULL), -1);
    assert_non_null(strstr(err_msg(), "already exists"));
    trainer_close(&tr);
    c.lr *= 2;
    assert_int_equal(trainer_open(&tr, &c, &world, 1, NULL, 0, NULL), -1);
    assert_non_null(strstr(err_msg(), "optim.lr"));
    trainer_close(&tr);
    /* keys that only steer logging may change */
    c.lr /= 2;
    c.log_interval = 7;
    assert_int_equal(trainer_open(&tr, &c, &world, 1, NULL, 0, NULL), 0);
    assert_int_equal(tr.step, 4);
    trainer_close(&tr);
}

static void test_resume_skips_unreadable_newest(void **state)
{
    fixture_t *f = *state;
    config_t c = small_config(f, "corrupt", 6);
    trainer_t tr;
    double norm;
    float loss;
    assert_int_equal(trainer_open(&tr, &c, &world, 0, NULL, 0, NULL), 0);
    assert_int_equal(trainer_step(&tr, &loss, &norm), 0);
    assert_int_equal(trainer_step(&tr, &loss, &norm), 0);
    assert_int_equal(snapshot_save(&tr), 0);
    assert_int_equal(trainer_step(&tr, &loss, &norm), 0);
    assert_int_equal(snapshot_save(&tr), 0);
    trainer_close(&tr);
    char path[512];
    snprintf(path, sizeof path, "%s/runs/corrupt/ckpt/step_00000003/state.ckpt", f->dir);
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(trainer_open(&tr, &c, &world, 1, NULL, 0, NULL), 0);
    assert_int_equal(tr.step, 2);
    trainer_close(&tr);
    /* a checkpoint without its COMPLETE marker (a save cut short) is not used */
    snprintf(path, sizeof path, "%s/runs/corrupt/ckpt/step_00000002/COMPLETE", f->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(trainer_open(&tr, &c, &world, 1, NULL, 0, NULL), 0);
    assert_int_equal(tr.step, 0);
    trainer_close(&tr);
}

int main(int argc, char **argv)
{
    if (dist_init(&world, &argc, &argv)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_markov_entropy_rate),
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_resume_refuses_another_experiment),
        cmocka_unit_test(test_resume_skips_unreadable_newest),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    dist_finalize();
    return failed;
}
