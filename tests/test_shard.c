#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "data/shard.h"

#include "tmpdir.h"

static const char *path_in(const char *name)
{
    static char p[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* 10 tokens in 3 documents, 2 categories. Documented layout: 36-byte header, tokens at 36, the document
 * table (20 bytes each) at 56, category names (32 bytes each) at 116; 180 bytes in all. */
static uint16_t tokens[10] = {5, 0, 299, 7, 7, 1, 2, 3, 250, 4};
static shard_doc_t docs[3] = {{0, 4, 1}, {4, 5, 0}, {9, 1, 1}};
static char cats[2][SHARD_CAT_LEN] = {"news", "science_fiction"};
static const shard_t sample = {0xabcdef12u, 300, 10, tokens, 3, docs, 2, cats};
enum { FILE_SIZE = 180, TOKENS_AT = 36, DOCS_AT = 56 };

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *b = malloc(1 << 16);
    *n = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

static void write_raw(const char *name, const void *b, size_t n)
{
    FILE *f = fopen(path_in(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_round_trip(void **state)
{
    (void)state;
    assert_int_equal(shard_write(&sample, path_in("a.bin")), 0);
    size_t n;
    uint8_t *raw = slurp(path_in("a.bin"), &n);
    assert_int_equal(n, FILE_SIZE);
    assert_memory_equal(raw, "ILSHARD", 8);
    assert_int_equal(raw[TOKENS_AT + 4], 299 & 0xff); /* little-endian token 2 */
    assert_int_equal(raw[TOKENS_AT + 5], 299 >> 8);
    free(raw);

    shard_t s;
    assert_int_equal(shard_read(&s, path_in("a.bin")), 0);
    assert_int_equal(s.tokenizer_id, sample.tokenizer_id);
    assert_int_equal(s.vocab_size, 300);
    assert_int_equal(s.n_tokens, 10);
    assert_memory_equal(s.tokens, tokens, sizeof tokens);
    assert_int_equal(s.n_docs, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.docs[i].start, docs[i].start);
        assert_int_equal(s.docs[i].len, docs[i].len);
        assert_int_equal(s.docs[i].category, docs[i].category);
    }
    assert_int_equal(s.n_cats, 2);
    assert_string_equal(s.cats[0], "news");
    assert_string_equal(s.cats[1], "science_fiction");
    shard_free(&s);

    assert_int_equal(shard_write(&sample, path_in("a.bin")), -1);
    assert_non_null(strstr(err_msg(), "already exists"));
}

static void assert_read_fails(const char *name, const char *reason)
{
    shard_t s;
    assert_int_equal(shard_read(&s, path_in(name)), -1);
    if (!strstr(err_msg(), reason) || !strstr(err_msg(), path_in(name)) || strchr(err_msg(), '\n'))
        fail_msg("message \"%s\" lacks \"%s\" or the path", err_msg(), reason);
}

static void put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes the sample with one field changed. */
static void write_patched(const char *name, size_t at, uint64_t v, int bytes)
{
    uint8_t b[FILE_SIZE];
    size_t n;
    uint8_t *raw = slurp(path_in("good.bin"), &n);
    memcpy(b, raw, sizeof b);
    free(raw);
    put(b + at, v, bytes);
    write_raw(name, b, sizeof b);
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(shard_write(&sample, path_in("good.bin")), 0);
    assert_read_fails("missing.bin", "cannot open");
    write_raw("empty.bin", "", 0);
    assert_read_fails("empty.bin", "empty file");
    write_raw("text.bin", "token,count\nthe,12\n", 19);
    assert_read_fails("text.bin", "bad magic");
    uint8_t zeros[400] = {0};
    write_raw("zeros.bin", zeros, sizeof zeros);
    assert_read_fails("zeros.bin", "bad magic");

    size_t n;
    uint8_t *raw = slurp(path_in("good.bin"), &n);
    write_raw("short.bin", raw, n - 7);
    assert_read_fails("short.bin", "truncated: header says 10 tokens");
    write_raw("header.bin", raw, 20);
    assert_read_fails("header.bin", "truncated");
    free(raw);

    write_patched("version.bin", 8, 2, 4);
    assert_read_fails("version.bin", "unsupported shard version 2");
    write_patched("ntok.bin", 20, 1000, 8);
    assert_read_fails("ntok.bin", "truncated: header says 1000 tokens");
    write_patched("token.bin", TOKENS_AT + 2 * 3, 300, 2);
    assert_read_fails("token.bin", "token 3 has id 300");
    write_patched("doclen.bin", DOCS_AT + 20 * 2 + 8, 2, 8); /* last document runs past the end */
    assert_read_fails("doclen.bin", "doc table out of range");
    write_patched("docstart.bin", DOCS_AT + 20 * 1, 1u << 30, 8);
    assert_read_fails("docstart.bin", "doc table out of range");
    write_patched("doccat.bin", DOCS_AT + 20 * 0 + 16, 2, 4);
    assert_read_fails("doccat.bin", "category 2");
    write_patched("docgap.bin", DOCS_AT + 20 * 1 + 8, 4, 8); /* leaves token 8 in no document */
    assert_read_fails("docgap.bin", "doc table");
}

static void test_expect(void **state)
{
    (void)state;
    assert_int_equal(shard_write(&sample, path_in("e.bin")), 0);
    shard_t s;
    assert_int_equal(shard_read_expect(&s, path_in("e.bin"), 0xabcdef12u, 300), 0);
    shard_free(&s);
    assert_int_equal(shard_read_expect(&s, path_in("e.bin"), 0x12345678u, 300), -1);
    assert_non_null(strstr(err_msg(), "abcdef12"));
    assert_non_null(strstr(err_msg(), "12345678"));
    assert_int_equal(shard_read_expect(&s, path_in("e.bin"), 0xabcdef12u, 512), -1);
    assert_non_null(strstr(err_msg(), "300"));
    assert_non_null(strstr(err_msg(), "512"));
    assert_non_null(strstr(err_msg(), path_in("e.bin")));
}

static void test_counts(void **state)
{
    (void)state;
    uint64_t c[300];
    for (int v = 0; v < 300; v++) c[v] = (uint64_t)v * v * 1000003u + (v == 7 ? 1ull << 40 : 0);
    assert_int_equal(shard_counts_write(path_in("c.counts"), 42, 300, c), 0);
    uint32_t id, vocab;
    uint64_t *back;
    assert_int_equal(shard_counts_read(path_in("c.counts"), &id, &vocab, &back), 0);
    assert_int_equal(id, 42);
    assert_int_equal(vocab, 300);
    assert_memory_equal(back, c, sizeof c);
    free(back);

    size_t n;
    uint8_t *raw = slurp(path_in("c.counts"), &n);
    assert_int_equal(n, 20 + 8 * 300);
    write_raw("short.counts", raw, n - 8);
    free(raw);
    assert_int_equal(shard_counts_read(path_in("short.counts"), &id, &vocab, &back), -1);
    assert_non_null(strstr(err_msg(), "truncated"));
    assert_int_equal(shard_counts_read(path_in("c.bin.missing"), &id, &vocab, &back), -1);
    assert_non_null(strstr(err_msg(), "cannot open"));
    assert_int_equal(shard_write(&sample, path_in("s.bin")), 0);
    assert_int_equal(shard_counts_read(path_in("s.bin"), &id, &vocab, &back), -1);
    assert_non_null(strstr(err_msg(), "bad magic"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
