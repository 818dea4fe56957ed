#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/rng.h"
#include "data/tokenizer.h"

#include "tests/tmpdir.h"

static const char *path_in(const char *name)
{
    static char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static uint8_t *random_bytes(uint64_t seed, size_t n)
{
    rng_t r;
    rng_seed(&r, seed);
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rng_u64(&r);
    return b;
}

/* English-like text from a fixed word list with Zipf-ish frequencies and punctuation. */
static uint8_t *english(uint64_t seed, size_t n)
{
    static const char *words[] = {"the", "of", "and", "to", "a", "in", "that", "is", "was", "he", "for", "it", "with",
                                  "as", "his", "on", "be", "at", "by", "had", "jury", "election", "County", "said",
                                  "investigation", "Fulton", "1961", "department", "however", "city"};
    const int n_words = (int)(sizeof words / sizeof *words);
    rng_t r;
    rng_seed(&r, seed);
    uint8_t *b = malloc(n + 32);
    size_t k = 0;
    while (k < n) {
        double u = rng_uniform(&r);
        const char *w = words[(int)(u * u * n_words)];
        k += (size_t)sprintf((char *)b + k, "%s%s", w, rng_uniform(&r) < 0.08 ? ". " : rng_uniform(&r) < 0.05 ? ",\n" : " ");
    }
    return b;
}

static void assert_round_trip(const tokenizer_t *t, const uint8_t *text, size_t n)
{
    uint16_t *ids;
    uint8_t *back;
    size_t n_ids, n_back;
    assert_int_equal(tokenizer_encode(t, text, n, &ids, &n_ids), 0);
    for (size_t i = 0; i < n_ids; i++) assert_true(ids[i] < t->vocab_size);
    assert_int_equal(tokenizer_decode(t, ids, n_ids, &back, &n_back), 0);
    assert_int_equal(n_back, n);
    assert_memory_equal(back, text, n);
    free(ids);
    free(back);
}

static void test_byte_round_trip(void **state)
{
    (void)state;
    tokenizer_t t;
    assert_int_equal(tokenizer_init_byte(&t), 0);
    assert_int_equal(t.vocab_size, 256);
    uint8_t *b = random_bytes(1, 5000);
    b[0] = 0; /* NUL must survive */
    uint16_t *ids;
    size_t n;
    assert_int_equal(tokenizer_encode(&t, b, 5000, &ids, &n), 0);
    assert_int_equal(n, 5000);
    for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], b[i]);
    assert_round_trip(&t, b, 5000);
    free(ids);
    free(b);
    tokenizer_free(&t);
}

/* ---- independent reference BPE: recount every pair each step, on the chunk list ---- */

static int alnum(int c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

typedef struct {
    int32_t *s;
    int len;
} seq_t;

/* Splits text into chunks by the rule in tokenizer.h. */
static seq_t *ref_chunks(const uint8_t *text, size_t n, size_t *n_chunks)
{
    seq_t *c = calloc(n + 1, sizeof *c);
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        size_t j = i;
        if (text[j] == ' ' && j + 1 < n && alnum(text[j + 1])) j++;
        if (alnum(text[j])) {
            while (j < n && alnum(text[j]) && j - i < TOKENIZER_MAX_CHUNK) j++;
        } else {
            j = i + 1;
        }
        c[k].len = (int)(j - i);
        c[k].s = malloc(sizeof(int32_t) * (j - i));
        for (size_t q = i; q < j; q++) c[k].s[q - i] = text[q];
        i = j;
    }
    *n_chunks = k;
    return c;
}

static void ref_apply(seq_t *c, size_t n, int32_t a, int32_t b, int32_t id)
{
    for (size_t i = 0; i < n; i++) {
        int o = 0;
        for (int j = 0; j < c[i].len; j++) {
            if (j + 1 < c[i].len && c[i].s[j] == a && c[i].s[j + 1] == b) {
                c[i].s[o++] = id;
                j++;
            } else {
                c[i].s[o++] = c[i].s[j];
            }
        }
        c[i].len = o;
    }
}

