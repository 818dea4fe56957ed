#include "data/textsrc.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include "core/bytes.h"
#include "core/err.h"
#include "data/corpus.h"

enum { IN_BYTES = 1 << 20 }; /* compressed (or plain) bytes read from a file at a time */
enum { RD_PLAIN, RD_GZIP, RD_ZSTD };

/* One input file, plain or compressed, read as a byte stream. */
typedef struct {
    FILE *f;
    const char *path;
    int kind;
    uint8_t *in;
    size_t in_len, in_pos;
    int in_eof;
    z_stream z;
    int z_end;        /* the gzip member just ended */
    ZSTD_DStream *zs;
    size_t zs_left;   /* ZSTD_decompressStream's last hint: 0 when a frame is complete */
    uint64_t *counter; /* the source's bytes read */
} reader_t;

typedef struct {
    char *path;
    char category[SHARD_CAT_LEN];
    uint64_t size;
} input_t;

struct textsrc {
    textsrc_opts_t o;
    input_t *inputs;
    size_t n_inputs, next_input;
    int is_stdin;
    uint64_t bytes_read, bytes_total;
    /* the file being read */
    reader_t rd;
    int reading;
    size_t line_no;
    int any_text;
    uint8_t *buf;        /* plain text: the next piece and what follows it; JSON Lines: read ahead */
    size_t buf_len, buf_pos;
    uint8_t *line;       /* JSON Lines: the current line */
    size_t line_cap;
    json_tokener *tok;
    /* a document held whole (a JSON line, a Brown document), handed out in pieces */
    uint8_t *doc;
    size_t doc_len, doc_pos;
    char doc_cat[SHARD_CAT_LEN];
    corpus_t brown;
    /* stdin with keep: the pieces read so far, given again after a rewind */
    textsrc_piece_t *kept;
    size_t n_kept, cap_kept, replay;
    int replaying;
};

/* ---- reading a file: plain, gzip or zstd ---- */

static int fill(reader_t *r)
{
    if (r->in_pos < r->in_len || r->in_eof) return 0;
    r->in_len = fread(r->in, 1, IN_BYTES, r->f);
    r->in_pos = 0;
    *r->counter += r->in_len;
    if (r->in_len == 0) {
        if (ferror(r->f)) return err_set("%s: read failed: %s", r->path, strerror(errno));
        r->in_eof = 1;
    }
    return 0;
}

static int reader_open(reader_t *r, const char *path, uint64_t *counter)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->counter = counter;
    r->f = strcmp(path, "-") == 0 ? stdin : bytes_fopen_regular(path);
    if (!r->f) return -1;
    r->in = err_calloc(IN_BYTES, 1);
    CALL(fill(r));
    static const uint8_t gz[2] = {0x1f, 0x8b}, zst[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (r->in_len >= 2 && memcmp(r->in, gz, 2) == 0) {
        r->kind = RD_GZIP;
        CHECK(inflateInit2(&r->z, 16 + MAX_WBITS) == Z_OK, "zlib: inflateInit2 failed");
    } else if (r->in_len >= 4 && memcmp(r->in, zst, 4) == 0) {
        r->kind = RD_ZSTD;
        r->zs = ZSTD_createDStream();
        CHECK(r->zs && !ZSTD_isError(ZSTD_initDStream(r->zs)), "zstd: cannot create a decompression stream");
    }
    return 0;
}

static void reader_close(reader_t *r)
{
    if (r->f && r->f != stdin) fclose(r->f);
    if (r->kind == RD_GZIP) inflateEnd(&r->z);
    ZSTD_freeDStream(r->zs);
    free(r->in);
    memset(r, 0, sizeof *r);
}

