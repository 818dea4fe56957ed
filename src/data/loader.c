#include "data/loader.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/rng.h"

int loader_init(loader_t *l, const shard_t *s, loader_order_t order, uint64_t seed, int G, int first, int count, int T)
{
    *l = (loader_t){.shard = s, .order = order, .seed = seed, .G = G, .T = T, .first = first, .count = count};
    if (G < 1 || first < 0 || count < 1 || first + count > G)
        return err_set("windows [%d, %d) are not within the %d of the global batch", first, first + count, G);
    if (T < 1 || s->n_tokens < (uint64_t)T + 1)
        return err_set("the shard's %llu tokens hold no window of %d", (unsigned long long)s->n_tokens, T + 1);
    if (order == LOADER_LANES) {
        l->lane_len = s->n_tokens / (uint64_t)G;
        if (l->lane_len < (uint64_t)T + 1)
            return err_set("a global batch of %d sequences splits the shard's %llu tokens into lanes of %llu, fewer "
                           "than the %d a window needs: use a larger shard, a smaller batch or train.order = shuffle",
                           G, (unsigned long long)s->n_tokens, (unsigned long long)l->lane_len, T + 1);
        return 0;
    }
    l->n_windows = (s->n_tokens - 1) / (uint64_t)T;
    if (l->n_windows > UINT32_MAX) return err_set("the shard holds more than 2^32 windows of %d tokens", T);
    l->perm = err_calloc(l->n_windows, sizeof *l->perm);
    l->perm_epoch = UINT64_MAX;
    return 0;
}

void loader_free(loader_t *l)
{
    free(l->perm);
    l->perm = NULL;
}

uint64_t loader_epoch(const loader_t *l) { return l->order == LOADER_SHUFFLE ? l->cursor / l->n_windows : 0; }

/* The permutation of epoch e: Fisher-Yates from a generator seeded by (seed, e), the same on every rank. */
static void permute(loader_t *l, uint64_t e)
{
    if (l->perm_epoch == e) return;
    rng_t g;
    rng_seed(&g, l->seed ^ (0x9E3779B97F4A7C15ull * (e + 1)));
    uint64_t n = l->n_windows;
    for (uint64_t i = 0; i < n; i++) l->perm[i] = (uint32_t)i;
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = rng_u64(&g) % (i + 1);
        uint32_t t = l->perm[i];
        l->perm[i] = l->perm[j];
        l->perm[j] = t;
    }
    l->perm_epoch = e;
}

int loader_restore(loader_t *l, uint64_t cursor)
{
    if (l->order == LOADER_LANES && cursor + (uint64_t)l->T + 1 > l->lane_len)
        return err_set("data offset %llu is beyond the lanes of %llu tokens", (unsigned long long)cursor,
                       (unsigned long long)l->lane_len);
    if (l->order == LOADER_SHUFFLE && cursor % (uint64_t)l->G)
        return err_set("data cursor %llu is not at a step boundary of %d windows", (unsigned long long)cursor, l->G);
    l->cursor = cursor;
    l->next = 0;
    return 0;
}

/* Index of the document holding token pos: the last one starting at or before it (the doc table tiles
 * the shard in order, which shard_open checks). */
static uint32_t doc_of(const shard_t *s, uint64_t pos)
{
    uint32_t lo = 0, hi = s->n_docs; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->docs[mid].start <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void fill_cats(const shard_t *s, uint64_t first, int T, int32_t *cats)
{
    uint32_t d = doc_of(s, first);
    for (int t = 0; t < T; t++) {
        while (first + (uint64_t)t >= s->docs[d].start + s->docs[d].len) d++;
        cats[t] = (int32_t)s->docs[d].category;
    }
}

int loader_window(const shard_t *s, uint64_t pos, int T, int32_t *inputs, int32_t *targets, int32_t *cats)
{
    if (shard_get(s, pos, (uint64_t)T, inputs) || shard_get(s, pos + 1, (uint64_t)T, targets)) {
        memset(inputs, 0, (size_t)T * sizeof *inputs);
        memset(targets, 0, (size_t)T * sizeof *targets);
        if (cats) memset(cats, 0, (size_t)T * sizeof *cats);
        return -1;
    }
    if (cats) fill_cats(s, pos + 1, T, cats);
    return 0;
}

/* Token position of window j (0..G-1) of the current step. */
static uint64_t window_pos(loader_t *l, int j)
{
    if (l->order == LOADER_LANES) return (uint64_t)j * l->lane_len + l->cursor;
    uint64_t k = l->cursor + (uint64_t)j;
    permute(l, k / l->n_windows);
    return (uint64_t)l->perm[k % l->n_windows] * (uint64_t)l->T;
}

int loader_next(loader_t *l, int B, int32_t *inputs, int32_t *targets, int32_t *cats)
{
    int T = l->T, rc = 0;
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T;
        if (loader_window(l->shard, window_pos(l, l->first + l->next), T, inputs + row, targets + row,
                          cats ? cats + row : NULL))
            rc = -1;
        if (++l->next < l->count) continue;
        l->next = 0;
        if (l->order == LOADER_SHUFFLE) {
            l->cursor += (uint64_t)l->G;
        } else {
            l->cursor += (uint64_t)T;
            if (l->cursor + (uint64_t)T + 1 > l->lane_len) l->cursor = 0;
        }
    }
    return rc;
}
