#include "data/shard.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* The SHARD_HEADER bytes at h (layout in docs/formats.md). */
static void put_header(uint8_t *h, uint32_t tokenizer_id, uint32_t vocab_size, uint64_t n_tokens, uint32_t n_docs,
                       uint32_t n_cats, uint32_t block)
{
    memcpy(h, shard_magic, 8);
    bytes_put_u32(h + 8, SHARD_VERSION);
    bytes_put_u32(h + 12, tokenizer_id);
    bytes_put_u32(h + 16, vocab_size);
    bytes_put_u64(h + 20, n_tokens);
    bytes_put_u32(h + 28, n_docs);
    bytes_put_u32(h + 32, n_cats);
    bytes_put_u32(h + 36, block);
}

int shard_write(const shard_t *s, const char *path)
{
    uint32_t block = s->block_tokens ? s->block_tokens : SHARD_BLOCK_TOKENS;
    if (block > SHARD_MAX_BLOCK) return err_set("%s: checksum blocks of %u tokens: at most %d", path, block, SHARD_MAX_BLOCK);
    size_t n = (size_t)shard_bytes(s->n_tokens, s->n_docs, s->n_cats, block);
    uint8_t *b = err_calloc(n, 1), *p = b + SHARD_HEADER;
    put_header(b, s->tokenizer_id, s->vocab_size, s->n_tokens, s->n_docs, s->n_cats, block);
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

/* One mapped file of a shard or set: its tokens are the set's [first, first + n_tokens). */
struct shard_file {
    char *path;
    uint8_t *map;
    size_t len;
    uint64_t first, n_tokens;
    uint32_t block_tokens, vocab_size;
    uint32_t *crc;             /* [n_blocks] the block table */
    _Atomic uint64_t *checked; /* a bit per block that passed the check */
};

static const uint16_t *file_tokens(const shard_file_t *f) { return (const uint16_t *)(f->map + SHARD_HEADER); }

/* Everything but the tokens of the shard file at path held in b[0, n): the header into one (its tokenizer,
 * counts, documents, names) and the block table into f; checks sizes, the tables' checksum, the documents
 * and names. No token page is read. */
static int parse_tables(const char *path, const uint8_t *b, size_t n, shard_t *one, shard_file_t *f)
{
    CALL(check_magic(path, b, n, shard_magic, "shard", SHARD_VERSION, SHARD_HEADER));
    one->tokenizer_id = bytes_get_u32(b + 12);
    one->vocab_size = bytes_get_u32(b + 16);
    uint64_t n_tokens = bytes_get_u64(b + 20);
    one->n_docs = bytes_get_u32(b + 28);
    one->n_cats = bytes_get_u32(b + 32);
    uint32_t block = one->block_tokens = bytes_get_u32(b + 36);
    if (one->vocab_size == 0 || one->vocab_size > 65536)
        return err_set("%s: vocab size %u is out of range [1, 65536]", path, one->vocab_size);
    if (block == 0 || block > SHARD_MAX_BLOCK)
        return err_set("%s: checksum blocks of %u tokens: out of range [1, %d]", path, block, SHARD_MAX_BLOCK);
    uint64_t want = n_tokens > (UINT64_MAX - SHARD_HEADER) / 8 ? UINT64_MAX : shard_bytes(n_tokens, one->n_docs, one->n_cats, block);
    if (n < want)
        return err_set("%s: truncated: header says %llu tokens, %u documents, %u categories (%llu bytes), file holds %zu bytes",
                       path, (unsigned long long)n_tokens, one->n_docs, one->n_cats, (unsigned long long)want, n);
    if (n > want) return err_set("%s: %llu unexpected bytes after the checksums", path, (unsigned long long)(n - want));
    one->n_tokens = n_tokens;
    const uint8_t *tables = b + SHARD_HEADER + 2 * n_tokens;
    uint64_t n_block = n_blocks(n_tokens, block);
    const uint8_t *sums = b + n - 4 - 4 * n_block;
    uint32_t got = tables_crc(b, tables, (size_t)(b + n - 4 - tables)), stored = bytes_get_u32(b + n - 4);
    if (got != stored)
        return err_set("%s: the header and tables (documents, categories, block checksums) fail their checksum (CRC32 "
                       "%08x, the file says %08x): the shard is corrupt; re-run il-prepare", path, got, stored);
    *f = (shard_file_t){.n_tokens = n_tokens, .block_tokens = block, .vocab_size = one->vocab_size};
    f->crc = err_calloc((size_t)n_block + 1, sizeof *f->crc);
    f->checked = err_calloc((size_t)n_block / 64 + 1, sizeof *f->checked);
    for (uint64_t k = 0; k < n_block; k++) f->crc[k] = bytes_get_u32(sums + 4 * k);
    for (uint64_t k = 0; k <= n_block / 64; k++) atomic_init(&f->checked[k], 0);
    const uint8_t *p = tables;
    one->docs = err_calloc(one->n_docs, sizeof *one->docs);
    for (uint32_t i = 0; i < one->n_docs; i++, p += SHARD_DOC)
        one->docs[i] = (shard_doc_t){bytes_get_u64(p), bytes_get_u64(p + 8), bytes_get_u32(p + 16)};
    one->cats = err_calloc(one->n_cats, sizeof *one->cats);
    for (uint32_t i = 0; i < one->n_cats; i++, p += SHARD_CAT_LEN) {
        if (p[SHARD_CAT_LEN - 1] != 0) return err_set("%s: category %u name is not NUL-terminated", path, i);
        memcpy(one->cats[i], p, SHARD_CAT_LEN);
    }
    return check_docs(path, one);
}

/* Block b of f: its checksum, then every id below the vocab size, in one pass over its pages, once. */
static int check_block(const shard_file_t *f, uint64_t b)
{
    uint64_t bit = 1ull << (b % 64), first, end;
    if (atomic_load_explicit(&f->checked[b / 64], memory_order_acquire) & bit) return 0;
    CALL(shard_block_check(f->path, f->map + SHARD_HEADER, f->n_tokens, f->block_tokens, f->crc, b));
    block_range(f->n_tokens, f->block_tokens, b, &first, &end);
    const uint16_t *t = file_tokens(f);
    for (uint64_t i = first; i < end; i++)
        if (t[i] >= f->vocab_size)
            return err_set("%s: block %llu: token %llu has id %u, not below the vocab size %u", f->path,
                           (unsigned long long)b, (unsigned long long)i, t[i], f->vocab_size);
    atomic_fetch_or_explicit(&f->checked[b / 64], bit, memory_order_release);
    return 0;
}

static void unmap_file(shard_file_t *f)
{
    if (f->map) munmap(f->map, f->len);
    free(f->path);
    free(f->crc);
    free(f->checked);
}

/* Maps the shard file at path read-only and checks all but its tokens (parse_tables) into one and f. */
static int map_file(const char *path, shard_t *one, shard_file_t *f)
{
    memset(one, 0, sizeof *one);
    memset(f, 0, sizeof *f);
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe != 1)
        return err_set("%s: shards hold little-endian token ids, which this build maps in place: a big-endian host "
                       "is not supported", path);
    FILE *fp = bytes_fopen_regular(path);
    if (!fp) return -1;
    struct stat st;
    int fd = fileno(fp), rc = fstat(fd, &st) ? err_set("%s: cannot stat: %s", path, strerror(errno)) : 0;
    size_t n = rc ? 0 : (size_t)st.st_size;
    void *map = rc || n == 0 ? NULL : mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) rc = err_set("%s: cannot map: %s", path, strerror(errno));
    fclose(fp); /* the mapping stays */
    if (rc) return -1;
    rc = parse_tables(path, map ? map : (const uint8_t *)"", n, one, f);
    f->map = map, f->len = n, f->path = err_strdup(path);
    return rc;
}

