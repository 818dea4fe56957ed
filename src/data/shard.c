#include "data/shard.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/bytes.h"
#include "core/err.h"

/* Layouts in docs/formats.md. Version 2 of both added their checksums. */
enum { SHARD_VERSION = 2, SHARD_HEADER = SHARD_TOKENS_AT, SHARD_DOC = 20 };
enum { COUNTS_VERSION = 2, COUNTS_HEADER = 32, COUNTS_SUMMED = 24 };
enum { SHARD_MAX_BLOCK = 1 << 30 }; /* a block's bytes fit zlib's uInt */
static const uint8_t shard_magic[8] = {'I', 'L', 'S', 'H', 'A', 'R', 'D', 0};
static const uint8_t counts_magic[8] = {'I', 'L', 'C', 'O', 'U', 'N', 'T', 0};

static uint64_t n_blocks(uint64_t n_tokens, uint32_t block_tokens)
{
    return n_tokens / block_tokens + (n_tokens % block_tokens != 0);
}

/* Header, tokens, documents, categories, a CRC32 per block, and the CRC32 of all but the tokens. */
static uint64_t shard_bytes(uint64_t n_tokens, uint64_t n_docs, uint64_t n_cats, uint32_t block_tokens)
{
    return SHARD_HEADER + 2 * n_tokens + SHARD_DOC * n_docs + SHARD_CAT_LEN * n_cats +
           4 * n_blocks(n_tokens, block_tokens) + 4;
}

/* zlib's CRC32 of n bytes continued from crc (0 to start), in pieces that its uInt lengths hold. */
static uint32_t crc_of(uint32_t crc, const uint8_t *b, size_t n)
{
    for (size_t k; n; b += k, n -= k) {
        k = n < SHARD_MAX_BLOCK ? n : SHARD_MAX_BLOCK;
        crc = (uint32_t)crc32(crc, b, (uInt)k);
    }
    return crc;
}

/* The first token of block b and the token after its last. */
static void block_range(uint64_t n_tokens, uint32_t block_tokens, uint64_t b, uint64_t *first, uint64_t *end)
{
    *first = b * block_tokens;
    *end = n_tokens - *first < block_tokens ? n_tokens : *first + block_tokens;
}

static uint32_t block_crc(const uint8_t *token_bytes, uint64_t n_tokens, uint32_t block_tokens, uint64_t b)
{
    uint64_t first, end;
    block_range(n_tokens, block_tokens, b, &first, &end);
    return crc_of(0, token_bytes + 2 * first, (size_t)(2 * (end - first)));
}

/* The CRC32 of everything but the tokens: the header, and the tables from `tables` to the end of the block
 * table (the `tables_len` bytes before the stored CRC itself). */
static uint32_t tables_crc(const uint8_t *b, const uint8_t *tables, size_t tables_len)
{
    return crc_of(crc_of(0, b, SHARD_HEADER), tables, tables_len);
}

int shard_block_check(const char *path, const uint8_t *token_bytes, uint64_t n_tokens, uint32_t block_tokens,
                      const uint32_t *crc, uint64_t b)
{
    uint32_t got = block_crc(token_bytes, n_tokens, block_tokens, b);
    if (got == crc[b]) return 0;
    uint64_t first, end;
    block_range(n_tokens, block_tokens, b, &first, &end);
    return err_set("%s: block %llu (tokens %llu to %llu, bytes %llu to %llu) fails its checksum (CRC32 %08x, the "
                   "block table says %08x): the shard is corrupt; re-run il-prepare",
                   path, (unsigned long long)b, (unsigned long long)first, (unsigned long long)end - 1,
                   (unsigned long long)(SHARD_HEADER + 2 * first), (unsigned long long)(SHARD_HEADER + 2 * end - 1),
                   got, crc[b]);
}

