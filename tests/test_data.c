#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "core/err.h"

/* A shard whose token at position i is i (mod vocab), so a window's position can be read off its ids. */
static shard_t make_shard(uint64_t n, uint32_t n_docs, const shard_doc_t *docs)
{
    shard_t s = {.tokenizer_id = 1, .vocab_size = 60000, .n_tokens = n, .n_docs = n_docs, .n_cats = 3};
    s.tokens = calloc(n, sizeof *s.tokens);
    for (uint64_t i = 0; i < n; i++) s.tokens[i] = (uint16_t)(i % 60000);
    s.docs = calloc(n_docs ? n_docs : 1, sizeof *s.docs);
    memcpy(s.docs, docs, n_docs * sizeof *docs);
    return s;
}

/* Each lane gives one window per step; the offset moves on by T after the rank's last lane. */
static void test_windows_are_shifted_pairs(void **state)
{
    (void)state;
    shard_doc_t whole = {0, 1000, 0};
    shard_t s = make_shard(1000, 1, &whole);
    loader_t l;
    enum { G = 3, T = 16 };
    int32_t in[G * T], tg[G * T];
    assert_int_equal(loader_init(&l, &s, LOADER_LANES, 1, G, 0, G, T), 0);
    uint64_t len = 1000 / G;
    for (int step = 0; step < 5; step++) {
        loader_next(&l, G, in, tg, NULL);
        for (int b = 0; b < G; b++)
            for (int t = 0; t < T; t++) {
                int pos = (int)(b * len) + step * T + t;
                assert_int_equal(in[b * T + t], pos);
                assert_int_equal(tg[b * T + t], pos + 1);
            }
    }
    loader_free(&l);
    free(s.tokens);
    free(s.docs);
}

/* Whatever the split into ranks and micro-batches, a step reads the same set of windows, in either order;
 * with lanes, each rank reads only its own contiguous part of the shard. Shuffled, 25 steps of 12 run
 * over into the second epoch of the shard's 125 windows. */
static void split_invariance(loader_order_t order, int steps)
{
    shard_doc_t whole = {0, 1003, 0};
    shard_t s = make_shard(1003, 1, &whole);
    enum { G = 12, T = 8, MAX_STEPS = 25 };
    static int32_t want[MAX_STEPS][G * T], got[MAX_STEPS][G * T];
    loader_t one;
    assert_int_equal(loader_init(&one, &s, order, 42, G, 0, G, T), 0);
    for (int st = 0; st < steps; st++) {
        int32_t tg[G * T];
        loader_next(&one, G, want[st], tg, NULL);
    }
    loader_free(&one);
    static const int splits[][2] = {{2, 6}, {2, 3}, {3, 2}, {4, 1}, {6, 2}}; /* ranks, micro-batch */
    for (size_t k = 0; k < sizeof splits / sizeof *splits; k++) {
        int P = splits[k][0], b = splits[k][1], per = G / P;
        for (int r = 0; r < P; r++) {
            loader_t l;
            assert_int_equal(loader_init(&l, &s, order, 42, G, r * per, per, T), 0);
            for (int st = 0; st < steps; st++)
                for (int a = 0; a < per / b; a++) {
                    int32_t tg[G * T];
                    loader_next(&l, b, got[st] + (size_t)(r * per + a * b) * T, tg, NULL);
                }
            /* with lanes, rank r's tokens lie inside its own lanes */
            uint64_t lo = (uint64_t)r * per * l.lane_len, hi = lo + (uint64_t)per * l.lane_len;
            for (int st = 0; st < steps && order == LOADER_LANES; st++)
                for (int i = r * per * T; i < (r + 1) * per * T; i++)
                    assert_true((uint64_t)got[st][i] >= lo && (uint64_t)got[st][i] < hi);
            loader_free(&l);
        }
        assert_memory_equal(got, want, (size_t)steps * sizeof *want);
    }
    free(s.tokens);
    free(s.docs);
}

static void test_split_does_not_change_the_batch(void **state)
{
    (void)state;
    split_invariance(LOADER_LANES, 7);
    split_invariance(LOADER_SHUFFLE, 25);
}

/* Shuffled, one epoch visits every window of the shard exactly once; the next epoch is another
 * permutation of them; another seed gives another order; and restoring the cursor continues exactly. */