/* Appends the file in one and f to the set s: its documents moved to the set's positions, its categories
 * merged by name. Its tokenizer must be the set's first file's (fails naming both). */
static int add_file(shard_t *s, shard_t *one, shard_file_t *f)
{
    if (s->n_files && (one->tokenizer_id != s->tokenizer_id || one->vocab_size != s->vocab_size))
        return err_set("%s: made by tokenizer %08x with vocab %u, but %s, the set's first shard, by tokenizer %08x "
                       "with vocab %u", f->path, one->tokenizer_id, one->vocab_size, s->files[0].path,
                       s->tokenizer_id, s->vocab_size);
    if (one->n_docs > UINT32_MAX - s->n_docs) return err_set("%s: the set holds more than 2^32 - 1 documents", f->path);
    if (!s->n_files) s->tokenizer_id = one->tokenizer_id, s->vocab_size = one->vocab_size, s->block_tokens = one->block_tokens;
    uint32_t *cat = err_calloc((size_t)one->n_cats + 1, sizeof *cat);
    for (uint32_t i = 0; i < one->n_cats; i++) {
        for (cat[i] = 0; cat[i] < s->n_cats && strcmp(s->cats[cat[i]], one->cats[i]); cat[i]++) continue;
        if (cat[i] < s->n_cats) continue;
        s->cats = realloc(s->cats, (s->n_cats + 1) * sizeof *s->cats);
        CHECK(s->cats, "out of memory");
        memcpy(s->cats[s->n_cats++], one->cats[i], SHARD_CAT_LEN);
    }
    s->docs = realloc(s->docs, ((size_t)s->n_docs + one->n_docs + 1) * sizeof *s->docs);
    s->files = realloc(s->files, (s->n_files + 1) * sizeof *s->files);
    CHECK(s->docs && s->files, "out of memory");
    for (uint32_t i = 0; i < one->n_docs; i++)
        s->docs[s->n_docs++] = (shard_doc_t){s->n_tokens + one->docs[i].start, one->docs[i].len, cat[one->docs[i].category]};
    free(cat);
    f->first = s->n_tokens;
    s->files[s->n_files++] = *f;
    s->n_tokens += one->n_tokens;
    return 0;
}

