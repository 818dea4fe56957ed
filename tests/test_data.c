#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "err.h"

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

static void test_windows_are_shifted_pairs(void **state)
{
    (void)state;
    shard_doc_t whole = {0, 1000, 0};
    shard_t s = make_shard(1000, 1, &whole);
    loader_t l;
    enum { B = 3, T = 16 };
    int32_t in[B * T], tg[B * T];
    assert_int_equal(loader_init(&l, &s, 0, 1, T), 0);
    for (int step = 0; step < 5; step++) {
        loader_next(&l, B, T, in, tg, NULL);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                int pos = (step * B + b) * T + t;
                assert_int_equal(in[b * T + t], pos);
                assert_int_equal(tg[b * T + t], pos + 1);
            }
    }
    loader_seek(&l, 0);
    loader_next(&l, 1, T, in, tg, NULL);
    assert_int_equal(in[0], 0);
    free(s.tokens);
    free(s.docs);
}

static void test_rank_ranges(void **state)
{
    (void)state;
    shard_doc_t whole = {0, 1003, 0};
    shard_t s = make_shard(1003, 1, &whole);
    for (int P = 1; P <= 7; P++) {
        uint64_t expect_begin = 0;
        for (int r = 0; r < P; r++) {
            loader_t l;
            assert_int_equal(loader_init(&l, &s, r, P, 8), 0);
            assert_int_equal(l.begin, expect_begin); /* contiguous and disjoint */
            assert_true(l.end - l.begin == 1003u / (unsigned)P || l.end - l.begin == 1003u / (unsigned)P + 1);
            /* every window this rank reads lies inside its range */
            int32_t in[8 * 40], tg[8 * 40];
            loader_next(&l, 40, 8, in, tg, NULL);
            for (int i = 0; i < 8 * 40; i++) {
                assert_true((uint64_t)in[i] >= l.begin && (uint64_t)in[i] < l.end);
                assert_true((uint64_t)tg[i] >= l.begin && (uint64_t)tg[i] < l.end);
            }
            expect_begin = l.end;
        }
        assert_int_equal(expect_begin, 1003); /* the ranks cover the shard */
    }
    loader_t l;
    assert_int_equal(loader_init(&l, &s, 0, 200, 8), -1); /* 5 tokens per rank, window needs 9 */
    assert_non_null(strstr(err_msg(), "9"));
    assert_int_equal(loader_init(&l, &s, 3, 3, 8), -1);
    free(s.tokens);
    free(s.docs);
}

static void test_wrap_around(void **state)
{
    (void)state;
    shard_doc_t whole = {0, 30, 0};
    shard_t s = make_shard(30, 1, &whole);
    loader_t l;
    /* rank 1 of 3 owns [10, 20); windows of 5 tokens start at 10, 14, then 18 would need 18..22: wrap */
    assert_int_equal(loader_init(&l, &s, 1, 3, 4), 0);
    int32_t in[4 * 4], tg[4 * 4];
    loader_next(&l, 4, 4, in, tg, NULL);
    int starts[4] = {10, 14, 10, 14};
    for (int b = 0; b < 4; b++) {
        assert_int_equal(in[b * 4], starts[b]);
        assert_int_equal(tg[b * 4 + 3], starts[b] + 4);
    }
    assert_int_equal(l.cursor, 18);
    l.cursor = 999; /* a cursor from elsewhere restarts at the range's beginning */
    loader_next(&l, 1, 4, in, tg, NULL);
    assert_int_equal(in[0], 10);
    free(s.tokens);
    free(s.docs);
}

static void test_categories_at_boundaries(void **state)
{
    (void)state;
    shard_doc_t d[6] = {{0, 5, 0}, {5, 0, 2}, {5, 7, 1}, {12, 1, 2}, {13, 0, 0}, {13, 27, 0}};
    shard_t s = make_shard(40, 6, d);
    for (int T = 1; T <= 9; T++) {
        loader_t l;
        assert_int_equal(loader_init(&l, &s, 0, 1, T), 0);
        int32_t in[5 * 9], tg[5 * 9], cats[5 * 9];
        for (int step = 0; step < 4; step++) {
            loader_next(&l, 5, T, in, tg, cats);
            for (int i = 0; i < 5 * T; i++) {
                /* the document holding the target: a linear scan over non-empty documents */
                int want = -1;
                for (int k = 0; k < 6; k++)
                    if ((uint64_t)tg[i] >= d[k].start && (uint64_t)tg[i] < d[k].start + d[k].len) want = (int)d[k].category;
                assert_int_equal(cats[i], want);
            }
        }
    }
    free(s.tokens);
    free(s.docs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_are_shifted_pairs),
        cmocka_unit_test(test_rank_ranges),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_categories_at_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