static long read_gzip(reader_t *r, uint8_t *out, size_t n)
{
    for (;;) {
        CALL(fill(r));
        size_t avail = r->in_len - r->in_pos;
        if (r->z_end) { /* another member may follow */
            if (avail == 0) return 0;
            CHECK(inflateReset(&r->z) == Z_OK, "zlib: inflateReset failed");
            r->z_end = 0;
        }
        r->z.next_in = r->in + r->in_pos;
        r->z.avail_in = (uInt)avail;
        r->z.next_out = out;
        r->z.avail_out = (uInt)n;
        int rc = inflate(&r->z, Z_NO_FLUSH);
        r->in_pos = r->in_len - r->z.avail_in;
        if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT)
            return err_set("%s: corrupt gzip data (%s)", r->path, r->z.msg ? r->z.msg : "zlib error");
        CHECK(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, "zlib: inflate failed (%d)", rc);
        r->z_end = rc == Z_STREAM_END;
        if (r->z.avail_out < n) return (long)(n - r->z.avail_out);
        if (r->in_pos == r->in_len && r->in_eof && !r->z_end)
            return err_set("%s: truncated gzip data (the stream ends before its last block)", r->path);
    }
}

static long read_zstd(reader_t *r, uint8_t *out, size_t n)
{
    for (;;) {
        CALL(fill(r));
        if (r->in_pos == r->in_len && r->in_eof && r->zs_left == 0) return 0; /* the frame is whole and flushed */
        ZSTD_inBuffer ib = {r->in, r->in_len, r->in_pos};
        ZSTD_outBuffer ob = {out, n, 0};
        size_t rc = ZSTD_decompressStream(r->zs, &ob, &ib);
        r->in_pos = ib.pos;
        if (ZSTD_isError(rc)) return err_set("%s: corrupt zstd data (%s)", r->path, ZSTD_getErrorName(rc));
        r->zs_left = rc;
        if (ob.pos > 0) return (long)ob.pos;
        if (r->in_pos == r->in_len && r->in_eof && rc != 0)
            return err_set("%s: truncated zstd data (the stream ends inside a frame)", r->path);
    }
}

/* Up to n bytes of the file's text: > 0, 0 at its end, -1 with err_set(). */
static long reader_read(reader_t *r, uint8_t *out, size_t n)
{
    if (r->kind == RD_GZIP) return read_gzip(r, out, n);
    if (r->kind == RD_ZSTD) return read_zstd(r, out, n);
    CALL(fill(r));
    size_t k = r->in_len - r->in_pos < n ? r->in_len - r->in_pos : n;
    memcpy(out, r->in + r->in_pos, k);
    r->in_pos += k;
    return (long)k;
}

