#include "data/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/atomicfile.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/err.h"
#include "data/shard.h"
#include "data/shardsink.h"
#include "data/textsrc.h"
#include "data/tokenizer.h"

enum { OUT_TOK, OUT_COUNTS, OUT_SUMMARY, N_OUT };
static const char *const out_names[N_OUT] = {"tokenizer.bin", "train.counts", "prepare.txt"};
static const char *const split_names[2] = {"train", "val"};
enum { SPLIT_UNDECIDED, SPLIT_TAIL, SPLIT_EVERY };
#define MB ((double)(1 << 20))

/* A slice of a document piece going to one split. The last part of a piece owns its text. */
typedef struct {
    uint8_t *own;
    const uint8_t *text;
    size_t len;
    uint32_t cat;
    int val;
    int ends_doc; /* the part ends its document */
} part_t;

typedef struct {
    char (*names)[SHARD_CAT_LEN];
    uint32_t n, last;
} cats_t;

/* Decides the split piece by piece (dataset.h) and queues the parts. */
typedef struct {
    textsrc_t *src;
    int k, mode;
    cats_t *cats;
    uint32_t *seen, n_seen; /* pieces so far per category */
    part_t *q;
    size_t head, n, cap;
} splitter_t;

static int cat_index(cats_t *c, const char *name, uint32_t *index)
{
    if (c->n && strcmp(c->names[c->last], name) == 0) {
        *index = c->last;
        return 0;
    }
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0) {
            *index = c->last = i;
            return 0;
        }
    if (c->n == DATASET_MAX_CATS) return err_set("category \"%s\": more than %d categories", name, DATASET_MAX_CATS);
    c->names = realloc(c->names, (c->n + 1) * sizeof *c->names);
    CHECK(c->names, "out of memory");
    snprintf(c->names[c->n], SHARD_CAT_LEN, "%s", name);
    *index = c->last = c->n++;
    return 0;
}

static void queue_part(splitter_t *sp, part_t p)
{
    if (p.len == 0) return;
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? 2 * sp->cap : 64;
        sp->q = realloc(sp->q, sp->cap * sizeof *sp->q);
        CHECK(sp->q, "out of memory");
    }
    sp->q[sp->n++] = p;
}

