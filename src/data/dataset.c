#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "data/corpus.h"
#include "core/err.h"
#include "data/shard.h"
#include "data/tokenizer.h"

enum { OUT_TOK, OUT_TRAIN, OUT_VAL, OUT_COUNTS, OUT_SUMMARY, N_OUT };
static const char *const out_names[N_OUT] = {"tokenizer.bin", "train.bin", "val.bin", "train.counts", "prepare.txt"};

/* A slice of a corpus document's text going to one split. */
typedef struct {
    const uint8_t *text;
    size_t len;
    uint32_t cat;
} part_t;

typedef struct {
    part_t *parts;
    size_t n, cap;
} split_t;

typedef struct {
    char (*names)[SHARD_CAT_LEN];
    uint32_t n;
} cats_t;

static uint32_t cat_index(cats_t *c, const char *name)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0) return i;
    c->names = realloc(c->names, (c->n + 1) * sizeof *c->names);
    CHECK(c->names, "out of memory");
    snprintf(c->names[c->n], SHARD_CAT_LEN, "%s", name);
    return c->n++;
}

static void split_add(split_t *s, const uint8_t *text, size_t len, uint32_t cat)
{
    if (len == 0) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->parts = realloc(s->parts, s->cap * sizeof *s->parts);
        CHECK(s->parts, "out of memory");
    }
    s->parts[s->n++] = (part_t){text, len, cat};
}

