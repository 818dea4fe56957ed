#include "data/tokenizer.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/err.h"
#include "data/pretok.h"

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
    /* GPT-2's byte order too; the other kinds' ids stay what they were before it existed */
    if (t->kind == TOKENIZER_GPT2) h = bytes_fnv1a(h, t->byte_of, sizeof t->byte_of);
    return h;
}

static const char gpt2_end_text[] = "<|endoftext|>";

static void build_pieces(tokenizer_t *t)
{
    t->piece = err_calloc((size_t)t->vocab_size, sizeof *t->piece);
    t->piece_len = err_calloc((size_t)t->vocab_size, sizeof *t->piece_len);
    for (int i = 0; i < 256; i++) {
        t->piece[i] = err_calloc(1, 1);
        t->piece[i][0] = t->byte_of[i];
        t->piece_len[i] = 1;
    }
    for (int i = 0; i < t->n_merges; i++) {
        int a = t->merges[i][0], b = t->merges[i][1], id = 256 + i;
        t->piece_len[id] = t->piece_len[a] + t->piece_len[b];
        t->piece[id] = err_calloc((size_t)t->piece_len[id], 1);
        memcpy(t->piece[id], t->piece[a], (size_t)t->piece_len[a]);
        memcpy(t->piece[id] + t->piece_len[a], t->piece[b], (size_t)t->piece_len[b]);
    }
    int end = tokenizer_doc_end(t);
    if (end >= 0) {
        t->piece_len[end] = (int)strlen(gpt2_end_text);
        t->piece[end] = (uint8_t *)err_strdup(gpt2_end_text);
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

/* byte_of must be set for GPT-2 (the other kinds use the identity). -1 with err_set() if the
 * pre-tokeniser cannot be made. */
static int finish(tokenizer_t *t)
{
    for (int i = 0; i < 256; i++) {
        if (t->kind != TOKENIZER_GPT2) t->byte_of[i] = (uint8_t)i;
        t->id_of[t->byte_of[i]] = (uint16_t)i;
    }
    t->id = content_id(t);
    build_pieces(t);
    build_pair_table(t);
    if (t->kind == TOKENIZER_GPT2 && !(t->pretok = pretok_new_gpt2())) return -1;
    return 0;
}

int tokenizer_doc_end(const tokenizer_t *t) { return t->kind == TOKENIZER_GPT2 ? t->vocab_size - 1 : -1; }

int tokenizer_init_byte(tokenizer_t *t)
{
    memset(t, 0, sizeof *t);
    t->kind = TOKENIZER_BYTE;
    t->vocab_size = 256;
    return finish(t);
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
    pretok_free(t->pretok);
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
    return finish(t);
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

/* GPT-2's encoding: the pre-tokeniser's pieces, each merged on its own. Natural text repeats its words,
 * so a cache maps a piece already seen in this call to where its ids were written. It is the call's own,
 * which keeps encoding safe from several threads; it stops growing at CACHE_MAX_ENTRIES and does not keep
 * pieces longer than CACHE_MAX_PIECE (long ones rarely repeat). */
enum { CACHE_MAX_ENTRIES = 1 << 18, CACHE_MAX_PIECE = 64 };

typedef struct {
    uint32_t hash, len, n_ids;
    size_t off, at; /* the piece's offset in the text, its ids' offset in the output */
} cache_ent_t;

typedef struct {
    const tokenizer_t *t;
    const uint8_t *text;
    uint16_t *ids;
    size_t k;
    int32_t *sym;
    size_t cap_sym;
    uint32_t *slot, cap; /* entry index + 1, 0 for empty; cap a power of two */
    cache_ent_t *ent;
    size_t n_ent, cap_ent;
} gpt2_enc_t;

static uint32_t *cache_find(gpt2_enc_t *e, const uint8_t *s, uint32_t len, uint32_t h)
{
    uint32_t i = h & (e->cap - 1);
    for (; e->slot[i]; i = (i + 1) & (e->cap - 1)) {
        const cache_ent_t *c = &e->ent[e->slot[i] - 1];
        if (c->hash == h && c->len == len && memcmp(e->text + c->off, s, len) == 0) break;
    }
    return &e->slot[i];
}

static void cache_put(gpt2_enc_t *e, uint32_t *slot, cache_ent_t c)
{
    e->ent = grow(e->ent, &e->cap_ent, e->n_ent + 1, sizeof *e->ent);
    e->ent[e->n_ent++] = c;
    *slot = (uint32_t)e->n_ent;
    if (2 * e->n_ent <= e->cap) return;
    free(e->slot);
    e->cap *= 2;
    e->slot = err_calloc(e->cap, sizeof *e->slot);
    for (size_t j = 0; j < e->n_ent; j++) {
        uint32_t i = e->ent[j].hash & (e->cap - 1);
        while (e->slot[i]) i = (i + 1) & (e->cap - 1);
        e->slot[i] = (uint32_t)j + 1;
    }
}

static int gpt2_piece(const uint8_t *s, size_t len, void *arg)
{
    gpt2_enc_t *e = arg;
    int cacheable = len <= CACHE_MAX_PIECE;
    uint32_t h = cacheable ? bytes_fnv1a(BYTES_FNV_INIT, s, len) : 0, *slot = NULL;
    if (cacheable) {
        slot = cache_find(e, s, (uint32_t)len, h);
        if (*slot) {
            const cache_ent_t *c = &e->ent[*slot - 1];
            memcpy(e->ids + e->k, e->ids + c->at, c->n_ids * sizeof *e->ids);
            e->k += c->n_ids;
            return 0;
        }
    }
    if (len > INT_MAX)
        return err_set("a pre-token of %zu bytes (one run of letters, digits, marks or spaces) is too long to merge", len);
    e->sym = grow(e->sym, &e->cap_sym, len, sizeof *e->sym);
    for (size_t j = 0; j < len; j++) e->sym[j] = e->t->id_of[s[j]];
    int m = encode_chunk(e->t, e->sym, (int)len);
    size_t at = e->k;
    for (int j = 0; j < m; j++) e->ids[e->k++] = (uint16_t)e->sym[j];
    if (cacheable && e->n_ent < CACHE_MAX_ENTRIES)
        cache_put(e, slot, (cache_ent_t){h, (uint32_t)len, (uint32_t)m, (size_t)(s - e->text), at});
    return 0;
}

static int encode_gpt2(const tokenizer_t *t, const uint8_t *text, size_t n, uint16_t *ids, size_t *n_out)
{
    gpt2_enc_t e = {.t = t, .text = text, .ids = ids, .cap = 1024};
    e.slot = err_calloc(e.cap, sizeof *e.slot);
    int rc = pretok_split(t->pretok, text, n, gpt2_piece, &e);
    free(e.slot);
    free(e.ent);
    free(e.sym);
    *n_out = e.k;
    return rc;
}

int tokenizer_encode(const tokenizer_t *t, const uint8_t *text, size_t n, uint16_t **out, size_t *n_out)
{
    uint16_t *ids = err_calloc(n, sizeof *ids);
    if (t->kind == TOKENIZER_GPT2) {
        if (encode_gpt2(t, text, n, ids, n_out) != 0) {
            free(ids);
            return -1;
        }
        *out = ids;
        return 0;
    }
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

/* What follows the merges: GPT-2's byte of each id 0..255, the other kinds nothing. */
static size_t tail_bytes(int kind) { return kind == TOKENIZER_GPT2 ? 256 : 0; }

int tokenizer_save(const tokenizer_t *t, const char *path)
{
    size_t merges_end = TOK_HEADER + 8 * (size_t)t->n_merges, n = merges_end + tail_bytes(t->kind);
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
    memcpy(b + merges_end, t->byte_of, tail_bytes(t->kind));
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
    if (kind != TOKENIZER_BYTE && kind != TOKENIZER_BPE && kind != TOKENIZER_GPT2)
        return err_set("%s: unknown tokenizer kind %u", path, kind);
    if (kind == TOKENIZER_BYTE && n_merges != 0) return err_set("%s: byte-level tokenizer with %u merges", path, n_merges);
    uint32_t specials = kind == TOKENIZER_GPT2; /* <|endoftext|> */
    if (n_merges > TOK_MAX_VOCAB - 256 - specials || vocab != 256 + n_merges + specials)
        return err_set("%s: vocab size %u does not match %u merges (expected 256 + merges%s <= %d)", path, vocab, n_merges,
                       specials ? " + 1" : "", TOK_MAX_VOCAB);
    size_t want = TOK_HEADER + 8 * (size_t)n_merges + tail_bytes((int)kind);
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
    if (t->kind == TOKENIZER_GPT2) {
        const uint8_t *order = b + TOK_HEADER + 8 * (size_t)t->n_merges;
        int seen[256] = {0};
        for (int i = 0; i < 256; i++)
            if (seen[order[i]]++) return err_set("%s: byte 0x%02x has two ids in the byte order table", path, order[i]);
        memcpy(t->byte_of, order, 256);
    }
    CALL(finish(t));
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

/* ---- GPT-2's files ---- */

/* GPT-2's bytes_to_unicode: the printable bytes of Latin-1 stand for themselves, the others, in order,
 * for U+0100 onwards; encoder.json and vocab.bpe spell tokens in these characters. */
static int gpt2_printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

static void gpt2_byte_key(int b, char key[3])
{
    int cp = b;
    if (!gpt2_printable(b)) {
        cp = 256;
        for (int c = 0; c < b; c++) cp += !gpt2_printable(c);
    }
    if (cp < 0x80) {
        key[0] = (char)cp;
        key[1] = 0;
    } else {
        key[0] = (char)(0xC0 | cp >> 6);
        key[1] = (char)(0x80 | (cp & 0x3F));
        key[2] = 0;
    }
}

/* Parses encoder.json into an object whose values are the ids 0..n-1, each once; fills names[id]. */
static int gpt2_read_encoder(const char *path, json_object **obj, const char ***names, int *n)
{
    uint8_t *text;
    size_t len;
    CALL(bytes_read_file(path, &text, &len));
    json_tokener *tok = json_tokener_new();
    CHECK(tok, "out of memory for a JSON parser");
    *obj = len <= INT_MAX ? json_tokener_parse_ex(tok, (const char *)text, (int)len) : NULL;
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t at = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (*obj && at < len && strchr(" \t\r\n", text[at])) at++;
    free(text);
    if (!*obj || jerr != json_tokener_success)
        return err_set("%s: not valid JSON (byte %zu: %s)", path, at,
                       jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr));
    if (at < len) return err_set("%s: not valid JSON (byte %zu: data after the object)", path, at);
    if (!json_object_is_type(*obj, json_type_object)) return err_set("%s: expected a JSON object of token -> id", path);
    *n = json_object_object_length(*obj);
    if (*n < 257 || *n > TOK_MAX_VOCAB)
        return err_set("%s: %d entries; expected 256 bytes + merges + <|endoftext|>, at most %d", path, *n, TOK_MAX_VOCAB);
    *names = err_calloc((size_t)*n, sizeof **names);
    json_object_object_foreach(*obj, key, val) {
        int64_t id = json_object_get_int64(val);
        if (!json_object_is_type(val, json_type_int) || id < 0 || id >= *n)
            return err_set("%s: key \"%s\": id %s is not an integer in [0, %d)", path, key, json_object_to_json_string(val), *n);
        if ((*names)[id]) return err_set("%s: key \"%s\": id %d is also the id of \"%s\"", path, key, (int)id, (*names)[id]);
        (*names)[id] = key;
    }
    return 0;
}

static int gpt2_id(const char *path, json_object *obj, const char *key, int *id)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v)) return err_set("%s: no key \"%s\"", path, key);
    *id = json_object_get_int(v);
    return 0;
}

/* The merges of vocab.bpe: a #version line, then line i+2 is merge i, "LEFT RIGHT", whose result LEFT
 * RIGHT joined must have id 256+i in encoder.json. */
static int gpt2_read_merges(tokenizer_t *t, const char *path, const char *enc_path, json_object *obj)
{
    uint8_t *text;
    size_t len;
    CALL(bytes_read_file(path, &text, &len));
    char *line = (char *)text, *joined = err_calloc(len + 1, 1);
    int rc = -1, lineno = 1;
    if (strncmp(line, "#version", 8) != 0) {
        err_set("%s:1: expected a #version line first", path);
        goto out;
    }
    t->merges = err_calloc((size_t)t->n_merges, sizeof *t->merges);
    int i = 0;
    for (char *next = strchr(line, '\n'); next; i++) {
        line = next + 1;
        lineno++;
        if (!*line) break; /* the newline that ends the file */
        next = strchr(line, '\n');
        if (next) *next = 0;
        char *space = strchr(line, ' ');
        if (!space || space == line || !space[1] || strchr(space + 1, ' ')) {
            err_set("%s:%d: expected two tokens separated by one space", path, lineno);
            goto out;
        }
        if (i >= t->n_merges) {
            err_set("%s:%d: more merges than encoder.json has room for (%d entries: 256 bytes + %d merges + <|endoftext|>)",
                    path, lineno, t->vocab_size, t->n_merges);
            goto out;
        }
        *space = 0;
        int a = 0, b = 0, ab = 0;
        snprintf(joined, len + 1, "%s%s", line, space + 1);
        if (gpt2_id(enc_path, obj, line, &a) != 0 || gpt2_id(enc_path, obj, space + 1, &b) != 0 ||
            gpt2_id(enc_path, obj, joined, &ab) != 0) {
            err_prefix("%s:%d: merge \"%s %s\"", path, lineno, line, space + 1);
            goto out;
        }
        if (ab != 256 + i) {
            err_set("%s:%d: merge \"%s %s\" gives \"%s\", whose id in %s is %d, not 256 + %d = %d", path, lineno, line,
                    space + 1, joined, enc_path, ab, i, 256 + i);
            goto out;
        }
        if (a >= ab || b >= ab) {
            err_set("%s:%d: merge \"%s %s\" uses id %d, which is not defined before it", path, lineno, line, space + 1,
                    a > b ? a : b);
            goto out;
        }
        t->merges[i][0] = a;
        t->merges[i][1] = b;
    }
    if (i != t->n_merges) {
        err_set("%s: %d merges; %s has %d entries, which needs 256 bytes + %d merges + <|endoftext|>", path, i, enc_path,
                t->vocab_size, t->n_merges);
        goto out;
    }
    rc = 0;
out:
    free(joined);
    free(text);
    return rc;
}

static int gpt2_load(tokenizer_t *t, const char *encoder_json, const char *vocab_bpe, json_object **obj)
{
    const char **names = NULL;
    int n = 0;
    int rc = gpt2_read_encoder(encoder_json, obj, &names, &n);
    if (rc == 0) {
        t->vocab_size = n;
        t->n_merges = n - 257;
        int end = 0;
        rc = gpt2_id(encoder_json, *obj, gpt2_end_text, &end);
        if (rc == 0 && end != n - 1)
            rc = err_set("%s: key \"%s\": id %d, expected the last id %d", encoder_json, gpt2_end_text, end, n - 1);
    }
    for (int b = 0; rc == 0 && b < 256; b++) {
        char key[3];
        int id = 0;
        gpt2_byte_key(b, key);
        rc = gpt2_id(encoder_json, *obj, key, &id);
        if (rc == 0 && id >= 256)
            rc = err_set("%s: key \"%s\" (byte 0x%02x): id %d, expected one of 0..255", encoder_json, key, b, id);
        if (rc == 0) t->byte_of[id] = (uint8_t)b; /* distinct ids: checked with the others */
    }
    free(names);
    if (rc == 0) rc = gpt2_read_merges(t, vocab_bpe, encoder_json, *obj);
    return rc;
}

int tokenizer_init_gpt2(tokenizer_t *t, const char *encoder_json, const char *vocab_bpe)
{
    memset(t, 0, sizeof *t);
    t->kind = TOKENIZER_GPT2;
    json_object *obj = NULL;
    int rc = gpt2_load(t, encoder_json, vocab_bpe, &obj);
    json_object_put(obj);
    if (rc == 0) rc = finish(t);
    if (rc != 0) tokenizer_free(t);
    return rc;
}

int tokenizer_init_gpt2_dir(tokenizer_t *t, const char *dir)
{
    char enc[4096], bpe[4096];
    if (snprintf(enc, sizeof enc, "%s/encoder.json", dir) >= (int)sizeof enc ||
        snprintf(bpe, sizeof bpe, "%s/vocab.bpe", dir) >= (int)sizeof bpe)
        return err_set("%s: path too long", dir);
    return tokenizer_init_gpt2(t, enc, bpe);
}