/* The shard file at path, mapped and appended to s; manifest and line say where it was named (NULL: the
 * data path itself), and n_tokens, if not UINT64_MAX, the count it must hold. */
static int open_file(shard_t *s, const char *path, const char *manifest, int line, uint64_t n_tokens)
{
    shard_t one;
    shard_file_t f;
    int rc = map_file(path, &one, &f);
    if (rc == 0 && n_tokens != UINT64_MAX && one.n_tokens != n_tokens)
        rc = err_set("%s holds %llu tokens, the manifest says %llu", path, (unsigned long long)one.n_tokens,
                     (unsigned long long)n_tokens);
    if (rc == 0) rc = add_file(s, &one, &f);
    if (rc) unmap_file(&f);
    free(one.docs);
    free(one.cats);
    return rc && manifest ? err_prefix("%s:%d", manifest, line) : rc;
}

static const char manifest_head[] = "innerloop-shards ";

/* Whether the path has a `..` component. */
static int has_dotdot(const char *name)
{
    for (const char *c = name; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL)
        if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0')) return 1;
    return 0;
}

/* The shards a manifest lists, one `NAME<TAB>N_TOKENS` line each after `innerloop-shards 1`, NAME relative to
 * the manifest's directory. */
static int open_manifest(shard_t *s, const char *path, char *text)
{
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) + 1 : 0, line = 1;
    char *next = strchr(text, '\n');
    if (next) *next++ = '\0';
    if (strcmp(text, "innerloop-shards 1"))
        return err_set("%s:1: a shard manifest begins with the line `innerloop-shards 1`; this one with `%.40s`", path, text);
    for (char *l = next; l && *l; l = next) {
        line++;
        if ((next = strchr(l, '\n'))) *next++ = '\0';
        char *tab = strchr(l, '\t'), *end = NULL;
        unsigned long long count = tab && tab[1] >= '0' && tab[1] <= '9' ? strtoull(tab + 1, &end, 10) : 0;
        if (!tab || tab == l || !end || *end || count == ULLONG_MAX)
            return err_set("%s:%d: expected NAME<TAB>N_TOKENS, got `%.60s`", path, line, l);
        *tab = '\0';
        if (l[0] == '/' || has_dotdot(l))
            return err_set("%s:%d: shard name `%s` must be relative to the manifest's directory, without `..`", path,
                           line, l);
        size_t n = (size_t)dir_len + strlen(l) + 1;
        char *file = err_calloc(n, 1);
        snprintf(file, n, "%.*s%s", dir_len, path, l);
        int rc = open_file(s, file, path, line, count);
        free(file);
        CALL(rc);
    }
    return s->n_files ? 0 : err_set("%s:%d: a shard manifest that lists no shard", path, line);
}

int shard_open(shard_t *s, const char *path)
{
    memset(s, 0, sizeof *s);
    /* a manifest is told from a shard by its first bytes; anything else is refused as a shard */
    char head[sizeof manifest_head] = "";
    FILE *f = bytes_fopen_regular(path);
    if (!f) return -1;
    size_t got = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    int rc;
    if (got == sizeof head - 1 && memcmp(head, manifest_head, got) == 0) {
        uint8_t *text;
        size_t n;
        CALL(bytes_read_file(path, &text, &n));
        rc = open_manifest(s, path, (char *)text);
        free(text);
    } else {
        rc = open_file(s, path, NULL, 0, UINT64_MAX);
    }
    if (rc == 0 && s->n_files == 1) s->tokens = (uint16_t *)file_tokens(&s->files[0]);
    if (rc) shard_free(s);
    return rc;
}

int shard_open_expect(shard_t *s, const char *path, uint32_t tokenizer_id, uint32_t vocab_size)
{
    CALL(shard_open(s, path));
    if (s->tokenizer_id == tokenizer_id && s->vocab_size == vocab_size) return 0;
    err_set("%s: made by tokenizer %08x with vocab %u, but the tokenizer in use is %08x with vocab %u", path,
            s->tokenizer_id, s->vocab_size, tokenizer_id, vocab_size);
    shard_free(s);
    return -1;
}