static int is_space(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* Where the validation tail of a lone document starts: the last 1/k of it, moved back to whitespace so
 * that no word is cut in two (unless the document has none). */
static size_t tail_start(const uint8_t *text, size_t len, int k)
{
    size_t cut = len - (len + (size_t)k - 1) / (size_t)k, c = cut;
    while (c > 0 && !is_space(text[c])) c--;
    return c > 0 ? c : cut;
}

static void split_corpus(const corpus_t *c, int k, cats_t *cats, split_t *train, split_t *val)
{
    uint32_t *seen = NULL, n_seen = 0; /* documents so far per category */
    for (size_t i = 0; i < c->n_docs; i++) {
        const corpus_doc_t *d = &c->docs[i];
        uint32_t cat = cat_index(cats, d->category);
        if (cat >= n_seen) {
            seen = realloc(seen, cats->n * sizeof *seen);
            CHECK(seen, "out of memory");
            seen[cat] = 0;
            n_seen = cats->n;
        }
        if (c->n_docs >= DATASET_MIN_DOCS) {
            split_add(seen[cat]++ % (uint32_t)k == 0 ? val : train, d->text, d->len, cat);
        } else {
            size_t cut = tail_start(d->text, d->len, k);
            split_add(train, d->text, cut, cat);
            split_add(val, d->text + cut, d->len - cut, cat);
        }
    }
    free(seen);
}

/* Training text for BPE: the training parts joined by newlines, so that no chunk spans two parts. */
static int make_tokenizer(const dataset_opts_t *o, const split_t *train, tokenizer_t *t, FILE *log)
{
    if (o->kind == TOKENIZER_BYTE) return tokenizer_init_byte(t);
    if (o->kind == TOKENIZER_GPT2) return tokenizer_init_gpt2_dir(t, o->gpt2_dir);
    size_t n = 0;
    for (size_t i = 0; i < train->n; i++) n += train->parts[i].len + 1;
    uint8_t *buf = err_calloc(n, 1), *p = buf;
    for (size_t i = 0; i < train->n; i++) {
        memcpy(p, train->parts[i].text, train->parts[i].len);
        p += train->parts[i].len;
        *p++ = '\n';
    }
    double t0 = clock_seconds();
    int rc = tokenizer_train_bpe(t, buf, n, o->vocab);
    double seconds = clock_seconds() - t0;
    free(buf);
    if (rc == 0 && log)
        fprintf(log, "il-prepare: BPE trained on %zu bytes in %.2f s: vocab %d\n", n, seconds, t->vocab_size);
    return rc;
}

/* One document's ids: its text encoded, then the tokenizer's end-of-document id (GPT-2's <|endoftext|>),
 * which belongs to the document's span. At most len + 1 ids. */
static size_t encode_doc(const tokenizer_t *t, const uint8_t *text, size_t len, uint16_t *out)
{
    uint16_t *ids;
    size_t n_ids;
    CHECK(tokenizer_encode(t, text, len, &ids, &n_ids) == 0, "encoding failed: %s", err_msg());
    memcpy(out, ids, n_ids * sizeof *ids);
    free(ids);
    int end = tokenizer_doc_end(t);
    if (end >= 0) out[n_ids++] = (uint16_t)end;
    return n_ids;
}

static void encode_split(const tokenizer_t *t, const split_t *sp, const cats_t *cats, shard_t *sh)
{
    memset(sh, 0, sizeof *sh);
    sh->tokenizer_id = t->id;
    sh->vocab_size = (uint32_t)t->vocab_size;
    size_t max_tokens = 0;
    for (size_t i = 0; i < sp->n; i++) max_tokens += sp->parts[i].len + 1;
    sh->tokens = err_calloc(max_tokens, sizeof *sh->tokens);
    sh->n_docs = (uint32_t)sp->n;
    sh->docs = err_calloc(sp->n, sizeof *sh->docs);
    for (size_t i = 0; i < sp->n; i++) {
        size_t n_ids = encode_doc(t, sp->parts[i].text, sp->parts[i].len, sh->tokens + sh->n_tokens);
        sh->docs[i] = (shard_doc_t){sh->n_tokens, n_ids, sp->parts[i].cat};
        sh->n_tokens += n_ids;
    }
    sh->n_cats = cats->n;
    sh->cats = err_calloc(cats->n, sizeof *sh->cats);
    memcpy(sh->cats, cats->names, cats->n * sizeof *cats->names);
}

static void summarize_split(FILE *f, const char *name, const shard_t *sh, size_t bytes)
{
    fprintf(f, "%s: %u documents, %llu tokens, %zu bytes (%.3f tokens per byte)\n", name, sh->n_docs,
            (unsigned long long)sh->n_tokens, bytes, bytes ? (double)sh->n_tokens / (double)bytes : 0.0);
}

static void cat_totals(const shard_t *sh, uint32_t cat, uint32_t *docs, uint64_t *tokens)
{
    *docs = 0;
    *tokens = 0;
    for (uint32_t i = 0; i < sh->n_docs; i++)
        if (sh->docs[i].category == cat) {
            ++*docs;
            *tokens += sh->docs[i].len;
        }
}

static size_t split_bytes(const split_t *sp)
{
    size_t n = 0;
    for (size_t i = 0; i < sp->n; i++) n += sp->parts[i].len;
    return n;
}

/* The human-readable prepare.txt (malloc'd, NUL-terminated). */
static char *summary(const dataset_opts_t *o, const corpus_t *c, const tokenizer_t *t, const shard_t *sh[2],
                     const split_t *sp[2])
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f, "open_memstream failed");
    fprintf(f, "# il-prepare summary\n");
    if (o->brown_dir)
        fprintf(f, "input: Brown Corpus in %s (%zu documents)\n", o->brown_dir, c->n_docs);
    for (int i = 0; !o->brown_dir && i < o->n_files; i++) fprintf(f, "input: %s\n", o->files[i]);
    static const char *const kinds[] = {[TOKENIZER_BYTE] = "byte", [TOKENIZER_BPE] = "bpe", [TOKENIZER_GPT2] = "gpt2"};
    fprintf(f, "tokenizer: %s, vocab %d", kinds[t->kind], t->vocab_size);
    if (t->kind == TOKENIZER_BPE) fprintf(f, " (asked for %d)", o->vocab);
    fprintf(f, ", id %08x\n", t->id);
    if (c->n_docs >= DATASET_MIN_DOCS)
        fprintf(f, "split: every %d-th document of each category, from its first, to validation\n", o->val_every);
    else
        fprintf(f, "split: last 1/%d of each document to validation (fewer than %d documents)\n", o->val_every, DATASET_MIN_DOCS);
    summarize_split(f, "train", sh[0], split_bytes(sp[0]));
    summarize_split(f, "val", sh[1], split_bytes(sp[1]));
    fprintf(f, "%-*s %10s %12s %10s %12s\n", SHARD_CAT_LEN, "category", "train_docs", "train_tokens", "val_docs", "val_tokens");
    for (uint32_t k = 0; k < sh[0]->n_cats; k++) {
        uint32_t d[2];
        uint64_t n[2];
        for (int s = 0; s < 2; s++) cat_totals(sh[s], k, &d[s], &n[s]);
        fprintf(f, "%-*s %10u %12llu %10u %12llu\n", SHARD_CAT_LEN, sh[0]->cats[k], d[0], (unsigned long long)n[0], d[1],
                (unsigned long long)n[1]);
    }
    CHECK(fclose(f) == 0, "writing the summary failed");
    return text;
}

