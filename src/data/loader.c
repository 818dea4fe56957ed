#include "data/loader.h"

#include "core/err.h"

int loader_init(loader_t *l, const shard_t *s, int n_lanes, int first, int count, int T)
{
    if (n_lanes < 1 || first < 0 || count < 1 || first + count > n_lanes)
        return err_set("lanes [%d, %d) are not within the %d lanes of the global batch", first, first + count, n_lanes);
    *l = (loader_t){s, s->n_tokens / (uint64_t)n_lanes, first, count, 0, 0};
    if (T < 1 || l->lane_len < (uint64_t)T + 1)
        return err_set("a global batch of %d sequences splits the shard's %llu tokens into lanes of %llu, fewer "
                       "than the %d a window needs: use a larger shard or a smaller batch or context",
                       n_lanes, (unsigned long long)s->n_tokens, (unsigned long long)l->lane_len, T + 1);
    return 0;
}

int loader_restore(loader_t *l, uint64_t offset, int T)
{
    if (offset + (uint64_t)T + 1 > l->lane_len)
        return err_set("data offset %llu is beyond the lanes of %llu tokens", (unsigned long long)offset,
                       (unsigned long long)l->lane_len);
    l->offset = offset;
    l->next = 0;
    return 0;
}

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

void loader_window(const shard_t *s, uint64_t pos, int T, int32_t *inputs, int32_t *targets, int32_t *cats)
{
    const uint16_t *w = s->tokens + pos;
    for (int t = 0; t < T; t++) {
        inputs[t] = w[t];
        targets[t] = w[t + 1];
    }
    if (cats) fill_cats(s, pos + 1, T, cats);
}

void loader_next(loader_t *l, int B, int T, int32_t *inputs, int32_t *targets, int32_t *cats)
{
    for (int b = 0; b < B; b++) {
        uint64_t lane = (uint64_t)(l->first + l->next);
        size_t row = (size_t)b * T;
        loader_window(l->shard, lane * l->lane_len + l->offset, T, inputs + row, targets + row, cats ? cats + row : NULL);
        if (++l->next == l->count) {
            l->next = 0;
            l->offset += (uint64_t)T;
            if (l->offset + (uint64_t)T + 1 > l->lane_len) l->offset = 0;
        }
    }
}
