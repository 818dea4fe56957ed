#include "data/tokenizer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"

enum { TOK_VERSION = 1, TOK_HEADER = 28, TOK_MAX_VOCAB = 65536 };
static const uint8_t tok_magic[8] = {'I', 'L', 'T', 'O', 'K', 'E', 'N', 0};
#define EMPTY_KEY 0xFFFFFFFFu /* (65535, 65535) cannot be a merge: merge i only uses ids below 256 + i */

static int is_alnum(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* Length of the chunk starting at p (n > 0 bytes available); see tokenizer.h. */
static size_t chunk_len(const uint8_t *p, size_t n)
{
    size_t i = (p[0] == ' ' && n > 1 && is_alnum(p[1])) ? 1 : 0;
    if (!is_alnum(p[i])) return 1;
    while (i < n && i < TOKENIZER_MAX_CHUNK && is_alnum(p[i])) i++;
    return i;
}

static uint32_t pair_key(int32_t a, int32_t b) { return (uint32_t)a << 16 | (uint32_t)b; }
static uint32_t mix(uint32_t k) { return (k ^ (k >> 16)) * 0x45d9f3bu; }

/* ---- finishing a tokenizer: content id, decode pieces, encode table ---- */

static uint32_t content_id(const tokenizer_t *t)
{
    uint8_t b[8];
    bytes_put_u32(b, (uint32_t)t->kind);
    bytes_put_u32(b + 4, (uint32_t)t->vocab_size);
    uint32_t h = bytes_fnv1a(BYTES_FNV_INIT, b, 8);
    for (int i = 0; i < t->n_merges; i++) {
        bytes_put_u32(b, (uint32_t)t->merges[i][0]);
        bytes_put_u32(b + 4, (uint32_t)t->merges[i][1]);
        h = bytes_fnv1a(h, b, 8);
    }
    return h;
}

static void build_pieces(tokenizer_t *t)
{
    t->piece = err_calloc((size_t)t->vocab_size, sizeof *t->piece);
    t->piece_len = err_calloc((size_t)t->vocab_size, sizeof *t->piece_len);
    for (int i = 0; i < 256; i++) {
        t->piece[i] = err_calloc(1, 1);
        t->piece[i][0] = (uint8_t)i;
        t->piece_len[i] = 1;
    }
    for (int i = 0; i < t->n_merges; i++) {
        int a = t->merges[i][0], b = t->merges[i][1], id = 256 + i;
        t->piece_len[id] = t->piece_len[a] + t->piece_len[b];
        t->piece[id] = err_calloc((size_t)t->piece_len[id], 1);
        memcpy(t->piece[id], t->piece[a], (size_t)t->piece_len[a]);
        memcpy(t->piece[id] + t->piece_len[a], t->piece[b], (size_t)t->piece_len[b]);
    }
}

static void build_pair_table(tokenizer_t *t)
{
    if (t->n_merges == 0) return;
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)t->n_merges) cap <<= 1;
    t->pair_cap = cap;
    t->pair_key = err_calloc(cap, sizeof *t->pair_key);
    t->pair_rank = err_calloc(cap, sizeof *t->pair_rank);
    memset(t->pair_key, 0xFF, cap * sizeof *t->pair_key);
    for (int i = 0; i < t->n_merges; i++) {
        uint32_t k = pair_key(t->merges[i][0], t->merges[i][1]);
        uint32_t s = mix(k) & (cap - 1);
        while (t->pair_key[s] != EMPTY_KEY) s = (s + 1) & (cap - 1);
        t->pair_key[s] = k;
        t->pair_rank[s] = i;
    }
}

/* Merge rank of (a, b), or -1 if they never merge. */
static int32_t pair_rank(const tokenizer_t *t, int32_t a, int32_t b)
{
    if (!t->pair_cap) return -1;
    uint32_t k = pair_key(a, b);
    for (uint32_t s = mix(k) & (t->pair_cap - 1);; s = (s + 1) & (t->pair_cap - 1)) {
        if (t->pair_key[s] == k) return t->pair_rank[s];
        if (t->pair_key[s] == EMPTY_KEY) return -1;
    }
}