static void count_tokens(const shard_t *sh, uint64_t *counts)
{
    for (uint64_t i = 0; i < sh->n_tokens; i++) counts[sh->tokens[i]]++;
}

static int write_one(int which, const char *path, const tokenizer_t *t, const shard_t *sh[2], const uint64_t *counts,
                     const char *text)
{
    switch (which) {
    case OUT_TOK: return tokenizer_save(t, path);
    case OUT_TRAIN: return shard_write(sh[0], path);
    case OUT_VAL: return shard_write(sh[1], path);
    case OUT_COUNTS: return shard_counts_write(path, t->id, (uint32_t)t->vocab_size, counts);
    default: return bytes_write_file(path, (const uint8_t *)text, strlen(text));
    }
}

/* Writes every output, or, if one fails, removes the ones this run wrote. */
static int write_outputs(char paths[N_OUT][4096], const tokenizer_t *t, const shard_t *sh[2], const uint64_t *counts,
                         const char *text)
{
    int written = 0;
    while (written < N_OUT && write_one(written, paths[written], t, sh, counts, text) == 0) written++;
    if (written == N_OUT) return 0;
    for (int i = 0; i < written; i++) unlink(paths[i]);
    return -1;
}

static int check_outputs(const char *dir, char paths[N_OUT][4096])
{
    for (int i = 0; i < N_OUT; i++) {
        if (snprintf(paths[i], 4096, "%s/%s", dir, out_names[i]) >= 4096) return err_set("%s: path too long", dir);
        if (access(paths[i], F_OK) == 0)
            return err_set("%s: already exists; refusing to overwrite it (remove it or choose another --out)", paths[i]);
    }
    return 0;
}

static int load_corpus(const dataset_opts_t *o, corpus_t *c)
{
    if (o->brown_dir) return corpus_add_brown(c, o->brown_dir);
    for (int i = 0; i < o->n_files; i++)
        CALL(corpus_add_text_file(c, o->files[i]));
    return 0;
}

static int check_splits(const shard_t *sh[2])
{
    static const char *const names[2] = {"training", "validation"};
    for (int s = 0; s < 2; s++)
        if (sh[s]->n_tokens == 0) return err_set("too little input: the %s split is empty", names[s]);
    return 0;
}

/* Everything after the corpus is loaded; returns an exit code as dataset_prepare does. */
static int build(const dataset_opts_t *o, const corpus_t *c, char paths[N_OUT][4096], FILE *log)
{
    cats_t cats = {0};
    split_t train = {0}, val = {0};
    tokenizer_t t = {0};
    shard_t sh_train = {0}, sh_val = {0};
    const shard_t *sh[2] = {&sh_train, &sh_val};
    const split_t *sp[2] = {&train, &val};
    uint64_t *counts = NULL;
    char *text = NULL;
    int rc = IL_EXIT_INPUT;

    split_corpus(c, o->val_every, &cats, &train, &val);
    if (make_tokenizer(o, &train, &t, log) != 0) goto out;
    encode_split(&t, &train, &cats, &sh_train);
    encode_split(&t, &val, &cats, &sh_val);
    if (check_splits(sh) != 0) goto out;
    counts = err_calloc((size_t)t.vocab_size, sizeof *counts);
    count_tokens(&sh_train, counts);
    text = summary(o, c, &t, sh, sp);
    rc = IL_EXIT_FAIL;
    if (atomicfile_mkdirs(o->out_dir) != 0 || write_outputs(paths, &t, sh, counts, text) != 0) goto out;
    if (log) fputs(text, log);
    rc = IL_EXIT_OK;
out:
    free(text);
    free(counts);
    shard_free(&sh_train);
    shard_free(&sh_val);
    tokenizer_free(&t);
    free(train.parts);
    free(val.parts);
    free(cats.names);
    return rc;
}

int dataset_prepare(const dataset_opts_t *o, FILE *log)
{
    char paths[N_OUT][4096];
    if (o->kind != TOKENIZER_BYTE && o->kind != TOKENIZER_BPE && o->kind != TOKENIZER_GPT2) {
        err_set("unknown tokenizer kind %d", o->kind);
        return IL_EXIT_INPUT;
    }
    if (o->val_every < 2) {
        err_set("--val-every must be at least 2, got %d", o->val_every);
        return IL_EXIT_INPUT;
    }
    if (check_outputs(o->out_dir, paths) != 0) return IL_EXIT_INPUT;
    corpus_t c = {0};
    int rc = load_corpus(o, &c) != 0 ? IL_EXIT_INPUT : build(o, &c, paths, log);
    corpus_free(&c);
    return rc;
}