static int is_space(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* Where the validation tail of a piece starts: the last 1/k of it, moved back to whitespace so that no
 * word is cut in two (unless the piece has none). */
static size_t tail_start(const uint8_t *text, size_t len, int k)
{
    size_t cut = len - (len + (size_t)k - 1) / (size_t)k, c = cut;
    while (c > 0 && !is_space(text[c])) c--;
    return c > 0 ? c : cut;
}

static int split_piece(splitter_t *sp, textsrc_piece_t *p)
{
    uint32_t cat = 0;
    if (cat_index(sp->cats, p->category, &cat) != 0) {
        free(p->text);
        return -1;
    }
    if (cat >= sp->n_seen) {
        sp->seen = realloc(sp->seen, sp->cats->n * sizeof *sp->seen);
        CHECK(sp->seen, "out of memory");
        sp->seen[cat] = 0;
        sp->n_seen = sp->cats->n;
    }
    if (sp->mode == SPLIT_EVERY) {
        queue_part(sp, (part_t){p->text, p->text, p->len, cat, sp->seen[cat]++ % (uint32_t)sp->k == 0, p->ends_doc});
        return 0;
    }
    size_t cut = tail_start(p->text, p->len, sp->k);
    queue_part(sp, (part_t){cut == p->len ? p->text : NULL, p->text, cut, cat, 0, p->ends_doc});
    queue_part(sp, (part_t){cut < p->len ? p->text : NULL, p->text + cut, p->len - cut, cat, 1, p->ends_doc});
    return 0;
}

static void splitter_init(splitter_t *sp, textsrc_t *src, int k, cats_t *cats)
{
    memset(sp, 0, sizeof *sp);
    sp->src = src;
    sp->k = k;
    sp->cats = cats;
}

static void splitter_free(splitter_t *sp)
{
    for (size_t i = sp->head; i < sp->n; i++) free(sp->q[i].own);
    free(sp->q);
    free(sp->seen);
}

/* Reads the first DATASET_MIN_DOCS pieces to choose the rule, then splits them. */
static int decide(splitter_t *sp)
{
    textsrc_piece_t first[DATASET_MIN_DOCS];
    int n = 0, rc = 0;
    while (n < DATASET_MIN_DOCS && (rc = textsrc_next(sp->src, &first[n])) == 1) n++;
    sp->mode = n == DATASET_MIN_DOCS ? SPLIT_EVERY : SPLIT_TAIL;
    for (int i = 0; i < n; i++) {
        if (rc >= 0 && split_piece(sp, &first[i]) != 0) rc = -1;
        else if (rc < 0) free(first[i].text);
    }
    return rc < 0 ? -1 : 0;
}

/* The next part in input order: 1, 0 at the end, -1 with err_set(). */
static int split_next(splitter_t *sp, part_t *p)
{
    if (sp->mode == SPLIT_UNDECIDED) CALL(decide(sp));
    while (sp->head == sp->n) {
        sp->head = sp->n = 0;
        textsrc_piece_t piece;
        int rc = textsrc_next(sp->src, &piece);
        if (rc <= 0) return rc;
        CALL(split_piece(sp, &piece));
    }
    *p = sp->q[sp->head++];
    return 1;
}

/* ---- progress ---- */

typedef struct {
    int on;
    const textsrc_t *src;
    const char *phase;
    int whole; /* the phase reads the whole input: an ETA can be told */
    double t0, last;
} progress_t;

static void progress_start(progress_t *pg, int on, const textsrc_t *src, const char *phase, int whole)
{
    *pg = (progress_t){on, src, phase, whole, clock_seconds(), 0};
}

/* Redraws the line at most twice a second, and once more at the end. */
static void progress_draw(progress_t *pg, int end)
{
    double now = clock_seconds();
    if (!pg->on || (!end && now - pg->last < 0.5)) return;
    pg->last = now;
    double read = (double)textsrc_bytes_read(pg->src), total = (double)textsrc_bytes_total(pg->src);
    double rate = now > pg->t0 ? read / (now - pg->t0) : 0;
    fprintf(stderr, "\ril-prepare: %s: %.1f MB read, %.1f MB/s", pg->phase, read / MB, rate / MB);
    if (pg->whole && total > 0 && rate > 0 && !end) {
        long eta = (long)((total > read ? total - read : 0) / rate);
        fprintf(stderr, ", %.0f%% of %.1f MB, ETA %ld:%02ld:%02ld", 100 * read / total, total / MB, eta / 3600,
                eta / 60 % 60, eta % 60);
    }
    fputs(end ? "\033[K\n" : "\033[K", stderr);
    fflush(stderr);
}

/* ---- tokenizer ---- */

/* BPE is trained on the sample: the training parts from the start of the input, each followed by a newline
 * (so that no chunk spans two parts), up to bpe_sample_mb MB. */
static int make_tokenizer(const dataset_opts_t *o, textsrc_t *src, cats_t *cats, tokenizer_t *t, FILE *log)
{
    if (o->kind == TOKENIZER_BYTE) return tokenizer_init_byte(t);
    if (o->kind == TOKENIZER_GPT2) return tokenizer_init_gpt2_dir(t, o->gpt2_dir);
    size_t cap = (size_t)o->bpe_sample_mb << 20, n = 0, size = 0;
    uint8_t *buf = NULL;
    splitter_t sp;
    splitter_init(&sp, src, o->val_every, cats);
    progress_t pg;
    progress_start(&pg, o->progress, src, "reading the BPE sample", 0);
    part_t p;
    int rc = 0;
    while (n < cap && (rc = split_next(&sp, &p)) == 1) {
        size_t k = p.len < cap - n ? p.len + 1 : cap - n; /* the part and its newline, or what fits */
        if (!p.val && n + k > size) {
            size = n + k > 2 * size ? n + k : 2 * size;
            buf = realloc(buf, size);
            CHECK(buf, "out of memory for the BPE sample");
        }
        if (!p.val) {
            memcpy(buf + n, p.text, k > p.len ? p.len : k);
            if (k > p.len) buf[n + p.len] = '\n';
            n += k;
        }
        free(p.own);
        progress_draw(&pg, 0);
    }
    progress_draw(&pg, 1);
    splitter_free(&sp);
    cats->n = 0; /* the second pass finds them again, in the same order */
    textsrc_rewind(src);
    if (rc < 0) {
        free(buf);
        return -1;
    }
    double t0 = clock_seconds();
    rc = tokenizer_train_bpe(t, buf, n, o->vocab);
    double seconds = clock_seconds() - t0;
    free(buf);
    if (rc == 0 && log)
        fprintf(log, "il-prepare: BPE trained on %zu bytes in %.2f s: vocab %d\n", n, seconds, t->vocab_size);
    return rc;
}

/* ---- encoding and writing ---- */

/* One part into token ids (malloc'd). The part that ends its document also gets the tokenizer's
 * end-of-document id (GPT-2's <|endoftext|>), which belongs to the document's span. */
static void encode_doc(const tokenizer_t *t, const part_t *p, uint16_t **ids, size_t *n)
{
    CHECK(tokenizer_encode(t, p->text, p->len, ids, n) == 0, "encoding failed: %s", err_msg());
    int end = tokenizer_doc_end(t);
    if (end < 0 || !p->ends_doc) return;
    *ids = realloc(*ids, (*n + 1) * sizeof **ids);
    CHECK(*ids, "out of memory");
    (*ids)[(*n)++] = (uint16_t)end;
}

typedef struct {
    uint64_t docs, tokens;
} tally_t;

/* What was written: per split, and per split and category. */
typedef struct {
    shardsink_t sink[2];
    uint64_t bytes[2];
    tally_t *by_cat[2]; /* [DATASET_MAX_CATS] */
    uint64_t *counts;   /* [vocab] over the training set */
    int mode;           /* the split rule: SPLIT_TAIL or SPLIT_EVERY */
} written_t;

static int write_part(written_t *w, const cats_t *cats, const part_t *p, const uint16_t *ids, size_t n)
{
    int s = p->val;
    CALL(shardsink_doc(&w->sink[s], ids, n, p->cat, (const char(*)[SHARD_CAT_LEN])cats->names, cats->n));
    w->bytes[s] += p->len;
    w->by_cat[s][p->cat].docs++;
    w->by_cat[s][p->cat].tokens += n;
    if (s == 0)
        for (size_t i = 0; i < n; i++) w->counts[ids[i]]++;
    return 0;
}

/* Text bytes per batch: what is left of the bound after the pieces held to decide the split and the
 * longest JSON line, over the text and its tokens (up to 2 bytes of ids per byte). */
static size_t batch_bytes(const dataset_opts_t *o)
{
    double m = (double)o->memory_mb * MB, b = (m - DATASET_MIN_DOCS * (double)TEXTSRC_PIECE - m / 8) / 3;
    return b > (double)TEXTSRC_PIECE ? (size_t)b : TEXTSRC_PIECE;
}

/* Reads, encodes and writes the whole input. IL_EXIT_OK, IL_EXIT_INPUT (bad input) or IL_EXIT_FAIL (a
 * write failed), with err_set(). */
static int encode_all(const dataset_opts_t *o, textsrc_t *src, cats_t *cats, const tokenizer_t *t, written_t *w)
{
    size_t limit = batch_bytes(o), cap = 0;
    part_t *parts = NULL;
    uint16_t **ids = NULL;
    size_t *n_ids = NULL;
    splitter_t sp;
    splitter_init(&sp, src, o->val_every, cats);
    progress_t pg;
    progress_start(&pg, o->progress, src, "encoding", 1);
    int rc = 1;
    while (rc == 1) {
        size_t n = 0, bytes = 0;
        for (; bytes < limit; progress_draw(&pg, 0)) {
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                parts = realloc(parts, cap * sizeof *parts);
                ids = realloc(ids, cap * sizeof *ids);
                n_ids = realloc(n_ids, cap * sizeof *n_ids);
                CHECK(parts && ids && n_ids, "out of memory");
            }
            if ((rc = split_next(&sp, &parts[n])) != 1) break;
            bytes += parts[n++].len;
        }
#pragma omp parallel for schedule(dynamic, 1) num_threads(o->threads)
        for (size_t i = 0; i < n; i++) encode_doc(t, &parts[i], &ids[i], &n_ids[i]);
        for (size_t i = 0; i < n; i++) {
            if (rc >= 0 && write_part(w, cats, &parts[i], ids[i], n_ids[i]) != 0) rc = -2; /* a write failed */
            free(ids[i]);
            free(parts[i].own);
        }
    }
    progress_draw(&pg, 1);
    w->mode = sp.mode;
    splitter_free(&sp);
    free(parts);
    free(ids);
    free(n_ids);
    if (rc < 0) return rc == -2 ? IL_EXIT_FAIL : IL_EXIT_INPUT;
    for (int s = 0; s < 2; s++)
        if (shardsink_close(&w->sink[s], (const char(*)[SHARD_CAT_LEN])cats->names, cats->n) != 0) return IL_EXIT_FAIL;
    for (int s = 0; s < 2; s++)
        if (w->sink[s].n_tokens == 0) {
            err_set("too little input: the %s split is empty", s ? "validation" : "training");
            return IL_EXIT_INPUT;
        }
    return IL_EXIT_OK;
}