int shard_check_all(const shard_t *s)
{
    for (uint32_t i = 0; i < s->n_files; i++)
        for (uint64_t b = 0; b < n_blocks(s->files[i].n_tokens, s->files[i].block_tokens); b++)
            CALL(check_block(&s->files[i], b));
    return 0;
}

static int checked_read(int rc, shard_t *s)
{
    if (rc == 0 && shard_check_all(s) == 0) return 0;
    shard_free(s);
    return -1;
}

int shard_read(shard_t *s, const char *path) { return checked_read(shard_open(s, path), s); }

int shard_read_expect(shard_t *s, const char *path, uint32_t tokenizer_id, uint32_t vocab_size)
{
    return checked_read(shard_open_expect(s, path, tokenizer_id, vocab_size), s);
}

int shard_get(const shard_t *s, uint64_t pos, uint64_t n, int32_t *out)
{
    if (!s->n_files) { /* built in memory */
        for (uint64_t i = 0; i < n; i++) out[i] = s->tokens[pos + i];
        return 0;
    }
    uint32_t lo = 0, hi = s->n_files; /* the last file starting at or before pos */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->files[mid].first <= pos) lo = mid;
        else hi = mid;
    }
    /* every block first, so that out holds nothing unchecked, then the tokens, file by file */
    for (int copy = 0; copy < 2; copy++) {
        uint64_t at = pos, left = n;
        for (uint32_t i = lo; left; i++) {
            const shard_file_t *f = &s->files[i];
            uint64_t from = at - f->first, k = f->n_tokens - from < left ? f->n_tokens - from : left;
            if (copy) {
                const uint16_t *t = file_tokens(f) + from;
                for (uint64_t j = 0; j < k; j++) out[at - pos + j] = t[j];
            } else if (k) {
                for (uint64_t b = from / f->block_tokens; b <= (from + k - 1) / f->block_tokens; b++) CALL(check_block(f, b));
            }
            at += k, left -= k;
        }
    }
    return 0;
}

void shard_free(shard_t *s)
{
    if (!s->n_files) free(s->tokens);
    for (uint32_t i = 0; i < s->n_files; i++) unmap_file(&s->files[i]);
    free(s->files);
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

int shard_counts_expect(const char *path, uint32_t tokenizer_id, uint32_t vocab_size, uint64_t n_tokens,
                        const char *shard_path, uint64_t **counts)
{
    uint32_t tok, vocab;
    uint64_t *got, counted;
    CALL(shard_counts_read(path, &tok, &vocab, &got, &counted));
    int rc = 0;
    if (tok != tokenizer_id || vocab != vocab_size)
        rc = err_set("%s: counts of another tokenizer (id %08x, vocab %u) than %s (id %08x, vocab %u)", path, tok, vocab,
                     shard_path, tokenizer_id, vocab_size);
    else if (counted != n_tokens)
        rc = err_set("%s: counts of %llu tokens, but the training shard %s has %llu", path,
                     (unsigned long long)counted, shard_path, (unsigned long long)n_tokens);
    if (rc || !counts) free(got);
    else *counts = got;
    return rc;
}

int shard_unigram_loss(const char *counts_path, const char *shard_path, double *loss, uint64_t *n_tokens)
{
    uint32_t tok, V;
    uint64_t *counts, counted;
    shard_t s;
    CALL(shard_counts_read(counts_path, &tok, &V, &counts, &counted));
    if (shard_open_expect(&s, shard_path, tok, V)) {
        free(counts);
        return -1;
    }
    /* a block at a time: each is checked as it is read, and is read once */
    enum { CHUNK = 1 << 16 };
    int32_t *t = err_calloc(CHUNK, sizeof *t);
    double total = (double)V + (double)counted, sum = 0;
    int rc = 0;
    for (uint64_t at = 0; at < s.n_tokens && rc == 0; at += CHUNK) {
        uint64_t k = s.n_tokens - at < CHUNK ? s.n_tokens - at : CHUNK;
        rc = shard_get(&s, at, k, t);
        for (uint64_t i = 0; i < k && rc == 0; i++) sum -= log(((double)counts[t[i]] + 1.0) / total);
    }
    *loss = s.n_tokens ? sum / (double)s.n_tokens : NAN;
    *n_tokens = s.n_tokens;
    free(t);
    shard_free(&s);
    free(counts);
    return rc;
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
    put_header(h, w->tokenizer_id, w->vocab_size, w->n_tokens, w->n_docs, n_cats, SHARD_BLOCK_TOKENS);
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
