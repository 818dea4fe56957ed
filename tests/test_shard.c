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
#include "data/loader.h"
#include "data/shard.h"
#include "trace/probe.h"

#include "tests/tmpdir.h"

/* 10 tokens in 3 documents, 2 categories, checksum blocks of 4 tokens. Documented layout: 40-byte header,
 * tokens at 40, the document table (20 bytes each) at 60, category names (32 bytes each) at 120, the CRC32 of
 * the 3 blocks at 184, the CRC32 of all but the tokens at 196; 200 bytes in all. */
static uint16_t tokens[10] = {5, 0, 299, 7, 7, 1, 2, 3, 250, 4};
static shard_doc_t docs[3] = {{0, 4, 1}, {4, 5, 0}, {9, 1, 1}};
static char cats[2][SHARD_CAT_LEN] = {"news", "science_fiction"};
static const shard_t sample = {0xabcdef12u, 300, 10, tokens, 3, docs, 2, cats, 4, 0, NULL};
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
    FILE *f = fopen(tmpdir_path(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_round_trip(void **state)
{
    (void)state;
    assert_int_equal(shard_write(&sample, tmpdir_path("a.bin")), 0);
    size_t n;
    uint8_t *raw = slurp(tmpdir_path("a.bin"), &n);
    assert_int_equal(n, FILE_SIZE);
    assert_memory_equal(raw, "ILSHARD", 8);
    assert_int_equal(raw[TOKENS_AT + 4], 299 & 0xff); /* little-endian token 2 */
    assert_int_equal(raw[TOKENS_AT + 5], 299 >> 8);
    free(raw);

    shard_t s;
    assert_int_equal(shard_read(&s, tmpdir_path("a.bin")), 0);
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

    assert_int_equal(shard_write(&sample, tmpdir_path("a.bin")), -1);
    assert_non_null(strstr(err_msg(), "already exists"));
}

static void assert_read_fails(const char *name, const char *reason)
{
    shard_t s;
    assert_int_equal(shard_read(&s, tmpdir_path(name)), -1);
    if (!strstr(err_msg(), reason) || !strstr(err_msg(), tmpdir_path(name)) || strchr(err_msg(), '\n'))
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
    uint8_t *raw = slurp(tmpdir_path("good.bin"), &n);
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
    assert_int_equal(shard_write(&sample, tmpdir_path("good.bin")), 0);
    assert_read_fails("missing.bin", "cannot open");
    write_raw("empty.bin", "", 0);
    assert_read_fails("empty.bin", "empty file");
    write_raw("text.bin", "token,count\nthe,12\n", 19);
    assert_read_fails("text.bin", "bad magic");
    uint8_t zeros[400] = {0};
    write_raw("zeros.bin", zeros, sizeof zeros);
    assert_read_fails("zeros.bin", "bad magic");

    size_t n;
    uint8_t *raw = slurp(tmpdir_path("good.bin"), &n);
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
    remove(tmpdir_path("good.bin"));
    assert_int_equal(shard_write(&sample, tmpdir_path("good.bin")), 0);
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
    uint8_t *raw = slurp(tmpdir_path("tok5.bin"), &n);
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
    assert_int_equal(shard_write(&big, tmpdir_path("default.bin")), 0);
    assert_int_equal(shard_read(&s, tmpdir_path("default.bin")), 0);
    assert_int_equal(s.block_tokens, SHARD_BLOCK_TOKENS);
    shard_free(&s);
    shard_t empty = {1, 2, 0, NULL, 0, NULL, 1, cats, 0, 0, NULL};
    assert_int_equal(shard_write(&empty, tmpdir_path("empty_ok.bin")), 0);
    assert_int_equal(shard_read(&s, tmpdir_path("empty_ok.bin")), 0);
    assert_int_equal(s.n_tokens, 0);
    shard_free(&s);
}

static void test_expect(void **state)
{
    (void)state;
    assert_int_equal(shard_write(&sample, tmpdir_path("e.bin")), 0);
    shard_t s;
    assert_int_equal(shard_read_expect(&s, tmpdir_path("e.bin"), 0xabcdef12u, 300), 0);
    shard_free(&s);
    assert_int_equal(shard_read_expect(&s, tmpdir_path("e.bin"), 0x12345678u, 300), -1);
    assert_non_null(strstr(err_msg(), "abcdef12"));
    assert_non_null(strstr(err_msg(), "12345678"));
    assert_int_equal(shard_read_expect(&s, tmpdir_path("e.bin"), 0xabcdef12u, 512), -1);
    assert_non_null(strstr(err_msg(), "300"));
    assert_non_null(strstr(err_msg(), "512"));
    assert_non_null(strstr(err_msg(), tmpdir_path("e.bin")));
}

static void test_counts(void **state)
{
    (void)state;
    uint64_t c[300];
    for (int v = 0; v < 300; v++) c[v] = (uint64_t)v * v * 1000003u + (v == 7 ? 1ull << 40 : 0);
    uint64_t sum = 0;
    for (int v = 0; v < 300; v++) sum += c[v];
    assert_int_equal(shard_counts_write(tmpdir_path("c.counts"), 42, 300, c), 0);
    uint32_t id, vocab;
    uint64_t *back, total;
    assert_int_equal(shard_counts_read(tmpdir_path("c.counts"), &id, &vocab, &back, &total), 0);
    assert_int_equal(id, 42);
    assert_int_equal(vocab, 300);
    assert_int_equal(total, sum);
    assert_memory_equal(back, c, sizeof c);
    free(back);

    size_t n;
    uint8_t *raw = slurp(tmpdir_path("c.counts"), &n);
    assert_int_equal(n, 32 + 8 * 300);
    write_raw("short.counts", raw, n - 8);
    assert_int_equal(shard_counts_read(tmpdir_path("short.counts"), &id, &vocab, &back, &total), -1);
    assert_non_null(strstr(err_msg(), "truncated"));
    assert_int_equal(shard_counts_read(tmpdir_path("c.bin.missing"), &id, &vocab, &back, &total), -1);
    assert_non_null(strstr(err_msg(), "cannot open"));
    assert_int_equal(shard_write(&sample, tmpdir_path("s.bin")), 0);
    assert_int_equal(shard_counts_read(tmpdir_path("s.bin"), &id, &vocab, &back, &total), -1);
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
        assert_int_equal(shard_counts_read(tmpdir_path(bad[i].name), &id, &vocab, &back, &total), -1);
        if (!strstr(err_msg(), bad[i].reason) || !strstr(err_msg(), tmpdir_path(bad[i].name)) || strchr(err_msg(), '\n'))
            fail_msg("%s: message \"%s\" lacks \"%s\" or the path", bad[i].name, err_msg(), bad[i].reason);
        assert_null(back);
    }
    /* version 1, without checksums: re-run il-prepare */
    put(raw + 8, 1, 4);
    write_raw("v1.counts", raw, n);
    assert_int_equal(shard_counts_read(tmpdir_path("v1.counts"), &id, &vocab, &back, &total), -1);
    assert_non_null(strstr(err_msg(), "counts file version 1, which has no checksums (this build reads version 2): re-run il-prepare"));
    free(raw);
    /* nor can such counts be written */
    c[7] = UINT64_MAX;
    assert_int_equal(shard_counts_write(tmpdir_path("overflow.counts"), 42, 300, c), -1);
    assert_non_null(strstr(err_msg(), "overflow 64 bits at token"));
}

/* Field by field: a struct's padding is not its value. */
static void assert_docs_equal(const shard_doc_t *a, const shard_doc_t *b, int n)
{
    for (int d = 0; d < n; d++) {
        assert_int_equal(a[d].start, b[d].start);
        assert_int_equal(a[d].len, b[d].len);
        assert_int_equal(a[d].category, b[d].category);
    }
}

/* shard_open maps the file: the same header, tokens, documents and names as written, the tokens in the
 * mapping itself, and shard_get reads them. */
static void test_mapped(void **state)
{
    (void)state;
    assert_int_equal(shard_write(&sample, tmpdir_path("m.bin")), 0);
    shard_t s;
    assert_int_equal(shard_open(&s, tmpdir_path("m.bin")), 0);
    assert_int_equal(s.n_files, 1);
    assert_int_equal(s.tokenizer_id, sample.tokenizer_id);
    assert_int_equal(s.n_tokens, 10);
    assert_memory_equal(s.tokens, tokens, sizeof tokens);
    int32_t got[10];
    assert_int_equal(shard_get(&s, 0, 10, got), 0);
    for (int i = 0; i < 10; i++) assert_int_equal(got[i], tokens[i]);
    assert_int_equal(s.n_docs, 3);
    assert_docs_equal(s.docs, docs, 3);
    assert_int_equal(s.n_cats, 2);
    assert_string_equal(s.cats[1], "science_fiction");
    shard_free(&s);
    assert_null(s.files);
}

static void assert_get_fails(const shard_t *s, uint64_t pos, uint64_t n, const char *name, const char *reason)
{
    int32_t got[16];
    assert_int_equal(shard_get(s, pos, n, got), -1);
    if (!strstr(err_msg(), reason) || !strstr(err_msg(), tmpdir_path(name)) || strchr(err_msg(), '\n'))
        fail_msg("message \"%s\" lacks \"%s\" or the path", err_msg(), reason);
}

/* A corrupt block of tokens opens (its pages are not read at open) and is refused, naming the file and the
 * block, when first read: a changed byte by the block's checksum, an id >= V (with checksums to match) by
 * the range check of the same pass. The other blocks read, and a loader over the shard says the same. */
static void test_lazy_check(void **state)
{
    (void)state;
    remove(tmpdir_path("good.bin"));
    assert_int_equal(shard_write(&sample, tmpdir_path("good.bin")), 0);
    write_changed("lazy5.bin", TOKENS_AT + 2 * 5, 0, 1, 0); /* block 1: tokens 4 to 7 */
    shard_t s;
    assert_int_equal(shard_open(&s, tmpdir_path("lazy5.bin")), 0);
    int32_t got[10];
    assert_int_equal(shard_get(&s, 0, 4, got), 0);
    assert_int_equal(shard_get(&s, 8, 2, got), 0);
    assert_get_fails(&s, 3, 2, "lazy5.bin", "block 1 (tokens 4 to 7, bytes 48 to 55) fails its checksum");
    assert_get_fails(&s, 7, 1, "lazy5.bin", "block 1 ");
    loader_t l;
    int32_t in[2], tg[2];
    assert_int_equal(loader_init(&l, &s, LOADER_LANES, 1, 1, 0, 1, 2), 0);
    assert_int_equal(loader_next(&l, 1, in, tg, NULL), 0); /* tokens 0 to 2 */
    assert_int_equal(loader_next(&l, 1, in, tg, NULL), -1); /* tokens 2 to 4 */
    assert_non_null(strstr(err_msg(), "lazy5.bin: block 1 "));
    assert_int_equal(in[0] | in[1] | tg[0] | tg[1], 0);
    loader_free(&l);
    assert_int_equal(shard_check_all(&s), -1);
    shard_free(&s);

    write_patched("lazyid.bin", TOKENS_AT + 2 * 3, 300, 2); /* token 3, in block 0 */
    assert_int_equal(shard_open(&s, tmpdir_path("lazyid.bin")), 0);
    assert_int_equal(shard_get(&s, 4, 6, got), 0);
    assert_get_fails(&s, 0, 1, "lazyid.bin", "block 0: token 3 has id 300, not below the vocab size 300");
    shard_free(&s);
}

/* A shard of NT tokens in documents of varied length and 3 genres, in checksum blocks of 64 tokens. */
enum { NT = 3001, NDOC = 40, SET_V = 500 };
static uint16_t set_tokens[NT];
static shard_doc_t set_docs[NDOC];
static char set_cats[3][SHARD_CAT_LEN] = {"fiction", "news", "lore"};

static shard_t set_sample(void)
{
    uint64_t x = 88172645463325252ull, at = 0;
    for (int i = 0; i < NT; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        set_tokens[i] = (uint16_t)(x % SET_V);
    }
    for (int d = 0; d < NDOC; d++) {
        uint64_t len = d + 1 < NDOC ? 20 + (uint64_t)(d * 37 % 110) : NT - at;
        set_docs[d] = (shard_doc_t){at, len, (uint32_t)(d * 7 % 3)};
        at += len;
    }
    assert_true(at == NT);
    return (shard_t){.tokenizer_id = 77, .vocab_size = SET_V, .n_tokens = NT, .tokens = set_tokens, .n_docs = NDOC,
                     .docs = set_docs, .n_cats = 3, .cats = set_cats, .block_tokens = 64};
}

/* Documents [d0, d1) of the sample as a shard of their own; the second part lists its genres in another
 * order, which the set merges by name. */
static void write_part(const char *name, int d0, int d1, int reorder)
{
    shard_t all = set_sample(), part = all;
    uint64_t first = set_docs[d0].start, end = set_docs[d1 - 1].start + set_docs[d1 - 1].len;
    shard_doc_t pd[NDOC];
    char pc[3][SHARD_CAT_LEN] = {"lore", "fiction", "news"};
    uint32_t to[3] = {1, 2, 0}; /* fiction, news, lore in pc */
    for (int d = d0; d < d1; d++)
        pd[d - d0] = (shard_doc_t){set_docs[d].start - first, set_docs[d].len,
                                   reorder ? to[set_docs[d].category] : set_docs[d].category};
    part.tokens = set_tokens + first, part.n_tokens = end - first;
    part.docs = pd, part.n_docs = (uint32_t)(d1 - d0);
    if (reorder) part.cats = pc;
    remove(tmpdir_path(name));
    assert_int_equal(shard_write(&part, tmpdir_path(name)), 0);
}

/* The sample whole, and as a manifest of 3 files split at documents 13 and 29. */
static void write_set(void)
{
    shard_t all = set_sample();
    remove(tmpdir_path("whole.bin"));
    assert_int_equal(shard_write(&all, tmpdir_path("whole.bin")), 0);
    write_part("p0.bin", 0, 13, 0);
    write_part("p1.bin", 13, 29, 1);
    write_part("p2.bin", 29, NDOC, 0);
    char text[256];
    uint64_t a = set_docs[13].start, b = set_docs[29].start;
    snprintf(text, sizeof text, "innerloop-shards 1\np0.bin\t%llu\np1.bin\t%llu\np2.bin\t%llu\n", (unsigned long long)a,
             (unsigned long long)(b - a), (unsigned long long)(NT - b));
    tmpdir_write("set.shards", text);
}

static void assert_same_windows(const shard_t *one, const shard_t *set, loader_order_t order)
{
    enum { G = 6, T = 16, STEPS = 70 }; /* 187 windows: over two epochs */
    loader_t a, b;
    assert_int_equal(loader_init(&a, one, order, 9, G, 0, G, T), 0);
    assert_int_equal(loader_init(&b, set, order, 9, G, 0, G, T), 0);
    int32_t in[2][G * T], tg[2][G * T], ct[2][G * T];
    for (int st = 0; st < STEPS; st++) {
        assert_int_equal(loader_next(&a, G, in[0], tg[0], ct[0]), 0);
        assert_int_equal(loader_next(&b, G, in[1], tg[1], ct[1]), 0);
        assert_memory_equal(in[0], in[1], sizeof in[0]);
        assert_memory_equal(tg[0], tg[1], sizeof tg[0]);
        assert_memory_equal(ct[0], ct[1], sizeof ct[0]);
    }
    loader_free(&a);
    loader_free(&b);
}

/* A set of 3 files is the one file of the same tokens to every reader: documents and genres, tokens
 * across the file boundaries, the loader's windows in either order over two epochs, the probe windows and
 * the unigram baseline; its one-file manifest is the file. */
static void test_set_is_one_shard(void **state)
{
    (void)state;
    write_set();
    shard_t one, set;
    assert_int_equal(shard_read(&one, tmpdir_path("whole.bin")), 0);
    assert_int_equal(shard_open(&set, tmpdir_path("set.shards")), 0);
    assert_int_equal(set.n_files, 3);
    assert_null(set.tokens);
    assert_int_equal(set.n_tokens, NT);
    assert_int_equal(set.tokenizer_id, 77);
    assert_int_equal(set.n_docs, NDOC);
    assert_docs_equal(set.docs, set_docs, NDOC);
    assert_int_equal(set.n_cats, 3);
    assert_memory_equal(set.cats, one.cats, sizeof set_cats);
    static int32_t a[NT], b[NT];
    assert_int_equal(shard_get(&one, 0, NT, a), 0);
    assert_int_equal(shard_get(&set, 0, NT, b), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(shard_get(&set, set_docs[13].start - 5, 10, b), 0); /* across the first boundary */
    assert_memory_equal(a + set_docs[13].start - 5, b, 10 * sizeof *b);
    assert_same_windows(&one, &set, LOADER_SHUFFLE);
    assert_same_windows(&one, &set, LOADER_LANES);

    probe_t p, q;
    enum { W = 30, GR = 6, PT = 24 };
    assert_int_equal(probe_select(&p, &one, W, GR, 5, 0, 1, PT), 0);
    assert_int_equal(probe_select(&q, &set, W, GR, 5, 0, 1, PT), 0);
    assert_int_equal(p.n, q.n);
    assert_memory_equal(p.offset, q.offset, (size_t)p.n * sizeof *p.offset);
    assert_memory_equal(p.genre, q.genre, (size_t)p.n * sizeof *p.genre);
    assert_memory_equal(p.inputs, q.inputs, (size_t)p.n * PT * sizeof *p.inputs);
    assert_memory_equal(p.targets, q.targets, (size_t)p.n * PT * sizeof *p.targets);
    assert_memory_equal(p.cats, q.cats, (size_t)p.n * PT * sizeof *p.cats);
    probe_free(&p);
    probe_free(&q);
    shard_free(&set);

    uint64_t counts[SET_V] = {0}, n1, n3;
    for (int i = 0; i < NT; i++) counts[set_tokens[i]]++;
    assert_int_equal(shard_counts_write(tmpdir_path("set.counts"), 77, SET_V, counts), 0);
    double l1, l3;
    assert_int_equal(shard_unigram_loss(tmpdir_path("set.counts"), tmpdir_path("whole.bin"), &l1, &n1), 0);
    assert_int_equal(shard_unigram_loss(tmpdir_path("set.counts"), tmpdir_path("set.shards"), &l3, &n3), 0);
    assert_int_equal(n1, n3);
    assert_true(l1 == l3);

    char text[64];
    snprintf(text, sizeof text, "innerloop-shards 1\nwhole.bin\t%d\n", NT);
    tmpdir_write("one.shards", text);
    assert_int_equal(shard_read(&set, tmpdir_path("one.shards")), 0);
    assert_int_equal(set.n_files, 1);
    assert_memory_equal(set.tokens, one.tokens, sizeof set_tokens);
    shard_free(&set);
    shard_free(&one);
}

/* Threads that read the same fresh mapping at once each check blocks and get the tokens. */
static void test_threads(void **state)
{
    (void)state;
    write_set();
    shard_t set;
    assert_int_equal(shard_open(&set, tmpdir_path("set.shards")), 0);
    int bad = 0;
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int i = 0; i < NT - 40; i += 7) {
        int32_t w[40];
        bad += shard_get(&set, (uint64_t)i, 40, w) != 0;
        for (int k = 0; k < 40; k++) bad += w[k] != set_tokens[i + k];
    }
    assert_int_equal(bad, 0);
    assert_int_equal(shard_check_all(&set), 0);
    shard_free(&set);
}

static void assert_manifest_fails(const char *name, const char *text, int line, const char *reason)
{
    tmpdir_write(name, text);
    shard_t s;
    char where[4300];
    snprintf(where, sizeof where, "%s:%d: ", tmpdir_path(name), line);
    assert_int_equal(shard_open(&s, tmpdir_path(name)), -1);
    if (!strstr(err_msg(), reason) || strncmp(err_msg(), where, strlen(where)) || strchr(err_msg(), '\n'))
        fail_msg("message \"%s\" lacks \"%s\" or does not begin with \"%s\"", err_msg(), reason, where);
    assert_null(s.files);
}

/* Every bad manifest is one line naming it and the line: the first line, a line that is not NAME<TAB>COUNT,
 * an absolute or `..` name, a missing or truncated shard, a count other than the shard's, a shard of
 * another tokenizer than the first (both named), a manifest listing nothing. */
static void test_manifest_errors(void **state)
{
    (void)state;
    write_set();
    char text[512];
    uint64_t n0 = set_docs[13].start;
    assert_manifest_fails("v2.shards", "innerloop-shards 2\np0.bin\t5\n", 1, "begins with the line `innerloop-shards 1`");
    assert_manifest_fails("space.shards", "innerloop-shards 1\np0.bin 1000\n", 2, "expected NAME<TAB>N_TOKENS");
    assert_manifest_fails("num.shards", "innerloop-shards 1\np0.bin\t12x\n", 2, "expected NAME<TAB>N_TOKENS");
    assert_manifest_fails("neg.shards", "innerloop-shards 1\np0.bin\t-3\n", 2, "expected NAME<TAB>N_TOKENS");
    assert_manifest_fails("blank.shards", "innerloop-shards 1\n\np0.bin\t3\n", 2, "expected NAME<TAB>N_TOKENS");
    assert_manifest_fails("abs.shards", "innerloop-shards 1\n/etc/p0.bin\t5\n", 2, "shard name `/etc/p0.bin` must be relative");
    assert_manifest_fails("up.shards", "innerloop-shards 1\nx/../p0.bin\t5\n", 2, "without `..`");
    assert_manifest_fails("up2.shards", "innerloop-shards 1\n../p0.bin\t5\n", 2, "without `..`");
    assert_manifest_fails("none.shards", "innerloop-shards 1\n", 1, "lists no shard");
    snprintf(text, sizeof text, "innerloop-shards 1\np0.bin\t%llu\ngone.bin\t5\n", (unsigned long long)n0);
    assert_manifest_fails("gone.shards", text, 3, "gone.bin: cannot open: No such file");
    snprintf(text, sizeof text, "innerloop-shards 1\np0.bin\t%llu\n", (unsigned long long)n0 + 1);
    char want[256];
    snprintf(want, sizeof want, "p0.bin holds %llu tokens, the manifest says %llu", (unsigned long long)n0,
             (unsigned long long)n0 + 1);
    assert_manifest_fails("count.shards", text, 2, want);
    size_t n;
    uint8_t *raw = slurp(tmpdir_path("p0.bin"), &n);
    write_raw("cut.bin", raw, n - 9);
    free(raw);
    snprintf(text, sizeof text, "innerloop-shards 1\ncut.bin\t%llu\n", (unsigned long long)n0);
    assert_manifest_fails("cut.shards", text, 2, "cut.bin: truncated: header says");
    remove(tmpdir_path("e.bin"));
    assert_int_equal(shard_write(&sample, tmpdir_path("e.bin")), 0); /* tokenizer abcdef12, vocab 300 */
    snprintf(text, sizeof text, "innerloop-shards 1\np0.bin\t%llu\ne.bin\t10\n", (unsigned long long)n0);
    assert_manifest_fails("tok.shards", text, 3, "e.bin: made by tokenizer abcdef12 with vocab 300, but ");
    assert_non_null(strstr(err_msg(), "p0.bin, the set's first shard, by tokenizer 0000004d with vocab 500"));
    /* neither a shard nor a manifest: refused as a shard */
    tmpdir_write("other.shards", "innerloop-shard 1\n");
    assert_read_fails("other.shards", "bad magic");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_mapped),
        cmocka_unit_test(test_lazy_check),
        cmocka_unit_test(test_set_is_one_shard),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_manifest_errors),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