static void test_bpe_matches_reference(void **state)
{
    (void)state;
    const size_t n = 3000;
    const int vocab = 300;
    uint8_t *text = english(7, n);
    tokenizer_t t;
    assert_int_equal(tokenizer_train_bpe(&t, text, n, vocab), 0);
    assert_int_equal(t.vocab_size, vocab);

    size_t n_chunks;
    seq_t *c = ref_chunks(text, n, &n_chunks);
    int64_t *count = calloc((size_t)vocab * vocab, sizeof *count);
    for (int m = 0; m < vocab - 256; m++) {
        memset(count, 0, (size_t)vocab * vocab * sizeof *count);
        for (size_t i = 0; i < n_chunks; i++)
            for (int j = 0; j + 1 < c[i].len; j++) count[c[i].s[j] * vocab + c[i].s[j + 1]]++;
        int best = 0;
        for (int p = 1; p < vocab * vocab; p++)
            if (count[p] > count[best]) best = p;
        assert_true(count[best] > 0);
        assert_int_equal(t.merges[m][0], best / vocab);
        assert_int_equal(t.merges[m][1], best % vocab);
        ref_apply(c, n_chunks, best / vocab, best % vocab, 256 + m);
    }
    /* encoding the training text gives exactly the reference's final segmentation */
    uint16_t *ids;
    size_t n_ids, k = 0;
    assert_int_equal(tokenizer_encode(&t, text, n, &ids, &n_ids), 0);
    for (size_t i = 0; i < n_chunks; i++)
        for (int j = 0; j < c[i].len; j++) {
            assert_true(k < n_ids);
            assert_int_equal(ids[k++], c[i].s[j]);
        }
    assert_int_equal(k, n_ids);
    for (size_t i = 0; i < n_chunks; i++) free(c[i].s);
    free(c);
    free(count);
    free(ids);
    free(text);
    tokenizer_free(&t);
}

static void test_bpe_round_trip_and_compression(void **state)
{
    (void)state;
    const size_t n = 200000;
    uint8_t *text = english(3, n), *noise = random_bytes(4, 20000);
    tokenizer_t t;
    assert_int_equal(tokenizer_train_bpe(&t, text, n, 330), 0);
    assert_int_equal(t.vocab_size, 330);
    assert_round_trip(&t, text, n);
    assert_round_trip(&t, noise, 20000);
    uint8_t *other = english(99, 50000); /* text not seen in training */
    uint16_t *ids;
    size_t n_ids;
    assert_int_equal(tokenizer_encode(&t, other, 50000, &ids, &n_ids), 0);
    assert_true(n_ids * 2 < 50000); /* words and their leading space mostly become single tokens */
    assert_round_trip(&t, other, 50000);
    free(ids);
    free(other);
    tokenizer_free(&t);

    /* training on random bytes (with NULs, no words) also round-trips */
    assert_int_equal(tokenizer_train_bpe(&t, noise, 20000, 512), 0);
    assert_round_trip(&t, noise, 20000);
    assert_round_trip(&t, text, n);
    tokenizer_free(&t);
    free(noise);
    free(text);
}

static void test_long_run_is_linear(void **state)
{
    (void)state;
    const size_t n = 1 << 20;
    uint8_t *a = malloc(n);
    memset(a, 'a', n);
    tokenizer_t t;
    assert_int_equal(tokenizer_train_bpe(&t, a, n, 300), 0);
    assert_round_trip(&t, a, n);
    tokenizer_free(&t);
    free(a);
}

