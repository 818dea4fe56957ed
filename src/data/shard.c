#include "data/shard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"

/* Layouts in docs/formats.md. */
enum { SHARD_VERSION = 1, SHARD_HEADER = 36, SHARD_DOC = 20 };
enum { COUNTS_VERSION = 1, COUNTS_HEADER = 20 };
static const uint8_t shard_magic[8] = {'I', 'L', 'S', 'H', 'A', 'R', 'D', 0};
static const uint8_t counts_magic[8] = {'I', 'L', 'C', 'O', 'U', 'N', 'T', 0};

static uint64_t shard_bytes(uint64_t n_tokens, uint64_t n_docs, uint64_t n_cats)
{
    return SHARD_HEADER + 2 * n_tokens + SHARD_DOC * n_docs + SHARD_CAT_LEN * n_cats;
}

int shard_write(const shard_t *s, const char *path)
{
    size_t n = (size_t)shard_bytes(s->n_tokens, s->n_docs, s->n_cats);
    uint8_t *b = err_calloc(n, 1), *p = b + SHARD_HEADER;
    memcpy(b, shard_magic, 8);
    bytes_put_u32(b + 8, SHARD_VERSION);
    bytes_put_u32(b + 12, s->tokenizer_id);
    bytes_put_u32(b + 16, s->vocab_size);
    bytes_put_u64(b + 20, s->n_tokens);
    bytes_put_u32(b + 28, s->n_docs);
    bytes_put_u32(b + 32, s->n_cats);
    for (uint64_t i = 0; i < s->n_tokens; i++, p += 2) bytes_put_u16(p, s->tokens[i]);
    for (uint32_t i = 0; i < s->n_docs; i++, p += SHARD_DOC) {
        bytes_put_u64(p, s->docs[i].start);
        bytes_put_u64(p + 8, s->docs[i].len);
        bytes_put_u32(p + 16, s->docs[i].category);
    }
    for (uint32_t i = 0; i < s->n_cats; i++, p += SHARD_CAT_LEN) memcpy(p, s->cats[i], strnlen(s->cats[i], SHARD_CAT_LEN - 1));
    int rc = bytes_write_file(path, b, n);
    free(b);
    return rc;
}

/* Magic, version and size checks shared by shards and counts files; kind names the format in messages. */
static int check_magic(const char *path, const uint8_t *b, size_t n, const uint8_t magic[8], const char *kind,
                       uint32_t version, size_t header)
{
    if (n == 0) return err_set("%s: empty file, not a %s", path, kind);
    if (n < 8 || memcmp(b, magic, 8) != 0) return err_set("%s: not a %s (bad magic)", path, kind);
    if (n < header) return err_set("%s: truncated: %zu bytes, the %s header needs %zu", path, n, kind, header);
    uint32_t v = bytes_get_u32(b + 8);
    if (v != version) return err_set("%s: unsupported %s version %u (this build reads version %u)", path, kind, v, version);
    return 0;
}

static int check_docs(const char *path, const shard_t *s)
{
    uint64_t next = 0;
    for (uint32_t i = 0; i < s->n_docs; i++) {
        const shard_doc_t *d = &s->docs[i];
        if (d->start > s->n_tokens || d->len > s->n_tokens - d->start)
            return err_set("%s: doc table out of range: document %u covers tokens [%llu, %llu+%llu), shard has %llu",
                           path, i, (unsigned long long)d->start, (unsigned long long)d->start,
                           (unsigned long long)d->len, (unsigned long long)s->n_tokens);
        if (d->start != next)
            return err_set("%s: doc table not contiguous: document %u starts at token %llu, expected %llu", path, i,
                           (unsigned long long)d->start, (unsigned long long)next);
        if (d->category >= s->n_cats)
            return err_set("%s: doc table out of range: document %u has category %u, shard has %u", path, i,
                           d->category, s->n_cats);
        next = d->start + d->len;
    }
    if (next != s->n_tokens)
        return err_set("%s: doc table covers %llu of %llu tokens", path, (unsigned long long)next, (unsigned long long)s->n_tokens);
    return 0;
}