static void test_epochs(void **state)
{
    (void)state;
    enum { N = 1601, T = 16, G = 4, W = (N - 1) / T };
    shard_doc_t whole = {0, N, 0};
    shard_t s = make_shard(N, 1, &whole);
    loader_t l, other;
    assert_int_equal(loader_init(&l, &s, LOADER_SHUFFLE, 7, G, 0, G, T), 0);
    assert_int_equal(loader_init(&other, &s, LOADER_SHUFFLE, 8, G, 0, G, T), 0);
    assert_int_equal((int)l.n_windows, W);
    int seen[W] = {0}, first[W], same_as_other = 0;
    int32_t in[G * T], tg[G * T], in2[G * T];
    for (int st = 0; st < W / G; st++) {
        assert_int_equal((int)loader_epoch(&l), 0);
        loader_next(&l, G, in, tg, NULL);
        loader_next(&other, G, in2, tg, NULL);
        for (int b = 0; b < G; b++) {
            assert_int_equal(in[b * T] % T, 0); /* windows start at multiples of T */
            int w = in[b * T] / T;
            first[st * G + b] = w;
            seen[w]++;
            same_as_other += in[b * T] == in2[b * T];
            for (int t = 1; t < T; t++) assert_int_equal(in[b * T + t], in[b * T] + t);
        }
    }
    for (int w = 0; w < W; w++) assert_int_equal(seen[w], 1);
    assert_true(same_as_other < W / 10);
    /* epoch 1: every window once more, in another order */
    assert_int_equal((int)loader_epoch(&l), 1);
    int differ = 0;
    uint64_t at = l.cursor;
    for (int st = 0; st < W / G; st++) {
        loader_next(&l, G, in, tg, NULL);
        for (int b = 0; b < G; b++) seen[in[b * T] / T]++, differ += in[b * T] / T != first[st * G + b];
    }
    for (int w = 0; w < W; w++) assert_int_equal(seen[w], 2);
    assert_true(differ > W / 2);
    /* resumed from the cursor at the start of epoch 1, in a fresh loader: the same windows */
    loader_t back;
    assert_int_equal(loader_init(&back, &s, LOADER_SHUFFLE, 7, G, 0, G, T), 0);
    assert_int_equal(loader_restore(&back, at), 0);
    loader_next(&back, G, in2, tg, NULL);
    loader_t again;
    assert_int_equal(loader_init(&again, &s, LOADER_SHUFFLE, 7, G, 0, G, T), 0);
    for (uint64_t k = 0; k <= at / G; k++) loader_next(&again, G, in, tg, NULL);
    assert_memory_equal(in, in2, sizeof in);
    assert_int_equal(loader_restore(&back, at + 1), -1); /* not a step boundary */
    loader_free(&l), loader_free(&other), loader_free(&back), loader_free(&again);
    free(s.tokens);
    free(s.docs);
}

static void test_wrap_around_and_restore(void **state)
{
    (void)state;
    shard_doc_t whole = {0, 30, 0};
    shard_t s = make_shard(30, 1, &whole);
    loader_t l;
    /* 3 lanes of 10 tokens; windows of 5 tokens start at offsets 0, 4, then 8 would need 8..12: wrap */
    assert_int_equal(loader_init(&l, &s, LOADER_LANES, 1, 3, 1, 1, 4), 0);
    int32_t in[4], tg[4];
    int starts[4] = {10, 14, 10, 14};
    for (int st = 0; st < 4; st++) {
        loader_next(&l, 1, in, tg, NULL);
        assert_int_equal(in[0], starts[st]);
        assert_int_equal(tg[3], starts[st] + 4);
    }
    assert_int_equal(loader_restore(&l, 4), 0);
    loader_next(&l, 1, in, tg, NULL);
    assert_int_equal(in[0], 14);
    assert_int_equal(loader_restore(&l, 6), -1); /* 6..10 leaves the lane */
    assert_non_null(strstr(err_msg(), "offset 6"));
    /* a batch too large for the shard is refused with the numbers */
    assert_int_equal(loader_init(&l, &s, LOADER_LANES, 1, 8, 0, 8, 4), -1);
    assert_non_null(strstr(err_msg(), "global batch of 8"));
    free(s.tokens);
    free(s.docs);
}

static void test_categories_at_boundaries(void **state)
{
    (void)state;
    shard_doc_t d[6] = {{0, 5, 0}, {5, 0, 2}, {5, 7, 1}, {12, 1, 2}, {13, 0, 0}, {13, 27, 0}};
    shard_t s = make_shard(40, 6, d);
    for (int T = 1; T <= 9; T++)
        for (uint64_t pos = 0; pos + (uint64_t)T + 1 <= 40; pos++) {
            int32_t in[9], tg[9], cats[9];
            loader_window(&s, pos, T, in, tg, cats);
            for (int i = 0; i < T; i++) {
                /* the document holding the target: a linear scan over non-empty documents */
                int want = -1;
                for (int k = 0; k < 6; k++)
                    if ((uint64_t)tg[i] >= d[k].start && (uint64_t)tg[i] < d[k].start + d[k].len) want = (int)d[k].category;
                assert_int_equal(cats[i], want);
            }
        }
    free(s.tokens);
    free(s.docs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_are_shifted_pairs),
        cmocka_unit_test(test_split_does_not_change_the_batch),
        cmocka_unit_test(test_wrap_around_and_restore),
        cmocka_unit_test(test_categories_at_boundaries),
        cmocka_unit_test(test_epochs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