int shard_write(const shard_t *s, const char *path)
{
    uint32_t block = s->block_tokens ? s->block_tokens : SHARD_BLOCK_TOKENS;
    if (block > SHARD_MAX_BLOCK) return err_set("%s: checksum blocks of %u tokens: at most %d", path, block, SHARD_MAX_BLOCK);
    size_t n = (size_t)shard_bytes(s->n_tokens, s->n_docs, s->n_cats, block);
    uint8_t *b = err_calloc(n, 1), *p = b + SHARD_HEADER;
    memcpy(b, shard_magic, 8);
    bytes_put_u32(b + 8, SHARD_VERSION);
    bytes_put_u32(b + 12, s->tokenizer_id);
    bytes_put_u32(b + 16, s->vocab_size);
    bytes_put_u64(b + 20, s->n_tokens);
    bytes_put_u32(b + 28, s->n_docs);
    bytes_put_u32(b + 32, s->n_cats);
    bytes_put_u32(b + 36, block);
    for (uint64_t i = 0; i < s->n_tokens; i++, p += 2) bytes_put_u16(p, s->tokens[i]);
    uint8_t *tables = p;
    for (uint32_t i = 0; i < s->n_docs; i++, p += SHARD_DOC) {
        bytes_put_u64(p, s->docs[i].start);
        bytes_put_u64(p + 8, s->docs[i].len);
        bytes_put_u32(p + 16, s->docs[i].category);
    }
    for (uint32_t i = 0; i < s->n_cats; i++, p += SHARD_CAT_LEN) memcpy(p, s->cats[i], strnlen(s->cats[i], SHARD_CAT_LEN - 1));
    for (uint64_t k = 0; k < n_blocks(s->n_tokens, block); k++, p += 4)
        bytes_put_u32(p, block_crc(b + SHARD_HEADER, s->n_tokens, block, k));
    bytes_put_u32(p, tables_crc(b, tables, (size_t)(p - tables)));
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
    uint32_t v = n < 12 ? 0 : bytes_get_u32(b + 8);
    if (v && v < version)
        return err_set("%s: %s version %u, which has no checksums (this build reads version %u): re-run il-prepare "
                       "to write it again", path, kind, v, version);
    if (n < header) return err_set("%s: truncated: %zu bytes, the %s header needs %zu", path, n, kind, header);
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
static int parse_shard(const char *path, const uint8_t *b, size_t n, void *out)
{
    shard_t *s = out;
    CALL(check_magic(path, b, n, shard_magic, "shard", SHARD_VERSION, SHARD_HEADER));
    s->tokenizer_id = bytes_get_u32(b + 12);
    s->vocab_size = bytes_get_u32(b + 16);
    uint64_t n_tokens = bytes_get_u64(b + 20);
    s->n_docs = bytes_get_u32(b + 28);
    s->n_cats = bytes_get_u32(b + 32);
    uint32_t block = s->block_tokens = bytes_get_u32(b + 36);
    if (s->vocab_size == 0 || s->vocab_size > 65536) return err_set("%s: vocab size %u is out of range [1, 65536]", path, s->vocab_size);
    if (block == 0 || block > SHARD_MAX_BLOCK)
        return err_set("%s: checksum blocks of %u tokens: out of range [1, %d]", path, block, SHARD_MAX_BLOCK);
    uint64_t want = n_tokens > (UINT64_MAX - SHARD_HEADER) / 8 ? UINT64_MAX : shard_bytes(n_tokens, s->n_docs, s->n_cats, block);
    if (n < want)
        return err_set("%s: truncated: header says %llu tokens, %u documents, %u categories (%llu bytes), file holds %zu bytes",
                       path, (unsigned long long)n_tokens, s->n_docs, s->n_cats, (unsigned long long)want, n);
    if (n > want) return err_set("%s: %llu unexpected bytes after the checksums", path, (unsigned long long)(n - want));
    s->n_tokens = n_tokens;
    /* the tables first (one checksum over all but the tokens), then each block of tokens against its entry */
    const uint8_t *tables = b + SHARD_HEADER + 2 * n_tokens;
    uint64_t n_block = n_blocks(n_tokens, block);
    const uint8_t *sums = b + n - 4 - 4 * n_block;
    uint32_t got = tables_crc(b, tables, (size_t)(b + n - 4 - tables)), stored = bytes_get_u32(b + n - 4);
    if (got != stored)
        return err_set("%s: the header and tables (documents, categories, block checksums) fail their checksum (CRC32 "
                       "%08x, the file says %08x): the shard is corrupt; re-run il-prepare", path, got, stored);
    uint32_t *crc = err_calloc((size_t)n_block + 1, sizeof *crc);
    for (uint64_t k = 0; k < n_block; k++) crc[k] = bytes_get_u32(sums + 4 * k);
    int rc = 0;
    for (uint64_t k = 0; k < n_block && rc == 0; k++) rc = shard_block_check(path, b + SHARD_HEADER, n_tokens, block, crc, k);
    free(crc);
    if (rc) return -1;
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
    int rc = bytes_parse_file(path, parse_shard, s);
    if (rc != 0) shard_free(s);
    return rc;
}

int shard_read_expect(shard_t *s, const char *path, uint32_t tokenizer_id, uint32_t vocab_size)
{
    CALL(shard_read(s, path));
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
    uint64_t total = 0;
    for (uint32_t v = 0; v < vocab_size; total += counts[v++])
        if (counts[v] > UINT64_MAX - total) return err_set("%s: the counts overflow 64 bits at token %u", path, v);
    uint8_t *b = err_calloc(n, 1);
    memcpy(b, counts_magic, 8);
    bytes_put_u32(b + 8, COUNTS_VERSION);
    bytes_put_u32(b + 12, tokenizer_id);
    bytes_put_u32(b + 16, vocab_size);
    bytes_put_u64(b + COUNTS_SUMMED, total);
    for (uint32_t v = 0; v < vocab_size; v++) bytes_put_u64(b + COUNTS_HEADER + 8 * (size_t)v, counts[v]);
    bytes_put_u32(b + 20, crc_of(0, b + COUNTS_SUMMED, n - COUNTS_SUMMED));
    int rc = bytes_write_file(path, b, n);
    free(b);
    return rc;
}

/* The checksum, then every count within what is left of the total (no overflow, none above it), then the
 * sum equal to it. */
static int check_counts(const char *path, const uint8_t *b, size_t n, uint32_t vocab_size, uint64_t *total)
{
    uint32_t got = crc_of(0, b + COUNTS_SUMMED, n - COUNTS_SUMMED), stored = bytes_get_u32(b + 20);
    if (got != stored)
        return err_set("%s: fails its checksum (CRC32 %08x, the file says %08x): the counts file is corrupt; re-run "
                       "il-prepare", path, got, stored);
    *total = bytes_get_u64(b + COUNTS_SUMMED);
    uint64_t sum = 0;
    for (uint32_t v = 0; v < vocab_size; v++) {
        uint64_t c = bytes_get_u64(b + COUNTS_HEADER + 8 * (size_t)v);
        if (c > *total - sum)
            return err_set("%s: the count of token %u (%llu) takes the sum past the %llu tokens counted", path, v,
                           (unsigned long long)c, (unsigned long long)*total);
        sum += c;
    }
    if (sum != *total)
        return err_set("%s: the counts add up to %llu, but the file says %llu tokens were counted", path,
                       (unsigned long long)sum, (unsigned long long)*total);
    return 0;
}

int shard_counts_read(const char *path, uint32_t *tokenizer_id, uint32_t *vocab_size, uint64_t **counts,
                      uint64_t *total)
{
    *counts = NULL;
    uint8_t *b;
    size_t n;
    CALL(bytes_read_file(path, &b, &n));
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
        else
            rc = check_counts(path, b, n, *vocab_size, total);
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
    uint64_t *counts, counted;
    shard_t s;
    CALL(shard_counts_read(counts_path, &tok, &V, &counts, &counted));
    if (shard_read_expect(&s, shard_path, tok, V)) {
        free(counts);
        return -1;
    }
    double total = (double)V + (double)counted, sum = 0;
    for (uint64_t i = 0; i < s.n_tokens; i++) sum -= log(((double)counts[s.tokens[i]] + 1.0) / total);
    *loss = s.n_tokens ? sum / (double)s.n_tokens : NAN;
    *n_tokens = s.n_tokens;
    shard_free(&s);
    free(counts);
    return 0;
}

/* ---- the streaming writer ---- */

enum { WRITER_BUF_TOKENS = 1 << 16 };

int shard_writer_open(shard_writer_t *w, const char *path, uint32_t tokenizer_id, uint32_t vocab_size)
{
    memset(w, 0, sizeof *w);
    if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path) return err_set("%s: path too long", path);
    w->f = fopen(path, "wbx");
    if (!w->f) return err_set("%s: cannot create: %s", path, strerror(errno));
    w->tokenizer_id = tokenizer_id;
    w->vocab_size = vocab_size;
    w->buf = err_calloc(2 * WRITER_BUF_TOKENS, 1);
    uint8_t header[SHARD_HEADER] = {0}; /* written for real at close */
    if (fwrite(header, 1, SHARD_HEADER, w->f) != SHARD_HEADER) {
        shard_writer_abort(w);
        return err_set("%s: write failed: %s", path, strerror(errno));
    }
    return 0;
}