/* ---- the list of input files ---- */

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_input(textsrc_t *s, size_t *cap, const char *path, uint64_t size)
{
    if (s->n_inputs == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        s->inputs = realloc(s->inputs, *cap * sizeof *s->inputs);
        CHECK(s->inputs, "out of memory listing the inputs");
    }
    input_t *in = &s->inputs[s->n_inputs++];
    memset(in, 0, sizeof *in);
    in->path = err_strdup(path);
    in->size = size;
    snprintf(in->category, sizeof in->category, "text");
    if (!s->o.category_from_dir) return 0;
    /* the last component of the directory the file lies in, as the file system names it */
    char copy[PATH_MAX], dir[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    if (!realpath(dirname(copy), dir)) return err_set("%s: cannot resolve its directory: %s", path, strerror(errno));
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    if (!*name || strlen(name) >= SHARD_CAT_LEN)
        return err_set("%s: directory name '%s' cannot be a category (1 to %d bytes)", path, name, SHARD_CAT_LEN - 1);
    memcpy(in->category, name, strlen(name) + 1); /* fits: checked above */
    return 0;
}

/* Adds path: a file, or every file below a directory, in byte order of the names. */
static int add_path(textsrc_t *s, size_t *cap, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return err_set("%s: cannot open: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return add_input(s, cap, path, (uint64_t)st.st_size);
    DIR *d = opendir(path);
    if (!d) return err_set("%s: cannot open the directory: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap_names = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap_names) {
            cap_names = cap_names ? 2 * cap_names : 64;
            names = realloc(names, cap_names * sizeof *names);
            CHECK(names, "out of memory listing %s", path);
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = err_calloc(len, 1);
        snprintf(names[n++], len, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = add_path(s, cap, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int list_inputs(textsrc_t *s)
{
    size_t cap = 0;
    for (int i = 0; i < s->o.n_paths; i++) {
        if (strcmp(s->o.paths[i], "-") != 0) {
            CALL(add_path(s, &cap, s->o.paths[i]));
            continue;
        }
        if (s->o.n_paths > 1) return err_set("-: stdin is read on its own, not with other inputs");
        if (s->o.category_from_dir) return err_set("-: stdin has no directory to take a category from");
        s->is_stdin = 1;
        return add_input(s, &cap, "-", 0);
    }
    if (s->n_inputs == 0) return err_set("%s: no files in it", s->o.n_paths ? s->o.paths[0] : "input");
    for (size_t i = 0; i < s->n_inputs; i++) s->bytes_total += s->inputs[i].size;
    return 0;
}

textsrc_t *textsrc_open(const textsrc_opts_t *o)
{
    textsrc_t *s = err_calloc(1, sizeof *s);
    s->o = *o;
    s->buf = err_calloc(TEXTSRC_PIECE + 1, 1);
    int rc = o->brown_dir ? corpus_add_brown(&s->brown, o->brown_dir) : list_inputs(s);
    if (rc != 0) {
        textsrc_close(s);
        return NULL;
    }
    if (o->jsonl_field) s->tok = json_tokener_new();
    CHECK(!o->jsonl_field || s->tok, "json-c: cannot create a tokener");
    return s;
}

void textsrc_close(textsrc_t *s)
{
    if (!s) return;
    reader_close(&s->rd);
    for (size_t i = 0; i < s->n_inputs; i++) free(s->inputs[i].path);
    for (size_t i = s->replay; i < s->n_kept; i++) free(s->kept[i].text);
    free(s->kept);
    free(s->inputs);
    free(s->buf);
    free(s->line);
    free(s->doc);
    if (s->tok) json_tokener_free(s->tok);
    corpus_free(&s->brown);
    free(s);
}

uint64_t textsrc_bytes_read(const textsrc_t *s) { return s->bytes_read; }
uint64_t textsrc_bytes_total(const textsrc_t *s) { return s->bytes_total; }
size_t textsrc_n_files(const textsrc_t *s) { return s->o.brown_dir ? s->brown.n_docs : s->is_stdin ? 0 : s->n_inputs; }

/* ---- pieces ---- */

static int is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_graphic(uint8_t c) { return c > ' ' && c < 0x7f; }

/* The length of the next piece of the n bytes at b (all that is left of the document when n <= PIECE). The
 * cut is after a lone newline between two visible ASCII characters: there every pre-tokeniser (the BPE's
 * chunks, GPT-2's pattern, whose whitespace runs end differently at the end of a text) cuts anyway, so the
 * pieces encode as the whole would. */
static size_t piece_len(const uint8_t *b, size_t n)
{
    if (n <= TEXTSRC_PIECE) return n;
    for (size_t i = TEXTSRC_PIECE; i > 1; i--)
        if (b[i - 1] == '\n' && is_graphic(b[i - 2]) && is_graphic(b[i])) return i;
    return TEXTSRC_PIECE;
}

static void make_piece(textsrc_piece_t *p, const uint8_t *b, size_t n, const char *category, int ends_doc)
{
    p->text = err_calloc(n, 1);
    memcpy(p->text, b, n);
    p->len = n;
    snprintf(p->category, sizeof p->category, "%s", category);
    p->ends_doc = ends_doc;
}

/* The next piece of the document held whole; 0 when it is all handed out. */
static int doc_piece(textsrc_t *s, textsrc_piece_t *p)
{
    if (s->doc_pos >= s->doc_len) return 0;
    size_t k = piece_len(s->doc + s->doc_pos, s->doc_len - s->doc_pos);
    make_piece(p, s->doc + s->doc_pos, k, s->doc_cat, s->doc_pos + k == s->doc_len);
    s->doc_pos += k;
    return 1;
}

static void hold_doc(textsrc_t *s, const uint8_t *text, size_t n, const char *category)
{
    free(s->doc);
    s->doc = err_calloc(n, 1);
    memcpy(s->doc, text, n);
    s->doc_len = n;
    s->doc_pos = 0;
    snprintf(s->doc_cat, sizeof s->doc_cat, "%s", category);
}

/* Plain text: the next piece of the current file; 0 at its end. */
static int plain_piece(textsrc_t *s, textsrc_piece_t *p)
{
    const input_t *in = &s->inputs[s->next_input - 1];
    while (s->buf_len <= TEXTSRC_PIECE) {
        long got = reader_read(&s->rd, s->buf + s->buf_len, TEXTSRC_PIECE + 1 - s->buf_len);
        if (got < 0) return -1;
        if (got == 0) break;
        s->buf_len += (size_t)got;
    }
    if (s->buf_len == 0) return s->any_text ? 0 : corpus_check_text(in->path, s->buf, 0);
    size_t k = piece_len(s->buf, s->buf_len);
    CALL(corpus_check_text(in->path, s->buf, k));
    s->any_text = 1;
    make_piece(p, s->buf, k, in->category, k == s->buf_len);
    memmove(s->buf, s->buf + k, s->buf_len - k);
    s->buf_len -= k;
    return 1;
}

/* JSON Lines: the next line of the current file into s->line (NUL-terminated); 0 at its end. */
static int next_line(textsrc_t *s, size_t *len)
{
    const char *path = s->inputs[s->next_input - 1].path;
    size_t n = 0;
    for (;;) {
        if (s->buf_pos == s->buf_len) {
            long got = reader_read(&s->rd, s->buf, TEXTSRC_PIECE);
            if (got < 0) return -1;
            s->buf_pos = 0;
            s->buf_len = (size_t)got;
            if (got == 0) break;
        }
        const uint8_t *start = s->buf + s->buf_pos, *nl = memchr(start, '\n', s->buf_len - s->buf_pos);
        size_t k = nl ? (size_t)(nl - start) : s->buf_len - s->buf_pos;
        if (n + k > s->o.max_line)
            return err_set("%s:%zu: a line longer than %zu bytes (raise --memory)", path, s->line_no + 1, s->o.max_line);
        if (n + k + 1 > s->line_cap) {
            s->line_cap = 2 * (n + k + 1);
            s->line = realloc(s->line, s->line_cap);
            CHECK(s->line, "out of memory reading %s", path);
        }
        memcpy(s->line + n, start, k);
        n += k;
        s->buf_pos += k + (nl != NULL);
        if (nl) break;
    }
    if (n == 0 && s->buf_len == 0) return 0;
    s->line[n] = '\0';
    s->line_no++;
    *len = n;
    return 1;
}

/* The string member key of a JSON line's object, or NULL with err_set() naming the file and line. */
static json_object *string_field(textsrc_t *s, json_object *obj, const char *key)
{
    json_object *v;
    const char *path = s->inputs[s->next_input - 1].path;
    if (!json_object_object_get_ex(obj, key, &v)) {
        err_set("%s:%zu: no field \"%s\"", path, s->line_no, key);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        err_set("%s:%zu: field \"%s\" is not a string", path, s->line_no, key);
        return NULL;
    }
    return v;
}

/* Parses one JSON line into the held document (empty when its text is). */
static int parse_line(textsrc_t *s, size_t len)
{
    const char *path = s->inputs[s->next_input - 1].path;
    json_tokener_reset(s->tok);
    json_object *obj = json_tokener_parse_ex(s->tok, (const char *)s->line, (int)len);
    enum json_tokener_error e = json_tokener_get_error(s->tok);
    size_t end = json_tokener_get_parse_end(s->tok);
    while (end < len && is_ws(s->line[end])) end++;
    int rc = 0;
    if (!obj || e != json_tokener_success)
        rc = err_set("%s:%zu: not valid JSON (%s)", path, s->line_no,
                     e == json_tokener_continue ? "the line ends inside it" : json_tokener_error_desc(e));
    else if (end < len)
        rc = err_set("%s:%zu: not valid JSON (unexpected text after the object)", path, s->line_no);
    else if (!json_object_is_type(obj, json_type_object))
        rc = err_set("%s:%zu: not a JSON object", path, s->line_no);
    json_object *text = rc ? NULL : string_field(s, obj, s->o.jsonl_field), *cat = NULL;
    if (!text) rc = -1;
    if (rc == 0 && s->o.category_field && !(cat = string_field(s, obj, s->o.category_field))) rc = -1;
    const char *category = cat ? json_object_get_string(cat) : s->inputs[s->next_input - 1].category;
    if (rc == 0 && (!*category || strlen(category) >= SHARD_CAT_LEN))
        rc = err_set("%s:%zu: category \"%s\" is not 1 to %d bytes", path, s->line_no, category, SHARD_CAT_LEN - 1);
    if (rc == 0) hold_doc(s, (const uint8_t *)json_object_get_string(text), (size_t)json_object_get_string_len(text), category);
    json_object_put(obj);
    return rc;
}

static int jsonl_piece(textsrc_t *s, textsrc_piece_t *p)
{
    for (;;) {
        if (doc_piece(s, p)) return 1;
        size_t len;
        int rc = next_line(s, &len);
        if (rc <= 0) return rc;
        size_t i = 0;
        while (i < len && is_ws(s->line[i])) i++;
        if (i < len) CALL(parse_line(s, len));
    }
}

static int brown_piece(textsrc_t *s, textsrc_piece_t *p)
{
    while (!doc_piece(s, p)) {
        if (s->next_input == s->brown.n_docs) return 0;
        const corpus_doc_t *d = &s->brown.docs[s->next_input++];
        hold_doc(s, d->text, d->len, d->category);
    }
    return 1;
}

static int file_piece(textsrc_t *s, textsrc_piece_t *p)
{
    for (;;) {
        if (s->reading) {
            int rc = s->o.jsonl_field ? jsonl_piece(s, p) : plain_piece(s, p);
            if (rc != 0) return rc;
            reader_close(&s->rd);
            s->reading = 0;
        }
        if (s->next_input == s->n_inputs) return 0;
        s->line_no = 0;
        s->any_text = 0;
        s->buf_len = s->buf_pos = 0;
        CALL(reader_open(&s->rd, s->inputs[s->next_input++].path, &s->bytes_read));
        s->reading = 1;
    }
}

int textsrc_next(textsrc_t *s, textsrc_piece_t *p)
{
    if (s->replaying && s->replay < s->n_kept) {
        *p = s->kept[s->replay++];
        return 1;
    }
    int rc = s->o.brown_dir ? brown_piece(s, p) : file_piece(s, p);
    if (rc == 1 && s->is_stdin && s->o.keep && !s->replaying) {
        if (s->n_kept == s->cap_kept) {
            s->cap_kept = s->cap_kept ? 2 * s->cap_kept : 256;
            s->kept = realloc(s->kept, s->cap_kept * sizeof *s->kept);
            CHECK(s->kept, "out of memory keeping stdin");
        }
        s->kept[s->n_kept] = *p;
        make_piece(&s->kept[s->n_kept++], p->text, p->len, p->category, p->ends_doc);
    }
    return rc;
}

void textsrc_rewind(textsrc_t *s)
{
    if (s->is_stdin) {
        CHECK(s->o.keep && !s->replaying, "stdin cannot be read twice");
        s->replaying = 1;
        return;
    }
    reader_close(&s->rd);
    s->reading = 0;
    s->next_input = 0;
    s->doc_len = s->doc_pos = 0;
    s->bytes_read = 0;
}
