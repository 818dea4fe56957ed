#include "data.h"

#include "err.h"

int loader_init(loader_t *l, const shard_t *s, int rank, int n_ranks, int T)
{
    if (n_ranks < 1 || rank < 0 || rank >= n_ranks) return err_set("rank %d of %d is not a valid rank", rank, n_ranks);
    uint64_t n = s->n_tokens, r = (uint64_t)rank, p = (uint64_t)n_ranks;
    /* floor(r * n / p) without overflowing r * n */
    l->shard = s;
    l->begin = (n / p) * r + (n % p) * r / p;
    l->end = (n / p) * (r + 1) + (n % p) * (r + 1) / p;
    l->cursor = l->begin;
    if (T < 1 || l->end - l->begin < (uint64_t)T + 1)
        return err_set("rank %d of %d gets %llu tokens of the shard's %llu, fewer than the %d a window needs", rank,
                       n_ranks, (unsigned long long)(l->end - l->begin), (unsigned long long)n, T + 1);
    return 0;
}

void loader_seek(loader_t *l, uint64_t offset) { l->cursor = l->begin + offset % (l->end - l->begin); }

/* Index of the document holding token pos: the last one starting at or before it (the doc table tiles
 * the shard in order, which shard_read checks). */
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

void loader_next(loader_t *l, int B, int T, int32_t *inputs, int32_t *targets, int32_t *cats)
{
    const uint16_t *tok = l->shard->tokens;
    for (int b = 0; b < B; b++) {
        if (l->cursor < l->begin || l->cursor + (uint64_t)T + 1 > l->end) l->cursor = l->begin;
        const uint16_t *w = tok + l->cursor;
        for (int t = 0; t < T; t++) {
            inputs[(size_t)b * T + t] = w[t];
            targets[(size_t)b * T + t] = w[t + 1];
        }
        if (cats) fill_cats(l->shard, l->cursor + 1, T, cats + (size_t)b * T);
        l->cursor += (uint64_t)T;
    }
}
