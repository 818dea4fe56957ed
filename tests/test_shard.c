#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/err.h"
#include "data/shard.h"

#include "tests/tmpdir.h"

static const char *path_in(const char *name)
{
    static char p[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* 10 tokens in 3 documents, 2 categories, checksum blocks of 4 tokens. Documented layout: 40-byte header,
 * tokens at 40, the document table (20 bytes each) at 60, category names (32 bytes each) at 120, the CRC32 of
 * the 3 blocks at 184, the CRC32 of all but the tokens at 196; 200 bytes in all. */
static uint16_t tokens[10] = {5, 0, 299, 7, 7, 1, 2, 3, 250, 4};
static shard_doc_t docs[3] = {{0, 4, 1}, {4, 5, 0}, {9, 1, 1}};
static char cats[2][SHARD_CAT_LEN] = {"news", "science_fiction"};
static const shard_t sample = {0xabcdef12u, 300, 10, tokens, 3, docs, 2, cats, 4};
enum { FILE_SIZE = 200, TOKENS_AT = 40, DOCS_AT = 60, SUMS_AT = 184, N_BLOCKS = 3, BLOCK = 4 };

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

/* Recomputes the sample's checksums from its documented layout, as a writer with a bug would have written
 * them, so that the checks behind the checksums are reached. */
static void reseal(uint8_t *b)
{
    for (int k = 0; k < N_BLOCKS; k++) {
        int len = k < N_BLOCKS - 1 ? BLOCK : 10 - BLOCK * k;
        put(b + SUMS_AT + 4 * k, crc32(0, b + TOKENS_AT + 2 * BLOCK * k, (uInt)(2 * len)), 4);
    }
    uLong crc = crc32(crc32(0, b, TOKENS_AT), b + DOCS_AT, FILE_SIZE - 4 - DOCS_AT);
    put(b + FILE_SIZE - 4, crc, 4);
}

/* Writes the sample with one field changed; sealed: with checksums that match the change. */
static void write_changed(const char *name, size_t at, uint64_t v, int bytes, int sealed)
{
    uint8_t b[FILE_SIZE];
    size_t n;
    uint8_t *raw = slurp(path_in("good.bin"), &n);
    assert_int_equal(n, FILE_SIZE);
    memcpy(b, raw, sizeof b);
    free(raw);
    put(b + at, v, bytes);
    if (sealed) reseal(b);
    write_raw(name, b, sizeof b);
}

static void write_patched(const char *name, size_t at, uint64_t v, int bytes) { write_changed(name, at, v, bytes, 1); }

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

    write_patched("version.bin", 8, 3, 4);
    assert_read_fails("version.bin", "unsupported shard version 3");
    write_patched("v1.bin", 8, 1, 4);
    assert_read_fails("v1.bin", "shard version 1, which has no checksums (this build reads version 2): re-run il-prepare");
    write_patched("block0.bin", 36, 0, 4);
    assert_read_fails("block0.bin", "checksum blocks of 0 tokens");
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

/* A changed byte anywhere is found: in the tokens, by the checksum of its block, named with its tokens and
 * bytes; in the header or a table, by the checksum of all but the tokens. */
static void test_checksums(void **state)
{
    (void)state;
    remove(path_in("good.bin"));
    assert_int_equal(shard_write(&sample, path_in("good.bin")), 0);
    /* the low byte of token 5 (1 -> 0, still a valid id): block 1, tokens 4 to 7, bytes 48 to 55 */
    write_changed("tok5.bin", TOKENS_AT + 2 * 5, 0, 1, 0);
    assert_read_fails("tok5.bin", "block 1 (tokens 4 to 7, bytes 48 to 55) fails its checksum");
    write_changed("tok9.bin", TOKENS_AT + 2 * 9 + 1, 0x01, 1, 0); /* 4 -> 260: the short last block */
    assert_read_fails("tok9.bin", "block 2 (tokens 8 to 9, bytes 56 to 59) fails its checksum");
    write_changed("doccat.bin", DOCS_AT + 16, 0, 4, 0); /* document 0 moved to the other genre */
    assert_read_fails("doccat.bin", "the header and tables (documents, categories, block checksums) fail their checksum");
    write_changed("vocab.bin", 16, 301, 4, 0);
    assert_read_fails("vocab.bin", "fail their checksum");
    write_changed("sum.bin", SUMS_AT + 4, 0, 4, 0);
    assert_read_fails("sum.bin", "fail their checksum");
    write_changed("seal.bin", FILE_SIZE - 4, 0, 4, 0);
    assert_read_fails("seal.bin", "fail their checksum");

    /* the per-block check alone, as a reader that maps the file uses it: only the blocks touched are read */
    size_t n;
    uint8_t *raw = slurp(path_in("tok5.bin"), &n);
    uint32_t crc[N_BLOCKS];
    for (int k = 0; k < N_BLOCKS; k++) crc[k] = (uint32_t)(raw[SUMS_AT + 4 * k] | raw[SUMS_AT + 4 * k + 1] << 8 |
                                                           raw[SUMS_AT + 4 * k + 2] << 16 | (uint32_t)raw[SUMS_AT + 4 * k + 3] << 24);
    assert_int_equal(shard_block_check("tok5.bin", raw + SHARD_TOKENS_AT, 10, BLOCK, crc, 0), 0);
    assert_int_equal(shard_block_check("tok5.bin", raw + SHARD_TOKENS_AT, 10, BLOCK, crc, 2), 0);
    assert_int_equal(shard_block_check("tok5.bin", raw + SHARD_TOKENS_AT, 10, BLOCK, crc, 1), -1);
    assert_non_null(strstr(err_msg(), "tok5.bin: block 1 "));
    free(raw);

    /* the default block size: a whole Brown-sized block, and an empty shard has no blocks */
    shard_t big = sample, s;
    big.block_tokens = 0;
    assert_int_equal(shard_write(&big, path_in("default.bin")), 0);
    assert_int_equal(shard_read(&s, path_in("default.bin")), 0);
    assert_int_equal(s.block_tokens, SHARD_BLOCK_TOKENS);
    shard_free(&s);
    shard_t empty = {1, 2, 0, NULL, 0, NULL, 1, cats, 0};
    assert_int_equal(shard_write(&empty, path_in("empty_ok.bin")), 0);
    assert_int_equal(shard_read(&s, path_in("empty_ok.bin")), 0);
    assert_int_equal(s.n_tokens, 0);
    shard_free(&s);
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
    uint64_t sum = 0;
    for (int v = 0; v < 300; v++) sum += c[v];
    assert_int_equal(shard_counts_write(path_in("c.counts"), 42, 300, c), 0);
    uint32_t id, vocab;
    uint64_t *back, total;
    assert_int_equal(shard_counts_read(path_in("c.counts"), &id, &vocab, &back, &total), 0);
    assert_int_equal(id, 42);
    assert_int_equal(vocab, 300);
    assert_int_equal(total, sum);
    assert_memory_equal(back, c, sizeof c);
    free(back);

    size_t n;
    uint8_t *raw = slurp(path_in("c.counts"), &n);
    assert_int_equal(n, 32 + 8 * 300);
    write_raw("short.counts", raw, n - 8);
    assert_int_equal(shard_counts_read(path_in("short.counts"), &id, &vocab, &back, &total), -1);
    assert_non_null(strstr(err_msg(), "truncated"));
    assert_int_equal(shard_counts_read(path_in("c.bin.missing"), &id, &vocab, &back, &total), -1);
    assert_non_null(strstr(err_msg(), "cannot open"));
    assert_int_equal(shard_write(&sample, path_in("s.bin")), 0);
    assert_int_equal(shard_counts_read(path_in("s.bin"), &id, &vocab, &back, &total), -1);
    assert_non_null(strstr(err_msg(), "bad magic"));

    /* a count of 2^63: found by the checksum; with the checksum made to match, by the total; with the total
     * made to match too (2^64 - 1), the sum overflows at the next big count */
    struct {
        const char *name;
        int sealed;
        uint64_t count7, count8, total;
        const char *reason;
    } bad[] = {
        {"flip.counts", 0, 1ull << 63, c[8], sum, "fails its checksum"},
        {"big.counts", 1, 1ull << 63, c[8], sum, "the count of token 7 (9223372036854775808) takes the sum past"},
        {"small.counts", 1, c[7] - 1, c[8], sum, "the counts add up to"},
        {"over.counts", 1, 1ull << 63, 1ull << 63, UINT64_MAX, "the count of token 8 (9223372036854775808) takes the sum past"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *b = malloc(n);
        memcpy(b, raw, n);
        put(b + 32 + 8 * 7, bad[i].count7, 8);
        put(b + 32 + 8 * 8, bad[i].count8, 8);
        put(b + 24, bad[i].total, 8);
        if (bad[i].sealed) put(b + 20, crc32(0, b + 24, (uInt)(n - 24)), 4);
        write_raw(bad[i].name, b, n);
        free(b);
        assert_int_equal(shard_counts_read(path_in(bad[i].name), &id, &vocab, &back, &total), -1);
        if (!strstr(err_msg(), bad[i].reason) || !strstr(err_msg(), path_in(bad[i].name)) || strchr(err_msg(), '\n'))
            fail_msg("%s: message \"%s\" lacks \"%s\" or the path", bad[i].name, err_msg(), bad[i].reason);
        assert_null(back);
    }
    /* version 1, without checksums: re-run il-prepare */
    put(raw + 8, 1, 4);
    write_raw("v1.counts", raw, n);
    assert_int_equal(shard_counts_read(path_in("v1.counts"), &id, &vocab, &back, &total), -1);
    assert_non_null(strstr(err_msg(), "counts file version 1, which has no checksums (this build reads version 2): re-run il-prepare"));
    free(raw);
    /* nor can such counts be written */
    c[7] = UINT64_MAX;
    assert_int_equal(shard_counts_write(path_in("overflow.counts"), 42, 300, c), -1);
    assert_non_null(strstr(err_msg(), "overflow 64 bits at token"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