static void finish(tokenizer_t *t)
{
    t->id = content_id(t);
    build_pieces(t);
    build_pair_table(t);
}

int tokenizer_init_byte(tokenizer_t *t)
{
    memset(t, 0, sizeof *t);
    t->kind = TOKENIZER_BYTE;
    t->vocab_size = 256;
    finish(t);
    return 0;
}

void tokenizer_free(tokenizer_t *t)
{
    if (t->piece)
        for (int i = 0; i < t->vocab_size; i++) free(t->piece[i]);
    free(t->piece);
    free(t->piece_len);
    free(t->merges);
    free(t->pair_key);
    free(t->pair_rank);
    memset(t, 0, sizeof *t);
}

/* ---- BPE training ----
 * Training works on the distinct chunks of the text with their counts (Brown: ~50k distinct chunks
 * instead of ~1.2M in the stream). Each pair keeps its total count and a list of the words it occurs
 * in; a lazy max-heap picks the most frequent pair; merging rewrites only the words on that pair's
 * list. */

typedef struct {
    int32_t *sym;
    int len;
    int64_t count;
    int stamp; /* last merge that rewrote this word, to skip duplicate list entries */
} word_t;

typedef struct {
    int64_t count;
    uint32_t *words, n_words, cap_words;
    int dirty_stamp;
} pair_t;

typedef struct {
    int64_t count;
    uint32_t key;
} heap_item_t;

typedef struct {
    word_t *words;
    size_t n_words;
    int32_t *sym_arena;
    /* pair map: key -> index into pairs */
    uint32_t *map_key, *map_val, map_cap, map_used;
    pair_t *pairs;
    uint32_t n_pairs, cap_pairs;
    heap_item_t *heap;
    size_t heap_n, heap_cap;
    uint32_t *dirty;
    size_t n_dirty, cap_dirty;
} trainer_t;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    p = realloc(p, c * elem);
    CHECK(p, "out of memory growing to %zu x %zu bytes", c, elem);
    *cap = c;
    return p;
}

static void map_rehash(trainer_t *tr)
{
    uint32_t old_cap = tr->map_cap, *old_key = tr->map_key, *old_val = tr->map_val;
    tr->map_cap = old_cap ? old_cap * 2 : 1024;
    tr->map_key = err_calloc(tr->map_cap, sizeof *tr->map_key);
    tr->map_val = err_calloc(tr->map_cap, sizeof *tr->map_val);
    memset(tr->map_key, 0xFF, tr->map_cap * sizeof *tr->map_key);
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old_key[i] == EMPTY_KEY) continue;
        uint32_t s = mix(old_key[i]) & (tr->map_cap - 1);
        while (tr->map_key[s] != EMPTY_KEY) s = (s + 1) & (tr->map_cap - 1);
        tr->map_key[s] = old_key[i];
        tr->map_val[s] = old_val[i];
    }
    free(old_key);
    free(old_val);
}

/* Index of the pair with this key, created with count 0 if new. */
static uint32_t pair_get(trainer_t *tr, uint32_t key)
{
    if (2 * (tr->map_used + 1) > tr->map_cap) map_rehash(tr);
    uint32_t s = mix(key) & (tr->map_cap - 1);
    while (tr->map_key[s] != EMPTY_KEY) {
        if (tr->map_key[s] == key) return tr->map_val[s];
        s = (s + 1) & (tr->map_cap - 1);
    }
    size_t cap = tr->cap_pairs;
    tr->pairs = grow(tr->pairs, &cap, (size_t)tr->n_pairs + 1, sizeof *tr->pairs);
    tr->cap_pairs = (uint32_t)cap;
    memset(&tr->pairs[tr->n_pairs], 0, sizeof *tr->pairs);
    tr->pairs[tr->n_pairs].dirty_stamp = INT_MIN;
    tr->map_key[s] = key;
    tr->map_val[s] = tr->n_pairs;
    tr->map_used++;
    return tr->n_pairs++;
}