/* ---- outputs ---- */

static void summarize_split(FILE *f, const written_t *w, int s)
{
    const shardsink_t *k = &w->sink[s];
    fprintf(f, "%s: %llu documents, %llu tokens, %llu bytes (%.3f tokens per byte) in %u shard%s:", split_names[s],
            (unsigned long long)k->n_docs, (unsigned long long)k->n_tokens, (unsigned long long)w->bytes[s],
            w->bytes[s] ? (double)k->n_tokens / (double)w->bytes[s] : 0.0, k->n_shards, k->n_shards == 1 ? "" : "s");
    char name[4200];
    shardsink_name(k, 0, 0, name, sizeof name);
    fprintf(f, " %s", name);
    if (k->n_shards > 1) {
        shardsink_name(k, k->n_shards - 1, 0, name, sizeof name);
        fprintf(f, " to %s", name);
    }
    fprintf(f, ", listed in %s.shards\n", split_names[s]);
}

/* The human-readable prepare.txt (malloc'd, NUL-terminated). */
static char *summary(const dataset_opts_t *o, const textsrc_t *src, const tokenizer_t *t, const cats_t *cats,
                     const written_t *w)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f, "open_memstream failed");
    fprintf(f, "# il-prepare summary\n");
    if (o->brown_dir)
        fprintf(f, "input: Brown Corpus in %s (%zu documents)\n", o->brown_dir, textsrc_n_files(src));
    for (int i = 0; !o->brown_dir && i < o->n_inputs; i++) fprintf(f, "input: %s\n", o->inputs[i]);
    if (!o->brown_dir) {
        fprintf(f, "read: %zu files, %llu bytes as stored; ", textsrc_n_files(src), (unsigned long long)textsrc_bytes_read(src));
        if (o->jsonl_field)
            fprintf(f, "JSON Lines, the text in field \"%s\"", o->jsonl_field);
        else
            fprintf(f, "plain text, a file per document");
        if (o->category_field) fprintf(f, ", the category in field \"%s\"", o->category_field);
        if (o->category_from_dir) fprintf(f, ", the category from the file's directory");
        fprintf(f, "\n");
    }
    static const char *const kinds[] = {[TOKENIZER_BYTE] = "byte", [TOKENIZER_BPE] = "bpe", [TOKENIZER_GPT2] = "gpt2"};
    fprintf(f, "tokenizer: %s, vocab %d", kinds[t->kind], t->vocab_size);
    if (t->kind == TOKENIZER_BPE) fprintf(f, " (asked for %d, trained on up to %d MB of the training text)", o->vocab, o->bpe_sample_mb);
    fprintf(f, ", id %08x\n", t->id);
    if (w->mode == SPLIT_EVERY)
        fprintf(f, "split: every %d-th document of each category, from its first, to validation\n", o->val_every);
    else
        fprintf(f, "split: last 1/%d of each document to validation (fewer than %d documents)\n", o->val_every, DATASET_MIN_DOCS);
    for (int s = 0; s < 2; s++) summarize_split(f, w, s);
    fprintf(f, "%-*s %10s %12s %10s %12s\n", SHARD_CAT_LEN, "category", "train_docs", "train_tokens", "val_docs", "val_tokens");
    for (uint32_t k = 0; k < cats->n; k++)
        fprintf(f, "%-*s %10llu %12llu %10llu %12llu\n", SHARD_CAT_LEN, cats->names[k],
                (unsigned long long)w->by_cat[0][k].docs, (unsigned long long)w->by_cat[0][k].tokens,
                (unsigned long long)w->by_cat[1][k].docs, (unsigned long long)w->by_cat[1][k].tokens);
    CHECK(fclose(f) == 0, "writing the summary failed");
    return text;
}

