/* Sampling: sample_pick's draws against softmax(logits / temperature) by a chi-square test, top-k never
 * leaving the k largest logits, greedy and top-k 1 the argmax, the settings' refusals; and sample_generate's
 * greedy text against the argmax of the model's own softmax, computed here by gpt_forward over each window. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/gpt.h"
#include "run/sample.h"

enum { DRAWS = 200000 };

/* Pearson's chi-square of the counts of ids[0..n) against softmax(logits[ids] / temperature) over those ids.
 * With n - 1 degrees of freedom (1 to 5 here), 30 is exceeded by chance with probability under 1.5e-5;
 * the draws are seeded, so the outcome is fixed anyway, while a wrong distribution (temperature after the
 * softmax, a top-k one off) gives thousands. */
#define CHI2_MAX 30.0
static double chi2(const float *logits, const int *ids, int n, double temperature, const long *count)
{
    double z = 0, x = 0;
    for (int i = 0; i < n; i++) z += exp(logits[ids[i]] / temperature);
    for (int i = 0; i < n; i++) {
        double want = DRAWS * exp(logits[ids[i]] / temperature) / z, d = count[ids[i]] - want;
        x += d * d / want;
    }
    return x;
}

static const float logits6[6] = {2.0f, 1.0f, 0.5f, -1.0f, 3.0f, 0.0f}; /* by size: 4 0 1 2 5 3 */

static void draw(double temperature, int top_k, uint64_t seed, long count[6])
{
    rng_t rng;
    rng_seed(&rng, seed);
    int scratch[6];
    memset(count, 0, 6 * sizeof *count);
    for (int i = 0; i < DRAWS; i++) count[sample_pick(logits6, 6, temperature, top_k, &rng, scratch)]++;
}

static void test_distribution(void **state)
{
    (void)state;
    static const int all[6] = {0, 1, 2, 3, 4, 5};
    static const double temps[] = {0.5, 1.0, 2.0};
    for (size_t i = 0; i < sizeof temps / sizeof *temps; i++) {
        long count[6];
        draw(temps[i], 0, 11 + i, count);
        double x = chi2(logits6, all, 6, temps[i], count);
        printf("temperature %g: chi-square %.2f over 5 degrees of freedom\n", temps[i], x);
        assert_true(x < CHI2_MAX);
        /* the test has power: the same counts against the temperature-1 softmax are rejected */
        if (temps[i] != 1.0) assert_true(chi2(logits6, all, 6, 1.0, count) > 10 * CHI2_MAX);
    }
}

static void test_top_k(void **state)
{
    (void)state;
    static const int top[3][3] = {{4}, {4, 0}, {4, 0, 1}};
    for (int k = 1; k <= 3; k++) {
        long count[6];
        draw(0.8, k, 20 + (uint64_t)k, count);
        long inside = 0;
        for (int i = 0; i < k; i++) inside += count[top[k - 1][i]];
        assert_int_equal(inside, DRAWS); /* never a token outside the k largest */
        if (k > 1) {
            double x = chi2(logits6, top[k - 1], k, 0.8, count);
            printf("top-k %d: chi-square %.2f over %d degrees of freedom\n", k, x, k - 1);
            assert_true(x < CHI2_MAX);
        }
    }
    /* top-k V is no restriction: the same draws as top-k 0 */
    long a[6], b[6];
    draw(1.0, 6, 5, a);
    draw(1.0, 0, 5, b);
    assert_memory_equal(a, b, sizeof a);
}

/* Temperature 0 and top-k 1 both give the argmax (the lower id among equal logits), whatever the draws. */
static void test_greedy(void **state)
{
    (void)state;
    enum { V = 1000 };
    float logits[V];
    int scratch[V];
    rng_t rng, draws;
    rng_seed(&rng, 3);
    rng_seed(&draws, 4);
    for (int trial = 0; trial < 50; trial++) {
        int best = 0;
        for (int v = 0; v < V; v++) {
            logits[v] = rng_normal(&rng);
            if (logits[v] > logits[best]) best = v;
        }
        assert_int_equal(sample_pick(logits, V, 0, 0, &draws, scratch), best);
        assert_int_equal(sample_pick(logits, V, 0, 7, &draws, scratch), best);
        assert_int_equal(sample_pick(logits, V, 1.0, 1, &draws, scratch), best);
        assert_int_equal(sample_pick(logits, V, 50.0, 1, &draws, scratch), best);
    }
    float tie[4] = {0, 1, 1, 0};
    assert_int_equal(sample_pick(tie, 4, 0, 0, &draws, scratch), 1);
    assert_int_equal(sample_pick(tie, 4, 1.0, 1, &draws, scratch), 1);
}