/* Adds delta occurrences of pair key; records word w in the pair's list unless w is UINT32_MAX.
 * stamp marks the pair as changed during this merge, for one heap push per pair. */
static void pair_add(trainer_t *tr, uint32_t key, int64_t delta, uint32_t w, int stamp)
{
    uint32_t i = pair_get(tr, key); /* may move tr->pairs */
    pair_t *p = &tr->pairs[i];
    p->count += delta;
    if (w != UINT32_MAX && (p->n_words == 0 || p->words[p->n_words - 1] != w)) {
        size_t cap = p->cap_words;
        p->words = grow(p->words, &cap, (size_t)p->n_words + 1, sizeof *p->words);
        p->cap_words = (uint32_t)cap;
        p->words[p->n_words++] = w;
    }
    if (p->dirty_stamp != stamp) {
        p->dirty_stamp = stamp;
        tr->dirty = grow(tr->dirty, &tr->cap_dirty, tr->n_dirty + 1, sizeof *tr->dirty);
        tr->dirty[tr->n_dirty++] = key;
    }
}

/* Heap order: higher count first, then lower key, so training is deterministic. */
static int heap_before(heap_item_t x, heap_item_t y) { return x.count > y.count || (x.count == y.count && x.key < y.key); }

static void heap_push(trainer_t *tr, heap_item_t it)
{
    tr->heap = grow(tr->heap, &tr->heap_cap, tr->heap_n + 1, sizeof *tr->heap);
    size_t i = tr->heap_n++;
    while (i > 0 && heap_before(it, tr->heap[(i - 1) / 2])) {
        tr->heap[i] = tr->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    tr->heap[i] = it;
}

static heap_item_t heap_pop(trainer_t *tr)
{
    heap_item_t top = tr->heap[0], last = tr->heap[--tr->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= tr->heap_n) break;
        if (c + 1 < tr->heap_n && heap_before(tr->heap[c + 1], tr->heap[c])) c++;
        if (!heap_before(tr->heap[c], last)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (tr->heap_n) tr->heap[i] = last;
    return top;
}

static void push_dirty(trainer_t *tr)
{
    for (size_t i = 0; i < tr->n_dirty; i++) {
        uint32_t pi = pair_get(tr, tr->dirty[i]);
        int64_t c = tr->pairs[pi].count;
        if (c > 0) heap_push(tr, (heap_item_t){c, tr->dirty[i]});
    }
    tr->n_dirty = 0;
}

/* Counts distinct chunks of text into tr->words (symbols are the raw bytes). */
static void count_chunks(trainer_t *tr, const uint8_t *text, size_t n)
{
    uint32_t cap = 1024, used = 0, *slot = err_calloc(cap, sizeof *slot); /* word index + 1; 0 = empty */
    size_t cap_words = 0, n_sym = 0;
    size_t *start = NULL, cap_start = 0; /* offset into text of each word's first occurrence */
    for (size_t i = 0; i < n;) {
        size_t len = chunk_len(text + i, n - i);
        uint32_t h = bytes_fnv1a(BYTES_FNV_INIT, text + i, len), s = h & (cap - 1);
        for (; slot[s]; s = (s + 1) & (cap - 1)) {
            word_t *w = &tr->words[slot[s] - 1];
            if ((size_t)w->len == len && memcmp(text + start[slot[s] - 1], text + i, len) == 0) break;
        }
        if (slot[s]) {
            tr->words[slot[s] - 1].count++;
        } else {
            tr->words = grow(tr->words, &cap_words, tr->n_words + 1, sizeof *tr->words);
            start = grow(start, &cap_start, tr->n_words + 1, sizeof *start);
            tr->words[tr->n_words] = (word_t){NULL, (int)len, 1, -1};
            start[tr->n_words] = i;
            slot[s] = (uint32_t)++tr->n_words;
            n_sym += len;
            if (2 * ++used > cap) {
                free(slot);
                cap *= 2;
                slot = err_calloc(cap, sizeof *slot);
                for (uint32_t w = 0; w < used; w++) {
                    const uint8_t *p = text + start[w];
                    uint32_t t = bytes_fnv1a(BYTES_FNV_INIT, p, (size_t)tr->words[w].len) & (cap - 1);
                    while (slot[t]) t = (t + 1) & (cap - 1);
                    slot[t] = w + 1;
                }
            }
        }
        i += len;
    }
    tr->sym_arena = err_calloc(n_sym, sizeof *tr->sym_arena);
    int32_t *p = tr->sym_arena;
    for (size_t w = 0; w < tr->n_words; w++) {
        tr->words[w].sym = p;
        for (int j = 0; j < tr->words[w].len; j++) p[j] = text[start[w] + (size_t)j];
        p += tr->words[w].len;
    }
    free(slot);
    free(start);
}

static int word_has(const word_t *w, int32_t a, int32_t b)
{
    for (int j = 0; j + 1 < w->len; j++)
        if (w->sym[j] == a && w->sym[j + 1] == b) return 1;
    return 0;
}

/* Rewrites word wi with (a, b) -> id, keeping the pair counts and lists in step. */
static void merge_word(trainer_t *tr, uint32_t wi, int32_t a, int32_t b, int32_t id, int stamp)
{
    word_t *w = &tr->words[wi];
    for (int j = 0; j + 1 < w->len; j++) pair_add(tr, pair_key(w->sym[j], w->sym[j + 1]), -w->count, UINT32_MAX, stamp);
    int o = 0;
    for (int j = 0; j < w->len; j++) {
        if (j + 1 < w->len && w->sym[j] == a && w->sym[j + 1] == b) {
            w->sym[o++] = id;
            j++;
        } else {
            w->sym[o++] = w->sym[j];
        }
    }
    w->len = o;
    for (int j = 0; j + 1 < w->len; j++) {
        int fresh = w->sym[j] == id || w->sym[j + 1] == id;
        pair_add(tr, pair_key(w->sym[j], w->sym[j + 1]), w->count, fresh ? wi : UINT32_MAX, stamp);
    }
}

static void trainer_free(trainer_t *tr)
{
    for (uint32_t i = 0; i < tr->n_pairs; i++) free(tr->pairs[i].words);
    free(tr->pairs);
    free(tr->words);
    free(tr->sym_arena);
    free(tr->map_key);
    free(tr->map_val);
    free(tr->heap);
    free(tr->dirty);
}

/* Pops the most frequent pair whose heap entry is current; 0 if none is left. */
static int best_pair(trainer_t *tr, uint32_t *key)
{
    while (tr->heap_n) {
        heap_item_t it = heap_pop(tr);
        uint32_t pi = pair_get(tr, it.key);
        if (tr->pairs[pi].count == it.count) {
            *key = it.key;
            return 1;
        }
    }
    return 0;
}

int tokenizer_train_bpe(tokenizer_t *t, const uint8_t *text, size_t n, int vocab_size)
{
    memset(t, 0, sizeof *t);
    if (vocab_size < 256 || vocab_size > TOK_MAX_VOCAB)
        return err_set("BPE vocabulary size %d is out of range [256, %d]", vocab_size, TOK_MAX_VOCAB);
    trainer_t tr = {0};
    count_chunks(&tr, text, n);
    for (uint32_t w = 0; w < tr.n_words; w++)
        for (int j = 0; j + 1 < tr.words[w].len; j++)
            pair_add(&tr, pair_key(tr.words[w].sym[j], tr.words[w].sym[j + 1]), tr.words[w].count, w, -1);
    push_dirty(&tr);

    t->kind = TOKENIZER_BPE;
    t->merges = err_calloc((size_t)(vocab_size - 256), sizeof *t->merges);
    uint32_t key;
    while (256 + t->n_merges < vocab_size && best_pair(&tr, &key)) {
        int m = t->n_merges, id = 256 + m;
        int32_t a = (int32_t)(key >> 16), b = (int32_t)(key & 0xFFFF);
        uint32_t pi = pair_get(&tr, key);
        pair_t *p = &tr.pairs[pi];
        uint32_t *list = p->words, n_list = p->n_words;
        p->words = NULL;
        p->n_words = p->cap_words = 0;
        for (uint32_t i = 0; i < n_list; i++) {
            word_t *w = &tr.words[list[i]];
            if (w->stamp == m || !word_has(w, a, b)) continue;
            w->stamp = m;
            merge_word(&tr, list[i], a, b, id, m);
        }
        free(list);
        push_dirty(&tr);
        t->merges[m][0] = a;
        t->merges[m][1] = b;
        t->n_merges++;
    }
    trainer_free(&tr);
    t->vocab_size = 256 + t->n_merges;
    finish(t);
    return 0;
}

/* ---- encode / decode ---- */

/* Applies merges in rank order to one chunk's ids (in place); returns the new length. */
static int encode_chunk(const tokenizer_t *t, int32_t *s, int len)
{
    for (;;) {
        int32_t best = -1;
        for (int j = 0; j + 1 < len; j++) {
            int32_t r = pair_rank(t, s[j], s[j + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r;
        }
        if (best < 0) return len;
        int32_t a = t->merges[best][0], b = t->merges[best][1], o = 0;
        for (int j = 0; j < len; j++) {
            if (j + 1 < len && s[j] == a && s[j + 1] == b) {
                s[o++] = 256 + best;
                j++;
            } else {
                s[o++] = s[j];
            }
        }
        len = o;
    }
}

int tokenizer_encode(const tokenizer_t *t, const uint8_t *text, size_t n, uint16_t **out, size_t *n_out)
{
    uint16_t *ids = err_calloc(n, sizeof *ids);
    size_t k = 0;
    int32_t s[TOKENIZER_MAX_CHUNK];
    for (size_t i = 0; i < n;) {
        size_t len = chunk_len(text + i, n - i);
        for (size_t j = 0; j < len; j++) s[j] = text[i + j];
        int m = encode_chunk(t, s, (int)len);
        for (int j = 0; j < m; j++) ids[k++] = (uint16_t)s[j];
        i += len;
    }
    *out = ids;
    *n_out = k;
    return 0;
}

int tokenizer_decode(const tokenizer_t *t, const uint16_t *ids, size_t n, uint8_t **out, size_t *n_out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= t->vocab_size) return err_set("token id %u at position %zu is out of range (vocab %d)", ids[i], i, t->vocab_size);
        total += (size_t)t->piece_len[ids[i]];
    }
    uint8_t *b = err_calloc(total, 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(b + k, t->piece[ids[i]], (size_t)t->piece_len[ids[i]]);
        k += (size_t)t->piece_len[ids[i]];
    }
    *out = b;
    *n_out = total;
    return 0;
}

/* ---- file ---- */

int tokenizer_save(const tokenizer_t *t, const char *path)
{
    size_t n = TOK_HEADER + 8 * (size_t)t->n_merges;
    uint8_t *b = err_calloc(n, 1);
    memcpy(b, tok_magic, 8);
    bytes_put_u32(b + 8, TOK_VERSION);
    bytes_put_u32(b + 12, (uint32_t)t->kind);
    bytes_put_u32(b + 16, (uint32_t)t->vocab_size);
    bytes_put_u32(b + 20, (uint32_t)t->n_merges);
    bytes_put_u32(b + 24, t->id);
    for (int i = 0; i < t->n_merges; i++) {
        bytes_put_u32(b + TOK_HEADER + 8 * (size_t)i, (uint32_t)t->merges[i][0]);
        bytes_put_u32(b + TOK_HEADER + 8 * (size_t)i + 4, (uint32_t)t->merges[i][1]);
    }
    int rc = bytes_write_file(path, b, n);
    free(b);
    return rc;
}

/* Validates the header of a tokenizer file of n bytes; fills kind, vocab and merge count. */
static int check_header(const char *path, const uint8_t *b, size_t n, tokenizer_t *t)
{
    if (n == 0) return err_set("%s: empty file, not a tokenizer", path);
    if (n < 8 || memcmp(b, tok_magic, 8) != 0) return err_set("%s: not a tokenizer file (bad magic)", path);
    if (n < TOK_HEADER) return err_set("%s: truncated: %zu bytes, header needs %d", path, n, TOK_HEADER);
    uint32_t version = bytes_get_u32(b + 8), kind = bytes_get_u32(b + 12);
    uint32_t vocab = bytes_get_u32(b + 16), n_merges = bytes_get_u32(b + 20);
    if (version != TOK_VERSION)
        return err_set("%s: unsupported tokenizer version %u (this build reads version %d)", path, version, TOK_VERSION);
    if (kind != TOKENIZER_BYTE && kind != TOKENIZER_BPE) return err_set("%s: unknown tokenizer kind %u", path, kind);
    if (kind == TOKENIZER_BYTE && n_merges != 0) return err_set("%s: byte-level tokenizer with %u merges", path, n_merges);
    if (n_merges > TOK_MAX_VOCAB - 256 || vocab != 256 + n_merges)
        return err_set("%s: vocab size %u does not match %u merges (expected 256 + merges <= %d)", path, vocab, n_merges, TOK_MAX_VOCAB);
    size_t want = TOK_HEADER + 8 * (size_t)n_merges;
    if (n < want) return err_set("%s: truncated: header says %u merges (%zu bytes), file holds %zu bytes", path, n_merges, want, n);
    if (n > want) return err_set("%s: %zu unexpected bytes after %u merges", path, n - want, n_merges);
    t->kind = (int)kind;
    t->vocab_size = (int)vocab;
    t->n_merges = (int)n_merges;
    return 0;
}

static int load_merges(const char *path, const uint8_t *b, tokenizer_t *t)
{
    t->merges = err_calloc((size_t)t->n_merges, sizeof *t->merges);
    for (int i = 0; i < t->n_merges; i++) {
        for (int side = 0; side < 2; side++) {
            uint32_t v = bytes_get_u32(b + TOK_HEADER + 8 * (size_t)i + 4 * (size_t)side);
            if (v >= 256u + (uint32_t)i)
                return err_set("%s: merge %d refers to token %u, which is not defined before it", path, i, v);
            t->merges[i][side] = (int32_t)v;
        }
    }
    return 0;
}

/* A tokenizer file: header, merges, and the stored id, which must be the hash of what was read. */
static int parse_tokenizer(const char *path, const uint8_t *b, size_t n, void *out)
{
    tokenizer_t *t = out;
    CALL(check_header(path, b, n, t));
    CALL(load_merges(path, b, t));
    finish(t);
    uint32_t stored = bytes_get_u32(b + 24);
    if (t->id != stored)
        return err_set("%s: stored id %08x does not match content hash %08x (corrupt file)", path, stored, t->id);
    return 0;
}

int tokenizer_load(tokenizer_t *t, const char *path)
{
    memset(t, 0, sizeof *t);
    int rc = bytes_parse_file(path, parse_tokenizer, t);
    if (rc != 0) tokenizer_free(t);
    return rc;
}