static int write_one(int which, const char *path, const tokenizer_t *t, const uint64_t *counts, const char *text)
{
    switch (which) {
    case OUT_TOK: return tokenizer_save(t, path);
    case OUT_COUNTS: return shard_counts_write(path, t->id, (uint32_t)t->vocab_size, counts);
    default: return bytes_write_file(path, (const uint8_t *)text, strlen(text));
    }
}

/* Renames the shards into place and writes the other outputs, or, if one fails, removes all this run
 * wrote. */
static int commit_outputs(char paths[N_OUT][4096], const tokenizer_t *t, written_t *w, const char *text)
{
    int written = 0;
    if (shardsink_commit(&w->sink[0]) == 0 && shardsink_commit(&w->sink[1]) == 0)
        while (written < N_OUT && write_one(written, paths[written], t, w->counts, text) == 0) written++;
    if (written == N_OUT) return 0;
    for (int i = 0; i < written; i++) unlink(paths[i]);
    return -1;
}

/* A name il-prepare writes, numbered shards included ("train-00012.bin"). */
static int is_output(const char *name)
{
    for (int s = 0; s < 2; s++) {
        size_t n = strlen(split_names[s]);
        if (strncmp(name, split_names[s], n) != 0) continue;
        const char *r = name + n;
        if (!strcmp(r, ".bin") || !strcmp(r, ".shards") || (s == 0 && !strcmp(r, ".counts"))) return 1;
        if (*r++ != '-') continue;
        while (*r >= '0' && *r <= '9') r++;
        if (r > name + n + 1 && !strcmp(r, ".bin")) return 1;
    }
    for (int i = 0; i < N_OUT; i++)
        if (!strcmp(name, out_names[i])) return 1;
    return 0;
}