static void test_check(void **state)
{
    (void)state;
    assert_int_equal(sample_check(0, 0, 300), 0);
    assert_int_equal(sample_check(0.7, 300, 300), 0);
    assert_int_equal(sample_check(-0.1, 0, 300), -1);
    assert_non_null(strstr(err_msg(), "--temperature"));
    assert_int_equal(sample_check(NAN, 0, 300), -1);
    assert_int_equal(sample_check(1, -1, 300), -1);
    assert_non_null(strstr(err_msg(), "--top-k -1"));
    assert_int_equal(sample_check(1, 301, 300), -1);
    assert_non_null(strstr(err_msg(), "300"));
}

/* A prompt is encoded; an empty one is refused, except by GPT-2's tokenizer, which starts from
 * <|endoftext|>, the id after its merges. */
static void test_prompt(void **state)
{
    (void)state;
    tokenizer_t t;
    assert_int_equal(tokenizer_init_byte(&t), 0);
    uint16_t *ids;
    size_t n;
    assert_int_equal(sample_prompt(&t, (const uint8_t *)"hi", 2, "--prompt", &ids, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 'h');
    free(ids);
    assert_int_equal(sample_prompt(&t, (const uint8_t *)"", 0, "p.txt", &ids, &n), -1);
    assert_non_null(strstr(err_msg(), "p.txt: empty prompt"));
    /* only the kind and vocabulary size decide what an empty prompt starts from: a byte tokenizer posing as
     * GPT-2's of 257 ids stands in for the 50,257 of the real one, which needs its files */
    t.kind = TOKENIZER_GPT2;
    t.vocab_size = 257;
    assert_int_equal(sample_prompt(&t, (const uint8_t *)"", 0, "--prompt", &ids, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 256);
    free(ids);
    t.kind = TOKENIZER_BYTE;
    t.vocab_size = 256;
    tokenizer_free(&t);
}

static void tiny_model(gpt_t *m)
{
    gpt_dims_t d = {.V = 23, .T = 8, .L = 2, .NH = 2, .C = 16};
    gpt_create(m, &d, 1, &kernels_fast);
    rng_t rng;
    rng_seed(&rng, 9);
    gpt_init_params(m, &rng);
}

/* Greedy generation, from prompts shorter and longer than the window (T = 8) and past it: each id is the
 * argmax of the model's softmax at the window's last position, from a forward over that window here.
 * The weights are scaled up so that the logits are far from uniform and the argmax is clear. */
static void test_generate_greedy(void **state)
{
    (void)state;
    gpt_t m;
    tiny_model(&m);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 5;
    enum { NEW = 4, MAX = 12 + NEW };
    rng_t rng, prompts;
    rng_seed(&rng, 1);
    rng_seed(&prompts, 2);
    int32_t in[8], targets[8] = {0};
    for (int n0 = 1; n0 <= 12; n0++) {
        uint16_t ids[MAX];
        for (int i = 0; i < n0; i++) ids[i] = (uint16_t)(rng_u64(&prompts) % 23);
        sample_generate(&m, ids, (size_t)n0, NEW, 0, 0, &rng);
        for (int n = n0; n < n0 + NEW; n++) {
            int T = n < 8 ? n : 8;
            for (int t = 0; t < T; t++) in[t] = ids[n - T + t];
            gpt_forward(&m, in, targets, 1, T);
            /* the softmax's argmax is the logits', lnf . wte[v], in double here (the forward keeps no logits) */
            const float *x = m.a.lnf + (size_t)(T - 1) * m.d.C;
            int best = 0;
            double top = -INFINITY;
            for (int v = 0; v < m.d.V; v++) {
                double z = 0;
                for (int c = 0; c < m.d.C; c++) z += (double)x[c] * m.p.wte[(size_t)v * m.d.C + c];
                if (z > top) top = z, best = v;
            }
            assert_int_equal(ids[n], best);
        }
    }
    gpt_destroy(&m);
}

/* The same seed gives the same ids; another seed other ids at temperature 1. */
static void test_generate_seeded(void **state)
{
    (void)state;
    gpt_t m;
    tiny_model(&m);
    enum { NEW = 20 };
    uint16_t a[1 + NEW] = {4}, b[1 + NEW] = {4}, c[1 + NEW] = {4};
    rng_t rng;
    rng_seed(&rng, 100);
    sample_generate(&m, a, 1, NEW, 1.0, 0, &rng);
    rng_seed(&rng, 100);
    sample_generate(&m, b, 1, NEW, 1.0, 0, &rng);
    rng_seed(&rng, 101);
    sample_generate(&m, c, 1, NEW, 1.0, 0, &rng);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    gpt_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distribution),   cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_greedy),         cmocka_unit_test(test_check),
        cmocka_unit_test(test_prompt),
        cmocka_unit_test(test_generate_greedy), cmocka_unit_test(test_generate_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