static int writer_put(shard_writer_t *w, const void *b, size_t n)
{
    if (n && fwrite(b, 1, n, w->f) != n) return err_set("%s: write failed: %s", w->path, strerror(errno));
    return 0;
}

/* Writes n tokens (n <= WRITER_BUF_TOKENS), that do not cross a block boundary, and checksums them. */
static int writer_tokens(shard_writer_t *w, const uint16_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CHECK(ids[i] < w->vocab_size, "token %u is not below the vocab size %u", ids[i], w->vocab_size);
        bytes_put_u16(w->buf + 2 * i, ids[i]);
    }
    w->block_crc = crc_of(w->block_crc, w->buf, 2 * n);
    w->n_tokens += n;
    if (w->n_tokens % SHARD_BLOCK_TOKENS == 0) {
        if (w->n_crc == w->cap_crc) {
            w->cap_crc = w->cap_crc ? 2 * w->cap_crc : 256;
            w->crc = realloc(w->crc, w->cap_crc * sizeof *w->crc);
            CHECK(w->crc, "out of memory");
        }
        w->crc[w->n_crc++] = w->block_crc;
        w->block_crc = 0;
    }
    return writer_put(w, w->buf, 2 * n);
}

int shard_writer_doc(shard_writer_t *w, const uint16_t *ids, uint64_t n, uint32_t category)
{
    CHECK(w->n_docs < UINT32_MAX, "%s: too many documents for one shard", w->path);
    if (w->n_docs == w->cap_docs) {
        w->cap_docs = w->cap_docs ? 2 * w->cap_docs : 256;
        w->docs = realloc(w->docs, (size_t)w->cap_docs * sizeof *w->docs);
        CHECK(w->docs, "out of memory");
    }
    w->docs[w->n_docs++] = (shard_doc_t){w->n_tokens, n, category};
    while (n > 0) {
        uint64_t room = SHARD_BLOCK_TOKENS - w->n_tokens % SHARD_BLOCK_TOKENS;
        size_t k = (size_t)(n < room ? n : room);
        if (k > WRITER_BUF_TOKENS) k = WRITER_BUF_TOKENS;
        CALL(writer_tokens(w, ids, k));
        ids += k;
        n -= k;
    }
    return 0;
}