/* Whether a temporary name ("NAME.tmp.PID") is the debris of a writer that died: an output's name, and a
 * process that is gone. */
static int dead_debris(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!atomicfile_is_tmp(name) || !t) return 0;
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(t - name), name);
    long pid = strtol(t + 5, NULL, 10);
    return is_output(base) && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Refuses a directory that holds outputs, and removes what dead writers left there (under the lock). */
static int check_outputs(const char *dir, char paths[N_OUT][4096])
{
    static const char *const fixed[] = {"tokenizer.bin", "train.bin", "val.bin", "train.shards", "val.shards",
                                        "train.counts", "prepare.txt"};
    for (int i = 0; i < N_OUT; i++)
        if (snprintf(paths[i], 4096, "%s/%s", dir, out_names[i]) >= 4096) return err_set("%s: path too long", dir);
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) { /* in this order, so that the message is the same */
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, fixed[i]);
        if (access(path, F_OK) == 0)
            return err_set("%s: already exists; refusing to overwrite it (remove it or choose another --out)", path);
    }
    DIR *d = opendir(dir);
    int rc = 0;
    for (struct dirent *e; d && rc == 0 && (e = readdir(d));) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (is_output(e->d_name))
            rc = err_set("%s: already exists; refusing to overwrite it (remove it or choose another --out)", path);
        else if (dead_debris(e->d_name))
            unlink(path);
    }
    if (d) closedir(d);
    return rc;
}