/* Fills s from the validated header and checks the body: sizes, token range, documents, names. */
static int parse_shard(const char *path, const uint8_t *b, size_t n, shard_t *s)
{
    if (check_magic(path, b, n, shard_magic, "shard", SHARD_VERSION, SHARD_HEADER) != 0) return -1;
    s->tokenizer_id = bytes_get_u32(b + 12);
    s->vocab_size = bytes_get_u32(b + 16);
    uint64_t n_tokens = bytes_get_u64(b + 20);
    s->n_docs = bytes_get_u32(b + 28);
    s->n_cats = bytes_get_u32(b + 32);
    if (s->vocab_size == 0 || s->vocab_size > 65536) return err_set("%s: vocab size %u is out of range [1, 65536]", path, s->vocab_size);
    uint64_t want = n_tokens > (UINT64_MAX - SHARD_HEADER) / 4 ? UINT64_MAX : shard_bytes(n_tokens, s->n_docs, s->n_cats);
    if (n < want)
        return err_set("%s: truncated: header says %llu tokens, %u documents, %u categories (%llu bytes), file holds %zu bytes",
                       path, (unsigned long long)n_tokens, s->n_docs, s->n_cats, (unsigned long long)want, n);
    if (n > want) return err_set("%s: %llu unexpected bytes after the category table", path, (unsigned long long)(n - want));
    s->n_tokens = n_tokens;
    const uint8_t *p = b + SHARD_HEADER;
    s->tokens = err_calloc((size_t)n_tokens, sizeof *s->tokens);
    for (uint64_t i = 0; i < n_tokens; i++, p += 2) {
        s->tokens[i] = bytes_get_u16(p);
        if (s->tokens[i] >= s->vocab_size)
            return err_set("%s: token %llu has id %u, not below the vocab size %u", path, (unsigned long long)i, s->tokens[i], s->vocab_size);
    }
    s->docs = err_calloc(s->n_docs, sizeof *s->docs);
    for (uint32_t i = 0; i < s->n_docs; i++, p += SHARD_DOC)
        s->docs[i] = (shard_doc_t){bytes_get_u64(p), bytes_get_u64(p + 8), bytes_get_u32(p + 16)};
    s->cats = err_calloc(s->n_cats, sizeof *s->cats);
    for (uint32_t i = 0; i < s->n_cats; i++, p += SHARD_CAT_LEN) {
        if (p[SHARD_CAT_LEN - 1] != 0) return err_set("%s: category %u name is not NUL-terminated", path, i);
        memcpy(s->cats[i], p, SHARD_CAT_LEN);
    }
    return check_docs(path, s);
}

int shard_read(shard_t *s, const char *path)
{
    memset(s, 0, sizeof *s);
    uint8_t *b;
    size_t n;
    if (bytes_read_file(path, &b, &n) != 0) return -1;
    int rc = parse_shard(path, b, n, s);
    free(b);
    if (rc != 0) shard_free(s);
    return rc;
}

int shard_read_expect(shard_t *s, const char *path, uint32_t tokenizer_id, uint32_t vocab_size)
{
    if (shard_read(s, path) != 0) return -1;
    if (s->tokenizer_id == tokenizer_id && s->vocab_size == vocab_size) return 0;
    err_set("%s: made by tokenizer %08x with vocab %u, but the tokenizer in use is %08x with vocab %u", path,
            s->tokenizer_id, s->vocab_size, tokenizer_id, vocab_size);
    shard_free(s);
    return -1;
}

void shard_free(shard_t *s)
{
    free(s->tokens);
    free(s->docs);
    free(s->cats);
    memset(s, 0, sizeof *s);
}

int shard_counts_write(const char *path, uint32_t tokenizer_id, uint32_t vocab_size, const uint64_t *counts)
{
    size_t n = COUNTS_HEADER + 8 * (size_t)vocab_size;
    uint8_t *b = err_calloc(n, 1);
    memcpy(b, counts_magic, 8);
    bytes_put_u32(b + 8, COUNTS_VERSION);
    bytes_put_u32(b + 12, tokenizer_id);
    bytes_put_u32(b + 16, vocab_size);
    for (uint32_t v = 0; v < vocab_size; v++) bytes_put_u64(b + COUNTS_HEADER + 8 * (size_t)v, counts[v]);
    int rc = bytes_write_file(path, b, n);
    free(b);
    return rc;
}

int shard_counts_read(const char *path, uint32_t *tokenizer_id, uint32_t *vocab_size, uint64_t **counts)
{
    *counts = NULL;
    uint8_t *b;
    size_t n;
    if (bytes_read_file(path, &b, &n) != 0) return -1;
    int rc = check_magic(path, b, n, counts_magic, "counts file", COUNTS_VERSION, COUNTS_HEADER);
    if (rc == 0) {
        *tokenizer_id = bytes_get_u32(b + 12);
        *vocab_size = bytes_get_u32(b + 16);
        size_t want = COUNTS_HEADER + 8 * (size_t)*vocab_size;
        if (*vocab_size == 0 || *vocab_size > 65536)
            rc = err_set("%s: vocab size %u is out of range [1, 65536]", path, *vocab_size);
        else if (n != want)
            rc = err_set("%s: %s: header says vocab %u (%zu bytes), file holds %zu bytes", path,
                         n < want ? "truncated" : "unexpected trailing bytes", *vocab_size, want, n);
    }
    if (rc == 0) {
        *counts = err_calloc(*vocab_size, sizeof **counts);
        for (uint32_t v = 0; v < *vocab_size; v++) (*counts)[v] = bytes_get_u64(b + COUNTS_HEADER + 8 * (size_t)v);
    }
    free(b);
    return rc;
}

int shard_unigram_loss(const char *counts_path, const char *shard_path, double *loss, uint64_t *n_tokens)
{
    uint32_t tok, V;
    uint64_t *counts;
    shard_t s;
    if (shard_counts_read(counts_path, &tok, &V, &counts)) return -1;
    if (shard_read_expect(&s, shard_path, tok, V)) {
        free(counts);
        return -1;
    }
    double total = V, sum = 0;
    for (uint32_t v = 0; v < V; v++) total += (double)counts[v];
    for (uint64_t i = 0; i < s.n_tokens; i++) sum -= log(((double)counts[s.tokens[i]] + 1.0) / total);
    *loss = s.n_tokens ? sum / (double)s.n_tokens : NAN;
    *n_tokens = s.n_tokens;
    shard_free(&s);
    free(counts);
    return 0;
}