/* The tables after the tokens, each piece also into the running CRC of everything but the tokens. */
static int writer_tables(shard_writer_t *w, const char (*cats)[SHARD_CAT_LEN], uint32_t n_cats, uint32_t *crc)
{
    uint8_t b[SHARD_CAT_LEN];
    for (uint32_t i = 0; i < w->n_docs; i++) {
        bytes_put_u64(b, w->docs[i].start);
        bytes_put_u64(b + 8, w->docs[i].len);
        bytes_put_u32(b + 16, w->docs[i].category);
        *crc = crc_of(*crc, b, SHARD_DOC);
        CALL(writer_put(w, b, SHARD_DOC));
    }
    for (uint32_t i = 0; i < n_cats; i++) {
        memset(b, 0, sizeof b);
        memcpy(b, cats[i], strnlen(cats[i], SHARD_CAT_LEN - 1));
        *crc = crc_of(*crc, b, SHARD_CAT_LEN);
        CALL(writer_put(w, b, SHARD_CAT_LEN));
    }
    for (size_t k = 0; k < w->n_crc + (w->n_tokens % SHARD_BLOCK_TOKENS != 0); k++) {
        bytes_put_u32(b, k < w->n_crc ? w->crc[k] : w->block_crc);
        *crc = crc_of(*crc, b, 4);
        CALL(writer_put(w, b, 4));
    }
    bytes_put_u32(b, *crc);
    return writer_put(w, b, 4);
}

int shard_writer_close(shard_writer_t *w, const char (*cats)[SHARD_CAT_LEN], uint32_t n_cats)
{
    uint8_t h[SHARD_HEADER];
    memcpy(h, shard_magic, 8);
    bytes_put_u32(h + 8, SHARD_VERSION);
    bytes_put_u32(h + 12, w->tokenizer_id);
    bytes_put_u32(h + 16, w->vocab_size);
    bytes_put_u64(h + 20, w->n_tokens);
    bytes_put_u32(h + 28, w->n_docs);
    bytes_put_u32(h + 32, n_cats);
    bytes_put_u32(h + 36, SHARD_BLOCK_TOKENS);
    uint32_t crc = crc_of(0, h, SHARD_HEADER);
    int rc = writer_tables(w, cats, n_cats, &crc);
    if (rc == 0 && (fseek(w->f, 0, SEEK_SET) != 0 || writer_put(w, h, SHARD_HEADER) != 0))
        rc = err_set("%s: write failed: %s", w->path, strerror(errno));
    if (rc == 0 && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)) rc = err_set("%s: write failed: %s", w->path, strerror(errno));
    if (rc != 0) {
        shard_writer_abort(w);
        return -1;
    }
    rc = fclose(w->f);
    w->f = NULL;
    shard_writer_abort(w); /* frees the tables; the file is closed, so it stays */
    if (rc == 0) return 0;
    unlink(w->path);
    return err_set("%s: write failed", w->path);
}

void shard_writer_abort(shard_writer_t *w)
{
    if (w->f) {
        fclose(w->f);
        unlink(w->path);
    }
    w->f = NULL;
    free(w->docs);
    free(w->crc);
    free(w->buf);
    w->docs = NULL;
    w->crc = NULL;
    w->buf = NULL;
}