/* One il-prepare at a time in a directory: an exclusive flock on the directory itself, so that nothing is
 * left behind. The descriptor to close at the end, or -1 with err_set(). */
static int lock_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_set("%s: cannot open: %s", dir, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK) return err_set("%s: another il-prepare is writing there; wait for it or choose another --out", dir);
    return err_set("%s: cannot lock: %s", dir, strerror(e));
}

static int prepare(const dataset_opts_t *o, textsrc_t *src, char paths[N_OUT][4096], FILE *log)
{
    cats_t cats = {0};
    tokenizer_t t = {0};
    written_t w = {0};
    char *text = NULL;
    int rc = IL_EXIT_INPUT;
    if (make_tokenizer(o, src, &cats, &t, log) != 0) goto out;
    uint64_t max_tokens = (uint64_t)(o->shard_mb * MB / 2);
    for (int s = 0; s < 2; s++) {
        shardsink_init(&w.sink[s], o->out_dir, split_names[s], max_tokens ? max_tokens : 1, t.id, (uint32_t)t.vocab_size);
        w.by_cat[s] = err_calloc(DATASET_MAX_CATS, sizeof *w.by_cat[s]);
    }
    w.counts = err_calloc((size_t)t.vocab_size, sizeof *w.counts);
    if ((rc = encode_all(o, src, &cats, &t, &w)) != IL_EXIT_OK) goto out;
    text = summary(o, src, &t, &cats, &w);
    rc = IL_EXIT_FAIL;
    if (commit_outputs(paths, &t, &w, text) != 0) goto out;
    if (log) fputs(text, log);
    rc = IL_EXIT_OK;
out:
    for (int s = 0; s < 2; s++) {
        if (rc != IL_EXIT_OK) shardsink_abort(&w.sink[s]);
        shardsink_free(&w.sink[s]);
        free(w.by_cat[s]);
    }
    free(text);
    free(w.counts);
    tokenizer_free(&t);
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
    textsrc_opts_t so = {o->inputs, o->n_inputs, o->brown_dir, o->jsonl_field, o->category_field, o->category_from_dir,
                         (size_t)o->memory_mb << 17, o->kind == TOKENIZER_BPE};
    textsrc_t *src = textsrc_open(&so);
    if (!src) return IL_EXIT_INPUT;
    int created = access(o->out_dir, F_OK) != 0, lock = -1, rc = IL_EXIT_FAIL;
    if (atomicfile_mkdirs(o->out_dir) == 0)
        rc = (lock = lock_dir(o->out_dir)) < 0 || check_outputs(o->out_dir, paths) != 0 ? IL_EXIT_INPUT
                                                                                      : prepare(o, src, paths, log);
    if (lock >= 0) close(lock);
    if (rc != IL_EXIT_OK && created) rmdir(o->out_dir);
    textsrc_close(src);
    return rc;
}
