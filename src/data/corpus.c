#include "data/corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"

/* A text file with more control characters than this (per mille) is taken for binary. */
enum { BINARY_CONTROL_PERMILLE = 50 };

static corpus_doc_t *add_doc(corpus_t *c, const char *source, const char *category)
{
    if (c->n_docs == c->cap_docs) {
        c->cap_docs = c->cap_docs ? 2 * c->cap_docs : 64;
        c->docs = realloc(c->docs, c->cap_docs * sizeof *c->docs);
        CHECK(c->docs, "out of memory growing the document list");
    }
    corpus_doc_t *d = &c->docs[c->n_docs++];
    memset(d, 0, sizeof *d);
    d->source = err_strdup(source);
    snprintf(d->category, sizeof d->category, "%s", category);
    return d;
}

void corpus_free(corpus_t *c)
{
    for (size_t i = 0; i < c->n_docs; i++) {
        free(c->docs[i].source);
        free(c->docs[i].text);
    }
    free(c->docs);
    memset(c, 0, sizeof *c);
}

/* ---- plain text ---- */

int corpus_check_text(const char *path, const uint8_t *b, size_t n)
{
    if (n == 0) return err_set("%s: empty file", path);
    size_t control = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == 0) return err_set("%s: binary file (contains NUL bytes), expected text", path);
        if ((b[i] < 0x20 && !strchr("\t\n\v\f\r", b[i])) || b[i] == 0x7f) control++;
    }
    if (control * 1000 > n * BINARY_CONTROL_PERMILLE)
        return err_set("%s: binary file (%zu of %zu bytes are control characters), expected text", path, control, n);
    return 0;
}

/* ---- Brown Corpus ---- */

typedef struct {
    uint8_t *b;
    size_t n, cap;
    int glue_next;   /* previous word opens something: no space after it */
    int in_para;     /* the current paragraph has words */
} untag_out_t;

static void emit(untag_out_t *o, const char *s, size_t len)
{
    CHECK(o->n + len <= o->cap, "untagged text outgrew its buffer");
    memcpy(o->b + o->n, s, len);
    o->n += len;
}

static void end_paragraph(untag_out_t *o)
{
    if (o->in_para) emit(o, "\n", 1);
    o->in_para = 0;
    o->glue_next = 0;
}

static int word_is(const char *w, size_t len, const char *s) { return strlen(s) == len && memcmp(w, s, len) == 0; }

/* Closing punctuation attaches to the word before it. */
static int closes(const char *w, size_t len)
{
    if (word_is(w, len, "''") || word_is(w, len, ")") || word_is(w, len, "]")) return 1;
    for (size_t i = 0; i < len; i++)
        if (!strchr(".,;:?!", w[i])) return 0;
    return 1;
}

static int opens(const char *w, size_t len) { return word_is(w, len, "``") || word_is(w, len, "(") || word_is(w, len, "["); }

static void emit_word(untag_out_t *o, const char *w, size_t len)
{
    if (o->in_para && !o->glue_next && !closes(w, len)) emit(o, " ", 1);
    o->glue_next = opens(w, len);
    o->in_para = 1;
    if (word_is(w, len, "``") || word_is(w, len, "''"))
        emit(o, "\"", 1);
    else
        emit(o, w, len);
}

/* Splits "word/tag" at the last slash (words such as "and/or" or "1/2" contain slashes, tags never do). */
static void split_token(const char *t, size_t len, size_t *word_len, const char **tag, size_t *tag_len)
{
    size_t s = len;
    while (s > 0 && t[s - 1] != '/') s--;
    if (s == 0 || s == 1) { /* no slash, or a bare "/tag": keep the whole token as the word */
        *word_len = len;
        *tag = t + len;
        *tag_len = 0;
        return;
    }
    *word_len = s - 1;
    *tag = t + s;
    *tag_len = len - s;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Calls fn on each whitespace-separated token of line[0..n); returns the token count. */
static int each_token(const char *line, size_t n, void (*fn)(void *, const char *, size_t), void *arg)
{
    int count = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && is_space(line[i])) i++;
        size_t j = i;
        while (j < n && !is_space(line[j])) j++;
        if (j > i) {
            count++;
            if (fn) fn(arg, line + i, j - i);
        }
        i = j;
    }
    return count;
}

static void count_headline_token(void *arg, const char *t, size_t len)
{
    size_t wl, tl;
    const char *tag;
    split_token(t, len, &wl, &tag, &tl);
    for (size_t i = 0; i + 3 <= tl; i++)
        if (memcmp(tag + i, "-hl", 3) == 0) {
            ++*(int *)arg;
            return;
        }
}

static void emit_token(void *arg, const char *t, size_t len)
{
    size_t wl, tl;
    const char *tag;
    split_token(t, len, &wl, &tag, &tl);
    emit_word(arg, t, wl);
}

void corpus_brown_untag(const uint8_t *src, size_t n, uint8_t **out, size_t *out_len)
{
    untag_out_t o = {.b = err_calloc(n + 2, 1), .cap = n + 2};
    const char *s = (const char *)src;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (s + i)) : n - i;
        int hl = 0, tokens = each_token(s + i, len, count_headline_token, &hl);
        if (tokens == 0 || hl == tokens) end_paragraph(&o);
        each_token(s + i, len, emit_token, &o);
        if (tokens > 0 && hl == tokens) end_paragraph(&o);
        i += len + 1;
    }
    end_paragraph(&o);
    *out = o.b;
    *out_len = o.n;
}

static int add_brown_doc(corpus_t *c, const char *dir, const char *name, const char *category)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return err_set("%s/%s: path too long", dir, name);
    uint8_t *b;
    size_t n;
    CALL(bytes_read_file(path, &b, &n));
    int rc = corpus_check_text(path, b, n);
    if (rc == 0) {
        corpus_doc_t *d = add_doc(c, path, category);
        corpus_brown_untag(b, n, &d->text, &d->len);
        if (d->len == 0) rc = err_set("%s: no words in this Brown Corpus file", path);
    }
    free(b);
    return rc;
}

/* Parses one cats.txt line "NAME CATEGORY" in place; 0 for a blank line, 1 for an entry, -1 if bad. */
static int parse_cats_line(char *line, char **name, char **category)
{
    char *save, *extra;
    *name = strtok_r(line, " \t\r", &save);
    if (!*name) return 0;
    *category = strtok_r(NULL, " \t\r", &save);
    extra = strtok_r(NULL, " \t\r", &save);
    if (!*category || extra || strchr(*name, '/') || strlen(*category) >= SHARD_CAT_LEN) return -1;
    return 1;
}

int corpus_add_brown(corpus_t *c, const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/cats.txt", dir) >= (int)sizeof path) return err_set("%s: path too long", dir);
    uint8_t *b;
    size_t n;
    CALL(bytes_read_file(path, &b, &n));
    int rc = 0, line_no = 0, entries = 0;
    for (char *line = (char *)b; rc == 0 && line < (char *)b + n; line_no++) {
        char *nl = strchr(line, '\n'), *name, *category;
        if (nl) *nl = '\0';
        int kind = parse_cats_line(line, &name, &category);
        if (kind < 0)
            rc = err_set("%s:%d: expected \"FILE CATEGORY\" (a file name without '/', a category under %d bytes)", path, line_no + 1, SHARD_CAT_LEN);
        else if (kind > 0 && (rc = add_brown_doc(c, dir, name, category)) == 0)
            entries++;
        line = nl ? nl + 1 : (char *)b + n;
    }
    free(b);
    if (rc == 0 && entries == 0) rc = err_set("%s: lists no documents", path);
    return rc;
}