static void test_save_load(void **state)
{
    (void)state;
    uint8_t *text = english(11, 20000);
    tokenizer_t t, u, b;
    assert_int_equal(tokenizer_train_bpe(&t, text, 20000, 300), 0);
    assert_int_equal(tokenizer_save(&t, path_in("t.bin")), 0);
    assert_int_equal(tokenizer_load(&u, path_in("t.bin")), 0);
    assert_int_equal(u.kind, TOKENIZER_BPE);
    assert_int_equal(u.vocab_size, t.vocab_size);
    assert_int_equal(u.id, t.id);
    assert_memory_equal(u.merges, t.merges, sizeof *t.merges * (size_t)t.n_merges);
    uint16_t *x, *y;
    size_t nx, ny;
    assert_int_equal(tokenizer_encode(&t, text, 20000, &x, &nx), 0);
    assert_int_equal(tokenizer_encode(&u, text, 20000, &y, &ny), 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx * sizeof *x);
    free(x);
    free(y);

    /* refuses to overwrite, and different tokenizers get different ids */
    assert_int_equal(tokenizer_save(&u, path_in("t.bin")), -1);
    assert_non_null(strstr(err_msg(), "already exists"));
    assert_int_equal(tokenizer_init_byte(&b), 0);
    assert_int_not_equal(b.id, t.id);
    tokenizer_t v;
    assert_int_equal(tokenizer_train_bpe(&v, text, 20000, 299), 0);
    assert_int_not_equal(v.id, t.id);
    assert_int_equal(tokenizer_save(&b, path_in("byte.bin")), 0);
    tokenizer_free(&u);
    assert_int_equal(tokenizer_load(&u, path_in("byte.bin")), 0);
    assert_int_equal(u.kind, TOKENIZER_BYTE);
    assert_int_equal(u.id, b.id);
    tokenizer_free(&u);
    tokenizer_free(&v);
    tokenizer_free(&b);
    tokenizer_free(&t);
    free(text);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void write_raw(const char *name, const void *b, size_t n)
{
    FILE *f = fopen(path_in(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void assert_load_fails(const char *name, const char *reason)
{
    tokenizer_t t;
    assert_int_equal(tokenizer_load(&t, path_in(name)), -1);
    if (!strstr(err_msg(), reason) || !strstr(err_msg(), path_in(name))) fail_msg("message \"%s\" lacks \"%s\"", err_msg(), reason);
}

static void test_bad_files(void **state)
{
    (void)state;
    assert_load_fails("missing.bin", "cannot open");
    write_raw("empty.bin", "", 0);
    assert_load_fails("empty.bin", "empty");
    write_raw("text.bin", "hello world, this is not a tokenizer\n", 37);
    assert_load_fails("text.bin", "bad magic");

    /* a valid 2-merge file by the documented layout, then broken in one place each */
    uint8_t b[28 + 16] = {'I', 'L', 'T', 'O', 'K', 'E', 'N', 0};
    put32(b + 8, 1);
    put32(b + 12, TOKENIZER_BPE);
    put32(b + 16, 258);
    put32(b + 20, 2);
    put32(b + 28, 'a');
    put32(b + 32, 'b');
    put32(b + 36, 256);
    put32(b + 40, 'c');
    /* the id is FNV-1a over the little-endian words kind, vocab, merges (docs/formats.md) */
    uint32_t id = 2166136261u;
    for (size_t i = 12; i < sizeof b; i++) {
        if (i == 20) i = 28; /* skip n_merges and id */
        id = (id ^ b[i]) * 16777619u;
    }
    put32(b + 24, id);
    write_raw("good.bin", b, sizeof b);
    tokenizer_t u;
    assert_int_equal(tokenizer_load(&u, path_in("good.bin")), 0);
    assert_int_equal(u.vocab_size, 258);
    assert_int_equal(u.id, id);
    tokenizer_free(&u);
    /* " abc" x3 and "abc" x1: (a,b) and (b,c) tie at 4 and the lower pair wins, then (ab,c) */
    const uint8_t abc[] = "abc abc abc abc";
    assert_int_equal(tokenizer_train_bpe(&u, abc, sizeof abc - 1, 258), 0);
    assert_int_equal(u.merges[0][0], 'a');
    assert_int_equal(u.merges[0][1], 'b');
    assert_int_equal(u.merges[1][0], 256);
    assert_int_equal(u.merges[1][1], 'c');
    assert_int_equal(u.id, id);
    tokenizer_free(&u);

    write_raw("short.bin", b, sizeof b - 5);
    assert_load_fails("short.bin", "truncated");
    write_raw("header.bin", b, 20);
    assert_load_fails("header.bin", "truncated");

    uint8_t c[sizeof b];
    memcpy(c, b, sizeof b);
    put32(c + 8, 9);
    write_raw("version.bin", c, sizeof c);
    assert_load_fails("version.bin", "unsupported tokenizer version 9");

    memcpy(c, b, sizeof b);
    put32(c + 36, 257); /* merge 1 may use ids up to 256 only */
    write_raw("forward.bin", c, sizeof c);
    assert_load_fails("forward.bin", "merge 1 refers to token 257");

    memcpy(c, b, sizeof b);
    put32(c + 24, id ^ 1);
    write_raw("id.bin", c, sizeof c);
    assert_load_fails("id.bin", "content hash");
}

/* ---- GPT-2's kind, on a small vocabulary in GPT-2's file formats ---- */

static int gpt2_printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

/* GPT-2's order of the single bytes: the printable ones, then the rest, each group ascending. */
static int gpt2_byte_at(int id)
{
    int k = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int b = 0; b < 256; b++)
            if (gpt2_printable(b) == pass && k++ == id) return b;
    return -1;
}

/* The JSON key of a byte: its bytes_to_unicode character in UTF-8, escaped for JSON. */
static void gpt2_key(int b, char *out)
{
    int cp = b;
    if (!gpt2_printable(b)) {
        cp = 256;
        for (int c = 0; c < b; c++) cp += !gpt2_printable(c);
    }
    if (cp == '"' || cp == '\\') sprintf(out, "\\%c", cp);
    else if (cp < 0x80) sprintf(out, "%c", cp);
    else sprintf(out, "%c%c", 0xC0 | cp >> 6, 0x80 | (cp & 0x3F));
}

/* Ġ is the space; merges 256.. and <|endoftext|> last */
static const char *const small_merges[][3] = {
    {"\xc4\xa0", "t", "\xc4\xa0t"}, {"h", "e", "he"}, {"\xc4\xa0t", "he", "\xc4\xa0the"},
    {"i", "n", "in"},               {"\xc4\xa0", "in", "\xc4\xa0in"}};
enum { N_SMALL = 5 };

static void write_small_gpt2(const char *merges_text)
{
    char *json = calloc(1, 65536), key[8];
    strcpy(json, "{");
    for (int id = 0; id < 256; id++) {
        gpt2_key(gpt2_byte_at(id), key);
        sprintf(json + strlen(json), "\"%s\": %d, ", key, id);
    }
    for (int i = 0; i < N_SMALL; i++) sprintf(json + strlen(json), "\"%s\": %d, ", small_merges[i][2], 256 + i);
    sprintf(json + strlen(json), "\"<|endoftext|>\": %d}", 256 + N_SMALL);
    tmpdir_write("encoder.json", json);
    free(json);
    if (merges_text) {
        tmpdir_write("vocab.bpe", merges_text);
        return;
    }
    char bpe[512] = "#version: 0.2\n";
    for (int i = 0; i < N_SMALL; i++) sprintf(bpe + strlen(bpe), "%s %s\n", small_merges[i][0], small_merges[i][1]);
    tmpdir_write("vocab.bpe", bpe);
}

static void encode_ok(const tokenizer_t *t, const char *text, uint16_t **ids, size_t *n)
{
    assert_int_equal(tokenizer_encode(t, (const uint8_t *)text, strlen(text), ids, n), 0);
}

static void test_gpt2_small(void **state)
{
    (void)state;
    write_small_gpt2(NULL);
    tokenizer_t t, u;
    assert_int_equal(tokenizer_init_gpt2_dir(&t, dir), 0);
    assert_int_equal(t.kind, TOKENIZER_GPT2);
    assert_int_equal(t.vocab_size, 256 + N_SMALL + 1);
    assert_int_equal(tokenizer_doc_end(&t), 256 + N_SMALL);
    tokenizer_t b;
    assert_int_equal(tokenizer_init_byte(&b), 0);
    assert_int_equal(tokenizer_doc_end(&b), -1);
    tokenizer_free(&b);

    /* "the" has no merge for (t, h); " in" merges (i, n) then (Ġ, in); " the" lowest rank first */
    uint16_t *ids;
    size_t n;
    encode_ok(&t, "the in the\n", &ids, &n);
    const uint16_t want[] = {'t' - '!', 257, 260, 258, 188 + '\n'};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    uint16_t end = (uint16_t)tokenizer_doc_end(&t);
    uint8_t *text;
    assert_int_equal(tokenizer_decode(&t, &end, 1, &text, &n), 0);
    assert_int_equal(n, 13);
    assert_memory_equal(text, "<|endoftext|>", 13);
    free(text);
    uint8_t *noise = random_bytes(5, 5000);
    assert_round_trip(&t, noise, 5000);
    free(noise);

    /* the file keeps it whole, byte order included */
    assert_int_equal(tokenizer_save(&t, path_in("gpt2.bin")), 0);
    assert_int_equal(tokenizer_load(&u, path_in("gpt2.bin")), 0);
    assert_int_equal(u.id, t.id);
    assert_int_equal(u.vocab_size, t.vocab_size);
    assert_memory_equal(u.byte_of, t.byte_of, 256);
    encode_ok(&u, "the in the\n", &ids, &n);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    tokenizer_free(&u);
    FILE *f = fopen(path_in("gpt2.bin"), "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 28 + 8 * N_SMALL + 1, SEEK_SET), 0);
    fputc(t.byte_of[0], f);
    fclose(f);
    assert_load_fails("gpt2.bin", "has two ids");

    /* one tokenizer, many threads: each call has its own cache, so all get the serial ids */
    uint8_t *doc = english(3, 100000);
    uint16_t *serial;
    size_t n_serial;
    assert_int_equal(tokenizer_encode(&t, doc, 100000, &serial, &n_serial), 0);
    int bad = 0;
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int i = 0; i < 16; i++) {
        uint16_t *mine;
        size_t n_mine;
        bad += tokenizer_encode(&t, doc, 100000, &mine, &n_mine) != 0 || n_mine != n_serial ||
               memcmp(mine, serial, n_serial * sizeof *mine) != 0;
        free(mine);
    }
    assert_int_equal(bad, 0);
    free(serial);
    free(doc);
    tokenizer_free(&t);
}

static void assert_gpt2_fails(const char *merges_text, const char *reason)
{
    write_small_gpt2(merges_text);
    tokenizer_t t;
    assert_int_equal(tokenizer_init_gpt2_dir(&t, dir), -1);
    assert_msg_has(reason);
}

static void test_gpt2_bad_vocab(void **state)
{
    (void)state;
    assert_gpt2_fails("#version: 0.2\n\xc4\xa0 t\nh e\n\xc4\xa0t he\ni n\n", "vocab.bpe: 4 merges; ");
    assert_gpt2_fails("#version: 0.2\nh e\n\xc4\xa0 t\n\xc4\xa0t he\ni n\n\xc4\xa0 in\n",
                      "vocab.bpe:2: merge \"h e\" gives \"he\", whose id in");
    assert_gpt2_fails("#version: 0.2\n\xc4\xa0 t\nh e\n\xc4\xa0t he\ni n\n\xc4\xa0 zz\n", "vocab.bpe:6: merge");
    assert_msg_has("no key \"zz\"");
    assert_gpt2_fails("\xc4\xa0 t\n", "vocab.bpe:1: expected a #version line");
    tmpdir_write("encoder.json", "{\"a\": 1,");
    tokenizer_t t;
    assert_int_equal(tokenizer_init_gpt2_dir(&t, dir), -1);
    assert_msg_has("encoder.json: not valid JSON");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_round_trip),
        cmocka_unit_test(test_bpe_matches_reference),
        cmocka_unit_test(test_bpe_round_trip_and_compression),
        cmocka_unit_test(test_long_run_is_linear),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_gpt2_small),
        cmocka_unit_test(test_gpt2_bad_vocab),
    };
    return cmocka_run_group_tests(tests, tmpdir_make, tmpdir_remove);
}
